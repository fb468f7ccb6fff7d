"""Following the genealogy over time and the rights of the people in it: ``diff`` (what
changed since a date), ``watch`` (new descendants of followed ids), ``dossier`` (a GDPR
request's affected models and publishers) and ``followup`` (where a request stands)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from filiation.cli import output
from filiation.cli.common import (
    JsonOpt,
    ensure_index,
    err,
    escape,
    open_genealogy,
    out,
    parse_moment,
    run,
    write_atomically,
)
from filiation.cli.output import formatted
from filiation.errors import InvalidArgumentError

app = typer.Typer()


@app.command()
@formatted
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
    fmt: str = "table",  # given by @formatted
) -> None:
    """Models that appeared, disappeared or changed parents since a date (kept snapshots)."""
    g = open_genealogy()
    ensure_index(g)
    d = g.rights.diff(since, node_id, source=source)
    from filiation.cli import lists

    output.emit(lists.diff(d), fmt)


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
    w = run(lambda g: g.rights.watch.add(node_id, kind))
    out.print(f"watching {escape(w.id)} ({w.kind}): {w.known:,} descendants now")


@watch_app.command("list")
@formatted
def watch_list(fmt: str = "table") -> None:
    """The watched ids and their last check."""
    items = open_genealogy().rights.watch.list()
    from filiation.cli import lists

    output.emit(lists.watch_list(items), fmt)


@watch_app.command("remove")
def watch_remove(
    node_id: Annotated[str, typer.Argument(metavar="ID", help="A watched id.")],
) -> None:
    """Stop following an id."""
    open_genealogy().rights.watch.remove(node_id)
    out.print(f"no longer watching {escape(node_id)}")


@watch_app.command("check")
@formatted
def watch_check(
    post: Annotated[
        str | None, typer.Option("--post", help="Also POST the report as JSON to this URL.")
    ] = None,
    fmt: str = "table",  # given by @formatted
) -> None:
    """Print the new descendants of every watched id since its last check."""
    reports = run(lambda g: g.rights.watch.check(post=post))
    from filiation.cli import lists

    output.emit(lists.watch_reports(reports), fmt)


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
        typer.Option(
            "--format",
            "-f",
            help="Export as md, csv, pdf or json, or ids: the affected models' ids, one a "
            "line (default: a summary).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the export to this file.")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the summary, exports and letters: en or fr.")
    ] = "en",
    grounds: Annotated[
        list[str] | None,
        typer.Option(
            "--grounds",
            help="Erasure: the grounds of Article 17(1), a to f (e.g. --grounds a,d).",
        ),
    ] = None,
    direct_marketing: Annotated[
        bool,
        typer.Option("--direct-marketing", help="Objection: to direct marketing (Article 21(2))."),
    ] = False,
    letters: Annotated[
        bool, typer.Option("--letters", help="Print the letter to each publisher.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Rows of the summary tables.")
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The rights dossier of a request: affected models, publishers to contact, letters."""
    g = open_genealogy()
    ensure_index(g)
    d = g.rights.dossier(model=model, dataset=dataset, right=right)
    options = {"grounds": grounds, "direct_marketing": direct_marketing}
    if as_json:
        fmt = "json"
    if fmt == "ids":  # the affected models' ids, one a line (for xargs)
        from filiation.cli import lists
        from filiation.cli.output import emit

        emit(lists.dossier(d, len(d.affected))[0], fmt)
        return
    if fmt is not None:
        data = g.rights.export_dossier(d, fmt, lang, **options)
        if output is not None:
            write_atomically(output, data)
            err.print(f"{fmt} dossier written to {output}", markup=False)
        elif fmt == "pdf" and sys.stdout.isatty():
            raise InvalidArgumentError("a PDF is not for a terminal: give --output FILE")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return
    from filiation.cli import render

    render.dossier(d, limit, lang)
    if letters:
        for letter in g.rights.letters(d, lang, **options):
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
    at = parse_moment(date, "--date")
    g = open_genealogy()
    ensure_index(g)
    event = g.rights.follow_up(
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
