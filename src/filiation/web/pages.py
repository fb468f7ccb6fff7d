"""The HTML pages of the web explorer: one :class:`Genealogy` call (or two) per page.

Pages live under a language prefix (``/en/...``, ``/fr/...``); ``/`` sends the browser to
the language it prefers. Ids come from the rest of the path, as in the JSON API. The tree
and graph views are drawn in the browser from the JSON API (``static/model.js``), a page at
a time: the server never sends more nodes than the user asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from filiation import exports
from filiation.api.routes import SUGGEST_MAX
from filiation.domain import KIND_CODES, LINEAGE_RELATIONS, RELATION_COLOURS, NodeKind, Relation
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.lineage.arrays import NULL_INT
from filiation.results import Neighbour, NodeSummary, summary_fields
from filiation.service import Genealogy

from . import i18n

HERE = Path(str(resources.files("filiation.web")))
#: Where the graph library's browser build is: left by ``npm ci`` (scripts/setup-web.sh) in
#: a checkout, and packaged at the same place in the wheel when present (pyproject.toml).
VENDOR = {
    "cytoscape.min.js": [HERE / "node_modules" / "cytoscape" / "dist" / "cytoscape.min.js"],
    "elk.bundled.js": [HERE / "node_modules" / "elkjs" / "lib" / "elk.bundled.js"],
}
PAGE_SIZE = 50
FAMILIES = 15
ENTRY_POINTS = 12

_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def vendor_file(name: str) -> Path | None:
    return next((p for p in VENDOR.get(name, ()) if p.is_file()), None)


def node_path(kind: NodeKind | str, node_id: str) -> str:
    """The page of a node, without language prefix: ``/models/a/b``."""
    folder = {"model": "models", "dataset": "datasets", "author": "authors"}[str(kind)]
    return f"/{folder}/{quote(node_id, safe='/')}"


def _genealogy(request: Request) -> Genealogy:
    return request.app.state.genealogy  # type: ignore[no-any-return]


def render(
    request: Request, lang: str, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    # The path as the browser sent it (still percent-encoded), so that the other language's
    # link names the same id.
    path = request.scope.get("raw_path", b"").decode("latin-1") or quote(request.url.path)
    here = path[len(root) :] if root and path.startswith(root) else path
    rest = here.split("/", 2)[2] if here.count("/") >= 2 else ""
    query = f"?{request.url.query}" if request.url.query else ""
    t = partial(i18n.translate, lang)
    page = _env.get_template(template).render(
        lang=lang,
        other_langs=[
            (other, f"{root}/{other}/{rest}{query}") for other in i18n.LANGUAGES if other != lang
        ],
        root=root,
        home=f"{root}/{lang}/",
        t=t,
        num=partial(i18n.number, lang),
        compact=partial(i18n.compact, lang),
        date=i18n.date,
        href=lambda kind, node_id: f"{root}/{lang}{node_path(kind, node_id)}",
        rel_label=lambda rel: t(f"rel.{rel}"),
        kind_label=lambda kind: t(f"kind.{kind}"),
        graph_ready=all(vendor_file(name) for name in VENDOR),
        all_relations=[r.value for r in Relation],
        relation_colours={r.value: c for r, c in RELATION_COLOURS.items()},
        lineage_relations=[r.value for r in LINEAGE_RELATIONS],
        api_id=lambda node_id: quote(node_id, safe="/"),
        **context,
    )
    headers = {"Content-Language": lang, "Cache-Control": "no-store"}
    return HTMLResponse(page, status_code=status, headers=headers)


def _page_lang(request: Request) -> str:
    """The language of an error page: the path's, else the browser's."""
    first = request.url.path.strip("/").split("/", 1)[0]
    if first in i18n.LANGUAGES:
        return first
    return i18n.negotiate(request.headers.get("accept-language"))


def unavailable(request: Request, retry_after: int) -> HTMLResponse:
    """The HTML 503 page, for a browser asking for a page while the store cannot be read."""
    path = request.scope.get("raw_path", b"").decode("latin-1") or quote(request.url.path)
    query = f"?{request.url.query}" if request.url.query else ""
    response = render(
        request, _page_lang(request), "unavailable.html", status=503, again=path + query
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def not_found(
    request: Request,
    lang: str | None = None,
    *,
    node_id: str | None = None,
    kind: NodeKind | None = None,
    suggestions: list[str] | None = None,
) -> HTMLResponse:
    """The HTML 404 page (with near ids when the service found some)."""
    lang = lang or _page_lang(request)
    shown = None if node_id is None else (node_id if len(node_id) <= 200 else node_id[:200] + "…")
    return render(
        request,
        lang,
        "not_found.html",
        status=404,
        node_id=shown,
        kind=(kind or NodeKind.MODEL).value,
        suggestions=suggestions or [],
    )


def ranking_rule(lang: str, keys: list[str]) -> str:
    names = [i18n.translate(lang, f"rank.{k}") for k in keys]
    return i18n.translate(lang, "rank.rule", keys=i18n.translate(lang, "rank.then").join(names))


# -- entry points, from the index's public arrays ----------------------------------------------
def entry_points(g: Genealogy, cache: dict[str, Any]) -> dict[str, list[NodeSummary]]:
    """The most derived families (models with most descendants) and the newest models.

    Computed once per loaded index (a pass over two arrays) and kept for the app's life."""
    index = g.index
    if cache.get("index") is index:
        return cache["value"]  # type: ignore[no-any-return]
    a = index.a
    models = (np.asarray(a.kind) == KIND_CODES[NodeKind.MODEL]) & ~np.asarray(a.stub, bool)

    def top(score: np.ndarray, known: np.ndarray) -> list[NodeSummary]:
        candidates = np.flatnonzero(models & known)
        values = score[candidates]
        k = min(ENTRY_POINTS, len(candidates))
        if k == 0:
            return []
        if len(values) > k:
            keep = np.argpartition(values, len(values) - k)[len(values) - k :]
            candidates, values = candidates[keep], values[keep]
        # Highest score first; ties by renown (lower node number = better known).
        order = candidates[np.lexsort((candidates, -values))]
        return [NodeSummary(**summary_fields(index, int(n))) for n in order]

    descendants = np.asarray(a.descendants).astype(np.int64)
    created = np.asarray(a.created).astype(np.int64)
    value = {
        "families": top(descendants, descendants > 0),
        "recent": top(created, created != NULL_INT),
    }
    cache.update(index=index, value=value)
    return value


