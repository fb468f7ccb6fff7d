"""Search, a page at a time: the hits of a text among ids and author names, best known first
(an exact id first), with a total counted up to a bound, and for authors and data sets what
they reach (they have no descendants of their own). What ``Genealogy.search`` and
``search_page`` answer; the CLI, the JSON API and the search page all go through here.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import numpy as np

from filiation.domain import KIND_CODES, LINEAGE_RELATIONS, NodeKind, Relation, parse_kind
from filiation.errors import InvalidArgumentError
from filiation.lineage.families import ancestors, root_members
from filiation.lineage.index import LineageIndex, relation_mask
from filiation.lineage.query import TraversalQuery
from filiation.results import SearchHit, SearchPage, summary_fields
from filiation.service import walks

#: Hits counted for a page's total: beyond it, the total says "more than" (a frequent text
#: matches hundreds of thousands of Hub ids; counting them all would scan the whole index).
COUNT_BOUND = 10_000


#: Per index, what the hits of authors and data sets reach (see :func:`_reach`), at most
#: :data:`REACH_MEMO` nodes each; an index's memo goes with it when no request holds it.
_REACH: weakref.WeakKeyDictionary[LineageIndex, dict[int, dict[str, int]]] = (
    weakref.WeakKeyDictionary()
)
#: The newest memo made, with the index it belongs to (when it was published, its nodes): the
#: memo a delta appended to that index starts from (:func:`_carried`).
_LAST: tuple[str | None, int, dict[int, dict[str, int]]] | None = None
_REACH_LOCK = threading.Lock()
REACH_MEMO = 50_000
_PUBLISHED = relation_mask([Relation.PUBLISHED_BY])


def hit(index: LineageIndex, node: int) -> SearchHit:
    """A search result: an author with the models it publishes and their families, a data
    set with the models of its impact set."""
    fields = summary_fields(index, node)
    kind = index.kind_of(node)
    if kind is NodeKind.AUTHOR or kind is NodeKind.DATASET:
        fields.update(_reach(index, node, kind))
    return SearchHit(**fields)


def _reach(index: LineageIndex, node: int, kind: NodeKind) -> dict[str, int]:
    """An author's models and families, or a data set's models (its impact set), memoised per
    index: the index never changes, and counting them walks the families of an author's
    models or a data set's whole impact set (about half a millisecond for a known author, as
    much as all the rest of a search), at every keystroke of a search typed letter by letter
    that shows them again."""
    global _LAST
    with _REACH_LOCK:
        memo = _REACH.get(index)
        if memo is None:
            memo = _REACH[index] = _carried(index)
            _LAST = (index.a.meta.get("built_at"), index.n_nodes, memo)
    known = memo.get(node)
    if known is not None:
        return known
    if kind is NodeKind.AUTHOR:
        published, _ = index.neighbours(node, down=True, relations=(Relation.PUBLISHED_BY,))
        models = published[index.a.kind[published] == KIND_CODES[NodeKind.MODEL]]
        roots, _ = root_members(index.a, models, relation_mask(LINEAGE_RELATIONS))
        known = {"models": len(models), "families": len(roots)}
    else:
        known = {"models": len(walks.impact(index, node, TraversalQuery()))}
    if len(memo) >= REACH_MEMO:
        memo.clear()  # a bound, not an eviction policy: a server's searches rarely get here
    memo[node] = known
    return known


def _carried(index: LineageIndex) -> dict[int, dict[str, int]]:
    """The memo a new index starts with: when a delta appended it to the index of the newest
    memo (the base's nodes keep their numbers, ``meta["appended_to"]``), that memo's
    entries the change cannot reach. An appending delta only hangs new nodes below
    existing ones (no existing node gains a parent), so what changes is what the publishers
    of the new nodes published, and the impact sets of the data sets above them through
    their lineage: those entries are dropped and counted again. A server's workers move to
    every delta's index; without this, each counted every author and data set its searches
    show again after each move (about half a millisecond an author: a search mix's first
    pass on a new index took three times the CPU of the next)."""
    base = index.a.meta.get("appended_to")
    last = _LAST
    if not base or last is None or (last[0], last[1]) != (base.get("built_at"), base["nodes"]):
        return {}
    new = np.arange(int(base["nodes"]), index.n_nodes)
    above = relation_mask([*LINEAGE_RELATIONS, Relation.TRAINED_ON])
    changed = ancestors(index.a, new, above) | ancestors(index.a, new, _PUBLISHED)
    return {node: known for node, known in last[2].items() if not changed[node]}


def search_page(
    index: LineageIndex,
    text: str,
    offset: int,
    limit: int,
    kinds: Sequence[NodeKind | str] | None,
    *,
    count: bool = True,
) -> SearchPage:
    """Hits ``offset`` to ``offset + limit`` of ``text``, and how many there are: with
    ``count``, counted up to :data:`COUNT_BOUND` (or the page's end, if further); without,
    only whether more follow (a suggestion list needs no total)."""
    TraversalQuery(limit=limit)  # checks the bound as every question does
    if not isinstance(text, str):
        raise InvalidArgumentError("search text must be a string")
    if offset < 0:
        raise InvalidArgumentError(f"offset must be 0 or more, not {offset}")
    kinds_ = [k for k in (parse_kind(k) for k in kinds) if k] if kinds else None
    bound = max(COUNT_BOUND, offset + limit) if count else offset + limit
    found = index.search(text, bound + 1, kinds_)
    page = found[offset : offset + limit]
    return SearchPage(
        query=text,
        items=[hit(index, n) for n in page],
        offset=offset,
        limit=limit,
        total=min(len(found), bound),
        total_exact=len(found) <= bound,
        counted_up_to=bound,
        next_offset=offset + len(page) if page and len(found) > offset + len(page) else None,
    )
