"""The JSON API's endpoints: each one is a call to :class:`filiation.Genealogy`.

Parameters are the CLI's: ``relation`` (repeat or comma-separate), ``max_depth``, ``limit``,
``rank_by`` (comma-separated ranking keys) and ``kind``. Ids are taken from the rest of the
path, so they may hold ``/``, dots and any character; the sub-resource routes
(``.../descendants``) are declared before the plain ones so that they match first.

Two kinds of routes, by how their work grows:

* **bounded** (a node's page, search, a page of children or parents): the index answers in a
  fraction of a millisecond, so they are ``async`` and answer on the event loop; handing them
  to the thread pool would cost more CPU than the answer (measured in benchmarks/README.md).
* **growing with a family** (exports, paths, families, and a traversal asked for more than
  :data:`INLINE_NODES` nodes or for all of them): they run in the thread pool, so that a walk
  through tens of thousands of models never holds up the bounded requests of other clients.
  A traversal with a small ``limit`` is bounded (a few milliseconds through the largest
  family) and answers on the loop: in the pool it would wait for the interpreter lock behind
  the loop's own requests, several times longer than its work.

Both return their JSON already encoded by orjson: the ``response_model`` declarations are for
the OpenAPI documentation, and validating our own pydantic results a second time would double
the cost of the small answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from filiation import __version__
from filiation.domain import LINEAGE_RELATIONS, NodeKind, Relation, parse_relations
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.limits import MAX_ID_LENGTH, MAX_QUERY_INT
from filiation.lineage.index import DEFAULT_RANKING, RANKING_KEYS
from filiation.results import Families, Lineage, NodeDetails, PathResult, SearchHit, Stats
from filiation.service import Genealogy

from .schemas import ErrorOut, Health, LineageOut, NeighbourPage, SnapshotOut

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown id (with near ids as suggestions)"},
    422: {"model": ErrorOut, "description": "Invalid parameter"},
}

router = APIRouter(prefix="/api", responses=ERRORS)


async def genealogy(request: Request) -> Genealogy:
    """The one :class:`Genealogy` of the app (see :func:`filiation.api.create_app`)."""
    return request.app.state.genealogy  # type: ignore[no-any-return]


G = Annotated[Genealogy, Depends(genealogy)]

RelationQ = Annotated[
    list[str] | None,
    Query(
        description="Relation types to follow (repeat or comma-separate): "
        + ", ".join(r.value for r in Relation)
        + ". Default: the model-to-model ones.",
    ),
]
NodeId = Annotated[
    str,
    PathParam(
        description="The id as published (author/name, or a legacy id without a slash), in "
        "any case; the slash needs no escaping.",
        examples=["meta-llama/Llama-3.1-8B-Instruct"],
    ),
]
MaxDepthQ = Annotated[
    int | None, Query(ge=0, le=MAX_QUERY_INT, description="Stop after this many generations.")
]
LimitQ = Annotated[
    int | None,
    Query(ge=0, le=MAX_QUERY_INT, description="Return at most this many nodes (best known first)."),
]
RankByQ = Annotated[
    list[str] | None,
    Query(
        description="Ranking keys, comma-separated or repeated, each descending: "
        + ", ".join(RANKING_KEYS)
        + "."
    ),
]
KindFilterQ = Annotated[
    list[str] | None,
    Query(
        description="Keep only these node kinds (repeat or comma-separate): model, dataset, "
        "author. The walk goes on through the others."
    ),
]
MinDownloadsQ = Annotated[
    int | None,
    Query(ge=0, le=MAX_QUERY_INT, description="Keep only nodes with at least this many downloads."),
]
SinceQ = Annotated[
    str | None,
    Query(description="Keep only nodes created on or after this date (2024-05-01 or ISO 8601)."),
]
UntilQ = Annotated[
    str | None, Query(description="Keep only nodes created on or before this date (inclusive).")
]


async def _filters(
    kind: KindFilterQ = None,
    min_downloads: MinDownloadsQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
) -> dict[str, Any]:
    """The node filters of a traversal route, as the service's keyword arguments (the
    service checks them); one dependency declares the four query parameters for every route."""
    return {"kinds": kind, "min_downloads": min_downloads, "since": since, "until": until}


FiltersQ = Annotated[dict[str, Any], Depends(_filters)]


OffsetQ = Annotated[
    int, Query(ge=0, le=MAX_QUERY_INT, description="How many items of the ranking to skip.")
]
PageLimitQ = Annotated[int, Query(ge=0, le=1000, description="Page size.")]


# -- helpers ----------------------------------------------------------------------------------
def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def _record(value: BaseModel) -> Response:
    """One of the service's results, as the JSON its ``response_model`` documents."""
    return _json(value.model_dump(mode="json"))


