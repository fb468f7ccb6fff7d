"""The registry's pages about data and reach: the impact of a model or a data set on the
registered systems, the data sets flagged for personal data, and the Etalab CSV import."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from filiation.errors import (
    EtalabImportError,
    FiliationError,
    InvalidArgumentError,
    NodeNotFoundError,
    RegistryValidationError,
)
from filiation.http.context import RegistryDep

from ..rendering import Lang
from .registry_common import REFUSALS, Viewer, base, checked_form, page, refused

router = APIRouter(include_in_schema=False)


@router.get("/registry/impact", response_class=HTMLResponse)
def impact(
    request: Request,
    lang: Lang,
    who: Viewer,
    reg: RegistryDep,
    model: str = "",
    dataset: str = "",
) -> Response:
    result, error, suggestions = None, None, []
    if model.strip() or dataset.strip():
        try:
            result = reg.impact(model=model.strip() or None, dataset=dataset.strip() or None)
        except NodeNotFoundError as exc:
            error, suggestions = str(exc), exc.suggestions
        except InvalidArgumentError as exc:
            error = str(exc)
    return page(
        request,
        lang,
        who,
        "registry_impact.html",
        result=result,
        error=error,
        suggestions=suggestions,
        q_model=model,
        q_dataset=dataset,
    )


@router.get("/registry/datasets", response_class=HTMLResponse)
def datasets(request: Request, lang: Lang, who: Viewer, reg: RegistryDep) -> Response:
    return page(
        request,
        lang,
        who,
        "registry_datasets.html",
        datasets=reg.datasets(),
        problems={},
        values={},
    )


@router.post("/registry/datasets", response_class=HTMLResponse)
async def flag(request: Request, lang: Lang, who: Viewer, reg: RegistryDep) -> Response:
    values: dict[str, Any] = {}
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
            lang,
            who,
            "registry_datasets.html",
            status=422,
            datasets=reg.datasets(),
            problems=exc.fields,
            values=values,
        )
    except REFUSALS as exc:
        return refused(request, lang, who, exc)
    return RedirectResponse(f"{base(request, lang)}/registry/datasets", status_code=303)


@router.get("/registry/import", response_class=HTMLResponse)
def import_form(request: Request, lang: Lang, who: Viewer) -> Response:
    return page(request, lang, who, "registry_import.html", report=None, problems=[], error=None)


@router.post("/registry/import", response_class=HTMLResponse)
async def import_csv(request: Request, lang: Lang, who: Viewer, reg: RegistryDep) -> Response:
    def failed(problems: list[Any], error: str | None) -> Response:
        return page(
            request,
            lang,
            who,
            "registry_import.html",
            status=422,
            report=None,
            problems=problems,
            error=error,
        )

    try:
        form = await checked_form(request, who)
        upload = form.get("file")
        raw = await upload.read() if hasattr(upload, "read") else b""
        name = getattr(upload, "filename", None) or "upload.csv"
        strict = form.get("strict") == "on"
        report = reg.import_etalab(raw, actor=who.user, name=name, strict=strict)
    except EtalabImportError as exc:
        return failed(exc.problems, None)
    except REFUSALS as exc:
        return refused(request, lang, who, exc)
    except FiliationError as exc:
        return failed([], str(exc))
    return page(request, lang, who, "registry_import.html", report=report, problems=[], error=None)
