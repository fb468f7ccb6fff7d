"""``filiation registry model …``, ``models`` and ``runs``: registered models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from filiation.cli.common import OptionSpec, dump, escape, option_set, out, print_json
from filiation.cli.output import Column
from filiation.cli.registry.base import (
    JsonOpt,
    O,
    acting_user,
    formatted,
    grid,
    print_table,
    registry,
    retire,
    show_record,
    table,
)
from filiation.domain import LINEAGE_RELATIONS, listed
from filiation.service.registry import LEARNING_TYPE_DEFINITIONS

if TYPE_CHECKING:
    from rich.table import Table

    from filiation.service.registry import RegisteredModel, Registry, User

app = typer.Typer()
model_app = typer.Typer(help="Registered models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


ModelName = Annotated[
    str, typer.Argument(help="The registered model's name (any case) or #number.")
]


#: Describing options whose record field is named otherwise.
_FIELD_OF = {"model_card": "model_card_url", "repository": "repository_url"}


class Unstatable(StrEnum):
    """The yes/no fields a model may leave not stated (since migration 0008), by the name of
    their option."""

    OPEN = "open"
    PERSONAL_DATA = "personal-data"


#: The record field behind each ``--clear`` choice.
_CLEARED = {Unstatable.OPEN: "open_weights", Unstatable.PERSONAL_DATA: "personal_data"}


def _model_fields(
    described: dict[str, Any],
    name: str | None,
    datasets: list[str] | None,
    hub_id: str | None,
    derived_from: str | None,
    relation: str | None,
    clear: Sequence[Unstatable] = (),
) -> dict[str, Any]:
    """The record fields the options of ``model add``/``update`` give, those left out
    (None) omitted: ``described`` holds the options both take; ``--dataset ''`` means no
    data set; ``--clear open`` sets "open" back to not stated (``None``), which its own
    option cannot say at the same time."""
    given = {
        **{_FIELD_OF.get(option, option): value for option, value in described.items()},
        "name": name,
        "training_datasets": [] if datasets == [""] else datasets,
        "hub_id": hub_id,
        "derived_from": derived_from,
        "derived_relation": relation,
    }
    fields = {field: value for field, value in given.items() if value is not None}
    for choice in clear:
        field = _CLEARED[Unstatable(choice)]
        if field in fields:
            raise typer.BadParameter(
                f"--clear {choice} and --{choice} contradict each other", param_hint="--clear"
            )
        fields[field] = None
    return fields


LT_HELP = "Learning type: " + "; ".join(
    f"{k.value} ({v})" for k, v in LEARNING_TYPE_DEFINITIONS.items()
)

#: The options that describe a model, which ``model add`` and ``model update`` both take,
#: alike (in the order ``--help`` lists them).
_DESCRIBING_OPTIONS: tuple[OptionSpec, ...] = (
    ("description", Annotated[str | None, O(help="What the model does.")], None),
    ("learning_type", Annotated[str | None, O("--learning-type", help=LT_HELP)], None),
    ("provider", Annotated[str | None, O(help="Who provides the model.")], None),
    ("version", Annotated[str | None, O(help="Version.")], None),
    ("model_card", Annotated[str | None, O("--model-card", help="Model card link.")], None),
    (
        "repository",
        Annotated[str | None, O("--repository", help="Source code repository link.")],
        None,
    ),
    (
        "open_weights",
        Annotated[bool | None, O("--open/--not-open", help="Whether the trained model is open.")],
        None,
    ),
    (
        "weights_url",
        Annotated[str | None, O("--weights-url", help="Link to the open trained model.")],
        None,
    ),
    ("updated_on", Annotated[str | None, O("--updated-on", help="Last update, YYYY-MM-DD.")], None),
    (
        "personal_data",
        Annotated[
            bool | None,
            O("--personal-data/--no-personal-data", help="Personal data was used in training."),
        ],
        None,
    ),
)

#: Gives a command the describing options in place of its ``described`` parameter, which
#: receives their values by name.
describing = option_set("described", _DESCRIBING_OPTIONS, lambda values, _given: values)


@model_app.command("add")
@describing
def model_add(
    name: Annotated[str, O("--name", help="Name of the model in your organisation.")],
    *,
    described: dict[str, Any],
    dataset: Annotated[
        list[str] | None, O("--dataset", help="Training data set (repeat; '' for none).")
    ] = None,
    hub_id: Annotated[
        str | None, O("--hub-id", help="The Hub model it is (joins its genealogy).")
    ] = None,
    derived_from: Annotated[
        str | None, O("--derived-from", help="Registered model it derives from.")
    ] = None,
    relation: Annotated[
        str | None,
        O("--relation", help=f"How it derives: {listed(LINEAGE_RELATIONS)}."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a model."""
    fields = _model_fields(described, name, dataset, hub_id, derived_from, relation)
    _save(as_json, lambda reg, actor: reg.create_model(fields, actor=actor))


