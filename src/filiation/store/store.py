"""Open, write and read the store (SQLite by default, any SQLAlchemy URL in principle).

A snapshot is written in a single transaction: until it commits, readers (and a crash)
see only the snapshots that were there before. Bulk rows go through the driver's
``executemany`` on column chunks, which is what keeps millions of rows within seconds.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import NullPool

from filiation.errors import StoreError
from filiation.sources.records import LINK_SCHEMA, NODE_SCHEMA, Records
from filiation.store import schema

CHUNK = 50_000
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    source: str
    label: str
    taken_at: datetime | None
    finished_at: datetime | None
    status: str
    report: dict[str, Any]


def _url(location: str | os.PathLike[str]) -> tuple[str, Path | None]:
    text_loc = os.fspath(location)
    if "://" in text_loc:
        if text_loc.startswith("sqlite:///"):
            return text_loc, Path(text_loc.removeprefix("sqlite:///"))
        return text_loc, None
    path = Path(text_loc).expanduser()
    return f"sqlite:///{path}", path


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-262144")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


class Store:
    """The durable record of every snapshot each source produced."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.url, self.path = _url(location)
        if self.path is not None:
            if self.path.is_dir():
                raise StoreError(f"{self.path} is a folder; give the path of a database file")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {self.path}: {exc}") from exc
        self.engine: Engine = create_engine(self.url, poolclass=NullPool)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._ensure_schema()

    # -- set-up ---------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        try:
            existing = set(inspect(self.engine).get_table_names())
            if existing and schema.meta.name not in existing:
                raise StoreError(
                    f"{self.describe()} is a database of another application (it has tables "
                    f"{', '.join(sorted(existing)[:5])}); give filiation a file of its own"
                )
            schema.metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(schema.meta.c.value).where(schema.meta.c.name == "schema_version")
                ).first()
                if row is None:
                    conn.execute(
                        schema.meta.insert().values(
                            name="schema_version", value=str(schema.SCHEMA_VERSION)
                        )
                    )
                elif int(row[0]) > schema.SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.describe()} was written by a newer filiation (schema "
                        f"{row[0]}); upgrade filiation to read it"
                    )
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(self._explain(exc)) from exc

    def describe(self) -> str:
        return str(self.path) if self.path is not None else self.engine.url.render_as_string()

    def _explain(self, exc: Exception) -> str:
        msg = str(getattr(exc, "orig", exc))
        where = self.describe()
        low = msg.lower()
        if "readonly" in low or "read-only" in low:
            return f"{where} is read-only: {msg}; use a writable --db to ingest"
        if "disk" in low and "full" in low:
            return f"the disk holding {where} is full: {msg}; free space and ingest again"
        if "not a database" in low or "malformed" in low:
            return f"{where} is not a filiation database or is damaged: {msg}"
        if "unable to open" in low:
            return f"cannot open {where}: {msg}; check the path and its permissions"
        return f"{where}: {msg}"

    def index_dir(self) -> Path:
        """Where the lineage index built from this store is cached."""
        if self.path is not None:
            return self.path.with_name(self.path.name + ".index")
        import hashlib

        from platformdirs import user_cache_dir

        digest = hashlib.sha256(self.engine.url.render_as_string().encode()).hexdigest()[:16]
        return Path(user_cache_dir("filiation")) / f"index-{digest}"

    # -- snapshots ------------------------------------------------------------------------
    def snapshots(self) -> list[SnapshotInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.snapshots).order_by(schema.snapshots.c.id)).all()
        return [
            SnapshotInfo(
                id=r.id,
                source=r.source,
                label=r.label,
                taken_at=r.taken_at,
                finished_at=r.finished_at,
                status=r.status,
                report=json.loads(r.report) if r.report else {},
            )
            for r in rows
        ]

    def current_snapshots(self) -> list[SnapshotInfo]:
        """The newest complete snapshot of each source: together they are the genealogy."""
        latest: dict[str, SnapshotInfo] = {}
        for snap in self.snapshots():
            if snap.status == "complete":
                latest[snap.source] = snap
        return sorted(latest.values(), key=lambda s: s.id)

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(schema.snapshots)
                .where(schema.snapshots.c.status == "complete")
            ).scalar_one()
        return count == 0

    def begin_snapshot(
        self, source: str, label: str, taken_at: datetime | None
    ) -> SnapshotTransaction:
        """Start writing a snapshot; it becomes visible only when the transaction commits."""
        return SnapshotTransaction(self, source, label, taken_at)

    def write_snapshot(self, records: Records, progress: ProgressCallback | None = None) -> int:
        """Store a source's records as its new snapshot, all or nothing."""
        tx = self.begin_snapshot(records.source, records.label, records.taken_at)
        try:
            for batch_nodes in records.nodes.to_batches(max_chunksize=CHUNK):
                tx.write(pa.Table.from_batches([batch_nodes]), None)
                if progress:
                    progress(batch_nodes.num_rows)
            for batch_links in records.links.to_batches(max_chunksize=CHUNK):
                tx.write(None, pa.Table.from_batches([batch_links]))
                if progress:
                    progress(batch_links.num_rows)
            snap_id = tx.commit(records.report.as_dict())
        except BaseException:
            tx.rollback()
            raise
        records.report.snapshot_id = snap_id
        return snap_id

    def prune(self, keep: int = 2) -> list[int]:
        """Delete all but the ``keep`` newest complete snapshots of each source."""
        by_source: dict[str, list[SnapshotInfo]] = {}
        for snap in self.snapshots():
            by_source.setdefault(snap.source, []).append(snap)
        doomed: list[int] = []
        for snaps in by_source.values():
            complete = [s for s in snaps if s.status == "complete"]
            doomed += [s.id for s in complete[: max(0, len(complete) - keep)]]
            doomed += [s.id for s in snaps if s.status != "complete"]
        if not doomed:
            return []
        try:
            with self.engine.begin() as conn:
                for table in (schema.links, schema.nodes, schema.snapshots):
                    col = table.c.snapshot_id if table is not schema.snapshots else table.c.id
                    conn.execute(table.delete().where(col.in_(doomed)))
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(self._explain(exc)) from exc
        return doomed

    # -- reading --------------------------------------------------------------------------
    def _read(self, table: Any, columns: list[str], arrow_schema: pa.Schema, snap: int) -> pa.Table:
        # Plain SQL: the rows go straight to Arrow, without per-value type processing.
        query = text(f"SELECT {', '.join(columns)} FROM {table.name} WHERE snapshot_id = :snap")
        parts: list[pa.RecordBatch] = []
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(query, {"snap": snap})
            for chunk in _chunks(result, CHUNK):
                cols = list(zip(*chunk, strict=True))
                arrays = []
                for field, values in zip(arrow_schema, cols, strict=True):
                    if pa.types.is_timestamp(field.type):
                        arrays.append(_timestamps(values))
                    elif pa.types.is_boolean(field.type):  # SQLite hands back 0/1
                        arrays.append(pa.array([bool(v) for v in values], pa.bool_()))
                    else:
                        arrays.append(pa.array(values, field.type))
                parts.append(pa.RecordBatch.from_arrays(arrays, schema=arrow_schema))
        return pa.Table.from_batches(parts, schema=arrow_schema)

    def read_nodes(self, snapshot_id: int) -> pa.Table:
        return self._read(schema.nodes, schema.NODE_COLUMNS, NODE_SCHEMA, snapshot_id)

    def read_links(self, snapshot_id: int) -> pa.Table:
        return self._read(schema.links, schema.LINK_COLUMNS, LINK_SCHEMA, snapshot_id)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def _chunks(result: Any, size: int) -> Iterator[list[Any]]:
    while True:
        rows = result.fetchmany(size)
        if not rows:
            return
        yield rows


