"""What the parts of the registry share: the genealogy and engine they work on, the role
check, and the history entry every write adds.

``log_change`` is part of the registry's write API: the modules that write records on the
registry's behalf (:mod:`.runs`, :mod:`.scanned`, :mod:`.etalab`, :mod:`.origins`) call it,
with the other ``*_in`` methods of :class:`~.records.Records`, inside the transaction they
opened, so that a record and its history entry are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection

from filiation.errors import AuthenticationError, PermissionDeniedError
from filiation.store import schema

from .models import Role, User

if TYPE_CHECKING:
    from filiation.service import Genealogy

Ref = int | str


def utc_now() -> datetime:
    """The time a registry row records: UTC, naive, to the second."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def row_fields(row: Mapping[str, Any], *json_columns: str) -> dict[str, Any]:
    """A row of ``registry_history`` or ``registry_training_runs`` as its record's fields: the
    acting user's column ``user_name`` is the field ``user`` and the JSON columns are decoded
    (an empty one is None), the rest taken as it is."""
    fields = dict(row)
    fields["user"] = fields.pop("user_name")
    for column in json_columns:
        fields[column] = orjson.loads(fields[column]) if fields[column] else None
    return fields


class RegistryBase:
    """The registry's state: the genealogy it is linked to and its store's engine."""

    def __init__(self, genealogy: Genealogy) -> None:
        self.g = genealogy
        self.engine = genealogy.store.engine
        self._purged_at = float("-inf")

    def log_change(
        self,
        conn: Connection,
        actor: User | str,
        kind: str,
        key: Ref,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Add the history entry of a change, in the caller's transaction ``conn``."""
        conn.execute(
            schema.registry_history.insert().values(
                at=datetime.now(UTC).replace(tzinfo=None),
                user_name=actor if isinstance(actor, str) else actor.name,
                record_kind=kind,
                record_key=str(key),
                action=action,
                before=_json(before),
                after=_json(after),
            )
        )

    @staticmethod
    def require(actor: User | None, role: Role) -> User:
        if actor is None:
            raise AuthenticationError("log in (or give an API token) to change the registry")
        if not actor.can(role):
            raise PermissionDeniedError(
                f"{actor.name} is {'disabled' if actor.disabled else 'a ' + actor.role.value}; "
                f"this needs the {role.value} role"
            )
        return actor
