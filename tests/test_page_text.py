"""Text that reads in a real Chromium: no word broken in the middle (a line may end after a
separator of an id, ``/ - _ .``, or at a space, never between two letters or digits) in the
graph's side panel, the search results and the dossier's tables and publishers, at a desktop
and a phone width, none running out of the page; and no console warning on these pages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_graph_page import open_graph
from tests.web_fixtures import LLAMA

#: For every element matched by the selector, the places where a line ends between two
#: letters or digits (each character's box, read with a Range, starts a new line).
MID_WORD = """
(selector) => {
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let prev = null, prevTop = null;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.data.length; i++) {
        const r = document.createRange();
        r.setStart(node, i); r.setEnd(node, i + 1);
        const rect = r.getClientRects()[0];
        if (!rect || !rect.width) { continue; }
        const ch = node.data[i];
        if (prevTop !== null && rect.top > prevTop + 2 && /[\\p{L}\\p{N}]/u.test(prev)
            && /[\\p{L}\\p{N}]/u.test(ch)) {
          out.push(el.textContent.trim().slice(0, 80));
        }
        prev = ch; prevTop = rect.top;
      }
    }
  }
  return out;
}
"""


def _warnings(pg: Any) -> list[str]:
    found: list[str] = []
    pg.on("console", lambda m: found.append(m.text) if m.type == "warning" else None)
    return found


@pytest.mark.parametrize("width", [1400, 390])
def test_search_results_and_dossier_break_no_word(server: str, page: Any, width: int) -> None:
    pg = page
    warnings = _warnings(pg)
    pg.set_viewport_size({"width": width, "height": 900})
    pg.goto(server + "/en/search?q=llama&offset=50")
    assert pg.locator("#search-results li").count() == 50
    assert pg.evaluate(MID_WORD, "#search-results li a") == []
    pg.goto(server + f"/fr/dossier?model={LLAMA}")
    assert pg.locator("#dossier-flags tr").count() > 1
    assert pg.evaluate(MID_WORD, "#dossier-flags td a, #affected td a") == []
    # the publishers' ids (Nexesenex/Llama_3.1_8b_…) break after a separator, inside the page
    assert pg.evaluate(MID_WORD, "#publishers h3 a.id, #publishers ul.models a.id") == []
    assert pg.evaluate("() => document.documentElement.scrollWidth") <= width
    assert warnings == [] and pg.problems == []


def test_the_graph_panel_breaks_no_word(server: str, page: Any) -> None:
    pg = page
    open_graph(pg, server, "en", "models", LLAMA)
    ids = pg.evaluate(
        "() => window.filiationGraph.cy().nodes('[kind != \"group\"]').map((n) => n.id())"
    )
    longest = sorted(ids, key=len)[-3:]
    for node_id in longest:
        # Braces: the tapped element must not be returned, or Playwright serialises the whole
        # Cytoscape graph it points to (gigabytes of the page's heap, at times a crash).
        tap = "(id) => { window.filiationGraph.cy().getElementById(id).emit('tap'); }"
        pg.evaluate(tap, node_id)
        assert pg.locator("#graph-view .gp-id").inner_text().replace("\n", "") == node_id
        assert pg.evaluate(MID_WORD, "#graph-view .gp-id") == []
    assert pg.warnings == [] and pg.problems == []
