"""The JSON API's query and path parameters, declared once for every route, and the
traversal parameters as one dependency that builds the service's
:class:`~filiation.lineage.query.TraversalQuery`.

Parameters are the CLI's: ``relation`` (repeat or comma-separate), ``max_depth``, ``limit``,
``rank_by`` (comma-separated ranking keys), ``kind`` and the node filters. Ids are taken from
the rest of the path, so they may hold ``/``, dots and any character.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi import Path as PathParam

from filiation.domain import (
    DEFAULT_RANKING,
    LINEAGE_RELATIONS,
    RANKING_KEYS,
    NodeKind,
    Relation,
    listed,
    parse_kinds,
    parse_relations,
)
from filiation.errors import InvalidArgumentError
from filiation.limits import MAX_QUERY_INT
from filiation.lineage.query import TraversalQuery

#: The default ranking of a node's important parents and children (``show``).
SHOW_RANKING: tuple[str, ...] = tuple(DEFAULT_RANKING)
#: The default ranking of a page of neighbours.
PAGE_RANKING: tuple[str, ...] = ("downloads",)

NodeId = Annotated[
    str,
    PathParam(
        description="The id as published (author/name, or a legacy id without a slash), in "
        "any case; the slash needs no escaping.",
        examples=["meta-llama/Llama-3.1-8B-Instruct"],
    ),
]
RelationQ = Annotated[
    list[str] | None,
    Query(
        description="Relation types to follow (repeat or comma-separate): "
        + listed(Relation)
        + ". Default: the model-to-model ones.",
    ),
]
TraversalRelationQ = Annotated[
    list[str] | None,
    Query(
        description="Relation types to follow (repeat or comma-separate): "
        + listed(Relation)
        + ". Default: the model-to-model ones; from an author, published_by first (its "
        "models, depth 1), then the model-to-model ones (what derives from them).",
    ),
]
MaxDepthQ = Annotated[
    int | None, Query(ge=0, le=MAX_QUERY_INT, description="Stop after this many generations.")
]
LimitQ = Annotated[
    int | None,
    Query(ge=0, le=MAX_QUERY_INT, description="Return at most this many nodes (best known first)."),
]
RankByQ = Annotated[
    list[str] | None,
    Query(
        description="Ranking keys, comma-separated or repeated, each descending: "
        + ", ".join(RANKING_KEYS)
        + "."
    ),
]
KindFilterQ = Annotated[
    list[str] | None,
    Query(
        description=f"Keep only these node kinds (repeat or comma-separate): {listed(NodeKind)}. "
        "The walk goes on through the others."
    ),
]
MinDownloadsQ = Annotated[
    int | None,
    Query(ge=0, le=MAX_QUERY_INT, description="Keep only nodes with at least this many downloads."),
]
SinceQ = Annotated[
    str | None,
    Query(description="Keep only nodes created on or after this date (2024-05-01 or ISO 8601)."),
]
UntilQ = Annotated[
    str | None, Query(description="Keep only nodes created on or before this date (inclusive).")
]
SuspectedQ = Annotated[
    bool,
    Query(
        description="Also follow suspected links (inferred by filiation, not declared); they "
        'carry "suspected": true, their confidence and evidence.'
    ),
]
MinConfidenceQ = Annotated[
    float | None,
    Query(ge=0.0, le=1.0, description="The least confidence of a suspected link followed (0.5)."),
]
OffsetQ = Annotated[
    int, Query(ge=0, le=MAX_QUERY_INT, description="How many items of the ranking to skip.")
]
PageLimitQ = Annotated[int, Query(ge=0, le=1000, description="Page size.")]
ShowLimitQ = Annotated[
    int, Query(ge=0, le=1000, description="How many important parents and children.")
]


async def traversal_query(
    relation: TraversalRelationQ = None,
    max_depth: MaxDepthQ = None,
    limit: LimitQ = None,
    kind: KindFilterQ = None,
    min_downloads: MinDownloadsQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
    include_suspected: SuspectedQ = False,
    min_confidence: MinConfidenceQ = None,
) -> TraversalQuery:
    """The traversal parameters of a route, as the service's query: one dependency declares
    them for every traversal and export, and a bad one is a 422 naming it before the id is
    even looked up (as in the service and the CLI). The route adds the starting node's kind
    (``query.with_(kind=...)``) and hands the query to the service as ``query=``."""
    return TraversalQuery.from_options(
        relation=relation,
        max_depth=max_depth,
        limit=limit,
        kind=kind,
        min_downloads=min_downloads,
        since=since,
        until=until,
        include_suspected=include_suspected,
        min_confidence=min_confidence,
    )


#: A route's traversal parameters (see :func:`traversal_query`).
Traversal = Annotated[TraversalQuery, Depends(traversal_query)]


async def node_filters(
    kind: KindFilterQ = None,
    min_downloads: MinDownloadsQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
) -> dict[str, Any]:
    """The node filters alone, as the service's keyword arguments, for the routes whose depth
    is not a traversal's (the graph view takes ``all``); the service checks them."""
    return {"kinds": kind, "min_downloads": min_downloads, "since": since, "until": until}


FiltersQ = Annotated[dict[str, Any], Depends(node_filters)]


def ranking(values: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """Ranking keys from ``rank_by`` (comma-separated or repeated), else ``default``."""
    keys = [k.strip() for v in values or () for k in v.split(",") if k.strip()]
    unknown = [k for k in keys if k not in RANKING_KEYS]
    if unknown:
        raise InvalidArgumentError(
            f"unknown ranking key {unknown[0]!r}; use one of: {', '.join(RANKING_KEYS)}"
        )
    return keys or list(default)


def kinds(values: Sequence[str] | None) -> list[NodeKind] | None:
    """Node kinds from ``kind`` (comma-separated or repeated, checked); None: every kind."""
    return list(parse_kinds(values) or ()) or None


def relations(values: Sequence[str] | None) -> list[Relation]:
    """Relations from ``relation`` (checked), else the lineage ones."""
    return list(parse_relations(list(values) if values else None) or LINEAGE_RELATIONS)
