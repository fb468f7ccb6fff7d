"""The store: snapshots, pruning, ingests that fail or are killed half-way, unusable paths.

Every test starts from a copy of the session's store of the real sample (``sample_db``) or
from files built from the real sample in ``tmp_path``, and runs on both back ends (a SQLite
file, a PostgreSQL database) unless it is about one of them.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, event

import filiation
from filiation.store import transaction as transaction_mod
from filiation.store import writer as writer_mod
from tests.backends import Stores, only_postgresql, only_sqlite, run_env


@pytest.fixture(scope="module")
def rows(hub_sample: Path) -> list[dict[str, Any]]:
    return pq.read_table(hub_sample).to_pylist()


@pytest.fixture(scope="module")
def schema(hub_sample: Path) -> pa.Schema:
    return pq.read_schema(hub_sample)


@pytest.fixture(scope="module")
def root(rows: list[dict[str, Any]]) -> str:
    """The model of the sample that most models name as a parent (counted from the file)."""
    counts = Counter(
        m["id"]
        for r in rows
        if r["baseModels"]
        for m in r["baseModels"]["models"]
        if m["id"].lower() != r["id"].lower()
    )
    return counts.most_common(1)[0][0]


@pytest.fixture()
def db(tmp_path: Path, stores: Stores, sample_db: Any) -> Any:
    """A private copy of the store holding the real sample."""
    return stores.copy(sample_db, tmp_path)


def second_copy(tmp_path: Path, rows: list[dict[str, Any]], schema: pa.Schema, root: str) -> Path:
    """The sample again, visibly different: 500 rows fewer and the root's downloads changed."""
    changed = [dict(r) for r in rows[:-500]]
    for r in changed:
        if r["id"] == root:
            r["downloads"] = (r["downloads"] or 0) + 1_000_000
    path = tmp_path / "copy" / "models.parquet"
    path.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(changed, schema=schema), path)
    return path


def state(g: filiation.Genealogy, root: str) -> dict[str, Any]:
    """What a user sees: statistics, the root's family, its indicators, the snapshots."""
    lineage = g.descendants(root)
    shown = g.show(root)
    return {
        "stats": g.stats().model_dump(),
        "descendants": sorted(lineage.ids()),
        "relations": lineage.relation_counts(),
        "downloads": shown.downloads,
        "children": shown.children_by_relation,
        "snapshots": [
            (s["id"], s["source"], s["current"]) for s in g.snapshots() if s["status"] == "complete"
        ],
        "current": [s["id"] for s in g.snapshots() if s["current"]],
    }


def stored_snapshot_ids(stores: Stores, db: Any) -> dict[str, set[int]]:
    """The snapshots whose nodes and links the store holds (as parts, migration 0009)."""
    return {
        table: {
            i
            for (i,) in stores.rows(
                db, "SELECT DISTINCT snapshot_id FROM snapshot_parts WHERE rows_of = :t", t=table
            )
        }
        for table in ("nodes", "links")
    }


PART_COLUMNS = ["snapshot_id", "rows_of", "part", "row_count", "data"]


def part_rows(statement: str, parameters: Any, table: str) -> int | None:
    """The rows of ``table`` an INSERT of one stored part carries, None for other statements."""
    if not statement.startswith("INSERT INTO snapshot_parts "):
        return None
    if not isinstance(parameters, dict):
        parameters = dict(zip(PART_COLUMNS, parameters, strict=True))
    values = parameters
    return int(values["row_count"]) if values["rows_of"] == table else None


def assert_nothing_left(stores: Stores, db: Any, before: dict[str, Any]) -> None:
    """An ingest is one transaction (README): none of the failed one's rows stay stored."""
    kept = {s[0] for s in before["snapshots"]}
    assert stored_snapshot_ids(stores, db) == {"nodes": kept, "links": kept}
    assert {i for (i,) in stores.rows(db, "SELECT id FROM snapshots")} == kept


# -- snapshots ------------------------------------------------------------------------------------


