"""Record the models a scan of the disk found (``filiation scan PATH --register``).

Each model found becomes (or updates) the registered model named after its scan id
(``local/<folder>``, or the Hub id of a cache snapshot). Its parent is linked when it is
either another model of the same scan or a Hub model known to the genealogy (registered
on the way, or the registered model already carrying that Hub id); the link is marked
*inferred*, with the file and field that said so as evidence. A registered model has one
``derived_from``: for a merge (several parents), the first parent that can be linked is,
and the evidence names every other parent. Nothing is written unless all of it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, Field

from filiation.errors import RegistryValidationError
from filiation.sources.local_folder import FoundLink, FoundModel, ScanResult

from .models import Provenance, User, parse_model
from .origins import by_name, dataset_ids, hub_model, known_hub_id, merged_datasets

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from .service import Registry


class NotRecorded(BaseModel):
    """A model, or a model's link, that was not written, and why."""

    model: str
    parent: str | None = None
    reason: str


class ScanRegistration(BaseModel):
    """What ``register_scan`` did, model by model (registered names)."""

    root: str
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    hub_models: list[str] = Field(
        default=[], description="Hub parents registered on the way (a model with that Hub id)"
    )
    skipped: list[NotRecorded] = []


def register_scan(reg: Registry, result: ScanResult, actor: User) -> ScanRegistration:
    report = ScanRegistration(root=result.root)
    status: dict[str, str] = {}
    ids: dict[str, int] = {}  # scan id (lower case) -> registered model id
    with reg.engine.begin() as conn:
        # First every model found, so that a parent found in the same scan can be named.
        for found in result.models:
            recorded = _record_model(reg, conn, found, actor, report)
            if recorded is not None:
                ids[found.id.lower()], status[found.id] = recorded
        for found in result.models:
            key = found.id.lower()
            if key in ids and _link(reg, conn, found, ids, actor, report):
                status[found.id] = "created" if status[found.id] == "created" else "updated"
    for name, what in status.items():
        getattr(report, what).append(name)
    return report


def _record_model(
    reg: Registry, conn: Connection, found: FoundModel, actor: User, report: ScanRegistration
) -> tuple[int, str] | None:
    hub_id = None if found.local else known_hub_id(reg, found.id)
    datasets = dataset_ids(d.parent for d in found.datasets)
    row = by_name(conn, found.id)
    try:
        if row is None:
            data: dict[str, Any] = {
                "name": found.id,
                "description": f"found on disk by filiation scan: {found.path}",
                "training_datasets": datasets,
                "hub_id": hub_id,
            }
            return reg.insert_model_in(conn, parse_model(data), actor), "created"
        old = orjson.loads(row["training_datasets"] or "[]")
        changed = reg.update_model_in(
            conn, row["id"], {"training_datasets": merged_datasets(old, datasets)}, actor
        )
        return row["id"], "updated" if changed else "unchanged"
    except RegistryValidationError as exc:
        report.skipped.append(NotRecorded(model=found.id, reason=str(exc)))
        return None


def _link(
    reg: Registry,
    conn: Connection,
    found: FoundModel,
    ids: dict[str, int],
    actor: User,
    report: ScanRegistration,
) -> bool:
    """Link the found model to its first parent that can be; True if its record changed."""
    for raw in found.unresolved:
        report.skipped.append(
            NotRecorded(model=found.id, parent=raw, reason="a local path outside the scan")
        )
    if not found.parents:
        return False
    own = reg.model_in(conn, ids[found.id.lower()])
    if own.hub_id:
        report.skipped.append(
            NotRecorded(
                model=found.id,
                parent=", ".join(p.parent for p in found.parents),
                reason=f"a Hub model ({own.hub_id}): its lineage comes from the genealogy",
            )
        )
        return False
    chosen: tuple[FoundLink, str] | None = None
    for link in found.parents:
        target = _parent_name(reg, conn, link, found, ids, actor, report)
        if target is not None:
            chosen = (link, target)
            break
        report.skipped.append(
            NotRecorded(
                model=found.id,
                parent=link.parent,
                reason="neither a Hub model known to the genealogy nor a model of this scan",
            )
        )
    if chosen is None:
        return False
    link, target = chosen
    evidence = "; ".join(link.evidence)
    others = [p for p in found.parents if p is not link]
    if others:
        # The registry keeps one parent: the others stay readable in the evidence.
        evidence += "; other parents: " + ", ".join(
            f"{p.parent} ({p.relation.value}, {'; '.join(p.evidence)})" for p in others
        )
    try:
        return reg.update_model_in(
            conn,
            own.id,
            {
                "derived_from": target,
                "derived_relation": link.relation.value,
                "derived_provenance": Provenance.INFERRED.value,
                "derived_evidence": evidence,
            },
            actor,
        )
    except RegistryValidationError as exc:
        report.skipped.append(NotRecorded(model=found.id, parent=link.parent, reason=str(exc)))
        return False


def _parent_name(
    reg: Registry,
    conn: Connection,
    link: FoundLink,
    found: FoundModel,
    ids: dict[str, int],
    actor: User,
    report: ScanRegistration,
) -> str | None:
    """The registered name of ``link``'s parent, registering a Hub parent if needed."""
    key = link.parent.lower()
    if key in ids and key != found.id.lower():
        return str(reg.model_in(conn, ids[key]).name)
    hub_id = known_hub_id(reg, link.parent)
    if hub_id is None:
        return None
    row, created = hub_model(reg, conn, hub_id, actor)
    if created:
        report.hub_models.append(row["name"])
    return str(row["name"])
