"""``filiation infer``: suspected parents of the models that declare none, from the Hub's
metadata (issue 13; docs/inference.md). The guesses are stored apart from declared links and
followed by walks only when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from filiation.cli import output
from filiation.cli.common import open_genealogy, steps
from filiation.cli.output import formatted

app = typer.Typer()


@app.command()
@formatted
def infer(
    dump: Annotated[
        Path | None,
        typer.Option(
            "--dump",
            help="The hub-stats models.parquet to infer from (default: the one the current "
            "genealogy was read from).",
        ),
    ] = None,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence", min=0.0, max=1.0, help="Show suspects of at least this confidence."
        ),
    ] = 0.5,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="Show at most this many suspects.")
    ] = 50,
    fmt: str = "table",  # given by @formatted
) -> None:
    """Suspect the parents of models that declare none, from the Hub's metadata.

    Recomputes every suspect (source inferred:metadata) and stores them apart from the
    declared links; walks follow them only when asked. Each has a relation, a calibrated
    confidence and its evidence (docs/inference.md).
    """
    g = open_genealogy()
    with steps() as say, g.reporting(say):
        result = g.infer(dump, min_confidence=min_confidence, limit=limit)
    from filiation.cli import lists

    output.emit(lists.suspects(result, min_confidence), fmt)
