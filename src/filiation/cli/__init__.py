"""The ``filiation`` command: each command is one call to :class:`filiation.Genealogy`.

Human output is drawn with rich (tables, trees: :mod:`.render`); ``--json`` prints the same
result as the Python API's ``to_dict()`` / ``model_dump()``, documented in ``docs/json.md``.

One module per command group: :mod:`.ingest` (ingest, scan, refresh), :mod:`.lineage` (the
questions), :mod:`.serve`, :mod:`.rights` (diff, watch, dossier, follow-up), :mod:`.registry`;
:mod:`.common` holds what they share. Defining the commands imports nothing heavy (no store,
index, rich or pydantic), so that ``--version`` and ``--help`` answer at once; each command
loads what it needs when it runs (``benchmarks/cli_startup.py`` measures it).
"""

from __future__ import annotations

from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from filiation import __version__
from filiation.cli import evidence, infer, ingest, lineage, registry, rights, serve
from filiation.cli.common import ENV_DB, err, escape, out, state
from filiation.errors import FiliationError


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
for group in (ingest, lineage, infer, evidence, serve, rights):
    app.add_typer(group.app)
app.add_typer(registry.app, name="registry")


def _version(value: bool) -> None:
    if value:
        # Plain print: rich is not loaded for a line without markup.
        print(f"filiation {__version__}")
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
    out.reset()
    err.reset()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted; nothing half-written was kept.[/]")
        raise SystemExit(130) from None


__all__ = ["app", "main"]
