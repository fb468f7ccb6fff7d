"""What an export writes about a node (:meth:`Genealogy.export`): the traversal asked, or for
a format that describes a model (CycloneDX, SPDX, a model card), the model and its ancestry.
Kept apart so that the exports receive a finished answer and never call the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from filiation.domain import AUTHOR_TYPES, LINEAGE_RELATIONS, NodeKind
from filiation.exports import ExportFormat, ExportInput, not_a_model
from filiation.lineage.filters import NodeFilter
from filiation.lineage.query import TraversalQuery
from filiation.results import NodeRef

if TYPE_CHECKING:
    from filiation.results import Lineage
    from filiation.service.genealogy import Genealogy


def answer(
    g: Genealogy, fmt: ExportFormat, node: NodeRef, direction: str, q: TraversalQuery
) -> ExportInput:
    """The traversal asked, or the model and its ancestry (lineage relations only,
    unfiltered) for a format that describes a model."""
    if fmt.describes_model:
        if node.kind is not NodeKind.MODEL:
            raise not_a_model(node.id, node.kind)
        details = g.show(node.id, kind=node.kind)
        kept = tuple(r for r in (q.relations or LINEAGE_RELATIONS) if r in LINEAGE_RELATIONS)
        ancestry = q.with_(relations=kept or None, filter=NodeFilter())
        lineage = g.ancestors(node.id, query=ancestry)
        return ExportInput(lineage=lineage, model=details, author_types=_author_types(g, lineage))
    if node.kind is NodeKind.DATASET and direction != "ancestors":
        lin = g.impact(node.id, query=q)  # a data set's lineage: its models, and theirs
    elif direction == "ancestors":
        lin = g.ancestors(node.id, query=q)
    elif direction == "descendants":
        lin = g.descendants(node.id, query=q)
    else:
        lin = g.lineage(node.id, query=q)
    return ExportInput(lineage=lin)


def _author_types(g: Genealogy, lineage: Lineage) -> dict[str, str]:
    """The type (person, organisation) a source gave each author of a model's ancestry:
    one store read per distinct author, a few for an ancestry."""
    out: dict[str, str] = {}
    for name in sorted({n.author for n in lineage if n.author}):
        kind = g._extra(name, NodeKind.AUTHOR).get("author_type")
        if kind in AUTHOR_TYPES:
            out[name] = kind
    return out
