"""The Etalab inventory of pre-trained models, as CSV: export and all-or-nothing import.

Columns follow the inventory's names (``nom``, ``description``, ``lien_model_card``,
``lien_depot_github``, ``modele_entraine_ouvert`` as ``oui``/``non``,
``lien_modele_entraine_si_pertinent``, ``date_derniere_mise_a_jour``), then the other fields
of a registered model under French names of the same style; filiation's own links to the
genealogy (``identifiant_hub``, ``derive_de``, ``type_de_derivation``) come last. Several
data sets are separated by ``;`` in one cell. Dates are written ``YYYY-MM-DD`` (``DD/MM/YYYY``
is read too). A file is imported entirely or not at all: every invalid row is reported with
its line number (the header is line 1).
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from filiation.errors import InvalidArgumentError
from filiation.limits import MAX_IMPORT_BYTES
from filiation.safe_text import csv_cell, csv_uncell

from .errors import RegistryValidationError
from .models import RegisteredModel, parse_model

if TYPE_CHECKING:
    from .models import User
    from .service import Registry

#: CSV column → field of a registered model, in the order of the export.
COLUMNS: dict[str, str] = {
    "nom": "name",
    "description": "description",
    "type_apprentissage": "learning_type",
    "fournisseur": "provider",
    "version": "version",
    "lien_model_card": "model_card_url",
    "lien_depot_github": "repository_url",
    "modele_entraine_ouvert": "open_weights",
    "lien_modele_entraine_si_pertinent": "weights_url",
    "date_derniere_mise_a_jour": "updated_on",
    "jeux_de_donnees_entrainement": "training_datasets",
    "donnees_personnelles_entrainement": "personal_data",
    "identifiant_hub": "hub_id",
    "derive_de": "derived_from",
    "type_de_derivation": "derived_relation",
}
REQUIRED = ("nom", "description")
MAX_BYTES = MAX_IMPORT_BYTES


class RowProblem(BaseModel):
    line: int
    field: str
    message: str


class ImportReport(BaseModel):
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []


class EtalabImportError(InvalidArgumentError):
    """Rows of an inventory are invalid; nothing was imported."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        shown = "; ".join(f"line {p.line}: {p.field}: {p.message}" for p in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(
            f"nothing imported: {len(problems)} problem(s) in the inventory: {shown}{more}"
        )


def _cell(field: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list):
        return ";".join(value)
    if field == "updated_on":
        return value.isoformat()
    return str(value)


def export_csv(models: list[RegisteredModel]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for m in models:
        data = m.model_dump()
        # Formula-safe: names, descriptions and URLs are typed by registry users.
        writer.writerow([csv_cell(_cell(f, data[f])) for f in COLUMNS.values()])
    return buf.getvalue()


def read_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, fields) per data row; a bad header is one error for the whole file."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise InvalidArgumentError(f"the inventory is larger than {MAX_BYTES // 2**20} MB")
    text = text.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidArgumentError("the inventory is empty: no header line") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise EtalabImportError(
            [RowProblem(line=1, field=c, message="column missing from the header") for c in missing]
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise EtalabImportError(
            [RowProblem(line=1, field=h, message="unknown column") for h in unknown]
        )
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                rows.append((line, {"__cells__": f"{len(cells)} cells, header has {len(header)}"}))
                continue
            # A cell this module exported with a protective apostrophe reads back as typed.
            data = {COLUMNS[h]: csv_uncell(v) for h, v in zip(header, cells, strict=True)}
            if "training_datasets" in data:
                data["training_datasets"] = data["training_datasets"].replace(";", ",")
            rows.append((line, data))
    except csv.Error as exc:
        raise EtalabImportError(
            [RowProblem(line=reader.line_num, field="-", message=f"not CSV: {exc}")]
        ) from None
    return rows


def import_csv(reg: Registry, text: str, actor: User) -> ImportReport:
    """Create the rows' models that are new, update those whose name exists; every row or
    none (one transaction; each row's changes enter the history)."""
    rows = read_rows(text)
    problems: list[RowProblem] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    names: dict[str, int] = {}
    for line, data in rows:
        if "__cells__" in data:
            problems.append(RowProblem(line=line, field="-", message=data["__cells__"]))
            continue
        try:
            clean = parse_model(data)
        except RegistryValidationError as exc:
            problems += [
                RowProblem(line=line, field=_column(f), message=p.message)
                for f, p in exc.fields.items()
            ]
            continue
        if not clean["description"]:
            problems.append(RowProblem(line=line, field="description", message="required"))
        key = clean["name"].lower()
        if key in names:
            problems.append(
                RowProblem(line=line, field="nom", message=f"same name as line {names[key]}")
            )
            continue
        names[key] = line
        parsed.append((line, clean))
    if problems:
        raise EtalabImportError(problems)
    # Parents first, so that a row may derive from a model defined further down the file.
    order = _parents_first(parsed)
    report = ImportReport()
    existing = {m.name.lower(): m for m in reg.models(include_retired=True)}
    with reg.engine.begin() as conn:
        for line, clean in order:
            try:
                old = existing.get(clean["name"].lower())
                if old is None:
                    reg.insert_model_in(conn, clean, actor)
                    report.created.append(clean["name"])
                elif reg.update_model_in(conn, old.id, clean, actor):
                    report.updated.append(clean["name"])
                else:
                    report.unchanged.append(clean["name"])
            except RegistryValidationError as exc:
                problems += [
                    RowProblem(line=line, field=_column(f), message=p.message)
                    for f, p in exc.fields.items()
                ]
        if problems:
            problems.sort(key=lambda p: p.line)
            raise EtalabImportError(problems)  # rolls the transaction back
    return report


def _column(field: str) -> str:
    return next((c for c, f in COLUMNS.items() if f == field), field)


def _parents_first(rows: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    by_key = {clean["name"].lower(): (line, clean) for line, clean in rows}
    out: list[tuple[int, dict[str, Any]]] = []
    done: set[str] = set()

    def visit(key: str, path: set[str]) -> None:
        if key in done or key in path:
            return
        line, clean = by_key[key]
        parent = (clean["derived_from"] or "").lower()
        if parent in by_key:
            visit(parent, path | {key})
        done.add(key)
        out.append((line, clean))

    for key in by_key:
        visit(key, set())
    return out
