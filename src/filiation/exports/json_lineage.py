"""The lineage as filiation's documented JSON (docs/json.md), as ``--json`` prints it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from filiation.domain import NodeKind
from filiation.exports import ExportFormat, ExportScope, register

if TYPE_CHECKING:
    from filiation.results import Lineage
    from filiation.service import Genealogy


def traverse(g: Genealogy, node_id: str, scope: ExportScope) -> Lineage:
    """The traversal a graph export writes: the scope's direction and query; from a data set,
    its impact (as its page's graph), unless only its ancestors are asked for."""
    query = scope.query.with_(kind=scope.kind)
    if scope.kind is NodeKind.DATASET and scope.direction != "ancestors":
        return g.impact(node_id, query=query)  # a data set's lineage: the models trained on it...
    if scope.direction == "ancestors":
        return g.ancestors(node_id, query=query)
    if scope.direction == "descendants":
        return g.descendants(node_id, query=query)
    return g.lineage(node_id, query=query)


def render(g: Genealogy, node_id: str, scope: ExportScope) -> bytes:
    return traverse(g, node_id, scope).to_json(indent=True).encode()


register(
    ExportFormat(
        name="json",
        media_type="application/json",
        extension="json",
        description="the lineage as filiation JSON (nodes, links, depths; docs/json.md)",
        render=render,
    )
)
