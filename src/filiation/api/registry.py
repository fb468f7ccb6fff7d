"""The registry's JSON endpoints, under ``/api/registry``: one :class:`Registry` call each.

Every registry endpoint needs a user: an API token (``Authorization: Bearer fil_…``, made
by ``filiation registry token create``) or the web session cookie. Reads need the viewer
role, writes editor (users: admin). A write authenticated by the session cookie must also
carry the session's CSRF token in ``X-CSRF-Token`` (tokens are not sent by browsers on their
own, so they need none). The public genealogy's endpoints stay open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from filiation.registry import auth
from filiation.registry.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RecordNotFoundError,
    RegistryValidationError,
)
from filiation.registry.etalab import EtalabImportError
from filiation.registry.models import Role, User
from filiation.registry.service import Registry

SESSION_COOKIE = "filiation_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Requester:
    user: User | None
    csrf: str | None = None  # the session's CSRF token (cookie sessions only)
    by_cookie: bool = False


def registry_of(request: Request) -> Registry:
    return request.app.state.genealogy.registry  # type: ignore[no-any-return]


def requester(request: Request) -> Requester:
    """Who sends the request: a bearer token, else the session cookie, else nobody.

    A bad token is an error (the caller meant to authenticate); a stale cookie is nobody.
    """
    reg = registry_of(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("use 'Authorization: Bearer <token>'")
        return Requester(reg.user_for_token(token.strip()))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = reg.session(cookie)
        if found is not None:
            return Requester(found[0], found[1], by_cookie=True)
    return Requester(None)


def _reader(request: Request) -> User:
    return Registry.require(requester(request).user, Role.VIEWER)


def _writer(request: Request) -> User:
    """The user of a write; a cookie session must prove the request came from its pages."""
    who = requester(request)
    if who.by_cookie and not auth.same(request.headers.get(CSRF_HEADER), who.csrf):
        raise PermissionDeniedError("missing or wrong X-CSRF-Token for this session")
    return Registry.require(who.user, Role.VIEWER)


Reader = Annotated[User, Depends(_reader)]
Writer = Annotated[User, Depends(_writer)]
Reg = Annotated[Registry, Depends(registry_of)]
Fields = Annotated[dict[str, Any], Body(description="The record's fields (see /docs schemas).")]

router = APIRouter(prefix="/api/registry", tags=["registry"])


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


@router.get("/me")
def me(user: Reader) -> Any:
    return _dump(user)


# -- models -------------------------------------------------------------------------------------
@router.get("/models")
def list_models(reg: Reg, _: Reader, all: bool = False) -> Any:
    return _dump(reg.models(include_retired=all))


@router.post("/models", status_code=201)
def create_model(reg: Reg, user: Writer, fields: Fields) -> Any:
    return _dump(reg.create_model(fields, actor=user))


@router.get("/models/{model_id}")
def get_model(reg: Reg, _: Reader, model_id: int) -> Any:
    return {
        **_dump(reg.model(model_id)),
        "history": _dump(reg.history("model", model_id)),
        "training_runs": _dump(reg.training_runs(model_id)),
    }


@router.patch("/models/{model_id}")
def update_model(reg: Reg, user: Writer, model_id: int, fields: Fields) -> Any:
    return _dump(reg.update_model(model_id, fields, actor=user))


@router.post("/models/{model_id}/retire")
def retire_model(reg: Reg, user: Writer, model_id: int) -> Any:
    return _dump(reg.retire_model(model_id, actor=user))


@router.get("/models/{model_id}/runs")
def model_runs(reg: Reg, _: Reader, model_id: int) -> Any:
    """The training runs the training callbacks recorded for the model, oldest first."""
    return _dump(reg.training_runs(model_id))


@router.get("/models/{model_id}/ancestry")
def model_ancestry(reg: Reg, _: Reader, model_id: int) -> Any:
    return _dump(reg.ancestry(model_id))


# -- systems ------------------------------------------------------------------------------------
@router.get("/systems")
def list_systems(reg: Reg, _: Reader, all: bool = False) -> Any:
    return _dump(reg.systems(include_retired=all))


@router.post("/systems", status_code=201)
def create_system(reg: Reg, user: Writer, fields: Fields) -> Any:
    return _dump(reg.create_system(fields, actor=user))


@router.get("/systems/{system_id}")
def get_system(reg: Reg, _: Reader, system_id: int) -> Any:
    return {**_dump(reg.system(system_id)), "history": _dump(reg.history("system", system_id))}


@router.patch("/systems/{system_id}")
def update_system(reg: Reg, user: Writer, system_id: int, fields: Fields) -> Any:
    return _dump(reg.update_system(system_id, fields, actor=user))


@router.post("/systems/{system_id}/retire")
def retire_system(reg: Reg, user: Writer, system_id: int) -> Any:
    return _dump(reg.retire_system(system_id, actor=user))


@router.put("/systems/{system_id}/models/{model_id}")
def attach(
    reg: Reg,
    user: Writer,
    system_id: int,
    model_id: int,
    usage: Annotated[str, Body(embed=True, description="How the system uses the model.")],
) -> Any:
    return _dump(reg.attach(system_id, model_id, usage, actor=user))


@router.delete("/systems/{system_id}/models/{model_id}")
def detach(reg: Reg, user: Writer, system_id: int, model_id: int) -> Any:
    return _dump(reg.detach(system_id, model_id, actor=user))


# -- impact, data sets, history, Etalab ------------------------------------------------------------
@router.get("/impact")
def impact(
    reg: Reg,
    _: Reader,
    model: Annotated[str | None, Query(description="Registered model name or Hub id.")] = None,
    dataset: Annotated[str | None, Query(description="Data set id.")] = None,
) -> Any:
    return _dump(reg.impact(model=model, dataset=dataset))


@router.get("/datasets")
def datasets(reg: Reg, _: Reader) -> Any:
    return _dump(reg.datasets())


@router.put("/datasets/{dataset_id:path}")
def flag_dataset(
    reg: Reg,
    user: Writer,
    dataset_id: str,
    personal_data: Annotated[bool, Body(embed=True)] = True,
    note: Annotated[str | None, Body(embed=True)] = None,
) -> Any:
    return _dump(reg.flag_dataset(dataset_id, personal_data=personal_data, note=note, actor=user))


@router.get("/history")
def history(reg: Reg, _: Reader, kind: str | None = None, ref: str | None = None) -> Any:
    key: int | str | None = int(ref) if ref is not None and ref.isdigit() else ref
    return _dump(reg.history(kind, key))


@router.get("/export.csv")
def export(reg: Reg, _: Reader, all: bool = False) -> Response:
    return Response(
        reg.export_etalab(include_retired=all),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="inventaire-modeles.csv"'},
    )


@router.post("/import")
async def import_(request: Request, reg: Reg, user: Writer) -> Any:
    """The body is the CSV (``Content-Type: text/csv``)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return JSONResponse(
            {"error": "invalid_argument", "message": "the CSV must be UTF-8"}, status_code=422
        )
    return _dump(reg.import_etalab(text, actor=user))


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