def test_reingest_creates_a_new_current_snapshot(
    db: Any, tmp_path: Path, rows: list[dict[str, Any]], schema: pa.Schema, root: str
) -> None:
    g = filiation.open(db, load_bundled=False)
    (old,) = g.snapshots()
    copy = second_copy(tmp_path, rows, schema, root)
    report = g.ingest_hub_stats(copy)

    snaps = g.snapshots()
    assert [s["id"] for s in snaps] == [old["id"], report.snapshot_id]
    assert report.snapshot_id > old["id"]
    assert [s["current"] for s in snaps] == [False, True]
    assert {s["status"] for s in snaps} == {"complete"}
    assert [s["id"] for s in g.stats().snapshots] == [report.snapshot_id]
    assert snaps[-1]["report"]["rows_read"] == len(rows) - 500
    # the answers come from the new snapshot
    root_row = next(r for r in rows if r["id"] == root)
    assert g.show(root).downloads == root_row["downloads"] + 1_000_000
    dropped = next(
        r["id"]
        for r in rows[-500:]
        if not any(
            m["id"].lower() == r["id"].lower()
            for x in rows
            if x["baseModels"]
            for m in x["baseModels"]["models"]
        )
    )
    with pytest.raises(filiation.NodeNotFoundError):
        g.show(dropped)
    # and another process opening the store sees the same
    assert filiation.open(db, load_bundled=False).show(root).downloads == g.show(root).downloads


def test_a_snapshot_is_invisible_until_it_commits(
    stores: Stores, db: Any, hub_sample: Path, root: str
) -> None:
    """Other connections (another process, a server's readers) see the previous snapshots
    while an ingest writes, and the new one at once when it commits."""
    from filiation.sources import hub_stats

    g = filiation.open(db, load_bundled=False)
    before = state(g, root)
    records = hub_stats.read(hub_sample)
    tx = g.store.begin_snapshot(records.source, "in progress", records.taken_at)
    try:
        tx.write(records.nodes, records.links)
        other = filiation.open(db, load_bundled=False)
        assert state(other, root) == before
        assert not other.refresh()
        assert_nothing_left(stores, db, before)
        snap_id = tx.commit(records.report.as_dict())
    except BaseException:
        tx.rollback()
        raise
    assert other.refresh()  # picked up without reopening the store
    assert [s["id"] for s in other.stats().snapshots] == [snap_id]
    assert stores.rows(
        db,
        "SELECT sum(row_count) FROM snapshot_parts WHERE snapshot_id = :s AND rows_of = 'nodes'",
        s=snap_id,
    ) == [(records.nodes.num_rows,)]


def test_prune_keeps_the_two_newest_per_source(
    tmp_path: Path,
    stores: Stores,
    fresh_db: Any,
    rows: list[dict[str, Any]],
    schema: pa.Schema,
    lineage_csv: tuple[Path, Path],
) -> None:
    store = fresh_db
    g = filiation.open(store, load_bundled=False)
    parts = []
    for n in range(3):
        path = tmp_path / f"part{n}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[n * 300 : (n + 1) * 300], schema=schema), path)
        parts.append(path)
    edges = tmp_path / "edges.csv"
    edges.write_text("".join(lineage_csv[0].read_text(encoding="utf-8").splitlines(True)[:200]))

    hub_ids = [g.ingest_hub_stats(parts[0]).snapshot_id]
    edge_id = g.ingest_edges(edges).snapshot_id
    hub_ids += [g.ingest_hub_stats(p).snapshot_id for p in parts[1:]]

    snaps = g.snapshots()
    assert [(s["id"], s["source"]) for s in snaps] == [
        (edge_id, "edges:edges"),
        (hub_ids[1], "hub-stats"),
        (hub_ids[2], "hub-stats"),
    ]
    assert [s["label"] for s in snaps if s["source"] == "hub-stats"] == [
        str(parts[1]),
        str(parts[2]),
    ]
    assert {s["id"] for s in snaps if s["current"]} == {edge_id, hub_ids[2]}
    # the pruned snapshot's rows are gone from the store, the others are all there
    assert stored_snapshot_ids(stores, store) == {
        "nodes": {hub_ids[1], hub_ids[2]},
        "links": {edge_id, hub_ids[1], hub_ids[2]},
    }
    # what is shown is the newest dump: a model only the first part described is unknown
    parents = {m["id"].lower() for r in rows for m in (r["baseModels"] or {"models": []})["models"]}
    only_first = next(r["id"] for r in rows[:300] if r["id"].lower() not in parents)
    with pytest.raises(filiation.NodeNotFoundError):
        g.show(only_first)
    assert g.show(rows[600]["id"]).downloads == rows[600]["downloads"]


# -- ingests that fail half-way -------------------------------------------------------------------


