"""``python -m filiation``: the ``filiation`` command."""

from filiation.cli import main

main()