@model_app.command("update")
@describing
def model_update(
    ref: ModelName,
    name: Annotated[str | None, O("--name", help="New name.")] = None,
    *,
    described: dict[str, Any],
    dataset: Annotated[
        list[str] | None, O("--dataset", help="Training data sets (repeat; replaces the list).")
    ] = None,
    hub_id: Annotated[str | None, O("--hub-id", help="The Hub model it is ('' to unset).")] = None,
    derived_from: Annotated[
        str | None, O("--derived-from", help="Registered model it derives from ('' to unset).")
    ] = None,
    relation: Annotated[str | None, O("--relation", help="How it derives.")] = None,
    clear: Annotated[
        list[Unstatable] | None,
        O("--clear", help="Set a yes/no field back to not stated (repeat)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change some fields of a registered model (the others are kept)."""
    fields = _model_fields(described, name, dataset, hub_id, derived_from, relation, clear or ())
    _save(as_json, lambda reg, actor: reg.update_model(ref, fields, actor=actor))


def _save(as_json: bool, write: Callable[[Registry, User], RegisteredModel]) -> None:
    """Write a model (``model add`` or ``update``) as the acting user, and show it: the
    fields are checked (``_model_fields``) before the registry is opened."""
    reg = registry()
    _show_model(reg, write(reg, acting_user(reg)), as_json)


@model_app.command("retire")
def model_retire(ref: ModelName) -> None:
    """Retire a model (kept with its history, no longer listed)."""
    retire("model", ref)


@model_app.command("show")
def model_show(ref: ModelName, as_json: JsonOpt = False) -> None:
    """A registered model, the systems using it, and its history."""
    reg = registry()
    _show_model(reg, reg.model(ref), as_json)


def _show_model(reg: Registry, m: RegisteredModel, as_json: bool) -> None:
    rows = [
        (key, ", ".join(value) if isinstance(value, list) else value)
        for key, value in m.model_dump().items()
        if key != "used_by"
    ]
    rows += [("used by", f"{use.system}: {use.usage}") for use in m.used_by]
    show_record(
        reg,
        "model",
        m,
        rows,
        as_json,
        more=lambda: {"training_runs": dump(reg.training_runs(m.id))},
    )


@app.command("models")
@formatted
def models(
    include_retired: Annotated[bool, O("--all", help="Include retired models.")] = False,
    fmt: str = "table",  # given by @formatted
) -> None:
    """The registered models."""
    items = registry().models(include_retired=include_retired)
    print_table(
        (
            Column("#", "number", drop=2),
            Column("name", "id"),
            Column("hub id / derives from", "id", drop=5),
            Column("learning", drop=3),
            Column("open", drop=1),
            Column("systems", "number", drop=4),
            Column("retired", drop=0),
        ),
        (
            (
                m.id,
                m.name,
                _origin(m),
                m.learning_type or "",
                {True: "yes", False: "no", None: "not stated"}[m.open_weights],
                len(m.used_by),
                "yes" if m.retired else "",
            )
            for m in items
        ),
        fmt=fmt,
        data=items,
    )


def _origin(m: RegisteredModel) -> str:
    """Where a registered model comes from: its Hub id, else what it derives from."""
    return m.hub_id or (f"{m.derived_relation} of {m.derived_from}" if m.derived_from else "")


@app.command("runs")
def runs(ref: ModelName, as_json: JsonOpt = False) -> None:
    """The training runs recorded for a model by the training callbacks."""
    reg = registry()
    items = reg.training_runs(ref)
    if as_json:
        print_json(dump(items))
        return
    name = reg.model(ref).name
    if not items:
        out.print(f"no training run recorded for {escape(name)}")
        return
    # One block per run: its values side by side would not fit a terminal's width.
    for r in items:
        head = (
            f"[bold]run {r.id}[/bold] of {escape(name)}: {r.at.isoformat(sep=' ')} by "
            f"{escape(r.user)}, {escape(r.framework)}"
        )
        facts = grid(padding=(0, 2))
        facts.add_column(style="dim")
        facts.add_column(overflow="fold")
        facts.add_row("base model", escape(r.base_model or "—"))
        facts.add_row("data sets", escape(", ".join(r.datasets) or "—"))
        facts.add_row("saved in", escape(r.output_dir or "—"))
        facts.add_row(
            "steps",
            escape(" → ".join(f"{s.step} ({s.at:%H:%M:%S})" for s in r.steps) or "—"),
        )
        values = grid(padding=(0, 4))
        values.add_column()
        values.add_column()
        values.add_row(
            _values("hyper-parameters", r.hyper_parameters), _values("metrics", r.metrics)
        )
        out.print(head)
        out.print(facts)
        out.print(values)
        out.print()


def _values(title: str, values: dict[str, Any]) -> Table:
    t = table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    t.add_column(style="dim", overflow="fold")
    t.add_column(overflow="fold")
    for k, v in values.items():
        if v is not None:
            t.add_row(escape(str(k)), escape(_short(v)))
    return t


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in values.items() if v is not None)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@model_app.command("ancestry")
@formatted
def model_ancestry(ref: ModelName, fmt: str = "table") -> None:
    """The model's full ancestry; '!' marks ancestors trained on personal data."""
    a = registry().ancestry(ref)
    print_table(
        (
            Column("!", drop=1),
            Column("depth", "number", drop=4),
            Column("id", "id"),
            Column("relation", drop=3),
            Column("trained on", drop=2),
            Column("personal data", drop=5),
        ),
        (
            (
                "!" if anc.flagged else "",
                anc.depth,
                anc.id,
                anc.relation or "",
                ", ".join(anc.trained_on),
                ", ".join(anc.personal_data) or ("declared" if anc.declared_personal_data else ""),
            )
            for anc in a.ancestors
        ),
        title=f"ancestry of {a.model}",
        fmt=fmt,
        data=a,
    )
