"""How a command's list reaches the user: one way for every list command (``--format``).

A command describes its answer once, as a :class:`Listing` (columns, rows of plain values,
and the JSON that ``--json`` always printed), and :func:`emit` writes it in the format asked:

- ``table`` (the default): on a terminal, a rich table sized to the terminal's width. Id
  columns are never wrapped nor cut (a broken id cannot be copied into the next command);
  when the table does not fit, the least important columns are dropped first, never the id;
  when even the id column alone does not fit, the ids are printed alone, one a line.
  Written to a pipe or a file, the table is a *plain layout*: one header line, then one line
  per row, columns aligned and separated by two spaces, nothing wrapped, every column kept,
  no title or borders, so that ``wc -l``, ``grep``, ``sort`` and ``awk`` see one row a line.
  What is not a row (the title, counts, "truncated" warnings) goes to standard error then.
- ``csv``: the csv module's dialect with a header row; numbers as numbers, cells that a
  spreadsheet would run as a formula made safe (:func:`filiation.safe_text.csv_cell`).
- ``json``: the command's documented JSON (docs/json.md), as ``--json`` prints it.
- ``ids``: the listing's id column, one per line, for ``xargs``.

Nothing heavy is imported unless drawn: rich's table only for a terminal table.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from filiation.cli.common import JsonOpt, err, option_set, out, print_json
from filiation.errors import InvalidArgumentError
from filiation.safe_text import csv_cell, printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class Format(StrEnum):
    """The formats of a list command's answer (``--format``)."""

    table = "table"
    csv = "csv"
    json = "json"
    ids = "ids"


FORMATS = tuple(f.value for f in Format)
FormatOpt = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        help="table (default; one row a line when piped), csv, json (as --json) or ids "
        "(one id a line, for xargs).",
    ),
]
#: The width kept by the narrowest text column of a terminal table (it wraps to fit).
TEXT_MIN_WIDTH = 8
#: A column separator in the plain layout.
GAP = "  "


def choose(fmt: str | None, as_json: bool = False) -> str:
    """The format a command was asked for: ``--format``, ``--json`` being ``--format json``."""
    if fmt is None:
        return "json" if as_json else "table"
    fmt = str(fmt)
    if as_json and fmt != "json":
        raise InvalidArgumentError(f"--json and --format {fmt} ask for two formats; give one")
    return fmt


def _chosen(values: dict[str, Any], _given: dict[str, Any]) -> str:
    return choose(values["fmt"], values["as_json"])


def format_options(json_option: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator giving a list command ``--format`` and ``json_option`` (``--json`` as its
    command group words it) in place of its ``fmt`` parameter, which receives the format
    asked (:func:`choose`): declared and resolved once for every list command."""
    return option_set("fmt", (("fmt", FormatOpt, None), ("as_json", json_option, False)), _chosen)


#: ``--format`` and ``--json`` (see :func:`format_options`).
formatted = format_options(JsonOpt)


def num(value: int | None) -> str:
    """A count as a table shows it: thousands separated, ``—`` when unknown."""
    return "—" if value is None else f"{value:,}"


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    ``kind`` says how it may be laid out: an ``id`` and a ``number`` are never wrapped nor
    cut, a ``text`` wraps to fit. ``drop`` orders the columns a narrow terminal drops (the
    lowest first); the listing's key column is never dropped. ``show`` turns a value into
    the table's text (default: :func:`num` for numbers, ``str`` else, ``""`` for None);
    csv writes the value itself.
    """

    name: str
    kind: Literal["id", "number", "text"] = "text"
    drop: int = 0
    show: Callable[[Any], str] | None = None
    style: Callable[[Any], str] | None = None

    def text(self, value: Any) -> str:
        if self.show is not None:
            return printable(self.show(value))
        if self.kind == "number" and (value is None or isinstance(value, int)):
            return num(value)
        return "" if value is None else printable(str(value))


@dataclass
class Listing:
    """A command's answer as rows, and as the JSON its ``--json`` prints.

    ``key`` names the column ``--format ids`` prints and a narrow terminal keeps (the first
    id column when None).
    ``notes`` and ``warnings`` follow the table: on standard output under a terminal table,
    on standard error otherwise (so that a pipe reads rows only).
    """

    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    json: Any = None
    title: str = ""
    key: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def key_index(self) -> int:
        if self.key is None:
            return next((i for i, c in enumerate(self.columns) if c.kind == "id"), 0)
        return [c.name for c in self.columns].index(self.key)


def emit(listing: Listing, fmt: str, *, section: bool = False) -> None:
    """Write ``listing`` in ``fmt`` (one of :data:`FORMATS`, from :func:`choose`).

    A ``section`` is one table of a longer human answer (a dossier's): piped, its title and
    remarks stay with its rows on standard output."""
    if fmt == "json":
        print_json(listing.json)
        return
    if fmt == "ids":
        seen: set[str] = set()
        lines = []
        for row in listing.rows:
            value = row[listing.key_index]
            if value and value not in seen:
                seen.add(value)
                lines.append(printable(str(value)))
        _write(lines)
        remarks(listing, terminal=False)
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.name for c in listing.columns])
        writer.writerows([csv_cell(v) for v in row] for row in listing.rows)
        remarks(listing, terminal=False)
        return
    console = out.get()
    terminal = console.is_terminal or section
    table = _terminal_table(listing, console) if console.is_terminal else None
    if table is not None:
        console.print(table)
    else:
        if listing.title:
            (out if terminal else err).print(
                printable(listing.title), markup=False, highlight=False
            )
        # On a terminal too narrow for them, the ids alone, each whole on its line (longer
        # than the terminal, it folds there, but copies as one).
        _write(plain(listing, [listing.key_index] if console.is_terminal else None))
    remarks(listing, terminal=terminal)


