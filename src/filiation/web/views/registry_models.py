"""The registry's home (its systems and models) and the model pages: detail with history,
ancestry and training runs; the new and edit forms; retiring."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation.http.context import RegistryDep
from filiation.registry.errors import RecordNotFoundError

from ..rendering import Lang
from .registry_common import (
    Viewer,
    act,
    base,
    edit_page,
    form_page,
    page,
    refused,
    save_edit,
    save_form,
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


def _detail(request: Request, lang: str, model_id: int) -> str:
    return f"{base(request, lang)}/registry/models/{model_id}"


@router.get("/registry/models/new", response_class=HTMLResponse)
def new_model(request: Request, lang: Lang, who: Viewer) -> Response:
    return form_page(request, lang, who, "model", {"open_weights": False}, {})


@router.post("/registry/models/new", response_class=HTMLResponse)
async def create_model(request: Request, lang: Lang, who: Viewer, reg: RegistryDep) -> Response:
    return await save_form(
        request,
        lang,
        who,
        "model",
        lambda values: reg.create_model(values, actor=who.user),
        lambda m: _detail(request, lang, m.id),
    )


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
    return edit_page(request, lang, who, "model", lambda: reg.model(model_id))


@router.post("/registry/models/{model_id:int}/edit", response_class=HTMLResponse)
async def update_model(
    request: Request, lang: Lang, who: Viewer, reg: RegistryDep, model_id: int
) -> Response:
    return await save_edit(
        request,
        lang,
        who,
        "model",
        lambda: reg.model(model_id),
        lambda values: reg.update_model(model_id, values, actor=who.user),
        _detail(request, lang, model_id),
    )


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
