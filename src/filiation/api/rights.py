"""JSON API of rights dossiers, history and the watch list: the CLI's ``dossier``,
``followup``, ``diff`` and ``watch list`` (each a call to :class:`filiation.Genealogy`).

A dossier is named by its source (``model`` or ``dataset``) and ``right``, as query
parameters. Exports come back as files (``Content-Disposition: attachment``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from filiation.http.auth import Writer
from filiation.http.context import GenealogyDep
from filiation.service import Genealogy
from filiation.service.registry import Registry, Role
from filiation.service.rights import Diff, Dossier, FollowUpEvent, Letter, Watch

from .responses import ERRORS

router = APIRouter(prefix="/api", responses=ERRORS)


ModelQ = Annotated[str | None, Query(description="The model concerned by the request.")]
DatasetQ = Annotated[str | None, Query(description="The data set concerned by the request.")]
RightQ = Annotated[
    Literal["access", "erasure", "objection"],
    Query(description="access (GDPR art. 15), erasure (art. 17) or objection (art. 21)"),
]
LangQ = Annotated[Literal["en", "fr"], Query(description="Language of the exports and letters.")]
GroundsQ = Annotated[
    list[str] | None,
    Query(description="Erasure: the grounds of Article 17(1) GDPR, a to f (repeat or a,d)."),
]
MarketingQ = Annotated[
    bool, Query(description="Objection: to direct marketing (Article 21(2) GDPR).")
]

MEDIA = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}


class FollowUpIn(BaseModel):
    model: str | None = None
    dataset: str | None = None
    right: Literal["access", "erasure", "objection"] = "erasure"
    publisher: str
    status: Literal["to_contact", "sent", "answered", "refused", "done"]
    ground: str | None = Field(None, max_length=500, description="Required for 'refused'.")
    note: str | None = Field(None, max_length=4000)
    at: datetime | None = None


@router.get("/dossier", response_model=Dossier, tags=["rights"])
def dossier(
    g: GenealogyDep, model: ModelQ = None, dataset: DatasetQ = None, right: RightQ = "erasure"
) -> Dossier:
    """The rights dossier: affected models ranked by reach, with their path from the source;
    publishers to contact, with the follow-up of each."""
    return g.rights.dossier(model=model, dataset=dataset, right=right)


@router.get("/dossier/letters", response_model=list[Letter], tags=["rights"])
def dossier_letters(
    g: GenealogyDep,
    model: ModelQ = None,
    dataset: DatasetQ = None,
    right: RightQ = "erasure",
    lang: LangQ = "en",
    grounds: GroundsQ = None,
    direct_marketing: MarketingQ = False,
) -> list[Letter]:
    """One request letter per publisher; ``[[...]]`` marks what the requester must fill."""
    d = g.rights.dossier(model=model, dataset=dataset, right=right)
    return g.rights.letters(d, lang, grounds=grounds, direct_marketing=direct_marketing)


def export_response(
    g: Genealogy, d: Dossier, fmt: str, lang: str, **letter_options: Any
) -> Response:
    data = g.rights.export_dossier(d, fmt, lang, **letter_options)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", d.source_id)[:120]
    name = f"dossier-{stem}-{d.right.value}{'-' + lang if fmt != 'json' else ''}.{fmt}"
    return Response(
        data,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/dossier/export",
    tags=["rights"],
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
def dossier_export(
    g: GenealogyDep,
    model: ModelQ = None,
    dataset: DatasetQ = None,
    right: RightQ = "erasure",
    format: Annotated[Literal["md", "csv", "pdf", "json"], Query()] = "md",
    lang: LangQ = "en",
    grounds: GroundsQ = None,
    direct_marketing: MarketingQ = False,
) -> Response:
    """The dossier as a Markdown, CSV (affected set), PDF or JSON file."""
    d = g.rights.dossier(model=model, dataset=dataset, right=right)
    return export_response(g, d, format, lang, grounds=grounds, direct_marketing=direct_marketing)


@router.post("/dossier/followup", response_model=FollowUpEvent, tags=["rights"])
def dossier_followup(g: GenealogyDep, body: FollowUpIn, who: Writer) -> FollowUpEvent:
    """Record where the request to one publisher stands (kept with its date). Follow-ups
    are shared records: a registry editor writes them (token, or session and CSRF header)."""
    Registry.require(who, Role.EDITOR)
    return g.rights.follow_up(**body.model_dump())


@router.get("/diff", response_model=Diff, tags=["history"])
def diff(
    g: GenealogyDep,
    since: Annotated[str, Query(description="ISO date: compare its snapshots with now.")],
    id: Annotated[str | None, Query(description="Only this model's family.")] = None,
    source: Annotated[
        str | None, Query(description="Only this source's snapshots, e.g. hub-api:ID.")
    ] = None,
) -> Diff:
    """Models that appeared, disappeared or changed parents since ``since``."""
    return g.rights.diff(since, id, source=source)


@router.get("/watch", response_model=list[Watch], tags=["history"])
def watch_list(g: GenealogyDep) -> list[Watch]:
    """The watched models and data sets and their last check (change it with the CLI)."""
    return g.rights.watch.list()
