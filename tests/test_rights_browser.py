"""The dossier page in a real browser against `filiation serve` (tests/web_fixtures.py: a
SQLite store of the bundled sample, Chromium through Playwright)."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import quote

from pypdf import PdfReader

import filiation
from tests.web_fixtures import shot

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
PASSWORD = "a long enough password"


def test_browser_dossier_page_records_a_follow_up(server: str, page: Any, web_db: Any) -> None:
    g = filiation.open(web_db)
    d = g.rights.dossier(model=MODEL)
    pg = page
    # Follow-ups are written by registry editors: log in first (issue 16).
    admin = g.registry.add_user("admin", "admin", PASSWORD, actor=None)
    g.registry.add_user("edith", "editor", PASSWORD, actor=admin)
    pg.goto(server + "/fr/login")
    pg.fill("input[name=name]", "edith")
    pg.fill("input[name=password]", PASSWORD)
    pg.locator("form button[type=submit]").click()
    pg.wait_for_load_state()
    pg.goto(server + f"/fr/models/{quote(MODEL)}")
    pg.locator("a.dossier-link").click()
    pg.wait_for_url(re.compile(r".*/fr/dossier\?model=.*"))
    assert pg.locator("#affected tbody tr").count() == min(50, len(d.affected))
    assert pg.locator("#affected tbody tr").first.locator("td").nth(1).inner_text() == MODEL
    pg.select_option("#right", "access")
    pg.locator("form.dossier-right button").click()
    pg.wait_for_url(re.compile(r".*right=access.*"))
    first = pg.locator(".publisher-entry").first
    assert first.get_attribute("data-publisher") == d.publishers[0].name
    first.locator("details summary", has_text="Lettre").click()
    assert "article 15" in first.locator("pre.letter").inner_text()
    first.locator("select[name=status]").select_option("sent")
    first.locator("form.followup button").click()
    pg.wait_for_load_state()
    assert "envoyée" in pg.locator(".publisher-entry").first.locator(".status").inner_text()
    href = pg.locator("#exports a", has_text="PDF").get_attribute("href")
    assert href is not None and "format=pdf" in href
    answer = pg.request.get(server + href)
    assert answer.headers["content-type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(answer.body())).pages) > len(d.publishers)
    shot(pg, "dossier")
    assert pg.problems == []
    assert g.rights.dossier(model=MODEL, right="access").publishers[0].status.value == "sent"
