"""The Etalab inventory of pre-trained models, as CSV: import as people publish it, export as
the inventory (or as a given file) writes it.

Columns follow the inventory's names (``nom``, ``description``, ``lien_model_card``,
``lien_depot_github``, ``modele_entraine_ouvert`` as ``oui``/``non``/blank,
``lien_modele_entraine_si_pertinent``, ``date_derniere_mise_a_jour``), then the other fields
of a registered model under French names of the same style; filiation's own links to the
genealogy (``identifiant_hub``, ``derive_de``, ``type_de_derivation``) come last, then the
extra columns an imported file had. How a file is read (encodings, separators, headers, cells)
is :mod:`.etalab_format`'s.

An import streams the file in one transaction: good rows are written, each bad row is reported
with its line number and skipped (``strict``: any bad row and nothing is written); the history
records the import (file, rows read, imported, skipped) besides each model's change. A Hub
address in a link column (``https://huggingface.co/org/name``) gives the model its Hub id when
the genealogy knows that model, so that it gets its public ancestry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel

from filiation.domain import NodeKind
from filiation.errors import (
    EtalabImportError,
    InvalidArgumentError,
    NodeNotFoundError,
    RegistryValidationError,
)
from filiation.safe_text import csv_cell

from .etalab_format import (
    COLUMNS,
    LEARNING_TYPES_FR,
    LINK_COLUMNS,
    HeaderError,
    InventoryReader,
    Layout,
    Notice,
    read_layout,
)
from .models import RegisteredModel, parse_model
from .vocabulary import LearningType

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from .models import User
    from .service import Registry

__all__ = ["COLUMNS", "ImportReport", "RowProblem", "export_csv"]

#: Problems and warnings kept in a report (the others are counted).
MAX_NOTICES = 1000


class RowProblem(BaseModel):
    line: int
    field: str
    message: str
    #: A stable code the web pages translate (``reg.err.<code>``), and its values.
    code: str = ""
    values: dict[str, str] = {}

    @classmethod
    def of(cls, n: Notice) -> RowProblem:
        return cls(line=n.line, field=n.field, message=n.message, code=n.code, values=n.values)


class ImportReport(BaseModel):
    """What an import did: the models created, updated and unchanged, the rows skipped (with
    their problems) and the warnings, each with its line number."""

    file: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    rows: int = 0
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    linked: list[str] = []
    skipped: int = 0
    problems: list[RowProblem] = []
    problem_count: int = 0
    warnings: list[RowProblem] = []
    warning_count: int = 0

    def summary(self) -> dict[str, Any]:
        """What the history records of the import."""
        return {
            "file": self.file,
            "encoding": self.encoding,
            "rows": self.rows,
            "imported": len(self.created) + len(self.updated) + len(self.unchanged),
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "skipped": self.skipped,
            "warnings": self.warning_count,
        }


# -- export ---------------------------------------------------------------------------------
def _cell(column: str, value: Any, layout: Layout) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        answer = "yes" if value else "no"
        return layout.words.get((column, answer), "oui" if value else "non")
    if column == "type_apprentissage":
        code = LearningType(value)
        return layout.words.get((column, code.value), LEARNING_TYPES_FR[code])
    if isinstance(value, list):
        return layout.list_separator.join(value)
    if column == "date_derniere_mise_a_jour":
        return value.strftime(layout.date_format)
    return str(value)


def export_csv(models: list[RegisteredModel], like: Layout | None = None) -> bytes:
    """The inventory of ``models``; with ``like``, in that file's columns, separator,
    encoding, quoting, line ends, spellings and date format, its rows in its order first."""
    if like is None:
        layout = Layout()
        extras: dict[str, None] = {}
        for m in models:
            extras.update(dict.fromkeys(m.extra))
        layout.header = [*COLUMNS, *extras]
        layout.columns = [*COLUMNS, *(None for _ in extras)]
    else:
        layout = like
        rank = {name: i for i, name in enumerate(layout.order)}
        models = sorted(models, key=lambda m: (rank.get(m.name.lower(), len(rank)), m.name.lower()))
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        delimiter=layout.delimiter,
        lineterminator=layout.line_end,
        quoting=csv.QUOTE_ALL if layout.quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow(layout.header)
    for m in models:
        data = m.model_dump()
        extra = {k.lower(): v for k, v in m.extra.items()}
        row = []
        for written, column in zip(layout.header, layout.columns, strict=True):
            if column is None:
                row.append(csv_cell(extra.get(written.lower(), "")))
            else:
                # Formula-safe: names, descriptions and URLs are typed by registry users.
                row.append(csv_cell(_cell(column, data[COLUMNS[column]], layout)))
        writer.writerow(row)
    try:
        return buf.getvalue().encode(layout.codec)
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"the inventory has characters {layout.encoding} cannot write "
            f"({exc.object[exc.start : exc.end]!r}); export without --like, in UTF-8"
        ) from None


def layout_of(path: Path) -> Layout:
    """The layout of the inventory file at ``path`` (``export --like``)."""
    with path.open("rb") as stream:
        return read_layout(stream)


# -- import ---------------------------------------------------------------------------------
def as_stream(source: bytes | str | IO[bytes]) -> IO[bytes]:
    if isinstance(source, str):
        return io.BytesIO(source.encode("utf-8"))
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return source


class _Import:
    """One import: the transaction's connection, the models by name, the report."""

    def __init__(self, reg: Registry, conn: Connection, actor: User, report: ImportReport):
        self.reg, self.conn, self.actor, self.report = reg, conn, actor, report
        self.ids = {m.name.lower(): m.id for m in reg.models(include_retired=True)}
        self.seen: dict[str, int] = {}
        #: Names of the rows that were not imported, and their lines.
        self.failed: dict[str, int] = {}

    def problem(self, notices: Iterable[Notice | RowProblem]) -> None:
        for n in notices:
            self.report.problem_count += 1
            if len(self.report.problems) < MAX_NOTICES:
                self.report.problems.append(n if isinstance(n, RowProblem) else RowProblem.of(n))

    def warn(self, notice: Notice) -> None:
        self.report.warning_count += 1
        if len(self.report.warnings) < MAX_NOTICES:
            self.report.warnings.append(RowProblem.of(notice))

    def check(self, line: int, data: dict[str, Any]) -> dict[str, Any] | None:
        """The row's clean fields, or None (its problems reported)."""
        try:
            clean = parse_model(data)
        except RegistryValidationError as exc:
            self.problem(
                RowProblem(
                    line=line, field=_column(f), message=p.message, code=p.code, values=p.values
                )
                for f, p in exc.fields.items()
            )
            return None
        if not clean["description"]:
            self.problem([Notice(line, "description", "required", "required")])
            return None
        key = clean["name"].lower()
        if key in self.seen:
            first = str(self.seen[key])
            message = f"same name as line {first}"
            self.problem([Notice(line, "nom", message, "same_name", {"line": first})])
            return None
        self.seen[key] = line
        self._link_hub(line, data, clean)
        return clean

    def _link_hub(self, line: int, data: dict[str, Any], clean: dict[str, Any]) -> None:
        """A Hub address in a link column gives a model without a Hub id and without a
        registered parent its Hub id, when the genealogy knows that model."""
        from .etalab_format import hub_model_id

        if clean["hub_id"] or clean["derived_from"]:
            return
        links = [(c, clean[COLUMNS[c]]) for c in LINK_COLUMNS]
        links += list((data.get("extra") or {}).items())
        for column, url in links:
            hub_id = hub_model_id(url) if url else None
            if hub_id is None:
                continue
            try:
                clean["hub_id"] = self.reg.g.resolve(hub_id, NodeKind.MODEL)
            except NodeNotFoundError:
                message = (
                    f"the Hub model {hub_id} is not in the genealogy: no Hub id set "
                    "(fetch it, then import again)"
                )
                self.warn(Notice(line, column, message, "hub_not_in_genealogy", {"id": hub_id}))
                continue
            self.report.linked.append(clean["name"])
            return

    def orphan(self, line: int, clean: dict[str, Any]) -> None:
        """A row whose parent is neither registered nor imported: skipped, saying why."""
        parent = clean["derived_from"].lower()
        where = self.failed.get(parent)
        message = (
            f"derives from the model of line {where}, which was not imported"
            if where is not None
            else "no registered model has this name"
        )
        self.report.skipped += 1
        self.failed[clean["name"].lower()] = line
        values = {"line": str(where)} if where is not None else {}
        code = "parent_skipped" if where is not None else "model_unknown"
        self.problem([Notice(line, "derive_de", message, code, values)])

    def write(self, line: int, clean: dict[str, Any], present: set[str]) -> None:
        """Create or update the row's model; a refusal is the row's problem (nothing of the
        row is written: the checks come before the write)."""
        key = clean["name"].lower()
        old = self.ids.get(key)
        try:
            if old is None:
                self.ids[key] = self.reg.insert_model_in(self.conn, clean, self.actor)
                self.report.created.append(clean["name"])
                return
            # Only the columns the file has: a file without ``identifiant_hub`` keeps the ids.
            changes = {f: v for f, v in clean.items() if f in present}
            if self.reg.update_model_in(self.conn, old, changes, self.actor):
                self.report.updated.append(clean["name"])
            else:
                self.report.unchanged.append(clean["name"])
        except RegistryValidationError as exc:
            self.report.skipped += 1
            self.failed[key] = line
            self.problem(
                RowProblem(
                    line=line, field=_column(f), message=p.message, code=p.code, values=p.values
                )
                for f, p in exc.fields.items()
            )