def _timestamps(values: tuple[Any, ...]) -> pa.Array:
    """SQLite hands back text, other databases datetimes; both become Arrow timestamps."""
    arr = pa.array(values)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return pc.cast(arr, pa.timestamp("us"))
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.timestamp("us"))
    return pc.cast(arr, pa.timestamp("us"))


def _bulk(conn: Any, table: Any, columns: list[str], data: pa.Table, snap_id: int) -> None:
    """Insert Arrow rows through the driver's executemany, a column chunk at a time."""
    names = ", ".join(["snapshot_id", *columns])
    marks = ", ".join(["?"] * (len(columns) + 1))
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
    for chunk in data.to_batches(max_chunksize=CHUNK):
        cols = []
        for name in columns:
            col = chunk.column(name)
            if pa.types.is_timestamp(col.type):
                # The text SQLAlchemy's DateTime stores in SQLite ("YYYY-MM-DD HH:MM:SS.ffffff");
                # a cast is ten times faster than strftime.
                col = pc.cast(col, pa.string())
            cols.append(col.to_pylist())
        rows = list(zip([snap_id] * chunk.num_rows, *cols, strict=True))
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(sql, rows)
        else:
            keys = ["snapshot_id", *columns]
            conn.execute(table.insert(), [dict(zip(keys, r, strict=True)) for r in rows])


class SnapshotTransaction:
    """One snapshot being written: a database transaction held open until commit."""

    def __init__(self, store: Store, source: str, label: str, taken_at: datetime | None) -> None:
        self.store = store
        self._conn = store.engine.connect()
        self._tx = self._conn.begin()
        try:
            self.snapshot_id = int(
                self._conn.execute(
                    schema.snapshots.insert().values(
                        source=source,
                        label=label,
                        taken_at=taken_at,
                        started_at=datetime.now(UTC).replace(tzinfo=None),
                        status="loading",
                    )
                ).inserted_primary_key[0]
            )
        except (OperationalError, DatabaseError) as exc:
            self.rollback()
            raise StoreError(store._explain(exc) + " (nothing was stored)") from exc

    def write(self, nodes: pa.Table | None, links: pa.Table | None) -> None:
        try:
            if nodes is not None and nodes.num_rows:
                _bulk(self._conn, schema.nodes, schema.NODE_COLUMNS, nodes, self.snapshot_id)
            if links is not None and links.num_rows:
                _bulk(self._conn, schema.links, schema.LINK_COLUMNS, links, self.snapshot_id)
        except (OperationalError, DatabaseError) as exc:
            self.rollback()
            raise StoreError(self.store._explain(exc) + " (nothing was stored)") from exc
        except BaseException as exc:
            # An interrupt inside the driver: SQLAlchemy closes the connection, but SQLite
            # keeps its lock until the cursor held by the traceback is freed.
            traceback.clear_frames(exc.__traceback__)
            self.rollback()
            raise

    def commit(self, report: dict[str, Any]) -> int:
        report = {**report, "snapshot_id": self.snapshot_id}
        try:
            self._conn.execute(
                schema.snapshots.update()
                .where(schema.snapshots.c.id == self.snapshot_id)
                .values(
                    status="complete",
                    finished_at=datetime.now(UTC).replace(tzinfo=None),
                    report=json.dumps(report),
                )
            )
            self._tx.commit()
        except (OperationalError, DatabaseError) as exc:
            self.rollback()
            raise StoreError(self.store._explain(exc) + " (nothing was stored)") from exc
        finally:
            self._conn.close()
        return self.snapshot_id

    def rollback(self) -> None:
        try:
            if not self._conn.invalidated and self._tx.is_active:
                self._tx.rollback()
        finally:
            self._conn.close()
