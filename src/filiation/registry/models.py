"""The registry's records (pydantic) and the validation of what users type into them.

Input comes as loose mappings of strings (a web form, a CSV row, CLI options, JSON): each
``parse_*`` function checks every field, collects one :class:`FieldProblem` per bad field,
and either returns clean values or raises :class:`RegistryValidationError` with all of them
at once (a form shows every message next to its field). Checks that need the database or
the genealogy (names already taken, Hub ids, derivation cycles) are the service's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from filiation.domain import LINEAGE_RELATIONS, listed
from filiation.errors import FieldProblem, RegistryValidationError

from .vocabulary import (
    ROLE_RANK,
    LearningType,
    OrgRole,
    Provenance,
    Role,
    SystemStatus,
)

DERIVATIONS = tuple(r.value for r in LINEAGE_RELATIONS)

NAME_MAX = 200
SHORT_MAX = 200
TEXT_MAX = 5000
URL_MAX = 2000
DATASET_MAX = 300
USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TRUE = {"true", "yes", "oui", "1", "on", "y", "o"}
FALSE = {"false", "no", "non", "0", "off", "n"}
#: Answers that state nothing: a blank cell or field is "not stated", never "no".
UNKNOWN = {"", "?", "unknown", "not stated", "n/a", "nc", "inconnu", "non renseigné"}
EXTRA_MAX = 50


# -- records --------------------------------------------------------------------------------
#: The fields a person edits (a form, an update, an import), as each ``parse_*`` takes them.
MODEL_FIELDS = (
    "name",
    "description",
    "learning_type",
    "provider",
    "version",
    "model_card_url",
    "repository_url",
    "open_weights",
    "weights_url",
    "updated_on",
    "training_datasets",
    "personal_data",
    "hub_id",
    "derived_from",
    "derived_relation",
    "derived_provenance",
    "derived_evidence",
    "extra",
)
SYSTEM_FIELDS = ("name", "purpose", "owner", "role", "status")


class _Editable(BaseModel):
    """A record whose editable fields (``EDITABLE``) a form shows and an update merges."""

    EDITABLE: ClassVar[tuple[str, ...]] = ()

    def fields(self) -> dict[str, Any]:
        """The editable fields, as the record's ``parse_*`` function takes them back."""
        return self.model_dump(include=set(self.EDITABLE))


