"""Commands that weigh the genealogy's links against evidence: ``verify`` (a link tested by
the weights of both models, read from the Hub) and ``check`` (declared links the metadata
contradicts). docs/verification.md."""

from __future__ import annotations

from typing import Annotated

import typer

from filiation.cli import output
from filiation.cli.common import (
    JsonOpt,
    ensure_index,
    escape,
    open_genealogy,
    out,
    print_json,
    steps,
)
from filiation.cli.output import formatted

app = typer.Typer()

VERDICT_COLOURS = {"confirmed": "green", "rejected": "red", "inconclusive": "yellow"}


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
    g = open_genealogy()
    ensure_index(g)
    with steps() as say:
        say(f"reading tensors of {child} from the Hub")
        report = g.verify(child, against, token=token)
    if as_json:
        print_json(report.to_dict())
        return
    for v in report.results:
        stat = "—" if v.statistic is None else f"{v.statistic:.4g}"
        name = v.detail.get("statistic_name") or "statistic"
        out.print(
            f"{escape(v.child)} ← {escape(v.parent)}"
            + (f" ({v.relation})" if v.relation else "")
            + f": [{VERDICT_COLOURS[v.verdict]}]{v.verdict}[/], {escape(str(name))} {stat}, "
            + f"{v.bytes_read:,} bytes read"
        )
        if v.verdict == "inconclusive" and v.detail.get("reason"):
            out.print(f"  [dim]{escape(str(v.detail['reason']))}[/]")
    out.print(f"[dim]{report.bytes_read:,} bytes read in all; verdicts recorded[/]")


@app.command()
@formatted
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
    fmt: str = "table",  # given by @formatted
) -> None:
    """Flag links of the genealogy that the evidence contradicts: a parent of another
    architecture or size, a child older than its parent, a GGUF-only "finetune", a one-parent
    merge, a cycle."""
    rules = [r.strip() for item in rule or [] for r in item.split(",") if r.strip()] or None
    g = open_genealogy()
    ensure_index(g)
    with steps() as say, g.reporting(say):
        report = g.check(node_id, limit=limit, rules=rules)
    from filiation.cli import lists

    output.emit(lists.check_report(report), fmt)
