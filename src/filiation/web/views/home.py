"""The home page (entry points into the genealogy) and the search page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation.http.context import GenealogyDep

from ..rendering import PAGE_SIZE, Lang, render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, lang: Lang, g: GenealogyDep) -> Response:
    return render(request, lang, "home.html", entries=g.entry_points())


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, lang: Lang, g: GenealogyDep, q: str = "") -> Response:
    hits = g.search(q, limit=PAGE_SIZE) if q.strip() else []
    return render(request, lang, "search.html", q=q, hits=hits)
