"""The answers of the list commands as :class:`~filiation.cli.output.Listing` values: which
columns, which one is the id, what a narrow terminal drops first, and the JSON ``--json``
prints. :func:`filiation.cli.output.emit` writes them in the format asked; nothing here
draws, so nothing here imports rich.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from filiation.cli.output import Column, Listing
from filiation.i18n import counted

if TYPE_CHECKING:
    from filiation.results import Lineage


def _moment(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value else "—"


def _day(value: Any) -> str:
    return value.date().isoformat() if value else "—"


def _link_columns(child: str, parent: str) -> tuple[Column, ...]:
    """A found link's columns (``infer``, ``scan``): a narrow terminal keeps the child, then
    the parent, then the relation, the evidence last."""
    return (
        Column(child, "id"),
        Column(parent, "id", drop=3),
        Column("relation", drop=2),
        Column("evidence", drop=1),
    )


def lineage(lin: Lineage) -> Listing:
    """``ancestors``, ``descendants``, ``impact``: the nodes found, without the start."""
    rows = [
        (
            rec["depth"],
            rec["id"],
            rec["kind"] + (" (stub)" if rec["stub"] else ""),
            rec["relation"] or "",
            rec["via"] or "",
            f"suspected {rec['confidence']:.2f}"
            if rec.get("suspected")
            else ("yes" if rec["declared"] else "no"),
            rec["downloads"],
            rec["descendants"],
        )
        for rec in lin.nodes[len(lin.roots) :]
    ]
    counts = lin.relation_counts()
    warnings = []
    if lin.truncated:
        warnings.append(f"truncated: more nodes exist beyond --limit ({len(lin):,} shown)")
    if lin.depth_cut:
        warnings.append("more generations exist beyond --max-depth")
    return Listing(
        columns=(
            Column("depth", "number", drop=7),
            Column("id", "id"),
            Column("kind", drop=3),
            Column("relation", drop=6),
            Column("from", "id", drop=1),
            Column("declared", drop=2),
            Column("downloads", "number", drop=4),
            Column("descendants", "number", drop=5),
        ),
        rows=rows,
        json=lin.to_dict(),
        title=f"{lin.direction} of {lin.root}: {len(lin):,} nodes",
        notes=["by relation: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())]
        if counts
        else [],
        warnings=warnings,
    )


def important(d: Any) -> list[Listing]:
    """Under ``show``: a node's important parents and children, each list a section."""
    rule = ", then ".join(d.ranking)
    return [
        Listing(
            columns=(
                Column("id", "id"),
                Column("relation", drop=4),
                Column("declared", drop=1),
                Column("descendants", "number", drop=5),
                Column("downloads", "number", drop=3),
                Column("likes", "number", drop=2),
            ),
            rows=[
                (
                    n.id,
                    n.relation.value,
                    "yes" if n.declared else "no",
                    n.descendants,
                    n.downloads,
                    n.likes,
                )
                for n in items
            ],
            title=f"{title} (by {rule})",
        )
        for title, items in (
            ("Important parents", d.important_parents),
            ("Important children", d.important_children),
        )
        if items
    ]


def search_hits(text: str, hits: Sequence[Any]) -> Listing:
    return Listing(
        columns=(
            Column("id", "id"),
            Column("kind", drop=1),
            Column("downloads", "number", drop=3),
            Column("likes", "number", drop=2),
            Column("descendants", "number", drop=4),
        ),
        rows=[(h.id, h.kind.value, h.downloads, h.likes, h.descendants) for h in hits],
        json=[h.model_dump(mode="json") for h in hits],
        title=f"{counted(len(hits), 'result')} for {text}",
    )


def families(result: Any) -> Listing:
    return Listing(
        columns=(
            Column("root", "id"),
            Column("its models", "number", drop=2),
            Column("family size", "number", drop=1),
        ),
        rows=[(f.root.id, f.members, f.root.descendants + 1) for f in result.families],
        json=result.model_dump(mode="json"),
        title=f"families of {result.author}'s {result.models:,} models",
    )


def snapshots(snaps: list[dict[str, Any]]) -> Listing:
    return Listing(
        columns=(
            Column("id", "number"),
            Column("source", "id", drop=6),
            Column("data of", drop=4),
            Column("ingested", drop=2),
            Column("status", drop=3),
            Column("current", drop=5),
            Column("label", drop=1),
        ),
        rows=[
            (
                s["id"],
                s["source"],
                _day(s["taken_at"]),
                _moment(s["finished_at"]),
                s["status"],
                "yes" if s["current"] else "",
                s["label"],
            )
            for s in snaps
        ],
        json=snaps,
        title="Snapshots",
    )


