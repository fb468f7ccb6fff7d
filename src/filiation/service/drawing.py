"""The graph view's questions (:mod:`filiation.lineage.view`): a family planned to be drawn at
any size, and pages of a group node's members; what ``Genealogy.graph`` and ``group`` answer
once the id is resolved.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from filiation.domain import LINEAGE_RELATIONS, NodeKind, Relation, normalise_relation
from filiation.errors import InvalidArgumentError
from filiation.lineage import view as graph_view
from filiation.lineage.index import LineageIndex, suspected_confidence
from filiation.lineage.query import TraversalQuery
from filiation.results import NodeSummary, summary_fields
from filiation.service.evidence import suspect_evidence
from filiation.service.walks import relations_from
from filiation.store.store import Store


def plan(
    index: LineageIndex,
    node: int,
    q: TraversalQuery,
    *,
    width: int,
    budget: int,
    opened: dict[str, int] | None,
    store: Store | None = None,
) -> graph_view.GraphView:
    """At most ``width`` items a generation and ``budget`` in all, the rest in group nodes; a
    data set's drawing starts with the models trained on it. Suspected links, when the query
    asks for them, come with their signals, read from ``store``."""
    if not 1 <= width <= budget:
        raise InvalidArgumentError(f"width must be between 1 and the budget, not {width}")
    rels = relations_from(index, node, q.relations)
    if rels is None and index.kind_of(node) is NodeKind.DATASET:
        rels = (Relation.TRAINED_ON, *LINEAGE_RELATIONS)
    view = graph_view.plan(
        index,
        node,
        relations=rels or LINEAGE_RELATIONS,
        max_depth=q.max_depth,
        width=width,
        budget=budget,
        opened=opened,
        flt=q.filter,
        min_confidence=suspected_confidence(q),
    )
    if store is None:
        return view
    return with_evidence(view, functools.partial(suspect_evidence, store, index))


def with_evidence(
    view: graph_view.GraphView, reader: Callable[[list[int]], dict[int, Any]]
) -> graph_view.GraphView:
    """The drawing's suspected links with their signals (``reader``: link numbers to
    signals, :func:`filiation.service.evidence.suspect_evidence`); the link numbers, an
    index's internals, are not part of the answer."""
    links = [e.pop("link") for e in view.edges if "link" in e]
    if links:
        signals = reader(links)
        for e, link in zip((e for e in view.edges if e.get("suspected")), links, strict=True):
            e["evidence"] = signals.get(link)
    return view


def parse_group(key: str) -> tuple[bool, Relation, str]:
    """A group node's key (:func:`graph_view.group_key`: ``<d|u>|<relation>|<id>``) as its
    direction (down), relation and anchor id; a clear error for anything else."""
    direction, _, rest = key.removeprefix("group:").partition("|")
    rel_name, _, anchor_id = rest.partition("|")
    rel = normalise_relation(rel_name)
    if direction not in ("d", "u") or rel is None or not anchor_id:
        raise InvalidArgumentError(f"not a group of a drawing: {key!r}")
    return direction == "d", rel, anchor_id


def group_page(
    index: LineageIndex, anchor: int, rel: Relation, down: bool, *, offset: int, limit: int
) -> tuple[list[NodeSummary], int]:
    """A page of a group's members, best known first, and their number."""
    TraversalQuery(limit=limit)  # the bound checked as every question checks it
    nodes, total = graph_view.group_members(
        index, anchor, rel, down=down, offset=offset, limit=limit
    )
    return [NodeSummary(**summary_fields(index, n)) for n in nodes], total
