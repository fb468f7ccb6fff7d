"""The FastAPI application: one :class:`Genealogy`, the API routes, errors, headers, docs.

``create_app(genealogy_or_db)`` loads the genealogy's lineage index before returning, so
that requests only read it: the index is a set of read-only (memory-mapped) arrays and each
traversal keeps its state in local variables, so one ``Genealogy`` serves concurrent
requests from uvicorn's thread pool without a lock. Store reads (``show``'s extra fields,
``stats``, ``snapshots``) open a connection per call.

With ``refresh=SECONDS`` (what ``filiation serve`` passes), a request at most every SECONDS
starts a background check for a newer snapshot (ingested by another process); its index,
published by that process in the store's index cache, is mapped and swapped in when ready.
Each request pins the index it started with (:meth:`Genealogy.pinned`), so no answer mixes
two snapshots and no request waits for a swap. ``filiation serve --workers N`` runs N
processes of this app (:func:`app_from_env`), each mapping the same cached index files.
"""

from __future__ import annotations

import html
import logging
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filiation import __version__, web
from filiation.errors import (
    BusyError,
    FiliationError,
    InvalidArgumentError,
    NodeNotFoundError,
    StoreError,
)
from filiation.limits import MAX_BODY_BYTES, MAX_IMPORT_BYTES
from filiation.service import Genealogy

from . import exports, graph, health, lineage, nodes
from . import registry as registry_api
from . import rights as rights_routes

log = logging.getLogger("filiation.api")

#: Seconds a client is asked to wait after a 503 (the store is down or restarting).
RETRY_AFTER = 5
#: Environment of ``serve --workers`` processes: how often to look for a new snapshot.
ENV_REFRESH = "FILIATION_REFRESH"

#: Every response: only this origin's scripts, styles, images and connections; no plugins,
#: no framing, no <base> rewriting.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: /docs only: Swagger UI's stylesheet draws its icons as data: SVG images. Its scripts are
#: served from this origin (the swagger-ui-bundle package), not from a CDN, and started from
#: a file, so scripts stay 'self'.
DOCS_CSP = CSP.replace("img-src 'self'", "img-src 'self' data:")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _raw(csp: str) -> list[tuple[bytes, bytes]]:
    """The security headers with this policy, encoded once as ASGI wants them."""
    pairs = {"Content-Security-Policy": csp, **HEADERS}
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs.items()]


_RAW_HEADERS = {CSP: _raw(CSP), DOCS_CSP: _raw(DOCS_CSP)}
_RAW_NAMES = frozenset(k for k, _ in _RAW_HEADERS[CSP])


class CurrentIndex:
    """Pins the genealogy's current index for each request, and (with ``refresh``) lets a
    request at most every ``refresh`` seconds start a background check for a new snapshot."""

    def __init__(self, app: ASGIApp, genealogy: Genealogy, refresh: float | None) -> None:
        self.app = app
        self.genealogy = genealogy
        self.refresh = refresh

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.refresh is not None:
            self.genealogy.refresh_soon(self.refresh)
        with self.genealogy.pinned():
            await self.app(scope, receive, send)


class HeadAsGet:
    """Answers ``HEAD`` as ``GET`` without the body (RFC 9110: every page that answers
    ``GET`` answers ``HEAD``); FastAPI's ``@get`` routes alone answer it 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class BodyLimit:
    """Refuses a request body over :data:`filiation.limits.MAX_BODY_BYTES` (the Etalab
    import: ``MAX_IMPORT_BYTES``) with 413 before anything reads it: uvicorn and FastAPI
    would read any size into memory."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = MAX_IMPORT_BYTES if scope["path"].endswith("/import") else MAX_BODY_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            too_large = _error(413, "too_large", f"the request body is over {limit} bytes")
            await too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:  # a chunked body without Content-Length: stop reading it
                return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)


