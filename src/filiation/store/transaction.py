"""A snapshot being written: one transaction that stores a source's nodes and links as a few
compressed Arrow parts (``snapshot_parts``) and becomes visible only at its commit.

Node rows with source-specific fields (``extra``, looked up one by one) are also inserted
as rows of ``nodes`` (``COPY`` on PostgreSQL, ``executemany`` on SQLite).

Split from ``store.py``, which opens stores and reads them; :meth:`Store.begin_snapshot`
starts a :class:`SnapshotTransaction`.
"""

from __future__ import annotations

import json
import traceback
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


def _write_parts(conn: Any, rows_of: str, data: pa.Table, snap_id: int, first: int) -> int:
    """Store ``data`` as parts numbered from ``first``; the number of parts written."""
    count = 0
    for start in range(0, data.num_rows, PART_ROWS):
        piece = data.slice(start, PART_ROWS)
        conn.execute(
            schema.snapshot_parts.insert().values(
                snapshot_id=snap_id,
                rows_of=rows_of,
                part=first + count,
                row_count=piece.num_rows,
                data=encode_part(piece),
            )
        )
        count += 1
    return count


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
        self._written = [0, 0]  # nodes, links: the position of the next row of each
        self._parts = [0, 0]  # nodes, links: the number of the next part of each
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

    def write(self, nodes: pa.Table | None, links: pa.Table | None) -> None:
        try:
            if nodes is not None and nodes.num_rows:
                nodes = nodes.select(schema.NODE_COLUMNS)
                self._parts[0] += _write_parts(
                    self._conn, "nodes", nodes, self.snapshot_id, self._parts[0]
                )
                extra = nodes.filter(pc.is_valid(nodes["extra"]))
                if extra.num_rows:
                    self._insert_rows(schema.nodes, extra, self._written[0])
                    self._written[0] += extra.num_rows
            if links is not None and links.num_rows:
                self._parts[1] += _write_parts(
                    self._conn,
                    "links",
                    links.select(schema.LINK_COLUMNS),
                    self.snapshot_id,
                    self._parts[1],
                )
        except (OperationalError, DatabaseError) as exc:
            self.rollback()
            raise StoreError(self.store.explain(exc) + " (nothing was stored)") from exc
        except BaseException as exc:
            # An interrupt inside the driver: SQLAlchemy closes the connection, but SQLite
            # keeps its lock until the cursor held by the traceback is freed.
            traceback.clear_frames(exc.__traceback__)
            self.rollback()
            raise

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
