"""A snapshot being written: one transaction that stores a source's nodes and links as a few
compressed Arrow parts (``snapshot_parts``) and becomes visible only at its commit.

Node rows with source-specific fields (``extra``, looked up one by one) are also inserted
as rows of ``nodes`` (``COPY`` on PostgreSQL, ``executemany`` on SQLite).

Split from ``store.py``, which opens stores and reads them; :meth:`Store.begin_snapshot`
starts a :class:`SnapshotTransaction`.
"""

from __future__ import annotations

import contextlib
import json
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from filiation.errors import StoreError
from filiation.store import schema

if TYPE_CHECKING:
    from filiation.store.store import Store


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
    return data.select(schema.NODE_COLUMNS if rows_of == "nodes" else schema.LINK_COLUMNS)


def rows_with_extra(nodes: pa.Table) -> pa.Table:
    """Node rows with a source-specific ``extra`` field: stored as rows too (looked up one by
    one); a hub-stats dump has none."""
    return nodes.filter(pc.is_valid(nodes["extra"]))


#: Called with every part written (``rows_of``, its bytes): the snapshot's copy.
PartCopy = Callable[[str, bytes], None]


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
            raise StoreError(store.explain(exc) + " (nothing was stored)") from exc

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
            self._conn.execute(
                schema.snapshot_parts.insert().values(
                    snapshot_id=self.snapshot_id,
                    rows_of=rows_of,
                    part=self._parts[rows_of],
                    row_count=rows,
                    data=data,
                )
            )
            self._parts[rows_of] += 1

    def write_rows(self, extra: pa.Table) -> None:
        """Store node rows with an ``extra`` field (:func:`rows_with_extra`) as rows too."""
        if not extra.num_rows:
            return
        with self._failing():
            self._insert_rows(schema.nodes, extra, self._written)
            self._written += extra.num_rows

    def _insert_rows(self, table: Any, data: pa.Table, start: int) -> None:
        """Insert Arrow rows into ``table`` (``data``'s columns, after ``snapshot_id``):
        ``COPY`` on PostgreSQL (rows numbered from ``start`` in ``seq``), else the driver's
        executemany."""
        conn = self._conn
        if is_psycopg(conn.dialect):
            self._copy_in(table, data, start)
            return
        columns = data.column_names
        names = ", ".join(["snapshot_id", *columns])
        marks = ", ".join(["?"] * (len(columns) + 1))
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
        for chunk in data.to_batches(max_chunksize=self.chunk_rows):
            cols = []
            for name in columns:
                col = chunk.column(name)
                if pa.types.is_timestamp(col.type):
                    # The text SQLAlchemy's DateTime stores in SQLite ("YYYY-MM-DD
                    # HH:MM:SS.ffffff"); a cast is ten times faster than strftime.
                    col = pc.cast(col, pa.string())
                cols.append(col.to_pylist())
            rows = list(zip([self.snapshot_id] * chunk.num_rows, *cols, strict=True))
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(sql, rows)
            else:
                keys = ["snapshot_id", *columns]
                conn.execute(table.insert(), [dict(zip(keys, r, strict=True)) for r in rows])

    def _copy_in(self, table: Any, data: pa.Table, start: int) -> None:
        """Send Arrow rows to PostgreSQL with ``COPY ... FROM STDIN``, one chunk per COPY.

        Arrow writes each chunk as CSV (in C++, no Python object per value): strings are
        always quoted, so an empty string stays one and NULL is the empty field.
        PostgreSQL's text cannot hold NUL characters; they become U+FFFD.
        """
        names = ["snapshot_id", "seq", *data.column_names]
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT csv)"
        raw = self._conn.connection.driver_connection
        dbapi = self._conn.dialect.loaded_dbapi
        options = pa_csv.WriteOptions(include_header=False)
        for chunk in data.to_batches(max_chunksize=self.chunk_rows):
            rows = chunk.num_rows
            arrays = [
                pa.array(np.full(rows, self.snapshot_id, np.int64)),
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

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """A failed write ends the transaction: nothing of the snapshot is kept."""
        try:
            yield
        except (OperationalError, DatabaseError) as exc:
            self.rollback()
            raise StoreError(self.store.explain(exc) + " (nothing was stored)") from exc
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
            raise StoreError(self.store.explain(exc) + " (nothing was stored)") from exc
        finally:
            self._conn.close()
        return self.snapshot_id

    def rollback(self) -> None:
        try:
            if not self._conn.closed and not self._conn.invalidated and self._tx.is_active:
                self._tx.rollback()
        except Exception:
            # A connection broken half-way (an interrupt inside the driver): dropping it
            # ends the transaction on the server all the same.
            self._conn.invalidate()
        finally:
            self._conn.close()
