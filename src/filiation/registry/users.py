"""Registry users, their API tokens and web sessions, and logging in (throttled)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from filiation.errors import (
    AuthenticationError,
    FieldProblem,
    LoginThrottledError,
    PermissionDeniedError,
    RecordNotFoundError,
    RegistryValidationError,
)
from filiation.store import schema

from . import auth
from .base import RegistryBase, utc_now
from .models import Role, TokenInfo, User, parse_role, parse_user_name

SESSION_HOURS = 12
#: Expired and closed sessions are deleted at most this often (seconds, per process).
PURGE_SECONDS = 60.0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


#: Failed logins are counted over this window (minutes: FILIATION_LOGIN_WINDOW_MINUTES)...
LOGIN_WINDOW_MINUTES = _env_int("FILIATION_LOGIN_WINDOW_MINUTES", 15)
#: ...per user name as typed (FILIATION_LOGIN_FAILURES_PER_NAME)...
LOGIN_FAILURES_PER_NAME = _env_int("FILIATION_LOGIN_FAILURES_PER_NAME", 5)
#: ...and per client address, across names (FILIATION_LOGIN_FAILURES_PER_CLIENT).
LOGIN_FAILURES_PER_CLIENT = _env_int("FILIATION_LOGIN_FAILURES_PER_CLIENT", 50)


class UserAccounts(RegistryBase):
    """Users and roles, API tokens, web sessions: who may do what in the registry."""

    # -- users, tokens, sessions ----------------------------------------------------------
    @staticmethod
    def _user(row: Mapping[str, Any]) -> User:
        """A user from their row (pydantic reads the columns of the same names)."""
        return User.model_validate({**row, "disabled": row["disabled_at"] is not None})

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
                    name=name, role=role_.value, password_hash=digest, created_at=utc_now()
                )
            )
            self.log_change(conn, who, "user", name, "create", None, {"role": role_.value})
        return self.user(name)

    def set_role(self, name: str, role: str, *, actor: User | None) -> User:
        self.require(actor, Role.ADMIN)
        role_ = parse_role(role)
        before = self.user(name)
        u = schema.registry_users
        with self.engine.begin() as conn:
            conn.execute(update(u).where(u.c.name == name).values(role=role_.value))
            self.log_change(
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
            self.log_change(conn, actor, "user", name, "password", None, None)

    def disable_user(self, name: str, *, actor: User | None) -> User:
        """Disable a user (never deleted: their name stays in the history) and revoke
        their tokens and sessions."""
        actor = self.require(actor, Role.ADMIN)
        user = self.user(name)
        u, t = schema.registry_users, schema.registry_tokens
        now = utc_now()
        with self.engine.begin() as conn:
            conn.execute(update(u).where(u.c.id == user.id).values(disabled_at=now))
            conn.execute(
                update(t)
                .where(t.c.user_id == user.id, t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self.log_change(
                conn, actor, "user", name, "disable", {"disabled": False}, {"disabled": True}
            )
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
        now = utc_now()
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
                self.log_change(
                    conn, typed or "-", "login", where, "failed", None, {"client": where}
                )
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
                    created_at=utc_now(),
                )
            )
            self.log_change(conn, actor, "user", user_name, "token", None, {"token": label})
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
            conn.execute(update(t).where(t.c.id == token_id).values(revoked_at=utc_now()))
            self.log_change(conn, actor, "user", info.user, "revoke", {"token": info.name}, None)

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
        if row["expires_at"] is not None and row["expires_at"] < utc_now():
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
                    created_at=utc_now(),
                    expires_at=utc_now() + timedelta(hours=SESSION_HOURS),
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
                t.c.kind == "session", or_(t.c.expires_at < utc_now(), t.c.revoked_at.is_not(None))
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
                .values(revoked_at=utc_now())
            )
