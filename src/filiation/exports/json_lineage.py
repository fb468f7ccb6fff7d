"""The lineage as filiation's documented JSON (docs/json.md), as ``--json`` prints it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from filiation.exports import ExportFormat, ExportScope, register

if TYPE_CHECKING:
    from filiation.results import Lineage
    from filiation.service import Genealogy


def traverse(g: Genealogy, node_id: str, scope: ExportScope) -> Lineage:
    """The traversal a graph export writes: the scope's direction, relations and bounds."""
    kwargs = {"relations": scope.relations, "max_depth": scope.max_depth, "limit": scope.limit}
    if scope.direction == "ancestors":
        return g.ancestors(node_id, **kwargs)
    if scope.direction == "descendants":
        return g.descendants(node_id, **kwargs)
    return g.lineage(node_id, **kwargs)


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
