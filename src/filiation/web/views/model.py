"""A model's page: its indicators, its direct family per relation, the download menu; the
tree and graph are drawn in the browser from the JSON API (``static/model.js``)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
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


def check_values(lang: str, flag: Any) -> list[tuple[str, str]]:
    """A check's figures as a reader of ``lang`` reads them: named in the language, parameter
    counts in words, dates in full ("child 2024-05-14T02:02:30" read as English on a French
    page)."""
    out = []
    for key, value in flag.values.items():
        name = f"check.key.{key}"
        label = i18n.translate(lang, name) if name in i18n.table(lang) else key
        if flag.rule == "other_size" and isinstance(value, int):
            text = i18n.compact(lang, value)
        elif flag.rule == "child_older" and isinstance(value, str):
            text = i18n.date_time(lang, datetime.fromisoformat(value))
        elif value == "gguf only":
            text = i18n.translate(lang, "check.value.gguf_only")
        elif isinstance(value, int):
            text = i18n.number(lang, value)
        else:
            text = "—" if value is None else str(value)
        out.append((label, text))
    return out


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
            check_values=partial(check_values, lang),
            cnil=cnil,
            family=[
                (r, d.parents_by_relation.get(r, 0), d.children_by_relation.get(r, 0))
                for r in lineage
            ],
        )

    return node_page(request, lang, NodeKind.MODEL, node_id, page)
