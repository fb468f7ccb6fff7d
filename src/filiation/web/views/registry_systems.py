"""The registry's system pages: detail with history and the models it uses; attaching a model
(with how the system uses it) and detaching it. The new and edit forms and retiring are a
model's too (:func:`.registry_common.record_routes`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from filiation.errors import FieldProblem, RecordNotFoundError, RegistryValidationError
from filiation.http.auth import Requester
from filiation.http.context import RegistryDep, registry_of

from ..rendering import Lang
from .registry_common import (
    REFUSALS,
    Viewer,
    act,
    checked_form,
    page,
    record_routes,
    record_url,
    refused,
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
    return record_url(request, lang, "system", system_id)


record_routes(router, "system", {"status": "development"})


@router.get("/registry/systems/{system_id:int}", response_class=HTMLResponse)
def system_detail(request: Request, lang: Lang, who: Viewer, system_id: int) -> Response:
    try:
        return _system_page(request, lang, who, system_id)
    except RecordNotFoundError as exc:
        return refused(request, lang, who, exc)


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
