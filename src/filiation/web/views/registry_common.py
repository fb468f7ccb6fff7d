"""What the registry's pages share: the login guard (a FastAPI dependency), the page frame,
the CSRF check of their forms, the refusal page, and the forms' fields.

Pages need a logged-in viewer: the session cookie, read by the same
:func:`filiation.http.auth.requester` as the JSON API. A visitor who is not logged in is sent
to the login page (303), which brings them back. Every form carries the session's CSRF token,
and a POST whose token does not match is refused (403) before anything is read from it; the
login form, which has no session yet, uses a double-submit cookie instead. Validation
problems come back as the same form with each message next to its field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from filiation import i18n
from filiation.domain import LINEAGE_RELATIONS
from filiation.errors import (
    AuthenticationError,
    FieldProblem,
    PermissionDeniedError,
    RecordNotFoundError,
    RegistryValidationError,
)
from filiation.http.auth import Requester, requester_or_nobody, same_token
from filiation.http.context import RegistryDep, registry_of, root_path
from filiation.service.registry import (
    AISystem,
    LearningType,
    OrgRole,
    RegisteredModel,
    Role,
    SystemStatus,
)

from ..rendering import Lang, render

#: The forms' fields: (name, input type, choices). Labels and help are i18n keys
#: ``reg.f.<name>`` and ``reg.h.<name>``.
FormSpec = list[tuple[str, str, tuple[str, ...]]]
MODEL_FORM: FormSpec = [
    ("name", "text", ()),
    ("description", "textarea", ()),
    ("learning_type", "learning", tuple(t.value for t in LearningType)),
    ("provider", "text", ()),
    ("version", "text", ()),
    ("model_card_url", "url", ()),
    ("repository_url", "url", ()),
    ("open_weights", "tristate", ()),
    ("weights_url", "url", ()),
    ("updated_on", "date", ()),
    ("training_datasets", "text", ()),
    ("personal_data", "tristate", ()),
    ("hub_id", "text", ()),
    ("derived_from", "text", ()),
    ("derived_relation", "select", tuple(r.value for r in LINEAGE_RELATIONS)),
]
SYSTEM_FORM: FormSpec = [
    ("name", "text", ()),
    ("purpose", "textarea", ()),
    ("owner", "text", ()),
    ("role", "select", tuple(r.value for r in OrgRole)),
    ("status", "select", tuple(s.value for s in SystemStatus)),
]

#: The two kinds of record the registry's forms write, and each one's fields.
RecordKind = Literal["model", "system"]
FORMS: dict[str, FormSpec] = {"model": MODEL_FORM, "system": SYSTEM_FORM}

#: Fields whose values are codes, and the prefix of their translations (as the record pages
#: show them).
CODED_FIELDS = {
    "derived_relation": "rel.",
    "derived_provenance": "reg.prov.",
    "learning_type": "reg.lt.",
    "role": "reg.opt.",
    "status": "reg.opt.",
}

#: The errors of a write answered by the refusal page (403); a missing record adds 404.
REFUSALS = (PermissionDeniedError, AuthenticationError)


def problem_text(lang: str, p: FieldProblem) -> str:
    """A field's problem in the page's language (the English message if no translation)."""
    key = f"reg.err.{p.code}"
    if key in i18n.table(lang):
        return i18n.translate(lang, key, **p.values)
    return p.message


def field_label(lang: str, field: str) -> str:
    """A field's label in a history entry (its name when it has no form label)."""
    key = f"reg.f.{field}"
    return i18n.translate(lang, key) if key in i18n.table(lang) else field


def shown(lang: str, value: Any, field: str | None = None) -> str:
    """A value of a history entry as people read it, in the page's language."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return i18n.translate(lang, "reg.yes" if value else "reg.no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):  # an imported inventory's extra columns
        return "; ".join(f"{k}{i18n.translate(lang, 'reg.colon')} {v}" for k, v in value.items())
    prefix = CODED_FIELDS.get(field or "")
    if prefix and isinstance(value, str):
        key = prefix + value
        return i18n.translate(lang, key) if key in i18n.table(lang) else value
    return str(value)


def form_values(form: FormData, spec: FormSpec) -> dict[str, Any]:
    """A record's fields from a posted form (an unticked checkbox is False; a yes/no/not
    stated choice is True, False or None)."""
    values: dict[str, Any] = {}
    for name, kind, _ in spec:
        if kind == "checkbox":
            values[name] = form.get(name) == "on"
        elif kind == "tristate":
            values[name] = {"yes": True, "no": False}.get(str(form.get(name) or ""))
        else:
            raw = form.get(name)
            values[name] = raw if isinstance(raw, str) else None
    return values


def display(values: dict[str, Any]) -> dict[str, Any]:
    """Record values as form inputs show them."""
    out = dict(values)
    if isinstance(out.get("training_datasets"), list):
        out["training_datasets"] = ", ".join(out["training_datasets"])
    if out.get("updated_on") is not None and not isinstance(out["updated_on"], str):
        out["updated_on"] = out["updated_on"].isoformat()
    return out


def base(request: Request, lang: str) -> str:
    """The start of the links of the pages in ``lang``: ``{root}/{lang}``."""
    return f"{root_path(request)}/{lang}"


def page(
    request: Request,
    lang: str,
    who: Requester,
    template: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A registry page: the common frame (the user, their CSRF token, the registry's links)
    and the helpers its templates use to show problems and history entries."""
    return render(
        request,
        lang,
        template,
        status=status,
        user=who.user,
        csrf=who.csrf,
        reg_base=base(request, lang) + "/registry",
        problem=lambda p: problem_text(lang, p),
        field_label=lambda f: field_label(lang, f),
        shown=lambda v, field=None: shown(lang, v, field),
        **context,
    )


