"""The traversals behind the lineage questions, as functions of an index, a starting node and
a :class:`~filiation.lineage.query.TraversalQuery`: what ``Genealogy.ancestors``,
``descendants``, ``lineage`` and ``impact`` answer once the id is resolved.

Each returns a finished :class:`~filiation.results.Lineage` (array-backed); node filters are
applied to the whole walk, then the limit cuts it (:mod:`filiation.lineage.filters`).
"""

from __future__ import annotations

import numpy as np

from filiation.domain import LINEAGE_RELATIONS, NodeKind, Relation
from filiation.lineage.filters import NodeFilter
from filiation.lineage.index import LineageIndex, suspected_confidence
from filiation.lineage.query import TraversalQuery
from filiation.lineage.traverse import Walk
from filiation.results import Lineage


def relations_from(
    index: LineageIndex, node: int, rels: tuple[Relation, ...] | None
) -> tuple[Relation, ...] | None:
    """The relations a walk from ``node`` follows: those asked for, else the lineage ones;
    from an author, also ``published_by`` first (what it published, then what derives
    from it), as it has no other link to follow."""
    if rels is None and index.kind_of(node) is NodeKind.AUTHOR:
        return (Relation.PUBLISHED_BY, *LINEAGE_RELATIONS)
    return rels


def _filtered_walk(
    index: LineageIndex, node: int, down: bool, rels: tuple[Relation, ...] | None, q: TraversalQuery
) -> Walk:
    """A walk from ``node``; with a filter, the whole walk is filtered, then cut."""
    conf = suspected_confidence(q)
    if not q.filter.active:
        return index.walk(
            [node],
            down=down,
            relations=rels,
            max_depth=q.max_depth,
            limit=q.limit,
            min_confidence=conf,
        )
    walk = index.walk([node], down=down, relations=rels, max_depth=q.max_depth, min_confidence=conf)
    return q.filter.apply(index.a, walk, q.limit)


def one_way(index: LineageIndex, node: int, down: bool, q: TraversalQuery) -> Lineage:
    """Ancestors (``down`` false) or descendants of ``node``."""
    rels = relations_from(index, node, q.relations)
    walk = _filtered_walk(index, node, down, rels, q)
    lin = Lineage.from_walk(
        index,
        index.a.id_of(node),
        "descendants" if down else "ancestors",
        list(rels or LINEAGE_RELATIONS),
        walk,
    )
    lin.filters = q.filter.describe()
    return lin


def both_ways(index: LineageIndex, node: int, q: TraversalQuery) -> Lineage:
    """Ancestors (negative depths) and descendants (positive depths); ``limit`` bounds each."""
    rels = relations_from(index, node, q.relations)
    up = _filtered_walk(index, node, False, rels, q)
    down = _filtered_walk(index, node, True, rels, q)
    lin = Lineage(
        index,
        root=index.a.id_of(node),
        direction="both",
        relations=list(rels or LINEAGE_RELATIONS),
        roots=up.roots,
        nodes=np.concatenate([up.nodes, down.nodes]),
        depth=np.concatenate([-up.depth, down.depth]),
        via=np.concatenate([up.via, down.via]),
        edges=np.concatenate([up.edges, down.edges]),
        truncated=up.truncated or down.truncated,
        depth_cut=up.depth_cut or down.depth_cut,
    )
    lin.filters = q.filter.describe()
    return lin


def impact(index: LineageIndex, dataset: int, q: TraversalQuery) -> Lineage:
    """The models trained on ``dataset`` and everything derived from them."""
    if q.filter.active:
        whole = _impact(index, dataset, q.with_(filter=NodeFilter(), limit=None))
        walk = q.filter.apply(index.a, whole.as_walk(), q.limit)
        lin = Lineage.from_walk(index, whole.root, "impact", whole.relations, walk)
        lin.filters = q.filter.describe()
        return lin
    return _impact(index, dataset, q)


def _impact(index: LineageIndex, node: int, q: TraversalQuery) -> Lineage:
    """The impact set, unfiltered: the models trained on the data set, then their walk."""
    rels, max_depth, limit = q.relations, q.max_depth, q.limit
    trained, trained_edges = index.neighbours(node, down=True, relations=(Relation.TRAINED_ON,))
    roots = trained.astype(np.int64)
    if limit is not None and len(roots) > limit:
        roots = roots[:limit]
        trained_edges = trained_edges[:limit]
    if max_depth == 0 or len(roots) == 0:
        below = index.walk([], down=True, relations=rels, max_depth=0)
    else:
        rest = None if limit is None else limit - len(roots)
        below = index.walk(
            roots.tolist(),
            down=True,
            relations=rels,
            max_depth=max_depth,
            limit=rest,
            start_depth=1,
        )
    # The trained models themselves are found at depth 1, through their trained_on link.
    first_nodes = roots if max_depth != 0 else roots[:0]
    first_edges = trained_edges if max_depth != 0 else trained_edges[:0]
    truncated = below.truncated or (limit is not None and len(trained) > len(roots))
    return Lineage(
        index,
        root=index.a.id_of(node),
        direction="impact",
        relations=[
            Relation.TRAINED_ON,
            *(r for r in rels or LINEAGE_RELATIONS if r is not Relation.TRAINED_ON),
        ],
        roots=np.asarray([node], np.int64),
        nodes=np.concatenate([first_nodes, below.nodes]).astype(np.int64),
        depth=np.concatenate([np.ones(len(first_nodes), np.int32), below.depth]),
        via=np.concatenate([first_edges, below.via]).astype(np.int64),
        edges=np.concatenate([first_edges, below.edges]).astype(np.int64),
        truncated=truncated,
        depth_cut=below.depth_cut or (max_depth == 0 and len(trained) > 0),
    )
