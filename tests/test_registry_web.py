"""The registry through its interfaces: the JSON API, the web forms, the CLI, a real browser.

The API and form tests run on both back ends (each on its own copy of the real sample); the
browser test drives Chromium against ``filiation serve`` on a SQLite store, as
tests/test_web.py does.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import filiation
from filiation import i18n
from filiation.api import create_app
from filiation.cli import app as cli_app
from filiation.web import views
from tests.serving import serving
from tests.web_fixtures import shot

INVENTORY = Path(__file__).resolve().parent / "data" / "registry-etalab.csv"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
PASSWORD = "a long enough password"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture()
def g(staffed: filiation.Genealogy) -> filiation.Genealogy:
    return staffed


@pytest.fixture()
def client(g: filiation.Genealogy) -> Iterator[TestClient]:
    with TestClient(create_app(g)) as c:
        yield c


def bearer(g: filiation.Genealogy, user: str) -> dict[str, str]:
    token = g.registry.create_token(user, "tests", actor=g.registry.user(user))
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, user: str, lang: str = "en") -> str:
    """Log in through the form; the CSRF token of the session's pages."""
    page = client.get(f"/{lang}/login")
    r = client.post(
        f"/{lang}/login",
        data={"csrf": CSRF_FIELD.search(page.text).group(1), "name": user, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    home = client.get(f"/{lang}/registry/")
    assert home.status_code == 200
    return CSRF_FIELD.search(home.text).group(1)


def page_ok(r: Any, status: int = 200) -> str:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text)
    assert "<style" not in r.text and " style=" not in r.text
    assert not re.search(r"\son[a-z]+=", r.text)
    return r.text


# -- the JSON API ---------------------------------------------------------------------------------
def test_api_needs_a_user_and_a_role_to_write(client: TestClient, g: filiation.Genealogy) -> None:
    body = {"name": "Llama", "hub_id": LLAMA}
    assert client.get(f"/api/models/{LLAMA}").status_code == 200  # the genealogy stays open
    r = client.post("/api/registry/models", json=body)
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
    assert client.get("/api/registry/models").status_code == 401
    viewer = bearer(g, "victor")
    assert client.get("/api/registry/models", headers=viewer).json() == []
    r = client.post("/api/registry/models", json=body, headers=viewer)
    assert r.status_code == 403 and "editor" in r.json()["message"]
    bad = {"Authorization": "Bearer fil_not-a-token"}
    assert client.post("/api/registry/models", json=body, headers=bad).status_code == 401
    assert (
        client.get("/api/registry/models", headers={"Authorization": "Basic x"}).status_code == 401
    )
    assert g.registry.models() == []

    editor = bearer(g, "edith")
    r = client.post("/api/registry/models", json=body, headers=editor)
    assert r.status_code == 201 and r.json()["hub_id"] == LLAMA
    model_id = r.json()["id"]
    r = client.patch(
        f"/api/registry/models/{model_id}",
        json={"model_card_url": "nope", "updated_on": "2999-01-01"},
        headers=editor,
    )
    assert r.status_code == 422
    fields = r.json()["fields"]
    assert fields["model_card_url"]["code"] == "url" and fields["updated_on"]["code"] == "future"
    # a yes/no field goes back to "not stated" with null
    patch = partial(client.patch, f"/api/registry/models/{model_id}", headers=editor)
    assert patch(json={"open_weights": True}).json()["open_weights"] is True
    assert patch(json={"open_weights": None}).json()["open_weights"] is None
    r = client.post(
        "/api/registry/systems",
        json={"name": "Helpdesk", "owner": "Support", "role": "deployer"},
        headers=editor,
    )
    system_id = r.json()["id"]
    r = client.put(
        f"/api/registry/systems/{system_id}/models/{model_id}",
        json={"usage": "drafts answers"},
        headers=editor,
    )
    assert r.json()["uses"][0]["usage"] == "drafts answers"
    base = g.ancestors(LLAMA).ids()[0]
    r = client.get("/api/registry/impact", params={"model": base}, headers=viewer)
    assert [h["system"] for h in r.json()["systems"]] == ["Helpdesk"]
    detail = client.get(f"/api/registry/systems/{system_id}", headers=viewer).json()
    assert [(h["user"], h["action"]) for h in detail["history"]] == [
        ("edith", "create"),
        ("edith", "attach"),
    ]
    assert client.get("/api/registry/models/999", headers=viewer).status_code == 404
    # A revoked token stops working at once.
    token_id = g.registry.tokens("edith")[-1].id
    g.registry.revoke_token(token_id, actor=g.registry.user("edith"))
    assert client.post("/api/registry/models/1/retire", headers=editor).status_code == 401


def test_api_cookie_writes_need_the_csrf_header(client: TestClient, g: filiation.Genealogy) -> None:
    csrf = login(client, "edith")
    body = {"name": "Helpdesk", "owner": "Support", "role": "deployer"}
    r = client.post("/api/registry/systems", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["message"]
    r = client.post("/api/registry/systems", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert g.registry.systems() == []
    r = client.post("/api/registry/systems", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201


def test_api_etalab_import_and_export(client: TestClient, g: filiation.Genealogy) -> None:
    editor = bearer(g, "edith")
    text = INVENTORY.read_text(encoding="utf-8")
    bad = text.replace("2024-07-23", "23 juillet")
    r = client.post("/api/registry/import?strict=true", content=bad.encode(), headers=editor)
    assert r.status_code == 422
    assert [(p["line"], p["field"], p["code"], p["message"]) for p in r.json()["problems"]] == [
        (
            2,
            "date_derniere_mise_a_jour",
            "date_inventory",
            "give a date as YYYY-MM-DD or DD/MM/YYYY",
        ),
        # its parent is line 2's model
        (
            12,
            "derive_de",
            "parent_skipped",
            "derives from the model of line 2, which was not imported",
        ),
    ]
    assert g.registry.models() == []
    r = client.post("/api/registry/import", content=text.encode(), headers=editor)
    assert r.status_code == 200 and len(r.json()["created"]) == 12
    r = client.get("/api/registry/export.csv", headers=editor)
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content == g.registry.export_etalab()


def test_import_page_reports_each_line_and_model_pages_say_not_stated(
    client: TestClient, g: filiation.Genealogy
) -> None:
    """A French Excel file (Windows-1252, ``;``, a blank personal-data cell, one bad row)
    through the web page: good rows imported, the bad one listed by line, in both languages."""
    rows = INVENTORY.read_text(encoding="utf-8").splitlines()[:4]
    cells = list(csv.reader(rows))
    cells[1][11] = ""  # donnees_personnelles_entrainement left blank
    cells[3][9] = "2024-13-45"  # line 4: no such date
    text = "\r\n".join(";".join(c) for c in cells) + "\r\n"
    csrf = login(client, "edith", "fr")
    r = client.post(
        "/fr/registry/import",
        data={"csrf": csrf},
        files={"file": ("inventaire.csv", text.encode("cp1252"), "text/csv")},
    )
    page = page_ok(r)
    report = re.search(r'<section id="import-report">(.*?)</section>', page, re.S)
    assert report and "inventaire.csv importé (cp1252, lignes lues\u202f: 3)" in report.group(1)
    assert "Modèles créés\u202f: 2" in report.group(1)
    # A partial import is a notice to heed (amber), not a success, and not an error either.
    assert '<p class="notice" role="status" id="import-summary">' in report.group(1)
    assert (
        "Ligne 4, date_derniere_mise_a_jour\u202f: "
        "Donnez une date au format AAAA-MM-JJ ou JJ/MM/AAAA." in report.group(1)
    )
    names = [m.name for m in g.registry.models()]
    assert sorted(names) == sorted([cells[1][0], cells[2][0]])
    model = g.registry.model(cells[1][0])
    assert model.personal_data is None
    page = page_ok(client.get(f"/fr/registry/models/{model.id}"))
    assert 'class="unstated">non renseigné<' in page
    page = page_ok(client.get(f"/en/registry/models/{model.id}"))
    assert 'class="unstated">not stated<' in page
    [entry] = g.registry.history("inventory")
    assert entry.record_key == "inventaire.csv" and entry.after
    assert (entry.after["imported"], entry.after["skipped"]) == (2, 1)
    # The good rows again: every row read, none skipped, so the notice is styled a success.
    good = "\r\n".join(";".join(c) for c in cells[:3]) + "\r\n"
    r = client.post(
        "/fr/registry/import",
        data={"csrf": csrf},
        files={"file": ("inventaire.csv", good.encode("cp1252"), "text/csv")},
    )
    assert '<p class="notice success" role="status" id="import-summary">' in page_ok(r)


# -- the web forms --------------------------------------------------------------------------------
def test_pages_need_a_login_and_forms_need_their_token(
    client: TestClient, g: filiation.Genealogy
) -> None:
    r = client.get("/fr/registry/systems/new", follow_redirects=False)
    assert (
        r.status_code == 303 and r.headers["location"] == "/fr/login?next=/fr/registry/systems/new"
    )
    assert client.get("/en/").status_code == 200  # the explorer stays open
    # A login form that was not served by the site is refused.
    r = client.post("/en/login", data={"csrf": "x", "name": "edith", "password": PASSWORD})
    assert r.status_code == 403 and "filiation_session" not in client.cookies
    page = client.get("/en/login")
    r = client.post(
        "/en/login",
        data={
            "csrf": CSRF_FIELD.search(page.text).group(1),
            "name": "edith",
            "password": "wrong password!",
        },
    )
    assert "Unknown user or wrong password" in page_ok(r, 401)

    csrf = login(client, "edith")
    form = {"name": "Helpdesk", "owner": "Support", "role": "deployer", "status": "production"}
    r = client.post("/en/registry/systems/new", data={**form, "csrf": "forged"})
    assert r.status_code == 403 and g.registry.systems() == []
    r = client.post("/en/registry/systems/new", data=form)  # no token at all
    assert r.status_code == 403 and g.registry.systems() == []
    r = client.post("/en/registry/systems/new", data={**form, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and g.registry.system("helpdesk").status == "production"
    # The token belongs to the session: another user's token does not work here.
    other = TestClient(client.app)
    other_csrf = login(other, "admin")
    assert other_csrf != csrf
    r = client.post("/en/registry/systems/1/edit", data={**form, "csrf": other_csrf})
    assert r.status_code == 403
    # A viewer sees the pages but cannot write.
    viewer = TestClient(client.app)
    v_csrf = login(viewer, "victor")
    page_ok(viewer.get("/en/registry/systems/1"))
    r = viewer.post("/en/registry/models/new", data={"name": "X", "csrf": v_csrf})
    assert r.status_code == 403 and g.registry.models() == []


def test_every_registry_page_sends_a_visitor_to_the_login_page(
    client: TestClient, g: filiation.Genealogy
) -> None:
    """The login guard is on every registry page, read or write, in both languages: each
    route the app serves under /{lang}/registry answers an anonymous visitor (or a bad
    token) with the login page, and nothing is written."""
    pages = [
        (method, f"/{lang}{route.path}")
        for router in views.ROUTERS
        for route in router.routes
        if route.path.startswith("/registry")  # type: ignore[attr-defined]
        for method in sorted(route.methods)  # type: ignore[attr-defined]
        for lang in i18n.LANGUAGES
    ]
    assert len(pages) > 30  # lists, records, forms, impact, data sets, import; en and fr
    for method, template in pages:
        path = re.sub(r"\{[a-z_]+(:int)?\}", "1", template)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            r = client.request(method, path, headers=headers, follow_redirects=False)
            want = f"/{path.split('/')[1]}/login?next={path}"
            assert (r.status_code, r.headers.get("location")) == (303, want), (method, path)
    assert g.registry.models() == [] and g.registry.systems() == []


def test_form_messages_sit_next_to_their_fields(client: TestClient, g: filiation.Genealogy) -> None:
    csrf = login(client, "edith", "fr")
    text = page_ok(client.get("/fr/registry/models/new"))
    for lt in ("supervised", "unsupervised", "semi-supervised", "reinforcement"):
        assert f'value="{lt}"' in text
    assert "apprend à partir d\u2019exemples étiquetés" in text
    r = client.post(
        "/fr/registry/models/new",
        data={
            "csrf": csrf,
            "name": "<script>alert(1)</script>",
            "model_card_url": "ftp://x",
            "updated_on": "2024-02-30",
            "open_weights": "no",
            "weights_url": "https://x.org/w",
        },
    )
    text = page_ok(r, 422)
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for field, message in [
        ("model_card_url", "Donnez une adresse web commençant par https://"),
        ("updated_on", "Donnez une date au format AAAA-MM-JJ."),
        ("weights_url", "concerne les modèles ouverts"),
    ]:
        block = re.search(rf'<div class="field invalid" id="field-{field}">(.*?)</div>', text, re.S)
        assert block and message in block.group(1), field
    assert 'id="field-name"' in text and 'class="field invalid" id="field-name"' not in text
    assert g.registry.models() == []
    r = client.post(
        "/en/registry/models/new",
        data={"csrf": csrf, "name": "Llama", "hub_id": LLAMA[:-2]},
    )
    block = re.search(r'id="field-hub_id">(.*?)</div>', page_ok(r, 422), re.S).group(1)
    assert "not in the loaded genealogy" in block and LLAMA in block


def test_detail_pages_show_records_uses_ancestry_and_history(
    client: TestClient, g: filiation.Genealogy
) -> None:
    reg = g.registry
    edith = reg.user("edith")
    reg.import_etalab(INVENTORY.read_text(encoding="utf-8"), actor=edith)
    s = reg.create_system({"name": "Legal desk", "owner": "Legal", "role": "provider"}, actor=edith)
    legal = reg.model("Assistant juridique interne")
    reg.attach(s.id, legal.id, "drafts replies", actor=edith)
    reg.update_model(legal.id, {"version": "2025.04"}, actor=edith)
    login(client, "victor")
    text = page_ok(client.get(f"/en/registry/models/{legal.id}"))
    assert "drafts replies" in text and 'href="/en/registry/systems/1"' in text
    ancestry = re.search(r'<ol class="nodes" id="ancestry">(.*?)</ol>', text, re.S).group(1)
    for a in reg.ancestry(legal.id).ancestors:
        assert f'data-id="{a.id}"' in ancestry
    assert 'class="ancestor flagged"' in ancestry  # it declares personal data in training
    history = re.search(r'id="history">(.*?)</table>', text, re.S).group(1)
    assert "2025.03" in history and "2025.04" in history and "edith" in history
    # Retiring from the page: kept, out of the lists, in the history.
    editor = TestClient(client.app)
    csrf = login(editor, "edith")
    assert editor.post(f"/en/registry/systems/{s.id}/retire", data={"csrf": "x"}).status_code == 403
    r = editor.post(
        f"/en/registry/systems/{s.id}/retire", data={"csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and reg.systems() == []
    assert reg.system(s.id).status == "retired" and reg.history("system", s.id)[-1].after == {
        **reg.history("system", s.id)[-1].before,
        "status": "retired",
    }
    fr = page_ok(client.get(f"/fr/registry/systems/{s.id}"))
    assert "Modèles utilisés" in fr and "déployeur" not in fr and "fournisseur" in fr


# -- the CLI --------------------------------------------------------------------------------------
def test_cli_attributes_writes_and_checks_roles(reg_db: Any, tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str, user: str = "admin", stdin: str | None = None) -> Any:
        return runner.invoke(
            cli_app, ["--db", str(reg_db), "registry", "--user", user, *args], input=stdin
        )

    r = run("user", "add", "ed", "--role", "editor", "--no-password")
    assert r.exit_code == 7 and "first one must be an admin" in r.stderr
    r = run("user", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.stderr
    assert run("user", "add", "ed", "--role", "editor", "--no-password").exit_code == 0
    assert run("user", "add", "vi", "--role", "viewer", "--no-password").exit_code == 0
    r = run("model", "add", "--name", "Llama", "--hub-id", LLAMA, user="nobody")
    assert r.exit_code == 6 and "not a registry user" in r.stderr
    r = run("model", "add", "--name", "Llama", "--hub-id", LLAMA, user="vi")
    assert r.exit_code == 7
    r = run("model", "add", "--name", "Llama", "--model-card", "x", user="ed")
    assert r.exit_code == 2 and "model_card_url" in r.stderr
    r = run("model", "add", "--name", "Llama", "--hub-id", LLAMA.upper(), "--json", user="ed")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["history"][0]["user"] == "ed"
    assert (
        run(
            "system", "add", "--name", "Desk", "--owner", "Support", "--role", "deployer", user="ed"
        ).exit_code
        == 0
    )
    assert run("system", "attach", "desk", "llama", "--usage", "drafts", user="ed").exit_code == 0
    r = run("model", "update", "llama", "--description", "drafts replies", "--dataset", "")
    assert r.exit_code == 0, r.stderr
    shown = run("model", "show", "#1", user="vi")
    assert shown.exit_code == 0, shown.stderr
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    assert f"hub_id {LLAMA}" in lines and "description drafts replies" in lines
    assert "used by Desk: drafts" in lines and "training_datasets —" in lines
    shown = run("system", "show", "desk", user="vi")
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    assert "uses Llama: drafts" in lines and "purpose —" in lines
    assert "history" in shown.stdout and "attach" in shown.stdout
    g = filiation.open(reg_db)
    base = g.ancestors(LLAMA).ids()[0]
    r = run("impact", "--model", base, "--json", user="vi")
    assert [h["system"] for h in json.loads(r.stdout)["systems"]] == ["Desk"]
    out = tmp_path / "inventory.csv"
    assert run("export", str(out), user="vi").exit_code == 0
    assert out.read_bytes() == g.registry.export_etalab()
    r = run("token", "create", "--name", "ci", user="ed")
    token = r.stdout.strip()
    assert r.exit_code == 0 and token.startswith("fil_")
    assert g.registry.user_for_token(token).name == "ed"
    assert run("import", str(INVENTORY), user="ed").exit_code == 0
    assert len(g.registry.models()) == 13


# -- a real browser (tests/web_fixtures.py) ------------------------------------------------------
def test_browser_system_with_two_models_and_the_impact_view(browser: Any, tmp_path: Path) -> None:
    db = tmp_path / "web.sqlite"
    g = filiation.open(db)
    admin = g.registry.add_user("admin", "admin", PASSWORD, actor=None)
    g.registry.add_user("edith", "editor", PASSWORD, actor=admin)
    g.registry.import_etalab(INVENTORY.read_text(encoding="utf-8"), actor=admin)
    ancestor = g.ancestors("NousResearch/Hermes-3-Llama-3.1-8B").ids()[0]  # Llama-3.1-8B
    problems: list[str] = []
    with serving(db, tmp_path / "serve.log") as base:
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(10_000)
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        try:
            pg.goto(base + "/en/")
            pg.click("a.nav-registry")
            pg.wait_for_url(re.compile(r".*/en/login\?next=.*"))
            pg.fill("#login-name", "edith")
            pg.fill("#login-password", PASSWORD)
            pg.click("#login-form button[type=submit]")
            pg.wait_for_url(base + "/en/registry/")
            shot(pg, "registry-1-home")

            # A system, with a first try that misses its owner: the message is beside it.
            pg.click("#new-system")
            pg.fill("#f-name", "Citizen helpdesk")
            pg.fill("#f-purpose", "Answers citizens' questions about procedures.")
            pg.select_option("#f-role", "deployer")
            pg.click("#system-form button[type=submit]")
            assert pg.locator("#field-owner .field-error").inner_text() == "Required."
            pg.fill("#f-owner", "Digital services team")
            pg.click("#system-form button[type=submit]")
            pg.wait_for_url(re.compile(r".*/en/registry/systems/\d+$"))

            # Two models, each with how the system uses it.
            for model, usage in [
                ("Hermes 3 Llama 3.1 8B", "Drafts the answer to each question."),
                ("Whisper large v3 turbo", "Transcribes voice messages before answering."),
            ]:
                pg.select_option("#f-model", label=model)
                pg.fill("#f-usage", usage)
                pg.click("#attach-form button[type=submit]")
                pg.locator(f'#uses li[data-model="{model}"]').wait_for()
                assert usage in pg.locator(f'#uses li[data-model="{model}"]').inner_text()
            assert pg.locator("#uses > li").count() == 2
            history = pg.locator("#history").inner_text()
            assert history.count("model attached") == 2 and "edith" in history
            shot(pg, "registry-2-system")

            # The impact view lists the system for an ancestor of one of its models.
            pg.click(".reg-nav a[href$='/registry/impact']")
            pg.fill("#q-model", ancestor)
            pg.click("#impact-form button[type=submit]")
            row = pg.locator("#impact-systems tbody tr")
            row.first.wait_for()
            assert row.count() >= 1
            texts = row.all_inner_texts()
            ours = [t for t in texts if "Citizen helpdesk" in t]
            assert len(ours) == 1 and "Hermes 3 Llama 3.1 8B" in ours[0]
            assert "Drafts the answer" in ours[0] and ancestor in ours[0]
            assert not any("Whisper" in t for t in texts)
            shot(pg, "registry-3-impact")
            pg.click(".lang-switch")
            pg.wait_for_url(re.compile(r".*/fr/registry/impact\?.*"))
            assert "Citizen helpdesk" in pg.locator("#impact-systems").inner_text()
            assert pg.locator("h1").inner_text() == "Impact"
        finally:
            context.close()
    # The one refused form answers 422 (the browser logs it); nothing else went wrong.
    assert [p for p in problems if "status of 422" not in p] == []
    assert len(problems) == 1
    assert [u.model for u in filiation.open(db).registry.system("citizen helpdesk").uses] == [
        "Hermes 3 Llama 3.1 8B",
        "Whisper large v3 turbo",
    ]
