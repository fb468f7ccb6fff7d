"""The dump's columns made safe to store: usable ids, columns of the expected type, tags.

The dump is public data anyone can shape: ids with control characters or bytes that are
not UTF-8, a column of another type than documented, tags in any order. These helpers turn
such values into nulls (or an unusable-id mask) rather than errors, so that a bad row costs
that row, never the ingest. Shared by the hub-stats ingest, the CSV and folder sources and
metadata inference (which reads the dump's columns exactly as ingest does).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filiation.limits import MAX_ID_LENGTH
from filiation.sources.records import valid_utf8

_CONTROL = r"[\x00-\x1f\x7f]"
#: A compiled search: the full Hub's model cards name 300,000 ids, checked one by one.
_CONTROL_SEARCH = re.compile(_CONTROL).search


def clean_id(value: Any) -> str | None:
    """Return a usable id, or ``None`` for empty, over-long or control-character ids."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_ID_LENGTH or _CONTROL_SEARCH(value):
        return None
    if "\ufffd" in value:  # bytes that were not UTF-8
        return None
    return value


def clean_ids(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Vectorised :func:`clean_id`: trimmed ids and a mask of the usable ones (an id with
    bytes that are not UTF-8 is not usable: it could not be looked up as typed)."""
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    values, bad_bytes = valid_utf8(values)
    trimmed = pc.utf8_trim_whitespace(values)
    length = pc.utf8_length(trimmed)
    unusable = _CONTROL + ("|\ufffd" if bad_bytes else "")
    ok = pc.and_(
        pc.and_(pc.greater(length, 0), pc.less_equal(length, MAX_ID_LENGTH)),
        pc.invert(pc.match_substring_regex(trimmed, unusable)),
    )
    return trimmed, pc.fill_null(ok, False).to_numpy(zero_copy_only=False)


def _column(batch: pa.RecordBatch, name: str, type_: pa.DataType) -> pa.Array:
    """A column cast to the type we store, or nulls when the dump lacks it or has another type."""
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, type_)
    col = batch.column(name)
    if col.type == type_:
        return col
    try:
        return pc.cast(col, type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(batch.num_rows, type_)


def _first_tag_value(tags: pa.Array, prefix: str, n: int) -> pa.Array:
    """For each row, the value of the first tag ``prefix<value>`` (e.g. ``license:``), or null."""
    flat = pc.list_flatten(tags)
    parents = pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)
    mask = pc.fill_null(pc.starts_with(flat, prefix), False)
    values = pc.utf8_slice_codeunits(pc.filter(flat, mask), len(prefix))
    rows = parents[mask.to_numpy(zero_copy_only=False)]
    pick = np.full(n, -1, dtype=np.int64)
    order = np.arange(len(rows))[::-1]  # assigned last = first tag of the row
    pick[rows[order]] = order
    taken = pc.take(values, pa.array(np.where(pick >= 0, pick, 0))) if len(values) else None
    if taken is None:
        return pa.nulls(n, pa.string())
    return pc.if_else(pa.array(pick >= 0), taken, pa.nulls(n, pa.string()))
