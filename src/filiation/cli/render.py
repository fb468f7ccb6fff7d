"""How results that are not lists look in a terminal: rich tables and trees, one function per
kind of result (lists go through :mod:`.output`, described in :mod:`.lists`).

Imported by a command when it prints (never to define the commands), so that ``--help``,
``--version`` and ``--json`` answers do not load rich.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.tree import Tree

from filiation.cli.common import err, out, state
from filiation.cli.output import num
from filiation.domain import LINEAGE_RELATIONS
from filiation.i18n import counted
from filiation.safe_text import console_text as escape

if TYPE_CHECKING:
    from rich.progress import Progress

    from filiation.results import Lineage, NodeDetails


def count(value: int | None) -> str | None:
    """A count worth a row of its own, or None to leave the row out."""
    return f"{value:,}" if value else None


# -- ingest ---------------------------------------------------------------------------------
def ingest_progress() -> Progress:
    # rich's progress bars (and its live display) load here, for an ingest, not for a show
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

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


LINEAGE_ONLY = frozenset(r.value for r in LINEAGE_RELATIONS)


def relation_counts(counts: dict[str, int], keep: frozenset[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items() if k in keep)


def details(d: NodeDetails) -> None:
    from filiation.cli import lists, output

    stub = ", stub: only named by a link" if d.stub else ""
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
        ("descendants", f"{d.descendants:,} over {counted(d.generations, 'generation')}"),
        ("citations", counted(d.citations, "model names", "models name") + " it as a parent"),
        ("trained on", ", ".join(x.id for x in d.datasets) or None),
        ("on the Hub", d.url),
    ]
    rows += [(k, str(v)) for k, v in d.extra.items()]
    # the id and the Hub URL are never folded in a narrow terminal (output.record)
    output.record([r for r in rows if r[1] is not None], title=f"{d.id} ({d.kind.value}{stub})")
    for section in lists.important(d):
        output.emit(section, "table", section=True)


def path(result: Any) -> None:
    """A found path, one link a line (the command says when there is none)."""
    out.print(f"[bold]{escape(result.source)}[/]")
    for step, link in enumerate(result.links, start=1):
        decl = "declared" if link.declared else "inferred"
        pad = "   " * step
        out.print(f"{pad}└─ {link.relation.value} ({decl}) → [bold]{escape(link.child)}[/]")


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


def dossier(d: Any, limit: int, lang: str = "en") -> None:
    """A rights dossier's summary: affected models, then publishers, ``limit`` rows each, in
    ``lang`` (the words of :mod:`filiation.i18n`, as the exports and the web page)."""
    from filiation import i18n
    from filiation.cli import lists, output

    t = partial(i18n.translate, lang)
    counts = t(
        "dossier.counts",
        models=t("dossier.models_n", count=len(d.affected)),
        publishers=t("dossier.publishers_n", count=len(d.publishers)),
    )
    kind, right = t(f"kind.{d.source_kind}"), t(f"dossier.right.{d.right.value}")
    out.print(f"[bold]{escape(d.source_id)}[/] ({escape(kind)}) · {escape(right)} · {counts}")

    for section in lists.dossier(d, limit, lang):
        output.emit(section, "table", section=True)


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
