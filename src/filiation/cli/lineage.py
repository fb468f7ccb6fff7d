"""The questions: ``show``, ``ancestors``, ``descendants``, ``path``, ``impact``, ``search``,
``families``, ``export``, ``stats`` and ``snapshots``.

The commands that walk the genealogy take the same traversal options; :func:`traversal` adds
them to a command and hands it one :class:`~filiation.lineage.query.TraversalQuery` built
from them, which goes to the service unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from filiation.cli import output
from filiation.cli.common import (
    DepthOpt,
    JsonOpt,
    KindsOpt,
    LimitOpt,
    MinConfidenceOpt,
    MinDownloadsOpt,
    OptionSpec,
    RelationOpt,
    SinceOpt,
    SuspectedOpt,
    TreeOpt,
    UntilOpt,
    ensure_index,
    err,
    escape,
    open_genealogy,
    option_set,
    out,
    print_json,
    run,
    write_atomically,
)
from filiation.cli.output import formatted
from filiation.domain import DEFAULT_RANKING, RANKING_KEYS, NodeKind, listed
from filiation.errors import InvalidArgumentError

if TYPE_CHECKING:
    from filiation.lineage.query import TraversalQuery
    from filiation.results import Lineage

app = typer.Typer()

#: The traversal options, in the order ``--help`` lists them, with their defaults; their
#: values build the query.
_TRAVERSAL_OPTIONS: tuple[OptionSpec, ...] = (
    ("relation", RelationOpt, None),
    ("max_depth", DepthOpt, None),
    ("limit", LimitOpt, None),
    ("kind", KindsOpt, None),
    ("min_downloads", MinDownloadsOpt, None),
    ("since", SinceOpt, None),
    ("until", UntilOpt, None),
    ("include_suspected", SuspectedOpt, False),
    ("min_confidence", MinConfidenceOpt, None),
)


def _query(values: dict[str, Any], given: dict[str, Any]) -> TraversalQuery:
    # Imported here, when a command runs: the query's module loads numpy. A bad value is a
    # clear error (exit code 2).
    from filiation.lineage.query import TraversalQuery

    return TraversalQuery.from_options(**values, node_kind=given.get("node_kind"))


#: Gives a command the traversal options in place of its ``query`` parameter, and the query
#: built from their values (with ``node_kind``, when the command has that option, as the
#: starting node's kind). ``TraversalQuery`` is imported only for type checking (importing it
#: would load numpy): its annotation resolves to a stand-in.
traversal = option_set("query", _TRAVERSAL_OPTIONS, _query, {"TraversalQuery": object})


NodeArg = Annotated[str, typer.Argument(metavar="ID", help="A model id, e.g. author/name.")]


def _print_lineage(lin: Lineage, fmt: str, tree: bool) -> None:
    from filiation.cli import lists

    listing = lists.lineage(lin)
    if not tree:
        output.emit(listing, fmt)
        return
    if fmt != "table":
        raise InvalidArgumentError(f"--tree draws the result: it cannot be --format {fmt}")
    from filiation.cli import render

    out.print(render.lineage_tree(lin))
    output.remarks(listing, terminal=True)


def _walk_command(question: str, doc: str) -> None:
    """Add the command ``question`` (``ancestors`` or ``descendants``): the two walks take the
    same argument and options and differ only in the service's question they ask."""

    def command(
        node_id: NodeArg,
        query: TraversalQuery,
        fmt: str = "table",  # given by @formatted
        tree: TreeOpt = False,
    ) -> None:
        lin = run(lambda g: getattr(g, question)(node_id, query=query))
        _print_lineage(lin, fmt, tree)

    command.__doc__ = doc
    command.__name__ = question
    app.command(question)(formatted(traversal(command)))


_walk_command("ancestors", "Everything a model derives from, nearest first.")
_walk_command("descendants", "Everything derived from a model, nearest first, best known first.")


