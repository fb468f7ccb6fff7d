"""Who sends a request, and what the registry lets them do: one definition for the JSON API
and the web pages.

A request is authenticated by an API token (``Authorization: Bearer fil_…``, made by
``filiation registry token create``) or by the web session cookie (set by the login page).
A write authenticated by the cookie must also prove it came from this site's pages: the JSON
API wants the session's CSRF token in ``X-CSRF-Token``, the pages' forms carry it as a field
(:func:`same_token`). Tokens are not sent by browsers on their own, so they need none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from filiation.errors import AuthenticationError, PermissionDeniedError
from filiation.service.registry import SESSION_HOURS, Registry, Role, User, new_token, same_secret

from .context import registry_of

#: The web session's cookie (the login page sets it; the JSON API accepts it too).
SESSION_COOKIE = "filiation_session"
#: How long a web session lasts (the cookie's ``Max-Age``), as the registry keeps it.
SESSION_MAX_AGE = SESSION_HOURS * 3600
#: The header a cookie-authenticated write to the JSON API carries its CSRF token in.
CSRF_HEADER = "x-csrf-token"


@dataclass
class Requester:
    """Who sent a request (``user`` None: nobody), and the CSRF token of their session."""

    user: User | None
    csrf: str | None = None  # the session's CSRF token (cookie sessions only)
    by_cookie: bool = False


def same_token(sent: str | None, expected: str | None) -> bool:
    """Whether a CSRF token sent with a request is the expected one (in constant time)."""
    return same_secret(sent, expected)


def new_login_token() -> str:
    """A fresh token for the login form's double-submit cookie (it has no session yet)."""
    return new_token("l_")


def requester(request: Request) -> Requester:
    """Who sends the request: a bearer token, else the session cookie, else nobody.

    A bad token is an error (the caller meant to authenticate); a stale cookie is nobody.
    """
    reg = registry_of(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("use 'Authorization: Bearer <token>'")
        return Requester(reg.user_for_token(token.strip()))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = reg.session(cookie)
        if found is not None:
            return Requester(found[0], found[1], by_cookie=True)
    return Requester(None)


def requester_or_nobody(request: Request) -> Requester:
    """:func:`requester`, with a bad ``Authorization`` header taken as nobody (a page asks
    such a visitor to log in rather than answering an error)."""
    try:
        return requester(request)
    except AuthenticationError:
        return Requester(None)


def reader(request: Request) -> User:
    """The user of a read: at least a viewer, else 401 (nobody) or 403 (no role)."""
    return Registry.require(requester(request).user, Role.VIEWER)


def writer(request: Request) -> User:
    """The user of a write; a cookie session must prove the request came from its pages.
    The registry checks the role each write needs (editor; users: admin)."""
    who = requester(request)
    if who.by_cookie and not same_token(request.headers.get(CSRF_HEADER), who.csrf):
        raise PermissionDeniedError("missing or wrong X-CSRF-Token for this session")
    return Registry.require(who.user, Role.VIEWER)


Reader = Annotated[User, Depends(reader)]
Writer = Annotated[User, Depends(writer)]
