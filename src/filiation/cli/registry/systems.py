"""``filiation registry system …``, ``systems``, ``impact``, ``history``, ``dataset …`` and
the Etalab inventory (``export``, ``import``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from filiation.cli.common import dump, err, escape, print_json, write_atomically
from filiation.cli.output import Column
from filiation.cli.registry.base import (
    JsonOpt,
    O,
    acting_user,
    formatted,
    print_history,
    print_table,
    registry,
    retire,
    show_record,
)
from filiation.i18n import counted

if TYPE_CHECKING:
    from filiation.service.registry import AISystem, Registry

app = typer.Typer()
system_app = typer.Typer(help="AI systems and the models they use.", no_args_is_help=True)
dataset_app = typer.Typer(
    help="Data sets flagged as containing personal data.", no_args_is_help=True
)
app.add_typer(system_app, name="system")
app.add_typer(dataset_app, name="dataset")


# -- systems ----------------------------------------------------------------------------------
SystemName = Annotated[str, typer.Argument(help="The system's name (any case) or #number.")]


def _system_fields(**given: Any) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not None}


@system_app.command("add")
def system_add(
    name: Annotated[str, O("--name", help="Name of the AI system.")],
    owner: Annotated[str, O("--owner", help="Team or person responsible.")],
    role: Annotated[str, O("--role", help="Your organisation's role: provider or deployer.")],
    purpose: Annotated[str | None, O("--purpose", help="What the system is for.")] = None,
    status: Annotated[
        str | None, O("--status", help="development (default), production or retired.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an AI system."""
    reg = registry()
    s = reg.create_system(
        _system_fields(name=name, owner=owner, role=role, purpose=purpose, status=status),
        actor=acting_user(reg),
    )
    _show_system(reg, s, as_json)