def plain(listing: Listing, only: Sequence[int] | None = None) -> list[str]:
    """The plain layout: a header line then one line per row, columns aligned (the columns
    at positions ``only``, else all)."""
    where = range(len(listing.columns)) if only is None else only
    cols = [listing.columns[i] for i in where]
    cells = [[c.name for c in cols]] + [
        [c.text(row[i]) for c, i in zip(cols, where, strict=True)] for row in listing.rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cols))]
    return [
        GAP.join(
            cell.rjust(w) if col.kind == "number" else cell.ljust(w)
            for col, cell, w in zip(cols, line, widths, strict=True)
        ).rstrip()
        for line in cells
    ]


def _write(lines: list[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def remarks(listing: Listing, *, terminal: bool) -> None:
    console = out if terminal else err
    for note in listing.notes:
        console.print(printable(note), markup=False, highlight=False)
    for warning in listing.warnings:
        console.print(printable(warning), style="yellow", markup=False, highlight=False)


def _terminal_table(listing: Listing, console: Console) -> Table | None:
    """A rich table of ``listing`` that fits ``console``'s width with every id whole: the
    least important columns are dropped until it does; None when the key alone does not."""
    from rich.table import Table
    from rich.text import Text

    cols = list(listing.columns)
    key = cols[listing.key_index]
    texts = [[c.text(v) for c, v in zip(cols, row, strict=True)] for row in listing.rows]

    def needed(c: Column) -> int:
        i = cols.index(c)
        longest = max([len(c.name), *(len(t[i]) for t in texts)])
        return longest if c.kind != "text" else min(longest, TEXT_MIN_WIDTH)

    kept = list(cols)
    # Each column takes its padding (2) and a border (1); the table one more border.
    while sum(needed(c) + 3 for c in kept) + 1 > console.width:
        if len(kept) == 1:
            return None
        kept.remove(min((c for c in kept if c is not key), key=lambda c: c.drop))
    table = Table(title=Text(printable(listing.title)) if listing.title else None)
    for c in kept:
        whole = c.kind != "text"
        table.add_column(
            c.name,
            justify="right" if c.kind == "number" else "left",
            no_wrap=whole,
            min_width=needed(c) if whole else None,
            overflow="fold",
        )
    where = [cols.index(c) for c in kept]
    for row, line in zip(listing.rows, texts, strict=True):
        table.add_row(
            *(Text(line[i], style=cols[i].style(row[i]) if cols[i].style else "") for i in where)
        )
    return table


def record(rows: Sequence[tuple[str, Any]], title: str | None = None) -> None:
    """One record, a field a line: its name (bold), then its value (``—`` when empty).

    Like a list's id column, a value is never broken: a value with a word wider than the
    space beside the names (an id, a Hub URL: ``COLUMNS=80`` cannot hold
    ``https://huggingface.co/`` and a long id in a boxed table) is written whole on its line,
    left to the terminal to wrap without a line break in it, so it copies and clicks whole.
    Prose (a description) wraps at words under its own column. Values are data: printed as
    text, never as console markup."""
    from rich.table import Table
    from rich.text import Text

    console = out.get()
    if title:
        out.print(Text(printable(title), style="bold"))
    shown = [
        (printable(k), printable(str("—" if v in (None, "") else v), newlines=True))
        for k, v in rows
    ]
    width = max((len(k) for k, _ in shown), default=0)
    room = console.width - width - 2
    for key, value in shown:
        if console.is_terminal and max(map(len, value.split()), default=0) <= room:
            grid = Table.grid(padding=(0, 2))
            grid.add_column(width=width, no_wrap=True, style="bold")
            grid.add_column(overflow="fold")
            grid.add_row(key, Text(value))
            out.print(grid)
        else:
            out.print(
                Text.assemble((key.ljust(width), "bold"), "  ", value.replace("\n", " ")),
                soft_wrap=True,
            )
