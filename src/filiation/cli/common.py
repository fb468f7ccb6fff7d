"""What every command group shares: the global options' state, the consoles, the options that
several commands take, opening the genealogy, and writing a file atomically.

This module is imported to *define* the commands (``filiation --help`` and ``--version`` load
it), so it imports nothing heavy at module level: rich, the store, the index and pydantic are
loaded by the first command that uses them.
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from filiation.domain import NodeKind, Relation, listed
from filiation.errors import InvalidArgumentError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console

    from filiation.service import Genealogy

T = TypeVar("T")

#: The environment variable naming the store (``--db``); the same name as
#: ``filiation.service.ENV_DB``, which a test checks, so that ``--help`` needs no store code.
ENV_DB = "FILIATION_DB"


class State:
    """The global options (``filiation --db … --quiet``), read by every command."""

    db: str | None = None
    quiet: bool = False


state = State()


class LazyConsole:
    """A rich console made on first use: rich costs tens of milliseconds to import, which
    ``--version``, ``--help`` and JSON output do not need to pay."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
            if not self._console.is_terminal:
                # Piped or redirected, a long line stays one line (a terminal wraps it).
                self._console.soft_wrap = True
        return self._console

    def reset(self) -> None:
        """Forget the console: the next use makes one for the terminal as it is now (its
        width, whether it is a terminal), as each command run in one process must."""
        self._console = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


out = LazyConsole(soft_wrap=False, highlight=False)
err = LazyConsole(stderr=True, highlight=False, soft_wrap=True)


def escape(text: object) -> str:
    """A value from the store as console text: printable (no terminal control characters)
    and with rich's markup escaped (:func:`filiation.safe_text.console_text`)."""
    from filiation.safe_text import console_text

    return console_text(text)


# -- options shared by several commands -------------------------------------------------------
RELATION_HELP = (
    "Relation types to follow (repeat or comma-separate): "
    + listed(Relation)
    + ". Default: the model-to-model ones."
)
RelationOpt = Annotated[list[str] | None, typer.Option("--relation", "-r", help=RELATION_HELP)]
DepthOpt = Annotated[
    int | None, typer.Option("--max-depth", "-d", min=0, help="Stop after this many generations.")
]
LimitOpt = Annotated[
    int | None,
    typer.Option("--limit", "-n", min=0, help="Return at most this many nodes (best known first)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (see docs/json.md).")]
KindsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        "-k",
        help=f"Keep only these kinds (repeat or comma-separate): {listed(NodeKind)}. With -r "
        "trained_on,published_by the walk reaches data sets and authors.",
    ),
]
MinDownloadsOpt = Annotated[
    int | None,
    typer.Option(
        "--min-downloads", min=0, help="Keep only nodes with at least this many downloads."
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Keep only nodes created on or after this date (2024-05-01)."),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Keep only nodes created on or before this date.")
]
SuspectedOpt = Annotated[
    bool,
    typer.Option(
        "--suspected",
        help="Also follow suspected links (inferred by `filiation infer`, not declared), "
        "shown apart with their confidence.",
    ),
]
MinConfidenceOpt = Annotated[
    float | None,
    typer.Option(
        "--min-confidence",
        min=0.0,
        max=1.0,
        help="With --suspected: the least confidence of a suspected link followed (0.5).",
    ),
]
TreeOpt = Annotated[bool, typer.Option("--tree", help="Draw the result as a tree.")]


#: One option of a set several commands take: its parameter name, its annotation (the type
#: and the ``typer.Option``), its default.
OptionSpec = tuple[str, Any, Any]


def option_set(
    placeholder: str,
    options: Sequence[OptionSpec],
    build: Callable[[dict[str, Any], dict[str, Any]], Any],
    stand_ins: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator giving a command the ``options`` in place of its ``placeholder`` parameter,
    so that a set of options several commands take is declared once.

    Typer reads a command's options from its signature: the wrapper's signature has the
    options where ``placeholder`` was, and the wrapper passes the command, as that parameter,
    ``build(values, given)``: the options' values, and the command's own arguments. Typer
    needs the annotations as objects: ``stand_ins`` resolves the names imported only for type
    checking (``placeholder``'s type, say, when importing it would be costly).
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(command, localns=dict(stand_ins or {}), include_extras=True)
        signature = inspect.signature(command)
        params: list[inspect.Parameter] = []
        for p in signature.parameters.values():
            if p.name != placeholder:
                params.append(p.replace(annotation=hints[p.name]))
                continue
            params += [
                inspect.Parameter(name, p.kind, default=default, annotation=hint)
                for name, hint, default in options
            ]

        @functools.wraps(command)
        def with_options(**given: Any) -> None:
            values = {name: given.pop(name) for name, _, _ in options}
            command(**{placeholder: build(values, given)}, **given)

        with_options.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return with_options

    return decorate


# -- the genealogy -------------------------------------------------------------------------------
@contextmanager
def steps() -> Iterator[Callable[[str], None]]:
    """A spinner for long steps whose size is unknown (building the index...)."""
    # A script's stderr (piped, redirected) shows no spinner: asked of the stream itself, so
    # that a question answered from a built index does not make a rich console for nothing.
    if state.quiet or not sys.stderr.isatty() or not err.is_terminal:
        yield lambda _msg: None
        return
    with err.status("working…") as status:
        yield lambda msg: status.update(escape(msg) + "…")


def open_genealogy(db: str | None = None) -> Genealogy:
    """The genealogy of ``db``, else of the global ``--db`` (or its default)."""
    from filiation.service import Genealogy

    return Genealogy(db or state.db)


def ensure_index(g: Genealogy) -> None:
    """Load (or build) the index now, with a spinner, rather than inside the first question."""
    with steps() as say, g.reporting(say):
        _ = g.index


def run(fn: Callable[[Genealogy], T]) -> T:
    """Ask ``fn`` of the genealogy once its index is loaded."""
    g = open_genealogy()
    ensure_index(g)
    return fn(g)


# -- files and dates -----------------------------------------------------------------------------
def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` then rename it there: an interrupted or failed write
    leaves neither a half file nor a stray temporary one."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidArgumentError(f"cannot write {path}: {exc.strerror or exc}") from None


def parse_moment(value: str | None, name: str) -> datetime | None:
    """A date or date-time typed on the command line, parsed by the same rule as the traversal
    filters (``parse_date``, from :mod:`filiation.lineage.query`), as a naive UTC date-time."""
    if value is None:
        return None
    from datetime import UTC, timedelta

    from filiation.lineage.query import EPOCH, parse_date

    micros = parse_date(value, end=False, name=name)
    if micros is None:
        return None
    return (EPOCH + timedelta(microseconds=micros)).astimezone(UTC).replace(tzinfo=None)


def print_json(value: Any) -> None:
    """``value`` as indented JSON on standard output (what ``--json`` prints everywhere)."""
    import json

    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


@typing.overload
def dump(value: BaseModel) -> dict[str, Any]: ...
@typing.overload
def dump(value: list[Any]) -> list[Any]: ...
@typing.overload
def dump(value: T) -> T: ...
def dump(value: object) -> object:
    """A pydantic record (or a list of them) as JSON-ready values; anything else as is."""
    if isinstance(value, list):
        return [dump(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value
