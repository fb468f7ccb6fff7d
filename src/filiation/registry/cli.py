"""``filiation registry …``: the registry from the command line, one service call per command.

The CLI opens the store directly, so whoever may write the store file (or holds the
database's credentials) may act on the registry: it does not ask for a password. It acts as
the registry user named by ``--user`` (or ``$FILIATION_USER``, default: the OS user name),
whose role is checked like the API's and whose name goes into the history. The first user
of a registry is created by ``filiation registry user add NAME --role admin`` with no user
yet; after that only admins add users.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from filiation.safe_text import console_text as escape

from .models import LEARNING_TYPE_DEFINITIONS, AISystem, RegisteredModel, User
from .service import Registry

ENV_USER = "FILIATION_USER"

# Not imported from filiation.cli, which imports this module to add it as a sub-command
# (and runs as __main__ under `python -m filiation.cli`): the same consoles and --json.
out = Console(soft_wrap=False, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

registry_app = typer.Typer(
    help="The registry of your AI systems and models, linked to the genealogy.",
    no_args_is_help=True,
)
model_app = typer.Typer(help="Registered models.", no_args_is_help=True)
system_app = typer.Typer(help="AI systems and the models they use.", no_args_is_help=True)
user_app = typer.Typer(help="Registry users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)
dataset_app = typer.Typer(
    help="Data sets flagged as containing personal data.", no_args_is_help=True
)
registry_app.add_typer(model_app, name="model")
registry_app.add_typer(system_app, name="system")
registry_app.add_typer(user_app, name="user")
registry_app.add_typer(token_app, name="token")
registry_app.add_typer(dataset_app, name="dataset")


class _Who:
    name: str = ""
    db: str | None = None


who = _Who()


@registry_app.callback()
def registry_options(
    ctx: typer.Context,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            envvar=ENV_USER,
            help="Registry user to act as (default: your OS user name). Writes need an "
            "editor or admin role; the name goes into the history.",
        ),
    ] = None,
) -> None:
    who.name = user or getpass.getuser()
    who.db = ctx.find_root().params.get("db")


def _registry() -> Registry:
    """The registry of the store given to ``filiation --db`` (or its default)."""
    from filiation.service import Genealogy

    return Genealogy(who.db).registry


def _print_json(value: Any) -> None:
    from filiation.cli import _print_json as print_json

    print_json(value)


def _actor(reg: Registry) -> User:
    return reg.actor(who.name)


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


# -- models -----------------------------------------------------------------------------------
ModelName = Annotated[
    str, typer.Argument(help="The registered model's name (any case) or #number.")
]
O = typer.Option  # noqa: E741


def _model_fields(**given: Any) -> dict[str, Any]:
    out_: dict[str, Any] = {}
    for k, v in given.items():
        if v is None:
            continue
        if k == "training_datasets":
            v = [] if v == [""] else v
        out_[k] = v
    return out_


LT_HELP = "Learning type: " + "; ".join(
    f"{k.value} ({v})" for k, v in LEARNING_TYPE_DEFINITIONS.items()
)


@model_app.command("add")
def model_add(
    name: Annotated[str, O("--name", help="Name of the model in your organisation.")],
    description: Annotated[str | None, O(help="What the model does.")] = None,
    learning_type: Annotated[str | None, O("--learning-type", help=LT_HELP)] = None,
    provider: Annotated[str | None, O(help="Who provides the model.")] = None,
    version: Annotated[str | None, O(help="Version.")] = None,
    model_card: Annotated[str | None, O("--model-card", help="Model card link.")] = None,
    repository: Annotated[
        str | None, O("--repository", help="Source code repository link.")
    ] = None,
    open_weights: Annotated[
        bool | None, O("--open/--not-open", help="Whether the trained model is open.")
    ] = None,
    weights_url: Annotated[
        str | None, O("--weights-url", help="Link to the open trained model.")
    ] = None,
    updated_on: Annotated[str | None, O("--updated-on", help="Last update, YYYY-MM-DD.")] = None,
    dataset: Annotated[
        list[str] | None, O("--dataset", help="Training data set (repeat; '' for none).")
    ] = None,
    personal_data: Annotated[
        bool | None,
        O("--personal-data/--no-personal-data", help="Personal data was used in training."),
    ] = None,
    hub_id: Annotated[
        str | None, O("--hub-id", help="The Hub model it is (joins its genealogy).")
    ] = None,
    derived_from: Annotated[
        str | None, O("--derived-from", help="Registered model it derives from.")
    ] = None,
    relation: Annotated[
        str | None,
        O("--relation", help="How it derives: finetune, quantized, adapter, merge, unspecified."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a model."""
    reg = _registry()
    m = reg.create_model(
        _model_fields(
            name=name,
            description=description,
            learning_type=learning_type,
            provider=provider,
            version=version,
            model_card_url=model_card,
            repository_url=repository,
            open_weights=open_weights,
            weights_url=weights_url,
            updated_on=updated_on,
            training_datasets=dataset,
            personal_data=personal_data,
            hub_id=hub_id,
            derived_from=derived_from,
            derived_relation=relation,
        ),
        actor=_actor(reg),
    )
    _show_model(reg, m, as_json)


