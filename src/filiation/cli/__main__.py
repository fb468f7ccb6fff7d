"""``python -m filiation.cli``: the ``filiation`` command (the tests and benchmarks run it so)."""

from filiation.cli import main

main()
