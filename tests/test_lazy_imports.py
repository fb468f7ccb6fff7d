"""Issue 17: a fresh ``filiation`` process loads only what its command uses.

Each test runs the command in a new Python process on the real sample's store and reads back
which modules ended up in ``sys.modules``: a module-level import that drags the ingest, the
rights requests, the exports, the web stack or pandas into ``show``, ``search`` or a lineage
fails here (``benchmarks/cli_startup.py`` measures what they cost; no timing is asserted).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.backends import run_env

MODEL = "meta-llama/Llama-3.1-8B"

#: Loaded by no question: the server, the data science and model libraries, migrations.
NEVER = {
    "pandas",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "scipy",
    "torch",
    "transformers",
    "huggingface_hub",
    "alembic",
}
#: filiation's modules a question does not use: ingest and its sources, rights requests,
#: exports, the graph view, the registry's service, inference runs, the index build.
NOT_FOR_QUESTIONS = {
    "filiation.service.ingest",
    "filiation.service.rights",
    "filiation.service.drawing",
    "filiation.sources.hub_stats",
    "filiation.sources.local_folder",
    "filiation.rights",
    "filiation.exports",
    "filiation.lineage.view",
    "filiation.lineage.build",
    "filiation.lineage.delta",
    "filiation.registry.service",
    "filiation.inference.run",
    "filiation.api",
    "filiation.web",
}

#: What a question never needs of the store and the index, whatever the back end: Arrow (the
#: index is numpy arrays, ids are read with numpy) and the ingest's readers.
NO_ARROW = {"pyarrow", "filiation.sources.records", "filiation.store.transaction"}
#: What a question asked of a SQLite store does not load either: its few reads (the schema's
#: revision, the current snapshots) go through the standard library's sqlite3. A PostgreSQL
#: store is read through SQLAlchemy.
NO_SQLALCHEMY = {"sqlalchemy", "filiation.store.schema"}


def _store_free(db: Any) -> set[str]:
    """Modules a question of store ``db`` must not load (SQLAlchemy too for a SQLite file)."""
    return NO_ARROW | (set() if "://" in str(db) else NO_SQLALCHEMY)


PROBE = (
    "import sys\n"
    "from filiation.cli import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    print('LOADED', sorted(sys.modules), file=sys.stderr)\n"
)


def _loaded(db: Any, *args: str) -> set[str]:
    """The modules a fresh ``filiation --db DB ARGS`` process held when it ended (its output
    piped, as in a script)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "--db", str(db), "-q", *args],
        env=run_env(COLUMNS="120"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in reversed(done.stderr.splitlines()) if x.startswith("LOADED "))
    return set(json.loads(line[len("LOADED ") :].replace("'", '"')))


def _packages(loaded: set[str], names: set[str]) -> set[str]:
    """Those of ``names`` (packages or modules) that are loaded, or any module under them."""
    return {n for n in names if any(m == n or m.startswith(n + ".") for m in loaded)}


def test_show_loads_neither_ingest_rights_exports_nor_pandas(sample_db: Any) -> None:
    # The first show of a store reads the dump's facts for its checks (pyarrow's Parquet
    # reader, which loads pandas) and caches them beside the index; the next ones do not.
    _loaded(sample_db, "show", MODEL)
    loaded = _loaded(sample_db, "show", MODEL)
    assert "filiation.lineage.index" in loaded  # it did answer from the index
    assert "filiation.inference.checks" in loaded  # with the model's checks
    assert not _packages(loaded, NEVER | NOT_FOR_QUESTIONS | _store_free(sample_db))


def test_search_loads_no_checks_and_no_rich_table(sample_db: Any) -> None:
    loaded = _loaded(sample_db, "search", "llama")
    assert "filiation.service.searching" in loaded
    unused = NEVER | NOT_FOR_QUESTIONS | {"filiation.inference", "rich.table"}
    assert not _packages(loaded, unused | _store_free(sample_db))


def test_a_piped_lineage_loads_no_pandas_nor_rich_table(sample_db: Any) -> None:
    """The ids of a lineage are taken from the index without pandas (pyarrow's ``pa.array``
    of a numpy array would import it), and ``-f ids`` prints them without a rich table."""
    loaded = _loaded(sample_db, "descendants", MODEL, "-f", "ids")
    assert "filiation.service.walks" in loaded
    unused = NEVER | NOT_FOR_QUESTIONS | {"rich.table", "filiation.inference"}
    assert not _packages(loaded, unused | _store_free(sample_db))


