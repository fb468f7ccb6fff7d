"""Walks through the genealogy: a model's ancestors, descendants and lineage, a data set's
impact, what derives from an author's models, and the path between two nodes.

A traversal grows with the family it walks: one asked for more than
:data:`~filiation.api.responses.INLINE_NODES` nodes, or for all of them, runs in the thread
pool, so that a walk through tens of thousands of models never holds up the bounded requests
of other clients; one with a small ``limit`` is bounded (a few milliseconds through the
largest family) and answers on the event loop, where it does not wait for the interpreter
lock behind the loop's own requests (the rule is written in :mod:`filiation.api`).

Declared before the plain ``/{plural}/{id}`` routes (:mod:`filiation.api.nodes`), so that
``.../descendants`` matches first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from filiation.domain import NodeKind
from filiation.http.context import GenealogyDep
from filiation.http.ids import check_id
from filiation.results import Lineage, PathResult
from filiation.service import Genealogy

from .params import NodeId, RelationQ, Traversal
from .responses import ERRORS, target, walk
from .schemas import LineageOut

router = APIRouter(prefix="/api", responses=ERRORS)


def _question(g: Genealogy, sub: str) -> Callable[..., Lineage]:
    """The service's traversal named like the route's last part (``descendants``...)."""
    return getattr(g, sub)  # type: ignore[no-any-return]


def _traversal_route(kind: NodeKind, sub: str) -> Callable[..., Awaitable[Response]]:
    """The ``/api/{plural}/{id}/{sub}`` route answered by the traversal ``Genealogy.{sub}``
    from a node of ``kind``: the same parameters for every traversal."""

    async def traversal(g: GenealogyDep, node_id: NodeId, query: Traversal) -> Response:
        node = target(g, kind, node_id, sub)
        if isinstance(node, Response):
            return node
        question, asked = _question(g, sub), query.with_(kind=kind)
        return await walk(query.limit, lambda: question(node, query=asked))

    return traversal


for _kind, _plural, _sub, _doc in (
    (NodeKind.MODEL, "models", "ancestors", "Everything the model derives from, nearest first."),
    (
        NodeKind.MODEL,
        "models",
        "descendants",
        "Everything derived from the model, nearest first, best known first.",
    ),
    (
        NodeKind.MODEL,
        "models",
        "lineage",
        "Ancestors (negative depths) and descendants (positive depths) together.",
    ),
    (
        NodeKind.DATASET,
        "datasets",
        "impact",
        "Every model trained on the data set (depth 1) and everything derived from them.",
    ),
    (
        NodeKind.AUTHOR,
        "authors",
        "descendants",
        "What the author published and everything derived from it, nearest first.",
    ),
):
    router.add_api_route(
        f"/{_plural}/{{node_id:path}}/{_sub}",
        _traversal_route(_kind, _sub),
        methods=["GET"],
        name=f"{_kind.value}_{_sub}",
        response_model=LineageOut,
        tags=[_plural],
        description=_doc,
    )


@router.get("/path", response_model=PathResult, tags=["lineage"])
def path(
    g: GenealogyDep,
    source: Annotated[str, Query(description="The supposed origin.")],
    target: Annotated[str, Query(description="The supposed derivative.")],
    relation: RelationQ = None,
) -> PathResult:
    """How `target` derives from `source`, if it does: a shortest chain of links."""
    check_id(g, source)
    check_id(g, target)
    return g.path(source, target, relations=relation)
