"""Reading Etalab inventory files as people publish them, and the layout to write one back.

An inventory comes from a spreadsheet: French Excel saves it in Windows-1252 with ``;``, a
script in UTF-8 with ``,``, some tools add a byte-order mark, and people rename, reorder and
add columns. :class:`InventoryReader` streams such a file line by line (memory does not grow
with the file) and gives each data row with its line number:

- the encoding: UTF-8 (with or without BOM) when the bytes are UTF-8, otherwise the legacy
  encoding ``charset-normalizer`` finds (Windows-1252, Latin-1...). Each line is decoded on
  its own, so a file whose lines were saved in two encodings is read, with a warning per line
  that was not in the file's encoding;
- the separator (``;``, ``,``, tab or ``|``), by :class:`csv.Sniffer` on the header line;
- the columns, by their header with accents, case, spaces and punctuation ignored and with
  the aliases people use (``Nom``, ``nom du modèle``...); a column filiation does not know
  is kept as an extra field, with a warning;
- cells: yes/no in French or English, blank meaning "not stated"; learning types as the
  Etalab inventory writes them in French (``supervisé``...); dates as ``YYYY-MM-DD``,
  ``DD/MM/YYYY``...; the header repeated further down (two files pasted together) is skipped
  with a warning.

The :class:`Layout` it records (encoding, BOM, separator, quoting, line ends, columns as
written, date format, the file's spelling of yes/no and of learning types, rows' order) is
what ``export --like FILE`` writes back.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from filiation.errors import InvalidArgumentError
from filiation.safe_text import csv_uncell

from .models import FALSE, TRUE
from .vocabulary import LearningType

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
#: Columns whose cells are links: a Hub address in any of them names the model on the Hub.
LINK_COLUMNS = ("lien_modele_entraine_si_pertinent", "lien_model_card", "lien_depot_github")
BOOLEAN_COLUMNS = ("modele_entraine_ouvert", "donnees_personnelles_entrainement")

#: Other headers people give the columns, after :func:`header_key` (accents, case, spaces and
#: punctuation removed, "d'", "de", "du", "la", "le", "les" kept as written).
ALIASES: dict[str, tuple[str, ...]] = {
    "nom": ("name", "nom_du_modele", "nom_modele", "modele", "nom_de_modele", "intitule"),
    "description": ("description_du_modele", "descriptif", "objet"),
    "type_apprentissage": ("type_d_apprentissage", "type_de_apprentissage", "learning_type"),
    "fournisseur": ("provider", "editeur", "producteur", "organisation"),
    "version": ("numero_de_version", "version_du_modele"),
    "lien_model_card": (
        "model_card",
        "lien_vers_la_model_card",
        "lien_fiche_modele",
        "lien_vers_la_fiche_du_modele",
        "model_card_url",
    ),
    "lien_depot_github": (
        "lien_depot",
        "lien_du_depot",
        "depot_github",
        "lien_github",
        "lien_vers_le_depot",
        "repository_url",
        "depot_de_code",
    ),
    "modele_entraine_ouvert": (
        "modele_ouvert",
        "ouvert",
        "poids_ouverts",
        "modele_entraine_ouvert_oui_non",
        "open_weights",
    ),
    "lien_modele_entraine_si_pertinent": (
        "lien_modele_entraine",
        "lien_du_modele_entraine",
        "lien_vers_le_modele_entraine",
        "lien_modele",
        "weights_url",
    ),
    "date_derniere_mise_a_jour": (
        "date_de_derniere_mise_a_jour",
        "derniere_mise_a_jour",
        "date_mise_a_jour",
        "date_de_mise_a_jour",
        "date_maj",
        "updated_on",
    ),
    "jeux_de_donnees_entrainement": (
        "jeux_de_donnees_d_entrainement",
        "jeux_de_donnees",
        "donnees_d_entrainement",
        "donnees_entrainement",
        "training_datasets",
    ),
    "donnees_personnelles_entrainement": (
        "donnees_personnelles",
        "donnees_personnelles_d_entrainement",
        "donnees_personnelles_dans_l_entrainement",
        "personal_data",
    ),
    "identifiant_hub": ("hub_id", "id_hub", "identifiant_hugging_face"),
    "derive_de": ("derived_from", "modele_de_base", "derive_du_modele"),
    "type_de_derivation": ("derived_relation", "type_derivation", "relation"),
}

#: Learning types as the Etalab inventory writes them (French), and as filiation codes them.
LEARNING_TYPES_FR: dict[LearningType, str] = {
    LearningType.SUPERVISED: "supervisé",
    LearningType.UNSUPERVISED: "non supervisé",
    LearningType.SEMI_SUPERVISED: "semi-supervisé",
    LearningType.REINFORCEMENT: "par renforcement",
}
_LEARNING_WORDS: dict[str, LearningType] = {
    "supervise": LearningType.SUPERVISED,
    "non_supervise": LearningType.UNSUPERVISED,
    "semi_supervise": LearningType.SEMI_SUPERVISED,
    "par_renforcement": LearningType.REINFORCEMENT,
    "renforcement": LearningType.REINFORCEMENT,
    "auto_supervise": LearningType.UNSUPERVISED,
}

#: Date formats a French inventory uses, the first that reads a file's first date is its own.
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%y")
DELIMITERS = ";,\t|"
#: The bytes read to choose the encoding; the rest of the file is streamed.
SAMPLE_BYTES = 256 * 1024
DETECT_BYTES = 32 * 1024
#: Legacy encodings a French spreadsheet saves in; charset-normalizer chooses among them.
LEGACY_ENCODINGS = ["cp1252", "latin_1", "iso8859_15", "mac_roman", "cp850"]
#: Hub pages that are not models (``huggingface.co/<first part>/...``).
_HUB_NOT_MODELS = {
    "datasets",
    "spaces",
    "docs",
    "blog",
    "papers",
    "models",
    "collections",
    "organizations",
    "settings",
    "join",
    "login",
    "pricing",
    "learn",
    "tasks",
    "api",
}
_HUB_HOSTS = {"huggingface.co", "www.huggingface.co", "hf.co"}
_HUB_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def header_key(text: str) -> str:
    """A header with accents, case, spaces and punctuation removed: ``Nom du modèle`` and
    ``nom_du_modele`` are the same column."""
    flat = unicodedata.normalize("NFKD", text.strip().lstrip("\ufeff"))
    flat = "".join(ch for ch in flat if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "_", flat).strip("_")


_BY_KEY: dict[str, str] = {}
for _column, _aliases in ALIASES.items():
    for _alias in (_column, *_aliases):
        _BY_KEY[header_key(_alias)] = _column


def column_for(header: str) -> str | None:
    """The inventory column a header names, or ``None`` for a column filiation does not know."""
    return _BY_KEY.get(header_key(header))


def learning_type(text: str) -> str:
    """A learning type's code from the French the inventory writes (``Supervisé``,
    ``apprentissage par renforcement``); other text is given back for the usual check."""
    key = header_key(text)
    key = key.removeprefix("apprentissage_")
    found = _LEARNING_WORDS.get(key)
    return found.value if found else text


def hub_model_id(url: str) -> str | None:
    """The Hub model a link names (``https://huggingface.co/org/name/tree/main`` →
    ``org/name``), or ``None`` when it is not a link to a Hub model."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in _HUB_HOSTS:
        return None
    path = [p for p in parts.path.split("/") if p]
    if not path or path[0].lower() in _HUB_NOT_MODELS:
        return None
    if len(path) >= 2 and path[1] not in ("tree", "blob", "resolve", "commit", "discussions"):
        ident = path[:2]
    else:
        ident = path[:1]  # a model without an owner (``gpt2``) or a page of one
    if not all(_HUB_PART.match(p) for p in ident):
        return None
    return "/".join(ident)