class HookedSqlite(sqlite3.Connection):
    """A standard-library SQLite connection that tells :data:`AFTER` of every statement it
    ran: where SQLAlchemy's ``after_cursor_execute`` hooks PostgreSQL, for the SQLite store,
    whose snapshots are written through ``sqlite3`` itself."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor = super().execute(sql, parameters)
        for hook in AFTER:
            hook(sql, parameters)
        return cursor


#: What :class:`HookedSqlite` calls after each statement (statement, parameters).
AFTER: list[Callable[[str, Any], None]] = []


@contextmanager
def after_each_statement(
    monkeypatch: pytest.MonkeyPatch, hook: Callable[[str, Any], None]
) -> Iterator[None]:
    """Call ``hook`` right after each statement the database driver runs, on both back ends
    (SQLAlchemy's engines, and sqlite3's connections)."""

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        hook(statement, parameters)

    connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda *args, **kw: connect(*args, factory=HookedSqlite, **kw)
    )
    AFTER.append(hook)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(Engine, "after_cursor_execute", after)
        AFTER.remove(hook)
        monkeypatch.setattr(sqlite3, "connect", connect)


@contextmanager
def fail_after_first_chunk(
    monkeypatch: pytest.MonkeyPatch, backend: str, table: str, error: Callable[[], BaseException]
) -> Iterator[list[int]]:
    """Make the driver raise ``error`` right after the store wrote its first part of ``table``.

    The hook sits where the database driver returns from the INSERT of a part, so it does
    not depend on how the store's writer is organised inside.
    """
    monkeypatch.setattr(transaction_mod, "PART_ROWS", 500)
    written: list[int] = []

    def after(statement: str, parameters: Any) -> None:
        rows = part_rows(statement, parameters, table)
        if rows is not None:
            written.append(rows)
            raise error()

    with after_each_statement(monkeypatch, after):
        yield written


def disk_full(backend: str) -> BaseException:
    """What each driver raises when the disk fills up under a write."""
    if backend == "postgresql":
        import psycopg

        return psycopg.errors.DiskFull(
            'could not extend file "base/16384/16390": No space left on device'
        )
    return sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize("table", ["nodes", "links"])
@pytest.mark.parametrize(
    ("failure", "expected"),
    [("disk-full", filiation.StoreError), ("ctrl-c", KeyboardInterrupt)],
)
def test_failed_ingest_leaves_previous_snapshot_complete(
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    stores: Stores,
    db: Any,
    tmp_path: Path,
    rows: list[dict[str, Any]],
    schema: pa.Schema,
    root: str,
    failure: str,
    expected: type[BaseException],
    table: str,
) -> None:
    g = filiation.open(db, load_bundled=False)
    before = state(g, root)
    assert len(before["descendants"]) > 50
    copy = second_copy(tmp_path, rows, schema, root)
    error = (lambda: disk_full(backend)) if failure == "disk-full" else KeyboardInterrupt

    with (
        fail_after_first_chunk(monkeypatch, backend, table, error) as written,
        pytest.raises(expected) as err,
    ):
        g.ingest_hub_stats(copy)
    assert written == [500]  # it did fail half-way, after writing rows
    if expected is filiation.StoreError:
        assert "full" in str(err.value) and "nothing was stored" in str(err.value)
    monkeypatch.undo()
    del err  # the caller keeps nothing of the failed ingest

    stores.assert_writable(db)
    assert state(g, root) == before
    assert state(filiation.open(db, load_bundled=False), root) == before
    assert_nothing_left(stores, db, before)
    # the store is still usable: the same ingest now succeeds and becomes current
    report = g.ingest_hub_stats(copy)
    assert [s["id"] for s in g.stats().snapshots] == [report.snapshot_id]
    assert g.show(root).downloads == before["downloads"] + 1_000_000


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sqlite3, sys

    from sqlalchemy import Engine, event

    import filiation
    from filiation.store import transaction as transaction_mod

    db, parquet, target = sys.argv[1:4]
    transaction_mod.PART_ROWS = 500

    def die(statement, parameters):
        if not statement.startswith("INSERT INTO snapshot_parts "):
            return
        values = parameters if isinstance(parameters, dict) else dict(
            zip(["snapshot_id", "rows_of", "part", "row_count", "data"], parameters)
        )
        if values["rows_of"] == target:
            print(f"killed after {values['row_count']} rows of {target}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    class Dying(sqlite3.Connection):
        # SQLite's snapshots are written through sqlite3 itself
        def execute(self, sql, parameters=(), /):
            if sql.startswith("INSERT INTO snapshot_parts "):
                # a small page cache, so the uncommitted rows really reach the disk (the WAL)
                super().execute("PRAGMA cache_size=10")
            cursor = super().execute(sql, parameters)
            die(sql, parameters)
            return cursor

    connect = sqlite3.connect
    sqlite3.connect = lambda *args, **kw: connect(*args, factory=Dying, **kw)

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        die(statement, parameters)

    filiation.open(db, load_bundled=False).ingest_hub_stats(parquet)
    print("ingest finished", flush=True)
    """
)


