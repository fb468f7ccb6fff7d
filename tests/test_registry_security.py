"""Hardening of the registry's web login: failed logins throttled from the database, closed
and expired sessions deleted, the session cookie Secure behind a trusted TLS proxy.

On both back ends, through the real web form (FastAPI's test client) and, for the proxy, a
real ``filiation serve`` (the proxy headers are uvicorn's business).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import filiation
from filiation.api import create_app
from filiation.errors import AuthenticationError, LoginThrottledError
from filiation.registry import users as registry_users
from tests.backends import Stores
from tests.conftest import REGISTRY_PASSWORD
from tests.serving import serving

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def try_login(client: TestClient, name: str, password: str, lang: str = "en") -> httpx.Response:
    page = client.get(f"/{lang}/login")
    return client.post(
        f"/{lang}/login",
        data={"csrf": CSRF_FIELD.search(page.text).group(1), "name": name, "password": password},
        follow_redirects=False,
    )


def failures(g: filiation.Genealogy) -> list[Any]:
    return [h for h in g.registry.history("login") if h.action == "failed"]


def test_failed_logins_are_throttled_per_name(staffed: filiation.Genealogy) -> None:
    limit = registry_users.LOGIN_FAILURES_PER_NAME
    with TestClient(create_app(staffed)) as client:
        for _ in range(limit):
            r = try_login(client, "edith", "not her password")
            assert r.status_code == 401 and "Unknown user or wrong password" in r.text
        # the right password now: refused all the same, without being checked
        r = try_login(client, "edith", REGISTRY_PASSWORD)
        assert r.status_code == 429, r.text[:300]
        wait = int(r.headers["Retry-After"])
        assert 0 < wait <= registry_users.LOGIN_WINDOW_MINUTES * 60
        assert "Too many failed logins" in r.text and "filiation_session" not in str(r.cookies)
        fr = try_login(client, "edith", REGISTRY_PASSWORD, lang="fr")
        assert fr.status_code == 429 and "Trop d\u2019échecs de connexion" in fr.text
        # another name is not concerned
        assert try_login(client, "victor", REGISTRY_PASSWORD).status_code == 303

    # The failures are in the history, with the address, never the password; the refused
    # attempts are not written (an attack does not grow the table).
    rows = failures(staffed)
    assert len(rows) == limit
    assert {h.user for h in rows} == {"edith"}
    assert all(h.after == {"client": "testclient"} for h in rows)
    assert not any("password" in str(h.model_dump()) for h in rows)
    with pytest.raises(LoginThrottledError):
        staffed.registry.authenticate("edith", REGISTRY_PASSWORD, client="10.0.0.9")


def test_failed_logins_are_throttled_per_address(
    staffed: filiation.Genealogy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guessing across many names from one address meets a limit too."""
    monkeypatch.setattr(registry_users, "LOGIN_FAILURES_PER_CLIENT", 3)
    reg = staffed.registry
    for name in ("alice", "bob", "carol"):
        with pytest.raises(AuthenticationError) as info:
            reg.authenticate(name, "guess", client="203.0.113.7")
        assert not isinstance(info.value, LoginThrottledError)
    with pytest.raises(LoginThrottledError) as info:
        reg.authenticate("victor", REGISTRY_PASSWORD, client="203.0.113.7")
    assert "try again in" in str(info.value)
    # the same user from elsewhere is fine
    assert reg.authenticate("victor", REGISTRY_PASSWORD, client="198.51.100.1").name == "victor"
    assert len(failures(staffed)) == 3


def test_closed_and_expired_sessions_are_deleted(
    staffed: filiation.Genealogy, stores: Stores, reg_db: Any
) -> None:
    reg = staffed.registry
    edith = reg.user("edith")
    expired, _ = reg.open_session(edith)
    closed, _ = reg.open_session(edith)
    kept, _ = reg.open_session(edith)
    stores.rows(
        reg_db,
        "UPDATE registry_tokens SET expires_at = :past WHERE kind = 'session' "
        "AND id = (SELECT MIN(id) FROM registry_tokens WHERE kind = 'session')",
        past="2000-01-01 00:00:00",
    )
    reg.close_session(closed)
    assert reg.session(expired) is None and reg.session(closed) is None
    count = "SELECT COUNT(*) FROM registry_tokens WHERE kind = 'session'"
    assert stores.rows(reg_db, count) == [(3,)]

    reg._purged_at = float("-inf")  # the purge runs at most once a minute per process
    newest, _ = reg.open_session(edith)
    assert stores.rows(reg_db, count) == [(2,)]  # the kept one and the new one
    assert reg.session(kept) is not None and reg.session(newest) is not None


def _login_cookie(base: str, **headers: str) -> str:
    with httpx.Client(base_url=base, trust_env=False, headers=headers) as client:
        page = client.get("/en/login")
        # Behind the proxy the browser speaks HTTPS and sends the login form's (Secure)
        # cookie back; this client speaks HTTP to the server, so it is sent by hand.
        for raw in page.headers.get_list("set-cookie"):
            name, value = raw.split(";", 1)[0].split("=", 1)
            client.cookies.set(name, value)
        r = client.post(
            "/en/login",
            data={
                "csrf": CSRF_FIELD.search(page.text).group(1),
                "name": "edith",
                "password": REGISTRY_PASSWORD,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:300]
        (cookie,) = [c for c in r.headers.get_list("set-cookie") if "filiation_session" in c]
        return cookie.lower()


def test_session_cookie_is_secure_behind_a_trusted_tls_proxy(
    staffed: filiation.Genealogy, reg_db: Any, tmp_path: Path
) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.10"}
    with serving(
        reg_db, tmp_path / "serve.log", options=["--forwarded-allow-ips", "127.0.0.1"]
    ) as base:
        # 127.0.0.1 (this test, standing for a proxy on the same machine) named as trusted
        assert "; secure" in _login_cookie(base, **https)
        assert "; secure" not in _login_cookie(base)
    with serving(reg_db, tmp_path / "serve1.log") as base:
        # no proxy named: no forwarded header is trusted, not even from 127.0.0.1 (issue 16)
        assert "; secure" not in _login_cookie(base, **https)
    with serving(
        reg_db, tmp_path / "serve2.log", options=["--forwarded-allow-ips", "10.1.1.1"]
    ) as base:
        # the headers of a client that is not the trusted proxy are ignored
        assert "; secure" not in _login_cookie(base, **https)


def test_a_local_client_cannot_claim_other_addresses_to_the_throttle(
    staffed: filiation.Genealogy, reg_db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, item 9: with the default options, a client on 127.0.0.1 sending a new
    X-Forwarded-For each time was counted under the addresses it claimed, and the history
    recorded them. Now it is counted, and recorded, as itself."""
    names = ["alice", "bob", "carol", "dave"]
    with serving(reg_db, tmp_path / "serve.log") as base:
        for i, name in enumerate(names):
            with httpx.Client(base_url=base) as client:
                page = client.get("/en/login")
                r = client.post(
                    "/en/login",
                    data={
                        "csrf": CSRF_FIELD.search(page.text).group(1),
                        "name": name,
                        "password": "guess",
                    },
                    headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
                )
                assert r.status_code in (401, 403, 200, 429), r.text[:300]
    clients = {h.after.get("client") for h in failures(staffed)}
    assert clients == {"127.0.0.1"}
