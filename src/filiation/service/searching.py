"""Search, a page at a time: the hits of a text among ids and author names, best known first
(an exact id first), with a total counted up to a bound, and for authors and data sets what
they reach (they have no descendants of their own). What ``Genealogy.search`` and
``search_page`` answer; the CLI, the JSON API and the search page all go through here.
"""

from __future__ import annotations

from collections.abc import Sequence

from filiation.domain import KIND_CODES, LINEAGE_RELATIONS, NodeKind, Relation, parse_kind
from filiation.errors import InvalidArgumentError
from filiation.lineage.families import root_members
from filiation.lineage.index import LineageIndex, relation_mask
from filiation.lineage.query import TraversalQuery
from filiation.results import SearchHit, SearchPage, summary_fields
from filiation.service import walks

#: Hits counted for a page's total: beyond it, the total says "more than" (a frequent text
#: matches hundreds of thousands of Hub ids; counting them all would scan the whole index).
COUNT_BOUND = 10_000


def hit(index: LineageIndex, node: int) -> SearchHit:
    """A search result: an author with the models it publishes and their families, a data
    set with the models of its impact set."""
    fields = summary_fields(index, node)
    kind = index.kind_of(node)
    if kind is NodeKind.AUTHOR:
        published, _ = index.neighbours(node, down=True, relations=(Relation.PUBLISHED_BY,))
        models = published[index.a.kind[published] == KIND_CODES[NodeKind.MODEL]]
        roots, _ = root_members(index.a, models, relation_mask(LINEAGE_RELATIONS))
        fields.update(models=len(models), families=len(roots))
    elif kind is NodeKind.DATASET:
        reached = walks.impact(index, node, TraversalQuery())
        fields["models"] = len(reached)
    return SearchHit(**fields)


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