@app.command()
@formatted
@traversal
def impact(
    dataset: Annotated[
        str, typer.Option("--dataset", help="A data set id, e.g. HuggingFaceH4/ultrachat_200k.")
    ],
    query: TraversalQuery,
    fmt: str = "table",  # given by @formatted
    tree: TreeOpt = False,
) -> None:
    """Every model trained on a data set, and all their descendants."""
    _print_lineage(run(lambda g: g.impact(dataset, query=query)), fmt, tree)


@app.command()
@formatted
def families(
    author: Annotated[str, typer.Argument(metavar="AUTHOR", help="An author id, e.g. meta-llama.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="How many families.")] = 20,
    fmt: str = "table",  # given by @formatted
) -> None:
    """The families an author's models sit in: their root ancestors, most models first."""
    result = run(lambda g: g.families(author, limit=limit))
    from filiation.cli import lists

    output.emit(lists.families(result), fmt)


@app.command()
def path(
    source: Annotated[str, typer.Argument(metavar="A", help="The supposed origin.")],
    target: Annotated[str, typer.Argument(metavar="B", help="The supposed derivative.")],
    relation: RelationOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How B derives from A, if it does: a shortest chain of links."""
    result = run(lambda g: g.path(source, target, relations=relation))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    if not result.found:
        out.print(
            f"{escape(result.target)} does not derive from {escape(result.source)} "
            "(through the relations followed)."
        )
        raise typer.Exit(1)
    from filiation.cli import render

    render.path(result)


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
            help="Comma-separated ranking keys for 'important' ("
            + ", ".join(RANKING_KEYS)
            + "); the CNIL demonstrator's order is citations,downloads.",
        ),
    ] = ",".join(DEFAULT_RANKING),
    kind: Annotated[
        str | None, typer.Option("--kind", help=f"{listed(NodeKind, ' or ')}, when ids clash.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A model's indicators, direct family per relation, important parents and children."""
    ranking = [k.strip() for k in rank_by.split(",") if k.strip()]
    g = open_genealogy()
    ensure_index(g)
    details = g.show(node_id, relations=relation, limit=limit, ranking=ranking, kind=kind)
    if as_json:
        print_json(details.model_dump(mode="json"))
        return
    from filiation.cli import render

    render.details(details)
    if details.kind == "model":  # declared links of this model that the evidence contradicts
        render.checks_line(g.check(details.id, limit=limit))


@app.command()
@formatted
def search(
    text: Annotated[str, typer.Argument(help="Part of an id or author name (case-insensitive).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help=f"Only these kinds: {listed(NodeKind)}.")
    ] = None,
    fmt: str = "table",  # given by @formatted
) -> None:
    """Find ids and authors containing TEXT, best known first."""
    hits = run(lambda g: g.search(text, limit=limit, kinds=kind))
    from filiation.cli import lists

    output.emit(lists.search_hits(text, hits), fmt)


@app.command()
def stats(as_json: JsonOpt = False) -> None:
    """What is loaded: nodes per kind, links per relation, snapshots, cycles."""
    s = run(lambda g: g.stats())
    if as_json:
        print_json(s.model_dump(mode="json"))
        return
    from filiation.cli import render

    render.stats(s)


@app.command()
@formatted
def snapshots(fmt: str = "table") -> None:
    """Every snapshot in the store, and which ones make up the current genealogy."""
    snaps = open_genealogy().snapshots()
    from filiation.cli import lists

    output.emit(lists.snapshots(snaps), fmt)


@app.command()
@traversal
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
    query: TraversalQuery | None = None,  # always given by @traversal
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
    result = run(lambda g: g.export(node_id, format, direction=direction, query=query))
    if output is None:
        sys.stdout.buffer.write(result.content)
        sys.stdout.buffer.flush()
        return
    write_atomically(output, result.content)
    err.print(f"wrote {escape(str(output))} ({len(result.content):,} bytes)")
