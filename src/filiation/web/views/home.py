"""The home page (entry points into the genealogy) and the search page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation.http.context import GenealogyDep

from ..entry_points import entry_points
from ..rendering import PAGE_SIZE, Lang, render

router = APIRouter(include_in_schema=False)


def _entry_cache(request: Request) -> dict[str, Any]:
    """The app's cache of the entry points (one per app, whatever the language)."""
    state = request.app.state
    if not hasattr(state, "web_entry_points"):
        state.web_entry_points = {}
    return state.web_entry_points  # type: ignore[no-any-return]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, lang: Lang, g: GenealogyDep) -> Response:
    return render(request, lang, "home.html", entries=entry_points(g, _entry_cache(request)))


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, lang: Lang, g: GenealogyDep, q: str = "") -> Response:
    hits = g.search(q, limit=PAGE_SIZE) if q.strip() else []
    return render(request, lang, "search.html", q=q, hits=hits)
