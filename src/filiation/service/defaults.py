"""What the service takes from its installation and environment, loading nothing: the sample
of the Hub's dump shipped with filiation (where it is, the label of its snapshots) and how many
snapshots of each source the store keeps. Apart from ``ingest.py`` so that opening a genealogy
and ``show``'s checks (which recognise the sample) do not load the ingest and its readers."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from filiation.errors import InvalidArgumentError

BUNDLED = "hub-stats-sample.parquet"
BUNDLED_LABEL = "bundled sample of cfahlgren1/hub-stats (Apache-2.0)"

#: How many complete snapshots of each source the store keeps (``diff`` compares them).
ENV_KEEP = "FILIATION_KEEP_SNAPSHOTS"
DEFAULT_KEEP = 2


def bundled_snapshot() -> Path:
    return Path(str(resources.files("filiation") / "data" / BUNDLED))


def keep_snapshots() -> int:
    """``$FILIATION_KEEP_SNAPSHOTS`` (at least 1), else 2."""
    raw = os.environ.get(ENV_KEEP)
    if raw is None or not raw.strip():
        return DEFAULT_KEEP
    try:
        keep = int(raw)
    except ValueError:
        keep = 0
    if keep < 1:
        raise InvalidArgumentError(f"{ENV_KEEP} must be a whole number of 1 or more, not {raw!r}")
    return keep
