"""The registry's home (its systems and models) and the model pages: detail with history,
ancestry and training runs; the new and edit forms; retiring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from filiation.http.auth import Requester
from filiation.http.context import RegistryDep, registry_of
from filiation.registry.errors import FieldProblem, RecordNotFoundError, RegistryValidationError

from ..rendering import Lang
from .registry_common import (
    MODEL_FORM,
    REFUSALS,
    Viewer,
    act,
    base,
    checked_form,
    display,
    form_values,
    page,
    refused,
)

router = APIRouter(include_in_schema=False)


@router.get("/registry", response_class=HTMLResponse)
@router.get("/registry/", response_class=HTMLResponse)
def home(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, all: bool = False
) -> Response:
    return page(
        request,
        lang,
        who,
        "registry_home.html",
        systems=reg.systems(include_retired=all),
        models=reg.models(include_retired=all),
        show_all=all,
    )


def _form_page(
    request: Request,
    lang: str,
    who: Requester,
    values: dict[str, Any],
    problems: dict[str, FieldProblem],
    record: Any = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        lang,
        who,
        "registry_form.html",
        status=status,
        kind="model",
        spec=MODEL_FORM,
        values=display(values),
        problems=problems,
        record=record,
        models=[m.name for m in registry_of(request).models()],
    )


def _detail(request: Request, lang: str, model_id: int) -> str:
    return f"{base(request, lang)}/registry/models/{model_id}"


@router.get("/registry/models/new", response_class=HTMLResponse)
def new_model(request: Request, lang: Lang, who: Viewer) -> Response:
    return _form_page(request, lang, who, {"open_weights": False}, {})


@router.post("/registry/models/new", response_class=HTMLResponse)
async def create_model(request: Request, lang: Lang, who: Viewer, reg: RegistryDep) -> Response:
    try:
        form = await checked_form(request, who)
        values = form_values(form, MODEL_FORM)
        m = reg.create_model(values, actor=who.user)
    except RegistryValidationError as exc:
        return _form_page(request, lang, who, values, exc.fields, status=422)
    except REFUSALS as exc:
        return refused(request, lang, who, exc)
    return RedirectResponse(_detail(request, lang, m.id), status_code=303)


@router.get("/registry/models/{model_id:int}", response_class=HTMLResponse)
def model_detail(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, model_id: int
) -> Response:
    try:
        m = reg.model(model_id)
    except RecordNotFoundError as exc:
        return refused(request, lang, who, exc)
    return page(
        request,
        lang,
        who,
        "registry_model.html",
        m=m,
        ancestry=reg.ancestry(m.id),
        runs=reg.training_runs(m.id),
        history=reg.history("model", m.id),
    )


@router.get("/registry/models/{model_id:int}/edit", response_class=HTMLResponse)
def edit_model(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, model_id: int
) -> Response:
    try:
        m = reg.model(model_id)
    except RecordNotFoundError as exc:
        return refused(request, lang, who, exc)
    return _form_page(request, lang, who, m.fields(), {}, record=m)


@router.post("/registry/models/{model_id:int}/edit", response_class=HTMLResponse)
async def update_model(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, model_id: int
) -> Response:
    try:
        m = reg.model(model_id)
        form = await checked_form(request, who)
        values = form_values(form, MODEL_FORM)
        reg.update_model(model_id, values, actor=who.user)
    except RegistryValidationError as exc:
        return _form_page(request, lang, who, values, exc.fields, record=m, status=422)
    except (*REFUSALS, RecordNotFoundError) as exc:
        return refused(request, lang, who, exc)
    return RedirectResponse(_detail(request, lang, model_id), status_code=303)


@router.post("/registry/models/{model_id:int}/retire")
async def retire_model(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, model_id: int
) -> Response:
    return await act(
        request,
        lang,
        who,
        lambda: reg.retire_model(model_id, actor=who.user),
        _detail(request, lang, model_id),
    )
