"""Where a model recorded automatically (a scan, a training run) comes from, in the registry.

A scan or a training callback names a parent by a string: a Hub id, a local path, a name.
When the string is a Hub model that the genealogy knows, the parent is the registered model
that carries that Hub id (registered on the way when there is none), so that the new model's
ancestry continues into the public genealogy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from filiation.domain import NodeKind
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.store import schema

from .models import DATASET_MAX, User, parse_model

if TYPE_CHECKING:
    from .service import Registry


def known_hub_id(reg: Registry, node_id: str) -> str | None:
    """The Hub id as published when the genealogy knows ``node_id`` as a model, else None."""
    try:
        return reg.g.resolve(node_id.strip(), NodeKind.MODEL)
    except (NodeNotFoundError, InvalidArgumentError):
        return None


def by_name(conn: Connection, name: str) -> Mapping[str, Any] | None:
    m = schema.registry_models
    return conn.execute(select(m).where(m.c.key == name.strip().lower())).mappings().first()


def hub_model(
    reg: Registry, conn: Connection, hub_id: str, actor: User
) -> tuple[Mapping[str, Any], bool]:
    """The registered model that is the Hub model ``hub_id`` (published spelling), and
    whether it was created now: an existing one carrying that Hub id is reused, else one
    named after the Hub id is registered (``<id> (Hub)`` if a model already has that name)."""
    m = schema.registry_models
    row = (
        conn.execute(
            select(m).where(func.lower(m.c.hub_id) == hub_id.lower()).order_by(m.c.id).limit(1)
        )
        .mappings()
        .first()
    )
    if row is not None:
        return row, False
    name = hub_id if by_name(conn, hub_id) is None else f"{hub_id} (Hub)"
    new_id = reg.insert_model_in(
        conn, parse_model({"name": name, "hub_id": hub_id, "open_weights": False}), actor
    )
    return conn.execute(select(m).where(m.c.id == new_id)).mappings().one(), True


def dataset_ids(names: Iterable[str]) -> list[str]:
    """The names usable as registry data set ids (one token, not too long), in order; the
    others stay in the scan or the training run's own record."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        name = str(name).strip()
        usable = name and len(name) <= DATASET_MAX and name.isprintable()
        if usable and not any(c.isspace() for c in name) and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def merged_datasets(old: Iterable[str], new: Iterable[str]) -> list[str]:
    return dataset_ids([*old, *new])
