"""Rights requests over the genealogy, as ``Genealogy.rights`` (like ``Genealogy.registry``):
the dossier of a request about a model or a data set, its letters and exports, the
follow-up of each publisher, what changed between snapshots, and the watch list.

The rules live in :mod:`filiation.rights` (which knows nothing of the index); this facade
asks the genealogy the lineage questions they need and hands back their typed records, whose
types are this module's public names too (``__all__``): the interfaces import them from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from filiation.domain import NodeKind, parse_kind
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.lineage.query import DEFAULT_MIN_CONFIDENCE, RelationsArg, TraversalQuery
from filiation.rights import dossier as rd
from filiation.rights import followup, history, watch
from filiation.rights.dossier import Dossier, FollowUpEvent, publisher_label
from filiation.rights.history import Diff
from filiation.rights.letters import Letter
from filiation.rights.watch import Watch, WatchReport

if TYPE_CHECKING:
    from filiation.results import Lineage, LineageNode
    from filiation.service.genealogy import Genealogy

__all__ = [
    "DOSSIER_FORMATS",
    "Diff",
    "Dossier",
    "FollowUpEvent",
    "Letter",
    "Rights",
    "Watch",
    "WatchList",
    "WatchReport",
    "parse_when",
    "publisher_label",
]

#: The formats a dossier is exported to.
DOSSIER_FORMATS = ("md", "csv", "pdf", "json")


class Rights:
    """Rights requests (GDPR articles 15 to 21) about the models a source reaches."""

    def __init__(self, genealogy: Genealogy) -> None:
        self.g = genealogy

    def _source(self, model: str | None, dataset: str | None) -> tuple[str, NodeKind]:
        if (model is None) == (dataset is None):
            raise InvalidArgumentError("give either a model or a data set, not both or neither")
        kind = NodeKind.MODEL if model is not None else NodeKind.DATASET
        node_id = model if model is not None else dataset
        assert node_id is not None
        return self.g.resolve(node_id, kind), kind

    def dossier(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        right: str = "erasure",
        relations: RelationsArg = None,
        suspects: float | None = DEFAULT_MIN_CONFIDENCE,
    ) -> Dossier:
        """The rights dossier of a request about ``model`` (it and all its descendants) or
        ``dataset`` (the models trained on it and theirs): affected models ranked by reach,
        with their path from the source, the publishers to contact and their follow-up.

        Models reached only through suspected links of at least ``suspects`` confidence
        (``None``: none) are listed apart, as possibly affected, to verify: a guess never
        passes for a fact, and a dossier that left them out would mislead."""
        right_ = rd.parse_right(right)
        source_id, kind = self._source(model, dataset)
        if kind is NodeKind.MODEL:
            lin = self.g.descendants(source_id, relations=relations)
        else:
            lin = self.g.impact(source_id, relations=relations)
        affected = rd.affected_set(source_id, kind.value, list(lin))
        possibly: list[rd.AffectedModel] = []
        if suspects is not None:
            q = TraversalQuery.parse(
                relations=relations, include_suspected=True, min_confidence=suspects
            )
            wider = (
                self.g.descendants(source_id, query=q)
                if kind is NodeKind.MODEL
                else self.g.impact(source_id, query=q)
            )
            known = {m.id for m in affected}
            possibly = [
                m for m in rd.affected_set(source_id, kind.value, list(wider)) if m.id not in known
            ]
            for i, m in enumerate(possibly, 1):
                m.rank = i
        flags = self._flags(lin, affected, kind)
        publishers = rd.group_publishers(affected)
        events = followup.events(self.g.store, kind.value, source_id, right_)
        rd.apply_followups(publishers, events)
        return Dossier(
            source_id=source_id,
            source_kind=kind.value,
            right=right_,
            article=rd.ARTICLES[right_],
            generated_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
            affected=affected,
            publishers=publishers,
            possibly_affected=possibly,
            suspect_min_confidence=suspects,
            truncated=lin.truncated,
            snapshots=[s for s in self.g.snapshots() if s["current"]],
            flags=flags,
        )

    def _flags(
        self, lin: Lineage, affected: list[rd.AffectedModel], kind: NodeKind
    ) -> list[rd.CheckFlag]:
        """The declared links of the affected models that ``filiation check`` flags, each
        model marked with the rules its links break."""
        from filiation.inference.check_facts import check_genealogy

        nodes = (
            lin.node_index
            if kind is NodeKind.DATASET
            else np.concatenate([lin.roots, lin.node_index])
        )
        report = check_genealogy(self.g, limit=None, children=np.asarray(nodes, np.int64))
        by_id = {m.id: m for m in affected}
        out: list[rd.CheckFlag] = []
        for f in report.flags:
            if f.child not in by_id:
                continue
            fields = f.model_dump(include={"parent", "relation", "rule", "explanation", "values"})
            out.append(rd.CheckFlag(model=f.child, **fields))
            if f.rule not in by_id[f.child].flags:
                by_id[f.child].flags.append(f.rule)
        return out

    def letters(
        self,
        dossier: Dossier,
        lang: str = "en",
        publishers: Sequence[str] | None = None,
        *,
        grounds: Sequence[str] | str | None = None,
        direct_marketing: bool = False,
    ) -> list[Letter]:
        """One request letter per publisher of ``dossier`` (or of ``publishers`` only), in
        ``lang`` (en or fr). ``grounds``: the points of Article 17(1) an erasure relies on
        (``"a"`` to ``"f"``; a placeholder asks for them when none); ``direct_marketing``:
        an objection to direct marketing (Article 21(2)) rather than one on grounds of the
        requester's particular situation (21(1))."""
        from filiation.rights.letters import letter, parse_grounds

        chosen_grounds = parse_grounds(grounds)
        chosen = (
            dossier.publishers
            if publishers is None
            else [dossier.publisher(name) for name in publishers]
        )
        return [
            letter(dossier, p, lang, grounds=chosen_grounds, direct_marketing=direct_marketing)
            for p in chosen
        ]

    def export_dossier(
        self,
        dossier: Dossier,
        fmt: str,
        lang: str = "en",
        *,
        grounds: Sequence[str] | str | None = None,
        direct_marketing: bool = False,
    ) -> bytes:
        """``dossier`` as ``md``, ``csv``, ``pdf`` or ``json`` bytes, its words in ``lang``
        (the letters of the Markdown and PDF take ``grounds`` and ``direct_marketing`` as
        :meth:`letters` does)."""
        from filiation.i18n import check_language
        from filiation.rights import exports
        from filiation.rights.letters import parse_grounds

        check_language(lang)
        options = {"grounds": parse_grounds(grounds), "direct_marketing": direct_marketing}
        if fmt == "md":
            return exports.to_markdown(dossier, lang, **options).encode()
        if fmt == "csv":
            return exports.to_csv(dossier, lang).encode()
        if fmt == "pdf":
            return exports.to_pdf(dossier, lang, **options)
        if fmt == "json":
            return dossier.model_dump_json(indent=2).encode()
        raise InvalidArgumentError(
            f"unknown format {fmt!r}; use one of: {', '.join(DOSSIER_FORMATS)}"
        )

    def follow_up(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        right: str = "erasure",
        publisher: str,
        status: str,
        ground: str | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> FollowUpEvent:
        """Record where the request to ``publisher`` stands (sent, answered, refused...)."""
        status_ = rd.parse_status(status)
        current = self.dossier(model=model, dataset=dataset, right=right)
        entry = current.publisher(publisher)
        return followup.record(
            self.g.store,
            current.source_kind,
            current.source_id,
            current.right,
            entry.name,
            status_,
            ground=ground,
            note=note,
            at=at,
        )

    def diff(
        self, since: datetime | str, node_id: str | None = None, *, source: str | None = None
    ) -> Diff:
        """What appeared, disappeared or changed parents (in ``node_id``'s family, or
        everywhere) between the snapshots of ``since`` and the current ones (of every source,
        or of ``source`` only, e.g. ``hub-api:<id>``)."""
        when = parse_when(since)
        root = self.g.resolve(node_id) if node_id is not None else None
        return history.diff(self.g.store, when, root, source)

    @property
    def watch(self) -> WatchList:
        """The watch list (add, list, remove, check): new descendants since the last check."""
        return WatchList(self.g)


class WatchList:
    """Models and data sets followed over time, stored with what their last check saw."""

    def __init__(self, genealogy: Genealogy) -> None:
        self.g = genealogy

    def _family(self, node_id: str, kind: str) -> list[LineageNode]:
        lin = self.g.descendants(node_id) if kind == "model" else self.g.impact(node_id)
        return [n for n in lin if n.depth > 0 and n.kind == "model"]

    def add(self, node_id: str, kind: NodeKind | str | None = None) -> Watch:
        found = self.g.locate(node_id, parse_kind(kind))
        if found.kind is NodeKind.AUTHOR:
            raise InvalidArgumentError("watch a model or a data set, not an author")
        known = [n.id.lower() for n in self._family(found.id, found.kind.value)]
        return watch.add(self.g.store, found.kind.value, found.id, known)

    def list(self) -> list[Watch]:
        return [w for w, _ in watch.rows(self.g.store)]

    def remove(self, node_id: str) -> None:
        watch.remove(self.g.store, node_id)

    def check(self, post: str | None = None) -> list[WatchReport]:
        """New descendants of each watched id since its last check (then remembered);
        with ``post``, the report is POSTed as JSON first."""
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        reports: list[WatchReport] = []
        seen_now: list[tuple[str, list[str]]] = []
        for item, known in watch.rows(self.g.store):
            try:
                family = self._family(item.id, item.kind)
            except NodeNotFoundError:
                family = []  # gone from the genealogy: nothing new below it
            new = [
                watch.NewDescendant(
                    id=n.id, author=n.author, depth=n.depth, relation=n.relation, via=n.via
                )
                for n in family
                if n.id.lower() not in known
            ]
            reports.append(
                watch.WatchReport(id=item.id, kind=item.kind, since=item.checked_at, new=new)
            )
            seen_now.append((item.id, [n.id.lower() for n in family]))
        if post is not None:
            watch.post(post, reports, now)
        for node_id, family_keys in seen_now:
            watch.save_check(self.g.store, node_id, family_keys, now)
        return reports


def parse_when(value: datetime | str) -> datetime:
    """A date-time as naive UTC, from a ``datetime`` or an ISO 8601 string."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    try:
        when = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidArgumentError(
            f"not an ISO date: {value!r} (e.g. 2026-11-01 or 2026-11-01T12:00)"
        ) from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
