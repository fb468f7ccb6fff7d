"""The lineage as filiation's documented JSON (docs/json.md), as ``--json`` prints it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from filiation.domain import NodeKind
from filiation.exports import ExportFormat, ExportScope, register
from filiation.lineage.filters import EPOCH

if TYPE_CHECKING:
    from filiation.results import Lineage
    from filiation.service import Genealogy


def traverse(g: Genealogy, node_id: str, scope: ExportScope) -> Lineage:
    """The traversal a graph export writes: the scope's direction, relations and bounds; from
    a data set, its impact (as its page's graph), unless only its ancestors are asked for."""
    f = scope.filter
    kwargs: dict[str, Any] = {
        "relations": scope.relations,
        "max_depth": scope.max_depth,
        "limit": scope.limit,
        "kinds": f.kinds,
        "min_downloads": f.min_downloads,
    }
    # The filter holds parsed bounds (microseconds); give them back as UTC date-times.
    for name, value in (("since", f.since), ("until", f.until)):
        if value is not None:
            kwargs[name] = EPOCH + timedelta(microseconds=value)
    if scope.kind is NodeKind.DATASET and scope.direction != "ancestors":
        return g.impact(node_id, **kwargs)  # a data set's lineage: the models trained on it...
    kwargs["kind"] = scope.kind
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
