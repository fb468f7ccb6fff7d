"""The web explorer put together: the redirections to a language, the translations, the
front-end library, the static files, and every view mounted under ``/en`` and ``/fr``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from filiation import i18n
from filiation.http.context import root_path

from . import views
from .rendering import HERE, vendor_file
from .views import registry_common


def install(app: FastAPI) -> None:
    """Add the pages, their static files and translations to ``app`` (the JSON API's)."""
    cache = {"Cache-Control": "public, max-age=3600"}

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        lang = i18n.negotiate(request.headers.get("accept-language"))
        return RedirectResponse(
            f"{root_path(request)}/{lang}/", status_code=307, headers={"Vary": "Accept-Language"}
        )

    for lang in i18n.LANGUAGES:

        @app.get(f"/{lang}", include_in_schema=False)
        def bare(request: Request, lang: str = lang) -> Response:
            return RedirectResponse(f"{root_path(request)}/{lang}/", status_code=307)

    @app.get("/i18n/{lang}.json", include_in_schema=False)
    def translations(lang: str) -> Response:
        if lang not in i18n.LANGUAGES:
            return Response(status_code=404)
        # The catalogue as the server uses it (French typography applied), so a script's text
        # reads like the page around it.
        return JSONResponse(i18n.table(lang), headers=cache)

    @app.get("/static/vendor/{name}", include_in_schema=False)
    def vendor(name: str) -> Response:
        path = vendor_file(name)
        if path is None:
            return Response(
                "/* not installed: run scripts/setup-web.sh (npm ci in src/filiation/web) */",
                status_code=404,
                media_type="text/javascript",
            )
        return FileResponse(path, media_type="text/javascript", headers=cache)

    for router in views.ROUTERS:
        for lang in i18n.LANGUAGES:
            app.include_router(router, prefix=f"/{lang}")
    registry_common.install(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