def refused(request: Request, lang: str, who: Requester, exc: Exception) -> HTMLResponse:
    """The refusal page: 403 for a permission or a forged form, else 404 (no such record)."""
    status = 403 if isinstance(exc, PermissionDeniedError | AuthenticationError) else 404
    return page(
        request,
        lang,
        who,
        "registry_error.html",
        status=status,
        message=str(exc),
        forbidden=status == 403,
    )


async def checked_form(request: Request, who: Requester) -> FormData:
    """The POSTed form, once its CSRF token matched the session's (else 403)."""
    form = await request.form()
    sent = form.get("csrf")
    if not same_token(sent if isinstance(sent, str) else None, who.csrf):
        raise PermissionDeniedError("forged or expired form: reload the page and try again")
    return form


async def act(
    request: Request, lang: str, who: Requester, action: Callable[[], object], then: str
) -> Response:
    """A form that only asks for an action (retire, detach): once its CSRF token matched,
    ``action()``, then back to ``then``; a refusal or a missing record answers the refusal
    page instead."""
    try:
        await checked_form(request, who)
        action()
    except (*REFUSALS, RecordNotFoundError) as exc:
        return refused(request, lang, who, exc)
    return RedirectResponse(then, status_code=303)


def form_page(
    request: Request,
    lang: str,
    who: Requester,
    kind: RecordKind,
    values: dict[str, Any],
    problems: dict[str, FieldProblem],
    record: Any = None,
    status: int = 200,
) -> HTMLResponse:
    """The new or edit form of a model or a system, with its problems next to their fields.
    Only the model form offers the registry's models (to name what it derives from)."""
    models = [m.name for m in registry_of(request).models()] if kind == "model" else []
    return page(
        request,
        lang,
        who,
        "registry_form.html",
        status=status,
        kind=kind,
        spec=FORMS[kind],
        values=display(values),
        problems=problems,
        record=record,
        models=models,
    )


async def save_form(
    request: Request,
    lang: str,
    who: Requester,
    kind: RecordKind,
    save: Callable[[dict[str, Any]], Any],
    then: Callable[[Any], str],
    record: Any = None,
    refusals: tuple[type[Exception], ...] = REFUSALS,
) -> Response:
    """A posted new or edit form: once its CSRF token matched, ``save(values)``, then to
    ``then(what save returned)``. Invalid values answer the same form with their problems
    (422); a refusal (one of ``refusals``) answers the refusal page."""
    values: dict[str, Any] = {}
    try:
        form = await checked_form(request, who)
        values = form_values(form, FORMS[kind])
        saved = save(values)
    except RegistryValidationError as exc:
        return form_page(request, lang, who, kind, values, exc.fields, record=record, status=422)
    except refusals as exc:
        return refused(request, lang, who, exc)
    return RedirectResponse(then(saved), status_code=303)


def edit_page(
    request: Request, lang: str, who: Requester, kind: RecordKind, find: Callable[[], Any]
) -> HTMLResponse:
    """The edit form of the record ``find()`` returns, filled with its fields (the refusal
    page if there is no such record)."""
    try:
        record = find()
    except RecordNotFoundError as exc:
        return refused(request, lang, who, exc)
    return form_page(request, lang, who, kind, record.fields(), {}, record=record)


async def save_edit(
    request: Request,
    lang: str,
    who: Requester,
    kind: RecordKind,
    find: Callable[[], Any],
    save: Callable[[dict[str, Any]], Any],
    then: str,
) -> Response:
    """A posted edit form of the record ``find()`` returns (see :func:`save_form`); a missing
    record, before or while saving, answers the refusal page."""
    try:
        record = find()
    except RecordNotFoundError as exc:
        return refused(request, lang, who, exc)
    return await save_form(
        request,
        lang,
        who,
        kind,
        save,
        lambda _: then,
        record=record,
        refusals=(*REFUSALS, RecordNotFoundError),
    )