def import_csv(
    reg: Registry,
    source: bytes | str | IO[bytes],
    actor: User,
    *,
    name: str | None = None,
    strict: bool = False,
) -> ImportReport:
    """Import an inventory file (streamed): create the rows' models that are new, update
    those whose name exists. One transaction: bad rows are skipped and reported, or with
    ``strict`` nothing is written when any row is bad."""
    try:
        reader = InventoryReader(as_stream(source), max_notices=MAX_NOTICES)
    except HeaderError as exc:
        raise EtalabImportError([RowProblem.of(p) for p in exc.problems]) from None
    lay = reader.layout
    report = ImportReport(file=name, encoding=lay.codec, delimiter=lay.delimiter)
    present = {COLUMNS[c] for c in lay.columns if c is not None}
    if None in lay.columns:
        present.add("extra")
    with reg.engine.begin() as conn:
        job = _Import(reg, conn, actor, report)
        # A row may derive from a model defined further down: it waits for its parent.
        waiting: list[tuple[int, dict[str, Any]]] = []
        for line, data, problems in reader.rows():
            report.rows += 1
            clean = job.check(line, data) if data is not None and not problems else None
            if clean is None:
                job.problem(problems)
                report.skipped += 1
                if data is not None and isinstance(data.get("name"), str):
                    job.failed.setdefault(data["name"].strip().lower(), line)
                continue
            parent = (clean["derived_from"] or "").lower()
            if parent and parent not in job.ids:
                waiting.append((line, clean))
                continue
            job.write(line, clean, present)
        while waiting:
            ready = [(ln, c) for ln, c in waiting if c["derived_from"].lower() in job.ids]
            for ln, c in ready:
                job.write(ln, c, present)
            if not ready:  # the parents are not in the registry nor in the file's good rows
                for ln, c in waiting:
                    job.orphan(ln, c)
            waiting = [w for w in waiting if w not in ready] if ready else []
        for w in reader.warnings:
            job.warn(w)
        report.warning_count += reader.warning_count - len(reader.warnings)
        report.problems.sort(key=lambda p: p.line)
        report.warnings.sort(key=lambda p: p.line)
        if strict and report.problem_count:
            raise EtalabImportError(report.problems, report)  # rolls the transaction back
        key = (name or "-")[:300]
        reg.log_change(conn, actor, "inventory", key, "import", None, report.summary())
    return report


def _column(field: str) -> str:
    return next((c for c, f in COLUMNS.items() if f == field), field)