@pytest.mark.parametrize("target", ["nodes", "links"])
def test_killed_ingest_leaves_previous_snapshot_complete(
    stores: Stores,
    db: Any,
    tmp_path: Path,
    rows: list[dict[str, Any]],
    schema: pa.Schema,
    root: str,
    target: str,
) -> None:
    """SIGKILL right after the first chunk of rows reached the database."""
    g = filiation.open(db, load_bundled=False)
    before = state(g, root)
    copy = second_copy(tmp_path, rows, schema, root)
    size_before = stores.table_size(db, "snapshot_parts") if stores.is_pg else 0

    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(db), str(copy), target],
        capture_output=True,
        text=True,
        env=run_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == f"killed after 500 rows of {target}"
    # the dead process had written rows: to the WAL file, or to the table's pages
    if stores.is_pg:
        stores.assert_writable(db)  # the server has ended the dead client's transaction
        assert stores.table_size(db, "snapshot_parts") >= size_before
    else:
        wal = Path(str(db) + "-wal")
        assert wal.exists() and wal.stat().st_size > 0

    after = filiation.open(db, load_bundled=False)
    stores.assert_writable(db)
    assert state(after, root) == before
    assert_nothing_left(stores, db, before)
    # and the store takes the next ingest
    report = after.ingest_hub_stats(copy)
    assert [s["id"] for s in after.stats().snapshots] == [report.snapshot_id]
    assert after.show(root).downloads == before["downloads"] + 1_000_000


# -- large ingests: the rows are written by a separate writer process -------------------------


def _comparable(g: filiation.Genealogy, root: str) -> dict[str, Any]:
    out = state(g, root)
    out["stats"] = {k: v for k, v in out["stats"].items() if k not in ("store", "snapshots")}
    out["snapshots"] = [source for _, source, _ in out["snapshots"]]
    out["current"] = len(out["current"])
    return out


def test_writer_process_stores_the_same_genealogy(
    monkeypatch: pytest.MonkeyPatch,
    fresh_db: Any,
    hub_sample: Path,
    sample: filiation.Genealogy,
    root: str,
) -> None:
    """The path the full dump takes (a writer process) gives what the in-process path gives."""
    monkeypatch.setattr(writer_mod, "PROCESS_THRESHOLD", 0)
    g = filiation.open(fresh_db, load_bundled=False)
    report = g.ingest_hub_stats(hub_sample)
    assert report.snapshot_id == g.snapshots()[-1]["id"]
    reopened = filiation.open(fresh_db, load_bundled=False)
    assert _comparable(reopened, root) == _comparable(sample, root)


