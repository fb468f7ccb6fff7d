"""An id typed in a path, resolved to the id as published: one rule for the API and the pages.

The rule itself is the service's (``Genealogy.resolve``: a long id gets no near-id
suggestions, one longer than any source keeps is not looked up); this module only lets a route
refuse a long unknown id before it does any other work.
"""

from __future__ import annotations

from filiation.domain import NodeKind
from filiation.service import MAX_ID_LENGTH, Genealogy

__all__ = ["MAX_ID_LENGTH", "check_id", "resolve_id"]


def resolve_id(g: Genealogy, node_id: str, kind: NodeKind | None = None) -> str:
    """The id as published (``Genealogy.resolve``)."""
    return g.resolve(node_id, kind)


def check_id(g: Genealogy, node_id: str, kind: NodeKind | None = None) -> None:
    """Refuse a long unknown id here, before a route's own work; shorter ones go on to the
    service, whose error then carries suggestions."""
    if len(node_id.strip()) > g.limits.suggest_max:
        g.resolve(node_id, kind)