class User(BaseModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool = False

    def can(self, role: Role) -> bool:
        return not self.disabled and ROLE_RANK[self.role] >= ROLE_RANK[role]


class Use(BaseModel):
    """A system uses a model, for what (the usage description)."""

    system_id: int
    system: str
    model_id: int
    model: str
    usage: str
    model_hub_id: str | None = None
    system_status: SystemStatus | None = None


class RegisteredModel(_Editable):
    EDITABLE = MODEL_FIELDS

    id: int
    name: str
    description: str | None = None
    learning_type: LearningType | None = None
    provider: str | None = None
    version: str | None = None
    model_card_url: str | None = None
    repository_url: str | None = None
    #: ``None``: not stated (an inventory left the cell blank), which is not "no".
    open_weights: bool | None = None
    weights_url: str | None = None
    updated_on: date | None = None
    training_datasets: list[str] = []
    #: ``None``: not stated, which is not "no personal data".
    personal_data: bool | None = None
    hub_id: str | None = None
    derived_from: str | None = None
    derived_relation: str | None = None
    #: How the derivation is known: ``declared`` (a person, a training callback) or
    #: ``inferred`` (read by ``filiation scan`` from a file); ``derived_evidence`` says what
    #: said so (``config.json:_name_or_path``, ``training callback``...).
    derived_provenance: Provenance | None = None
    derived_evidence: str | None = None
    #: Columns of an imported inventory that filiation does not know, by their header as
    #: written there, kept so that an export gives them back.
    extra: dict[str, str] = {}
    created_at: datetime
    retired_at: datetime | None = None
    used_by: list[Use] = []

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class AISystem(_Editable):
    EDITABLE = SYSTEM_FIELDS

    id: int
    name: str
    purpose: str | None = None
    owner: str
    role: OrgRole
    status: SystemStatus
    created_at: datetime
    retired_at: datetime | None = None
    uses: list[Use] = []


class FlaggedDataset(BaseModel):
    id: str
    personal_data: bool
    note: str | None = None


class HistoryEntry(BaseModel):
    id: int
    at: datetime
    user: str
    record_kind: str
    record_key: str
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for every field that differs. An empty value (``{}``,
        ``[]``, ``""``) counts as no value: a record created without extra columns did not
        change them from "—" to "—"."""
        b, a = self.before or {}, self.after or {}
        return [
            (k, b.get(k), a.get(k))
            for k in sorted({*b, *a})
            if _given(b.get(k)) != _given(a.get(k))
        ]


def _given(value: Any) -> Any:
    return None if value in ("", [], {}) else value


#: The six steps of making a model, in their usual order (a training run's ``steps``).
TRAINING_STEPS = (
    "data_preparation",
    "building",
    "compiling",
    "training",
    "evaluating",
    "predicting",
)


class TrainingStep(BaseModel):
    """One of the six steps of making a model, as a training callback saw it."""

    step: str = Field(
        description="data_preparation, building, compiling, training, evaluating or predicting"
    )
    at: datetime
    details: dict[str, Any] = {}


class TrainingRun(BaseModel):
    """A training run recorded by a training callback (``filiation.training``)."""

    id: int
    model_id: int
    model: str
    at: datetime
    user: str
    framework: str
    base_model: str | None = None
    datasets: list[str] = []
    hyper_parameters: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    steps: list[TrainingStep] = []
    output_dir: str | None = None


class TokenInfo(BaseModel):
    id: int
    user: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None


# -- parsing ----------------------------------------------------------------------------------
class _Check:
    """Collects one problem per field while values are cleaned."""

    def __init__(self, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        self.data = data
        self.problems: dict[str, FieldProblem] = {}
        unknown = sorted(set(data) - set(allowed))
        for name in unknown:
            self.problems[name] = FieldProblem(
                "unknown_field", f"no such field; fields are: {', '.join(allowed)}"
            )

    def bad(self, field: str, code: str, message: str, **values: str) -> None:
        self.problems.setdefault(field, FieldProblem(code, message, **values))

    def text(self, field: str, *, required: bool = False, max_len: int = TEXT_MAX) -> str | None:
        raw = self.data.get(field)
        if raw is None:
            value = ""
        elif isinstance(raw, str):
            value = raw.strip()
        else:
            self.bad(field, "type", "give text")
            return None
        if not value:
            if required:
                self.bad(field, "required", "required")
            return None
        if len(value) > max_len:
            self.bad(field, "too_long", f"at most {max_len} characters", max=str(max_len))
            return None
        if _CONTROL.search(value):
            self.bad(field, "control", "control characters are not allowed")
            return None
        return value

    def line(self, field: str, *, required: bool = False, max_len: int = SHORT_MAX) -> str | None:
        value = self.text(field, required=required, max_len=max_len)
        if value is not None and ("\n" in value or "\r" in value):
            self.bad(field, "one_line", "one line only")
            return None
        return value

    def choice(self, field: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.line(field, required=required)
        if value is None:
            return None
        norm = value.lower().replace("_", "-").replace(" ", "-")
        if norm == "semisupervised":
            norm = "semi-supervised"
        if norm not in choices:
            self.bad(field, "choice", f"one of: {', '.join(choices)}", choices=", ".join(choices))
            return None
        return norm

    def url(self, field: str) -> str | None:
        value = self.line(field, max_len=URL_MAX)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            self.bad(field, "url", "give a web address starting with https:// or http://")
            return None
        return value

    def flag(self, field: str) -> bool | None:
        """Yes, no, or ``None`` when the answer is blank or says it is not known."""
        raw = self.data.get(field)
        if raw is None or isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            word = raw.strip().lower()
            if word in TRUE | FALSE:
                return word in TRUE
            if word in UNKNOWN:
                return None
        self.bad(field, "bool", "answer yes, no or leave blank (oui/non/vide)")
        return None

    def extra(self, field: str) -> dict[str, str]:
        raw = self.data.get(field)
        if not raw:
            return {}
        if not isinstance(raw, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            self.bad(field, "type", "give column names and their text")
            return {}
        if len(raw) > EXTRA_MAX:
            self.bad(field, "too_many", f"at most {EXTRA_MAX} extra columns", max=str(EXTRA_MAX))
            return {}
        out: dict[str, str] = {}
        for key, value in raw.items():
            if len(key) > SHORT_MAX or len(value) > TEXT_MAX or _CONTROL.search(key + value):
                self.bad(field, "extra", f"column {key[:80]!r}: too long or control characters")
                return {}
            if value.strip():
                out[key] = value
        return out

    def day(self, field: str) -> date | None:
        raw = self.data.get(field)
        if raw is None or raw == "":
            return None
        if isinstance(raw, datetime):
            value: date = raw.date()
        elif isinstance(raw, date):
            value = raw
        elif isinstance(raw, str):
            parsed = _parse_date(raw.strip())
            if parsed is None:
                self.bad(field, "date", "give a date as YYYY-MM-DD (or DD/MM/YYYY)")
                return None
            value = parsed
        else:
            self.bad(field, "date", "give a date as YYYY-MM-DD (or DD/MM/YYYY)")
            return None
        if value > datetime.now(UTC).date() + timedelta(days=1):
            self.bad(field, "future", "this date is in the future")
            return None
        if value.year < 1950:
            self.bad(field, "date", "give a date as YYYY-MM-DD (or DD/MM/YYYY)")
            return None
        return value

    def ids(self, field: str) -> list[str]:
        raw = self.data.get(field)
        if raw is None or raw == "":
            return []
        items = raw.replace("\n", ",").replace(";", ",").split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            self.bad(field, "type", "give data set ids separated by commas")
            return []
        out: list[str] = []
        seen: set[str] = set()
        for item in (i.strip() for i in items):
            if not item:
                continue
            if len(item) > DATASET_MAX or _CONTROL.search(item) or " " in item:
                self.bad(field, "dataset_id", f"not a data set id: {item[:80]!r}", id=item[:80])
                return []
            if item.lower() not in seen:
                seen.add(item.lower())
                out.append(item)
        return out

    def done(self, what: str, partial: dict[str, Any] | None = None) -> None:
        if self.problems:
            raise RegistryValidationError(self.problems, what, partial)


def _parse_date(text: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None


def parse_model(data: Mapping[str, Any]) -> dict[str, Any]:
    """The clean fields of a registered model, or every problem at once."""
    c = _Check(data, MODEL_FIELDS)
    out: dict[str, Any] = {
        "name": c.line("name", required=True, max_len=NAME_MAX),
        "description": c.text("description"),
        "learning_type": c.choice("learning_type", tuple(t.value for t in LearningType)),
        "provider": c.line("provider"),
        "version": c.line("version"),
        "model_card_url": c.url("model_card_url"),
        "repository_url": c.url("repository_url"),
        "open_weights": c.flag("open_weights"),
        "weights_url": c.url("weights_url"),
        "updated_on": c.day("updated_on"),
        "training_datasets": c.ids("training_datasets"),
        "personal_data": c.flag("personal_data"),
        "hub_id": c.line("hub_id", max_len=DATASET_MAX),
        "derived_from": c.line("derived_from", max_len=NAME_MAX),
        "derived_relation": c.choice("derived_relation", DERIVATIONS),
        "derived_provenance": c.choice("derived_provenance", tuple(p.value for p in Provenance)),
        "derived_evidence": c.text("derived_evidence", max_len=TEXT_MAX),
        "extra": c.extra("extra"),
    }
    if out["weights_url"] and out["open_weights"] is False and "open_weights" not in c.problems:
        c.bad(
            "weights_url",
            "weights_not_open",
            "a link to the trained model is for open models: tick 'open' or leave it empty",
        )
    if out["hub_id"] and out["derived_from"]:
        c.bad(
            "derived_from",
            "hub_and_derived",
            "a model is either on the Hub (Hub id) or derives from a registered model, not both",
        )
    if out["derived_from"] and not out["derived_relation"] and "derived_relation" not in c.problems:
        c.bad("derived_relation", "required", "required when the model derives from another")
    if out["derived_relation"] and not out["derived_from"] and "derived_from" not in c.problems:
        c.bad("derived_from", "required", "required when a relation type is given")
    for field in ("derived_provenance", "derived_evidence"):
        if out[field] and not out["derived_from"] and "derived_from" not in c.problems:
            c.bad(field, "without_derivation", "only for a model that derives from another")
    c.done("model", {k: (None if k in c.problems else v) for k, v in out.items()})
    return out


def parse_system(data: Mapping[str, Any]) -> dict[str, Any]:
    c = _Check(data, SYSTEM_FIELDS)
    out = {
        "name": c.line("name", required=True, max_len=NAME_MAX),
        "purpose": c.text("purpose"),
        "owner": c.line("owner", required=True),
        "role": c.choice("role", tuple(r.value for r in OrgRole), required=True),
        "status": c.choice("status", tuple(s.value for s in SystemStatus))
        or SystemStatus.DEVELOPMENT.value,
    }
    c.done("system")
    return out


def parse_usage(value: Any) -> str:
    c = _Check({"usage": value}, ("usage",))
    usage = c.text("usage", required=True, max_len=2000)
    c.done("use")
    assert usage is not None
    return usage


def parse_user_name(value: Any) -> str:
    if not isinstance(value, str) or not USER_RE.match(value.strip()):
        raise RegistryValidationError(
            {
                "name": FieldProblem(
                    "user_name", "1-64 letters, digits, '.', '_', '@' or '-', starting with one"
                )
            },
            "user",
        )
    return value.strip()


def parse_role(value: Any) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise RegistryValidationError(
            {"role": FieldProblem("choice", f"one of: {listed(Role)}")}, "user"
        ) from None