def parse_day(text: str) -> tuple[date, str] | None:
    """A date cell and the format it was written in."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date(), fmt
        except ValueError:
            continue
    return None


@dataclass
class Notice:
    """A line's problem or warning: the row is skipped for a problem, read for a warning."""

    line: int
    field: str
    message: str
    #: A stable code the web pages translate (``reg.err.<code>``), and its values.
    code: str = ""
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class Layout:
    """How a file is written, to write another the same way (``export --like``)."""

    encoding: str = "utf-8"
    bom: bool = False
    delimiter: str = ","
    quote_all: bool = False
    line_end: str = "\n"
    #: The header cells as written, and the inventory column each names (None: extra).
    header: list[str] = field(default_factory=lambda: list(COLUMNS))
    columns: list[str | None] = field(default_factory=lambda: list(COLUMNS))
    date_format: str = "%Y-%m-%d"
    list_separator: str = ";"
    #: (column, value as filiation codes it) → the file's spelling (``Oui``, ``Supervisé``).
    words: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Lower-cased names in the file's order.
    order: list[str] = field(default_factory=list)

    @property
    def codec(self) -> str:
        return "utf-8-sig" if self.bom else self.encoding


def _is_utf8(sample: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _encodings(sample: bytes) -> tuple[str, str]:
    """The file's encoding and the one its other lines are read in: UTF-8 when most lines
    with accents are UTF-8 (Windows-1252, or what charset-normalizer finds, for the others),
    else the legacy encoding."""
    accented = [ln for ln in sample.splitlines() if not ln.isascii()]
    utf8 = sum(1 for ln in accented if _is_utf8(ln))
    if utf8 == len(accented):
        return "utf-8", "cp1252"
    legacy = _legacy_encoding(sample)
    return ("utf-8" if utf8 * 2 > len(accented) else legacy), legacy


def _legacy_encoding(sample: bytes) -> str:
    """The legacy encoding of the lines that are not UTF-8 (Windows-1252 when unsure)."""
    from charset_normalizer import from_bytes

    lines = [ln for ln in sample.splitlines() if not _is_utf8(ln)]
    # 32 KB of such lines tell the encoding; more only costs charset-normalizer's memory.
    text = (b"\n".join(lines) or sample)[:DETECT_BYTES]
    best = from_bytes(text, cp_isolation=LEGACY_ENCODINGS).best()
    if best is None:
        return "cp1252"
    name = codecs.lookup(best.encoding).name
    # Latin-1 and Windows-1252 differ only on 0x80-0x9F, where Latin-1 has control
    # characters no spreadsheet writes: Windows-1252 reads both.
    return "cp1252" if name in ("iso8859-1", "latin-1") else name


def _delimiter(header_line: str) -> str:
    try:
        found = csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = ""
    if found and found in header_line:
        return found
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class InventoryReader:
    """Stream an inventory file: :attr:`layout`, :attr:`warnings`, then :meth:`rows`.

    A header that cannot be read (empty file, UTF-16, no ``nom`` column, two headers for the
    same column) raises :class:`HeaderError` at once: no row can be read without it.
    """

    def __init__(
        self, stream: IO[bytes], *, max_notices: int = 1000, keep_order: bool = False
    ) -> None:
        self.stream = stream
        #: Whether :attr:`Layout.order` records the names (an export ``--like`` needs it,
        #: an import does not: its memory then does not grow with the rows).
        self.keep_order = keep_order
        self.warnings: list[Notice] = []
        self.warning_count = 0
        self.max_notices = max_notices
        peek = stream.read(SAMPLE_BYTES)
        if peek.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise HeaderError(
                [Notice(1, "-", "UTF-16 text: save the inventory as CSV (UTF-8 or Windows-1252)")]
            )
        self.layout = Layout(bom=peek.startswith(codecs.BOM_UTF8))
        if self.layout.bom:
            peek = peek[len(codecs.BOM_UTF8) :]
        self.layout.encoding, self._fallback = _encodings(peek)
        self._lines = self._decoded(peek)
        self._line = 0
        self._read_header()

    # -- lines ----------------------------------------------------------------------------
    def _raw_lines(self, peek: bytes) -> Iterator[bytes]:
        rest = b""
        chunk = peek
        while chunk:
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for part in parts:
                yield part + b"\n"
            chunk = self.stream.read(SAMPLE_BYTES)
        if rest:
            yield rest

    def _decoded(self, peek: bytes) -> Iterator[str]:
        for raw in self._raw_lines(peek):
            self._line += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                if self.layout.encoding != "utf-8" and not raw.isascii():
                    message = f"UTF-8, not {self.layout.encoding} like the rest of the file"
                    self.warn(self._line, "-", message, "encoding_mixed", encoding="UTF-8")
                yield text
                continue
            yield raw.decode(self._fallback, errors="replace")
            if self.layout.encoding == "utf-8":
                message = f"not UTF-8 like the rest of the file; read as {self._fallback}"
                self.warn(self._line, "-", message, "encoding_mixed", encoding=self._fallback)

    def warn(self, line: int, column: str, message: str, code: str = "", **values: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.max_notices:
            self.warnings.append(Notice(line, column, message, code, values))

    # -- header ---------------------------------------------------------------------------
    def _read_header(self) -> None:
        first = ""
        for text in self._lines:
            if text.strip():
                first = text
                break
        if not first:
            raise InvalidArgumentError("the inventory is empty: no header line")
        lay = self.layout
        lay.line_end = "\r\n" if first.endswith("\r\n") else "\n"
        lay.delimiter = _delimiter(first)
        lay.quote_all = first.lstrip().startswith('"')
        header_line = self._line
        self._reader = csv.reader(self._chain(first), delimiter=lay.delimiter)
        lay.header = [h.strip() for h in next(self._reader)]
        lay.columns = [column_for(h) if h else None for h in lay.header]
        problems: list[Notice] = []
        seen: dict[str, str] = {}
        for written, column in zip(lay.header, lay.columns, strict=True):
            if column is None:
                if written:
                    self.warn(
                        header_line,
                        written,
                        "unknown column, kept as an extra field",
                        "extra_column",
                    )
                continue
            if column in seen:
                problems.append(
                    Notice(header_line, written, f"names the same column as {seen[column]!r}")
                )
            seen[column] = written
        problems += [
            Notice(header_line, c, "column missing from the header")
            for c in REQUIRED
            if c not in seen
        ]
        if problems:
            raise HeaderError(problems)
        self._header_keys = [header_key(h) for h in lay.header]
        self._header_end = self._line

    def _chain(self, first: str) -> Iterator[str]:
        yield first
        yield from self._lines

    # -- rows -----------------------------------------------------------------------------
    def rows(self) -> Iterator[tuple[int, dict[str, Any] | None, list[Notice]]]:
        """(first line of the row, the model's fields as :func:`~.models.parse_model` takes
        them, or ``None`` when the row cannot be read, and the row's problems)."""
        lay = self.layout
        width = len(lay.header)
        end = self._header_end
        while True:
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield self._line, None, [Notice(self._line, "-", f"not CSV: {exc}")]
                end = self._line
                continue
            line, end = end + 1, self._line
            if not any(c.strip() for c in cells):
                continue
            if [header_key(c) for c in cells] == self._header_keys:
                message = "the header again (two files pasted together?); skipped"
                self.warn(line, "-", message, "header_again")
                continue
            while len(cells) > width and not cells[-1].strip():
                cells.pop()  # empty cells a spreadsheet leaves after the last column
            if len(cells) != width:
                message = f"{len(cells)} cells where the header has {width}"
                values = {"n": str(len(cells)), "width": str(width)}
                yield line, None, [Notice(line, "-", message, "cells", values)]
                continue
            yield line, *self._fields(line, cells)

    def _fields(self, line: int, cells: list[str]) -> tuple[dict[str, Any], list[Notice]]:
        lay = self.layout
        data: dict[str, Any] = {}
        extra: dict[str, str] = {}
        problems: list[Notice] = []
        for written, column, raw in zip(lay.header, lay.columns, cells, strict=True):
            # A cell this module exported with a protective apostrophe reads back as typed.
            value = csv_uncell(raw).strip()
            if column is None:
                if written and value:
                    extra[written] = value
                continue
            target = COLUMNS[column]
            if column == "type_apprentissage" and value:
                code = learning_type(value)
                lay.words.setdefault((column, code), value)
                value = code
            elif column in BOOLEAN_COLUMNS and value.lower() in TRUE | FALSE:
                answer = "yes" if value.lower() in TRUE else "no"
                lay.words.setdefault((column, answer), value)
            elif column == "date_derniere_mise_a_jour" and value:
                found = parse_day(value)
                if found is None:
                    problems.append(
                        Notice(
                            line,
                            column,
                            "give a date as YYYY-MM-DD or DD/MM/YYYY",
                            "date_inventory",
                        )
                    )
                    continue
                if ("date", "format") not in lay.words:
                    lay.words[("date", "format")] = found[1]
                    lay.date_format = found[1]
                data[target] = found[0]
                continue
            elif column == "jeux_de_donnees_entrainement":
                sep = re.search(r"[;,]\s*|\n", value)
                if sep and ("list", "separator") not in lay.words:
                    lay.words[("list", "separator")] = sep.group(0)
                    lay.list_separator = sep.group(0)
                value = re.sub(r"[;\n]", ",", value)
            elif column == "nom" and value and self.keep_order:
                lay.order.append(value.lower())
            data[target] = value
        if extra:
            data["extra"] = extra
        return data, problems


class HeaderError(InvalidArgumentError):
    """The header cannot be read: no row of the file is."""

    def __init__(self, problems: list[Notice]) -> None:
        self.problems = problems
        shown = "; ".join(f"line {p.line}: {p.field}: {p.message}" for p in problems[:20])
        super().__init__(f"nothing imported: the inventory's header: {shown}")


def read_layout(stream: IO[bytes]) -> Layout:
    """The layout of an inventory file (reads it to the end, for its rows' order)."""
    reader = InventoryReader(stream, keep_order=True)
    for _ in reader.rows():
        pass
    return reader.layout
