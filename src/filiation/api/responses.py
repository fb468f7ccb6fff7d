"""How the JSON API answers: JSON already encoded by orjson, traversals on the event loop or in
the thread pool by their size, pages of neighbours, and the sub-resource rule.

Both kinds of routes return their JSON already encoded: the ``response_model`` declarations
are for the OpenAPI documentation, and validating our own pydantic results a second time
would double the cost of the small answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from filiation.domain import NodeKind, Relation
from filiation.errors import NodeNotFoundError
from filiation.http.ids import resolve_id
from filiation.results import Lineage
from filiation.service import Genealogy

from .params import relations
from .schemas import ErrorOut, NeighbourPage

#: The error answers every route of the public genealogy documents.
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown id (with near ids as suggestions)"},
    422: {"model": ErrorOut, "description": "Invalid parameter"},
}

#: A traversal limited to at most this many nodes answers on the event loop.
INLINE_NODES = 1000


def json_response(value: Any) -> Response:
    """``value`` as JSON, encoded by orjson."""
    return Response(orjson.dumps(value), media_type="application/json")


def record(value: BaseModel) -> Response:
    """One of the service's results, as the JSON its ``response_model`` documents."""
    return json_response(value.model_dump(mode="json"))


def lineage_response(lin: Lineage) -> Response:
    """A traversal as its documented JSON; orjson keeps tens of thousands of nodes fast."""
    return json_response(lin.to_dict())


async def walk(limit: int | None, question: Callable[[], Lineage]) -> Response:
    """The traversal ``question`` as JSON: on the loop when ``limit`` bounds it, else in the
    thread pool (the request's pinned index goes with it: the pool copies the context)."""
    if limit is not None and limit <= INLINE_NODES:
        return lineage_response(question())
    return await run_in_threadpool(lambda: lineage_response(question()))


def target(
    g: Genealogy, kind: NodeKind, node_id: str, sub: str, relation: Sequence[str] | None = None
) -> str | Response:
    """The published id of the ``kind`` node under a sub-resource route, e.g. the model of
    ``/api/models/{id}/descendants``.

    A node whose own id ends with ``/descendants`` (or another sub-resource name) would be
    unreachable through the plain route, so when ``{id}`` is unknown but ``{id}/{sub}`` is
    a node of that kind, its ``show`` is answered instead. Parameters are checked first, as
    the service does: a bad relation is a 422 even for an unknown id.
    """
    relations(relation)
    try:
        return resolve_id(g, node_id, kind)
    except NodeNotFoundError as exc:
        try:
            published = resolve_id(g, f"{node_id}/{sub}", kind)
        except NodeNotFoundError:
            raise exc from None
        return record(g.show(published, kind=kind))


def neighbour_page(
    node: str,
    items: list[Any],
    rels: list[Relation],
    ranking: list[str],
    offset: int,
    limit: int | None,
    total: int | None = None,
) -> Response:
    """A page from ``items``: the neighbours from ``offset`` on, plus one to tell if more exist."""
    return record(
        NeighbourPage(
            id=node,
            relations=rels,
            ranking=ranking,
            offset=offset,
            limit=limit,
            total=total,
            has_more=limit is not None and len(items) > limit,
            items=items if limit is None else items[:limit],
        )
    )
