"""Logging in to the registry and out of it.

The login form has no session yet, so it proves it came from this site with a double-submit
cookie (:data:`LOGIN_CSRF_COOKIE`); a refused login answers the same form (401), or 429 with
``Retry-After`` once the registry throttles the name or the address.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from filiation import i18n
from filiation.errors import (
    AuthenticationError,
    LoginThrottledError,
    PermissionDeniedError,
)
from filiation.http.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Requester,
    new_login_token,
    requester_or_nobody,
    same_token,
)
from filiation.http.context import RegistryDep

from ..rendering import Lang
from .registry_common import base, checked_form, page, refused, safe_next, set_cookie

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "filiation_login_csrf"
#: How long the login form's token stays valid.
LOGIN_FORM_AGE = 3600


def _login_page(request: Request, lang: str, status: int = 200, **context: Any) -> Response:
    """The login form, with a new token for its double-submit cookie (set here too)."""
    token = new_login_token()
    resp = page(
        request,
        lang,
        Requester(None),
        "registry_login.html",
        status=status,
        login_csrf=token,
        **context,
    )
    set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, max_age=LOGIN_FORM_AGE)
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, lang: Lang, next: str = "") -> Response:
    return _login_page(request, lang, next=safe_next(next, base(request, lang)), failed=False)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, lang: Lang, reg: RegistryDep) -> Response:
    form = await request.form()
    sent = form.get("csrf")
    if not same_token(
        sent if isinstance(sent, str) else None, request.cookies.get(LOGIN_CSRF_COOKIE)
    ):
        return page(
            request,
            lang,
            Requester(None),
            "registry_error.html",
            status=403,
            message=i18n.translate(lang, "reg.forged"),
            forbidden=True,
        )
    nxt = safe_next(str(form.get("next") or ""), base(request, lang))
    try:
        user = reg.authenticate(
            str(form.get("name") or ""),
            str(form.get("password") or ""),
            client=request.client.host if request.client else None,
        )
    except AuthenticationError as exc:
        throttled = exc.retry_after if isinstance(exc, LoginThrottledError) else None
        resp = _login_page(
            request,
            lang,
            status=401 if throttled is None else 429,
            next=nxt,
            failed=throttled is None,
            throttled=throttled,
            name=str(form.get("name") or ""),
        )
        if throttled is not None:
            resp.headers["Retry-After"] = str(throttled)
        return resp
    secret, _ = reg.open_session(user)
    resp = RedirectResponse(nxt or f"{base(request, lang)}/registry/", status_code=303)
    set_cookie(request, resp, SESSION_COOKIE, secret, max_age=SESSION_MAX_AGE)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@router.post("/logout")
async def logout(request: Request, lang: Lang, reg: RegistryDep) -> Response:
    who = requester_or_nobody(request)
    if who.user is None:
        return RedirectResponse(f"{base(request, lang)}/", status_code=303)
    try:
        await checked_form(request, who)
    except PermissionDeniedError as exc:
        return refused(request, lang, who, exc)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        reg.close_session(cookie)
    resp = RedirectResponse(f"{base(request, lang)}/", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp
