"""The explorer's pages as a reader sees them in Chromium (tests/web_fixtures.py:
`filiation serve` over a SQLite store of the bundled sample): on a phone (390 px) no page is
wider than the screen and no id is broken inside a word; a French page reads French (tasks
named, parameter counts in words, a check's figures named in French, no catalogue key left,
no English word); the overview's cells say their generation without a wrong plural.
Screenshots go to artifacts/."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest

import filiation
from filiation import i18n
from tests.test_i18n import _english_left
from tests.web_fixtures import ARTIFACTS, AUTHOR, DATASET, GRAPH_READY, LLAMA, page_url

BASE = "meta-llama/Llama-3.1-8B"
PHONE = {"width": 390, "height": 844}

#: Whether some text node of `sel` (a segment of an id between its <wbr> break points) is
#: laid out on more than one line: a break inside a word.
SPLIT_SEGMENTS = """sel => {
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) { continue; }
      const r = document.createRange();
      r.selectNodeContents(node);
      const lines = new Set([...r.getClientRects()].map((b) => Math.round(b.top)));
      if (lines.size > 1) { out.push(node.textContent); }
    }
  }
  return out;
}"""


#: Where a line of `main`'s visible text starts between two letters or digits of one word (a
#: word broken inside), with a little context.
MID_WORD = """() => {
  const bad = [], inWord = /[\\p{L}\\p{N}]/u;
  const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const t = node.textContent, el = node.parentElement;
    if (t.trim().length < 2 || !el || el.offsetParent === null) { continue; }
    let last = null;
    for (let i = 0; i < t.length; i++) {
      const r = document.createRange();
      r.setStart(node, i);
      r.setEnd(node, i + 1);
      const b = r.getClientRects()[0];
      if (!b) { continue; }
      const top = Math.round(b.top);
      if (last !== null && top > last + 2 && inWord.test(t[i - 1]) && inWord.test(t[i])) {
        bad.push(t.slice(Math.max(0, i - 15), i) + "|" + t.slice(i, i + 10));
      }
      last = top;
    }
  }
  return bad;
}"""


def _open(pg: Any, base: str, lang: str, kind: str, node_id: str) -> None:
    pg.goto(base + page_url(lang, kind, node_id))
    if kind == "models":
        pg.click("#tab-graph")
    pg.wait_for_selector(GRAPH_READY, timeout=20_000)


@pytest.mark.parametrize(
    ("lang", "kind", "node_id"),
    [
        ("en", "models", LLAMA),
        ("fr", "models", BASE),
        ("fr", "models", LLAMA),
        ("fr", "datasets", DATASET),
        ("fr", "authors", AUTHOR),
    ],
)
def test_a_page_fits_a_phone(server: str, page: Any, lang: str, kind: str, node_id: str) -> None:
    """At 390 px nothing makes the page wider than the screen (long French names of the
    indicators, unbreakable ids in the checks' list); tables that are wider scroll inside; no
    word is broken inside, in the page, the graph's view or the tree."""
    pg = page
    pg.set_viewport_size(PHONE)
    _open(pg, server, lang, kind, node_id)
    pg.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    pg.wait_for_timeout(200)
    width = pg.evaluate("() => document.documentElement.scrollWidth")
    pg.screenshot(path=str(ARTIFACTS / f"phone-{lang}-{node_id.split('/')[-1]}.png"))
    assert width <= PHONE["width"], width
    # No word broken inside: ids after their separators, "47 téléchargements" whole.
    assert pg.evaluate(MID_WORD) == []
    if kind == "models":
        pg.click("#tab-tree")
        pg.wait_for_selector("#view-tree .tree li.node")
        assert pg.evaluate(MID_WORD) == []
    assert pg.problems == []


@pytest.mark.parametrize(("lang", "width"), [("en", 1400), ("fr", 390)])
def test_search_suggestions_show_whole_ids_broken_between_words(
    server: str, page: Any, web_db: Path, lang: str, width: int
) -> None:
    pg = page
    pg.set_viewport_size({"width": width, "height": 844})
    pg.goto(server + f"/{lang}/")
    box = pg.locator("#suggest-top")
    # The full ids (author included), those the search gives.
    want = [h.id for h in filiation.open(web_db).search("llama-3.1-8b", limit=8)]
    pg.locator("header input[type=search]").first.type("llama-3.1-8b", delay=20)
    pg.wait_for_selector("#suggest-top li.suggestion")
    # On a busy machine a pause in the typing longer than the page's 120 ms debounce shows a
    # prefix's suggestions first: wait (bounded) for those of the whole text.
    shown = (
        "(want) => Array.from(document.querySelectorAll('#suggest-top .sid'),"
        " (s) => s.textContent.replace(/\u200b/g, '')).join('\\n') === want"
    )
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the assertion below says what is shown
        pg.wait_for_function(shown, arg="\n".join(want), timeout=10_000)
    ids = [t.replace("\u200b", "") for t in box.locator(".sid").all_inner_texts()]
    assert ids == want and all("/" in i for i in ids)
    assert pg.evaluate(SPLIT_SEGMENTS, "#suggest-top .sid") == []
    pg.screenshot(path=str(ARTIFACTS / f"suggestions-{lang}-{width}.png"))
    assert pg.problems == []


def test_a_french_model_page_reads_french(server: str, page: Any, web_db: Path) -> None:
    pg = page
    _open(pg, server, "fr", "models", LLAMA)
    d = filiation.open(web_db).show(LLAMA)
    # The task named in French, the Hub's tag beside it; the parameters in words.
    task = pg.locator("dd.task")
    assert task.locator("span").inner_text() == i18n.task("fr", d.pipeline_tag)
    assert task.locator("span").inner_text() != d.pipeline_tag
    assert task.locator("code").inner_text() == d.pipeline_tag
    params = pg.locator("dl.indicators dt", has_text="Paramètres").locator(
        "xpath=following-sibling::dd[1]"
    )
    assert re.fullmatch(r"\d+(,\d)?\u00a0(milliards?|millions?)", params.inner_text())
    assert params.inner_text() == i18n.compact("fr", d.parameters)
    # A check's figures named in French ("enfant", not "child"), dates written out.
    checks = pg.locator("#checks").inner_text()
    assert "enfant" in checks and "child" not in checks and not re.search(r"\dT\d", checks)
    # The graph's table: every kind in French (a group is a "groupe", not "kind.group").
    kinds = pg.locator("#graph-view .graph-table td:nth-child(2)").all_inner_texts()
    assert "groupe" in kinds and not any(k.startswith("kind.") for k in kinds)
    # The overview's cells: generation first, so that "1" never stands before a plural noun.
    pg.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    titles = [
        b.get_attribute("title") or ""
        for b in pg.locator("#graph-view table.overview button.cell").all()
    ]
    assert titles and all(
        re.fullmatch(
            r"Génération [+\u2212]\d+, .+\u202f: [\d\u202f]+\. Cliquer pour les dessiner", t
        )
        for t in titles
    ), titles[:3]
    # No English word left in what the page shows, ids and the Hub's own tags aside.
    ids = set(
        pg.evaluate(
            "() => [...document.querySelectorAll('main a, main code, main .sid')]"
            ".map((a) => a.textContent.replace(/\\u200b/g, ''))"
        )
    )
    text = pg.evaluate("() => document.querySelector('main').innerText").replace("\u200b", "")
    assert not _english_left(text, ids), _english_left(text, ids)[:5]
    pg.screenshot(path=str(ARTIFACTS / "fr-model-page.png"), full_page=True)
    assert pg.problems == []


@pytest.mark.parametrize(
    ("lang", "says"), [("en", "{id} derives from it"), ("fr", "{id} en dérive")]
)
def test_the_tree_phrases_ancestors_in_the_direction_of_derivation(
    server: str, page: Any, web_db: Path, lang: str, says: str
) -> None:
    """An ancestor's row says the model derives from it ("meta-llama/Llama-3.1-8B-Instruct
    derives from it"), not that the ancestor was fine-tuned from the model."""
    pg = page
    pg.goto(server + page_url(lang, "models", LLAMA))
    parent = filiation.open(web_db).parents(LLAMA)[0]
    row = pg.locator(".ancestors .generation li", has_text=parent.id).first
    row.wait_for()
    assert row.locator(".meta").inner_text().replace("\u200b", "") == says.format(id=LLAMA)
    assert pg.problems == []


def test_the_registry_reads_on_a_phone_in_french(server: str, page: Any, web_db: Path) -> None:
    """A registered model's record, its history and the lists fit 390 px: the fields stack
    (two columns left each value a few letters wide, broken inside its words), the history
    is a card per change with the date as a French reader writes it, the lists scroll."""
    from tests.test_registry_web import INVENTORY

    reg = filiation.open(web_db).registry
    admin = reg.add_user("ines", "admin", "a long enough password", actor=None)
    reg.import_etalab(INVENTORY.read_text(encoding="utf-8"), actor=admin)
    system = reg.create_system(
        {
            "name": "Assistant de rédaction des courriers aux usagers",
            "owner": "Direction du numérique",
            "role": "deployer",
        },
        actor=admin,
    )
    legal = reg.model("Assistant juridique interne")
    reg.attach(system.id, legal.id, "brouillons de réponses, relus par un agent", actor=admin)
    pg = page
    pg.set_viewport_size(PHONE)
    pg.goto(server + "/fr/registry")
    pg.fill("#login-name", "ines")
    pg.fill("#login-password", "a long enough password")
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(r".*/fr/registry/?$"))
    for name, path in [
        ("home", "/fr/registry"),
        ("model", f"/fr/registry/models/{legal.id}"),
        ("system", f"/fr/registry/systems/{system.id}"),
    ]:
        pg.goto(server + path)
        pg.screenshot(path=str(ARTIFACTS / f"phone-fr-registry-{name}.png"), full_page=True)
        assert pg.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], name
        assert pg.evaluate(MID_WORD) == [], name
    pg.goto(server + f"/fr/registry/models/{legal.id}")
    when = pg.locator("#history td.when").first.inner_text()
    assert re.fullmatch(r"\d{1,2}(er)?\s\w+\s\d{4}\sà\s\d{1,2}\sh\s\d{2}\sUTC", when), when
    # a field created empty is not a change "from — to —"
    assert "— → —" not in pg.locator("#history").inner_text().replace("\u00a0", " ")
    assert pg.problems == []
