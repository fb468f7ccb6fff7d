"""The sample of the Hub's dump shipped with filiation: where it is and the label of its
snapshots. Apart from ``ingest.py`` so that what only needs to recognise the sample (``show``'s
checks read the dump a snapshot came from) does not load the ingest and its readers."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED = "hub-stats-sample.parquet"
BUNDLED_LABEL = "bundled sample of cfahlgren1/hub-stats (Apache-2.0)"


def bundled_snapshot() -> Path:
    return Path(str(resources.files("filiation") / "data" / BUNDLED))
