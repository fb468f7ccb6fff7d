"""The store: snapshots, pruning, ingests that fail or are killed half-way, unusable paths.

Every test starts from a copy of the session's store of the real sample (``sample_db``) or
from files built from the real sample in ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
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
from filiation.store import store as store_mod
from filiation.store import writer as writer_mod


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
def db(tmp_path: Path, sample_db: Path) -> Path:
    """A private copy of the store holding the real sample."""
    target = tmp_path / "store.sqlite"
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(sample_db) + suffix)
        if src.exists():
            shutil.copyfile(src, Path(str(target) + suffix))
    return target


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


def stored_snapshot_ids(path: Path) -> dict[str, set[int]]:
    with closing(sqlite3.connect(path)) as conn:
        return {
            table: {i for (i,) in conn.execute(f"SELECT DISTINCT snapshot_id FROM {table}")}
            for table in ("nodes", "links")
        }


def assert_writable(path: Path) -> None:
    """Another writer can take the write lock at once: no transaction was left open."""
    with closing(sqlite3.connect(path, timeout=2)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            pytest.fail(f"the store is still locked for writing after the failed ingest: {exc}")
        conn.rollback()


def assert_nothing_left(path: Path, before: dict[str, Any]) -> None:
    """An ingest is one transaction (README): none of the failed one's rows stay on disk."""
    kept = {s[0] for s in before["snapshots"]}
    assert stored_snapshot_ids(path) == {"nodes": kept, "links": kept}


# -- snapshots ------------------------------------------------------------------------------------


