"""A snapshot's rows read back from the store as Arrow tables.

From the snapshot's stored parts (``snapshot_parts``, since migration 0009), or, for a
snapshot written before, from its ``nodes``/``links`` rows: streamed through
``COPY ... TO STDOUT`` on PostgreSQL, fetched in chunks elsewhere. Kept apart from
:mod:`filiation.store.store` (opening, schema state, snapshot bookkeeping), whose
``Store.read_columns`` calls :func:`read_columns`; pyarrow and SQLAlchemy are imported inside
the functions, as there, so that importing this module loads neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from filiation.errors import StoreError

if TYPE_CHECKING:
    import pyarrow as pa

    from filiation.store.store import Store


def read_columns(
    store: Store,
    table: Any,
    columns: list[str],
    arrow_schema: pa.Schema,
    snap: int,
    chunk_rows: int,
) -> pa.Table:
    """``columns`` of ``table``'s rows in snapshot ``snap``, as an Arrow table of
    ``arrow_schema``: from the snapshot's stored parts, or, for a snapshot written
    before migration 0009, from its rows (streamed: by ``COPY`` from PostgreSQL, else
    ``chunk_rows`` at a time, the store's batch size, given by the store so that this
    module, which the store imports, imports nothing of it back)."""
    import pyarrow as pa
    from sqlalchemy import text

    from filiation.store.transaction import is_psycopg

    stored = _read_parts(store, table.name, columns, arrow_schema, snap)
    if stored is not None:
        return stored
    if is_psycopg(store.engine.dialect):
        return _copy_out(store, table, columns, arrow_schema, snap)
    # Plain SQL: the rows go straight to Arrow, without per-value type processing.
    query = text(f"SELECT {', '.join(columns)} FROM {table.name} WHERE snapshot_id = :snap")
    parts: list[pa.RecordBatch] = []
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(query, {"snap": snap})
        for chunk in _chunks(result, chunk_rows):
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


def _read_parts(
    store: Store, rows_of: str, columns: list[str], arrow_schema: pa.Schema, snap: int
) -> pa.Table | None:
    """The snapshot's parts of ``rows_of``, decoded one at a time and cut to
    ``columns``; None when the snapshot has none (written before migration 0009)."""
    import pyarrow as pa
    from sqlalchemy import select
    from sqlalchemy.exc import DatabaseError, OperationalError

    from filiation.store import schema
    from filiation.store.transaction import decode_part

    parts = schema.snapshot_parts.c
    query = (
        select(parts.data)
        .where(parts.snapshot_id == snap, parts.rows_of == rows_of)
        .order_by(parts.part)
    )
    tables: list[pa.Table] = []
    try:
        with store.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1).execute(query)
            for (data,) in result:
                tables.append(decode_part(data).select(columns).cast(arrow_schema))
    except (OperationalError, DatabaseError) as exc:
        raise StoreError(store.explain(exc)) from exc
    if not tables:
        return None
    return pa.concat_tables(tables)


def _copy_out(
    store: Store, table: Any, columns: list[str], arrow_schema: pa.Schema, snap: int
) -> pa.Table:
    """A snapshot's rows from PostgreSQL: ``COPY ... TO STDOUT`` as CSV, parsed by Arrow.

    The CSV goes through a temporary file, so the rows are never Python objects and
    Arrow parses them on every core. Every non-NULL value is quoted, which tells an
    empty string (``""``) from NULL (nothing).
    """
    import tempfile

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
    from sqlalchemy.exc import DatabaseError, OperationalError

    names = [*columns, "seq"]
    sql = (
        f"COPY (SELECT {', '.join(names)} FROM {table.name} "
        f"WHERE snapshot_id = {int(snap)}) TO STDOUT (FORMAT csv, FORCE_QUOTE *)"
    )
    with tempfile.TemporaryFile() as spool:
        try:
            with store.engine.connect() as conn:
                raw = conn.connection.driver_connection
                with raw.cursor() as cur, cur.copy(sql) as copy:
                    for data in copy:
                        spool.write(data)
                conn.rollback()
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(store.explain(exc)) from exc
        except Exception as exc:
            if isinstance(exc, store.engine.dialect.loaded_dbapi.Error):
                raise StoreError(store.explain(exc)) from exc
            raise
        if spool.tell() == 0:
            return arrow_schema.empty_table()
        spool.seek(0)
        got = pa_csv.read_csv(
            spool,
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=arrow_schema.append(pa.field("seq", pa.int64())),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
    # Back in the order the source produced the rows (a stable sort: rows without a
    # position, if any, keep the table's order).
    order = pc.array_sort_indices(got["seq"], null_placement="at_end")
    return got.drop_columns(["seq"]).take(order).cast(arrow_schema).combine_chunks()


def _chunks(result: Any, size: int) -> Iterator[list[Any]]:
    while True:
        rows = result.fetchmany(size)
        if not rows:
            return
        yield rows


def _timestamps(values: tuple[Any, ...]) -> pa.Array:
    """SQLite hands back text, other databases datetimes; both become Arrow timestamps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return pc.cast(arr, pa.timestamp("us"))
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.timestamp("us"))
    return pc.cast(arr, pa.timestamp("us"))
