"""The watch list: models and data sets someone follows, and what a check last saw.

Someone who asked for erasure wants to know when a new derivative of the model appears.
A watch stores the descendants seen at its last check; ``check`` reports the ones that are
new since, then stores the new set. Posting the report to a URL (a webhook) happens before
the state is stored, so a failed post reports the same models again next time.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from filiation.errors import InvalidArgumentError, SourceError
from filiation.store import schema
from filiation.store.store import Store


class Watch(BaseModel):
    id: str
    kind: str
    added_at: datetime
    checked_at: datetime | None = None
    known: int = Field(0, description="descendants seen at the last check")


class NewDescendant(BaseModel):
    id: str
    author: str | None = None
    depth: int
    relation: str | None = None
    via: str | None = None


class WatchReport(BaseModel):
    id: str
    kind: str
    since: datetime | None
    new: list[NewDescendant]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def add(store: Store, kind: str, node_id: str, known: list[str]) -> Watch:
    t = schema.watches
    now = _now()
    try:
        with store.writing() as conn:
            conn.execute(
                t.insert().values(
                    kind=kind,
                    key=node_id.lower(),
                    node_id=node_id,
                    added_at=now,
                    checked_at=now,
                    known=json.dumps(sorted(known)),
                )
            )
    except IntegrityError:
        raise InvalidArgumentError(f"{node_id} is already watched") from None
    return Watch(id=node_id, kind=kind, added_at=now, checked_at=now, known=len(known))


def remove(store: Store, node_id: str) -> None:
    t = schema.watches
    with store.writing() as conn:
        gone = conn.execute(t.delete().where(t.c.key == node_id.strip().lower())).rowcount
    if not gone:
        raise InvalidArgumentError(f"{node_id} is not watched; see `filiation watch list`")


def rows(store: Store) -> list[tuple[Watch, set[str]]]:
    t = schema.watches
    with store.reading() as conn:
        found = conn.execute(
            select(t.c.node_id, t.c.kind, t.c.added_at, t.c.checked_at, t.c.known).order_by(t.c.id)
        ).all()
    out = []
    for node_id, kind, added, checked, known in found:
        seen = set(json.loads(known)) if known else set()
        out.append(
            (
                Watch(id=node_id, kind=kind, added_at=added, checked_at=checked, known=len(seen)),
                seen,
            )
        )
    return out


def save_check(store: Store, node_id: str, known: list[str], at: datetime) -> None:
    t = schema.watches
    with store.writing() as conn:
        conn.execute(
            t.update()
            .where(t.c.key == node_id.lower())
            .values(checked_at=at, known=json.dumps(sorted(known)))
        )


def post(url: str, reports: list[WatchReport], at: datetime, timeout: float = 20) -> None:
    """POST the check as JSON to ``url``; any failure is one clear error."""
    if not url.startswith(("http://", "https://")):
        raise InvalidArgumentError(f"--post needs an http(s) URL, not {url!r}")
    body: dict[str, Any] = {
        "checked_at": at.isoformat(),
        "watches": [r.model_dump(mode="json") for r in reports],
    }
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "filiation"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise SourceError(
            f"{url} answered {exc.code} to the watch report; nothing was marked as seen"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(
            f"cannot post the watch report to {url} ({reason}); nothing was marked as seen"
        ) from None
