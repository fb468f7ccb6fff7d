"""What the registry commands share: the user they act as, the registry, how a record, a list
and a history are shown."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from filiation.cli.common import dump, err, escape, open_genealogy, out, print_json
from filiation.cli.output import Column, format_options

if TYPE_CHECKING:
    from rich.table import Table

    from filiation.service.registry import Registry, User

ENV_USER = "FILIATION_USER"
#: ``--json`` of the registry commands (their JSON is the records', not in docs/json.md).
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
#: A registry list command's ``--format`` and ``--json``: its ``fmt`` is the format asked.
formatted = format_options(JsonOpt)
O = typer.Option  # noqa: E741


class _Who:
    name: str = ""


who = _Who()


def registry_options(
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


def registry() -> Registry:
    """The registry of the store given to ``filiation --db`` (or its default)."""
    return open_genealogy().registry


def acting_user(reg: Registry) -> User:
    return reg.actor(who.name)


def retire(kind: str, ref: str) -> None:
    """Retire a registered ``model`` or ``system`` as the acting user (the registry's
    ``retire_{kind}``; kept with its history), and say so."""
    reg = registry()
    record = getattr(reg, f"retire_{kind}")(ref, actor=acting_user(reg))
    err.print(f"retired {kind} {escape(record.name)} (#{record.id})")


def table(**options: Any) -> Table:
    """A rich table, rich being imported when a command first draws one."""
    from rich.table import Table

    return Table(**options)


def grid(**options: Any) -> Table:
    from rich.table import Table

    return Table.grid(**options)


def print_record(rows: list[tuple[str, Any]]) -> None:
    """A record, field then value (``—`` when empty), its ids and links never broken."""
    from filiation.cli import output

    output.record(rows)


def print_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    title: str = "",
    *,
    fmt: str = "table",
    data: Any = None,
    key: str | None = None,
) -> None:
    """A list of records, one row each, in the format asked (``--format``, ``--json``: then
    ``data`` as JSON): one way for every registry listing, the same as the other commands'."""
    from filiation.cli import output

    rows = [] if fmt == "json" else list(rows)
    output.emit(output.Listing(columns, rows, json=dump(data), title=title, key=key), fmt)


def show_record(
    reg: Registry,
    kind: str,
    record: Any,
    rows: list[tuple[str, Any]],
    as_json: bool,
    more: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """A registered model or system, then its history: as JSON, the record with its
    ``history`` (and what ``more()`` adds, asked only then), else ``rows`` as a record."""
    history = reg.history(kind, record.id)
    if as_json:
        print_json({**dump(record), "history": dump(history), **(more() if more else {})})
        return
    print_record(rows)
    if history:  # a heading of the record's, on standard output even when piped
        out.print("[bold]history[/]")
        print_history(history, title="")


HISTORY_COLUMNS = (
    Column("#", "number", drop=1),
    Column("when", drop=3),
    Column("who", drop=4),
    Column("what", drop=5),
    Column("kind", drop=6),
    Column("record", "id"),
    Column("changes", drop=2),
)


def print_history(history: list[Any], fmt: str = "table", title: str = "history") -> None:
    """The registry's history, oldest first: one row per change, its record the key."""
    if not history and fmt == "table":
        return
    print_table(
        HISTORY_COLUMNS,
        (
            (
                h.id,
                h.at.isoformat(timespec="seconds"),
                h.user,
                h.action,
                h.record_kind,
                h.record_key,
                "; ".join(f"{k}: {b!r} → {a!r}" for k, b, a in h.changes()),
            )
            for h in history
        ),
        title,
        fmt=fmt,
        data=history,
    )
