"""What every source produces: two Arrow tables (nodes, links) and a report of what it kept.

Sources never write to the store themselves; they turn a file or an API answer into these
records, so the store has one write path and every source is testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa


def _node_ref(prefix: str = "") -> list[tuple[str, pa.DataType]]:
    """The fields naming a node (its kind, key and id), as the store's tables name them
    (:func:`filiation.store.migrations.columns.node_ref`)."""
    return [(prefix + name, pa.string()) for name in ("kind", "key", "id")]


NODE_SCHEMA = pa.schema(
    [
        *_node_ref(),
        ("author", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("last_modified", pa.timestamp("us")),
        ("pipeline_tag", pa.string()),
        ("library_name", pa.string()),
        ("license", pa.string()),
        ("downloads", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
        ("trending_score", pa.float64()),
        ("parameters", pa.int64()),
        ("extra", pa.string()),
    ]
)

LINK_SCHEMA = pa.schema(
    [
        *_node_ref("child_"),
        *_node_ref("parent_"),
        ("relation", pa.string()),
        ("declared", pa.bool_()),
        ("evidence", pa.string()),
    ]
)


@dataclass
class IngestReport:
    """Counts of what a source kept and skipped, and why; printed after every ingest."""

    source: str
    label: str
    rows_read: int = 0
    nodes: int = 0
    links: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    snapshot_id: int | None = None

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(count)

    def note(self, what: str, count: int = 1) -> None:
        if count:
            self.notes[what] = self.notes.get(what, 0) + int(count)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "label": self.label,
            "snapshot_id": self.snapshot_id,
            "rows_read": self.rows_read,
            "nodes": self.nodes,
            "links": self.links,
            "skipped": dict(sorted(self.skipped.items())),
            "notes": dict(sorted(self.notes.items())),
        }


@dataclass
class Records:
    """A source's whole contribution, ready to become one snapshot."""

    source: str
    label: str
    taken_at: datetime | None
    nodes: pa.Table
    links: pa.Table
    report: IngestReport


def empty_nodes() -> pa.Table:
    return NODE_SCHEMA.empty_table()


def empty_links() -> pa.Table:
    return LINK_SCHEMA.empty_table()


#: Node columns that describe a model in words (shown by every interface, never parsed).
TEXT_FIELDS = ("author", "pipeline_tag", "library_name", "license")
NOTE_SHORTENED = "descriptive fields over the length limit (shortened)"
NOTE_CONTROL = "descriptive fields with control characters (replaced by '?')"
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"


def clean_text_fields(nodes: pa.Table, report: IngestReport) -> pa.Table:
    """Nodes whose descriptive fields (author, task, library, licence) are short and
    printable: a 1 MB author or a ``lib\\x1b[2J`` library comes from someone else's
    metadata and would otherwise cost every export and reach every terminal. Over-long
    values are cut to :data:`filiation.limits.MAX_FIELD_LENGTH` characters and control
    characters become ``?``, both counted in the report (ids are checked by each source,
    which skips unusable ones)."""
    import pyarrow.compute as pc

    from filiation.limits import MAX_FIELD_LENGTH

    for name in TEXT_FIELDS:
        if name not in nodes.column_names:
            continue
        i = nodes.schema.get_field_index(name)
        col = nodes.column(i)
        if not pa.types.is_string(col.type):
            continue
        long = pc.greater(pc.utf8_length(col), MAX_FIELD_LENGTH)
        report.note(NOTE_SHORTENED, pc.sum(pc.cast(long, pa.int64())).as_py() or 0)
        col = pc.utf8_slice_codeunits(col, 0, MAX_FIELD_LENGTH)
        control = pc.match_substring_regex(col, _CONTROL)
        found = pc.sum(pc.cast(control, pa.int64())).as_py() or 0
        if found:
            report.note(NOTE_CONTROL, found)
            col = pc.replace_substring_regex(col, _CONTROL, "?")
        nodes = nodes.set_column(i, nodes.field(i), col)
    return nodes


def valid_utf8(values: pa.Array) -> tuple[pa.Array, int]:
    """A string array (or list of strings) whose every value is valid UTF-8, and how many
    values were not: a Parquet file can hold any bytes in a string column, and Arrow's
    string functions stop on the first bad one. Bad bytes become U+FFFD (the rare slow path
    only runs when the array fails Arrow's full validation)."""
    try:
        values.validate(full=True)
        return values, 0
    except pa.ArrowInvalid:
        pass
    if pa.types.is_string(values.type):
        raw = values.view(pa.binary()).to_pylist()
        fixed = [None if b is None else b.decode("utf-8", "replace") for b in raw]
        bad = sum(1 for b, f in zip(raw, fixed, strict=True) if b is not None and "\ufffd" in f)
        return pa.array(fixed, pa.string()), bad
    if pa.types.is_list(values.type):
        import pyarrow.compute as pc

        offsets = values.offsets
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        flat, bad = valid_utf8(values.values.slice(first, last - first))
        offsets = pc.subtract(offsets, pa.scalar(first, offsets.type))
        mask = values.is_null() if values.null_count else None
        return pa.ListArray.from_arrays(offsets, flat, mask=mask), bad
    if pa.types.is_struct(values.type):
        fields = [values.type.field(i) for i in range(values.type.num_fields)]
        parts = [valid_utf8(values.field(i)) for i in range(len(fields))]
        mask = values.is_null() if values.null_count else None
        fixed = pa.StructArray.from_arrays([p[0] for p in parts], fields=fields, mask=mask)
        return fixed, sum(p[1] for p in parts)
    return values, 0


def arrow_without_pandas() -> None:
    """Tell pyarrow that this process has no pandas, unless it has loaded pandas already.

    pyarrow imports pandas (a quarter of a second of CPU) the first time it converts any
    Python or numpy value (``pa.array``, ``pa.scalar``, a compute function given a number),
    only to check whether the value is a pandas object. filiation uses no pandas and hands
    it none, so a process of its own, such as a ``filiation ingest`` command beside a busy
    server, need not pay for that check: pyarrow tries ``import pandas`` once (once in its
    Cython layer, once in its C++ one) and keeps the answer, and this makes those tries
    fail. ``to_pandas()`` still works (it imports pandas when asked). Not for a process
    that may give pyarrow pandas objects later (a notebook): only the command line's
    ingests call it (``tests/test_lazy_imports.py``)."""
    import sys

    if "pandas" in sys.modules:
        return
    import pyarrow.lib

    refusal = _NoPandas()
    sys.meta_path.insert(0, refusal)
    try:
        _ = pyarrow.lib._pandas_api.have_pandas  # the Cython layer's one try, answered "no"
        pa.array(["", None])  # and its C++ layer's (converting Python values), the same
    finally:
        sys.meta_path.remove(refusal)


class _NoPandas:
    """An import finder that refuses pandas (for :func:`arrow_without_pandas`'s one try)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
