"""The registry's web pages: log in, list, detail with history, edit forms, impact.

Each page is one or two :class:`~filiation.registry.service.Registry` calls. Pages need a
logged-in user (the session cookie, checked by the same :func:`filiation.api.registry.requester`
as the JSON API). Every form carries the session's CSRF token, and a POST whose token does
not match is refused (403) before anything is read from it; the login form, which has no
session yet, uses a double-submit cookie instead. Validation problems come back as the same
form with each message next to its field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from filiation.api.registry import SESSION_COOKIE, Requester, registry_of, requester
from filiation.domain import LINEAGE_RELATIONS
from filiation.errors import FiliationError, InvalidArgumentError, NodeNotFoundError
from filiation.registry import auth
from filiation.registry.errors import (
    AuthenticationError,
    FieldProblem,
    LoginThrottledError,
    PermissionDeniedError,
    RecordNotFoundError,
    RegistryValidationError,
)
from filiation.registry.etalab import EtalabImportError
from filiation.registry.models import (
    LearningType,
    OrgRole,
    Role,
    SystemStatus,
)
from filiation.registry.service import SESSION_HOURS

from . import i18n
from .pages import render

LOGIN_CSRF_COOKIE = "filiation_login_csrf"

#: The forms' fields: (name, input type, choices). Labels and help are i18n keys
#: ``reg.f.<name>`` and ``reg.h.<name>``.
MODEL_FORM: list[tuple[str, str, tuple[str, ...]]] = [
    ("name", "text", ()),
    ("description", "textarea", ()),
    ("learning_type", "learning", tuple(t.value for t in LearningType)),
    ("provider", "text", ()),
    ("version", "text", ()),
    ("model_card_url", "url", ()),
    ("repository_url", "url", ()),
    ("open_weights", "checkbox", ()),
    ("weights_url", "url", ()),
    ("updated_on", "date", ()),
    ("training_datasets", "text", ()),
    ("personal_data", "checkbox", ()),
    ("hub_id", "text", ()),
    ("derived_from", "text", ()),
    ("derived_relation", "select", tuple(r.value for r in LINEAGE_RELATIONS)),
]
SYSTEM_FORM: list[tuple[str, str, tuple[str, ...]]] = [
    ("name", "text", ()),
    ("purpose", "textarea", ()),
    ("owner", "text", ()),
    ("role", "select", tuple(r.value for r in OrgRole)),
    ("status", "select", tuple(s.value for s in SystemStatus)),
]
CHECKBOXES = {"open_weights", "personal_data"}


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


#: Fields whose values are codes, and the prefix of their translations (as the record pages
#: show them).
CODED_FIELDS = {
    "derived_relation": "rel.",
    "derived_provenance": "reg.prov.",
    "learning_type": "reg.lt.",
    "role": "reg.opt.",
    "status": "reg.opt.",
}


def shown(lang: str, value: Any, field: str | None = None) -> str:
    """A value of a history entry as people read it, in the page's language."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return i18n.translate(lang, "reg.yes" if value else "reg.no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    prefix = CODED_FIELDS.get(field or "")
    if prefix and isinstance(value, str):
        key = prefix + value
        return i18n.translate(lang, key) if key in i18n.table(lang) else value
    return str(value)


