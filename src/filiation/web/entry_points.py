"""The home page's entry points: the most derived families and the newest models.

Interim: computed here from the lineage index's raw arrays, which an interface should not
read; the computation moves behind :class:`Genealogy` (a service method for the home page)
and :func:`entry_points` then calls it. These are the only lines of the web layer that touch
the index (listed in ``tests/test_imports.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from filiation.domain import KIND_CODES, NodeKind
from filiation.lineage.arrays import NULL_INT
from filiation.results import NodeSummary, summary_fields
from filiation.service import Genealogy

#: Models shown in each list of the home page.
ENTRY_POINTS = 12


def entry_points(g: Genealogy, cache: dict[str, Any]) -> dict[str, list[NodeSummary]]:
    """The most derived families (models with most descendants) and the newest models.

    Computed once per loaded index (a pass over two arrays) and kept in ``cache`` (one per
    app) until another index is loaded."""
    index = g.index
    if cache.get("index") is index:
        return cache["value"]  # type: ignore[no-any-return]
    a = index.a
    models = (np.asarray(a.kind) == KIND_CODES[NodeKind.MODEL]) & ~np.asarray(a.stub, bool)

    def top(score: np.ndarray, known: np.ndarray) -> list[NodeSummary]:
        candidates = np.flatnonzero(models & known)
        values = score[candidates]
        k = min(ENTRY_POINTS, len(candidates))
        if k == 0:
            return []
        if len(values) > k:
            keep = np.argpartition(values, len(values) - k)[len(values) - k :]
            candidates, values = candidates[keep], values[keep]
        # Highest score first; ties by renown (lower node number = better known).
        order = candidates[np.lexsort((candidates, -values))]
        return [NodeSummary(**summary_fields(index, int(n))) for n in order]

    descendants = np.asarray(a.descendants).astype(np.int64)
    created = np.asarray(a.created).astype(np.int64)
    value = {
        "families": top(descendants, descendants > 0),
        "recent": top(created, created != NULL_INT),
    }
    cache.update(index=index, value=value)
    return value
