"""A data set's page: the models trained on it and its impact set, a page at a time each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation.domain import NodeKind, Relation
from filiation.results import Neighbour
from filiation.service import Genealogy

from ..rendering import PAGE_SIZE, Lang, node_page, offset_param, page_links, render

router = APIRouter(include_in_schema=False)


@router.get("/datasets/{node_id:path}", response_class=HTMLResponse)
def dataset(request: Request, lang: Lang, node_id: str) -> Response:
    def page(g: Genealogy, published: str) -> Response:
        size = PAGE_SIZE
        off_t, off_i = offset_param(request, "trained"), offset_param(request, "impact")
        trained_on = [Relation.TRAINED_ON]
        d = g.show(published, kind=NodeKind.DATASET, limit=0)
        rows = g.children(
            d.id, kind=NodeKind.DATASET, relations=trained_on, offset=off_t, limit=size + 1
        )
        trained: list[Neighbour] = rows[:size]
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
            trained_pages=page_links(off_t, size, len(rows) > size, "trained"),
            impact=impact,
            total_impact=len(full),
            impact_pages=page_links(off_i, size, len(part) > off_i + size, "impact"),
        )

    return node_page(request, lang, NodeKind.DATASET, node_id, page)
