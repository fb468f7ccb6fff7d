"""The registry's JSON endpoints, under ``/api/registry``: one :class:`Registry` call each.

Every registry endpoint needs a user: an API token (``Authorization: Bearer fil_…``, made
by ``filiation registry token create``) or the web session cookie (:mod:`filiation.http.auth`,
shared with the pages). Reads need the viewer role, writes editor (users: admin). A write
authenticated by the session cookie must also carry the session's CSRF token in
``X-CSRF-Token``. The public genealogy's endpoints stay open.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from filiation.errors import (
    AuthenticationError,
    EtalabImportError,
    PermissionDeniedError,
    RecordNotFoundError,
    RegistryValidationError,
)
from filiation.http.auth import Reader, Writer
from filiation.http.context import RegistryDep

Fields = Annotated[dict[str, Any], Body(description="The record's fields (see /docs schemas).")]
#: A registry record as its JSON object (what ``filiation registry … --json`` prints).
Record = dict[str, Any]

router = APIRouter(prefix="/api/registry", tags=["registry"])


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


@router.get("/me")
def me(user: Reader) -> Record:
    return _dump(user)


# -- models and systems -------------------------------------------------------------------------
def _record_routes(kind: str) -> None:
    """The five endpoints of one kind of record (``model`` or ``system``): list, create, read,
    update and retire, each one call of the registry named after the kind, as the web pages'
    record routes (:mod:`filiation.web.views.registry_common`). Reading a record adds its
    history, and a model's training runs."""
    plural = f"{kind}s"
    item = f"/{plural}/{{record_id}}"

    @router.get(f"/{plural}", name=f"list_{plural}")
    def list_records(reg: RegistryDep, _: Reader, all: bool = False) -> list[Record]:
        return _dump(getattr(reg, plural)(include_retired=all))

    @router.post(f"/{plural}", status_code=201, name=f"create_{kind}")
    def create(reg: RegistryDep, user: Writer, fields: Fields) -> Record:
        return _dump(getattr(reg, f"create_{kind}")(fields, actor=user))

    @router.get(item, name=f"get_{kind}")
    def read(reg: RegistryDep, _: Reader, record_id: int) -> Record:
        record = {
            **_dump(getattr(reg, kind)(record_id)),
            "history": _dump(reg.history(kind, record_id)),
        }
        if kind == "model":
            record["training_runs"] = _dump(reg.training_runs(record_id))
        return record

    @router.patch(item, name=f"update_{kind}")
    def update(reg: RegistryDep, user: Writer, record_id: int, fields: Fields) -> Record:
        return _dump(getattr(reg, f"update_{kind}")(record_id, fields, actor=user))

    @router.post(f"{item}/retire", name=f"retire_{kind}")
    def retire(reg: RegistryDep, user: Writer, record_id: int) -> Record:
        return _dump(getattr(reg, f"retire_{kind}")(record_id, actor=user))


_record_routes("model")
_record_routes("system")


@router.get("/models/{model_id}/runs")
def model_runs(reg: RegistryDep, _: Reader, model_id: int) -> list[Record]:
    """The training runs the training callbacks recorded for the model, oldest first."""
    return _dump(reg.training_runs(model_id))


@router.get("/models/{model_id}/ancestry")
def model_ancestry(reg: RegistryDep, _: Reader, model_id: int) -> Record:
    return _dump(reg.ancestry(model_id))


@router.put("/systems/{system_id}/models/{model_id}")
def attach(
    reg: RegistryDep,
    user: Writer,
    system_id: int,
    model_id: int,
    usage: Annotated[str, Body(embed=True, description="How the system uses the model.")],
) -> Record:
    return _dump(reg.attach(system_id, model_id, usage, actor=user))


@router.delete("/systems/{system_id}/models/{model_id}")
def detach(reg: RegistryDep, user: Writer, system_id: int, model_id: int) -> Record:
    return _dump(reg.detach(system_id, model_id, actor=user))


# -- impact, data sets, history, Etalab ------------------------------------------------------------
@router.get("/impact")
def impact(
    reg: RegistryDep,
    _: Reader,
    model: Annotated[str | None, Query(description="Registered model name or Hub id.")] = None,
    dataset: Annotated[str | None, Query(description="Data set id.")] = None,
) -> Record:
    return _dump(reg.impact(model=model, dataset=dataset))


@router.get("/datasets")
def datasets(reg: RegistryDep, _: Reader) -> list[Record]:
    return _dump(reg.datasets())


@router.put("/datasets/{dataset_id:path}")
def flag_dataset(
    reg: RegistryDep,
    user: Writer,
    dataset_id: str,
    personal_data: Annotated[bool, Body(embed=True)] = True,
    note: Annotated[str | None, Body(embed=True)] = None,
) -> Record:
    return _dump(reg.flag_dataset(dataset_id, personal_data=personal_data, note=note, actor=user))


@router.get("/history")
def history(
    reg: RegistryDep, _: Reader, kind: str | None = None, ref: str | None = None
) -> list[Record]:
    key: int | str | None = int(ref) if ref is not None and ref.isdigit() else ref
    return _dump(reg.history(kind, key))


@router.get("/export.csv")
def export(reg: RegistryDep, _: Reader, all: bool = False) -> Response:
    return Response(
        reg.export_etalab(include_retired=all),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="inventaire-modeles.csv"'},
    )


@router.post("/import")
async def import_(
    request: Request,
    reg: RegistryDep,
    user: Writer,
    strict: bool = False,
    name: str | None = None,
) -> Record:
    """The body is the CSV (``Content-Type: text/csv``), in any usual encoding; the answer is
    the import's report (rows skipped with their line numbers, warnings). ``strict``: any bad
    row and nothing is imported (422); ``name``: the file's, for the history."""
    raw = await request.body()
    return _dump(reg.import_etalab(raw, actor=user, name=name or "upload.csv", strict=strict))


def install(app: FastAPI) -> None:
    """Add the registry's routes and the HTTP answers of its errors to ``app``."""
    app.include_router(router)

    @app.exception_handler(RegistryValidationError)
    async def invalid(_: Request, exc: RegistryValidationError) -> Response:
        fields = {k: p.as_dict() for k, p in exc.fields.items()}
        return JSONResponse(
            {"error": "invalid_argument", "message": str(exc), "fields": fields}, status_code=422
        )

    @app.exception_handler(EtalabImportError)
    async def bad_import(_: Request, exc: EtalabImportError) -> Response:
        return JSONResponse(
            {"error": "invalid_argument", "message": str(exc), "problems": _dump(exc.problems)},
            status_code=422,
        )

    @app.exception_handler(AuthenticationError)
    async def unauthenticated(_: Request, exc: AuthenticationError) -> Response:
        return JSONResponse(
            {"error": "unauthenticated", "message": str(exc)},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(PermissionDeniedError)
    async def forbidden(_: Request, exc: PermissionDeniedError) -> Response:
        return JSONResponse({"error": "forbidden", "message": str(exc)}, status_code=403)

    @app.exception_handler(RecordNotFoundError)
    async def missing(_: Request, exc: RecordNotFoundError) -> Response:
        return JSONResponse({"error": "not_found", "message": str(exc)}, status_code=404)
