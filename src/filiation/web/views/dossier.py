"""The rights dossier page (``/{lang}/dossier?model=ID&right=erasure``) and its follow-up
form.

The page shows the affected set (a page at a time), the publishers (a page at a time) with
their letter in the page's language, links to the exports of the JSON API, and a plain HTML
form per publisher that records the follow-up (no script needed; the answer redirects back
to the page, so reloading does not record twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from filiation.domain import ERASURE_GROUNDS, NodeKind
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.http.auth import requester_or_nobody
from filiation.http.context import GenealogyDep, root_path
from filiation.i18n import translate
from filiation.limits import MAX_BODY_BYTES
from filiation.service import Genealogy
from filiation.service.registry import Role

from ..rendering import Lang, bounded_int, not_found, page_links, render

router = APIRouter(include_in_schema=False)

AFFECTED_PAGE = 50
PUBLISHER_PAGE = 20
RIGHTS = ("erasure", "access", "objection")
STATUSES = ("to_contact", "sent", "answered", "refused", "done")


def _same_origin(request: Request) -> bool:
    """A form post from this site, not another one: browsers say where a request comes from
    in ``Sec-Fetch-Site``; older ones name the ``Origin`` (``null`` under this site's
    no-referrer policy, so it only refuses a named foreign origin)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if not origin:
        return False  # every browser names one of the two on a form post
    if origin == "null":
        return True
    return urlsplit(origin).netloc == request.headers.get("host")


def _is_editor(request: Request) -> bool:
    """Whether the request comes from a registry editor's session or token: follow-ups are
    shared records, written by editors only (docs/security.md)."""
    who = requester_or_nobody(request).user
    return who is not None and who.can(Role.EDITOR)


def _source_of(params: Any) -> dict[str, str]:
    """The dossier's source (``model`` or ``dataset``) and right, from a query or a form."""
    out = {k: params.get(k, "").strip() for k in ("model", "dataset") if params.get(k)}
    out["right"] = params.get("right") or "erasure"
    return out


def _page(
    request: Request,
    lang: str,
    g: Genealogy,
    source: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> Response:
    kind = NodeKind.MODEL if "model" in source else NodeKind.DATASET
    try:
        d = g.rights.dossier(
            model=source.get("model"), dataset=source.get("dataset"), right=source["right"]
        )
    except NodeNotFoundError as exc:
        return not_found(request, lang, node_id=exc.node_id, kind=kind, suggestions=exc.suggestions)
    except InvalidArgumentError:
        return not_found(request, lang)
    q = request.query_params
    off, poff = bounded_int(q.get("offset")), bounded_int(q.get("pubs"))
    # The letters' options (the grounds of an erasure, an objection to direct marketing):
    # kept in every link of the page and in its exports, as the CLI and the API take them.
    ticked = set(q.getlist("grounds")) if d.right.value == "erasure" else set()
    grounds = [x for x in ERASURE_GROUNDS if x in ticked]
    marketing = d.right.value == "objection" and q.get("direct_marketing") == "true"
    options = [("grounds", x) for x in grounds] + (
        [("direct_marketing", "true")] if marketing else []
    )
    base = {k: v for k, v in source.items()}
    base[d.source_kind] = d.source_id

    def link(**extra: int) -> str:
        return "?" + urlencode([*{**base, "offset": off, "pubs": poff, **extra}.items(), *options])

    def paged(items: list[Any], at: int, size: int, param: str) -> tuple[list[Any], dict[str, Any]]:
        """One page of a list (the affected models, the publishers) and its links, which keep
        the page's other parameters."""
        has_more = at + size < len(items)
        pages = page_links(at, size, has_more, param, href=lambda v: link(**{param: v}))
        return items[at : at + size], pages

    shown, affected_pages = paged(d.affected, off, AFFECTED_PAGE, "offset")
    pubs, pub_pages = paged(d.publishers, poff, PUBLISHER_PAGE, "pubs")
    letters = g.rights.letters(
        d, lang, [p.name for p in pubs], grounds=grounds, direct_marketing=marketing
    )
    export = f"{root_path(request)}/api/dossier/export?" + urlencode(
        [(d.source_kind, d.source_id), ("right", d.right.value), ("lang", lang), *options]
    )
    return render(
        request,
        lang,
        "dossier.html",
        status=status,
        d=d,
        shown=shown,
        pubs=list(zip(pubs, letters, strict=True)),
        rights=RIGHTS,
        grounds=grounds,
        all_grounds=ERASURE_GROUNDS,
        direct_marketing=marketing,
        statuses=STATUSES,
        export=export,
        error=error,
        today=datetime.now().date().isoformat(),
        affected_pages=affected_pages,
        pub_pages=pub_pages,
        source_query=urlencode({d.source_kind: d.source_id}),
        can_follow_up=_is_editor(request),
        login_next=urlencode({"next": f"/{lang}/dossier?" + urlencode(base)}),
    )


@router.get("/dossier", response_class=HTMLResponse)
def dossier(request: Request, lang: Lang, g: GenealogyDep) -> Response:
    source = _source_of(request.query_params)
    if ("model" in source) == ("dataset" in source):
        return not_found(request, lang)
    return _page(request, lang, g, source)


@router.post("/dossier/followup", response_class=HTMLResponse)
async def followup(request: Request, lang: Lang, g: GenealogyDep) -> Response:
    if not _same_origin(request):
        return Response("cross-site form refused", status_code=403)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return Response("form too large", status_code=413)
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    source = _source_of(form)
    if ("model" in source) == ("dataset" in source):
        return not_found(request, lang)
    # Follow-ups are shared records: a registry editor writes them.
    if not _is_editor(request):
        error = translate(lang, "dossier.editors_only")
        return _page(request, lang, g, source, error=error, status=403)
    try:
        at = datetime.fromisoformat(form["date"]) if form.get("date") else None
    except ValueError:
        return _page(request, lang, g, source, error=f"date {form['date']!r}", status=422)
    try:
        g.rights.follow_up(
            model=source.get("model"),
            dataset=source.get("dataset"),
            right=source["right"],
            publisher=form.get("publisher", ""),
            status=form.get("status", ""),
            ground=form.get("ground") or None,
            note=form.get("note") or None,
            at=at,
        )
    except InvalidArgumentError as exc:
        return _page(request, lang, g, source, error=str(exc), status=422)
    except NodeNotFoundError as exc:
        return not_found(request, lang, node_id=exc.node_id, suggestions=exc.suggestions)
    back = {**source, "pubs": bounded_int(form.get("pubs"))}
    return RedirectResponse(
        f"{root_path(request)}/{lang}/dossier?{urlencode(back)}", status_code=303
    )
