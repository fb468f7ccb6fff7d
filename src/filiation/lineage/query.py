"""What a traversal is asked: the one query type the service, the CLI, the API and the exports
share, so that the walk's parameters are parsed and checked in one place.

A query is built once at the edge (``TraversalQuery.parse`` takes what a person typed: names,
comma-separated lists, ISO dates) and then passed along unchanged; the direction is the
question asked (ancestors, descendants, lineage, impact), not part of the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from filiation.domain import NodeKind, Relation, parse_kind, parse_relations
from filiation.errors import InvalidArgumentError
from filiation.lineage.filters import EPOCH, DateArg, NodeFilter, parse_date

__all__ = [
    "EPOCH",
    "DateArg",
    "KindsArg",
    "NodeFilter",
    "QueryArgs",
    "RelationsArg",
    "TraversalQuery",
    "asked",
    "parse_date",
    "parse_relation_arg",
]

RelationsArg = Sequence[str | Relation] | str | None
KindsArg = Sequence[NodeKind | str] | str | None

#: The traversal options whose name in the API and the CLI differs from :meth:`parse`'s.
OPTION_NAMES = {"relation": "relations", "kind": "kinds", "node_kind": "kind"}

#: The confidence below which suspected (inferred) links are not followed unless asked.
DEFAULT_MIN_CONFIDENCE = 0.5


def parse_relation_arg(value: RelationsArg) -> tuple[Relation, ...] | None:
    """Relations as a person gives them (names, aliases, comma-separated, or enum members)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    return parse_relations([v.value if isinstance(v, Relation) else v for v in value])


@dataclass(frozen=True)
class TraversalQuery:
    """How far and through what a walk goes, and which of the nodes it reaches are kept.

    ``relations`` ``None`` follows the lineage relations (from an author, what it published
    first); ``kind`` says what the starting id is when a model, a data set and an author share
    it; ``include_suspected`` also follows inferred links of at least ``min_confidence``.
    """

    relations: tuple[Relation, ...] | None = None
    max_depth: int | None = None
    limit: int | None = None
    filter: NodeFilter = field(default_factory=NodeFilter)
    kind: NodeKind | None = None
    include_suspected: bool = False
    min_confidence: float = DEFAULT_MIN_CONFIDENCE

    def __post_init__(self) -> None:
        if self.max_depth is not None and self.max_depth < 0:
            raise InvalidArgumentError(f"max_depth must be 0 or more, not {self.max_depth}")
        if self.limit is not None and self.limit < 0:
            raise InvalidArgumentError(f"limit must be 0 or more, not {self.limit}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InvalidArgumentError(
                f"min_confidence must be between 0 and 1, not {self.min_confidence}"
            )

    @classmethod
    def parse(
        cls,
        *,
        relations: RelationsArg = None,
        max_depth: int | None = None,
        limit: int | None = None,
        kinds: KindsArg = None,
        min_downloads: int | None = None,
        since: DateArg = None,
        until: DateArg = None,
        kind: NodeKind | str | None = None,
        include_suspected: bool = False,
        min_confidence: float | None = None,
    ) -> TraversalQuery:
        """A query from what a person typed; a bad value raises
        :class:`~filiation.errors.InvalidArgumentError` naming it. A bad relation is reported
        before anything else, the same way in every interface."""
        rels = parse_relation_arg(relations)
        return cls(
            relations=rels,
            max_depth=max_depth,
            limit=limit,
            filter=NodeFilter.parse(kinds, min_downloads, since, until),
            kind=parse_kind(kind),
            include_suspected=include_suspected,
            min_confidence=DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence,
        )

    @classmethod
    def from_options(cls, **options: Any) -> TraversalQuery:
        """A query from the traversal options as the API and the CLI both name them
        (``relation``, ``kind`` for the kinds kept, ``node_kind`` for the starting node's):
        the names of :meth:`parse`, the one list of parameters, but for those
        (:data:`OPTION_NAMES`); an unknown option is a ``TypeError``, as for :meth:`parse`."""
        return cls.parse(**{OPTION_NAMES.get(name, name): v for name, v in options.items()})

    def with_(self, **changes: object) -> TraversalQuery:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)  # type: ignore[arg-type]


class QueryArgs(TypedDict, total=False):
    """The fields of a :class:`TraversalQuery` as a person gives them, accepted as keywords
    by every question (``g.descendants(id, max_depth=2)``): see :meth:`TraversalQuery.parse`."""

    relations: RelationsArg
    max_depth: int | None
    limit: int | None
    kinds: KindsArg
    min_downloads: int | None
    since: DateArg
    until: DateArg
    kind: NodeKind | str | None
    include_suspected: bool
    min_confidence: float | None


def asked(query: TraversalQuery | None, params: QueryArgs) -> TraversalQuery:
    """The query asked: ``query`` itself, else one parsed from its fields given as keywords."""
    if query is None:
        return TraversalQuery.parse(**params)
    if params:
        raise InvalidArgumentError(
            f"give either query= or its fields ({', '.join(sorted(params))}), not both"
        )
    return query
