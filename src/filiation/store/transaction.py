"""A snapshot being written: one transaction that stores a source's nodes and links as a few
compressed Arrow parts (``snapshot_parts``) and becomes visible only at its commit.

Node rows with source-specific fields (``extra``, looked up one by one) are also inserted
as rows of ``nodes`` (``COPY`` on PostgreSQL, ``executemany`` on SQLite).

The statements are plain SQL that both back ends speak. On a SQLite file they run through
the standard library's ``sqlite3`` (:class:`_SqliteSession`), as the store's reads do: an
ingest of an edge list, a fresh process of its own beside a busy server, then loads neither
SQLAlchemy (about 0.3 s of CPU to import, the PostgreSQL dialect included) nor the schema's
tables. A database server is written through SQLAlchemy (:class:`_EngineSession`).

Split from ``store.py``, which opens stores and reads them; :meth:`Store.begin_snapshot`
starts a :class:`SnapshotTransaction`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from filiation.errors import StoreError
from filiation.sources.records import LINK_SCHEMA, NODE_SCHEMA
from filiation.store.sqlite import sqlite_pragmas

if TYPE_CHECKING:
    from filiation.store.store import Store

#: The columns a part of nodes or links keeps: the records' own, as the ``nodes`` and
#: ``links`` tables declare them (less ``snapshot_id`` and ``seq``; tests/test_store.py
#: checks that the two agree).
NODE_COLUMNS: list[str] = NODE_SCHEMA.names
LINK_COLUMNS: list[str] = LINK_SCHEMA.names
#: The page cache of a connection that writes a snapshot (KiB): appending blobs and a few
#: rows needs no large one (the store's readers keep theirs).
WRITE_CACHE_KIB = 32_768


def is_psycopg(dialect: Any) -> bool:
    """Whether a connection goes through psycopg 3 (which can ``COPY``)."""
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


#: Rows per stored part: a few MB compressed, so that writing or reading one bounds memory.
PART_ROWS = 262_144
#: Rows per record batch inside a part (zstd compresses each batch's buffers).
BATCH_ROWS = 65_536
_PART_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def encode_part(data: pa.Table) -> bytes:
    """One part: the rows as an Arrow IPC stream, zstd-compressed."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema, options=_PART_OPTIONS) as out:
        out.write_table(data, max_chunksize=BATCH_ROWS)
    return sink.getvalue().to_pybytes()


def decode_part(data: bytes | memoryview) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def encode_parts(data: pa.Table) -> Iterator[tuple[int, bytes]]:
    """``data`` cut into parts of at most :data:`PART_ROWS` rows: (rows, encoded part) each.

    Encoded once per ingest: the same bytes go to the store and to the snapshot's copy beside
    the index (``store/snapshot_cache.py``), so the rows are compressed once."""
    for start in range(0, data.num_rows, PART_ROWS):
        piece = data.slice(start, PART_ROWS)
        yield piece.num_rows, encode_part(piece)


def stored(rows_of: str, data: pa.Table) -> pa.Table:
    """The columns of ``data`` that a part of ``rows_of`` (``nodes`` or ``links``) keeps."""
    return data.select(NODE_COLUMNS if rows_of == "nodes" else LINK_COLUMNS)


def rows_with_extra(nodes: pa.Table) -> pa.Table:
    """Node rows with a source-specific ``extra`` field: stored as rows too (looked up one by
    one); a hub-stats dump has none."""
    return nodes.filter(pc.is_valid(nodes["extra"]))


#: Called with every part written (``rows_of``, its bytes): the snapshot's copy.
PartCopy = Callable[[str, bytes], None]

_INSERT_SNAPSHOT = (
    "INSERT INTO snapshots (source, label, taken_at, started_at, status) "
    "VALUES (:source, :label, :taken_at, :started_at, 'loading')"
)
_INSERT_PART = (
    "INSERT INTO snapshot_parts (snapshot_id, rows_of, part, row_count, data) "
    "VALUES (:snapshot_id, :rows_of, :part, :row_count, :data)"
)
_COMPLETE = (
    "UPDATE snapshots SET status = 'complete', finished_at = :finished_at, report = :report "
    "WHERE id = :id"
)


def _now() -> datetime:
    """The store's dates are naive UTC, as the ``DateTime`` columns declare them."""
    return datetime.now(UTC).replace(tzinfo=None)


