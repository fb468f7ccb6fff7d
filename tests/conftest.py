"""Shared fixtures: the real sample files and genealogies built from them, on both back ends.

Every fixture that gives a store (``sample_db``, ``fresh_db``, ``new_db``, ``stores``) depends
on ``backend``, a session fixture with two values, ``sqlite`` and ``postgresql``: each test
that uses a store runs once on a SQLite file and once on a database of a throw-away
PostgreSQL cluster that the session starts (``pg_cluster``; the run fails if it cannot).
Each test gets stores of its own (a new file, or a new database: ``CREATE DATABASE`` takes
a few milliseconds). ``tests.backends.only_sqlite`` / ``only_postgresql`` keep a test to one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import filiation
from filiation.service import bundled_snapshot
from tests.backends import BACKENDS, PostgresCluster, Stores

#: The browser tests' fixtures (``web_db``, ``server``, ``browser``, ``page``), for any module.
pytest_plugins = ("tests.web_fixtures",)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
HUB_SAMPLE = SHARED_DATA / "hub-stats-sample" / "models.parquet"
LINEAGE_EDGES = SHARED_DATA / "llm-lineage" / "edges.csv"
LINEAGE_NODES = SHARED_DATA / "llm-lineage" / "nodes.csv"
#: Set (by .ci/run) where ``../shared/data`` is laid beside the clone: a test that would skip
#: for want of it fails instead, so CI never passes by skipping the tests on real data.
REQUIRE_SHARED = "FILIATION_REQUIRE_SHARED_DATA"


def shared_data(path: Path) -> Path:
    """A file of ``../shared/data`` (data the repository may not ship): skipped with a
    one-line reason in a clone that lacks it, a failure where it is required."""
    if not path.exists():
        reason = f"needs {path.relative_to(REPO.parent)} (shared test data, not shipped)"
        if os.environ.get(REQUIRE_SHARED):
            pytest.fail(f"{reason}, and {REQUIRE_SHARED} is set")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def hub_sample() -> Path:
    """The real hub-stats sample: the shared copy where it exists, else the copy the package
    ships (the same bytes: see ``test_bundled_snapshot_is_the_real_sample``)."""
    return HUB_SAMPLE if HUB_SAMPLE.exists() else bundled_snapshot()


@pytest.fixture(scope="session")
def lineage_csv() -> tuple[Path, Path]:
    """The llm-lineage edge list: no licence, so it stays outside the repository."""
    return shared_data(LINEAGE_EDGES), shared_data(LINEAGE_NODES)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Indexes of database stores go to the user cache directory: a private one here (the
    suite's subprocesses inherit it)."""
    cache = tmp_path_factory.mktemp("user-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of the session's own; the run fails if it cannot start."""
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def stores(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Stores:
    pg = request.getfixturevalue("pg_cluster") if backend == "postgresql" else None
    return Stores(backend, tmp_path_factory, pg)


@pytest.fixture(scope="session")
def sample_db(stores: Stores, hub_sample: Path) -> Any:
    """A store holding the real hub-stats sample, ingested once per back end."""
    db = stores.new("sample")
    g = filiation.open(db, load_bundled=False)
    g.ingest_hub_stats(hub_sample)
    return db


@pytest.fixture(scope="session")
def sample(sample_db: Any) -> filiation.Genealogy:
    """Read-only genealogy of the real sample: do not ingest into it."""
    return filiation.open(sample_db)


@pytest.fixture()
def new_db(stores: Stores, tmp_path: Path) -> Callable[[str], Any]:
    """Make a new, empty store: ``new_db("name")`` (a file in ``tmp_path``, or a database)."""

    def make(name: str = "store") -> Any:
        return stores.new(name, folder=tmp_path)

    return make


@pytest.fixture()
def fresh_db(new_db: Callable[[str], Any]) -> Any:
    """A new, empty store of the test's own."""
    return new_db("fresh")


#: The password of the registry users of :func:`staffed` (the tests that log in use it).
REGISTRY_PASSWORD = "a long enough password"


@pytest.fixture()
def reg_db(stores: Stores, sample_db: Any, tmp_path: Path) -> Any:
    """A private copy of the real sample's store, for a registry of the test's own."""
    return stores.copy(sample_db, tmp_path, "registry")


@pytest.fixture()
def staffed(reg_db: Any) -> filiation.Genealogy:
    """The genealogy of :func:`reg_db` with three registry users: ``admin`` (admin),
    ``edith`` (editor) and ``victor`` (viewer)."""
    g = filiation.open(reg_db)
    admin = g.registry.add_user("admin", "admin", REGISTRY_PASSWORD, actor=None)
    g.registry.add_user("edith", "editor", REGISTRY_PASSWORD, actor=admin)
    g.registry.add_user("victor", "viewer", REGISTRY_PASSWORD, actor=admin)
    return g


def test_bundled_snapshot_is_the_real_sample() -> None:
    """The package ships the shared sample unchanged (it is what the demo shows), which is
    what lets the suite fall back on the bundled copy in a clone without ``../shared``."""
    assert bundled_snapshot().read_bytes() == shared_data(HUB_SAMPLE).read_bytes()