def downloads(request: Request, lang: str, node_id: str) -> list[tuple[str, str, str]]:
    """(format, label, API address) for every registered export format: the model page's
    download menu, so that a format added to the registry appears there too."""
    root = request.scope.get("root_path", "").rstrip("/")
    texts = i18n.table(lang)
    path = quote(node_id, safe="/")
    return [
        (
            name,
            texts.get(f"export.{name}", fmt.description),
            f"{root}/api/models/{path}/export?format={quote(name)}",
        )
        for name, fmt in exports.formats().items()
    ]


def _page_links(offset: int, size: int, has_more: bool, param: str) -> dict[str, Any]:
    return {
        "first": offset + 1,
        "prev": f"?{param}={max(0, offset - size)}" if offset > 0 else None,
        "next": f"?{param}={offset + size}" if has_more else None,
    }


# -- routes ---------------------------------------------------------------------------------------
def _language_router(lang: str, entry_cache: dict[str, Any]) -> APIRouter:
    r = APIRouter(prefix=f"/{lang}", include_in_schema=False)

    def lookup(g: Genealogy, node_id: str, kind: NodeKind) -> str:
        """The published id, or NodeNotFoundError (long ids get no suggestions, as in the API)."""
        text = node_id.strip()
        if len(text) > SUGGEST_MAX:
            want = text.lower()
            for hit in g.search(text, limit=5, kinds=[kind]):
                if hit.id.lower() == want:
                    return hit.id
            raise NodeNotFoundError(text)
        return g.resolve(node_id, kind)

    def guarded(kind: NodeKind, page: Callable[..., Response]) -> Callable[..., Response]:
        def run(request: Request, node_id: str) -> Response:
            g = _genealogy(request)
            try:
                published = lookup(g, node_id, kind)
                return page(request, g, published)
            except NodeNotFoundError as exc:
                return not_found(
                    request, lang, node_id=node_id, kind=kind, suggestions=exc.suggestions
                )
            except InvalidArgumentError:
                return not_found(request, lang, node_id=node_id, kind=kind)

        return run

    def offset_of(request: Request, name: str) -> int:
        try:
            return max(0, min(int(request.query_params.get(name, 0)), 10_000_000))
        except ValueError:
            return 0

    @r.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        g = _genealogy(request)
        return render(request, lang, "home.html", entries=entry_points(g, entry_cache))

    @r.get("/search", response_class=HTMLResponse)
    def search(request: Request, q: str = "") -> Response:
        g = _genealogy(request)
        hits = g.search(q, limit=PAGE_SIZE) if q.strip() else []
        return render(request, lang, "search.html", q=q, hits=hits)

    def model_page(request: Request, g: Genealogy, node_id: str) -> Response:
        d = g.show(node_id, kind=NodeKind.MODEL)
        lineage = [r.value for r in LINEAGE_RELATIONS]
        return render(
            request,
            lang,
            "model.html",
            d=d,
            downloads=downloads(request, lang, d.id),
            rule=ranking_rule(lang, d.ranking),
            family=[
                (r, d.parents_by_relation.get(r, 0), d.children_by_relation.get(r, 0))
                for r in lineage
            ],
        )

    def dataset_page(request: Request, g: Genealogy, node_id: str) -> Response:
        size = PAGE_SIZE
        off_t, off_i = offset_of(request, "trained"), offset_of(request, "impact")
        trained_on = [Relation.TRAINED_ON]
        d = g.show(node_id, kind=NodeKind.DATASET, limit=0)
        page = g.children(
            d.id, kind=NodeKind.DATASET, relations=trained_on, offset=off_t, limit=size + 1
        )
        trained: list[Neighbour] = page[:size]
        total_trained = d.children_by_relation.get(Relation.TRAINED_ON.value, 0)
        full = g.impact(d.id)  # arrays only: its size, without building records
        part = g.impact(d.id, limit=off_i + size + 1)
        impact = part.nodes[1:][off_i : off_i + size]
        return render(
            request,
            lang,
            "dataset.html",
            d=d,
            trained=trained,
            total_trained=total_trained,
            trained_pages=_page_links(off_t, size, len(page) > size, "trained"),
            impact=impact,
            total_impact=len(full),
            impact_pages=_page_links(off_i, size, len(part) > off_i + size, "impact"),
        )

    def author_page(request: Request, g: Genealogy, node_id: str) -> Response:
        size = PAGE_SIZE
        off = offset_of(request, "offset")
        d = g.show(node_id, kind=NodeKind.AUTHOR, limit=0)
        page = g.children(
            d.id,
            kind=NodeKind.AUTHOR,
            relations=[Relation.PUBLISHED_BY],
            offset=off,
            limit=size + 1,
        )
        total = d.children_by_relation.get(Relation.PUBLISHED_BY.value, 0)
        return render(
            request,
            lang,
            "author.html",
            d=d,
            families=g.families(d.id, limit=FAMILIES),
            items=page[:size],
            total=total,
            pages=_page_links(off, size, len(page) > size, "offset"),
        )

    r.add_api_route(
        "/models/{node_id:path}",
        guarded(NodeKind.MODEL, model_page),
        response_class=HTMLResponse,
    )
    r.add_api_route(
        "/datasets/{node_id:path}",
        guarded(NodeKind.DATASET, dataset_page),
        response_class=HTMLResponse,
    )
    r.add_api_route(
        "/authors/{node_id:path}",
        guarded(NodeKind.AUTHOR, author_page),
        response_class=HTMLResponse,
    )
    return r