@model_app.command("update")
def model_update(
    ref: ModelName,
    name: Annotated[str | None, O("--name", help="New name.")] = None,
    description: Annotated[str | None, O(help="What the model does.")] = None,
    learning_type: Annotated[str | None, O("--learning-type", help=LT_HELP)] = None,
    provider: Annotated[str | None, O(help="Who provides the model.")] = None,
    version: Annotated[str | None, O(help="Version.")] = None,
    model_card: Annotated[str | None, O("--model-card", help="Model card link.")] = None,
    repository: Annotated[
        str | None, O("--repository", help="Source code repository link.")
    ] = None,
    open_weights: Annotated[
        bool | None, O("--open/--not-open", help="Whether the trained model is open.")
    ] = None,
    weights_url: Annotated[
        str | None, O("--weights-url", help="Link to the open trained model.")
    ] = None,
    updated_on: Annotated[str | None, O("--updated-on", help="Last update, YYYY-MM-DD.")] = None,
    dataset: Annotated[
        list[str] | None, O("--dataset", help="Training data sets (repeat; replaces the list).")
    ] = None,
    personal_data: Annotated[
        bool | None,
        O("--personal-data/--no-personal-data", help="Personal data was used in training."),
    ] = None,
    hub_id: Annotated[str | None, O("--hub-id", help="The Hub model it is ('' to unset).")] = None,
    derived_from: Annotated[
        str | None, O("--derived-from", help="Registered model it derives from ('' to unset).")
    ] = None,
    relation: Annotated[str | None, O("--relation", help="How it derives.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change some fields of a registered model (the others are kept)."""
    reg = _registry()
    m = reg.update_model(
        ref,
        _model_fields(
            name=name,
            description=description,
            learning_type=learning_type,
            provider=provider,
            version=version,
            model_card_url=model_card,
            repository_url=repository,
            open_weights=open_weights,
            weights_url=weights_url,
            updated_on=updated_on,
            training_datasets=dataset,
            personal_data=personal_data,
            hub_id=hub_id,
            derived_from=derived_from,
            derived_relation=relation,
        ),
        actor=_actor(reg),
    )
    _show_model(reg, m, as_json)


@model_app.command("retire")
def model_retire(ref: ModelName) -> None:
    """Retire a model (kept with its history, no longer listed)."""
    reg = _registry()
    m = reg.retire_model(ref, actor=_actor(reg))
    err.print(f"retired model {escape(m.name)} (#{m.id})")


@model_app.command("show")
def model_show(ref: ModelName, as_json: JsonOpt = False) -> None:
    """A registered model, the systems using it, and its history."""
    reg = _registry()
    _show_model(reg, reg.model(ref), as_json)


def _show_model(reg: Registry, m: RegisteredModel, as_json: bool) -> None:
    history = reg.history("model", m.id)
    if as_json:
        runs_ = reg.training_runs(m.id)
        _print_json({**_dump(m), "history": _dump(history), "training_runs": _dump(runs_)})
        return
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    for key, value in m.model_dump().items():
        if key in ("used_by",):
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        t.add_row(key, escape("—" if shown in (None, "") else str(shown)))
    for use in m.used_by:
        t.add_row("used by", escape(f"{use.system}: {use.usage}"))
    out.print(t)
    _print_history(history)


def _print_history(history: list[Any]) -> None:
    if not history:
        return
    t = Table(title="history")
    for col in ("when", "who", "what", "changes"):
        t.add_column(col)
    for h in history:
        changes = "; ".join(f"{k}: {b!r} → {a!r}" for k, b, a in h.changes())
        t.add_row(h.at.isoformat(timespec="seconds"), escape(h.user), h.action, escape(changes))
    out.print(t)


@registry_app.command("models")
def models(
    include_retired: Annotated[bool, O("--all", help="Include retired models.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The registered models."""
    items = _registry().models(include_retired=include_retired)
    if as_json:
        _print_json(_dump(items))
        return
    t = Table()
    for col in ("#", "name", "hub id / derives from", "learning", "open", "systems"):
        t.add_column(col)
    for m in items:
        origin = m.hub_id or (f"{m.derived_relation} of {m.derived_from}" if m.derived_from else "")
        t.add_row(
            str(m.id),
            escape(m.name) + (" (retired)" if m.retired else ""),
            escape(origin),
            m.learning_type or "",
            "yes" if m.open_weights else "no",
            str(len(m.used_by)),
        )
    out.print(t)


@registry_app.command("runs")
def runs(ref: ModelName, as_json: JsonOpt = False) -> None:
    """The training runs recorded for a model by the training callbacks."""
    reg = _registry()
    items = reg.training_runs(ref)
    if as_json:
        _print_json(_dump(items))
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
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="dim")
        facts.add_column(overflow="fold")
        facts.add_row("base model", escape(r.base_model or "—"))
        facts.add_row("data sets", escape(", ".join(r.datasets) or "—"))
        facts.add_row("saved in", escape(r.output_dir or "—"))
        facts.add_row(
            "steps",
            escape(" → ".join(f"{s.step} ({s.at:%H:%M:%S})" for s in r.steps) or "—"),
        )
        values = Table.grid(padding=(0, 4))
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
    t = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
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
def model_ancestry(ref: ModelName, as_json: JsonOpt = False) -> None:
    """The model's full ancestry; '!' marks ancestors trained on personal data."""
    a = _registry().ancestry(ref)
    if as_json:
        _print_json(_dump(a))
        return
    t = Table(title=f"ancestry of {escape(a.model)}")
    for col in ("depth", "id", "relation", "trained on", "personal data"):
        t.add_column(col)
    for anc in a.ancestors:
        t.add_row(
            str(anc.depth),
            ("! " if anc.flagged else "") + escape(anc.id),
            anc.relation or "",
            escape(", ".join(anc.trained_on)),
            escape(
                ", ".join(anc.personal_data) or ("declared" if anc.declared_personal_data else "")
            ),
        )
    out.print(t)


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
    reg = _registry()
    s = reg.create_system(
        _system_fields(name=name, owner=owner, role=role, purpose=purpose, status=status),
        actor=_actor(reg),
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
    reg = _registry()
    s = reg.update_system(
        ref,
        _system_fields(name=name, owner=owner, role=role, purpose=purpose, status=status),
        actor=_actor(reg),
    )
    _show_system(reg, s, as_json)


@system_app.command("retire")
def system_retire(ref: SystemName) -> None:
    """Retire a system (status retired; kept with its history)."""
    reg = _registry()
    s = reg.retire_system(ref, actor=_actor(reg))
    err.print(f"retired system {escape(s.name)} (#{s.id})")


@system_app.command("attach")
def system_attach(
    ref: SystemName,
    model: Annotated[str, typer.Argument(help="Registered model the system uses.")],
    usage: Annotated[str, O("--usage", help="How the model is used inside this system.")],
) -> None:
    """The system uses a model (again: change the usage description)."""
    reg = _registry()
    s = reg.attach(ref, model, usage, actor=_actor(reg))
    _show_system(reg, s, False)


@system_app.command("detach")
def system_detach(
    ref: SystemName,
    model: Annotated[str, typer.Argument(help="Registered model the system no longer uses.")],
) -> None:
    """The system no longer uses a model (kept in the history)."""
    reg = _registry()
    _show_system(reg, reg.detach(ref, model, actor=_actor(reg)), False)


@system_app.command("show")
def system_show(ref: SystemName, as_json: JsonOpt = False) -> None:
    """A system, the models it uses and how, and its history."""
    reg = _registry()
    _show_system(reg, reg.system(ref), as_json)


def _show_system(reg: Registry, s: AISystem, as_json: bool) -> None:
    history = reg.history("system", s.id)
    if as_json:
        _print_json({**_dump(s), "history": _dump(history)})
        return
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    for key in ("id", "name", "purpose", "owner", "role", "status"):
        t.add_row(key, escape(str(getattr(s, key) or "—")))
    for use in s.uses:
        t.add_row("uses", escape(f"{use.model}: {use.usage}"))
    out.print(t)
    _print_history(history)


@registry_app.command("systems")
def systems(
    include_retired: Annotated[bool, O("--all", help="Include retired systems.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The AI systems."""
    items = _registry().systems(include_retired=include_retired)
    if as_json:
        _print_json(_dump(items))
        return
    t = Table()
    for col in ("#", "name", "owner", "role", "status", "models"):
        t.add_column(col)
    for s in items:
        t.add_row(
            str(s.id),
            escape(s.name),
            escape(s.owner),
            s.role,
            s.status,
            escape(", ".join(u.model for u in s.uses)),
        )
    out.print(t)


# -- impact, history, data sets -------------------------------------------------------------------
@registry_app.command("impact")
def impact(
    model: Annotated[
        str | None, O("--model", "-m", help="A registered model or a Hub model id.")
    ] = None,
    dataset: Annotated[str | None, O("--dataset", "-d", help="A data set id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Which of your systems rely, directly or through any ancestor, on a model or data set."""
    reg = _registry()
    res = reg.impact(model=model, dataset=dataset)
    if as_json:
        _print_json(_dump(res))
        return
    t = Table(title=f"systems relying on {escape(res.target)}")
    for col in ("system", "status", "model", "usage", "through"):
        t.add_column(col)
    for h in res.systems:
        t.add_row(
            escape(h.system),
            h.status,
            escape(h.model),
            escape(h.usage),
            escape(" → ".join(h.through)),
        )
    out.print(t)
    if not res.systems:
        err.print(
            f"no system relies on {escape(res.target)} ({len(res.models)} registered model(s) do)"
        )


@registry_app.command("history")
def history(
    kind: Annotated[str | None, O("--kind", help="model, system, user or dataset.")] = None,
    ref: Annotated[str | None, O("--ref", help="The record (name or #number).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every change to the registry (who, when, what, before/after)."""
    items = _registry().history(kind, ref)
    if as_json:
        _print_json(_dump(items))
        return
    _print_history(items)


@dataset_app.command("flag")
def dataset_flag(
    dataset: Annotated[str, typer.Argument(help="Data set id (Hub id or your own name).")],
    personal_data: Annotated[
        bool, O("--personal-data/--no-personal-data", help="Contains personal data.")
    ] = True,
    note: Annotated[str | None, O("--note", help="Why.")] = None,
) -> None:
    """Flag a data set as containing personal data (or not)."""
    reg = _registry()
    d = reg.flag_dataset(dataset, personal_data=personal_data, note=note, actor=_actor(reg))
    err.print(f"{escape(d.id)}: personal data {'yes' if d.personal_data else 'no'}")


@dataset_app.command("list")
def dataset_list(as_json: JsonOpt = False) -> None:
    """Flagged data sets."""
    items = _registry().datasets()
    if as_json:
        _print_json(_dump(items))
        return
    for d in items:
        out.print(f"{escape(d.id)}\t{'personal data' if d.personal_data else 'no personal data'}")


# -- users and tokens -----------------------------------------------------------------------------
def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[str, O("--role", help="viewer, editor or admin.")] = "viewer",
    password_stdin: Annotated[
        bool, O("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    no_password: Annotated[
        bool, O("--no-password", help="No password: the user acts through the CLI or tokens only.")
    ] = False,
) -> None:
    """Add a user (the first one must be an admin; then only admins add users)."""
    reg = _registry()
    actor = None if not reg.users() else _actor(reg)
    password = None if no_password else _password(password_stdin)
    u = reg.add_user(name, role, password, actor=actor)
    err.print(f"added {escape(u.name)} ({u.role})")


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """Users and their roles."""
    items = _registry().users()
    if as_json:
        _print_json(_dump(items))
        return
    for u in items:
        out.print(f"{escape(u.name)}\t{u.role}" + ("\tdisabled" if u.disabled else ""))


@user_app.command("role")
def user_role(name: str, role: str) -> None:
    """Change a user's role (admins only)."""
    reg = _registry()
    u = reg.set_role(name, role, actor=_actor(reg))
    err.print(f"{escape(u.name)} is now {u.role}")


@user_app.command("password")
def user_password(
    name: str,
    password_stdin: Annotated[bool, O("--password-stdin")] = False,
) -> None:
    """Set a user's password (your own, or anyone's for an admin)."""
    reg = _registry()
    reg.set_password(name, _password(password_stdin), actor=_actor(reg))
    err.print("password changed")


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Disable a user and revoke their tokens (admins only; never deleted)."""
    reg = _registry()
    reg.disable_user(name, actor=_actor(reg))
    err.print(f"disabled {escape(name)}")


@token_app.command("create")
def token_create(
    for_user: Annotated[
        str | None, O("--for", help="User the token acts as (default: you).")
    ] = None,
    name: Annotated[str | None, O("--name", help="What the token is for.")] = None,
) -> None:
    """Create an API token; it is printed once (only its digest is kept)."""
    reg = _registry()
    actor = _actor(reg)
    token = reg.create_token(for_user or actor.name, name, actor=actor)
    out.print(token, markup=False)
    err.print("keep it now: it cannot be shown again. Send it as 'Authorization: Bearer …'.")


@token_app.command("list")
def token_list(as_json: JsonOpt = False) -> None:
    """API tokens (never the secrets)."""
    items = _registry().tokens()
    if as_json:
        _print_json(_dump(items))
        return
    for t in items:
        state_ = "revoked" if t.revoked_at else "active"
        out.print(f"{t.id}\t{escape(t.user)}\t{escape(t.name or '')}\t{state_}")


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke an API token."""
    reg = _registry()
    reg.revoke_token(token_id, actor=_actor(reg))
    err.print(f"revoked token {token_id}")


# -- Etalab --------------------------------------------------------------------------------
@registry_app.command("export")
def export(
    path: Annotated[
        Path | None, typer.Argument(help="CSV file to write (default: stdout).")
    ] = None,
    include_retired: Annotated[bool, O("--all", help="Include retired models.")] = False,
) -> None:
    """Export the registered models as an Etalab inventory CSV."""
    text = _registry().export_etalab(include_retired=include_retired)
    if path is None:
        sys.stdout.write(text)
    else:
        path.write_text(text, encoding="utf-8")


@registry_app.command("import")
def import_(
    path: Annotated[
        Path, typer.Argument(help="Etalab inventory CSV.", exists=True, dir_okay=False)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Import an Etalab inventory CSV: every row or none."""
    from filiation.errors import InvalidArgumentError

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidArgumentError(f"{path} is not UTF-8 text") from None
    reg = _registry()
    report = reg.import_etalab(text, actor=_actor(reg))
    if as_json:
        _print_json(_dump(report))
        return
    err.print(
        f"imported {path}: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
