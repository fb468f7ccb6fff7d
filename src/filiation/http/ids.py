"""An id typed in a path, resolved to the id as published: one rule for the API and the pages.

Ids longer than :data:`SUGGEST_MAX` get no near-id suggestions when unknown: the service's
suggestions search ever shorter prefixes of the id, a cost that grows with its length, and no
Hub id is that long (names have at most 96 characters).

Interim: the length limit comes from a source module (``sources.hub_stats``), which the
interfaces should not import; it moves behind :class:`Genealogy` (long-id resolution and
limits), and these lines then call it. Listed in ``tests/test_imports.py``.
"""

from __future__ import annotations

from filiation.domain import NodeKind
from filiation.errors import NodeNotFoundError
from filiation.service import Genealogy
from filiation.sources.hub_stats import MAX_ID_LENGTH

#: Longer unknown ids get no suggestions (see the module's docstring).
SUGGEST_MAX = 160

__all__ = ["MAX_ID_LENGTH", "SUGGEST_MAX", "check_id", "resolve_id"]


def resolve_id(g: Genealogy, node_id: str, kind: NodeKind | None = None) -> str:
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


def check_id(g: Genealogy, node_id: str, kind: NodeKind | None = None) -> None:
    """Refuse a long unknown id here; shorter ones go on to the service."""
    if len(node_id.strip()) > SUGGEST_MAX:
        resolve_id(g, node_id, kind)
