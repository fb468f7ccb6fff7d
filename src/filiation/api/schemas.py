"""Response shapes of the JSON API that ``filiation.results`` does not already define.

Show, search, path and stats answer with the service's own pydantic models
(:class:`~filiation.results.NodeDetails`...). Traversals are serialised straight from
:meth:`~filiation.results.Lineage.to_dict` with orjson; the models below only describe that
JSON for OpenAPI (docs/json.md is the reference) and are never built per request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from filiation.domain import Relation
from filiation.results import LineageNode, Neighbour


class LineageEdge(BaseModel):
    parent: str
    child: str
    relation: Relation
    declared: bool
    source: str = Field(description="the snapshot holding the link, or 'derived'")
    suspected: bool = Field(False, description="a suspected link (followed only when asked)")
    confidence: float | None = Field(None, description="a suspected link's confidence")
    evidence: dict[str, Any] | str | None = Field(
        None, description="a suspected link's signals, as `filiation infer --json` gives them"
    )


class LineageOut(BaseModel):
    """A traversal: ``Lineage.to_dict()`` (docs/json.md)."""

    root: str
    direction: str = Field(description="ancestors, descendants, both or impact")
    relations: list[Relation]
    nodes: list[LineageNode] = Field(
        description="the root first (depth 0), then nearest generation first, best known first"
    )
    edges: list[LineageEdge] = Field(description="every link followed between nodes of the answer")
    truncated: bool = Field(description="`limit` cut the answer")
    depth_limited: bool = Field(description="more generations exist beyond `max_depth`")
    filters: dict[str, Any] | None = Field(
        None,
        description="the node filters applied (kinds, min_downloads, since, until), when any: "
        "nodes that fail them are left out with their links, the walk goes on through them",
    )


class NeighbourPage(BaseModel):
    """One page of a node's direct children (or parents), in ranking order."""

    id: str = Field(description="the node, as published")
    relations: list[Relation] = Field(description="the relations followed")
    ranking: list[str] = Field(description="the ranking keys, in order")
    offset: int
    limit: int | None
    total: int | None = Field(
        None, description="how many there are in all, when known without listing them"
    )
    has_more: bool = Field(description="more items follow this page")
    items: list[Neighbour]


class SnapshotOut(BaseModel):
    """One snapshot of the store (``Genealogy.snapshots``): an ingest of one source."""

    id: int = Field(description="the snapshot's number, in the order ingests began")
    source: str = Field(
        description="what it was read from: hub-stats, edges:<name>, hub-api:<id>, "
        "inferred:metadata..."
    )
    label: str = Field(description="the source's own name for it (a file, a dump's date)")
    taken_at: datetime | None = Field(description="when the source's data was taken, if known")
    finished_at: datetime | None = Field(description="when its ingest committed")
    status: str = Field(description="complete, or the state of an ingest that did not finish")
    current: bool = Field(description="part of the genealogy being served")
    report: dict[str, Any] = Field(description="the ingest report")


class ErrorOut(BaseModel):
    error: str = Field(description="not_found, invalid_argument, method_not_allowed, ...")
    message: str
    suggestions: list[str] | None = Field(None, description="near ids, for an unknown id")
