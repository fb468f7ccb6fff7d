"""The registry's system pages: detail with history and the models it uses; the new and edit
forms; retiring; attaching a model (with how the system uses it) and detaching it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from filiation.http.auth import Requester
from filiation.http.context import RegistryDep, registry_of
from filiation.registry.errors import FieldProblem, RecordNotFoundError, RegistryValidationError

from ..rendering import Lang
from .registry_common import (
    REFUSALS,
    Viewer,
    act,
    base,
    checked_form,
    edit_page,
    form_page,
    page,
    refused,
    save_edit,
    save_form,
)

router = APIRouter(include_in_schema=False)


def _system_page(
    request: Request,
    lang: str,
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
        lang,
        who,
        "registry_system.html",
        status=status,
        s=s,
        history=reg.history("system", s.id),
        candidates=[m for m in reg.models() if m.id not in used],
        attach_values=attach_values or {},
        attach_problems=attach_problems or {},
    )


def _detail(request: Request, lang: str, system_id: int) -> str:
    return f"{base(request, lang)}/registry/systems/{system_id}"


@router.get("/registry/systems/new", response_class=HTMLResponse)
def new_system(request: Request, lang: Lang, who: Viewer) -> Response:
    return form_page(request, lang, who, "system", {"status": "development"}, {})


@router.post("/registry/systems/new", response_class=HTMLResponse)
async def create_system(request: Request, lang: Lang, who: Viewer, reg: RegistryDep) -> Response:
    return await save_form(
        request,
        lang,
        who,
        "system",
        lambda values: reg.create_system(values, actor=who.user),
        lambda s: _detail(request, lang, s.id),
    )


@router.get("/registry/systems/{system_id:int}", response_class=HTMLResponse)
def system_detail(request: Request, lang: Lang, who: Viewer, system_id: int) -> Response:
    try:
        return _system_page(request, lang, who, system_id)
    except RecordNotFoundError as exc:
        return refused(request, lang, who, exc)


@router.get("/registry/systems/{system_id:int}/edit", response_class=HTMLResponse)
def edit_system(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, system_id: int
) -> Response:
    return edit_page(request, lang, who, "system", lambda: reg.system(system_id))


@router.post("/registry/systems/{system_id:int}/edit", response_class=HTMLResponse)
async def update_system(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, system_id: int
) -> Response:
    return await save_edit(
        request,
        lang,
        who,
        "system",
        lambda: reg.system(system_id),
        lambda values: reg.update_system(system_id, values, actor=who.user),
        _detail(request, lang, system_id),
    )


@router.post("/registry/systems/{system_id:int}/retire")
async def retire_system(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, system_id: int
) -> Response:
    return await act(
        request,
        lang,
        who,
        lambda: reg.retire_system(system_id, actor=who.user),
        _detail(request, lang, system_id),
    )


@router.post("/registry/systems/{system_id:int}/attach", response_class=HTMLResponse)
async def attach(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, system_id: int
) -> Response:
    values: dict[str, Any] = {}
    try:
        form = await checked_form(request, who)
        values = {"model": str(form.get("model") or ""), "usage": str(form.get("usage") or "")}
        if not values["model"].isdigit():
            raise RegistryValidationError(
                {"model": FieldProblem("required", "choose a model")}, "use"
            )
        reg.attach(system_id, int(values["model"]), values["usage"], actor=who.user)
    except RegistryValidationError as exc:
        return _system_page(request, lang, who, system_id, values, exc.fields, status=422)
    except (*REFUSALS, RecordNotFoundError) as exc:
        return refused(request, lang, who, exc)
    return RedirectResponse(_detail(request, lang, system_id), status_code=303)


@router.post("/registry/systems/{system_id:int}/detach/{model_id:int}")
async def detach(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, system_id: int, model_id: int
) -> Response:
    return await act(
        request,
        lang,
        who,
        lambda: reg.detach(system_id, model_id, actor=who.user),
        _detail(request, lang, system_id),
    )