def sqlite_moment(value: datetime | None) -> str | None:
    """A date-time as SQLAlchemy's ``DateTime`` writes it in SQLite (its time zone, if any,
    left out as SQLAlchemy does), so that both read it back alike (``store._moment``)."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class _SqliteSession:
    """A write transaction on a SQLite file through the standard library's ``sqlite3``:
    the engine's pragmas, a small page cache, ``BEGIN`` at once."""

    errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
    dialect = "sqlite"

    def __init__(self, store: Store) -> None:
        where, uri = store.sqlite_location()
        self.con = sqlite3.connect(where, uri=uri, timeout=30, isolation_level=None)
        try:
            sqlite_pragmas(self.con, None)
            self.con.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
            self.con.execute("BEGIN")
        except BaseException:
            self.con.close()
            raise

    def run(self, sql: str, params: dict[str, Any]) -> int | None:
        """Run one statement; the row id it inserted, if any."""
        params = {k: sqlite_moment(v) if isinstance(v, datetime) else v for k, v in params.items()}
        return self.con.execute(sql, params).lastrowid

    def insert(self, sql: str, params: dict[str, Any]) -> int:
        return int(self.run(sql, params) or 0)

    def insert_rows(
        self, table: str, data: pa.Table, snapshot_id: int, start: int, chunk_rows: int
    ) -> None:
        """Rows through ``executemany``, dates as SQLAlchemy writes them (unnumbered: a
        SQLite store reads them in their insertion order, ``start`` is for ``COPY``)."""
        columns = data.column_names
        names = ", ".join(["snapshot_id", *columns])
        marks = ", ".join(["?"] * (len(columns) + 1))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        for chunk in data.to_batches(max_chunksize=chunk_rows):
            cols = []
            for name in columns:
                col = chunk.column(name)
                if pa.types.is_timestamp(col.type):
                    # The text SQLAlchemy's DateTime stores in SQLite ("YYYY-MM-DD
                    # HH:MM:SS.ffffff"); a cast is ten times faster than strftime.
                    col = pc.cast(col, pa.string())
                cols.append(col.to_pylist())
            self.con.executemany(sql, zip([snapshot_id] * chunk.num_rows, *cols, strict=True))

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        try:
            if self.con.in_transaction:
                self.con.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # closing the connection ends the transaction all the same

    def close(self) -> None:
        self.con.close()


class _EngineSession:
    """A write transaction on a database server through SQLAlchemy (``COPY`` through
    psycopg 3 for rows)."""

    dialect = "postgresql"

    def __init__(self, store: Store) -> None:
        from sqlalchemy.exc import DatabaseError, OperationalError

        self.errors = (OperationalError, DatabaseError)
        self.conn = store.engine.connect()
        self.tx = self.conn.begin()

    def insert(self, sql: str, params: dict[str, Any]) -> int:
        from sqlalchemy import text

        return int(self.conn.execute(text(sql + " RETURNING id"), params).scalar_one())

    def run(self, sql: str, params: dict[str, Any]) -> None:
        from sqlalchemy import text

        self.conn.execute(text(sql), params)

    def insert_rows(
        self, table: str, data: pa.Table, snapshot_id: int, start: int, chunk_rows: int
    ) -> None:
        """``COPY`` through psycopg 3 (rows numbered from ``start`` in ``seq``), else the
        driver's executemany."""
        if is_psycopg(self.conn.dialect):
            self._copy_in(table, data, snapshot_id, start, chunk_rows)
            return
        from sqlalchemy import text

        keys = ["snapshot_id", *data.column_names]
        sql = text(
            f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join(':' + k for k in keys)})"
        )
        for chunk in data.to_batches(max_chunksize=chunk_rows):
            cols = [chunk.column(name).to_pylist() for name in data.column_names]
            rows = zip([snapshot_id] * chunk.num_rows, *cols, strict=True)
            self.conn.execute(sql, [dict(zip(keys, r, strict=True)) for r in rows])

    def _copy_in(
        self, table: str, data: pa.Table, snapshot_id: int, start: int, chunk_rows: int
    ) -> None:
        """Send Arrow rows to PostgreSQL with ``COPY ... FROM STDIN``, one chunk per COPY.

        Arrow writes each chunk as CSV (in C++, no Python object per value): strings are
        always quoted, so an empty string stays one and NULL is the empty field.
        PostgreSQL's text cannot hold NUL characters; they become U+FFFD.
        """
        from sqlalchemy.exc import DBAPIError

        names = ["snapshot_id", "seq", *data.column_names]
        sql = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv)"
        raw = self.conn.connection.driver_connection
        dbapi = self.conn.dialect.loaded_dbapi
        options = pa_csv.WriteOptions(include_header=False)
        for chunk in data.to_batches(max_chunksize=chunk_rows):
            rows = chunk.num_rows
            arrays = [
                pa.array(np.full(rows, snapshot_id, np.int64)),
                pa.array(np.arange(start, start + rows, dtype=np.int64)),
            ]
            start += rows
            for col in chunk.columns:
                if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                    col = pc.replace_substring(col, "\x00", "\ufffd")
                arrays.append(col)
            batch = pa.RecordBatch.from_arrays(arrays, names=names)
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(batch, sink, options)
            body = sink.getvalue()
            del arrays, batch, sink
            try:
                with raw.cursor() as cur, cur.copy(sql) as copy:
                    copy.write(memoryview(body))
            except dbapi.Error as exc:
                raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc

    def commit(self) -> None:
        self.tx.commit()

    def rollback(self) -> None:
        try:
            if not self.conn.closed and not self.conn.invalidated and self.tx.is_active:
                self.tx.rollback()
        except Exception:
            # A connection broken half-way (an interrupt inside the driver): dropping it
            # ends the transaction on the server all the same.
            self.conn.invalidate()

    def close(self) -> None:
        self.conn.close()


