"""The ``filiation`` command: each command is one call to :class:`filiation.Genealogy`.

Human output is drawn with rich (tables, trees); ``--json`` prints the same result as the
Python API's ``to_dict()`` / ``model_dump()``, documented in ``docs/json.md``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
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
from typer.core import TyperGroup

from filiation import __version__
from filiation.domain import LINEAGE_RELATIONS, Relation
from filiation.errors import FiliationError
from filiation.lineage.index import DEFAULT_RANKING, RANKING_KEYS
from filiation.results import Lineage, NodeDetails
from filiation.service import ENV_DB, Genealogy


class _Group(TyperGroup):
    """Turns filiation's own errors into a one-line message and an exit code, everywhere."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FiliationError as exc:
            err.print(f"[red]Error:[/] {escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="filiation",
    help="Trace the genealogy of AI models: ancestors, descendants, training data, publishers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(
    help="Load a source into the store as a new dated snapshot.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")

out = Console(soft_wrap=False, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    db: str | None = None
    quiet: bool = False


state = State()

RELATION_HELP = (
    "Relation types to follow (repeat or comma-separate): "
    + ", ".join(r.value for r in Relation)
    + ". Default: the model-to-model ones."
)
RelationOpt = Annotated[list[str] | None, typer.Option("--relation", "-r", help=RELATION_HELP)]
DepthOpt = Annotated[
    int | None, typer.Option("--max-depth", "-d", min=0, help="Stop after this many generations.")
]
LimitOpt = Annotated[
    int | None,
    typer.Option("--limit", "-n", min=0, help="Return at most this many nodes (best known first)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (see docs/json.md).")]
KindsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        "-k",
        help="Keep only these kinds (repeat or comma-separate): model, dataset, "
        "author. With -r trained_on,published_by the walk reaches data sets and authors.",
    ),
]
MinDownloadsOpt = Annotated[
    int | None,
    typer.Option(
        "--min-downloads", min=0, help="Keep only nodes with at least this many downloads."
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Keep only nodes created on or after this date (2024-05-01)."),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Keep only nodes created on or before this date.")
]
TreeOpt = Annotated[bool, typer.Option("--tree", help="Draw the result as a tree.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"filiation {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar=ENV_DB,
            help="Store: a SQLite file path or a database URL. Default: filiation.sqlite in "
            "the user data directory.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    state.db = db
    state.quiet = quiet


@contextmanager
def _steps() -> Iterator[Callable[[str], None]]:
    """A spinner for long steps whose size is unknown (building the index...)."""
    if state.quiet or not err.is_terminal:
        yield lambda _msg: None
        return
    with err.status("working…") as status:
        yield lambda msg: status.update(escape(msg) + "…")


def _open() -> Genealogy:
    g = Genealogy(state.db)
    return g


def _ensure_index(g: Genealogy) -> None:
    with _steps() as say, g.reporting(say):
        _ = g.index


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def _num(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _count(value: int | None) -> str | None:
    """A count worth a row of its own, or None to leave the row out."""
    return f"{value:,}" if value else None


# -- ingest ---------------------------------------------------------------------------------
def _ingest_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=state.quiet,
        transient=False,
    )


def _print_report(report: Any) -> None:
    data = report.as_dict()
    table = Table(
        title=f"Snapshot {data['snapshot_id']} — {escape(data['source'])}", show_header=False
    )
    table.add_row("read from", escape(data["label"]))
    table.add_row("rows read", _num(data["rows_read"]))
    table.add_row("nodes stored", _num(data["nodes"]))
    table.add_row("links stored", _num(data["links"]))
    for reason, count in data["skipped"].items():
        table.add_row("[yellow]skipped[/]", f"{count:,} {escape(reason)}")
    for what, count in data["notes"].items():
        table.add_row("noted", f"{count:,} {escape(what)}")
    err.print(table)


@ingest_app.command("hub-stats")
def ingest_hub_stats(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A models.parquet in the hub-stats schema. Without it, the current "
            "dump is downloaded from the Hub."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest the Hub's metadata dump (cfahlgren1/hub-stats models.parquet)."""
    import pyarrow.parquet as pq

    from filiation.sources import hub_stats

    g = _open()
    if path is None:
        err.print(f"Downloading {hub_stats.HUB_STATS_REPO}/{hub_stats.HUB_STATS_FILE}…")
        path = hub_stats.download()
    try:
        total = pq.ParquetFile(path).metadata.num_rows
    except Exception:
        total = None  # the ingest itself reports what is wrong with the file
    with _ingest_progress() as progress:
        task = progress.add_task("reading and storing rows", total=total)
        step = progress.add_task("", total=None, visible=False)

        def say(msg: str) -> None:
            progress.update(step, description=escape(msg), visible=True)

        with g.reporting(say):
            report = g.ingest_hub_stats(path, progress=lambda k: progress.advance(task, k))
        progress.update(step, description="done", total=1, completed=1)
    _finish_ingest(report, as_json)


@ingest_app.command("edges")
def ingest_edges(
    edges: Annotated[Path, typer.Argument(help="CSV of links: parent_id,child_id,relation.")],
    nodes: Annotated[
        Path | None, typer.Option("--nodes", help="CSV of nodes: id,owner,... .")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Name of this source (default: the file name); ingesting "
            "the same name again replaces its previous snapshot.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest an edge list people compiled themselves."""
    g = _open()
    with _steps() as say, g.reporting(say):
        report = g.ingest_edges(edges, nodes, name=name)
    _finish_ingest(report, as_json)


def _finish_ingest(report: Any, as_json: bool) -> None:
    if as_json:
        _print_json(report.as_dict())
    elif not state.quiet:
        _print_report(report)


@app.command()
def scan(
    path: Annotated[
        Path, typer.Argument(help="A model folder, a tree of them, or the Hugging Face cache.")
    ],
    ingest: Annotated[
        bool,
        typer.Option("--ingest", help="Record the models found and their links in the store."),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="With --ingest: name of this scan (source scan:NAME); scanning under the "
            "same name again replaces its findings. Default: source 'scan'.",
        ),
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            "--register",
            help="Record the models found in the registry, each derived from its parent "
            "(a Hub model or another model of the scan), marked inferred with the file "
            "that said so. Needs the editor role.",
        ),
    ] = False,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            envvar="FILIATION_USER",
            help="With --register: registry user to act as (default: your OS user name).",
        ),
    ] = None,
    weights: Annotated[
        bool,
        typer.Option(
            "--weights",
            help="Also compare the models' weights (safetensors, int8, GGUF, PEFT adapters) "
            "and add the links they show (quantized, adapter, finetune, merge) as inferred, "
            "with a confidence and the statistic as evidence.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Find models on disk and what each derives from, with the file that says so."""
    import getpass

    g = _open()
    result = g.scan(path, weights=weights)
    registered = None
    if register:  # the user is checked before anything is written
        actor = g.registry.actor(user or getpass.getuser())
        registered = g.registry.register_scan(result, actor=actor)
    report = g.ingest_scan(result, name=name) if ingest else None
    if as_json:
        doc = result.model_dump(mode="json")
        doc["skipped"] = result.skipped
        if report is not None:
            doc["ingest"] = report.as_dict()
        if registered is not None:
            doc["registered"] = registered.model_dump(mode="json")
        _print_json(doc)
        return
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
                    + (
                        f" (weights, {link.confidence:.2f})"
                        if getattr(link, "source", "") == "weights"
                        else ""
                    )
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
    if registered is not None:
        _print_registered(registered)
    if report is not None and not state.quiet:
        _print_report(report)


def _print_registered(reg: Any) -> None:
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
def _lineage_table(lin: Lineage) -> Table:
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
            "yes" if rec["declared"] else "no",
            _num(rec["downloads"]),
            _num(rec["descendants"]),
        )
    return table


def _lineage_tree(lin: Lineage, max_nodes: int = 2000) -> Tree:
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


def _print_lineage(lin: Lineage, as_json: bool, tree: bool) -> None:
    if as_json:
        _print_json(lin.to_dict())
        return
    out.print(_lineage_tree(lin) if tree else _lineage_table(lin))
    counts = lin.relation_counts()
    if counts:
        out.print("by relation: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if lin.truncated:
        out.print(f"[yellow]truncated: more nodes exist beyond --limit ({len(lin):,} shown)[/]")
    if lin.depth_cut:
        out.print("[yellow]more generations exist beyond --max-depth[/]")


def _run(fn: Callable[[Genealogy], Any]) -> Any:
    g = _open()
    _ensure_index(g)
    return fn(g)


@app.command()
def ancestors(
    node_id: Annotated[str, typer.Argument(metavar="ID", help="A model id, e.g. author/name.")],
    relation: RelationOpt = None,
    max_depth: DepthOpt = None,
    limit: LimitOpt = None,
    kind: KindsOpt = None,
    min_downloads: MinDownloadsOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
    tree: TreeOpt = False,
) -> None:
    """Everything a model derives from, nearest first."""
    filters = {"kinds": kind, "min_downloads": min_downloads, "since": since, "until": until}
    lin = _run(
        lambda g: g.ancestors(
            node_id, relations=relation, max_depth=max_depth, limit=limit, **filters
        )
    )
    _print_lineage(lin, as_json, tree)


@app.command()
def descendants(
    node_id: Annotated[str, typer.Argument(metavar="ID", help="A model id, e.g. author/name.")],
    relation: RelationOpt = None,
    max_depth: DepthOpt = None,
    limit: LimitOpt = None,
    kind: KindsOpt = None,
    min_downloads: MinDownloadsOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
    tree: TreeOpt = False,
) -> None:
    """Everything derived from a model, nearest first, best known first."""
    filters = {"kinds": kind, "min_downloads": min_downloads, "since": since, "until": until}
    lin = _run(
        lambda g: g.descendants(
            node_id, relations=relation, max_depth=max_depth, limit=limit, **filters
        )
    )
    _print_lineage(lin, as_json, tree)


@app.command()
def impact(
    dataset: Annotated[
        str, typer.Option("--dataset", help="A data set id, e.g. HuggingFaceH4/ultrachat_200k.")
    ],
    relation: RelationOpt = None,
    max_depth: DepthOpt = None,
    limit: LimitOpt = None,
    kind: KindsOpt = None,
    min_downloads: MinDownloadsOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
    tree: TreeOpt = False,
) -> None:
    """Every model trained on a data set, and all their descendants."""
    filters = {"kinds": kind, "min_downloads": min_downloads, "since": since, "until": until}
    lin = _run(
        lambda g: g.impact(dataset, relations=relation, max_depth=max_depth, limit=limit, **filters)
    )
    _print_lineage(lin, as_json, tree)


@app.command()
def families(
    author: Annotated[str, typer.Argument(metavar="AUTHOR", help="An author id, e.g. meta-llama.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="How many families.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The families an author's models sit in: their root ancestors, most models first."""
    result = _run(lambda g: g.families(author, limit=limit))
    if as_json:
        _print_json(result.model_dump(mode="json"))
        return
    table = Table(title=f"families of {escape(result.author)}'s {result.models:,} models")
    table.add_column("root", overflow="fold")
    table.add_column("its models", justify="right")
    table.add_column("family size", justify="right")
    for f in result.families:
        table.add_row(escape(f.root.id), f"{f.members:,}", f"{f.root.descendants + 1:,}")
    out.print(table)


@app.command()
def path(
    source: Annotated[str, typer.Argument(metavar="A", help="The supposed origin.")],
    target: Annotated[str, typer.Argument(metavar="B", help="The supposed derivative.")],
    relation: RelationOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How B derives from A, if it does: a shortest chain of links."""
    result = _run(lambda g: g.path(source, target, relations=relation))
    if as_json:
        _print_json(result.model_dump(mode="json"))
        return
    if not result.found:
        out.print(
            f"{escape(result.target)} does not derive from {escape(result.source)} "
            "(through the relations followed)."
        )
        raise typer.Exit(1)
    out.print(f"[bold]{escape(result.source)}[/]")
    for step, link in enumerate(result.links, start=1):
        decl = "declared" if link.declared else "inferred"
        pad = "   " * step
        out.print(f"{pad}└─ {link.relation.value} ({decl}) → [bold]{escape(link.child)}[/]")


@app.command()
def show(
    node_id: Annotated[str, typer.Argument(metavar="ID", help="A model, data set or author id.")],
    relation: RelationOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="How many important parents and children.")
    ] = 10,
    rank_by: Annotated[
        str,
        typer.Option(
            "--rank-by",
            help="Comma-separated ranking keys for 'important' (" + ", ".join(RANKING_KEYS) + ").",
        ),
    ] = ",".join(DEFAULT_RANKING),
    kind: Annotated[
        str | None, typer.Option("--kind", help="model, dataset or author, when ids clash.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A model's indicators, direct family per relation, important parents and children."""
    ranking = [k.strip() for k in rank_by.split(",") if k.strip()]
    details: NodeDetails = _run(
        lambda g: g.show(node_id, relations=relation, limit=limit, ranking=ranking, kind=kind)
    )
    if as_json:
        _print_json(details.model_dump(mode="json"))
        return
    _print_details(details)


LINEAGE_ONLY = frozenset(r.value for r in LINEAGE_RELATIONS)


def _relation_counts(counts: dict[str, int], keep: frozenset[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items() if k in keep)


def _print_details(d: NodeDetails) -> None:
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
        ("parameters", _num(d.parameters) if d.parameters is not None else None),
        ("downloads (30 days)", _num(d.downloads) if d.downloads is not None else None),
        (
            "downloads (all time)",
            _num(d.downloads_all_time) if d.downloads_all_time is not None else None,
        ),
        ("likes", _num(d.likes) if d.likes is not None else None),
        ("parents", _relation_counts(d.parents_by_relation, LINEAGE_ONLY) or "none"),
        ("children", _relation_counts(d.children_by_relation, LINEAGE_ONLY) or "none"),
        ("published", _count(d.children_by_relation.get("published_by"))),
        ("models trained on it", _count(d.children_by_relation.get("trained_on"))),
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
                _num(n.descendants),
                _num(n.downloads),
                _num(n.likes),
            )
        out.print(table)


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Part of an id or author name (case-insensitive).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only these kinds: model, dataset, author.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find ids and authors containing TEXT, best known first."""
    hits = _run(lambda g: g.search(text, limit=limit, kinds=kind))
    if as_json:
        _print_json([h.model_dump(mode="json") for h in hits])
        return
    table = Table(title=f"{len(hits)} result(s) for {escape(text)!s}")
    for col in ("id", "kind", "downloads", "likes", "descendants"):
        table.add_column(
            col,
            justify="left" if col in ("id", "kind") else "right",
            overflow="fold" if col == "id" else "ellipsis",
        )
    for h in hits:
        table.add_row(
            escape(h.id), h.kind.value, _num(h.downloads), _num(h.likes), _num(h.descendants)
        )
    out.print(table)


@app.command()
def stats(as_json: JsonOpt = False) -> None:
    """What is loaded: nodes per kind, links per relation, snapshots, cycles."""
    s = _run(lambda g: g.stats())
    if as_json:
        _print_json(s.model_dump(mode="json"))
        return
    table = Table(title=f"Genealogy in {escape(s.store)}", show_header=False)
    for k, v in s.nodes_by_kind.items():
        table.add_row(f"{k} nodes", _num(v))
    for k, v in s.stubs_by_kind.items():
        if v:
            table.add_row(f"  of which {k}s only named by a link", _num(v))
    for k, v in s.links_by_relation.items():
        table.add_row(f"{k} links", _num(v))
    table.add_row("links whose relation was declared", _num(s.declared_links))
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


@app.command()
def snapshots(as_json: JsonOpt = False) -> None:
    """Every snapshot in the store, and which ones make up the current genealogy."""
    snaps = _open().snapshots()
    if as_json:
        _print_json(snaps)
        return
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


@app.command()
def export(
    node_id: Annotated[str, typer.Argument(metavar="ID", help="A model, data set or author id.")],
    format: Annotated[
        str,
        typer.Option("--format", "-f", help="Output format (see `filiation export --help`)."),
    ] = "json",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", dir_okay=False, help="File to write (default: standard output)."
        ),
    ] = None,
    direction: Annotated[
        str, typer.Option("--direction", help="ancestors, descendants or both (graph formats).")
    ] = "both",
    relation: RelationOpt = None,
    max_depth: DepthOpt = None,
    limit: LimitOpt = None,
    kind: KindsOpt = None,
    min_downloads: MinDownloadsOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    node_kind: Annotated[
        str | None,
        typer.Option(
            "--node-kind",
            help="What ID is when ids clash: model, dataset or author (default: the model, "
            "else the data set, else the author). A data set's lineage is its impact set; an "
            "author's, its models and what derives from them.",
        ),
    ] = None,
) -> None:
    """Write a node's lineage in an exchange format (an unknown --format lists them all)."""
    result = _run(
        lambda g: g.export(
            node_id,
            format,
            kind=node_kind,
            direction=direction,
            relations=relation,
            max_depth=max_depth,
            limit=limit,
            kinds=kind,
            min_downloads=min_downloads,
            since=since,
            until=until,
        )
    )
    if output is None:
        sys.stdout.buffer.write(result.content)
        sys.stdout.buffer.flush()
        return
    # Written beside the target then renamed: an interrupted export leaves no half file.
    tmp = output.with_name(f".{output.name}.part")
    try:
        tmp.write_bytes(result.content)
        tmp.replace(output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise FiliationError(f"cannot write {output}: {exc.strerror or exc}") from None
    err.print(f"wrote {escape(str(output))} ({len(result.content):,} bytes)")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8000,
    db: Annotated[
        str | None, typer.Option("--db", help="Store to serve (default: the global --db).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes answering requests; they share one memory-mapped index.",
        ),
    ] = 1,
    refresh: Annotated[
        float,
        typer.Option(
            "--refresh",
            min=0.0,
            help="Seconds between checks for a new snapshot (ingested by another process); "
            "each process then maps its index without a restart.",
        ),
    ] = 1.0,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses (or *) of reverse proxies whose X-Forwarded-For "
            "and X-Forwarded-Proto headers are trusted, so that behind a TLS proxy the "
            "registry's session cookie is marked Secure (default: 127.0.0.1, or "
            "$FORWARDED_ALLOW_IPS).",
        ),
    ] = None,
) -> None:
    """Serve the web explorer and the JSON API with uvicorn (API documentation at /docs)."""
    import socket

    import uvicorn

    from filiation.api import app as api_app
    from filiation.errors import InvalidArgumentError

    g = Genealogy(db or state.db)
    # Built (or the bundled sample loaded) once, here, before any worker starts.
    _ensure_index(g)
    # Bind here rather than in uvicorn: a busy port is one clear line, and --port 0 can say
    # which port it got; the workers share this socket.
    sock: socket.socket | None = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise InvalidArgumentError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    err.print(
        f"filiation on http://{shown}:{bound_port}/ (web explorer), API on "
        f"http://{shown}:{bound_port}/api, documentation on "
        f"http://{shown}:{bound_port}/docs"
        + (f", {workers} workers" if workers > 1 else "")
        + " (Ctrl-C to stop)",
        markup=False,
    )
    options: dict[str, Any] = {
        "log_level": "warning" if state.quiet else "info",
        "access_log": not state.quiet,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
        "proxy_headers": True,
    }
    if forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = forwarded_allow_ips
    with sock:
        if workers == 1:
            config = uvicorn.Config(api_app.create_app(g, refresh=refresh), **options)
            uvicorn.Server(config).run(sockets=[sock])
            return
        from uvicorn.supervisors import Multiprocess

        # Workers are new processes (spawned, not forked: nothing of this one's connections
        # or threads is inherited); they find the store and settings in their environment.
        # The URL may hold a password: the environment is readable by this user only.
        os.environ[ENV_DB] = g.store.url
        os.environ[api_app.ENV_REFRESH] = repr(refresh)
        sock.set_inheritable(True)
        config = uvicorn.Config(
            "filiation.api.app:app_from_env", factory=True, workers=workers, **options
        )
        del g  # this process only supervises
        Multiprocess(config, sockets=[sock]).run()


def _add_registry() -> None:
    from filiation.registry.cli import registry_app

    app.add_typer(registry_app, name="registry")


_add_registry()


# -- live refresh, history, watch -----------------------------------------------------------
@app.command()
def refresh(
    model_id: Annotated[
        str, typer.Argument(metavar="ID", help="The model whose family to refresh.")
    ],
    depth: Annotated[
        int, typer.Option("--depth", "-d", min=0, help="Generations of descendants to fetch.")
    ] = 1,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="HF_TOKEN",
            help="Hub token (private or gated models; "
            "higher rate limits). Default: HF_TOKEN or the saved login.",
        ),
    ] = None,
    max_models: Annotated[
        int, typer.Option("--max-models", min=1, help="Stop listing after this many models.")
    ] = 10_000,
    as_json: JsonOpt = False,
) -> None:
    """Bring one family up to date from the Hub API (a new snapshot of source hub-api:ID)."""
    g = _open()
    with _steps() as say, g.reporting(say):
        report = g.refresh_family(model_id, depth=depth, token=token, max_models=max_models)
    _finish_ingest(report, as_json)


@app.command()
def diff(
    since: Annotated[
        str, typer.Option("--since", help="Compare the snapshots of this date (ISO) with now.")
    ],
    node_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Only this model's family.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Only this source's snapshots, e.g. hub-api:ID."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Models that appeared, disappeared or changed parents since a date (kept snapshots)."""
    g = _open()
    _ensure_index(g)
    d = g.diff(since, node_id, source=source)
    if as_json:
        _print_json(d.model_dump(mode="json"))
        return
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


watch_app = typer.Typer(
    help="Follow models or data sets: report new descendants since the last check.",
    no_args_is_help=True,
)
app.add_typer(watch_app, name="watch")


@watch_app.command("add")
def watch_add(
    node_id: Annotated[str, typer.Argument(metavar="ID", help="A model or data set id.")],
    kind: Annotated[
        str | None, typer.Option("--kind", help="model or dataset, when an id is both.")
    ] = None,
) -> None:
    """Start following an id; its current descendants are the baseline."""
    w = _run(lambda g: g.watch.add(node_id, kind))
    out.print(f"watching {escape(w.id)} ({w.kind}): {w.known:,} descendants now")


@watch_app.command("list")
def watch_list(as_json: JsonOpt = False) -> None:
    """The watched ids and their last check."""
    items = _open().watch.list()
    if as_json:
        _print_json([w.model_dump(mode="json") for w in items])
        return
    table = Table(title="Watch list")
    for col in ("id", "kind", "added", "last check", "descendants then"):
        table.add_column(col, overflow="fold")
    for w in items:
        table.add_row(
            escape(w.id),
            w.kind,
            w.added_at.isoformat(timespec="seconds"),
            w.checked_at.isoformat(timespec="seconds") if w.checked_at else "—",
            _num(w.known),
        )
    out.print(table)


@watch_app.command("remove")
def watch_remove(
    node_id: Annotated[str, typer.Argument(metavar="ID", help="A watched id.")],
) -> None:
    """Stop following an id."""
    _open().watch.remove(node_id)
    out.print(f"no longer watching {escape(node_id)}")


@watch_app.command("check")
def watch_check(
    post: Annotated[
        str | None, typer.Option("--post", help="Also POST the report as JSON to this URL.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the new descendants of every watched id since its last check."""
    reports = _run(lambda g: g.watch.check(post=post))
    if as_json:
        _print_json([r.model_dump(mode="json") for r in reports])
        return
    for r in reports:
        since = r.since.isoformat(timespec="seconds") if r.since else "—"
        out.print(f"[bold]{escape(r.id)}[/]: {len(r.new):,} new descendant(s) since {since}")
        for n in r.new:
            out.print(f"  + {escape(n.id)} ({n.relation} of {escape(n.via or '—')})")


# -- rights requests ------------------------------------------------------------------------
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="The model concerned by the request.")
]
DatasetOpt = Annotated[
    str | None, typer.Option("--dataset", help="The data set concerned by the request.")
]
RightOpt = Annotated[
    str,
    typer.Option(
        "--right",
        help="The right exercised: access (art. 15), erasure (art. 17), objection (art. 21).",
    ),
]


@app.command()
def dossier(
    model: ModelOpt = None,
    dataset: DatasetOpt = None,
    right: RightOpt = "erasure",
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Export as md, csv, pdf or json (default: a summary)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the export to this file.")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the letters: en or fr.")] = "en",
    letters: Annotated[
        bool, typer.Option("--letters", help="Print the letter to each publisher.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Rows of the summary tables.")
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The rights dossier of a request: affected models, publishers to contact, letters."""
    from filiation.errors import InvalidArgumentError

    g = _open()
    _ensure_index(g)
    d = g.dossier(model=model, dataset=dataset, right=right)
    if as_json:
        fmt = "json"
    if fmt is not None:
        data = g.export_dossier(d, fmt, lang)
        if output is not None:
            try:
                tmp = output.with_name(output.name + ".part")
                tmp.write_bytes(data)
                tmp.replace(output)
            except OSError as exc:
                raise InvalidArgumentError(
                    f"cannot write {output}: {exc.strerror or exc}"
                ) from None
            err.print(f"{fmt} dossier written to {output}", markup=False)
        elif fmt == "pdf" and sys.stdout.isatty():
            raise InvalidArgumentError("a PDF is not for a terminal: give --output FILE")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return
    out.print(
        f"[bold]{escape(d.source_id)}[/] ({d.source_kind}): right of {d.right.value} "
        f"(GDPR Article {d.article}); {len(d.affected):,} affected model(s), "
        f"{len(d.publishers):,} publisher(s)"
    )
    table = Table(title="Affected models (widest reach first)")
    for col in ("#", "model", "publisher", "downloads", "descendants", "path"):
        table.add_column(col, overflow="fold")
    for m in d.affected[:limit]:
        links = (
            " → ".join(f"{lk.relation}{'' if lk.declared else '*'}" for lk in m.path) or "source"
        )
        table.add_row(
            str(m.rank),
            escape(m.id),
            escape(m.publisher or "—"),
            _num(m.downloads),
            _num(m.descendants),
            links,
        )
    out.print(table)
    if len(d.affected) > limit:
        out.print(f"… and {len(d.affected) - limit:,} more (--limit, or --format csv)")
    out.print("* inferred link (not declared by the publisher)")
    pubs = Table(title="Publishers to contact")
    for col in ("publisher", "models", "status", "since", "Hub page"):
        pubs.add_column(col)
    for p in d.publishers[:limit]:
        pubs.add_row(
            escape(p.name),
            str(len(p.models)),
            p.status.value + (f" ({escape(p.ground)})" if p.ground else ""),
            p.updated_at.date().isoformat() if p.updated_at else "—",
            p.url or "—",
        )
    out.print(pubs)
    if letters:
        for letter in g.dossier_letters(d, lang):
            out.rule(escape(letter.subject))
            out.print(letter.body, markup=False)


@app.command()
def followup(
    publisher: Annotated[str, typer.Argument(help="The publisher (author) contacted.")],
    status: Annotated[str, typer.Argument(help="to_contact, sent, answered, refused or done.")],
    model: ModelOpt = None,
    dataset: DatasetOpt = None,
    right: RightOpt = "erasure",
    ground: Annotated[
        str | None,
        typer.Option("--ground", help="Why the publisher refused, e.g. 'Article 12(5)'."),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free text kept with it.")] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="When it happened (ISO date; default now).")
    ] = None,
) -> None:
    """Record where a rights request to one publisher stands (stored, with its date)."""
    from datetime import datetime

    from filiation.errors import InvalidArgumentError

    at = None
    if date is not None:
        try:
            at = datetime.fromisoformat(date)
        except ValueError:
            raise InvalidArgumentError(f"not an ISO date: {date!r} (e.g. 2026-11-22)") from None
    g = _open()
    _ensure_index(g)
    event = g.follow_up(
        model=model,
        dataset=dataset,
        right=right,
        publisher=publisher,
        status=status,
        ground=ground,
        note=note,
        at=at,
    )
    out.print(
        f"{escape(event.publisher)}: {event.status.value}"
        + (f" ({escape(event.ground)})" if event.ground else "")
        + f" on {event.at.isoformat(timespec='seconds')}"
    )


# -- verify and check (issue 13 items 4 and 5; self-contained: the lead ports this block) ---
@app.command()
def verify(
    child: Annotated[str, typer.Argument(metavar="CHILD", help="The model to verify.")],
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="The parent to test. Default: each of CHILD's parents in the genealogy, "
            "declared or suspected.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="HF_TOKEN", help="Hub token (private or gated models)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Test a link by the weights: read a few tensors of both models from the Hub (byte
    ranges of their safetensors, through HF_ENDPOINT) and record the verdict."""
    from filiation.inference.verification import verify as run_verify

    g = _open()
    _ensure_index(g)
    with _steps() as say:
        say(f"reading tensors of {child} from the Hub")
        report = run_verify(g, child, against, token=token)
    if as_json:
        _print_json(report.to_dict())
        return
    colour = {"confirmed": "green", "rejected": "red", "inconclusive": "yellow"}
    for v in report.results:
        stat = "—" if v.statistic is None else f"{v.statistic:.4g}"
        name = v.detail.get("statistic_name") or "statistic"
        out.print(
            f"{escape(v.child)} ← {escape(v.parent)}"
            + (f" ({v.relation})" if v.relation else "")
            + f": [{colour[v.verdict]}]{v.verdict}[/], {escape(str(name))} {stat}, "
            + f"{v.bytes_read:,} bytes read"
        )
        if v.verdict == "inconclusive" and v.detail.get("reason"):
            out.print(f"  [dim]{escape(str(v.detail['reason']))}[/]")
    out.print(f"[dim]{report.bytes_read:,} bytes read in all; verdicts recorded[/]")


@app.command()
def check(
    node_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="A model; default: the whole genealogy."),
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Only these rules (repeat or comma-separate)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Flags listed at most (all counted).")
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Flag links of the genealogy that the evidence contradicts: a parent of another
    architecture or size, a child older than its parent, a GGUF-only "finetune", a one-parent
    merge, a cycle."""
    from filiation.inference.checks import RULES, check_genealogy

    rules = [r.strip() for item in rule or [] for r in item.split(",") if r.strip()] or None
    g = _open()
    _ensure_index(g)
    with _steps() as say, g.reporting(say):
        report = check_genealogy(g, node_id, limit=limit, rules=rules)
    if as_json:
        _print_json(report.to_dict())
        return
    where = escape(report.node) if report.node else "the genealogy"
    out.print(f"{report.summary()} — {where}, {report.links_checked:,} links checked")
    table = Table("rule", "flagged", "what it means", box=None)
    for name, count in report.counts.items():
        table.add_row(name, f"{count:,}", RULES[name])
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted; nothing half-written was kept.[/]")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