class LoginRequired(Exception):
    """Raised by the login guard: the visitor is sent to the login page (see :func:`install`),
    which brings them back to ``next``."""

    def __init__(self, login: str, next: str) -> None:
        super().__init__(next)
        self.login = login
        self.next = next


def logged_in(request: Request, lang: Lang) -> Requester:
    """The login guard of every registry page: the logged-in viewer, else
    :class:`LoginRequired` (answered by a redirection to the login page)."""
    who = requester_or_nobody(request)
    if who.user is None or not who.user.can(Role.VIEWER):
        raise LoginRequired(f"{base(request, lang)}/login", request.url.path)
    return who


#: A registry page's visitor, once logged in (see :func:`logged_in`).
Viewer = Annotated[Requester, Depends(logged_in)]


def record_url(request: Request, lang: str, kind: RecordKind, record_id: int) -> str:
    """The page of a registered model or system."""
    return f"{base(request, lang)}/registry/{kind}s/{record_id}"


@dataclass(frozen=True)
class RecordVisit:
    """A visit to the pages of one registered model or system, ``/registry/{kind}s/{id}/…``:
    who visits, in which language, and the record, read and written through the registry as
    the visitor."""

    request: Request
    lang: str
    who: Requester
    kind: RecordKind
    id: int

    def find(self) -> RegisteredModel | AISystem:
        """The record (:class:`RecordNotFoundError` if there is none)."""
        record: RegisteredModel | AISystem = getattr(registry_of(self.request), self.kind)(self.id)
        return record

    def write(self, action: str, *args: object) -> RegisteredModel | AISystem:
        """The registry's ``{action}_{kind}`` (``update``, ``retire``) of the record."""
        write = getattr(registry_of(self.request), f"{action}_{self.kind}")
        record: RegisteredModel | AISystem = write(self.id, *args, actor=self.who.user)
        return record

    @property
    def url(self) -> str:
        """The record's page."""
        return record_url(self.request, self.lang, self.kind, self.id)


def record_routes(router: APIRouter, kind: RecordKind, blank: dict[str, Any]) -> None:
    """Declare the pages a model and a system have alike, under ``/registry/{kind}s``: the new
    form (``blank`` its first values) and its creation, the edit form and its update, and
    retiring. They call the registry's ``create_{kind}``, ``{kind}``, ``update_{kind}`` and
    ``retire_{kind}``; each kind's module adds its detail page and what only it has."""
    path = f"/registry/{kind}s"

    def visit(request: Request, lang: Lang, who: Viewer, record_id: int) -> RecordVisit:
        return RecordVisit(request, lang, who, kind, record_id)

    # The dependency is this kind's, so it is a default: an ``Annotated`` alias of this
    # function's would be a local name, which FastAPI cannot resolve from the annotations.
    at_record = Depends(visit)

    @router.get(f"{path}/new", response_class=HTMLResponse, name=f"new_{kind}")
    def new(request: Request, lang: Lang, who: Viewer) -> Response:
        return form_page(request, lang, who, kind, dict(blank), {})

    @router.post(f"{path}/new", response_class=HTMLResponse, name=f"create_{kind}")
    async def create(request: Request, lang: Lang, who: Viewer, reg: RegistryDep) -> Response:
        return await save_form(
            request,
            lang,
            who,
            kind,
            lambda values: getattr(reg, f"create_{kind}")(values, actor=who.user),
            lambda record: record_url(request, lang, kind, record.id),
        )

    @router.get(f"{path}/{{record_id:int}}/edit", response_class=HTMLResponse, name=f"edit_{kind}")
    def edit(v: RecordVisit = at_record) -> Response:
        return edit_page(v.request, v.lang, v.who, kind, v.find)

    @router.post(
        f"{path}/{{record_id:int}}/edit", response_class=HTMLResponse, name=f"update_{kind}"
    )
    async def update(v: RecordVisit = at_record) -> Response:
        save = functools.partial(v.write, "update")
        return await save_edit(v.request, v.lang, v.who, kind, v.find, save, v.url)

    @router.post(f"{path}/{{record_id:int}}/retire", name=f"retire_{kind}")
    async def retire(v: RecordVisit = at_record) -> Response:
        return await act(v.request, v.lang, v.who, functools.partial(v.write, "retire"), v.url)


def safe_next(value: str, base: str) -> str:
    """Only a path of this site's registry pages (no open redirect)."""
    if value.startswith(base + "/") and "//" not in value and "\\" not in value:
        return value
    return ""


def set_cookie(request: Request, resp: Response, name: str, value: str, max_age: int) -> None:
    """A cookie scripts cannot read, sent back only to this site (and only over HTTPS when
    the page came over HTTPS)."""
    resp.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def install(app: FastAPI) -> None:
    """Answer :class:`LoginRequired` with the redirection to the login page."""

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"{exc.login}?next={quote(exc.next)}", status_code=303)

    app.add_exception_handler(LoginRequired, to_login)