def open_session(store: Store) -> _SqliteSession | _EngineSession:
    """A write transaction on ``store``: through ``sqlite3`` on a SQLite file, SQLAlchemy
    on a server."""
    return _SqliteSession(store) if store.path is not None else _EngineSession(store)


def execute(store: Store, statements: list[tuple[str, dict[str, Any]]]) -> None:
    """Run writes (plain SQL that both back ends speak, ``:name`` parameters) in one
    transaction, as a snapshot is written: a process that prunes beside a busy server never
    loads SQLAlchemy on a SQLite store. A store that cannot be written is a :class:`StoreError`
    and nothing of the statements is kept."""
    try:
        db = open_session(store)
    except sqlite3.Error as exc:
        raise StoreError(store.explain(exc)) from exc
    try:
        for sql, params in statements:
            db.run(sql, params)
        db.commit()
    except db.errors as exc:
        db.rollback()
        raise StoreError(store.explain(exc)) from exc
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


class SnapshotTransaction:
    """One snapshot being written: a database transaction held open until commit."""

    def __init__(
        self,
        store: Store,
        source: str,
        label: str,
        taken_at: datetime | None,
        chunk_rows: int,
    ) -> None:
        self.store = store
        self.chunk_rows = chunk_rows  # rows per INSERT batch or COPY part
        self._written = 0  # the position (``seq``) of the next node row with an extra field
        self._parts = {"nodes": 0, "links": 0}  # the number of the next part of each
        try:
            self._db = open_session(store)
        except sqlite3.Error as exc:
            raise StoreError(store.explain(exc) + " (nothing was stored)") from exc
        with self._failing():
            self.snapshot_id = self._db.insert(
                _INSERT_SNAPSHOT,
                {"source": source, "label": label, "taken_at": taken_at, "started_at": _now()},
            )

    def write(
        self, nodes: pa.Table | None, links: pa.Table | None, copy: PartCopy | None = None
    ) -> None:
        """Store rows: encoded as parts here, each part also handed to ``copy``."""
        for rows_of, data in (("nodes", nodes), ("links", links)):
            if data is None or not data.num_rows:
                continue
            for rows, part in encode_parts(stored(rows_of, data)):
                self.write_part(rows_of, rows, part)
                if copy is not None:
                    copy(rows_of, part)
        if nodes is not None and nodes.num_rows:
            self.write_rows(rows_with_extra(stored("nodes", nodes)))

    def write_part(self, rows_of: str, rows: int, data: bytes) -> None:
        """Store one part already encoded (:func:`encode_parts`) of ``rows_of``."""
        with self._failing():
            self._db.run(
                _INSERT_PART,
                {
                    "snapshot_id": self.snapshot_id,
                    "rows_of": rows_of,
                    "part": self._parts[rows_of],
                    "row_count": rows,
                    "data": data,
                },
            )
            self._parts[rows_of] += 1

    def write_rows(self, extra: pa.Table) -> None:
        """Store node rows with an ``extra`` field (:func:`rows_with_extra`) as rows too."""
        if not extra.num_rows:
            return
        with self._failing():
            self._db.insert_rows("nodes", extra, self.snapshot_id, self._written, self.chunk_rows)
            self._written += extra.num_rows

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """A failed write ends the transaction: nothing of the snapshot is kept."""
        try:
            yield
        except self._db.errors as exc:
            self.rollback()
            raise StoreError(self.store.explain(exc) + " (nothing was stored)") from exc
        except BaseException as exc:
            # An interrupt inside the driver: the connection is dropped, but SQLite keeps
            # its lock until the cursor held by the traceback is freed.
            traceback.clear_frames(exc.__traceback__)
            self.rollback()
            raise

    def commit(self, report: dict[str, Any]) -> int:
        report = {**report, "snapshot_id": self.snapshot_id}
        try:
            with self._failing():
                self._db.run(
                    _COMPLETE,
                    {"finished_at": _now(), "report": json.dumps(report), "id": self.snapshot_id},
                )
                self._db.commit()
        finally:
            self._db.close()
        return self.snapshot_id

    def rollback(self) -> None:
        try:
            self._db.rollback()
        finally:
            self._db.close()