def test_a_lineage_with_its_table_loads_neither_arrow_nor_the_evidence_reader(
    sample_db: Any,
) -> None:
    """The table of a family (the ids of a few hundred nodes, their figures) is read from the
    index with numpy; suspects' evidence (pyarrow, the store's tables) loads only when a
    lineage shows suspects."""
    loaded = _loaded(sample_db, "descendants", MODEL)
    assert "filiation.cli.lists" in loaded  # it did print the table
    assert not _packages(loaded, NEVER | NOT_FOR_QUESTIONS | _store_free(sample_db))


def test_a_sqlite_store_is_read_as_sqlalchemy_reads_it(sample_db: Any) -> None:
    """What the standard library's sqlite3 reads of a store (the snapshots every question
    starts from, dates included) is what SQLAlchemy reads of it, and opening a SQLite store
    makes no engine; on PostgreSQL both are SQLAlchemy's."""
    from sqlalchemy import select

    from filiation.store import schema
    from filiation.store.store import SnapshotInfo, Store

    store = Store(sample_db)
    quick = store.snapshots()
    assert ("engine" in vars(store)) == ("://" in str(sample_db))
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.snapshots).order_by(schema.snapshots.c.id))
        slow = [
            SnapshotInfo(**{**r, "report": json.loads(r["report"]) if r["report"] else {}})
            for r in rows.mappings()
        ]
    assert quick == slow and quick
    assert all(s.started_at is not None for s in quick)
    assert store.is_empty() is False


#: What a small ingest never loads: an edge list applied as a delta, in a process of its own
#: that runs beside a busy server's workers on the same cores (issue 17: the API's p95 during
#: a delta). pandas (pyarrow is told there is none), scipy (the delta counts its cycles with
#: numpy), the inference (no suspects here), folder scans, the dump's reader, the server.
NOT_FOR_A_DELTA = {
    "pandas",
    "scipy",
    "fastapi",
    "uvicorn",
    "torch",
    "huggingface_hub",
    "alembic",
    "filiation.inference.run",
    "filiation.inference.metadata",
    "filiation.sources.local_folder",
    "filiation.sources.hub_stats",
    "filiation.api",
    "filiation.web",
}


def test_an_edge_list_ingested_as_a_delta_loads_neither_pandas_nor_scipy(
    stores: Any, sample_db: Any, tmp_path: Any
) -> None:
    """A fresh ``ingest edges`` of new models (a cycle among them too) is applied as a delta
    and writes its snapshot without SQLAlchemy on a SQLite store (the standard library's
    sqlite3, as the reads); on PostgreSQL through SQLAlchemy."""
    import filiation

    db = stores.copy(sample_db, tmp_path)
    g = filiation.open(db, load_bundled=False)
    _ = g.index  # the index a delta starts from, published beside the copy
    edges = tmp_path / "team.csv"
    edges.write_text(
        "parent,child,relation\n"
        f"{MODEL},team/a,finetune\n"
        "team/a,team/b,quantized\n"
        "team/b,team/a,merge\n"
        "base/new-stub,team/c,adapter\n"
    )
    loaded = _loaded(db, "ingest", "edges", str(edges))
    assert "filiation.lineage.delta.patch" in loaded  # it was applied as a delta
    store_free = set() if "://" in str(db) else NO_SQLALCHEMY
    assert not _packages(loaded, NOT_FOR_A_DELTA | store_free)
    after = filiation.open(db, load_bundled=False)
    assert [n.id for n in after.ancestors("team/b")] == ["team/b", "team/a", MODEL]
    assert after.stats().cycles == g.stats().cycles + 1


def test_help_opens_no_store_and_loads_no_index(tmp_path: Any) -> None:
    db = tmp_path / "never-created.sqlite"
    loaded = _loaded(db, "--help")
    assert not _packages(loaded, NEVER | {"filiation.store", "filiation.lineage"})
    # Of the service, only its lazy surfaces (the registry's coded values, named in the
    # registry commands' help): no Genealogy, no index cache, no registry service.
    service = {m for m in loaded if _packages({m}, {"filiation.service", "filiation.registry"})}
    assert service <= {
        "filiation.service",
        "filiation.service.registry",
        "filiation.registry",
        "filiation.registry.vocabulary",
    }, service
    assert not db.exists()