def _form_values(form: Any, spec: list[tuple[str, str, tuple[str, ...]]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, kind, _ in spec:
        if kind == "checkbox":
            values[name] = form.get(name) == "on"
        else:
            raw = form.get(name)
            values[name] = raw if isinstance(raw, str) else None
    return values


def _display(values: dict[str, Any]) -> dict[str, Any]:
    """Record values as form inputs show them."""
    out = dict(values)
    if isinstance(out.get("training_datasets"), list):
        out["training_datasets"] = ", ".join(out["training_datasets"])
    if out.get("updated_on") is not None and not isinstance(out["updated_on"], str):
        out["updated_on"] = out["updated_on"].isoformat()
    return out


def _router(lang: str) -> APIRouter:
    r = APIRouter(prefix=f"/{lang}", include_in_schema=False)

    def base(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/") + f"/{lang}"

    def page(
        request: Request, who: Requester, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        return render(
            request,
            lang,
            template,
            status=status,
            user=who.user,
            csrf=who.csrf,
            reg_base=base(request) + "/registry",
            problem=lambda p: problem_text(lang, p),
            field_label=lambda f: field_label(lang, f),
            shown=lambda v, field=None: shown(lang, v, field),
            **context,
        )

    def login_redirect(request: Request) -> Response:
        path = request.url.path
        return RedirectResponse(f"{base(request)}/login?next={quote(path)}", status_code=303)

    def viewer(request: Request) -> Requester | None:
        who = requester_or_none(request)
        return who if who.user is not None and who.user.can(Role.VIEWER) else None

    def requester_or_none(request: Request) -> Requester:
        try:
            return requester(request)
        except AuthenticationError:
            return Requester(None)

    async def checked_form(request: Request, who: Requester) -> Any:
        """The POSTed form, once its CSRF token matched the session's (else 403)."""
        form = await request.form()
        sent = form.get("csrf")
        if not auth.same(sent if isinstance(sent, str) else None, who.csrf):
            raise PermissionDeniedError("forged or expired form: reload the page and try again")
        return form

    def refused(request: Request, who: Requester, exc: Exception) -> HTMLResponse:
        status = 403 if isinstance(exc, PermissionDeniedError | AuthenticationError) else 404
        return page(
            request,
            who,
            "registry_error.html",
            status=status,
            message=str(exc),
            forbidden=status == 403,
        )

    # -- login ------------------------------------------------------------------------------
    @r.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "") -> Response:
        token = auth.new_token("l_")
        resp = page(
            request,
            Requester(None),
            "registry_login.html",
            login_csrf=token,
            next=_safe_next(next, base(request)),
            failed=False,
        )
        _set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return resp

    @r.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        sent = form.get("csrf")
        if not auth.same(
            sent if isinstance(sent, str) else None, request.cookies.get(LOGIN_CSRF_COOKIE)
        ):
            return page(
                request,
                Requester(None),
                "registry_error.html",
                status=403,
                message=i18n.translate(lang, "reg.forged"),
                forbidden=True,
            )
        reg = registry_of(request)
        nxt = _safe_next(str(form.get("next") or ""), base(request))
        try:
            user = reg.authenticate(
                str(form.get("name") or ""),
                str(form.get("password") or ""),
                client=request.client.host if request.client else None,
            )
        except AuthenticationError as exc:
            throttled = exc.retry_after if isinstance(exc, LoginThrottledError) else None
            token = auth.new_token("l_")
            resp = page(
                request,
                Requester(None),
                "registry_login.html",
                status=401 if throttled is None else 429,
                login_csrf=token,
                next=nxt,
                failed=throttled is None,
                throttled=throttled,
                name=str(form.get("name") or ""),
            )
            if throttled is not None:
                resp.headers["Retry-After"] = str(throttled)
            _set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, max_age=3600)
            return resp
        secret, _ = reg.open_session(user)
        resp = RedirectResponse(nxt or f"{base(request)}/registry/", status_code=303)
        _set_cookie(request, resp, SESSION_COOKIE, secret, max_age=SESSION_HOURS * 3600)
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return resp

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        who = requester_or_none(request)
        if who.user is None:
            return RedirectResponse(f"{base(request)}/", status_code=303)
        try:
            await checked_form(request, who)
        except PermissionDeniedError as exc:
            return refused(request, who, exc)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            registry_of(request).close_session(cookie)
        resp = RedirectResponse(f"{base(request)}/", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # -- lists --------------------------------------------------------------------------------
    @r.get("/registry", response_class=HTMLResponse)
    @r.get("/registry/", response_class=HTMLResponse)
    def home(request: Request, all: bool = False) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        reg = registry_of(request)
        return page(
            request,
            who,
            "registry_home.html",
            systems=reg.systems(include_retired=all),
            models=reg.models(include_retired=all),
            show_all=all,
        )

    # -- models -------------------------------------------------------------------------------
    def model_form_page(
        request: Request,
        who: Requester,
        values: dict[str, Any],
        problems: dict[str, FieldProblem],
        record: Any = None,
        status: int = 200,
    ) -> HTMLResponse:
        return page(
            request,
            who,
            "registry_form.html",
            status=status,
            kind="model",
            spec=MODEL_FORM,
            values=_display(values),
            problems=problems,
            record=record,
            models=[m.name for m in registry_of(request).models()],
        )

    @r.get("/registry/models/new", response_class=HTMLResponse)
    def new_model(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        return model_form_page(request, who, {"open_weights": False}, {})

    @r.post("/registry/models/new", response_class=HTMLResponse)
    async def create_model(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            form = await checked_form(request, who)
            values = _form_values(form, MODEL_FORM)
            m = registry_of(request).create_model(values, actor=who.user)
        except RegistryValidationError as exc:
            return model_form_page(request, who, values, exc.fields, status=422)
        except (PermissionDeniedError, AuthenticationError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/models/{m.id}", status_code=303)

    @r.get("/registry/models/{model_id:int}", response_class=HTMLResponse)
    def model_detail(request: Request, model_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        reg = registry_of(request)
        try:
            m = reg.model(model_id)
        except RecordNotFoundError as exc:
            return refused(request, who, exc)
        return page(
            request,
            who,
            "registry_model.html",
            m=m,
            ancestry=reg.ancestry(m.id),
            runs=reg.training_runs(m.id),
            history=reg.history("model", m.id),
        )

    @r.get("/registry/models/{model_id:int}/edit", response_class=HTMLResponse)
    def edit_model(request: Request, model_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            m = registry_of(request).model(model_id)
        except RecordNotFoundError as exc:
            return refused(request, who, exc)
        return model_form_page(request, who, m.fields(), {}, record=m)

    @r.post("/registry/models/{model_id:int}/edit", response_class=HTMLResponse)
    async def update_model(request: Request, model_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        reg = registry_of(request)
        try:
            m = reg.model(model_id)
            form = await checked_form(request, who)
            values = _form_values(form, MODEL_FORM)
            reg.update_model(model_id, values, actor=who.user)
        except RegistryValidationError as exc:
            return model_form_page(request, who, values, exc.fields, record=m, status=422)
        except (PermissionDeniedError, AuthenticationError, RecordNotFoundError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/models/{model_id}", status_code=303)

    @r.post("/registry/models/{model_id:int}/retire")
    async def retire_model(request: Request, model_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            await checked_form(request, who)
            registry_of(request).retire_model(model_id, actor=who.user)
        except (PermissionDeniedError, AuthenticationError, RecordNotFoundError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/models/{model_id}", status_code=303)

    # -- systems ------------------------------------------------------------------------------
    def system_form_page(
        request: Request,
        who: Requester,
        values: dict[str, Any],
        problems: dict[str, FieldProblem],
        record: Any = None,
        status: int = 200,
    ) -> HTMLResponse:
        return page(
            request,
            who,
            "registry_form.html",
            status=status,
            kind="system",
            spec=SYSTEM_FORM,
            values=values,
            problems=problems,
            record=record,
            models=[],
        )

    @r.get("/registry/systems/new", response_class=HTMLResponse)
    def new_system(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        return system_form_page(request, who, {"status": "development"}, {})

    @r.post("/registry/systems/new", response_class=HTMLResponse)
    async def create_system(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            form = await checked_form(request, who)
            values = _form_values(form, SYSTEM_FORM)
            s = registry_of(request).create_system(values, actor=who.user)
        except RegistryValidationError as exc:
            return system_form_page(request, who, values, exc.fields, status=422)
        except (PermissionDeniedError, AuthenticationError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/systems/{s.id}", status_code=303)

    def system_page(
        request: Request,
        who: Requester,
        system_id: int,
        attach_values: dict[str, Any] | None = None,
        attach_problems: dict[str, FieldProblem] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        reg = registry_of(request)
        s = reg.system(system_id)
        used = {u.model_id for u in s.uses}
        return page(
            request,
            who,
            "registry_system.html",
            status=status,
            s=s,
            history=reg.history("system", s.id),
            candidates=[m for m in reg.models() if m.id not in used],
            attach_values=attach_values or {},
            attach_problems=attach_problems or {},
        )

    @r.get("/registry/systems/{system_id:int}", response_class=HTMLResponse)
    def system_detail(request: Request, system_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            return system_page(request, who, system_id)
        except RecordNotFoundError as exc:
            return refused(request, who, exc)

    @r.get("/registry/systems/{system_id:int}/edit", response_class=HTMLResponse)
    def edit_system(request: Request, system_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            s = registry_of(request).system(system_id)
        except RecordNotFoundError as exc:
            return refused(request, who, exc)
        return system_form_page(request, who, s.fields(), {}, record=s)

    @r.post("/registry/systems/{system_id:int}/edit", response_class=HTMLResponse)
    async def update_system(request: Request, system_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        reg = registry_of(request)
        try:
            s = reg.system(system_id)
            form = await checked_form(request, who)
            values = _form_values(form, SYSTEM_FORM)
            reg.update_system(system_id, values, actor=who.user)
        except RegistryValidationError as exc:
            return system_form_page(request, who, values, exc.fields, record=s, status=422)
        except (PermissionDeniedError, AuthenticationError, RecordNotFoundError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/systems/{system_id}", status_code=303)

    @r.post("/registry/systems/{system_id:int}/retire")
    async def retire_system(request: Request, system_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            await checked_form(request, who)
            registry_of(request).retire_system(system_id, actor=who.user)
        except (PermissionDeniedError, AuthenticationError, RecordNotFoundError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/systems/{system_id}", status_code=303)

    @r.post("/registry/systems/{system_id:int}/attach", response_class=HTMLResponse)
    async def attach(request: Request, system_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        values: dict[str, Any] = {}
        try:
            form = await checked_form(request, who)
            values = {"model": str(form.get("model") or ""), "usage": str(form.get("usage") or "")}
            if not values["model"].isdigit():
                raise RegistryValidationError(
                    {"model": FieldProblem("required", "choose a model")}, "use"
                )
            registry_of(request).attach(
                system_id, int(values["model"]), values["usage"], actor=who.user
            )
        except RegistryValidationError as exc:
            return system_page(request, who, system_id, values, exc.fields, status=422)
        except (PermissionDeniedError, AuthenticationError, RecordNotFoundError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/systems/{system_id}", status_code=303)

    @r.post("/registry/systems/{system_id:int}/detach/{model_id:int}")
    async def detach(request: Request, system_id: int, model_id: int) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            await checked_form(request, who)
            registry_of(request).detach(system_id, model_id, actor=who.user)
        except (PermissionDeniedError, AuthenticationError, RecordNotFoundError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/systems/{system_id}", status_code=303)

    # -- impact and data sets -------------------------------------------------------------------
    @r.get("/registry/impact", response_class=HTMLResponse)
    def impact(request: Request, model: str = "", dataset: str = "") -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        result, error, suggestions = None, None, []
        if model.strip() or dataset.strip():
            try:
                result = registry_of(request).impact(
                    model=model.strip() or None, dataset=dataset.strip() or None
                )
            except NodeNotFoundError as exc:
                error, suggestions = str(exc), exc.suggestions
            except InvalidArgumentError as exc:
                error = str(exc)
        return page(
            request,
            who,
            "registry_impact.html",
            result=result,
            error=error,
            suggestions=suggestions,
            q_model=model,
            q_dataset=dataset,
        )

    @r.get("/registry/datasets", response_class=HTMLResponse)
    def datasets(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        return page(
            request,
            who,
            "registry_datasets.html",
            datasets=registry_of(request).datasets(),
            problems={},
            values={},
        )

    @r.post("/registry/datasets", response_class=HTMLResponse)
    async def flag(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        values: dict[str, Any] = {}
        reg = registry_of(request)
        try:
            form = await checked_form(request, who)
            values = {
                "dataset": str(form.get("dataset") or ""),
                "personal_data": form.get("personal_data") == "on",
                "note": str(form.get("note") or "") or None,
            }
            reg.flag_dataset(
                values["dataset"],
                personal_data=values["personal_data"],
                note=values["note"],
                actor=who.user,
            )
        except RegistryValidationError as exc:
            return page(
                request,
                who,
                "registry_datasets.html",
                status=422,
                datasets=reg.datasets(),
                problems=exc.fields,
                values=values,
            )
        except (PermissionDeniedError, AuthenticationError) as exc:
            return refused(request, who, exc)
        return RedirectResponse(f"{base(request)}/registry/datasets", status_code=303)

    @r.get("/registry/import", response_class=HTMLResponse)
    def import_form(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        return page(request, who, "registry_import.html", report=None, problems=[], error=None)

    @r.post("/registry/import", response_class=HTMLResponse)
    async def import_csv(request: Request) -> Response:
        who = viewer(request)
        if who is None:
            return login_redirect(request)
        try:
            form = await checked_form(request, who)
            upload = form.get("file")
            raw = await upload.read() if hasattr(upload, "read") else b""
            report = registry_of(request).import_etalab(raw.decode("utf-8"), actor=who.user)
        except EtalabImportError as exc:
            return page(
                request,
                who,
                "registry_import.html",
                status=422,
                report=None,
                problems=exc.problems,
                error=None,
            )
        except UnicodeDecodeError:
            return page(
                request,
                who,
                "registry_import.html",
                status=422,
                report=None,
                problems=[],
                error=i18n.translate(lang, "reg.import_utf8"),
            )
        except (PermissionDeniedError, AuthenticationError) as exc:
            return refused(request, who, exc)
        except FiliationError as exc:
            return page(
                request,
                who,
                "registry_import.html",
                status=422,
                report=None,
                problems=[],
                error=str(exc),
            )
        return page(request, who, "registry_import.html", report=report, problems=[], error=None)

    return r


def _safe_next(value: str, base: str) -> str:
    """Only a path of this site's registry pages (no open redirect)."""
    if value.startswith(base + "/") and "//" not in value and "\\" not in value:
        return value
    return ""


def _set_cookie(request: Request, resp: Response, name: str, value: str, max_age: int) -> None:
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
    for lang in i18n.LANGUAGES:
        app.include_router(_router(lang))
