"""The evidence of suspected links, read back from the store.

The index keeps a suspected link's confidence as a number and only the name of its source as
evidence (one JSON text per link would bloat its vocabulary); the store keeps the full text
``{"confidence": …, "signals": {…}}`` written by ``filiation infer``. An answer that shows
suspects (a walk asked for them, a drawing with suspects on) gets each one's signals from here,
so the CLI, the JSON API and the pages all say *why* a link is suspected, not only that it is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
from sqlalchemy import bindparam, select

from filiation.lineage.index import LineageIndex
from filiation.store import schema
from filiation.store.store import Store

#: Child keys asked for in one statement (far below every back end's parameter limit).
_CHUNK = 500


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
    t = schema.links.c
    query = select(t.child_key, t.parent_key, t.evidence).where(
        t.snapshot_id == bindparam("snap"), t.child_key.in_(bindparam("keys", expanding=True))
    )
    with store.reading() as conn:
        for snap, pairs in wanted.items():
            keys = sorted({child for child, _ in pairs})
            for start in range(0, len(keys), _CHUNK):
                rows = conn.execute(query, {"snap": snap, "keys": keys[start : start + _CHUNK]})
                for child, parent, text in rows:
                    edge = pairs.get((child, parent))
                    signals = _signals(text) if edge is not None else None
                    if signals is not None:
                        out[edge] = signals
    return out