class SecurityHeaders:
    """Adds the security headers to every response, and turns an unexpected exception into
    a JSON 500 (logged here, never shown to the client)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        csp = DOCS_CSP if path == "/docs" or path.startswith("/docs/") else CSP
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # As MutableHeaders would set them (a header of the same name replaced, the
                # others after the response's own), without building it on every response.
                own = [h for h in message.get("headers", ()) if h[0].lower() not in _RAW_NAMES]
                message["headers"] = own + _RAW_HEADERS[csp]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unexpected error on %s", path)
            if started:
                raise
            response = _error(500, "internal_error", "internal error; see the server's log")
            await response(scope, receive, send_with_headers)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


def _wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, docs or static files): answer in HTML."""
    path = request.url.path[len(request.scope.get("root_path", "").rstrip("/")) :]
    if path.startswith(("/api/", "/docs", "/openapi.json", "/static/", "/i18n/")) or path == "/api":
        return False
    return "text/html" in request.headers.get("accept", "") or path.startswith(("/en/", "/fr/"))


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(NodeNotFoundError)
    async def not_found(_: Request, exc: NodeNotFoundError) -> Response:
        return _error(404, "not_found", str(exc), suggestions=exc.suggestions)

    @app.exception_handler(InvalidArgumentError)
    async def invalid(_: Request, exc: InvalidArgumentError) -> Response:
        return _error(422, "invalid_argument", str(exc))

    @app.exception_handler(StoreError)
    async def store(request: Request, exc: StoreError) -> Response:
        # The reason names the store (never its password), which is the operator's
        # business, not the client's: it goes to the log.
        log.error("store error: %s", exc)
        if _wants_page(request):
            from filiation.web import unavailable

            return unavailable(request, RETRY_AFTER)
        response = _error(
            503,
            "store_unavailable",
            "the genealogy store cannot be reached or read right now; try again in a moment "
            "(questions answered from the lineage index alone still work)",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    @app.exception_handler(BusyError)
    async def busy(_: Request, exc: BusyError) -> Response:
        response = _error(503, "busy", str(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(FiliationError)
    async def other(_: Request, exc: FiliationError) -> Response:
        log.error("%s: %s", type(exc).__name__, exc)
        return _error(500, "internal_error", "internal error; see the server's log")

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return _error(422, "invalid_argument", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and _wants_page(request):
            from filiation.web import not_found as not_found_page

            return not_found_page(request)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = "no such endpoint; see /docs" if exc.status_code == 404 else str(exc.detail)
        return _error(exc.status_code, code, message)


# -- /docs: Swagger UI from the swagger-ui-bundle package, no CDN -------------------------------
DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>filiation API</title>
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="{root}/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}/openapi.json"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/docs/docs.js"></script>
</body>
</html>
"""


def _swagger_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def _install_docs(app: FastAPI) -> None:
    cache = {"Cache-Control": "public, max-age=86400"}

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        root = html.escape(request.scope.get("root_path", "").rstrip("/"), quote=True)
        return HTMLResponse(DOCS_PAGE.format(root=root))

    @app.get("/docs/docs.js", include_in_schema=False)
    async def docs_js() -> Response:
        script = resources.files("filiation.api") / "static" / "docs.js"
        return Response(script.read_bytes(), media_type="text/javascript", headers=cache)

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            raise StarletteHTTPException(404)
        return FileResponse(_swagger_dir() / name, media_type=DOCS_ASSETS[name], headers=cache)


DESCRIPTION = """\
The genealogy of AI models, from the Hugging Face Hub's metadata: ancestors, descendants,
training data sets and publishers. Every endpoint is one call of filiation's Python API and
takes the CLI's parameters (`relation` repeated or comma-separated, `max_depth`, `limit`,
`rank_by`, `kind`). Traversals answer the JSON documented in docs/json.md.
"""


def create_app(
    genealogy: Genealogy | str | os.PathLike[str] | None = None, *, refresh: float | None = None
) -> FastAPI:
    """The API over ``genealogy`` (a :class:`Genealogy`, or a store path or URL; default:
    the default store, filled with the bundled sample when empty). ``refresh``: look for
    a newer snapshot at most every so many seconds (None: serve the loaded one for good)."""
    g = genealogy if isinstance(genealogy, Genealogy) else Genealogy(genealogy)
    _ = g.index  # load (or build) the index now, once, before any request reads it
    app = FastAPI(
        title="filiation",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.genealogy = g
    # The sub-resource routes (``.../descendants``, ``.../export``) and the graph view's
    # before the plain ``/{plural}/{id}`` routes of ``nodes``, which would take any path.
    for module in (health, lineage, exports, graph, nodes):
        app.include_router(module.router)
    registry_api.install(app)
    app.include_router(rights_routes.router)
    _install_docs(app)
    web.install(app)
    _install_errors(app)
    app.add_middleware(CurrentIndex, genealogy=g, refresh=refresh)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    return app


def app_from_env() -> FastAPI:
    """The app of one ``serve --workers`` process: the store of ``$FILIATION_DB``, the
    refresh period of ``$FILIATION_REFRESH``. The parent process has built the index (and
    loaded the bundled sample into an empty store) before starting the workers, so this
    maps the cached index files."""
    value = os.environ.get(ENV_REFRESH)
    delay = 0.5
    while True:
        # A worker started while the database is down (uvicorn replaces a worker that died
        # or hung) waits for it rather than failing, which would stop every worker: the
        # parent process has checked the store before starting any.
        try:
            return create_app(Genealogy(), refresh=float(value) if value else None)
        except StoreError as exc:
            log.warning("cannot open the store (%s); trying again in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10)
