"""The questions about the genealogy as a whole rather than one node: which snapshots the
store holds and which are current, what is loaded (counts per kind and relation), where to
start exploring (the home page's entry points, kept per index), and what this process
answers from (health).

``Genealogy.snapshots``, ``stats``, ``entry_points`` and ``health`` ask an :class:`Overview`,
which reads the store's snapshot list and the index in use (the pinned one while a request
is answered, see :meth:`IndexCache.pinned`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from filiation import __version__
from filiation.results import EntryPoints, Health, Stats
from filiation.service import summaries

if TYPE_CHECKING:
    from filiation.lineage.index import LineageIndex
    from filiation.service.index_cache import IndexCache
    from filiation.store.store import Store

#: How many entry points of each kind the home page lists.
ENTRY_POINTS = 12


class Overview:
    """The genealogy's snapshots, counts, entry points and health, over its store and index."""

    def __init__(self, store: Store, cache: IndexCache) -> None:
        self.store = store
        self._cache = cache
        # The home page's entry points for the index they were computed from.
        self._entry_points: tuple[LineageIndex, EntryPoints] | None = None

    def snapshots(self) -> list[dict[str, Any]]:
        """Every snapshot in the store, and whether it is one of the current ones."""
        current = {s.id for s in self.store.current_snapshots()}
        return [
            {
                "id": s.id,
                "source": s.source,
                "label": s.label,
                "taken_at": s.taken_at,
                "finished_at": s.finished_at,
                "status": s.status,
                "current": s.id in current,
                "report": s.report,
            }
            for s in self.store.snapshots()
        ]

    def stats(self) -> Stats:
        """Nodes per kind, links per relation, cycles, current snapshots."""
        current = [s for s in self.snapshots() if s["current"]]
        return summaries.stats(self._cache.index, current, self.store.describe())

    def entry_points(self, count: int = ENTRY_POINTS) -> EntryPoints:
        """The most derived families and the newest models. The home page's ``count`` is
        computed once per index (a pass over two arrays), then kept."""
        index = self._cache.index
        known = self._entry_points
        if count == ENTRY_POINTS and known is not None and known[0] is index:
            return known[1]
        value = summaries.entry_points(index, count)
        if count == ENTRY_POINTS:
            self._entry_points = (index, value)
        return value

    def health(self) -> Health:
        """The version, the snapshots the index in use covers, and this process's id (each
        ``serve --workers`` process moves on to a new index alone)."""
        covered = [int(s["id"]) for s in self._cache.index.a.meta.get("snapshots", [])]
        return Health(version=__version__, snapshots=covered, worker=os.getpid())
