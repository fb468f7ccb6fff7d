"""The rights dossier: every model a request reaches, why, and who publishes it.

A person whose data a model memorised (or whose data is in a training set) has rights of
access, erasure and objection, and those rights follow the data into every derived model.
The dossier is computed from the genealogy (the service's traversal) and holds, for each
affected model, the chain of links from the source, so a letter can say *why* a publisher is
concerned, and whether each link was declared by a publisher or inferred by filiation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from filiation import i18n
from filiation.errors import InvalidArgumentError
from filiation.results import HUB, LineageNode

NO_PUBLISHER = "(no namespace)"


class Right(StrEnum):
    """The rights of the GDPR a dossier can exercise."""

    ACCESS = "access"
    ERASURE = "erasure"
    OBJECTION = "objection"


#: The GDPR article of each right.
ARTICLES: dict[Right, str] = {Right.ACCESS: "15", Right.ERASURE: "17", Right.OBJECTION: "21"}


def parse_right(value: Right | str) -> Right:
    try:
        return Right(str(value).strip().lower())
    except ValueError:
        valid = ", ".join(r.value for r in Right)
        raise InvalidArgumentError(f"unknown right {value!r}; use one of: {valid}") from None


class Status(StrEnum):
    """Where the request to one publisher stands."""

    TO_CONTACT = "to_contact"
    SENT = "sent"
    ANSWERED = "answered"
    REFUSED = "refused"
    DONE = "done"


def parse_status(value: Status | str) -> Status:
    try:
        return Status(str(value).strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        valid = ", ".join(s.value for s in Status)
        raise InvalidArgumentError(f"unknown status {value!r}; use one of: {valid}") from None


class PathLink(BaseModel):
    """One link of the chain from the source to an affected model."""

    parent: str
    child: str
    relation: str
    declared: bool = Field(description="stated by the publisher (else inferred by filiation)")
    confidence: float | None = Field(
        None, description="a suspected link's confidence (inferred by filiation, to verify)"
    )


class CheckFlag(BaseModel):
    """A declared link of an affected model that the evidence contradicts (``filiation
    check``): the model is still in the dossier, but the link deserves a look."""

    model: str = Field(description="the affected model (the link's child)")
    parent: str
    relation: str
    rule: str = Field(description="the check's rule, e.g. other_architecture, child_older")
    explanation: str
    values: dict[str, Any] = Field(default_factory=dict)


class AffectedModel(BaseModel):
    id: str
    rank: int = Field(description="1 = widest reach (most descendants, then downloads)")
    publisher: str | None
    depth: int = Field(description="links from the source; 0 is the source model itself")
    downloads: int | None = None
    likes: int | None = None
    descendants: int = 0
    path: list[PathLink] = Field(description="the links from the source to this model")
    url: str
    discussions_url: str

    flags: list[str] = Field(
        default_factory=list, description="the check rules its declared links break, if any"
    )

    @property
    def inferred(self) -> bool:
        return any(not link.declared for link in self.path)

    @property
    def confidence(self) -> float | None:
        """The confidence of the weakest suspected link of its path (what the chain is
        worth); ``None`` when every link is declared or inferred by the Hub."""
        return min((lk.confidence for lk in self.path if lk.confidence is not None), default=None)

    @property
    def publisher_name(self) -> str:
        """The name of the publisher it is grouped under (:data:`NO_PUBLISHER` without a
        namespace)."""
        return self.publisher or NO_PUBLISHER


class FollowUpEvent(BaseModel):
    publisher: str
    status: Status
    ground: str | None = Field(None, description="the ground of a refusal, e.g. 'Article 12(5)'")
    note: str | None = None
    at: datetime


class Publisher(BaseModel):
    """One entry per author to contact, with all their affected models (best ranked first)."""

    name: str
    url: str | None
    models: list[str]
    downloads: int = 0
    status: Status = Status.TO_CONTACT
    ground: str | None = None
    updated_at: datetime | None = None
    history: list[FollowUpEvent] = Field(default_factory=list)


class Dossier(BaseModel):
    source_id: str
    source_kind: str
    right: Right
    article: str
    generated_at: datetime
    affected: list[AffectedModel]
    publishers: list[Publisher]
    possibly_affected: list[AffectedModel] = Field(
        default_factory=list,
        description="models reached only through suspected links (inferred, to verify)",
    )
    suspect_min_confidence: float | None = Field(
        None, description="the least confidence of the suspected links followed"
    )
    truncated: bool = False
    snapshots: list[dict[str, Any]] = Field(default_factory=list)
    flags: list[CheckFlag] = Field(
        default_factory=list,
        description="declared links of affected models the evidence contradicts (check)",
    )
    _by_id: dict[str, AffectedModel] | None = PrivateAttr(default=None)

    def publisher(self, name: str) -> Publisher:
        for p in self.publishers:
            if p.name.lower() == name.strip().lower():
                return p
        names = ", ".join(p.name for p in self.publishers[:10])
        raise InvalidArgumentError(
            f"{name!r} publishes none of the affected models; publishers: {names}"
            + (" ..." if len(self.publishers) > 10 else "")
        )

    def models_of(self, publisher: Publisher) -> list[AffectedModel]:
        """The affected models of ``publisher``, best ranked first."""
        if self._by_id is None or len(self._by_id) != len(self.affected):
            self._by_id = {m.id: m for m in self.affected}
        return [self._by_id[i] for i in publisher.models if i in self._by_id]


def affected_set(
    source_id: str, source_kind: str, nodes: Sequence[LineageNode]
) -> list[AffectedModel]:
    """The affected models from a traversal's typed nodes (``list(lineage)``), ranked.

    Each node names the node it was reached from (``via``) and by which link; following
    those back to the source gives each model its path.
    """
    reached: dict[str, LineageNode] = {n.id: n for n in nodes}
    out: list[AffectedModel] = []
    for node in nodes:
        if node.kind != "model":
            continue
        path: list[PathLink] = []
        cur = node
        seen: set[str] = set()
        while cur.via is not None and cur.relation is not None and cur.id not in seen:
            seen.add(cur.id)
            path.append(
                PathLink(
                    parent=cur.via,
                    child=cur.id,
                    relation=cur.relation,
                    declared=bool(cur.declared),
                    confidence=cur.confidence,
                )
            )
            parent = reached.get(cur.via)
            if parent is None:
                break
            cur = parent
        path.reverse()
        out.append(
            AffectedModel(
                id=node.id,
                rank=0,
                publisher=node.author,
                depth=node.depth,
                downloads=node.downloads,
                likes=node.likes,
                descendants=node.descendants,
                path=path,
                url=f"{HUB}/{node.id}",
                discussions_url=f"{HUB}/{node.id}/discussions",
            )
        )
    out.sort(key=lambda m: (-m.descendants, -(m.downloads or 0), m.depth, m.id.lower()))
    for i, m in enumerate(out, 1):
        m.rank = i
    return out


def publisher_label(name: str, lang: str = "en") -> str:
    """How a publisher is named to a reader: its namespace, or for the models published
    without one (legacy ids such as ``gpt2``) words of ``lang`` saying so. The dossier keeps
    :data:`NO_PUBLISHER` as the name, in its JSON and follow-ups, whatever the language."""
    return i18n.translate(lang, "dossier.no_namespace") if name == NO_PUBLISHER else name


def group_publishers(affected: list[AffectedModel]) -> list[Publisher]:
    """One entry per publisher, in the order of their best-ranked model."""
    groups: dict[str, Publisher] = {}
    for m in affected:
        name = m.publisher_name
        entry = groups.get(name)
        if entry is None:
            entry = groups[name] = Publisher(
                name=name, url=f"{HUB}/{name}" if m.publisher else None, models=[]
            )
        entry.models.append(m.id)
        entry.downloads += m.downloads or 0
    return list(groups.values())


def apply_followups(publishers: list[Publisher], events: list[FollowUpEvent]) -> None:
    """Set each publisher's current state (its newest event) and its dated history."""
    by_name = {p.name.lower(): p for p in publishers}
    for event in sorted(events, key=lambda e: e.at):
        p = by_name.get(event.publisher.lower())
        if p is None:
            continue  # a publisher no longer affected: its history stays in the store
        p.history.append(event)
        p.status, p.ground, p.updated_at = event.status, event.ground, event.at


def describe_path(path: list[PathLink], source_id: str, lang: str = "en") -> str:
    """``source → (finetune, declared) → child → ...`` in words of the given language (the
    catalogue's relation and provenance words: "(fusion, lien déduit)" in French)."""
    words = i18n.table(lang)
    if not path:
        return f"{source_id} ({i18n.translate(lang, 'dossier.source_itself')})"
    parts = [path[0].parent]
    for link in path:
        if link.confidence is not None:  # a link filiation suspects, not one the Hub shows
            said = i18n.translate(
                lang, "dossier.suspected", confidence=i18n.decimal(lang, link.confidence)
            )
        else:
            said = i18n.translate(lang, "dossier.declared" if link.declared else "dossier.inferred")
        key = f"rel.{link.relation}"
        relation = i18n.translate(lang, key) if key in words else link.relation
        step = i18n.translate(lang, "dossier.path_link", relation=relation, provenance=said)
        parts.append(f"{step} {link.child}")
    return " → ".join(parts)