def _lineage(lin: Lineage) -> Response:
    """A traversal as its documented JSON; orjson keeps tens of thousands of nodes fast."""
    return _json(lin.to_dict())


#: A traversal limited to at most this many nodes answers on the event loop.
INLINE_NODES = 1000


async def _walk(limit: int | None, walk: Callable[[], Lineage]) -> Response:
    """The traversal ``walk`` as JSON: on the loop when ``limit`` bounds it, else in the
    thread pool (the request's pinned index goes with it: the pool copies the context)."""
    if limit is not None and limit <= INLINE_NODES:
        return _lineage(walk())
    return await run_in_threadpool(lambda: _lineage(walk()))


#: Ids longer than this get no near-id suggestions when unknown: the service's suggestions
#: search ever shorter prefixes of the id, a cost that grows with its length, and no Hub id
#: is that long (names have at most 96 characters).
SUGGEST_MAX = 160


def _resolve(g: Genealogy, node_id: str, kind: NodeKind | None = None) -> str:
    """``Genealogy.resolve``, but a long id is looked up by one search and, if unknown, gets
    no suggestions."""
    text = node_id.strip()
    if len(text) <= SUGGEST_MAX:
        return g.resolve(node_id, kind)
    if len(text) <= MAX_ID_LENGTH:  # no source keeps a longer id
        want = text.lower()
        for hit in g.search(text, limit=5, kinds=[kind] if kind else None):
            if hit.id.lower() == want:
                return hit.id
    raise NodeNotFoundError(text[:SUGGEST_MAX] + "…")


def _check_id(g: Genealogy, node_id: str, kind: NodeKind | None = None) -> None:
    """Refuse a long unknown id here; shorter ones go on to the service."""
    if len(node_id.strip()) > SUGGEST_MAX:
        _resolve(g, node_id, kind)