def suspects(result: Any, min_confidence: float) -> Listing:
    """``filiation infer``: suspected parents, with the signals that weighed most."""
    rows = []
    for link in result.links:
        ev = link.evidence
        said = [str(ev.get("name_match", ""))]
        if ev.get("child_flags"):
            said.append("child: " + ", ".join(ev["child_flags"]))
        if ev.get("same_publisher"):
            said.append("same publisher")
        same_size = ev.get("child_parameters") == ev.get("parent_parameters") is not None
        if same_size and "parameter" not in said[0]:
            said.append("same parameter count")
        rows.append(
            (
                link.confidence,
                link.child,
                link.parent,
                link.relation,
                "; ".join(s for s in said if s),
            )
        )
    data = result.as_dict()
    summary = data["summary"]
    return Listing(
        columns=(
            Column("confidence", "number", drop=4, show=lambda v: f"{v:.2f}"),
            *_link_columns("child", "suspected parent"),
        ),
        rows=rows,
        json=data,
        title=f"Suspected parents (confidence ≥ {min_confidence:g})",
        notes=[
            f"{summary['models']:,} models, {summary['without_declared_parent']:,} without a "
            f"declared parent; {summary['stored']:,} suspects stored (confidence ≥ "
            f"{summary['stored_min_confidence']:g}) as snapshot {summary['snapshot_id']}. "
            "Suspects are followed only when asked (--suspected)."
        ],
    )


def check_report(report: Any) -> Listing:
    """``filiation check``: one row per flag; the counts per rule and what was not
    evaluated as notes."""
    where = report.node or "the genealogy"
    notes = [f"{report.summary()} — {where}, {report.links_checked:,} links checked"]
    notes += [
        f"{name}: {count:,} flagged ({report.rule_meanings.get(name, '')})"
        for name, count in report.counts.items()
    ]
    warnings = [f"{name} not evaluated: {why}" for name, why in report.not_evaluated.items()]
    if report.truncated:
        warnings.append(f"more flags exist beyond --limit ({len(report.flags)} shown)")
    return Listing(
        columns=(
            Column("child", "id"),
            Column("parent", "id", drop=3),
            Column("relation", drop=2),
            Column("rule", drop=4, style=lambda _: "red"),
            Column("values", drop=1),
        ),
        rows=[
            (
                f.child,
                f.parent,
                f.relation,
                f.rule,
                ", ".join(f"{k} {v}" for k, v in f.values.items()),
            )
            for f in report.flags
        ],
        json=report.to_dict(),
        notes=notes,
        warnings=warnings,
    )


_CHANGE_STYLES = {"appeared": "green", "disappeared": "red", "parents changed": "yellow"}


def diff(d: Any) -> Listing:
    then = ", ".join(f"{s['id']} ({s['source']})" for s in d.before)
    now = ", ".join(f"{s['id']} ({s['source']})" for s in d.after)
    scope = f"family of {d.root}" if d.root else "whole genealogy"
    rows: list[tuple[str, str, str, str]] = [("appeared", m, "", "") for m in d.appeared]
    rows += [("disappeared", m, "", "") for m in d.disappeared]
    rows += [
        ("parents changed", c.id, ", ".join(c.before) or "—", ", ".join(c.after) or "—")
        for c in d.changed_parents
    ]
    return Listing(
        columns=(
            Column("change", drop=3, style=lambda v: _CHANGE_STYLES.get(v, "")),
            Column("model", "id"),
            Column("parents then", drop=1),
            Column("parents now", drop=2),
        ),
        rows=rows,
        json=d.model_dump(mode="json"),
        key="model",
        title=f"{scope}: snapshots {then} → {now}",
        notes=[
            f"{len(d.appeared):,} appeared, {len(d.disappeared):,} disappeared, "
            f"{len(d.changed_parents):,} changed parents"
        ],
    )


def watch_list(items: Sequence[Any]) -> Listing:
    return Listing(
        columns=(
            Column("id", "id"),
            Column("kind", drop=1),
            Column("added", drop=2),
            Column("last check", drop=3),
            Column("descendants then", "number", drop=4),
        ),
        rows=[(w.id, w.kind, _moment(w.added_at), _moment(w.checked_at), w.known) for w in items],
        json=[w.model_dump(mode="json") for w in items],
        title="Watch list",
    )


