"""The registry's one entry point, :class:`Registry` (``Genealogy.registry``).

Every write takes the acting :class:`User`, checks their role, and commits the change and
its history entry in one transaction: a refused or failed write leaves nothing behind.
Records are never deleted (retiring marks them). Reads are plain queries; the registry is an
organisation's inventory (hundreds or thousands of rows), so records are assembled in Python.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from filiation.domain import NodeKind
from filiation.errors import NodeNotFoundError
from filiation.store import schema

from . import auth
from .errors import (
    AuthenticationError,
    FieldProblem,
    LoginThrottledError,
    PermissionDeniedError,
    RecordNotFoundError,
    RegistryValidationError,
)
from .models import (
    MODEL_FIELDS,
    AISystem,
    FlaggedDataset,
    HistoryEntry,
    RegisteredModel,
    Role,
    SystemStatus,
    TokenInfo,
    TrainingRun,
    Use,
    User,
    parse_model,
    parse_role,
    parse_system,
    parse_usage,
    parse_user_name,
)

if TYPE_CHECKING:
    from filiation.service import Genealogy
    from filiation.sources.local_folder import ScanResult

    from .etalab import ImportReport
    from .impact import ModelAncestry, RegistryImpact
    from .scanned import ScanRegistration

SESSION_HOURS = 12
#: Expired and closed sessions are deleted at most this often (seconds, per process).
PURGE_SECONDS = 60.0
Ref = int | str


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


#: Failed logins are counted over this window (minutes: FILIATION_LOGIN_WINDOW_MINUTES)...
LOGIN_WINDOW_MINUTES = _env_int("FILIATION_LOGIN_WINDOW_MINUTES", 15)
#: ...per user name as typed (FILIATION_LOGIN_FAILURES_PER_NAME)...
LOGIN_FAILURES_PER_NAME = _env_int("FILIATION_LOGIN_FAILURES_PER_NAME", 5)
#: ...and per client address, across names (FILIATION_LOGIN_FAILURES_PER_CLIENT).
LOGIN_FAILURES_PER_CLIENT = _env_int("FILIATION_LOGIN_FAILURES_PER_CLIENT", 50)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class Registry:
    """An organisation's AI systems and models, linked to the genealogy of ``genealogy``."""

    def __init__(self, genealogy: Genealogy) -> None:
        self.g = genealogy
        self.engine = genealogy.store.engine
        self._purged_at = float("-inf")

    # -- history ------------------------------------------------------------------------
    def _log(
        self,
        conn: Connection,
        actor: User | str,
        kind: str,
        key: Ref,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
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

    def history(self, kind: str | None = None, ref: Ref | None = None) -> list[HistoryEntry]:
        """Every change, oldest first; of one record when ``kind`` and ``ref`` are given."""
        h = schema.registry_history
        q = select(h).order_by(h.c.id)
        if kind is not None:
            q = q.where(h.c.record_kind == kind)
            if ref is not None:
                key = ref
                if kind == "model":
                    key = self.model(ref).id
                elif kind == "system":
                    key = self.system(ref).id
                elif kind == "dataset":
                    key = str(ref).lower()
                q = q.where(h.c.record_key == str(key))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            HistoryEntry(
                id=r["id"],
                at=r["at"],
                user=r["user_name"],
                record_kind=r["record_kind"],
                record_key=r["record_key"],
                action=r["action"],
                before=orjson.loads(r["before"]) if r["before"] else None,
                after=orjson.loads(r["after"]) if r["after"] else None,
            )
            for r in rows
        ]

    # -- users, tokens, sessions ----------------------------------------------------------
    @staticmethod
    def _user(row: Mapping[str, Any]) -> User:
        return User(
            id=row["id"],
            name=row["name"],
            role=Role(row["role"]),
            created_at=row["created_at"],
            disabled=row["disabled_at"] is not None,
        )

    def users(self) -> list[User]:
        u = schema.registry_users
        with self.engine.connect() as conn:
            return [self._user(r) for r in conn.execute(select(u).order_by(u.c.name)).mappings()]

    def user(self, name: str) -> User:
        u = schema.registry_users
        with self.engine.connect() as conn:
            row = conn.execute(select(u).where(u.c.name == name)).mappings().first()
        if row is None:
            raise RecordNotFoundError(
                f"no registry user {name!r}; an admin adds one with "
                "`filiation registry user add NAME --role editor`"
            )
        return self._user(row)

    def actor(self, name: str) -> User:
        """The user the CLI acts as (``--user``): must exist and not be disabled."""
        try:
            user = self.user(name)
        except RecordNotFoundError:
            raise AuthenticationError(
                f"{name!r} is not a registry user: give --user NAME (or FILIATION_USER), or "
                "create the first admin with `filiation registry user add NAME --role admin`"
            ) from None
        if user.disabled:
            raise AuthenticationError(f"registry user {name!r} is disabled")
        return user

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

    def add_user(self, name: str, role: str, password: str | None, *, actor: User | None) -> User:
        """Add a user. The first user of a registry can only be an admin, added by anyone
        with access to the store (the CLI); afterwards only admins add users."""
        name = parse_user_name(name)
        role_ = parse_role(role)
        digest = auth.hash_password(password) if password is not None else None
        u = schema.registry_users
        with self.engine.begin() as conn:
            first = conn.execute(select(u.c.id).limit(1)).first() is None
            if first:
                if role_ is not Role.ADMIN:
                    raise PermissionDeniedError(
                        "the registry has no user yet: the first one must be an admin "
                        "(--role admin)"
                    )
                who: User | str = actor or name
            else:
                who = self.require(actor, Role.ADMIN)
            if conn.execute(select(u.c.id).where(u.c.name == name)).first():
                raise RegistryValidationError(
                    {"name": FieldProblem("taken", "a user has this name")}, "user"
                )
            conn.execute(
                u.insert().values(
                    name=name, role=role_.value, password_hash=digest, created_at=_now()
                )
            )
            self._log(conn, who, "user", name, "create", None, {"role": role_.value})
        return self.user(name)

    def set_role(self, name: str, role: str, *, actor: User | None) -> User:
        self.require(actor, Role.ADMIN)
        role_ = parse_role(role)
        before = self.user(name)
        u = schema.registry_users
        with self.engine.begin() as conn:
            conn.execute(update(u).where(u.c.name == name).values(role=role_.value))
            self._log(
                conn,
                actor,
                "user",
                name,
                "update",
                {"role": before.role.value},
                {"role": role_.value},
            )  # type: ignore[arg-type]
        return self.user(name)

    def set_password(self, name: str, password: str, *, actor: User | None) -> None:
        actor = self.require(actor, Role.VIEWER)
        if actor.name != name:
            self.require(actor, Role.ADMIN)
        self.user(name)
        digest = auth.hash_password(password)
        u = schema.registry_users
        with self.engine.begin() as conn:
            conn.execute(update(u).where(u.c.name == name).values(password_hash=digest))
            self._log(conn, actor, "user", name, "password", None, None)

    def disable_user(self, name: str, *, actor: User | None) -> User:
        """Disable a user (never deleted: their name stays in the history) and revoke
        their tokens and sessions."""
        actor = self.require(actor, Role.ADMIN)
        user = self.user(name)
        u, t = schema.registry_users, schema.registry_tokens
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(update(u).where(u.c.id == user.id).values(disabled_at=now))
            conn.execute(
                update(t)
                .where(t.c.user_id == user.id, t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self._log(conn, actor, "user", name, "disable", {"disabled": False}, {"disabled": True})
        return self.user(name)

    def authenticate(self, name: str, password: str, *, client: str | None = None) -> User:
        """The user, if ``password`` is theirs. Each failure is written to the history (kind
        ``login``, action ``failed``: the name as typed, the client's address, never the
        password); after :data:`LOGIN_FAILURES_PER_NAME` failures for a name, or
        :data:`LOGIN_FAILURES_PER_CLIENT` from an address, within
        :data:`LOGIN_WINDOW_MINUTES`, further attempts are refused without checking the
        password and without being written, so that guessing is slow and the history does
        not grow with an attack. The counts are in the database: every ``serve`` worker
        sees them."""
        typed = (name or "").strip()[:64]
        where = (client or "unknown")[:300]
        h = schema.registry_history
        now = _now()
        since = now - timedelta(minutes=LOGIN_WINDOW_MINUTES)
        failures = select(func.count(), func.min(h.c.at)).where(
            h.c.record_kind == "login", h.c.action == "failed", h.c.at >= since
        )
        u = schema.registry_users
        with self.engine.connect() as conn:
            for count, oldest, limit in (
                (
                    *conn.execute(failures.where(h.c.user_name == typed)).one(),
                    LOGIN_FAILURES_PER_NAME,
                ),
                (
                    *conn.execute(failures.where(h.c.record_key == where)).one(),
                    LOGIN_FAILURES_PER_CLIENT,
                ),
            ):
                if count >= limit:
                    left = math.ceil((oldest - since).total_seconds())
                    wait = min(LOGIN_WINDOW_MINUTES * 60, max(1, left))
                    raise LoginThrottledError(
                        f"too many failed logins lately; try again in {wait} seconds", wait
                    )
            row = conn.execute(select(u).where(u.c.name == name)).mappings().first()
        ok = auth.check_password(row["password_hash"] if row else None, password or "")
        if row is None or not ok or row["disabled_at"] is not None:
            with self.engine.begin() as conn:
                self._log(conn, typed or "-", "login", where, "failed", None, {"client": where})
            raise AuthenticationError("unknown user or wrong password")
        return self._user(row)

    def create_token(self, user_name: str, label: str | None, *, actor: User | None) -> str:
        """A new API token for ``user_name`` (themselves, or anyone for an admin). The token
        is returned once; only its digest is kept."""
        actor = self.require(actor, Role.VIEWER)
        if actor.name != user_name:
            self.require(actor, Role.ADMIN)
        user = self.user(user_name)
        token = auth.new_token()
        with self.engine.begin() as conn:
            conn.execute(
                schema.registry_tokens.insert().values(
                    user_id=user.id,
                    kind="api",
                    name=label,
                    digest=auth.digest(token),
                    created_at=_now(),
                )
            )
            self._log(conn, actor, "user", user_name, "token", None, {"token": label})
        return token

    def tokens(self, user_name: str | None = None) -> list[TokenInfo]:
        t, u = schema.registry_tokens, schema.registry_users
        q = (
            select(t.c.id, u.c.name.label("user"), t.c.name, t.c.created_at, t.c.revoked_at)
            .join(u, u.c.id == t.c.user_id)
            .where(t.c.kind == "api")
            .order_by(t.c.id)
        )
        if user_name is not None:
            q = q.where(u.c.name == user_name)
        with self.engine.connect() as conn:
            return [TokenInfo(**r) for r in conn.execute(q).mappings()]

    def revoke_token(self, token_id: int, *, actor: User | None) -> None:
        actor = self.require(actor, Role.VIEWER)
        info = next((i for i in self.tokens() if i.id == token_id), None)
        if info is None:
            raise RecordNotFoundError(f"no API token number {token_id}")
        if info.user != actor.name:
            self.require(actor, Role.ADMIN)
        t = schema.registry_tokens
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == token_id).values(revoked_at=_now()))
            self._log(conn, actor, "user", info.user, "revoke", {"token": info.name}, None)

    def _by_secret(self, secret: str, kind: str) -> tuple[User, str | None] | None:
        t, u = schema.registry_tokens, schema.registry_users
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(u, t.c.csrf, t.c.expires_at)
                    .join(t, t.c.user_id == u.c.id)
                    .where(
                        t.c.digest == auth.digest(secret),
                        t.c.kind == kind,
                        t.c.revoked_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )
        if row is None or row["disabled_at"] is not None:
            return None
        if row["expires_at"] is not None and row["expires_at"] < _now():
            return None
        return self._user(row), row["csrf"]

    def user_for_token(self, token: str) -> User:
        found = self._by_secret(token, "api")
        if found is None:
            raise AuthenticationError("unknown or revoked API token")
        return found[0]

    def open_session(self, user: User) -> tuple[str, str]:
        """A web session: (session secret for the cookie, CSRF token for its forms)."""
        secret, csrf = auth.new_token("s_"), auth.new_token("c_")
        with self.engine.begin() as conn:
            self._purge_sessions(conn)
            conn.execute(
                schema.registry_tokens.insert().values(
                    user_id=user.id,
                    kind="session",
                    digest=auth.digest(secret),
                    csrf=csrf,
                    created_at=_now(),
                    expires_at=_now() + timedelta(hours=SESSION_HOURS),
                )
            )
        return secret, csrf

    def _purge_sessions(self, conn: Connection) -> None:
        """Delete sessions that expired or were closed: their digests open nothing any more
        (logins and logouts stay in the history). At most once a minute per process, when a
        session is opened. API tokens are kept, revoked or not: `registry token list`
        shows them."""
        clock = time.monotonic()
        if clock - self._purged_at < PURGE_SECONDS:
            return
        self._purged_at = clock
        t = schema.registry_tokens
        conn.execute(
            t.delete().where(
                t.c.kind == "session", or_(t.c.expires_at < _now(), t.c.revoked_at.is_not(None))
            )
        )

    def session(self, secret: str) -> tuple[User, str] | None:
        found = self._by_secret(secret, "session")
        return (found[0], found[1] or "") if found else None

    def close_session(self, secret: str) -> None:
        t = schema.registry_tokens
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.digest == auth.digest(secret), t.c.kind == "session")
                .values(revoked_at=_now())
            )

    # -- models ---------------------------------------------------------------------------
    def _model_rows(self, conn: Connection) -> dict[int, dict[str, Any]]:
        m = schema.registry_models
        return {r["id"]: dict(r) for r in conn.execute(select(m).order_by(m.c.id)).mappings()}

    def _uses(
        self, conn: Connection, *, system_id: int | None = None, model_id: int | None = None
    ) -> list[Use]:
        us, s, m = schema.registry_uses, schema.registry_systems, schema.registry_models
        q = (
            select(
                us.c.system_id,
                s.c.name.label("system"),
                us.c.model_id,
                m.c.name.label("model"),
                us.c.usage,
                m.c.hub_id.label("model_hub_id"),
                s.c.status.label("system_status"),
            )
            .join(s, s.c.id == us.c.system_id)
            .join(m, m.c.id == us.c.model_id)
            .where(us.c.removed_at.is_(None))
            .order_by(s.c.key, m.c.key)
        )
        if system_id is not None:
            q = q.where(us.c.system_id == system_id)
        if model_id is not None:
            q = q.where(us.c.model_id == model_id)
        return [Use(**r) for r in conn.execute(q).mappings()]

    @staticmethod
    def _as_model(row: Mapping[str, Any], rows: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
        parent = rows.get(row["derived_from"]) if row["derived_from"] is not None else None
        out = {k: row[k] for k in row.keys() if k not in ("key", "derived_from")}  # noqa: SIM118
        out["training_datasets"] = orjson.loads(row["training_datasets"] or "[]")
        out["updated_on"] = row["updated_on"].date() if row["updated_on"] else None
        out["derived_from"] = parent["name"] if parent else None
        return out

    def models(self, *, include_retired: bool = False) -> list[RegisteredModel]:
        with self.engine.connect() as conn:
            rows = self._model_rows(conn)
            uses = self._uses(conn)
        by_model: dict[int, list[Use]] = {}
        for use in uses:
            by_model.setdefault(use.model_id, []).append(use)
        out = [
            RegisteredModel(**self._as_model(r, rows), used_by=by_model.get(i, []))
            for i, r in rows.items()
            if include_retired or r["retired_at"] is None
        ]
        return sorted(out, key=lambda m: m.name.lower())

    def _find(self, conn: Connection, table: Any, ref: Ref, what: str) -> dict[str, Any]:
        if isinstance(ref, int) or (
            isinstance(ref, str) and ref.startswith("#") and ref[1:].isdigit()
        ):
            number = ref if isinstance(ref, int) else int(ref[1:])
            row = conn.execute(select(table).where(table.c.id == number)).mappings().first()
        else:
            key = str(ref).strip().lower()
            row = conn.execute(select(table).where(table.c.key == key)).mappings().first()
        if row is None:
            raise RecordNotFoundError(
                f"no registered {what} {ref!r}; `filiation registry {what}s` lists them"
            )
        return dict(row)

    def model(self, ref: Ref) -> RegisteredModel:
        """A registered model by number (int or ``#12``) or by name (any case)."""
        with self.engine.connect() as conn:
            row = self._find(conn, schema.registry_models, ref, "model")
            record = self._model_in(conn, row["id"])
            uses = self._uses(conn, model_id=row["id"])
        return record.model_copy(update={"used_by": uses})

    def _check_model(
        self, conn: Connection, clean: dict[str, Any], own_id: int | None
    ) -> dict[str, Any]:
        """Checks against the database and the genealogy; returns the row's values."""
        problems: dict[str, FieldProblem] = {}
        m = schema.registry_models
        key = (clean["name"] or "").lower()
        taken = conn.execute(select(m.c.id).where(m.c.key == key)).scalar() if key else None
        if taken is not None and taken != own_id:
            problems["name"] = FieldProblem("taken", "a registered model has this name")
        hub_id = clean["hub_id"]
        if hub_id:
            try:
                hub_id = self.g.resolve(hub_id, NodeKind.MODEL)
            except NodeNotFoundError as exc:
                problems["hub_id"] = FieldProblem(
                    "hub_unknown",
                    str(exc),
                    suggestions=", ".join(exc.suggestions),
                )
        parent_id = None
        if clean["derived_from"]:
            parent_id = conn.execute(
                select(m.c.id).where(m.c.key == clean["derived_from"].lower())
            ).scalar()
            if parent_id is None:
                problems["derived_from"] = FieldProblem(
                    "model_unknown", "no registered model has this name"
                )
            elif own_id is not None:
                rows = self._model_rows(conn)
                seen, cur = set(), parent_id
                while cur is not None and cur not in seen:
                    if cur == own_id:
                        problems["derived_from"] = FieldProblem(
                            "cycle", "a model cannot derive from itself or its own descendants"
                        )
                        break
                    seen.add(cur)
                    cur = rows[cur]["derived_from"]
        if problems:
            raise RegistryValidationError(problems, "model")
        values = {k: clean[k] for k in MODEL_FIELDS if k not in ("derived_from",)}
        values.update(
            key=key,
            hub_id=hub_id,
            derived_from=parent_id,
            # A derivation someone typed is declared; scans and callbacks say otherwise.
            derived_provenance=(clean.get("derived_provenance") or "declared")
            if parent_id is not None
            else None,
            derived_evidence=clean.get("derived_evidence") if parent_id is not None else None,
            training_datasets=orjson.dumps(clean["training_datasets"]).decode(),
            updated_on=(
                datetime.combine(clean["updated_on"], datetime.min.time())
                if clean["updated_on"]
                else None
            ),
        )
        return values

    @staticmethod
    def _snapshot(record: RegisteredModel | AISystem) -> dict[str, Any]:
        return record.model_dump(mode="json", include=set(record.fields()))

    def _parse_model(
        self, conn: Connection, data: Mapping[str, Any], own_id: int | None
    ) -> dict[str, Any]:
        """:func:`parse_model`; when it fails, the database checks of the fields that passed
        are reported too, so that a form shows every problem at once."""
        try:
            return parse_model(data)
        except RegistryValidationError as exc:
            if exc.partial is None:
                raise
            try:
                self._check_model(conn, exc.partial, own_id)
            except RegistryValidationError as more:
                fields = dict(exc.fields)
                for name, problem in more.fields.items():
                    fields.setdefault(name, problem)
                raise RegistryValidationError(fields, "model") from None
            raise

    def create_model(self, data: Mapping[str, Any], *, actor: User | None) -> RegisteredModel:
        actor = self.require(actor, Role.EDITOR)
        with self.engine.begin() as conn:
            clean = self._parse_model(conn, data, None)
            new_id = self._insert_model(conn, clean, actor)
        return self.model(new_id)

    def _insert_model(self, conn: Connection, clean: dict[str, Any], actor: User) -> int:
        values = self._check_model(conn, clean, None)
        try:
            new_id = conn.execute(
                schema.registry_models.insert().values(**values, created_at=_now())
            ).inserted_primary_key[0]
        except IntegrityError:
            raise RegistryValidationError(
                {"name": FieldProblem("taken", "a registered model has this name")}, "model"
            ) from None
        after = self._model_in(conn, new_id)
        self._log(conn, actor, "model", new_id, "create", None, self._snapshot(after))
        return int(new_id)

    def _model_in(self, conn: Connection, model_id: int) -> RegisteredModel:
        """One model, reading only its row and its parent's (imports call this per row)."""
        m = schema.registry_models
        row = conn.execute(select(m).where(m.c.id == model_id)).mappings().one()
        rows = {model_id: row}
        if row["derived_from"] is not None:
            parent = conn.execute(select(m).where(m.c.id == row["derived_from"])).mappings().one()
            rows[parent["id"]] = parent
        return RegisteredModel(**self._as_model(row, rows))

    def update_model(
        self, ref: Ref, changes: Mapping[str, Any], *, actor: User | None
    ) -> RegisteredModel:
        """Change some fields (the others keep their values)."""
        actor = self.require(actor, Role.EDITOR)
        with self.engine.begin() as conn:
            row = self._find(conn, schema.registry_models, ref, "model")
            self._update_model(conn, row["id"], changes, actor)
        return self.model(row["id"])

    def _update_model(
        self, conn: Connection, model_id: int, changes: Mapping[str, Any], actor: User
    ) -> bool:
        before = self._model_in(conn, model_id)
        merged = {**before.fields(), **changes}
        link = (
            str(merged.get("derived_from") or "").strip().lower(),
            merged.get("derived_relation"),
        )
        if link == ((before.derived_from or "").lower(), before.derived_relation):
            # The same derivation: how it is known stays unless the change says otherwise.
            for field in ("derived_provenance", "derived_evidence"):
                if not changes.get(field):
                    merged[field] = getattr(before, field)
        else:
            # A new derivation without its provenance is the word of whoever made the change.
            for field in ("derived_provenance", "derived_evidence"):
                if not changes.get(field):
                    merged[field] = None
        clean = self._parse_model(conn, merged, model_id)
        values = self._check_model(conn, clean, model_id)
        m = schema.registry_models
        conn.execute(update(m).where(m.c.id == model_id).values(**values))
        after = self._model_in(conn, model_id)
        if self._snapshot(after) == self._snapshot(before):
            return False
        self._log(
            conn, actor, "model", model_id, "update", self._snapshot(before), self._snapshot(after)
        )
        return True

    def retire_model(self, ref: Ref, *, actor: User | None) -> RegisteredModel:
        """Retire (never delete): the model leaves the lists, its record and history stay."""
        actor = self.require(actor, Role.EDITOR)
        m = schema.registry_models
        with self.engine.begin() as conn:
            row = self._find(conn, m, ref, "model")
            if row["retired_at"] is None:
                conn.execute(update(m).where(m.c.id == row["id"]).values(retired_at=_now()))
                self._log(
                    conn, actor, "model", row["id"], "retire", {"retired": False}, {"retired": True}
                )
        return self.model(row["id"])

    # -- systems --------------------------------------------------------------------------
    def _as_system(self, row: Mapping[str, Any], uses: list[Use]) -> AISystem:
        return AISystem(**{k: row[k] for k in row.keys() if k != "key"}, uses=uses)  # noqa: SIM118

    def systems(self, *, include_retired: bool = False) -> list[AISystem]:
        s = schema.registry_systems
        with self.engine.connect() as conn:
            rows = conn.execute(select(s).order_by(s.c.key)).mappings().all()
            uses = self._uses(conn)
        by_system: dict[int, list[Use]] = {}
        for use in uses:
            by_system.setdefault(use.system_id, []).append(use)
        return [
            self._as_system(r, by_system.get(r["id"], []))
            for r in rows
            if include_retired or r["retired_at"] is None
        ]

    def system(self, ref: Ref) -> AISystem:
        with self.engine.connect() as conn:
            row = self._find(conn, schema.registry_systems, ref, "system")
            return self._as_system(row, self._uses(conn, system_id=row["id"]))

    def _system_taken(self, conn: Connection, name: str, own_id: int | None) -> None:
        s = schema.registry_systems
        taken = conn.execute(select(s.c.id).where(s.c.key == name.lower())).scalar()
        if taken is not None and taken != own_id:
            raise RegistryValidationError(
                {"name": FieldProblem("taken", "a system has this name")}, "system"
            )

    def create_system(self, data: Mapping[str, Any], *, actor: User | None) -> AISystem:
        actor = self.require(actor, Role.EDITOR)
        clean = parse_system(data)
        s = schema.registry_systems
        with self.engine.begin() as conn:
            self._system_taken(conn, clean["name"], None)
            retired = _now() if clean["status"] == SystemStatus.RETIRED else None
            try:
                new_id = conn.execute(
                    s.insert().values(
                        **clean, key=clean["name"].lower(), created_at=_now(), retired_at=retired
                    )
                ).inserted_primary_key[0]
            except IntegrityError:  # created by another request since the check
                raise RegistryValidationError(
                    {"name": FieldProblem("taken", "a system has this name")}, "system"
                ) from None
            row = self._find(conn, s, int(new_id), "system")
            self._log(
                conn,
                actor,
                "system",
                new_id,
                "create",
                None,
                self._snapshot(self._as_system(row, [])),
            )
        return self.system(int(new_id))

    def update_system(
        self, ref: Ref, changes: Mapping[str, Any], *, actor: User | None
    ) -> AISystem:
        actor = self.require(actor, Role.EDITOR)
        s = schema.registry_systems
        with self.engine.begin() as conn:
            row = self._find(conn, s, ref, "system")
            before = self._as_system(row, [])
            clean = parse_system({**before.fields(), **changes})
            self._system_taken(conn, clean["name"], row["id"])
            retired = row["retired_at"]
            if clean["status"] == SystemStatus.RETIRED and retired is None:
                retired = _now()
            elif clean["status"] != SystemStatus.RETIRED:
                retired = None
            conn.execute(
                update(s)
                .where(s.c.id == row["id"])
                .values(**clean, key=clean["name"].lower(), retired_at=retired)
            )
            after = self._as_system(self._find(conn, s, row["id"], "system"), [])
            if self._snapshot(after) != self._snapshot(before):
                self._log(
                    conn,
                    actor,
                    "system",
                    row["id"],
                    "update",
                    self._snapshot(before),
                    self._snapshot(after),
                )
        return self.system(row["id"])

    def retire_system(self, ref: Ref, *, actor: User | None) -> AISystem:
        return self.update_system(ref, {"status": SystemStatus.RETIRED.value}, actor=actor)

    def attach(self, system: Ref, model: Ref, usage: str, *, actor: User | None) -> AISystem:
        """The system uses the model, for ``usage`` (how the model serves the system);
        attaching again changes the usage description."""
        actor = self.require(actor, Role.EDITOR)
        usage = parse_usage(usage)
        us = schema.registry_uses
        with self.engine.begin() as conn:
            s_row = self._find(conn, schema.registry_systems, system, "system")
            m_row = self._find(conn, schema.registry_models, model, "model")
            if m_row["retired_at"] is not None:
                raise RegistryValidationError(
                    {"model": FieldProblem("retired", "this model is retired")}, "use"
                )
            old = (
                conn.execute(
                    select(us).where(us.c.system_id == s_row["id"], us.c.model_id == m_row["id"])
                )
                .mappings()
                .first()
            )
            before = (
                {"model": m_row["name"], "usage": old["usage"]}
                if old and old["removed_at"] is None
                else None
            )
            if old is None:
                conn.execute(
                    us.insert().values(system_id=s_row["id"], model_id=m_row["id"], usage=usage)
                )
            else:
                conn.execute(
                    update(us)
                    .where(us.c.system_id == s_row["id"], us.c.model_id == m_row["id"])
                    .values(usage=usage, removed_at=None)
                )
            after = {"model": m_row["name"], "usage": usage}
            if before != after:
                self._log(conn, actor, "system", s_row["id"], "attach", before, after)
        return self.system(s_row["id"])

    def detach(self, system: Ref, model: Ref, *, actor: User | None) -> AISystem:
        actor = self.require(actor, Role.EDITOR)
        us = schema.registry_uses
        with self.engine.begin() as conn:
            s_row = self._find(conn, schema.registry_systems, system, "system")
            m_row = self._find(conn, schema.registry_models, model, "model")
            old = (
                conn.execute(
                    select(us).where(
                        us.c.system_id == s_row["id"],
                        us.c.model_id == m_row["id"],
                        us.c.removed_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )
            if old is None:
                raise RecordNotFoundError(
                    f"system {s_row['name']!r} does not use model {m_row['name']!r}"
                )
            conn.execute(
                update(us)
                .where(us.c.system_id == s_row["id"], us.c.model_id == m_row["id"])
                .values(removed_at=_now())
            )
            self._log(
                conn,
                actor,
                "system",
                s_row["id"],
                "detach",
                {"model": m_row["name"], "usage": old["usage"]},
                None,
            )
        return self.system(s_row["id"])

    # -- data sets ------------------------------------------------------------------------
    def flag_dataset(
        self,
        dataset: str,
        *,
        personal_data: bool = True,
        note: str | None = None,
        actor: User | None,
    ) -> FlaggedDataset:
        """Record whether a data set contains personal data (a Hub id or an internal name)."""
        actor = self.require(actor, Role.EDITOR)
        clean = parse_model({"name": "x", "training_datasets": [dataset]})["training_datasets"]
        if len(clean) != 1:
            raise RegistryValidationError(
                {"dataset": FieldProblem("required", "give a data set id")}, "data set"
            )
        try:
            shown = self.g.resolve(clean[0], NodeKind.DATASET)
        except NodeNotFoundError:
            shown = clean[0]  # an internal data set the public genealogy does not know
        d = schema.registry_datasets
        key = shown.lower()
        with self.engine.begin() as conn:
            old = conn.execute(select(d).where(d.c.key == key)).mappings().first()
            before = {"personal_data": old["personal_data"], "note": old["note"]} if old else None
            after = {"personal_data": personal_data, "note": note}
            if old is None:
                conn.execute(
                    d.insert().values(key=key, id=shown, personal_data=personal_data, note=note)
                )
            else:
                conn.execute(
                    update(d).where(d.c.key == key).values(personal_data=personal_data, note=note)
                )
            if before != after:
                self._log(conn, actor, "dataset", key, "flag", before, after)
        return FlaggedDataset(id=shown, personal_data=personal_data, note=note)

    def datasets(self) -> list[FlaggedDataset]:
        d = schema.registry_datasets
        with self.engine.connect() as conn:
            rows = conn.execute(select(d).order_by(d.c.key)).mappings().all()
        return [
            FlaggedDataset(id=r["id"], personal_data=r["personal_data"], note=r["note"])
            for r in rows
        ]

    def personal_datasets(self) -> set[str]:
        """Lower-cased ids of the data sets flagged as containing personal data."""
        return {d.id.lower() for d in self.datasets() if d.personal_data}

    # -- impact, ancestry, Etalab ---------------------------------------------------------
    def impact(self, *, model: str | None = None, dataset: str | None = None) -> RegistryImpact:
        """Which of our systems rely, directly or through any ancestor, on ``model`` (a
        registered name or a Hub id) or on ``dataset``."""
        from .impact import impact

        return impact(self, model=model, dataset=dataset)

    def ancestry(self, ref: Ref) -> ModelAncestry:
        """A registered model's full ancestry (registered, then public), with the ancestors
        trained on a data set flagged as containing personal data."""
        from .impact import ancestry

        return ancestry(self, ref)

    # -- models found on disk, training runs ------------------------------------------------
    def register_scan(self, result: ScanResult, *, actor: User | None) -> ScanRegistration:
        """Record the models a scan found (``filiation scan``), in one transaction: each
        becomes or updates the registered model named after its scan id, derived from its
        parent (a Hub model known to the genealogy, registered on the way, or another model
        of the scan), marked *inferred* with the file and field that said so."""
        from .scanned import register_scan

        actor = self.require(actor, Role.EDITOR)
        return register_scan(self, result, actor)

    def record_training(
        self,
        model: str,
        *,
        framework: str,
        actor: User | None,
        base_model: str | None = None,
        relation: str = "finetune",
        datasets: Sequence[str] = (),
        hyper_parameters: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        steps: Sequence[Mapping[str, Any]] = (),
        output_dir: str | None = None,
        evidence: str = "training callback",
        run: int | None = None,
    ) -> TrainingRun:
        """Record one training run of ``model`` (created if new), derived from
        ``base_model`` with ``relation``, declared by ``evidence`` (the training callbacks
        of :mod:`filiation.training` call this when a model is saved). ``run``: the number
        of a run recorded before, to update (a later save or evaluation of the same run)."""
        from .runs import record_training

        actor = self.require(actor, Role.EDITOR)
        return record_training(
            self,
            model,
            framework=framework,
            actor=actor,
            base_model=base_model,
            relation=relation,
            datasets=datasets,
            hyper_parameters=hyper_parameters or {},
            metrics=metrics or {},
            steps=steps,
            output_dir=output_dir,
            evidence=evidence,
            run=run,
        )

    def training_runs(self, ref: Ref) -> list[TrainingRun]:
        """The training runs recorded for a registered model, oldest first."""
        from .runs import training_runs

        return training_runs(self, ref)

    def export_etalab(self, *, include_retired: bool = False) -> str:
        from .etalab import export_csv

        return export_csv(self.models(include_retired=include_retired))

    def import_etalab(self, text: str, *, actor: User | None) -> ImportReport:
        """Import an Etalab inventory CSV: every row or none (problems with line numbers)."""
        from .etalab import import_csv

        actor = self.require(actor, Role.EDITOR)
        return import_csv(self, text, actor)