def _ranking(values: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    keys = [k.strip() for v in values or () for k in v.split(",") if k.strip()]
    unknown = [k for k in keys if k not in RANKING_KEYS]
    if unknown:
        raise InvalidArgumentError(
            f"unknown ranking key {unknown[0]!r}; use one of: {', '.join(RANKING_KEYS)}"
        )
    return keys or list(default)


def _kinds(values: Sequence[str] | None) -> list[NodeKind] | None:
    names = [k.strip().lower() for v in values or () for k in v.split(",") if k.strip()]
    out: list[NodeKind] = []
    for name in names:
        try:
            out.append(NodeKind(name))
        except ValueError:
            raise InvalidArgumentError(
                f"unknown kind {name!r}; use one of: {', '.join(k.value for k in NodeKind)}"
            ) from None
    return out or None


def _relations(values: Sequence[str] | None) -> list[Relation]:
    return list(parse_relations(list(values) if values else None) or LINEAGE_RELATIONS)


def _target(
    g: Genealogy, kind: NodeKind, node_id: str, sub: str, relation: Sequence[str] | None = None
) -> str | Response:
    """The published id of the ``kind`` node under a sub-resource route, e.g. the model of
    ``/api/models/{id}/descendants``.

    A node whose own id ends with ``/descendants`` (or another sub-resource name) would be
    unreachable through the plain route, so when ``{id}`` is unknown but ``{id}/{sub}`` is
    a node of that kind, its ``show`` is answered instead. Parameters are checked first, as
    the service does: a bad relation is a 422 even for an unknown id.
    """
    _relations(relation)
    try:
        return _resolve(g, node_id, kind)
    except NodeNotFoundError as exc:
        try:
            published = _resolve(g, f"{node_id}/{sub}", kind)
        except NodeNotFoundError:
            raise exc from None
        return _record(g.show(published, kind=kind))


def _page(
    node: str,
    items: list[Any],
    relations: list[Relation],
    ranking: list[str],
    offset: int,
    limit: int | None,
    total: int | None = None,
) -> Response:
    """A page from ``items``: the neighbours from ``offset`` on, plus one to tell if more exist."""
    return _record(
        NeighbourPage(
            id=node,
            relations=relations,
            ranking=ranking,
            offset=offset,
            limit=limit,
            total=total,
            has_more=limit is not None and len(items) > limit,
            items=items if limit is None else items[:limit],
        )
    )


# -- search, path, stats -----------------------------------------------------------------------
@router.get("/search", response_model=list[SearchHit], tags=["search"])
async def search(
    g: G,
    q: Annotated[
        str,
        Query(
            max_length=MAX_ID_LENGTH,
            description="Part of an id or author name (case-insensitive).",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    kind: Annotated[
        list[str] | None, Query(description="Only these kinds: model, dataset, author.")
    ] = None,
) -> Any:
    """Ids and authors containing `q`, best known first (an exact id first)."""
    return _json(
        [hit.model_dump(mode="json") for hit in g.search(q, limit=limit, kinds=_kinds(kind))]
    )


@router.get("/path", response_model=PathResult, tags=["lineage"])
def path(
    g: G,
    source: Annotated[str, Query(description="The supposed origin.")],
    target: Annotated[str, Query(description="The supposed derivative.")],
    relation: RelationQ = None,
) -> Any:
    """How `target` derives from `source`, if it does: a shortest chain of links."""
    _check_id(g, source)
    _check_id(g, target)
    return g.path(source, target, relations=relation)


@router.get("/stats", response_model=Stats, tags=["genealogy"])
def stats(g: G) -> Any:
    """What is loaded: nodes per kind, links per relation, snapshots, cycles."""
    return g.stats()


@router.get("/snapshots", response_model=list[SnapshotOut], tags=["genealogy"])
def snapshots(g: G) -> Any:
    """Every snapshot in the store, and which ones make up the current genealogy."""
    return g.snapshots()


@router.get("/health", response_model=Health, tags=["genealogy"])
async def health(g: G) -> Any:
    """Answers as soon as the server is up (the genealogy is loaded before it starts), with
    the snapshots this process answers from (each ``serve --workers`` process moves to a new
    snapshot on its own, within ``--refresh`` seconds) and the process's id."""
    covered = [int(s["id"]) for s in g.index.a.meta.get("snapshots", [])]
    return {"status": "ok", "version": __version__, "snapshots": covered, "worker": os.getpid()}


def _traversal_route(kind: NodeKind, sub: str) -> Any:
    """The ``/api/{models,datasets}/{id}/{sub}`` route answered by the traversal
    ``Genealogy.{sub}`` of a node of ``kind``: the same parameters for every traversal."""

    async def traversal(
        g: G,
        node_id: NodeId,
        flt: FiltersQ,
        relation: RelationQ = None,
        max_depth: MaxDepthQ = None,
        limit: LimitQ = None,
    ) -> Any:
        node = _target(g, kind, node_id, sub, relation)
        if isinstance(node, Response):
            return node
        method = getattr(g, sub)
        return await _walk(
            limit,
            lambda: method(node, relations=relation, max_depth=max_depth, limit=limit, **flt),
        )

    return traversal


# -- models: sub-resources first, then the plain route -----------------------------------------
for _sub, _doc in (
    ("ancestors", "Everything the model derives from, nearest first."),
    ("descendants", "Everything derived from the model, nearest first, best known first."),
    ("lineage", "Ancestors (negative depths) and descendants (positive depths) together."),
):
    router.add_api_route(
        f"/models/{{node_id:path}}/{_sub}",
        _traversal_route(NodeKind.MODEL, _sub),
        methods=["GET"],
        name=f"model_{_sub}",
        response_model=LineageOut,
        tags=["models"],
        description=_doc,
    )


def _export_route(node_kind: NodeKind) -> Any:
    """The ``/api/{models,datasets,authors}/{id}/export`` route of one node kind: the same
    parameters, each answered by :meth:`Genealogy.export` for a node of that kind."""

    def export(
        g: G,
        node_id: NodeId,
        flt: FiltersQ,
        format: Annotated[
            str, Query(description="Export format: an unknown one is answered with the list.")
        ] = "json",
        direction: Annotated[
            str,
            Query(
                description="ancestors, descendants or both (graph formats). A data set's "
                "descendants are its impact set; an author's, its models and what derives "
                "from them."
            ),
        ] = "both",
        relation: RelationQ = None,
        max_depth: MaxDepthQ = None,
        limit: LimitQ = None,
    ) -> Any:
        node = _target(g, node_kind, node_id, "export", relation)
        if isinstance(node, Response):
            return node
        result = g.export(
            node,
            format,
            kind=node_kind,
            direction=direction,
            relations=relation,
            max_depth=max_depth,
            limit=limit,
            **flt,
        )
        quoted = quote(result.filename)
        return Response(
            result.content,
            media_type=result.media_type,
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"},
        )

    return export


# Declared here, before the plain `/{plural}/{id}` routes, so that `.../export` matches first.
for _kind, _plural in (
    (NodeKind.MODEL, "models"),
    (NodeKind.DATASET, "datasets"),
    (NodeKind.AUTHOR, "authors"),
):
    router.add_api_route(
        f"/{_plural}/{{node_id:path}}/export",
        _export_route(_kind),
        methods=["GET"],
        name=f"{_kind.value}_export",
        tags=[_plural],
        summary=f"Export a {_kind.value.replace('dataset', 'data set')}'s lineage",
        description=f"The {_kind.value.replace('dataset', 'data set')}'s lineage as a file to "
        "download: the formats and parameters of `filiation export`.",
        responses={200: {"description": "The file, as an attachment", "content": {"*/*": {}}}},
    )


@router.get("/models/{node_id:path}/children", response_model=NeighbourPage, tags=["models"])
async def model_children(
    g: G,
    node_id: NodeId,
    relation: RelationQ = None,
    limit: PageLimitQ = 50,
    offset: OffsetQ = 0,
    rank_by: RankByQ = None,
) -> Any:
    """Direct children, one page at a time (default ranking: downloads)."""
    ranking = _ranking(rank_by, ("downloads",))
    node = _target(g, NodeKind.MODEL, node_id, "children", relation)
    if isinstance(node, Response):
        return node
    items = g.children(
        node,
        kind=NodeKind.MODEL,
        relations=relation,
        offset=offset,
        limit=limit + 1,
        ranking=ranking,
    )
    return _page(node, items, _relations(relation), ranking, offset, limit)


@router.get("/models/{node_id:path}/parents", response_model=NeighbourPage, tags=["models"])
async def model_parents(
    g: G,
    node_id: NodeId,
    relation: RelationQ = None,
    limit: Annotated[
        int | None, Query(ge=0, le=1000, description="Page size (default: all).")
    ] = None,
    offset: OffsetQ = 0,
    rank_by: RankByQ = None,
) -> Any:
    """Direct parents (a merge has several), ranked like children."""
    ranking = _ranking(rank_by, ("downloads",))
    node = _target(g, NodeKind.MODEL, node_id, "parents", relation)
    if isinstance(node, Response):
        return node
    want = None if limit is None else limit + 1
    items = g.parents(
        node, kind=NodeKind.MODEL, relations=relation, offset=offset, limit=want, ranking=ranking
    )
    return _page(node, items, _relations(relation), ranking, offset, limit)


def _show(
    g: Genealogy,
    kind: NodeKind,
    node_id: str,
    relation: list[str] | None,
    limit: int,
    rank_by: list[str] | None,
) -> Response:
    ranking = _ranking(rank_by, DEFAULT_RANKING)
    _relations(relation)
    _check_id(g, node_id, kind)
    return _record(g.show(node_id, relations=relation, limit=limit, ranking=ranking, kind=kind))


ShowLimitQ = Annotated[
    int, Query(ge=0, le=1000, description="How many important parents and children.")
]


@router.get("/models/{node_id:path}", response_model=NodeDetails, tags=["models"])
async def model(
    g: G,
    node_id: NodeId,
    relation: RelationQ = None,
    limit: ShowLimitQ = 10,
    rank_by: RankByQ = None,
) -> Any:
    """A model's indicators, direct family per relation, important parents and children
    (default ranking: descendants, downloads, likes)."""
    return _show(g, NodeKind.MODEL, node_id, relation, limit, rank_by)


# -- data sets ----------------------------------------------------------------------------------
router.add_api_route(
    "/datasets/{node_id:path}/impact",
    _traversal_route(NodeKind.DATASET, "impact"),
    methods=["GET"],
    name="dataset_impact",
    response_model=LineageOut,
    tags=["datasets"],
    description="Every model trained on the data set (depth 1) and everything derived from them.",
)


@router.get("/datasets/{node_id:path}", response_model=NodeDetails, tags=["datasets"])
async def dataset(
    g: G,
    node_id: NodeId,
    relation: RelationQ = None,
    limit: ShowLimitQ = 10,
    rank_by: RankByQ = None,
) -> Any:
    """A data set: who publishes it, how many models were trained on it."""
    return _show(g, NodeKind.DATASET, node_id, relation, limit, rank_by)


# -- authors ------------------------------------------------------------------------------------
@router.get("/authors/{node_id:path}/models", response_model=NeighbourPage, tags=["authors"])
async def author_models(
    g: G,
    node_id: NodeId,
    limit: PageLimitQ = 50,
    offset: OffsetQ = 0,
    rank_by: RankByQ = None,
) -> Any:
    """What the author published (models, and data sets when a source names them), one page
    at a time (default ranking: downloads); `total` counts them all."""
    ranking = _ranking(rank_by, ("downloads",))
    node = _target(g, NodeKind.AUTHOR, node_id, "models")
    if isinstance(node, Response):
        return node
    published = [Relation.PUBLISHED_BY]
    items = g.children(
        node,
        kind=NodeKind.AUTHOR,
        relations=published,
        offset=offset,
        limit=limit + 1,
        ranking=ranking,
    )
    counts = g.show(node, kind=NodeKind.AUTHOR, limit=0).children_by_relation
    total = counts.get(Relation.PUBLISHED_BY.value, 0)
    return _page(node, items, published, ranking, offset, limit, total)


@router.get("/authors/{node_id:path}/families", response_model=Families, tags=["authors"])
def author_families(
    g: G,
    node_id: NodeId,
    limit: Annotated[int, Query(ge=0, le=1000, description="How many families.")] = 20,
) -> Any:
    """The families the author's models sit in: their root ancestors, with how many of the
    author's models descend from each, most first."""
    node = _target(g, NodeKind.AUTHOR, node_id, "families")
    if isinstance(node, Response):
        return node
    return g.families(node, limit=limit)


@router.get("/authors/{node_id:path}/descendants", response_model=LineageOut, tags=["authors"])
async def author_descendants(
    g: G,
    node_id: NodeId,
    flt: FiltersQ,
    relation: Annotated[
        list[str] | None,
        Query(
            description="Relations to follow (repeat or comma-separate). Default: published_by "
            "(the author's models, depth 1) and the model-to-model ones (what derives from them)."
        ),
    ] = None,
    max_depth: MaxDepthQ = None,
    limit: LimitQ = None,
) -> Any:
    """What the author published and everything derived from it, nearest first."""
    node = _target(g, NodeKind.AUTHOR, node_id, "descendants", relation)
    if isinstance(node, Response):
        return node
    return await _walk(
        limit,
        lambda: g.descendants(
            node, kind=NodeKind.AUTHOR, relations=relation, max_depth=max_depth, limit=limit, **flt
        ),
    )


@router.get("/authors/{node_id:path}", response_model=NodeDetails, tags=["authors"])
async def author(
    g: G,
    node_id: NodeId,
    relation: RelationQ = None,
    limit: ShowLimitQ = 10,
    rank_by: RankByQ = None,
) -> Any:
    """An author: how many models and data sets it published (`children_by_relation`);
    `relation=published_by` lists the most important ones, `/models` pages through all."""
    return _show(g, NodeKind.AUTHOR, node_id, relation, limit, rank_by)
