"""Shared fixtures: the real sample files and genealogies built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

import filiation
from filiation.service import bundled_snapshot

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
HUB_SAMPLE = SHARED_DATA / "hub-stats-sample" / "models.parquet"
LINEAGE_EDGES = SHARED_DATA / "llm-lineage" / "edges.csv"
LINEAGE_NODES = SHARED_DATA / "llm-lineage" / "nodes.csv"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(
            f"test data {path} is missing: the suite runs with ../shared/data beside the repo"
        )
    return path


@pytest.fixture(scope="session")
def hub_sample() -> Path:
    return _need(HUB_SAMPLE)


@pytest.fixture(scope="session")
def lineage_csv() -> tuple[Path, Path]:
    return _need(LINEAGE_EDGES), _need(LINEAGE_NODES)


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, hub_sample: Path) -> Path:
    """A store holding the real hub-stats sample, ingested once for the session."""
    db = tmp_path_factory.mktemp("sample") / "sample.sqlite"
    g = filiation.open(db, load_bundled=False)
    g.ingest_hub_stats(hub_sample)
    return db


@pytest.fixture(scope="session")
def sample(sample_db: Path) -> filiation.Genealogy:
    """Read-only genealogy of the real sample: do not ingest into it."""
    return filiation.open(sample_db)


@pytest.fixture()
def fresh_db(tmp_path: Path) -> Path:
    return tmp_path / "fresh.sqlite"


def test_bundled_snapshot_is_the_real_sample(hub_sample: Path) -> None:
    """The package ships the shared sample unchanged (it is what the demo shows)."""
    assert bundled_snapshot().read_bytes() == hub_sample.read_bytes()
