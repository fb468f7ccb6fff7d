"""An author's page: the families its models sit in, and what it published, a page at a
time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation.domain import NodeKind, Relation
from filiation.service import Genealogy

from ..rendering import PAGE_SIZE, Lang, node_page, offset_param, page_links, render

router = APIRouter(include_in_schema=False)

#: Families listed on an author's page.
FAMILIES = 15


@router.get("/authors/{node_id:path}", response_class=HTMLResponse)
def author(request: Request, lang: Lang, node_id: str) -> Response:
    def page(g: Genealogy, published: str) -> Response:
        size = PAGE_SIZE
        off = offset_param(request, "offset")
        d = g.show(published, kind=NodeKind.AUTHOR, limit=0)
        rows = g.children(
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
            items=rows[:size],
            total=total,
            pages=page_links(off, size, len(rows) > size, "offset"),
        )

    return node_page(request, lang, NodeKind.AUTHOR, node_id, page)