KILL_CALLER_SCRIPT = textwrap.dedent(
    """
    import os, signal, sqlite3, sys, time

    import filiation
    from filiation.store import writer

    db, parquet = sys.argv[1:3]
    writer.PROCESS_THRESHOLD = 0
    original = writer.ProcessWriter.write

    def sqlite_locked():
        conn = sqlite3.connect(db, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()

    def postgresql_locked():
        # another session of this database has written a part and not committed
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE d.datname = current_database() AND l.relation = 'snapshot_parts'::regclass "
                "AND l.mode = 'RowExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()"
            ).fetchone()[0] > 0

    locked = postgresql_locked if db.startswith("postgresql") else sqlite_locked

    def write(self, nodes=None, links=None):
        original(self, nodes, links)
        # wait until the writer process holds the snapshot's open transaction, then die
        deadline = time.time() + 60
        while time.time() < deadline:
            if locked():
                print(self._proc.pid, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.01)
        print("the writer never took the lock", flush=True)

    writer.ProcessWriter.write = write
    filiation.open(db, load_bundled=False).ingest_hub_stats(parquet)
    print("ingest finished", flush=True)
    """
)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_killed_caller_leaves_previous_snapshot_complete(
    stores: Stores,
    db: Any,
    tmp_path: Path,
    rows: list[dict[str, Any]],
    schema: pa.Schema,
    root: str,
) -> None:
    """The caller dies while its writer process holds the new snapshot's transaction."""
    g = filiation.open(db, load_bundled=False)
    before = state(g, root)
    copy = second_copy(tmp_path, rows, schema, root)

    proc = subprocess.run(
        [sys.executable, "-c", KILL_CALLER_SCRIPT, str(db), str(copy)],
        capture_output=True,
        text=True,
        env=run_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    child = int(proc.stdout.strip())
    deadline = time.monotonic() + 30
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _running(child):
        os.kill(child, signal.SIGKILL)  # our own writer process: do not leave it behind
        pytest.fail("the writer process did not stop when its caller died")

    stores.assert_writable(db)
    after = filiation.open(db, load_bundled=False)
    assert state(after, root) == before
    assert_nothing_left(stores, db, before)
    report = after.ingest_hub_stats(copy)
    assert [s["id"] for s in after.stats().snapshots] == [report.snapshot_id]


# -- unusable store paths -------------------------------------------------------------------------


def test_store_path_that_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "store.sqlite"
    folder.mkdir()
    with pytest.raises(filiation.StoreError) as err:
        filiation.open(folder, load_bundled=False)
    assert str(folder) in str(err.value)
    assert "folder" in str(err.value) or "directory" in str(err.value)


@only_sqlite
@pytest.mark.parametrize("content", ["parquet", "csv", "truncated-store"])
def test_file_that_is_not_a_database(
    tmp_path: Path, hub_sample: Path, lineage_csv: tuple[Path, Path], sample_db: Any, content: str
) -> None:
    path = tmp_path / "store.sqlite"
    if content == "parquet":
        data = hub_sample.read_bytes()  # "--db models.parquet", a plausible slip
    elif content == "csv":
        data = lineage_csv[0].read_bytes()
    else:
        whole = sample_db.read_bytes()
        data = whole[: len(whole) // 2]
    path.write_bytes(data)
    with pytest.raises(filiation.StoreError) as err:
        g = filiation.open(path, load_bundled=False)
        g.stats()
    message = str(err.value)
    assert str(path) in message
    assert "not a filiation database" in message or "damaged" in message
    assert path.read_bytes() == data  # the file was not touched


@pytest.mark.parametrize("table", ["snapshots", "models"])
def test_database_of_another_application(
    tmp_path: Path, rows: list[dict[str, Any]], table: str
) -> None:
    """A SQLite file of some other tool (with a table named like filiation's, or not)."""
    path = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"CREATE TABLE {table} (name TEXT, taken TEXT)")
        conn.executemany(
            f"INSERT INTO {table} VALUES (?, ?)",
            [(r["id"], str(r["lastModified"])) for r in rows[:20]],
        )
        conn.commit()
    with pytest.raises(filiation.StoreError) as err:
        g = filiation.open(path, load_bundled=False)
        g.snapshots()
    assert str(path) in str(err.value)
    with closing(sqlite3.connect(path)) as conn:  # left as it was
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert tables == [table]
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 20


def test_store_written_by_a_newer_filiation(stores: Stores, db: Any) -> None:
    stores.rows(db, "UPDATE filiation_meta SET value = '999' WHERE name = 'schema_version'")
    with pytest.raises(filiation.StoreError, match="upgrade"):
        filiation.open(db, load_bundled=False)


def test_store_migrated_by_a_newer_filiation(stores: Stores, db: Any) -> None:
    """A migration this filiation does not have: it refuses the store and leaves it alone."""
    stores.rows(db, "UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(filiation.StoreError, match=r"newer filiation.*upgrade"):
        filiation.open(db, load_bundled=False)
    assert stores.rows(db, "SELECT version_num FROM alembic_version") == [("9999_from_the_future",)]


@only_postgresql
@pytest.mark.parametrize("table", ["snapshots", "models"])
def test_postgresql_database_of_another_application(
    stores: Stores, fresh_db: str, rows: list[dict[str, Any]], table: str
) -> None:
    """A database some other tool uses (with a table named like filiation's, or not)."""
    stores.rows(fresh_db, f"CREATE TABLE {table} (name TEXT, taken TEXT)")
    for r in rows[:20]:
        stores.rows(
            fresh_db,
            f"INSERT INTO {table} VALUES (:name, :taken)",
            name=r["id"],
            taken=str(r["lastModified"]),
        )
    with pytest.raises(filiation.StoreError) as err:
        filiation.open(fresh_db, load_bundled=False).snapshots()
    assert "another application" in str(err.value)
    tables = stores.rows(
        fresh_db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )
    assert tables == [(table,)]  # left as it was
    assert stores.rows(fresh_db, f"SELECT count(*) FROM {table}") == [(20,)]


@only_postgresql
@pytest.mark.parametrize("problem", ["no-such-database", "wrong-password", "nothing-listening"])
def test_postgresql_server_that_cannot_be_used(stores: Stores, fresh_db: str, problem: str) -> None:
    """The counterpart of a path that is no database: a clear one-line error, no password."""
    pg = stores.pg
    assert pg is not None
    if problem == "no-such-database":
        url, wanted = pg.url("nowhere"), "nowhere"
    elif problem == "wrong-password":
        url, wanted = pg.url(fresh_db.rsplit("/", 1)[1], password="not-the-password"), "password"
    else:
        from tests.backends import _free_port

        url, wanted = f"postgresql://filiation:{pg.password}@127.0.0.1:{_free_port()}/x", "connect"
    started = time.monotonic()
    with pytest.raises(filiation.StoreError) as err:
        filiation.open(url, load_bundled=False)
    message = str(err.value)
    assert time.monotonic() - started < 15
    assert wanted in message and "\n" not in message
    assert "127.0.0.1" in message
    assert pg.password not in message and "not-the-password" not in message


# -- a database server: where the index is cached, and the password ---------------------------


@only_postgresql
def test_index_cache_is_per_database_and_never_names_the_password(
    stores: Stores, new_db, hub_sample: Path, _private_cache: Path
) -> None:
    pg = stores.pg
    assert pg is not None
    one, other = new_db("one"), new_db("other")
    g1 = filiation.open(one, load_bundled=False)
    g2 = filiation.open(other, load_bundled=False)
    g1.ingest_hub_stats(hub_sample)
    assert g1.store.index_dir() != g2.store.index_dir()  # same server, two databases
    assert filiation.open(one).store.index_dir() == g1.store.index_dir()
    assert g1.store.index_dir().is_relative_to(_private_cache)
    assert (g1.store.index_dir()).is_dir()
    # A database dropped and made again under the same name is another store.
    name = one.rsplit("/", 1)[1]
    pg.admin(f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" OWNER filiation')
    assert filiation.open(one, load_bundled=False).store.index_dir() != g1.store.index_dir()

    for shown in (repr(g1), g1.store.describe(), g1.stats().store, str(g1.store.engine.url)):
        assert pg.password not in shown and "***" in shown
    for path in _private_cache.rglob("*"):
        assert pg.password not in str(path)
        if path.is_file() and path.suffix in (".json", ".txt", ""):
            assert pg.password.encode() not in path.read_bytes(), path


@only_postgresql
def test_writer_process_gets_the_password_through_its_pipe(stores: Stores, fresh_db: str) -> None:
    """The command line of a process is readable by every user of the machine."""
    assert stores.pg is not None
    store = filiation.open(fresh_db, load_bundled=False).store
    writer = writer_mod.ProcessWriter(store, "hub-stats", "test", None)
    try:
        # Read once the exec is over: the kernel fills a new program's arguments after it
        # wakes the parent (vfork), and a read in between finds them empty.
        cmdline = b""
        for _ in range(500):
            cmdline = Path(f"/proc/{writer._proc.pid}/cmdline").read_bytes()
            if cmdline or writer._proc.poll() is not None:
                break
            time.sleep(0.01)
        assert b"filiation.store.writer" in cmdline
        assert stores.pg.password.encode() not in cmdline
        assert fresh_db.rsplit("/", 1)[1].encode() not in cmdline
    finally:
        writer.abort()
    assert filiation.open(fresh_db, load_bundled=False).snapshots() == []


def test_parts_keep_the_columns_the_tables_declare() -> None:
    """The columns a stored part keeps (``transaction.py``, which loads no SQLAlchemy) are
    those the ``nodes`` and ``links`` tables declare, less the snapshot and the position."""
    from filiation.store import schema

    assert transaction_mod.NODE_COLUMNS == schema.NODE_COLUMNS
    assert transaction_mod.LINK_COLUMNS == schema.LINK_COLUMNS
