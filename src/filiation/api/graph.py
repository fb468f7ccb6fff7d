"""The graph view's routes: what the explorer draws (a planned, grouped drawing of a family,
:mod:`filiation.lineage.view`) and the pages of a group's members.

``/api/graph/{models,datasets,authors}/{id}`` answers :meth:`Genealogy.graph`;
``/api/graph-group`` answers :meth:`Genealogy.group`. Both are bounded by the drawing's size,
except the family overview (one walk through the whole family, milliseconds at Hub scale),
so they run in the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from filiation.domain import NodeKind
from filiation.errors import InvalidArgumentError
from filiation.http.context import GenealogyDep as G

from .params import FiltersQ, MinConfidenceQ, NodeId, RelationQ, SuspectedQ
from .responses import ERRORS

router = APIRouter(prefix="/api", responses=ERRORS, tags=["graph"])

#: How many generations each way unless told (``all``: the whole family).
DEFAULT_DEPTH = 2


def _depth(value: str | None) -> int | None:
    if value is None or value == "":
        return DEFAULT_DEPTH
    if value == "all":
        return None
    try:
        depth = int(value)
    except ValueError:
        raise InvalidArgumentError(f"max_depth must be a number or 'all', not {value!r}") from None
    if depth < 0:
        raise InvalidArgumentError(f"max_depth must be 0 or more, not {depth}")
    return depth


def _opened(values: list[str] | None) -> dict[str, int]:
    """``open=<group key>@<offset>`` (repeatable): the groups shown as a page of members."""
    out: dict[str, int] = {}
    for raw in values or []:
        key, _, offset = raw.rpartition("@")
        if not key:
            key, offset = raw, "0"
        if not offset.isdigit():
            raise InvalidArgumentError(f"open must be <group>@<offset>, not {raw!r}")
        out[key.removeprefix("group:")] = int(offset)
    return out


def _graph_route(kind: NodeKind) -> Callable[..., Awaitable[Response]]:
    async def graph(
        g: G,
        node_id: NodeId,
        flt: FiltersQ,
        relation: RelationQ = None,
        max_depth: Annotated[
            str | None, Query(description="Generations each way: a number, or 'all'.")
        ] = None,
        width: Annotated[int, Query(ge=1, le=200, description="Items per generation.")] = 7,
        budget: Annotated[int, Query(ge=1, le=2000, description="Items in all.")] = 40,
        open: Annotated[
            list[str] | None,
            Query(description="Groups to open: <group id>@<offset of the members' page>."),
        ] = None,
        include_suspected: SuspectedQ = False,
        min_confidence: MinConfidenceQ = None,
    ) -> Response:
        depth, opened = _depth(max_depth), _opened(open)

        def work() -> Response:
            view = g.graph(
                node_id,
                kind=kind,
                relations=relation,
                max_depth=depth,
                width=width,
                budget=budget,
                opened=opened,
                include_suspected=include_suspected,
                min_confidence=min_confidence,
                **flt,
            )
            return Response(orjson.dumps(view.as_dict()), media_type="application/json")

        return await run_in_threadpool(work)

    return graph


for _kind in NodeKind:  # /graph/models/…, /graph/datasets/…, /graph/authors/…
    router.add_api_route(
        f"/graph/{_kind.value}s/{{node_id:path}}",
        _graph_route(_kind),
        methods=["GET"],
        name=f"{_kind.value}_graph",
        summary=f"The drawing of a {_kind.value.replace('dataset', 'data set')}'s family",
        description="At most `width` items a generation and `budget` in all; the other "
        "members of a generation are group nodes (`members`: how many they stand for). "
        "With `include_suspected=true`, the drawn items' suspected links are added apart, "
        "each with its confidence and evidence.",
    )


@router.get("/graph-group")
async def graph_group(
    g: G,
    key: Annotated[str, Query(description="A group node's id (group:<d|u>|<relation>|<id>).")],
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """A page of a group's members, best known first, with their number."""
    items, total = g.group(key.removeprefix("group:"), offset=offset, limit=limit)
    body = {"total": total, "offset": offset, "items": [i.model_dump(mode="json") for i in items]}
    return Response(orjson.dumps(body), media_type="application/json")
