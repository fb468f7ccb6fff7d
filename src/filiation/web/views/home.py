"""The home page (entry points into the genealogy) and the search page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation.http.context import GenealogyDep

from ..rendering import PAGE_SIZE, Lang, bounded_int, page_links, render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, lang: Lang, g: GenealogyDep) -> Response:
    return render(request, lang, "home.html", entries=g.entry_points())


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request, lang: Lang, g: GenealogyDep, q: str = "", offset: str = "0"
) -> Response:
    """A page of results with their total and links to the pages before and after."""
    at = min(bounded_int(offset), 100_000)
    found = g.search_page(q, offset=at, limit=PAGE_SIZE) if q.strip() else None

    def link(start: int) -> str:
        return "?" + urlencode({"q": q, "offset": start} if start else {"q": q})

    pages = page_links(at, PAGE_SIZE, bool(found and found.next_offset), "offset", href=link)
    return render(request, lang, "search.html", q=q, found=found, pages=pages)
