"""The follow-up of rights requests, stored: a dated row per change of state of a publisher.

Rows are only ever added (a correction is a new state), so the history of a request (when
it was sent, answered, refused and on which ground) is kept as evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from filiation.errors import InvalidArgumentError
from filiation.limits import FOLLOWUP_FUTURE_DAYS, FOLLOWUP_PAST_DAYS
from filiation.rights.dossier import FollowUpEvent, Right, Status
from filiation.store import schema
from filiation.store.store import Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _dossier_id(conn: Connection, kind: str, key: str, right: Right) -> int | None:
    t = schema.rights_dossiers
    return conn.execute(
        select(t.c.id).where(t.c.source_kind == kind, t.c.source_key == key, t.c.right == right)
    ).scalar()


def events(store: Store, kind: str, source_id: str, right: Right) -> list[FollowUpEvent]:
    """Every recorded change of state for the dossier of ``source_id`` and ``right``."""
    f = schema.rights_followups
    with store.reading() as conn:
        did = _dossier_id(conn, kind, source_id.lower(), right)
        if did is None:
            return []
        rows = conn.execute(
            select(f.c.publisher, f.c.status, f.c.ground, f.c.note, f.c.at)
            .where(f.c.dossier_id == did)
            .order_by(f.c.at, f.c.id)
        ).all()
    return [
        FollowUpEvent(publisher=p, status=Status(s), ground=g, note=n, at=at)
        for p, s, g, n, at in rows
    ]


def record(
    store: Store,
    kind: str,
    source_id: str,
    right: Right,
    publisher: str,
    status: Status,
    *,
    ground: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> FollowUpEvent:
    """Add a state to a publisher's follow-up (creating the dossier's row the first time)."""
    if status is Status.REFUSED and not (ground and ground.strip()):
        raise InvalidArgumentError(
            "a refusal needs its ground (the publisher's reason, e.g. 'Article 12(5)', "
            "'Article 17(3)(b)'); give it with --ground"
        )
    if len(ground or "") > 500 or len(note or "") > 4000:
        raise InvalidArgumentError("ground (500 characters) or note (4000) too long")
    when = (at.astimezone(UTC).replace(tzinfo=None) if at and at.tzinfo else at) or _now()
    # A state is something that happened: not in 2999, nor before anyone could ask (1970).
    earliest = _now() - timedelta(days=FOLLOWUP_PAST_DAYS)
    latest = _now() + timedelta(days=FOLLOWUP_FUTURE_DAYS)
    if not earliest <= when <= latest:
        raise InvalidArgumentError(
            f"the date of a follow-up must be between {earliest.date()} and {latest.date()}, "
            f"not {when.date()}"
        )
    d, f = schema.rights_dossiers, schema.rights_followups
    for _attempt in range(2):  # a concurrent first follow-up may create the dossier row
        try:
            with store.writing() as conn:
                did = _dossier_id(conn, kind, source_id.lower(), right)
                if did is None:
                    did = conn.execute(
                        d.insert().values(
                            source_kind=kind,
                            source_key=source_id.lower(),
                            source_id=source_id,
                            right=right.value,
                            created_at=_now(),
                        )
                    ).inserted_primary_key[0]
                conn.execute(
                    f.insert().values(
                        dossier_id=did,
                        publisher=publisher,
                        status=status.value,
                        ground=ground.strip() if ground else None,
                        note=note,
                        at=when,
                    )
                )
            break
        except IntegrityError:
            continue
    return FollowUpEvent(publisher=publisher, status=status, ground=ground, note=note, at=when)