@system_app.command("update")
def system_update(
    ref: SystemName,
    name: Annotated[str | None, O("--name")] = None,
    owner: Annotated[str | None, O("--owner")] = None,
    role: Annotated[str | None, O("--role")] = None,
    purpose: Annotated[str | None, O("--purpose")] = None,
    status: Annotated[str | None, O("--status")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change some fields of a system."""
    reg = registry()
    s = reg.update_system(
        ref,
        _system_fields(name=name, owner=owner, role=role, purpose=purpose, status=status),
        actor=acting_user(reg),
    )
    _show_system(reg, s, as_json)


@system_app.command("retire")
def system_retire(ref: SystemName) -> None:
    """Retire a system (status retired; kept with its history)."""
    retire("system", ref)


@system_app.command("attach")
def system_attach(
    ref: SystemName,
    model: Annotated[str, typer.Argument(help="Registered model the system uses.")],
    usage: Annotated[str, O("--usage", help="How the model is used inside this system.")],
) -> None:
    """The system uses a model (again: change the usage description)."""
    reg = registry()
    s = reg.attach(ref, model, usage, actor=acting_user(reg))
    _show_system(reg, s, False)


@system_app.command("detach")
def system_detach(
    ref: SystemName,
    model: Annotated[str, typer.Argument(help="Registered model the system no longer uses.")],
) -> None:
    """The system no longer uses a model (kept in the history)."""
    reg = registry()
    _show_system(reg, reg.detach(ref, model, actor=acting_user(reg)), False)


@system_app.command("show")
def system_show(ref: SystemName, as_json: JsonOpt = False) -> None:
    """A system, the models it uses and how, and its history."""
    reg = registry()
    _show_system(reg, reg.system(ref), as_json)


def _show_system(reg: Registry, s: AISystem, as_json: bool) -> None:
    rows = [(key, getattr(s, key)) for key in ("id", "name", "purpose", "owner", "role", "status")]
    rows += [("uses", f"{use.model}: {use.usage}") for use in s.uses]
    show_record(reg, "system", s, rows, as_json)


@app.command("systems")
@formatted
def systems(
    include_retired: Annotated[bool, O("--all", help="Include retired systems.")] = False,
    fmt: str = "table",  # given by @formatted
) -> None:
    """The AI systems."""
    items = registry().systems(include_retired=include_retired)
    print_table(
        (
            Column("#", "number", drop=2),
            Column("name", "id"),
            Column("owner", drop=4),
            Column("role", drop=1),
            Column("status", drop=3),
            Column("models", drop=5),
        ),
        (
            (s.id, s.name, s.owner, s.role, s.status, ", ".join(u.model for u in s.uses))
            for s in items
        ),
        fmt=fmt,
        data=items,
    )


# -- impact, history, data sets -------------------------------------------------------------------
@app.command("impact")
@formatted
def impact(
    model: Annotated[
        str | None, O("--model", "-m", help="A registered model or a Hub model id.")
    ] = None,
    dataset: Annotated[str | None, O("--dataset", "-d", help="A data set id.")] = None,
    fmt: str = "table",  # given by @formatted
) -> None:
    """Which of your systems rely, directly or through any ancestor, on a model or data set."""
    reg = registry()
    res = reg.impact(model=model, dataset=dataset)
    print_table(
        (
            Column("system", "id"),
            Column("status", drop=2),
            Column("model", "id", drop=4),
            Column("usage", drop=1),
            Column("through", drop=3),
        ),
        ((h.system, h.status, h.model, h.usage, " → ".join(h.through)) for h in res.systems),
        title=f"systems relying on {res.target}",
        fmt=fmt,
        data=res,
    )
    if not res.systems and fmt != "json":
        err.print(
            f"no system relies on {escape(res.target)} "
            f"({counted(len(res.models), 'registered model does', 'registered models do')})"
        )


@app.command("history")
@formatted
def history(
    kind: Annotated[str | None, O("--kind", help="model, system, user or dataset.")] = None,
    ref: Annotated[str | None, O("--ref", help="The record (name or #number).")] = None,
    fmt: str = "table",  # given by @formatted
) -> None:
    """Every change to the registry (who, when, what, before/after)."""
    print_history(registry().history(kind, ref), fmt)


@dataset_app.command("flag")
def dataset_flag(
    dataset: Annotated[str, typer.Argument(help="Data set id (Hub id or your own name).")],
    personal_data: Annotated[
        bool, O("--personal-data/--no-personal-data", help="Contains personal data.")
    ] = True,
    note: Annotated[str | None, O("--note", help="Why.")] = None,
) -> None:
    """Flag a data set as containing personal data (or not)."""
    reg = registry()
    d = reg.flag_dataset(dataset, personal_data=personal_data, note=note, actor=acting_user(reg))
    err.print(f"{escape(d.id)}: personal data {'yes' if d.personal_data else 'no'}")


@dataset_app.command("list")
@formatted
def dataset_list(fmt: str = "table") -> None:
    """Flagged data sets."""
    items = registry().datasets()
    print_table(
        (Column("id", "id"), Column("personal data", drop=1), Column("note", drop=0)),
        ((d.id, "yes" if d.personal_data else "no", d.note or "") for d in items),
        fmt=fmt,
        data=items,
    )


# -- Etalab --------------------------------------------------------------------------------
@app.command("export")
def export(
    path: Annotated[
        Path | None, typer.Argument(help="CSV file to write (default: stdout).")
    ] = None,
    include_retired: Annotated[bool, O("--all", help="Include retired models.")] = False,
    like: Annotated[
        Path | None,
        O(
            "--like",
            help="An inventory file to write like: its columns (extra ones too), separator, "
            "encoding, date format, yes/no and learning-type spellings, rows' order.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Export the registered models as an Etalab inventory CSV (French codes; UTF-8 and
    commas unless --like says otherwise)."""
    data = registry().export_etalab(include_retired=include_retired, like=like)
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        write_atomically(path, data)  # a full disk or Ctrl-C leaves no half inventory


@app.command("import")
def import_(
    path: Annotated[
        Path, typer.Argument(help="Etalab inventory CSV.", exists=True, dir_okay=False)
    ],
    strict: Annotated[
        bool, O("--strict", help="Refuse the whole file when any row is invalid.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import an Etalab inventory CSV as people publish it (UTF-8 or Windows-1252,
    semicolons, commas or tabs, headers in their own words): good rows are imported, bad
    rows are listed with their line numbers and skipped (--strict: nothing imported then).
    One transaction; the history records the import."""
    reg = registry()
    with path.open("rb") as stream:
        report = reg.import_etalab(stream, actor=acting_user(reg), name=path.name, strict=strict)
    if as_json:
        print_json(dump(report))
        return
    for w in report.warnings:
        err.print(f"line {w.line}: {escape(w.field)}: warning: {escape(w.message)}")
    for p in report.problems:
        err.print(f"line {p.line}: {escape(p.field)}: {escape(p.message)} (row skipped)")
    hidden = report.problem_count - len(report.problems)
    hidden += report.warning_count - len(report.warnings)
    if hidden:
        err.print(f"... and {hidden} more")
    err.print(
        f"imported {escape(str(path))} ({report.encoding}, {report.rows} rows): "
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {report.skipped} skipped, "
        f"{len(report.linked)} linked to the Hub"
    )
