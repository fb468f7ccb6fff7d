"""The evidence of suspected links, read back from the store.

The index keeps a suspected link's confidence as a number and only the name of its source as
evidence (one JSON text per link would bloat its vocabulary); the store keeps the full text
``{"confidence": …, "signals": {…}}`` written by ``filiation infer``. An answer that shows
suspects (a walk asked for them, a drawing with suspects on) gets each one's signals from here,
so the CLI, the JSON API and the pages all say *why* a link is suspected, not only that it is.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from filiation.lineage.index import LineageIndex
from filiation.store.store import Store

# Every lineage answer carries a reader of its suspects' evidence (``Lineage.evidence_reader``),
# used only when suspects are shown: pyarrow and the store's tables load with that first use.
if TYPE_CHECKING:
    import pyarrow as pa

_COLUMNS = ("child_key", "parent_key", "evidence")
#: The evidence columns of the inferred snapshots read lately, by store and snapshot id: a
#: snapshot never changes once written, and a page showing suspects asks for the same one
#: again and again (it is stored as compressed parts, read whole).
_READ: weakref.WeakKeyDictionary[Store, dict[int, pa.Table]] = weakref.WeakKeyDictionary()
_KEEP = 2


def _evidence_table(store: Store, snap: int) -> pa.Table:
    import pyarrow as pa

    from filiation.store import schema

    known = _READ.setdefault(store, {})
    table = known.get(snap)
    if table is None:
        columns = pa.schema([(name, pa.string()) for name in _COLUMNS])
        table = store.read_columns(schema.links, list(_COLUMNS), columns, snap)
        while len(known) >= _KEEP:
            known.pop(next(iter(known)))
        known[snap] = table
    return table


def _snapshot_of(label: str) -> int | None:
    """The snapshot id in an index source label (``inferred:metadata#12`` → 12)."""
    _, _, tail = label.rpartition("#")
    return int(tail) if tail.isdigit() else None


def _signals(text: str | None) -> dict[str, Any] | None:
    """The signals of a stored evidence text; None for a text that is not such an object."""
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    signals = value.get("signals", value)
    return signals if isinstance(signals, dict) else None


def suspect_evidence(store: Store, index: LineageIndex, edges: Iterable[int]) -> dict[int, Any]:
    """The signals of each suspected link among ``edges`` (index link numbers), by link; a
    declared link, or a suspect whose stored text is gone (its snapshot pruned since the index
    was built) or unreadable, is absent."""
    edges = np.unique(np.fromiter(edges, np.int64))
    if not len(edges):
        return {}
    edges = edges[index.suspected(edges)]
    a = index.a
    labels = a.vocab["sources"]
    wanted: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for edge in edges.tolist():
        snap = _snapshot_of(labels[int(a.edge_source[edge])])
        if snap is not None:
            child = a.lower_of(int(a.edge_child[edge])).decode()
            parent = a.lower_of(int(a.edge_parent[edge])).decode()
            wanted[snap][(child, parent)] = edge
    out: dict[int, Any] = {}
    if not wanted:
        return out
    import pyarrow as pa
    import pyarrow.compute as pc

    for snap, pairs in wanted.items():
        table = _evidence_table(store, snap)
        keys = pa.array(sorted({child for child, _ in pairs}), pa.string())
        rows = table.filter(pc.is_in(table["child_key"], value_set=keys)).to_pylist()
        for row in rows:
            edge = pairs.get((row["child_key"], row["parent_key"]))
            signals = _signals(row["evidence"]) if edge is not None else None
            if signals is not None:
                out[edge] = signals
    return out
