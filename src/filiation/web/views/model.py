"""A model's page: its indicators, its direct family per relation, the download menu; the
tree and graph are drawn in the browser from the JSON API (``static/model.js``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filiation import i18n
from filiation.domain import CNIL_RANKING, DEFAULT_RANKING, LINEAGE_RELATIONS, NodeKind
from filiation.http.context import genealogy_of, root_path
from filiation.service import Genealogy

from ..rendering import Lang, node_page, ranking_rule, render

router = APIRouter(include_in_schema=False)


def downloads(request: Request, lang: str, node_id: str) -> list[tuple[str, str, str]]:
    """(format, label, API address) for every registered export format: the model page's
    download menu, so that a format added to the registry appears there too."""
    root = root_path(request)
    texts = i18n.table(lang)
    path = quote(node_id, safe="/")
    return [
        (
            name,
            texts.get(f"export.{name}", description),
            f"{root}/api/models/{path}/export?format={quote(name)}",
        )
        for name, description in genealogy_of(request).export_formats().items()
    ]


@router.get("/models/{node_id:path}", response_class=HTMLResponse)
def model(request: Request, lang: Lang, node_id: str) -> Response:
    def page(g: Genealogy, published: str) -> Response:
        # The CNIL demonstrator's order (citations, then downloads) on request.
        cnil = request.query_params.get("rank") == "citations"
        d = g.show(
            published, kind=NodeKind.MODEL, ranking=CNIL_RANKING if cnil else DEFAULT_RANKING
        )
        lineage = [r.value for r in LINEAGE_RELATIONS]
        return render(
            request,
            lang,
            "model.html",
            d=d,
            checks=g.check(d.id, limit=20),
            downloads=downloads(request, lang, d.id),
            rule=ranking_rule(lang, d.ranking),
            task=i18n.task(lang, d.pipeline_tag),
            cnil=cnil,
            family=[
                (r, d.parents_by_relation.get(r, 0), d.children_by_relation.get(r, 0))
                for r in lineage
            ],
        )

    return node_page(request, lang, NodeKind.MODEL, node_id, page)
