"""Single nodes and their neighbours: search, a model's, data set's or author's page (its
indicators and important family), a page of a model's children or parents, an author's
models and families.

These are bounded (the index answers in a fraction of a millisecond), so most are ``async``
and answer on the event loop. The sub-resource routes (``.../children``) are declared before
the plain ones so that they match first; :mod:`filiation.api.lineage` and
:mod:`filiation.api.exports` are included before this module for the same reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from filiation.domain import NodeKind, Relation
from filiation.http.context import GenealogyDep
from filiation.http.ids import MAX_ID_LENGTH, check_id
from filiation.results import Families, NodeDetails, SearchHit, SearchPage
from filiation.service import Genealogy

from .params import (
    PAGE_RANKING,
    SHOW_RANKING,
    NodeId,
    OffsetQ,
    PageLimitQ,
    RankByQ,
    RelationQ,
    ShowLimitQ,
    kinds,
    ranking,
    relations,
)
from .responses import ERRORS, json_response, neighbour_page, record, target
from .schemas import NeighbourPage

router = APIRouter(prefix="/api", responses=ERRORS)


SearchTextQ = Annotated[
    str,
    Query(max_length=MAX_ID_LENGTH, description="Part of an id or author name (case-insensitive)."),
]
SearchKindsQ = Annotated[
    list[str] | None, Query(description="Only these kinds: model, dataset, author.")
]


@router.get("/search", response_model=list[SearchHit], tags=["search"])
async def search(
    g: GenealogyDep,
    q: SearchTextQ,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    kind: SearchKindsQ = None,
) -> Response:
    """Ids and authors containing `q`, best known first (an exact id first)."""
    hits = g.search(q, limit=limit, kinds=kinds(kind))
    return json_response([hit.model_dump(mode="json") for hit in hits])


@router.get("/search/page", response_model=SearchPage, tags=["search"])
async def search_page(
    g: GenealogyDep,
    q: SearchTextQ,
    offset: Annotated[int, Query(ge=0, le=100_000, description="Results to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    kind: SearchKindsQ = None,
) -> Response:
    """A page of `/api/search`'s results with their `total` (counted up to `counted_up_to`;
    `total_exact` false beyond) and the `next_offset` of the next page, if any."""
    page = g.search_page(q, offset=offset, limit=limit, kinds=kinds(kind))
    return json_response(page.model_dump(mode="json"))


def _show_route(kind: NodeKind, plural: str, name: str, doc: str) -> None:
    """Declare ``GET /api/{plural}/{id}``: a node's details, the same route for the three
    kinds but for its path, its tag, its name (the operation id) and its description. Each is
    declared after the kind's sub-resource routes so that those match first."""

    async def show(
        g: GenealogyDep,
        node_id: NodeId,
        relation: RelationQ = None,
        limit: ShowLimitQ = 10,
        rank_by: RankByQ = None,
    ) -> Response:
        keys = ranking(rank_by, SHOW_RANKING)
        relations(relation)
        check_id(g, node_id, kind)
        return record(g.show(node_id, relations=relation, limit=limit, ranking=keys, kind=kind))

    show.__name__ = show.__qualname__ = name
    show.__doc__ = doc
    router.get(f"/{plural}/{{node_id:path}}", response_model=NodeDetails, tags=[plural])(show)


def _model_page(
    g: Genealogy,
    node_id: str,
    sub: Literal["children", "parents"],
    relation: list[str] | None,
    limit: int | None,
    offset: int,
    rank_by: list[str] | None,
) -> Response:
    """A page of a model's children or parents: one more is asked for, to tell if more exist."""
    keys = ranking(rank_by, PAGE_RANKING)
    node = target(g, NodeKind.MODEL, node_id, sub, relation)
    if isinstance(node, Response):
        return node
    question = g.children if sub == "children" else g.parents
    want = None if limit is None else limit + 1
    items = question(
        node, kind=NodeKind.MODEL, relations=relation, offset=offset, limit=want, ranking=keys
    )
    return neighbour_page(node, items, relations(relation), keys, offset, limit)


# -- models: sub-resources first, then the plain route -----------------------------------------
@router.get("/models/{node_id:path}/children", response_model=NeighbourPage, tags=["models"])
async def model_children(
    g: GenealogyDep,
    node_id: NodeId,
    relation: RelationQ = None,
    limit: PageLimitQ = 50,
    offset: OffsetQ = 0,
    rank_by: RankByQ = None,
) -> Response:
    """Direct children, one page at a time (default ranking: downloads)."""
    return _model_page(g, node_id, "children", relation, limit, offset, rank_by)


@router.get("/models/{node_id:path}/parents", response_model=NeighbourPage, tags=["models"])
async def model_parents(
    g: GenealogyDep,
    node_id: NodeId,
    relation: RelationQ = None,
    limit: Annotated[
        int | None, Query(ge=0, le=1000, description="Page size (default: all).")
    ] = None,
    offset: OffsetQ = 0,
    rank_by: RankByQ = None,
) -> Response:
    """Direct parents (a merge has several), ranked like children."""
    return _model_page(g, node_id, "parents", relation, limit, offset, rank_by)


_show_route(
    NodeKind.MODEL,
    "models",
    "model",
    """A model's indicators, direct family per relation, important parents and children
    (default ranking: descendants, downloads, likes).""",
)


# -- data sets ----------------------------------------------------------------------------------
_show_route(
    NodeKind.DATASET,
    "datasets",
    "dataset",
    "A data set: who publishes it, how many models were trained on it.",
)


# -- authors ------------------------------------------------------------------------------------
@router.get("/authors/{node_id:path}/models", response_model=NeighbourPage, tags=["authors"])
async def author_models(
    g: GenealogyDep,
    node_id: NodeId,
    limit: PageLimitQ = 50,
    offset: OffsetQ = 0,
    rank_by: RankByQ = None,
) -> Response:
    """What the author published (models, and data sets when a source names them), one page
    at a time (default ranking: downloads); `total` counts them all."""
    keys = ranking(rank_by, PAGE_RANKING)
    node = target(g, NodeKind.AUTHOR, node_id, "models")
    if isinstance(node, Response):
        return node
    published = [Relation.PUBLISHED_BY]
    items = g.children(
        node,
        kind=NodeKind.AUTHOR,
        relations=published,
        offset=offset,
        limit=limit + 1,
        ranking=keys,
    )
    counts = g.show(node, kind=NodeKind.AUTHOR, limit=0).children_by_relation
    total = counts.get(Relation.PUBLISHED_BY.value, 0)
    return neighbour_page(node, items, published, keys, offset, limit, total)


@router.get("/authors/{node_id:path}/families", response_model=Families, tags=["authors"])
def author_families(
    g: GenealogyDep,
    node_id: NodeId,
    limit: Annotated[int, Query(ge=0, le=1000, description="How many families.")] = 20,
) -> Families | Response:
    """The families the author's models sit in: their root ancestors, with how many of the
    author's models descend from each, most first."""
    node = target(g, NodeKind.AUTHOR, node_id, "families")
    if isinstance(node, Response):
        return node
    return g.families(node, limit=limit)


_show_route(
    NodeKind.AUTHOR,
    "authors",
    "author",
    """An author: how many models and data sets it published (`children_by_relation`);
    `relation=published_by` lists the most important ones, `/models` pages through all.""",
)
