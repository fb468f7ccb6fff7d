"""What every page of the web explorer shares: the page's language, rendering a template
with the helpers the templates use, the 404 and 503 pages, and the small pieces of paging.

The views (:mod:`filiation.web.views`) import this module; it imports none of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from filiation import i18n
from filiation.domain import LINEAGE_RELATIONS, RELATION_COLOURS, NodeKind, Relation
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.http.context import genealogy_of, root_path
from filiation.http.ids import resolve_id
from filiation.service import Genealogy

HERE = Path(str(resources.files("filiation.web")))
#: Where the graph library's browser build is: left by ``npm ci`` (scripts/setup-web.sh) in
#: a checkout, and packaged at the same place in the wheel when present (pyproject.toml).
VENDOR = {
    "cytoscape.min.js": [HERE / "node_modules" / "cytoscape" / "dist" / "cytoscape.min.js"],
    "elk.bundled.js": [HERE / "node_modules" / "elkjs" / "lib" / "elk.bundled.js"],
    # The WebGL renderer of large drawings (static/graph/webgl.js).
    "sigma.min.js": [HERE / "node_modules" / "sigma" / "dist" / "sigma.min.js"],
    "graphology.umd.min.js": [
        HERE / "node_modules" / "graphology" / "dist" / "graphology.umd.min.js"
    ],
}
#: Rows per page of the lists (search hits, a data set's models, an author's models).
PAGE_SIZE = 50

_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Where an id may end a line: after a separator (``meta-llama/Llama_3.1_8b``), never
#: between two letters or digits, nor after the point of a version number ("3.1", "V1.01"):
#: "Llama-3." then "1-8B" on the next line reads as another model.
_ID_BREAK = re.compile(r"(?<=[/_\-])(?=.)|(?<=(?<!\d)\.)(?=.)|(?<=\.)(?=\D)")


def breakable_id(value: object) -> Markup:
    """An id (or URL) as HTML with a ``<wbr>`` after each ``/ _ - .`` (``_ID_BREAK``; the
    pages' scripts break ids alike, ``F.breakable`` in common.js): a browser breaks a
    line after ``/`` and ``-`` by itself but not after ``_`` or ``.``, so
    ``Nexesenex/Llama_3.1_8b_Dolermed_V1.01`` ran out of a phone's screen."""
    return Markup("<wbr>").join(escape(part) for part in _ID_BREAK.split(str(value)))


_env.filters["breakable"] = breakable_id


def vendor_file(name: str) -> Path | None:
    """The installed file of a front-end library, or None when setup-web.sh was not run."""
    return next((p for p in VENDOR.get(name, ()) if p.is_file()), None)


def node_path(kind: NodeKind | str, node_id: str) -> str:
    """The page of a node, without language prefix: ``/models/a/b``."""
    folder = {"model": "models", "dataset": "datasets", "author": "authors"}[str(kind)]
    return f"/{folder}/{quote(node_id, safe='/')}"


def page_language(request: Request) -> str:
    """The page's language: the first part of its path (``/fr/...``), else (an error page
    outside the language folders) the one the browser prefers."""
    path = request.url.path
    root = root_path(request)
    if root and path.startswith(root):
        path = path[len(root) :]
    first = path.strip("/").split("/", 1)[0]
    if first in i18n.LANGUAGES:
        return first
    return i18n.negotiate(request.headers.get("accept-language"))


#: The language of the page a view answers (the views are mounted under ``/en`` and ``/fr``).
Lang = Annotated[str, Depends(page_language)]


def _sent_path(request: Request) -> str:
    """The path as the browser sent it (still percent-encoded)."""
    return request.scope.get("raw_path", b"").decode("latin-1") or quote(request.url.path)


def render(
    request: Request, lang: str, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """The page ``template`` in ``lang``, with the helpers every template uses."""
    root = root_path(request)
    # The path as the browser sent it, so that the other language's link names the same id.
    path = _sent_path(request)
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
        dec=partial(i18n.decimal, lang),
        compact=partial(i18n.compact, lang),
        date=partial(i18n.date, lang),
        date_time=partial(i18n.date_time, lang),
        time=partial(i18n.time, lang),
        href=lambda kind, node_id: f"{root}/{lang}{node_path(kind, node_id)}",
        rel_label=lambda rel: t(f"rel.{rel}"),
        # a flag's figures (``filiation check``) in words of the page's language
        check_values=lambda flag: i18n.check_figures(lang, flag.rule, flag.values),
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


def unavailable(request: Request, retry_after: int) -> HTMLResponse:
    """The HTML 503 page, for a browser asking for a page while the store cannot be read."""
    query = f"?{request.url.query}" if request.url.query else ""
    response = render(
        request,
        page_language(request),
        "unavailable.html",
        status=503,
        again=_sent_path(request) + query,
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
    lang = lang or page_language(request)
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


def node_page(
    request: Request,
    lang: str,
    kind: NodeKind,
    node_id: str,
    page: Callable[[Genealogy, str], Response],
) -> Response:
    """``page(genealogy, published_id)`` for the ``kind`` node named in the path, or the 404
    page (with near ids) when there is no such node or the page's parameters are not valid."""
    g = genealogy_of(request)
    try:
        return page(g, resolve_id(g, node_id, kind))
    except NodeNotFoundError as exc:
        return not_found(request, lang, node_id=node_id, kind=kind, suggestions=exc.suggestions)
    except InvalidArgumentError:
        return not_found(request, lang, node_id=node_id, kind=kind)


def ranking_rule(lang: str, keys: list[str]) -> str:
    """How a list is ordered, in words (``downloads, then likes``)."""
    names = [i18n.translate(lang, f"rank.{k}") for k in keys]
    return i18n.translate(lang, "rank.rule", keys=i18n.translate(lang, "rank.then").join(names))


def offset_param(request: Request, name: str) -> int:
    """A paging offset from the query string: a bad or negative one is the first page."""
    return bounded_int(request.query_params.get(name))


def bounded_int(value: str | None) -> int:
    """A non-negative count typed by a visitor (bad text: 0; at most ten million)."""
    try:
        return max(0, min(int(value or 0), 10_000_000))
    except ValueError:
        return 0


def page_links(
    offset: int,
    size: int,
    has_more: bool,
    param: str,
    href: Callable[[int], str] | None = None,
) -> dict[str, Any]:
    """The numbering and the previous/next links of one page of a list; a link is
    ``?{param}={offset}``, or ``href(offset)`` when the page keeps other parameters."""
    link = href or (lambda at: f"?{param}={at}")
    return {
        "first": offset + 1,
        "prev": link(max(0, offset - size)) if offset > 0 else None,
        "next": link(offset + size) if has_more else None,
    }
