"""Commands that load sources into the store: ``ingest hub-stats``, ``ingest edges``,
``scan`` (models on disk) and ``refresh`` (one family from the Hub API)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from filiation.cli import output
from filiation.cli.common import JsonOpt, err, escape, open_genealogy, print_json, state, steps
from filiation.cli.output import formatted

if TYPE_CHECKING:
    from filiation.service import Genealogy

app = typer.Typer()
ingest_app = typer.Typer(
    help="Load a source into the store as a new dated snapshot.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")


def _open_for_ingest() -> Genealogy:
    """The genealogy, in a process that ingests: pyarrow is told there is no pandas to
    look for (``arrow_without_pandas``), a quarter of a second less of a small ingest's
    start, which runs beside a busy server's workers on the same cores."""
    from filiation.service import arrow_without_pandas

    arrow_without_pandas()
    return open_genealogy()


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

    g = _open_for_ingest()
    if path is None:
        with g.reporting(err.print):
            path = g.download_hub_stats()
    try:
        total = pq.ParquetFile(path).metadata.num_rows
    except Exception:
        total = None  # the ingest itself reports what is wrong with the file
    from filiation.cli import render

    with render.ingest_progress() as progress:
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
    g = _open_for_ingest()
    with steps() as say, g.reporting(say):
        report = g.ingest_edges(edges, nodes, name=name)
    _finish_ingest(report, as_json)


def _finish_ingest(report: Any, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
    elif not state.quiet:
        from filiation.cli import render

        render.ingest_report(report)


@app.command()
@formatted
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
    fmt: str = "table",  # given by @formatted
) -> None:
    """Find models on disk and what each derives from, with the file that says so."""
    import getpass

    g = open_genealogy()
    result = g.scan(path, weights=weights)
    registered = None
    if register:  # the user is checked before anything is written
        actor = g.registry.actor(user or getpass.getuser())
        registered = g.registry.register_scan(result, actor=actor)
    report = g.ingest_scan(result, name=name) if ingest else None
    doc = result.model_dump(mode="json")
    doc["skipped"] = result.skipped
    if report is not None:
        doc["ingest"] = report.as_dict()
    if registered is not None:
        doc["registered"] = registered.model_dump(mode="json")
    from filiation.cli import lists

    output.emit(lists.scan_result(result, doc), fmt)
    if fmt != "table":
        return
    from filiation.cli import render

    if registered is not None:
        render.registered(registered)
    if report is not None and not state.quiet:
        render.ingest_report(report)


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
    g = _open_for_ingest()
    with steps() as say, g.reporting(say):
        report = g.refresh_family(model_id, depth=depth, token=token, max_models=max_models)
    _finish_ingest(report, as_json)