def install(app: FastAPI) -> None:
    """Add the pages, their static files and translations to ``app`` (the JSON API's)."""
    cache = {"Cache-Control": "public, max-age=3600"}

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        lang = i18n.negotiate(request.headers.get("accept-language"))
        prefix = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(
            f"{prefix}/{lang}/", status_code=307, headers={"Vary": "Accept-Language"}
        )

    for lang in i18n.LANGUAGES:

        @app.get(f"/{lang}", include_in_schema=False)
        def bare(request: Request, lang: str = lang) -> Response:
            prefix = request.scope.get("root_path", "").rstrip("/")
            return RedirectResponse(f"{prefix}/{lang}/", status_code=307)

    @app.get("/i18n/{lang}.json", include_in_schema=False)
    def translations(lang: str) -> Response:
        if lang not in i18n.LANGUAGES:
            return Response(status_code=404)
        return FileResponse(
            HERE / "i18n" / f"{lang}.json", media_type="application/json", headers=cache
        )

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

    entry_cache: dict[str, Any] = {}
    for lang in i18n.LANGUAGES:
        app.include_router(_language_router(lang, entry_cache))
    from . import registry

    registry.install(app)
    from . import rights_pages

    for lang in i18n.LANGUAGES:
        app.include_router(rights_pages.router(lang))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
