"""The rights dossier through the JSON API and the web page (FastAPI's test client)."""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

import filiation
from filiation.api import create_app

DATASET = "HuggingFaceH4/ultrachat_200k"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


PASSWORD = "a long enough password"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture()
def app_client(new_db) -> Iterator[tuple[TestClient, Any]]:
    g = filiation.open(new_db("web"))  # the bundled sample; follow-ups are written here
    admin = g.registry.add_user("admin", "admin", PASSWORD, actor=None)
    g.registry.add_user("edith", "editor", PASSWORD, actor=admin)
    g.registry.add_user("victor", "viewer", PASSWORD, actor=admin)
    with TestClient(create_app(g)) as c:
        yield c, g


def log_in(client: TestClient, name: str) -> None:
    """Log in through the web form (the session cookie stays in the client)."""
    page = client.get("/en/login")
    csrf = CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/en/login",
        data={"csrf": csrf, "name": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]


def test_api_dossier_letters_exports(app_client) -> None:
    client, g = app_client
    expected = g.rights.dossier(dataset=DATASET, right="access")
    got = client.get("/api/dossier", params={"dataset": DATASET, "right": "access"}).json()
    assert [m["id"] for m in got["affected"]] == [m.id for m in expected.affected]
    assert [p["name"] for p in got["publishers"]] == [p.name for p in expected.publishers]
    letters = client.get(
        "/api/dossier/letters", params={"dataset": DATASET, "right": "access", "lang": "fr"}
    ).json()
    assert len(letters) == len(expected.publishers) and "article 15" in letters[0]["body"]
    r = client.get("/api/dossier/export", params={"dataset": DATASET, "format": "pdf"})
    assert r.headers["content-type"] == "application/pdf"
    assert "attachment" in r.headers["content-disposition"]
    assert len(PdfReader(io.BytesIO(r.content)).pages) > len(expected.publishers)
    r = client.get("/api/dossier/export", params={"dataset": DATASET, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["id"] for x in rows] == [m.id for m in expected.affected]
    assert client.get("/api/dossier", params={"model": MODEL, "right": "fame"}).status_code == 422
    assert client.get("/api/dossier", params={"model": "no/such-model"}).status_code == 404
    assert client.get("/api/dossier").status_code == 422


def test_api_follow_up(app_client) -> None:
    client, g = app_client
    pub = g.rights.dossier(model=MODEL).publishers[2].name
    body = {"model": MODEL, "publisher": pub, "status": "refused"}
    ok = {**body, "ground": "Article 17(3)(a)", "at": "2026-03-01"}
    # Follow-ups are shared records: not written by anonymous callers, nor viewers.
    assert client.post("/api/dossier/followup", json=ok).status_code == 401
    admin = g.registry.user("admin")
    viewer = {"Authorization": "Bearer " + g.registry.create_token("victor", None, actor=admin)}
    assert client.post("/api/dossier/followup", json=ok, headers=viewer).status_code == 403
    editor = {"Authorization": "Bearer " + g.registry.create_token("edith", None, actor=admin)}
    r = client.post("/api/dossier/followup", json=body, headers=editor)
    assert r.status_code == 422 and "ground" in r.json()["message"]
    for at in ("1970-01-01", "2999-01-01"):  # dates are bounded
        r = client.post("/api/dossier/followup", json={**ok, "at": at}, headers=editor)
        assert r.status_code == 422 and "between" in r.json()["message"], r.text
    r = client.post("/api/dossier/followup", json=ok, headers=editor)
    assert r.status_code == 200, r.text
    d = client.get("/api/dossier", params={"model": MODEL}).json()
    entry = next(p for p in d["publishers"] if p["name"] == pub)
    assert entry["status"] == "refused" and entry["ground"] == "Article 17(3)(a)"
    assert entry["history"][0]["at"].startswith("2026-03-01")


def test_api_diff_and_watch(app_client) -> None:
    client, g = app_client
    r = client.get("/api/diff", params={"since": "2099-01-01", "id": MODEL})
    assert r.status_code == 200 and r.json()["appeared"] == []
    assert client.get("/api/diff", params={"since": "1999-01-01"}).status_code == 422
    g.rights.watch.add(MODEL)
    assert [w["id"] for w in client.get("/api/watch").json()] == [MODEL]


def _text(page: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_dossier_page_and_follow_up_form(app_client, lang: str) -> None:
    client, g = app_client
    d = g.rights.dossier(dataset=DATASET)
    r = client.get(f"/{lang}/dossier", params={"dataset": DATASET})
    assert r.status_code == 200 and r.headers["content-language"] == lang
    page = r.text
    ids = page.replace("<wbr>", "")  # ids may break after a separator, copied whole
    for m in d.affected[:50]:
        assert f">{m.id}</a>" in ids
    assert page.count('class="publisher-entry"') == min(20, len(d.publishers))
    for fmt in ("md", "csv", "pdf", "json"):
        assert f"format={fmt}" in page
    assert ("RGPD" if lang == "fr" else "GDPR") in _text(page)
    assert "<script>" not in page and "style=" not in page
    # anonymous: no follow-up form, a link to log in instead
    assert 'class="followup"' not in page and "followup-login" in page
    pub = d.publishers[0].name
    form = {
        "dataset": DATASET,
        "right": "erasure",
        "publisher": pub,
        "status": "refused",
        "ground": "Article 12(5)",
        "date": "2026-04-02",
        "note": "<b>no</b>",
    }
    host = {"origin": "http://testserver"}
    # Anonymous: refused, with the reason on the page; nothing recorded.
    r = client.post(f"/{lang}/dossier/followup", data=form, headers=host, follow_redirects=False)
    assert r.status_code == 403 and 'id="dossier-error"' in r.text
    assert g.rights.dossier(dataset=DATASET).publishers[0].history == []
    log_in(client, "edith")
    page = client.get(f"/{lang}/dossier", params={"dataset": DATASET}).text
    assert page.count('class="followup"') == min(20, len(d.publishers))
    # A post that says neither where it comes from (Origin) nor Sec-Fetch-Site: refused.
    r = client.post(f"/{lang}/dossier/followup", data=form, follow_redirects=False)
    assert r.status_code == 403
    r = client.post(f"/{lang}/dossier/followup", data=form, headers=host, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/{lang}/dossier?")
    page = client.get(r.headers["location"]).text
    assert "Article 12(5)" in page and "&lt;b&gt;no&lt;/b&gt;" in page
    assert ("refusée" if lang == "fr" else "refused") in page
    r = client.post(
        f"/{lang}/dossier/followup",
        data={**form, "ground": ""},
        headers=host,
        follow_redirects=False,
    )
    assert r.status_code == 422 and 'id="dossier-error"' in r.text
    evil = {"origin": "https://evil.example"}
    r = client.post(f"/{lang}/dossier/followup", data=form, headers=evil, follow_redirects=False)
    assert r.status_code == 403
    r = client.post(
        f"/{lang}/dossier/followup",
        data=form,
        headers={"sec-fetch-site": "cross-site"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    model_page = client.get(f"/{lang}/models/{quote(MODEL)}", headers={"accept": "text/html"})
    assert f"/{lang}/dossier?model=" in model_page.text
    assert client.get(f"/{lang}/dossier", params={"model": "no/such"}).status_code == 404


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_dossier_page_shows_the_flagged_links(app_client, lang: str) -> None:
    client, g = app_client
    d = g.rights.dossier(model=MODEL)
    assert d.flags
    page = client.get(f"/{lang}/dossier", params={"model": MODEL}).text
    section = page.split('id="checks"')[1].split("</section>")[0]
    rows = re.findall(r'<tr data-model="([^"]+)" data-rule="([^"]+)">', section)
    assert sorted(rows) == sorted((htmllib.escape(f.model), f.rule) for f in d.flags)
    heading = "Liens déclarés que les indices contredisent" if lang == "fr" else "Declared links"
    assert heading in section


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_page_writes_letters_on_the_grounds_ticked(app_client, lang: str) -> None:
    """Erasure letters on the page state the grounds of Article 17(1) the person ticks (the
    page's form), and keep them in every link and export; with none, a placeholder asks."""
    client, g = app_client
    plain = client.get(f"/{lang}/dossier", params={"model": MODEL, "right": "erasure"}).text
    assert 'name="grounds" value="a"' in plain and 'name="grounds" value="f"' in plain
    ask = {"en": "[[CHOOSE ONE OR MORE GROUNDS", "fr": "[[CHOISISSEZ UN OU PLUSIEURS MOTIFS"}[lang]
    assert ask in htmllib.unescape(plain)  # no ground ticked: the letters say to name one
    page = client.get(
        f"/{lang}/dossier?model={quote(MODEL)}&right=erasure&grounds=a&grounds=d&grounds=zz"
    ).text
    text = htmllib.unescape(page)
    d = g.rights.dossier(model=MODEL, right="erasure")
    first = g.rights.letters(d, lang, [d.publishers[0].name], grounds=["a", "d"])[0]
    assert first.body in text and ask not in text
    assert 'value="a" checked' in page and 'value="d" checked' in page
    assert 'value="b" checked' not in page
    export = re.search(r'href="([^"]*/api/dossier/export\?[^"]*)&amp;format=md"', page)
    assert export and "grounds=a&amp;grounds=d" in export.group(1)
    md = client.get(htmllib.unescape(export.group(1)) + "&format=md").text
    assert first.body in md and ask not in md
    # An objection offers the direct-marketing variant instead (Article 21(2)).
    asked = {"model": MODEL, "right": "objection", "direct_marketing": "true"}
    objection = client.get(f"/{lang}/dossier", params=asked).text
    assert 'name="direct_marketing" value="true" checked' in objection
    assert 'name="grounds"' not in objection
    assert "21(2)" in htmllib.unescape(objection) or "paragraphe 2" in htmllib.unescape(objection)
