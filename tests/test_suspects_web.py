"""Suspected links on the pages, in a real Chromium: the model page's toggle lists a model's
suspected parents and children apart, each with its confidence and evidence; the graph draws
them dashed, labelled "suspected 0.87" ("supposé 0,87"), the evidence on hover and in the side
panel, and the drawing stays readable. The store is the bundled sample with the suspects
``filiation infer`` finds in it (stored at every confidence, shown from the page's bound)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import filiation
from tests.serving import serving
from tests.test_graph_page import check_readable, open_graph, shot, state
from tests.web_fixtures import ARTIFACTS as SHOTS
from tests.web_fixtures import LLAMA, page_url

#: The suspects ``infer`` stored, by (parent, child): their evidence.
INFERRED: dict[tuple[str, str], Any] = {}


@pytest.fixture(scope="module")
def suspects_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("suspects") / "web.sqlite"
    found = filiation.open(db).infer(min_confidence=0.0)
    INFERRED.update({(s.parent, s.child): s.evidence for s in found.links})
    return db


@pytest.fixture(scope="module")
def suspects_server(suspects_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(suspects_db, tmp_path_factory.mktemp("serve-suspects") / "serve.log") as base:
        yield base


def test_a_drawing_adds_suspects_apart_and_keeps_the_declared_one(suspects_db: Path) -> None:
    """The graph view's plan with suspects on: the declared drawing unchanged (items, groups,
    counts), at most ``width`` items added, every suspected link with its confidence and the
    signals ``infer`` stored for it."""
    g = filiation.open(suspects_db)
    plain = g.graph(LLAMA, width=7, budget=40).as_dict()
    asked = g.graph(LLAMA, width=7, budget=40, include_suspected=True, min_confidence=0.5)
    view = asked.as_dict()
    declared = [n for n in view["nodes"] if not n.get("suspected")]
    assert declared == plain["nodes"] and view["family"] == plain["family"]
    added = [n for n in view["nodes"] if n.get("suspected")]
    assert 0 < len(added) <= 7
    sus = [e for e in view["edges"] if e.get("suspected")]
    assert {e["parent"] for e in sus} | {e["child"] for e in sus} >= {n["id"] for n in added}
    for e in sus:
        assert e["confidence"] >= 0.5 and "link" not in e
        assert e["evidence"] == INFERRED[e["parent"], e["child"]]
    assert [e for e in view["edges"] if not e.get("suspected")] == plain["edges"]


def _api(base: str, path: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{base}/api/{path}", params=params, timeout=30, trust_env=False)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def _decimal(lang: str, value: float) -> str:
    text = f"{value:.2f}"
    return text.replace(".", ",") if lang == "fr" else text


@pytest.mark.parametrize(("lang", "word"), [("en", "suspected"), ("fr", "supposé")])
def test_the_model_page_lists_suspects_apart_with_their_evidence(
    suspects_server: str, page: Any, lang: str, word: str
) -> None:
    base = suspects_server
    want = _api(
        base,
        f"models/{LLAMA}/lineage",
        include_suspected="true",
        min_confidence=0.5,
        max_depth=1,
    )
    children = {n["id"]: n for n in want["nodes"] if n.get("suspected") and n["depth"] == 1}
    assert children, "the sample has suspected children of Llama-3.1-8B-Instruct at 0.5"
    pg = page
    pg.goto(base + page_url(lang, "models", LLAMA))
    assert not pg.is_visible("#tree-suspects-list")
    pg.check("#tree-suspects input[name=include_suspected]")
    rows = pg.locator("#tree-suspects-list ul[data-direction=down] li")
    rows.first.wait_for()
    assert rows.count() == len(children)
    for i in range(rows.count()):
        row = rows.nth(i)
        node = children[row.get_attribute("data-id")]
        badge = row.locator(".badge.suspected").inner_text()
        assert badge == f"{word} {_decimal(lang, node['confidence'])}"
        # The evidence: each signal the API gives for that link, by name.
        edge = next(e for e in want["edges"] if e["child"] == node["id"])
        names = row.locator("dl.evidence-list dt").all_text_contents()
        assert names == [k.replace("_", " ") for k in edge["evidence"]]
        assert row.get_attribute("class").split().count("suspected") == 1
    # The declared tree is unchanged beside it; a stricter bound lists fewer.
    pg.fill("#tree-suspects input[name=min_confidence]", "0.7")
    pg.dispatch_event("#tree-suspects input[name=min_confidence]", "change")
    pg.wait_for_function(
        f"() => document.querySelectorAll('#tree-suspects-list ul[data-direction=down] li')"
        f".length === {sum(n['confidence'] >= 0.7 for n in children.values())}"
    )
    pg.fill("#tree-suspects input[name=min_confidence]", "0.5")
    pg.dispatch_event("#tree-suspects input[name=min_confidence]", "change")
    rows.first.wait_for()
    pg.locator("#tree-suspects-list details.evidence").first.evaluate("d => d.open = true")
    pg.locator("#tree-suspects-list").scroll_into_view_if_needed()
    pg.screenshot(path=str(SHOTS / f"suspects-model-{lang}.png"), full_page=False)
    assert pg.problems == []


@pytest.mark.parametrize(("lang", "word"), [("en", "suspected"), ("fr", "supposé")])
def test_the_graph_draws_suspects_dashed_with_their_confidence(
    suspects_server: str, page: Any, lang: str, word: str
) -> None:
    pg = page
    open_graph(pg, suspects_server, lang, "models", LLAMA, "?include_suspected=true&max_depth=2")
    st = check_readable(pg, 60)
    sus = [e for e in st["edges"] if e["suspected"]]
    assert sus and all(e["dashed"] for e in sus)
    assert not any(e["dashed"] for e in st["edges"] if not e["suspected"])
    for e in sus:
        assert re.fullmatch(rf"{word} \d[.,]\d\d", e["label"]), e["label"]
        assert e["evidence"] and "name_match" in e["evidence"]
    # Items only a suspect reaches are marked.
    assert any(n["suspected"] for n in st["nodes"])
    # Hovering a suspected link shows its evidence; clicking it, the side panel.
    edge = sus[0]
    pos = pg.evaluate(
        """([s, t]) => { const cy = window.filiationGraph.cy();
            const e = cy.edges().filter((x) => x.data('source') === s && x.data('target') === t)[0];
            const p = e.renderedMidpoint(); const r = cy.container().getBoundingClientRect();
            e.emit('mouseover', [{ renderedPosition: p }]);
            return { x: r.left + p.x, y: r.top + p.y }; }""",
        [edge["source"], edge["target"]],
    )
    tip = pg.locator("#graph-view .graph-tip")
    assert tip.is_visible() and word in tip.inner_text() and "name match" in tip.inner_text()
    pg.evaluate(
        """([s, t]) => { const cy = window.filiationGraph.cy();
            cy.edges().filter((x) => x.data('source') === s && x.data('target') === t)[0]
              .emit('tap'); }""",
        [edge["source"], edge["target"]],
    )
    panel = pg.locator("#graph-view .gp-evidence")
    assert panel.is_visible()
    assert "name match" in panel.locator("dl").inner_text()
    assert pos["x"] > 0
    shot(pg, f"suspects-{lang}")
    pg.screenshot(path=str(SHOTS / f"suspects-graph-{lang}.png"))
    # Off again: the same drawing without any suspect.
    pg.uncheck("#graph-view input[name=include_suspected]")
    pg.click("#graph-view .graph-draw")
    pg.wait_for_function("() => window.filiationGraph.state().draws >= 2")
    pg.wait_for_selector('#graph-view .graph[data-ready="true"]')
    plain = state(pg)
    assert not any(e["suspected"] for e in plain["edges"])
    assert not any(n["suspected"] for n in plain["nodes"])
    assert pg.problems == [] and pg.warnings == []


def test_a_large_drawing_in_webgl_draws_suspects_dashed_with_their_confidence(
    suspects_server: str, page: Any
) -> None:
    """Beyond 300 items the drawing is WebGL (static/graph/webgl.js): suspected links are drawn
    on sigma's 2D layer, labelled with their confidence where the link's middle is in view."""
    pg = page
    query = "?max_depth=all&budget=2000&width=100&include_suspected=true&min_confidence=0"
    open_graph(pg, suspects_server, "en", "models", LLAMA, query)
    st = state(pg)
    assert st["renderer"] == "webgl" and len(st["nodes"]) > 300
    sus = [e for e in st["edges"] if e["suspected"]]
    assert sus and all(re.fullmatch(r"suspected \d\.\d\d", e["label"]) for e in sus)
    assert any(n["suspected"] for n in st["nodes"])
    # The middle of a suspected link brought to the view's centre: its label's box is there,
    # on the 2D layer under the items.
    drawn = pg.evaluate(
        """([s, t]) => { const g = window.filiationGraph, sg = g.sigma(), cy = g.cy();
            const a = cy.getElementById(s).position(), b = cy.getElementById(t).position();
            const box = document.querySelector('#graph-view .graph');
            const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
            sg.look(mid, { x: box.clientWidth / 2, y: box.clientHeight / 2 }, 1);
            const c = sg.renderer.getCanvases().edgeLabels, r = c.width / box.clientWidth;
            const px = c.getContext('2d').getImageData(Math.round(c.width / 2),
              Math.round(box.clientHeight / 2 * r), 1, 1).data;
            return px[3]; }""",
        [sus[0]["source"], sus[0]["target"]],
    )
    assert drawn > 0
    shot(pg, "suspects-webgl")
    assert pg.problems == []
    assert [w for w in pg.warnings if "GL Driver Message" not in w] == []
