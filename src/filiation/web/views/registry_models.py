"""The registry's home (its systems and models) and the model pages: detail with history,
ancestry and training runs. The new and edit forms and retiring are a system's too
(:func:`.registry_common.record_routes`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation.errors import RecordNotFoundError
from filiation.http.context import RegistryDep

from ..rendering import Lang
from .registry_common import Viewer, page, record_routes, refused

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


record_routes(router, "model", {"open_weights": None})


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