def watch_reports(reports: Sequence[Any]) -> Listing:
    """``watch check``: one row per new descendant (its id is the key); one note per watched
    id, with how many appeared since its last check."""
    return Listing(
        columns=(
            Column("new descendant", "id"),
            Column("relation", drop=2),
            Column("of", "id", drop=1),
            Column("watched", "id", drop=3),
        ),
        rows=[(n.id, n.relation, n.via or "—", r.id) for r in reports for n in r.new],
        json=[r.model_dump(mode="json") for r in reports],
        notes=[
            f"{r.id}: {counted(len(r.new), 'new descendant')} since {_moment(r.since)}"
            for r in reports
        ],
    )


#: The first columns of a dossier's model tables: its rank, the model, its publisher.
def dossier(d: Any, limit: int, lang: str = "en") -> list[Listing]:
    """A rights dossier's summary in ``lang``, ``limit`` rows each: the affected models
    (widest reach first; their ids are what ``--format ids`` prints), those reached only
    through suspected links, and the publishers to contact."""
    from filiation import i18n
    from filiation.service.rights import publisher_label

    t = partial(i18n.translate, lang)
    words = i18n.table(lang)

    def number(value: Any) -> str:
        return i18n.number(lang, value)

    def relation(name: str) -> str:
        return str(words.get(f"rel.{name}", name))

    ranked = (
        Column("#", "number", drop=2),
        Column(t("dossier.col_model"), "id"),
        Column(t("dossier.col_publisher"), "id", drop=3),
    )
    affected = Listing(
        columns=(
            *ranked,
            Column(t("dossier.col_downloads"), "number", drop=4, show=number),
            Column(t("dossier.col_descendants"), "number", drop=5, show=number),
            Column(t("dossier.col_path"), drop=1),
        ),
        rows=[
            (
                m.rank,
                m.id,
                m.publisher or "—",
                m.downloads,
                m.descendants,
                " → ".join(f"{relation(lk.relation)}{'' if lk.declared else '*'}" for lk in m.path)
                or t("dossier.source_itself"),
            )
            for m in d.affected[:limit]
        ],
        title=t("dossier.affected"),
        notes=[t("dossier.cli_more", count=len(d.affected) - limit)]
        if len(d.affected) > limit
        else [],
    )
    affected.notes.append(t("dossier.cli_inferred_mark"))
    sections = [affected]
    if d.possibly_affected:
        conf = i18n.decimal(lang, d.suspect_min_confidence, 1)
        sections.append(
            Listing(
                columns=(*ranked, Column(t("dossier.col_path"), drop=1)),
                rows=[
                    (
                        m.rank,
                        m.id,
                        m.publisher or "—",
                        " → ".join(
                            relation(lk.relation)
                            + (
                                f" ({i18n.decimal(lang, lk.confidence)})"
                                if lk.confidence is not None
                                else ""
                            )
                            for lk in m.path
                        ),
                    )
                    for m in d.possibly_affected[:limit]
                ],
                title=t("dossier.cli_possibly", confidence=conf),
            )
        )
    sections.append(
        Listing(
            columns=(
                Column(t("dossier.col_publisher"), "id"),
                Column(t("dossier.col_models"), "number", drop=3, show=number),
                Column(t("dossier.status"), drop=4),
                Column(t("dossier.col_since"), drop=2),
                Column(t("dossier.hub_page"), "id", drop=1),
            ),
            rows=[
                (
                    publisher_label(p.name, lang),
                    len(p.models),
                    t(f"status.{p.status.value}") + (f" ({p.ground})" if p.ground else ""),
                    i18n.date(lang, p.updated_at) if p.updated_at else "—",
                    p.url or "—",
                )
                for p in d.publishers[:limit]
            ],
            title=t("dossier.publishers"),
        )
    )
    return sections


def scan_result(result: Any, doc: Any) -> Listing:
    """``scan``: one row per link a model on disk declares (the model on each row; a model
    with none has one row saying so), and ``doc`` as its JSON."""
    rows = []
    for m in result.models:
        for link in [*m.parents, *m.datasets] or [None]:
            if link is None:
                rows.append((m.id, "", "nothing found", ""))
                continue
            rows.append(
                (
                    m.id,
                    link.parent,
                    link.relation.value
                    + (" (stated in README)" if link.declared else "")
                    + (f" (weights, {link.confidence:.2f})" if link.source == "weights" else ""),
                    ", ".join(link.evidence),
                )
            )
    warnings = [
        f"{m.id}: parent not recorded, a path outside the scan: {raw}"
        for m in result.models
        for raw in m.unresolved
    ]
    warnings += [f"skipped {p.file}: {p.message}" for p in result.problems]
    return Listing(
        columns=_link_columns("model", "derives from"),
        rows=rows,
        json=doc,
        title=f"models under {result.root}: {len(result.models):,}",
        notes=[f"{result.files_read:,} files read, {result.skipped:,} skipped"],
        warnings=warnings,
    )
