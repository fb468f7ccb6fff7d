"""How results look in a terminal: rich tables and trees, one function per kind of result.

Imported by a command when it prints (never to define the commands), so that ``--help``,
``--version`` and ``--json`` answers do not load rich.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.tree import Tree

from filiation.cli.common import err, out, state
from filiation.domain import LINEAGE_RELATIONS
from filiation.safe_text import console_text as escape

if TYPE_CHECKING:
    from filiation.results import Lineage, NodeDetails


def num(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def count(value: int | None) -> str | None:
    """A count worth a row of its own, or None to leave the row out."""
    return f"{value:,}" if value else None


# -- ingest ---------------------------------------------------------------------------------
def ingest_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err.get(),
        disable=state.quiet,
        transient=False,
    )


def ingest_report(report: Any) -> None:
    data = report.as_dict()
    table = Table(
        title=f"Snapshot {data['snapshot_id']} — {escape(data['source'])}", show_header=False
    )
    table.add_row("read from", escape(data["label"]))
    table.add_row("rows read", num(data["rows_read"]))
    table.add_row("nodes stored", num(data["nodes"]))
    table.add_row("links stored", num(data["links"]))
    for reason, count in data["skipped"].items():
        table.add_row("[yellow]skipped[/]", f"{count:,} {escape(reason)}")
    for what, count in data["notes"].items():
        table.add_row("noted", f"{count:,} {escape(what)}")
    err.print(table)


def registered(reg: Any) -> None:
    """What ``scan --register`` wrote to the registry."""
    for what in ("created", "updated", "unchanged", "hub_models"):
        names = getattr(reg, what)
        if names:
            label = "Hub parents registered" if what == "hub_models" else f"registry: {what}"
            out.print(f"{label}: {escape(', '.join(names))}")
    for s in reg.skipped:
        about = f"{s.model} → {s.parent}" if s.parent else s.model
        err.print(f"[yellow]not registered: {escape(about)}: {escape(s.reason)}[/]")


# -- questions -------------------------------------------------------------------------------
def lineage_table(lin: Lineage) -> Table:
    table = Table(title=f"{lin.direction} of {escape(lin.root)}: {len(lin):,} nodes")
    for col, justify in (
        ("depth", "right"),
        ("id", "left"),
        ("kind", "left"),
        ("relation", "left"),
        ("from", "left"),
        ("declared", "left"),
        ("downloads", "right"),
        ("descendants", "right"),
    ):
        # Ids are never cut: a truncated id cannot be copied into the next command.
        overflow = "fold" if col in ("id", "from") else "ellipsis"
        table.add_column(col, justify=justify, overflow=overflow)  # type: ignore[arg-type]
    for rec in lin.nodes[len(lin.roots) :]:
        table.add_row(
            str(rec["depth"]),
            escape(rec["id"]) + (" [dim](stub)[/]" if rec["stub"] else ""),
            rec["kind"],
            rec["relation"] or "",
            escape(rec["via"] or ""),
            f"suspected {rec['confidence']:.2f}"
            if rec.get("suspected")
            else ("yes" if rec["declared"] else "no"),
            num(rec["downloads"]),
            num(rec["descendants"]),
        )
    return table


def lineage_tree(lin: Lineage, max_nodes: int = 2000) -> Tree:
    """Draw each node under the node it was reached from (its first link)."""
    nodes = lin.nodes
    tree = Tree(f"[bold]{escape(lin.root)}[/]")
    branches: dict[str, Tree] = {nodes[0]["id"]: tree} if nodes else {}
    shown = 0
    for rec in sorted(nodes[len(lin.roots) :], key=lambda r: abs(r["depth"])):
        parent = branches.get(rec["via"])
        if parent is None:
            continue
        if shown >= max_nodes:
            tree.add(f"[dim]… {len(nodes) - 1 - shown:,} more (use --json or a table)[/]")
            break
        label = f"{escape(rec['id'])} [dim]{rec['relation']}"
        if rec["downloads"]:
            label += f", {rec['downloads']:,} downloads"
        label += "[/]"
        branches[rec["id"]] = parent.add(label)
        shown += 1
    return tree


def lineage(lin: Lineage, tree: bool) -> None:
    """A lineage as a table (or a tree), then its counts and what was cut."""
    out.print(lineage_tree(lin) if tree else lineage_table(lin))
    counts = lin.relation_counts()
    if counts:
        out.print("by relation: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if lin.truncated:
        out.print(f"[yellow]truncated: more nodes exist beyond --limit ({len(lin):,} shown)[/]")
    if lin.depth_cut:
        out.print("[yellow]more generations exist beyond --max-depth[/]")


LINEAGE_ONLY = frozenset(r.value for r in LINEAGE_RELATIONS)


def relation_counts(counts: dict[str, int], keep: frozenset[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items() if k in keep)


def details(d: NodeDetails) -> None:
    stub = ", stub: only named by a link" if d.stub else ""
    head = Table(
        title=f"{escape(d.id)} ({d.kind.value}{stub})",
        show_header=False,
    )
    rows = [
        ("author", d.author),
        ("published", d.created_at.date().isoformat() if d.created_at else None),
        ("last modified", d.last_modified.date().isoformat() if d.last_modified else None),
        ("task", d.pipeline_tag),
        ("library", d.library_name),
        ("licence", d.license),
        ("parameters", num(d.parameters) if d.parameters is not None else None),
        ("downloads (30 days)", num(d.downloads) if d.downloads is not None else None),
        (
            "downloads (all time)",
            num(d.downloads_all_time) if d.downloads_all_time is not None else None,
        ),
        ("likes", num(d.likes) if d.likes is not None else None),
        ("parents", relation_counts(d.parents_by_relation, LINEAGE_ONLY) or "none"),
        ("children", relation_counts(d.children_by_relation, LINEAGE_ONLY) or "none"),
        ("published", count(d.children_by_relation.get("published_by"))),
        ("models trained on it", count(d.children_by_relation.get("trained_on"))),
        ("descendants", f"{d.descendants:,} over {d.generations} generation(s)"),
        ("trained on", ", ".join(x.id for x in d.datasets) or None),
        ("on the Hub", d.url),
    ]
    rows += [(k, str(v)) for k, v in d.extra.items()]
    for key, value in rows:
        if value is not None:
            head.add_row(key, escape(str(value)))
    out.print(head)
    rule = ", then ".join(d.ranking)
    for title, items in (
        ("Important parents", d.important_parents),
        ("Important children", d.important_children),
    ):
        if not items:
            continue
        table = Table(title=f"{title} (by {rule})")
        for col in ("id", "relation", "declared", "descendants", "downloads", "likes"):
            table.add_column(
                col,
                justify="left" if col in ("id", "relation", "declared") else "right",
                overflow="fold" if col == "id" else "ellipsis",
            )
        for n in items:
            table.add_row(
                escape(n.id),
                n.relation.value,
                "yes" if n.declared else "no",
                num(n.descendants),
                num(n.downloads),
                num(n.likes),
            )
        out.print(table)


def scan_result(result: Any) -> None:
    """The models a scan found, what each derives from and the file that says so."""
    table = Table(title=f"models under {escape(result.root)}: {len(result.models):,}")
    for col in ("model", "derives from", "relation", "evidence"):
        table.add_column(col, overflow="fold")
    for m in result.models:
        links = [*m.parents, *m.datasets] or [None]
        for i, link in enumerate(links):
            table.add_row(
                escape(m.id) if i == 0 else "",
                escape(link.parent) if link else "[dim]nothing found[/]",
                (
                    link.relation.value
                    + (" (stated in README)" if link.declared else "")
                    + (f" (weights, {link.confidence:.2f})" if link.source == "weights" else "")
                )
                if link
                else "",
                escape(", ".join(link.evidence)) if link else "",
            )
    out.print(table)
    for m in result.models:
        for raw in m.unresolved:
            out.print(
                f"[yellow]{escape(m.id)}: parent not recorded, a path outside the scan: "
                f"{escape(raw)}[/]"
            )
    for problem in result.problems:
        err.print(f"[yellow]skipped {escape(problem.file)}: {escape(problem.message)}[/]")
    out.print(f"{result.files_read:,} files read, {result.skipped:,} skipped")


def families(result: Any) -> None:
    table = Table(title=f"families of {escape(result.author)}'s {result.models:,} models")
    table.add_column("root", overflow="fold")
    table.add_column("its models", justify="right")
    table.add_column("family size", justify="right")
    for f in result.families:
        table.add_row(escape(f.root.id), f"{f.members:,}", f"{f.root.descendants + 1:,}")
    out.print(table)


def path(result: Any) -> None:
    """A found path, one link a line (the command says when there is none)."""
    out.print(f"[bold]{escape(result.source)}[/]")
    for step, link in enumerate(result.links, start=1):
        decl = "declared" if link.declared else "inferred"
        pad = "   " * step
        out.print(f"{pad}└─ {link.relation.value} ({decl}) → [bold]{escape(link.child)}[/]")


def search_hits(text: str, hits: list[Any]) -> None:
    table = Table(title=f"{len(hits)} result(s) for {escape(text)!s}")
    for col in ("id", "kind", "downloads", "likes", "descendants"):
        table.add_column(
            col,
            justify="left" if col in ("id", "kind") else "right",
            overflow="fold" if col == "id" else "ellipsis",
        )
    for h in hits:
        table.add_row(
            escape(h.id), h.kind.value, num(h.downloads), num(h.likes), num(h.descendants)
        )
    out.print(table)


def stats(s: Any) -> None:
    table = Table(title=f"Genealogy in {escape(s.store)}", show_header=False)
    for k, v in s.nodes_by_kind.items():
        table.add_row(f"{k} nodes", num(v))
    for k, v in s.stubs_by_kind.items():
        if v:
            table.add_row(f"  of which {k}s only named by a link", num(v))
    for k, v in s.links_by_relation.items():
        table.add_row(f"{k} links", num(v))
    table.add_row("links whose relation was declared", num(s.declared_links))
    table.add_row(
        "cycles (strongly connected groups)", f"{s.cycles:,} ({s.nodes_in_cycles:,} nodes)"
    )
    for snap in s.snapshots:
        taken = snap["taken_at"].date().isoformat() if snap["taken_at"] else "undated"
        table.add_row(
            f"snapshot {snap['id']}",
            f"{escape(snap['source'])}, data of {taken}: {escape(snap['label'])}",
        )
    out.print(table)


def snapshots(snaps: list[dict[str, Any]]) -> None:
    table = Table(title="Snapshots")
    for col in ("id", "source", "data of", "ingested", "status", "current", "label"):
        table.add_column(col)
    for s in snaps:
        table.add_row(
            str(s["id"]),
            escape(s["source"]),
            s["taken_at"].date().isoformat() if s["taken_at"] else "—",
            s["finished_at"].isoformat(timespec="seconds") if s["finished_at"] else "—",
            s["status"],
            "yes" if s["current"] else "",
            escape(s["label"]),
        )
    out.print(table)


def diff(d: Any) -> None:
    then = ", ".join(f"{s['id']} ({escape(s['source'])})" for s in d.before)
    now = ", ".join(f"{s['id']} ({escape(s['source'])})" for s in d.after)
    scope = f"family of {escape(d.root)}" if d.root else "whole genealogy"
    out.print(f"{scope}: snapshots {then} → {now}")
    table = Table(title="Changes")
    for col in ("change", "model", "parents then", "parents now"):
        table.add_column(col, overflow="fold")
    for m in d.appeared:
        table.add_row("[green]appeared[/]", escape(m), "", "")
    for m in d.disappeared:
        table.add_row("[red]disappeared[/]", escape(m), "", "")
    for c in d.changed_parents:
        table.add_row(
            "[yellow]parents changed[/]",
            escape(c.id),
            escape(", ".join(c.before) or "—"),
            escape(", ".join(c.after) or "—"),
        )
    out.print(table)
    out.print(
        f"{len(d.appeared):,} appeared, {len(d.disappeared):,} disappeared, "
        f"{len(d.changed_parents):,} changed parents"
    )


def watch_list(items: list[Any]) -> None:
    table = Table(title="Watch list")
    for col in ("id", "kind", "added", "last check", "descendants then"):
        table.add_column(col, overflow="fold")
    for w in items:
        table.add_row(
            escape(w.id),
            w.kind,
            w.added_at.isoformat(timespec="seconds"),
            w.checked_at.isoformat(timespec="seconds") if w.checked_at else "—",
            num(w.known),
        )
    out.print(table)


def watch_reports(reports: list[Any]) -> None:
    for r in reports:
        since = r.since.isoformat(timespec="seconds") if r.since else "—"
        out.print(f"[bold]{escape(r.id)}[/]: {len(r.new):,} new descendant(s) since {since}")
        for n in r.new:
            out.print(f"  + {escape(n.id)} ({n.relation} of {escape(n.via or '—')})")


def dossier(d: Any, limit: int, lang: str = "en") -> None:
    """A rights dossier's summary: affected models, then publishers, ``limit`` rows each, in
    ``lang`` (the words of :mod:`filiation.i18n`, as the exports and the web page)."""
    from functools import partial

    from filiation import i18n

    t = partial(i18n.translate, lang)
    n = partial(i18n.number, lang)
    right = t(f"dossier.right.{d.right.value}")
    counts = t(
        "dossier.counts",
        models=t("dossier.models_n", count=len(d.affected)),
        publishers=t("dossier.publishers_n", count=len(d.publishers)),
    )
    kind = t(f"kind.{d.source_kind}")
    out.print(f"[bold]{escape(d.source_id)}[/] ({escape(kind)}) · {escape(right)} · {counts}")
    cols = [t(f"dossier.col_{c}") for c in ("model", "publisher", "downloads", "descendants")]
    table = Table(title=t("dossier.affected"))
    for col in ("#", *cols, t("dossier.col_path")):
        table.add_column(col, overflow="fold")
    for m in d.affected[:limit]:
        links = " → ".join(
            f"{i18n.table(lang).get(f'rel.{lk.relation}', lk.relation)}{'' if lk.declared else '*'}"
            for lk in m.path
        ) or t("dossier.source_itself")
        table.add_row(
            str(m.rank),
            escape(m.id),
            escape(m.publisher or "—"),
            n(m.downloads),
            n(m.descendants),
            escape(links),
        )
    out.print(table)
    if len(d.affected) > limit:
        out.print(escape(t("dossier.cli_more", count=len(d.affected) - limit)))
    out.print(escape(t("dossier.cli_inferred_mark")))
    if d.possibly_affected:
        conf = i18n.decimal(lang, d.suspect_min_confidence, 1)
        maybe = Table(title=t("dossier.cli_possibly", confidence=conf))
        for col in ("#", cols[0], cols[1], t("dossier.col_path")):
            maybe.add_column(col, overflow="fold")
        for m in d.possibly_affected[:limit]:
            maybe.add_row(
                str(m.rank),
                escape(m.id),
                escape(m.publisher or "—"),
                " → ".join(
                    str(i18n.table(lang).get(f"rel.{lk.relation}", lk.relation))
                    + (
                        f" ({i18n.decimal(lang, lk.confidence)})"
                        if lk.confidence is not None
                        else ""
                    )
                    for lk in m.path
                ),
            )
        out.print(maybe)
    pubs = Table(title=t("dossier.publishers"))
    for col in ("col_publisher", "col_models", "status", "col_since", "hub_page"):
        pubs.add_column(t(f"dossier.{col}"))
    for p in d.publishers[:limit]:
        pubs.add_row(
            escape(p.name),
            n(len(p.models)),
            t(f"status.{p.status.value}") + (f" ({escape(p.ground)})" if p.ground else ""),
            i18n.date(lang, p.updated_at) if p.updated_at else "—",
            p.url or "—",
        )
    out.print(pubs)


def suspects(links: Sequence[Any], min_confidence: float) -> Table:
    """Suspected parents (``filiation infer``), with the signals that weighed most."""
    table = Table(title=f"Suspected parents (confidence ≥ {min_confidence:g})")
    for col in ("confidence", "child", "suspected parent", "relation", "evidence"):
        table.add_column(col, justify="right" if col == "confidence" else "left")
    for link in links:
        ev = link.evidence
        said = [str(ev.get("name_match", ""))]
        if ev.get("child_flags"):
            said.append("child: " + ", ".join(ev["child_flags"]))
        if ev.get("same_publisher"):
            said.append("same publisher")
        same_size = ev.get("child_parameters") == ev.get("parent_parameters") is not None
        if same_size and "parameter" not in said[0]:
            said.append("same parameter count")
        table.add_row(
            f"{link.confidence:.2f}",
            escape(link.child),
            escape(link.parent),
            link.relation,
            escape("; ".join(s for s in said if s)),
        )
    return table


def check_report(report: Any) -> None:
    """``filiation check``: counts per rule, what was not evaluated, then each flag."""
    where = escape(report.node) if report.node else "the genealogy"
    out.print(f"{report.summary()} — {where}, {report.links_checked:,} links checked")
    table = Table("rule", "flagged", "what it means", box=None)
    for name, count in report.counts.items():
        table.add_row(name, f"{count:,}", report.rule_meanings.get(name, ""))
    out.print(table)
    for name, why in report.not_evaluated.items():
        out.print(f"[yellow]{name} not evaluated: {escape(why)}[/]")
    for f in report.flags:
        values = ", ".join(f"{k} {v}" for k, v in f.values.items())
        out.print(
            f"{escape(f.child)} ← {escape(f.parent)} ({f.relation}): [red]{f.rule}[/]"
            + (f" [dim]{escape(values)}[/]" if values else "")
        )
    if report.truncated:
        out.print(f"[yellow]more flags exist beyond --limit ({len(report.flags)} shown)[/]")


def checks_line(report: Any) -> None:
    """Under ``show``: ``checks: none``, or the flags of the model's own links."""
    colour = "yellow" if report.flags else "dim"
    out.print(f"[{colour}]{escape(report.summary())}[/]")
    for f in report.flags:
        values = ", ".join(f"{k} {v}" for k, v in f.values.items())
        out.print(
            f"  {escape(f.child)} ← {escape(f.parent)} ({f.relation}): {f.rule}"
            + (f" [dim]{escape(values)}[/]" if values else "")
        )
