"""The vocabulary of a genealogy: kinds of node, kinds of link, and how outside names map onto them.

Every source speaks its own dialect (the Hub says ``finetune``, edge lists say ``finetuned``,
people write ``fine-tune``); everything inside filiation uses the enums below, so a
relation is normalised exactly once, where a record enters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum


class NodeKind(StrEnum):
    MODEL = "model"
    DATASET = "dataset"
    AUTHOR = "author"


class Relation(StrEnum):
    """A link points from the derived thing (child) to its origin (parent)."""

    FINETUNE = "finetune"
    QUANTIZED = "quantized"
    ADAPTER = "adapter"
    MERGE = "merge"
    UNSPECIFIED = "unspecified"
    TRAINED_ON = "trained_on"
    PUBLISHED_BY = "published_by"


#: Model-to-model relations: what "ancestors" and "descendants" follow unless told otherwise.
LINEAGE_RELATIONS: tuple[Relation, ...] = (
    Relation.FINETUNE,
    Relation.QUANTIZED,
    Relation.ADAPTER,
    Relation.MERGE,
    Relation.UNSPECIFIED,
)

#: The colour of each relation wherever a link is drawn (graph, exports, badges): the one
#: source the web explorer is served (templates/_graph.html embeds it for static/graph/).
RELATION_COLOURS: dict[Relation, str] = {
    Relation.FINETUNE: "#7a3db8",
    Relation.QUANTIZED: "#0f8b8d",
    Relation.ADAPTER: "#e0a100",
    Relation.MERGE: "#d1495b",
    Relation.UNSPECIFIED: "#8a8f98",
    Relation.TRAINED_ON: "#2e9e5b",
    Relation.PUBLISHED_BY: "#d9822b",
}

#: Stable small integers used in the lineage index; never renumber, only append.
RELATION_CODES: dict[Relation, int] = {rel: code for code, rel in enumerate(Relation)}
RELATIONS_BY_CODE: tuple[Relation, ...] = tuple(Relation)
KIND_CODES: dict[NodeKind, int] = {kind: code for code, kind in enumerate(NodeKind)}
KINDS_BY_CODE: tuple[NodeKind, ...] = tuple(NodeKind)

_ALIASES: dict[str, Relation] = {
    "finetune": Relation.FINETUNE,
    "finetuned": Relation.FINETUNE,
    "fine-tune": Relation.FINETUNE,
    "fine-tuned": Relation.FINETUNE,
    "fine_tune": Relation.FINETUNE,
    "fine_tuned": Relation.FINETUNE,
    "ft": Relation.FINETUNE,
    "quantized": Relation.QUANTIZED,
    "quantised": Relation.QUANTIZED,
    "quantization": Relation.QUANTIZED,
    "quantize": Relation.QUANTIZED,
    "quant": Relation.QUANTIZED,
    "adapter": Relation.ADAPTER,
    "adapters": Relation.ADAPTER,
    "lora": Relation.ADAPTER,
    "peft": Relation.ADAPTER,
    "merge": Relation.MERGE,
    "merged": Relation.MERGE,
    "merges": Relation.MERGE,
    "unspecified": Relation.UNSPECIFIED,
    "unknown": Relation.UNSPECIFIED,
    "base": Relation.UNSPECIFIED,
    "base_model": Relation.UNSPECIFIED,
    "trained_on": Relation.TRAINED_ON,
    "trained-on": Relation.TRAINED_ON,
    "dataset": Relation.TRAINED_ON,
    "published_by": Relation.PUBLISHED_BY,
}


def normalise_relation(name: str | None) -> Relation | None:
    """Map a relation name from any source onto a :class:`Relation`, or ``None`` if unknown.

    Unknown names are not guessed: the caller counts them as skipped so that a typo in an
    edge list is reported instead of silently turned into a wrong kind of link.
    """
    if name is None:
        return None
    return _ALIASES.get(name.strip().lower().replace(" ", "_"))


def parse_relations(names: list[str] | tuple[str, ...] | None) -> tuple[Relation, ...] | None:
    """Turn user-given relation names (CLI ``--relation``, API ``relations=``) into relations.

    Accepts repeated values and comma-separated lists; raises on unknown names with the list
    of valid ones, because a misspelt filter would otherwise silently return nothing.
    """
    from filiation.errors import InvalidArgumentError

    if not names:
        return None
    out: list[Relation] = []
    for raw in names:
        for part in str(raw).split(","):
            if not part.strip():
                continue
            rel = normalise_relation(part)
            if rel is None:
                raise InvalidArgumentError(
                    f"unknown relation {part.strip()!r}; use one of: {listed(Relation)}"
                )
            if rel not in out:
                out.append(rel)
    return tuple(out) or None


def listed(values: Iterable[StrEnum], last: str = ", ") -> str:
    """A vocabulary's names as a message or a help text lists them, ``last`` before the
    last one: ``model, dataset, author``, or ``model, dataset or author``."""
    names = [v.value for v in values]
    return ", ".join(names[:-1]) + last + names[-1] if len(names) > 1 else "".join(names)


def parse_kind(value: NodeKind | str | None) -> NodeKind | None:
    """A user-given node kind, or a clear error listing the valid ones."""
    from filiation.errors import InvalidArgumentError

    if value is None or isinstance(value, NodeKind):
        return value
    try:
        return NodeKind(str(value).strip().lower())
    except ValueError:
        raise InvalidArgumentError(
            f"unknown kind {value!r}; use one of: {listed(NodeKind)}"
        ) from None


def parse_kinds(values: Sequence[NodeKind | str] | str | None) -> tuple[NodeKind, ...] | None:
    """User-given node kinds (CLI ``--kind``, API ``kind=``), repeated or comma-separated,
    each checked by :func:`parse_kind`, in their order without repeats; None: every kind."""
    if isinstance(values, str):
        values = [values]
    out: list[NodeKind] = []
    for raw in values or ():
        for part in raw.split(",") if isinstance(raw, str) else [raw]:
            if isinstance(part, str) and not part.strip():
                continue
            kind = parse_kind(part)
            if kind is not None and kind not in out:
                out.append(kind)
    return tuple(out) or None


def author_of(hub_id: str) -> str | None:
    """The publisher part of a Hub id (``author/name``); legacy ids without a slash have none."""
    head, sep, _ = hub_id.partition("/")
    return head if sep and head else None


#: What a source may say an author is (``extra["author_type"]`` of the author node: the Hub's
#: user and organisation overview calls, through ``refresh``); no value means unknown.
AUTHOR_PERSON = "person"
AUTHOR_ORGANISATION = "organisation"
AUTHOR_TYPES = (AUTHOR_PERSON, AUTHOR_ORGANISATION)

#: What "important" parents and children may be ranked by (``show --rank-by``), and the default
#: order: most descendants first, then most downloads, then most likes. Here, with the
#: vocabulary, so that the command line can list them in its help without loading the index
#: code (``filiation.lineage.index`` imports them from here). ``citations``: distinct models
#: naming the node as a parent (``filiation.lineage.indicators``).
RANKING_KEYS = (
    "descendants",
    "citations",
    "downloads",
    "downloads_all_time",
    "likes",
    "trending",
    "created",
)
DEFAULT_RANKING: tuple[str, ...] = ("descendants", "downloads", "likes")
#: The CNIL demonstrator's order for important parents and children: most cited, then most
#: downloaded (``--rank-by citations,downloads``).
CNIL_RANKING: tuple[str, ...] = ("citations", "downloads")


#: The points of Article 17(1) GDPR an erasure request may rely on (a: no longer necessary,
#: b: consent withdrawn, c: objection, d: unlawful processing, e: legal obligation, f: a
#: child's data for an information society service); the letters word each one.
ERASURE_GROUNDS: tuple[str, ...] = ("a", "b", "c", "d", "e", "f")
