"""A node's lineage as a file to download: ``/api/{models,datasets,authors}/{id}/export``,
the formats and parameters of ``filiation export``.

Exports grow with the family they cover, so they run in the thread pool. Declared before the
plain ``/{plural}/{id}`` routes (:mod:`filiation.api.nodes`), so that ``.../export`` matches
first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from filiation.domain import NodeKind
from filiation.http.context import GenealogyDep

from .params import NodeId, Traversal
from .responses import ERRORS, target

router = APIRouter(prefix="/api", responses=ERRORS)

FormatQ = Annotated[
    str, Query(description="Export format: an unknown one is answered with the list.")
]
DirectionQ = Annotated[
    str,
    Query(
        description="ancestors, descendants or both (graph formats). A data set's "
        "descendants are its impact set; an author's, its models and what derives "
        "from them."
    ),
]


def _export_route(node_kind: NodeKind) -> Callable[..., Response]:
    """The export route of one node kind: the same parameters, each answered by
    :meth:`Genealogy.export` for a node of that kind."""

    def export(
        g: GenealogyDep,
        node_id: NodeId,
        query: Traversal,
        format: FormatQ = "json",
        direction: DirectionQ = "both",
    ) -> Response:
        node = target(g, node_kind, node_id, "export")
        if isinstance(node, Response):
            return node
        result = g.export(node, format, direction=direction, query=query.with_(kind=node_kind))
        quoted = quote(result.filename)
        return Response(
            result.content,
            media_type=result.media_type,
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"},
        )

    return export


for _kind, _plural in (
    (NodeKind.MODEL, "models"),
    (NodeKind.DATASET, "datasets"),
    (NodeKind.AUTHOR, "authors"),
):
    _name = _kind.value.replace("dataset", "data set")
    router.add_api_route(
        f"/{_plural}/{{node_id:path}}/export",
        _export_route(_kind),
        methods=["GET"],
        name=f"{_kind.value}_export",
        tags=[_plural],
        summary=f"Export a {_name}'s lineage",
        description=f"The {_name}'s lineage as a file to download: the formats and "
        "parameters of `filiation export`.",
        responses={200: {"description": "The file, as an attachment", "content": {"*/*": {}}}},
    )