def test_reingest_creates_a_new_current_snapshot(
    db: Path, tmp_path: Path, rows: list[dict[str, Any]], schema: pa.Schema, root: str
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


def test_prune_keeps_the_two_newest_per_source(
    tmp_path: Path, rows: list[dict[str, Any]], schema: pa.Schema, lineage_csv: tuple[Path, Path]
) -> None:
    store = tmp_path / "store.sqlite"
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
    # the pruned snapshot's rows are gone from the file, the others are all there
    assert stored_snapshot_ids(store) == {
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


@contextmanager
def fail_after_first_chunk(
    monkeypatch: pytest.MonkeyPatch, table: str, error: Callable[[], BaseException]
) -> Iterator[list[int]]:
    """Make the driver raise ``error`` right after the store wrote its first chunk of ``table``.

    The hook sits where the database driver returns from the bulk INSERT, so it does not
    depend on how the store's writer is organised inside.
    """
    monkeypatch.setattr(store_mod, "CHUNK", 500)
    written: list[int] = []

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if executemany and statement.startswith(f"INSERT INTO {table} "):
            written.append(len(parameters))
            raise error()

    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield written
    finally:
        event.remove(Engine, "after_cursor_execute", after)


@pytest.mark.parametrize("table", ["nodes", "links"])
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (lambda: sqlite3.OperationalError("database or disk is full"), filiation.StoreError),
        (KeyboardInterrupt, KeyboardInterrupt),
    ],
    ids=["disk-full", "ctrl-c"],
)
def test_failed_ingest_leaves_previous_snapshot_complete(
    monkeypatch: pytest.MonkeyPatch,
    db: Path,
    tmp_path: Path,
    rows: list[dict[str, Any]],
    schema: pa.Schema,
    root: str,
    error: Callable[[], BaseException],
    expected: type[BaseException],
    table: str,
) -> None:
    g = filiation.open(db, load_bundled=False)
    before = state(g, root)
    assert len(before["descendants"]) > 50
    copy = second_copy(tmp_path, rows, schema, root)

    with (
        fail_after_first_chunk(monkeypatch, table, error) as written,
        pytest.raises(expected) as err,
    ):
        g.ingest_hub_stats(copy)
    assert written == [500]  # it did fail half-way, after writing rows
    if expected is filiation.StoreError:
        assert "full" in str(err.value) and "nothing was stored" in str(err.value)
    monkeypatch.undo()
    del err  # the caller keeps nothing of the failed ingest

    assert_writable(db)
    assert state(g, root) == before
    assert state(filiation.open(db, load_bundled=False), root) == before
    assert_nothing_left(db, before)
    # the store is still usable: the same ingest now succeeds and becomes current
    report = g.ingest_hub_stats(copy)
    assert [s["id"] for s in g.stats().snapshots] == [report.snapshot_id]
    assert g.show(root).downloads == before["downloads"] + 1_000_000


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys

    from sqlalchemy import Engine, event

    import filiation
    from filiation.store import store as store_mod

    db, parquet, target = sys.argv[1:4]
    store_mod.CHUNK = 500
    insert = f"INSERT INTO {target} "

    @event.listens_for(Engine, "before_cursor_execute")
    def small_cache(conn, cursor, statement, parameters, context, executemany):
        # a small page cache, so the uncommitted rows really reach the disk (the WAL)
        if executemany and statement.startswith(insert):
            cursor.execute("PRAGMA cache_size=10")

    @event.listens_for(Engine, "after_cursor_execute")
    def die(conn, cursor, statement, parameters, context, executemany):
        if executemany and statement.startswith(insert):
            print(f"killed after {len(parameters)} rows of {target}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    filiation.open(db, load_bundled=False).ingest_hub_stats(parquet)
    print("ingest finished", flush=True)
    """
)


@pytest.mark.parametrize("target", ["nodes", "links"])
def test_killed_ingest_leaves_previous_snapshot_complete(
    db: Path, tmp_path: Path, rows: list[dict[str, Any]], schema: pa.Schema, root: str, target: str
) -> None:
    g = filiation.open(db, load_bundled=False)
    before = state(g, root)
    copy = second_copy(tmp_path, rows, schema, root)

    src = str(Path(filiation.__file__).resolve().parents[1])  # the filiation under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(db), str(copy), target],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == f"killed after 500 rows of {target}"
    wal = Path(str(db) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the dead process had written to disk

    after = filiation.open(db, load_bundled=False)
    assert_writable(db)
    assert state(after, root) == before
    assert_nothing_left(db, before)
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
    tmp_path: Path,
    hub_sample: Path,
    sample: filiation.Genealogy,
    root: str,
) -> None:
    """The path the full dump takes (a writer process) gives what the in-process path gives."""
    monkeypatch.setattr(writer_mod, "PROCESS_THRESHOLD", 0)
    g = filiation.open(tmp_path / "store.sqlite", load_bundled=False)
    report = g.ingest_hub_stats(hub_sample)
    assert report.snapshot_id == g.snapshots()[-1]["id"]
    reopened = filiation.open(tmp_path / "store.sqlite", load_bundled=False)
    assert _comparable(reopened, root) == _comparable(sample, root)


KILL_CALLER_SCRIPT = textwrap.dedent(
    """
    import os, signal, sqlite3, sys, time

    import filiation
    from filiation.store import writer

    db, parquet = sys.argv[1:3]
    writer.PROCESS_THRESHOLD = 0
    original = writer.ProcessWriter.write

    def write(self, nodes=None, links=None):
        original(self, nodes, links)
        # wait until the writer process holds the snapshot's open transaction, then die
        deadline = time.time() + 60
        while time.time() < deadline:
            conn = sqlite3.connect(db, timeout=0)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.rollback()
            except sqlite3.OperationalError:
                print(self._proc.pid, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            finally:
                conn.close()
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
    db: Path, tmp_path: Path, rows: list[dict[str, Any]], schema: pa.Schema, root: str
) -> None:
    """The caller dies while its writer process holds the new snapshot's transaction."""
    g = filiation.open(db, load_bundled=False)
    before = state(g, root)
    copy = second_copy(tmp_path, rows, schema, root)

    src = str(Path(filiation.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_CALLER_SCRIPT, str(db), str(copy)],
        capture_output=True,
        text=True,
        env=env,
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

    assert_writable(db)
    after = filiation.open(db, load_bundled=False)
    assert state(after, root) == before
    assert_nothing_left(db, before)
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


@pytest.mark.parametrize("content", ["parquet", "csv", "truncated-store"])
def test_file_that_is_not_a_database(
    tmp_path: Path, hub_sample: Path, lineage_csv: tuple[Path, Path], sample_db: Path, content: str
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


def test_store_written_by_a_newer_filiation(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE filiation_meta SET value = '999' WHERE name = 'schema_version'")
        conn.commit()
    with pytest.raises(filiation.StoreError, match="upgrade"):
        filiation.open(db, load_bundled=False)
