"""The web explorer: HTML routes through FastAPI's test client, then a real browser.

The browser tests drive Debian's Chromium (``/usr/bin/chromium``, installed by
scripts/setup-browser.sh) with Playwright against ``filiation serve`` started in a subprocess
on a free loopback port, over a SQLite store of the bundled sample. Screenshots go to
``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from html import unescape as html_unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

import filiation
from filiation import i18n
from filiation.api import create_app
from filiation.web import rendering
from filiation.web.views import author as author_view
from tests.web_fixtures import AUTHOR, DATASET, GRAPH_READY, LLAMA, page_url, shot

WEB = Path(__file__).resolve().parents[1] / "src" / "filiation" / "web"
HOSTILE = "<script>alert(1)</script>/x\"'&"


# -- the HTML routes, through the test client ------------------------------------------------------
@pytest.fixture(scope="module")
def client(sample_db: Any) -> Iterator[TestClient]:
    with TestClient(create_app(sample_db)) as c:
        yield c


def html(client: TestClient, url: str, status: int = 200, **headers: str) -> str:
    r = client.get(url, headers={"accept": "text/html", **headers})
    assert r.status_code == status, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    # Nothing inline: every script is a file, no style element or attribute, no handlers.
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), url
    assert "<style" not in r.text and " style=" not in r.text, url
    assert not re.search(r"\son[a-z]+=", r.text), url
    return r.text


@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,fr;q=0.5,en;q=0.4", "fr"),
        ("de, es", "en"),
        ("en;q=0.2, fr;q=0.8", "fr"),
        ("", "en"),
    ],
)
def test_root_sends_the_browser_to_its_language(client, accept: str, lang: str) -> None:
    r = client.get("/", headers={"accept-language": accept}, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == f"/{lang}/"
    assert "accept-language" in r.headers["vary"].lower()


def test_home_lists_the_most_derived_families(client, sample) -> None:
    text = html(client, "/en/")
    assert 'lang="en"' in text and "Most derived families" in text
    top = sample.entry_points().families
    assert top and top[0].descendants == max(n.descendants for n in top)
    best = (top[0].id, top[0].descendants)
    assert best[1] >= sample.show(LLAMA).descendants
    first = re.search(
        r'<ol class="nodes" id="families">\s*<li[^>]*>.*?<a href="([^"]+)"', text, re.S
    )
    assert first and first.group(1) == page_url("en", "models", best[0])
    assert "Familles les plus dérivées" in html(client, "/fr/")


def test_model_page_shows_indicators_family_and_ranking(client, sample) -> None:
    d = sample.show(LLAMA)
    text = html(client, page_url("en", "models", LLAMA))
    assert f'<span class="node-id">{LLAMA}</span>' in text.replace("<wbr>", "")
    # the heading may wrap after each separator, but not inside the version "3.1"
    assert '<span class="node-id">meta-<wbr>llama/<wbr>Llama-<wbr>3.1-<wbr>8B-' in text
    assert f'href="https://huggingface.co/{LLAMA}"' in text
    assert f'href="/en/authors/{d.author}"' in text
    for ds in d.datasets:
        assert f'href="{page_url("en", "datasets", ds.id)}"' in text
    assert f'<strong id="n-descendants">{d.descendants:,}</strong>' in text
    assert "Ranked by number of descendants, then downloads (30 days), then likes." in text
    for n in d.important_children:
        assert f'href="/en{rendering.node_path(n.kind, n.id)}"' in text
    for rel, count in d.children_by_relation.items():
        assert re.search(rf"rel-{rel}.*?</th><td>\d+</td><td>{count}</td>", text)
    fr = html(client, page_url("fr", "models", LLAMA))
    assert "Classés par nombre de descendants, puis téléchargements (30 jours)" in fr
    assert f'href="{page_url("en", "models", LLAMA)}"' in fr  # the switch keeps the id


def test_model_page_download_menu_offers_every_export_format(client, sample) -> None:
    """The menu is the service's list of formats (``Genealogy.export_formats``), each link
    answering with a file of that format, labelled in the page's language."""
    formats = sample.export_formats()
    assert {"json", "graphml", "csv", "cyclonedx"} <= set(formats)
    for lang in ("en", "fr"):
        text = html(client, page_url(lang, "models", LLAMA))
        menu = re.findall(r'<details class="downloads" id="downloads">(.*?)</details>', text, re.S)
        links = re.findall(r'<a href="([^"]+)" download data-format="([^"]+)">([^<]+)</a>', menu[0])
        assert [name for _, name, _ in links] == list(formats)
        for url, name, label in links:
            assert html_unescape(label) == i18n.table(lang).get(f"export.{name}", formats[name])
            r = client.get(html_unescape(url))
            assert r.status_code == 200, (url, r.text[:200])
            expected = sample.export(LLAMA, name)
            assert r.headers["content-type"].startswith(expected.media_type)
            assert expected.filename in r.headers["content-disposition"]


def test_dataset_and_author_pages_page_through_everything(client, sample) -> None:
    d = sample.show(DATASET, kind="dataset", relations=["trained_on"], limit=1000)
    impact = sample.impact(DATASET)
    text = html(client, page_url("en", "datasets", DATASET))
    trained = re.findall(r'<ol class="nodes" id="trained">(.*?)</ol>', text, re.S)[0]
    assert trained.count("<li") == min(rendering.PAGE_SIZE, len(d.important_children))
    assert f"<strong>{len(impact):,}</strong>" in text
    published = sample.show(AUTHOR, kind="author", relations=["published_by"], limit=10_000)
    total = published.children_by_relation["published_by"]
    seen: list[str] = []
    offset = 0
    while True:
        text = html(client, page_url("en", "authors", AUTHOR) + f"?offset={offset}")
        block = re.findall(r'<ol class="nodes" id="published">(.*?)</ol>', text, re.S)[0]
        block = block.replace("<wbr>", "")  # ids break after their separators
        seen += re.findall(r'<a href="/en/[a-z]+/[^"]+">([^<]+)</a>', block)
        if 'class="next"' not in text:
            break
        offset += rendering.PAGE_SIZE
    assert len(seen) == total == len(set(seen))
    assert seen == [n.id for n in published.important_children][: len(seen)] or set(seen) == {
        n.id for n in published.important_children
    }


def test_hostile_ids_are_escaped_and_unknown_ones_get_the_404_page(client) -> None:
    for lang in i18n.LANGUAGES:
        for kind in ("models", "datasets", "authors"):
            text = html(client, f"/{lang}/{kind}/" + quote(HOSTILE, safe=""), status=404)
            assert "<script>alert" not in text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
            assert 'href="/' + ("fr" if lang == "en" else "en") + f"/{kind}/%3Cscript" in text
    text = html(client, page_url("en", "models", LLAMA[:-1]), status=404)
    assert "Did you mean" in text and f'href="{page_url("en", "models", LLAMA)}"' in text
    assert "Introuvable" in html(client, "/fr/no/such/page", status=404)
    assert "Not found" in html(client, "/nowhere", status=404)
    long_id = "someone/" + "v1.2-" * 60
    html(client, page_url("en", "models", long_id), status=404)
    # The API keeps answering JSON.
    r = client.get("/api/nowhere", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert "<script>" not in html(client, "/en/search?q=" + quote(HOSTILE))


def test_static_files_translations_and_the_graph_library(client, monkeypatch) -> None:
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/model.js").status_code == 200
    assert client.get("/i18n/fr.json").json()["views.tree"] == "Arbre"
    assert client.get("/i18n/de.json").status_code == 404
    if rendering.vendor_file("cytoscape.min.js") is None:
        pytest.fail("cytoscape is not installed: run scripts/setup-web.sh")
    r = client.get("/static/vendor/cytoscape.min.js")
    assert r.status_code == 200 and b"cytoscape" in r.content[:2000]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert 'src="/static/vendor/cytoscape.min.js"' in html(client, page_url("en", "models", LLAMA))
    monkeypatch.setitem(rendering.VENDOR, "cytoscape.min.js", [Path("/nonexistent/cytoscape.js")])
    text = html(client, page_url("en", "models", LLAMA))
    assert 'id="graph-missing"' in text and "scripts/setup-web.sh" in text
    assert "cytoscape.min.js" not in text
    assert client.get("/static/vendor/cytoscape.min.js").status_code == 404


def test_every_text_is_translated() -> None:
    en, fr = i18n.table("en"), i18n.table("fr")
    assert set(en) == set(fr)
    texts = [
        t
        for v in [*en.values(), *fr.values()]
        for t in (v.values() if isinstance(v, dict) else [v])
    ]
    assert all(t.strip() for t in texts)
    used: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", path.read_text()))
    for path in (WEB / "static").rglob("*.js"):
        used |= set(re.findall(r"""F\.t\(\s*["']([\w.]+)["']""", path.read_text()))
    used = {k for k in used if not k.endswith((".", "_"))}  # prefixes of computed keys
    assert used, "no translated text found"
    assert used <= set(en), used - set(en)
    for prefix in ("rel.", "relp.", "kind.", "rank."):
        assert any(k.startswith(prefix) for k in en)
    assert json.loads((WEB / "package.json").read_text())["dependencies"]["cytoscape"]


# -- a real browser against `filiation serve` (tests/web_fixtures.py) -------------------------
def test_browser_search_model_tree_graph_and_language(server: str, page: Any, web_db: Path) -> None:
    g = filiation.open(web_db)
    pg = page
    pg.goto(server + "/")
    assert pg.url == server + "/en/"
    assert pg.locator("#families li").count() > 0
    pg.fill("#q", "Llama-3.1-8B-Inst")
    option = pg.locator("#suggest-home [role=option]", has_text=LLAMA).first
    option.wait_for()
    shot(pg, "1-home-suggestions")
    option.click()
    pg.wait_for_url(server + page_url("en", "models", LLAMA))
    assert pg.locator("h1 .node-id").inner_text() == LLAMA

    # The tree: ancestors above, descendants grouped by relation, with real children.
    parent = g.parents(LLAMA)[0]
    pg.locator(".ancestors .generation a", has_text=parent.id).first.wait_for()
    small = pg.locator('#tree-descendants details.group[data-relation="adapter"]')
    small.locator("li.node").first.wait_for()
    adapters = [n.id for n in g.children(LLAMA, relations=["adapter"], limit=None)]
    shown = small.locator(":scope > ul > li > a").all_inner_texts()
    assert sorted(shown) == sorted(adapters)

    # A large group is summarised, then paged on demand.
    big = pg.locator('#tree-descendants details.group[data-relation="finetune"]')
    finetunes = g.children(LLAMA, relations=["finetune"], limit=None)
    assert big.get_attribute("open") is None
    assert f"+ {len(finetunes)} fine-tunes" in big.locator("summary").inner_text()
    big.locator("summary").click()
    rows = big.locator(":scope > ul > li")
    pg.wait_for_function(
        "() => document.querySelectorAll('details[data-relation=finetune] > ul > li').length > 0"
    )
    first_page = rows.count()
    assert 0 < first_page < len(finetunes)
    more = big.locator(":scope > button.more")
    assert more.inner_text() == f"+ {len(finetunes) - first_page} fine-tunes"
    more.click()
    pg.wait_for_function(
        f"() => document.querySelectorAll('details[data-relation=finetune] > ul > li').length"
        f" > {first_page}"
    )
    pg.wait_for_timeout(100)
    ids = big.locator(":scope > ul > li > a").all_inner_texts()
    assert ids == [n.id for n in finetunes][: len(ids)]
    # A child opens its own children.
    child = next(n for n in finetunes[: len(ids)] if n.descendants > 0)
    row = big.locator(f':scope > ul > li[data-id="{child.id}"]')
    row.locator("button.toggle").click()
    row.locator(".subtree details.group").first.wait_for()
    shot(pg, "2-model-tree")

    # The graph: the drawing the service plans for the page's width (static/graph/).
    pg.click("#tab-graph")
    pg.wait_for_selector(GRAPH_READY)
    want = _planned(pg, g, LLAMA)
    assert _drawn(pg) == {n["id"] for n in want.nodes}
    assert str(len(want.nodes)) in pg.locator("#graph-view .graph-status").inner_text()
    shot(pg, "3-model-graph")
    # Click a node at the edge of the drawing: its panel, its page, the graph centred on it.
    leaf = next(n for n in reversed(want.nodes) if n["kind"] == "model" and n["layer"] > 0)
    tap = "id => { window.filiationGraph.cy().getElementById(id).emit('tap'); return true; }"
    pg.evaluate(tap, leaf["id"])
    assert pg.locator("#graph-view .gp-id").inner_text() == leaf["id"]
    assert pg.locator("#graph-view .gp-open").get_attribute("href") == page_url(
        "en", "models", leaf["id"]
    )
    pg.click("#graph-view .gp-centre")
    pg.wait_for_url("**" + page_url("en", "models", leaf["id"]) + "?max_depth=2")
    pg.wait_for_selector(GRAPH_READY)
    assert leaf["id"] in _drawn(pg)
    shot(pg, "4-graph-centred")
    pg.goto(server + page_url("en", "models", LLAMA))

    # The language switch keeps the page and changes every text.
    pg.click(".lang-switch")
    pg.wait_for_url(server + page_url("fr", "models", LLAMA))
    assert pg.locator("html").get_attribute("lang") == "fr"
    assert pg.locator("#tab-tree").inner_text() == "Arbre"
    assert pg.locator("#h-ind").inner_text() == "Indicateurs"
    pg.locator('#tree-descendants details.group[data-relation="finetune"] summary').wait_for()
    assert "affinages" in pg.locator("#tree-descendants").inner_text()
    shot(pg, "5-model-fr")
    assert pg.problems == []


def test_browser_dataset_author_and_404_pages(server: str, page: Any) -> None:
    pg = page
    pg.goto(server + page_url("fr", "datasets", DATASET))
    assert pg.locator("#trained li").count() > 0 and pg.locator("#impact li").count() > 0
    shot(pg, "6-dataset-fr")
    pg.goto(server + page_url("en", "authors", AUTHOR))
    assert pg.locator("#published li").count() > 0
    r = pg.goto(server + "/en/models/" + quote(HOSTILE, safe=""))
    assert r is not None and r.status == 404
    assert pg.locator("h1").inner_text() == "Not found"
    assert HOSTILE.split("/")[0] in pg.locator(".notfound").inner_text()
    shot(pg, "7-not-found")
    assert pg.problems == [] or all("404" in p for p in pg.problems)


# -- expert mode, downloads, the graphs of data set and author pages ---------------------------
def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (and a check that it is a PNG)."""
    import struct

    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


SVG = "{http://www.w3.org/2000/svg}"


def _svg_nodes(name: str, data: bytes) -> tuple[dict[str, str], int]:
    """A downloaded SVG parsed back as XML: each item's id with the label drawn in its box
    (its lines joined), and the number of links."""
    from xml.etree import ElementTree as ET

    assert name.endswith(".svg")
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg" and float(root.get("width", 0)) > 100
    groups = list(root.iter(f"{SVG}g"))
    labels = {}
    for g in groups:
        if g.get("class") == "node":
            texts = [t.text or "" for t in g.iter(f"{SVG}text")]
            assert g.find(f"{SVG}title") is not None and all(texts)
            labels[g.get("data-id") or ""] = "".join(texts)
    return labels, sum(1 for g in groups if g.get("class") == "link")


def _check_svg(pg: Any, name: str, data: bytes) -> None:
    """The SVG holds every item drawn, under its whole label (author and name, as on screen),
    and every link."""
    labels, links = _svg_nodes(name, data)
    drawn = pg.evaluate("() => window.filiationGraph.state()")["nodes"]
    assert labels == {n["id"]: n["label"].replace("\n", "") for n in drawn}
    assert links == pg.evaluate("() => window.filiationGraph.cy().edges().length") > 0


def _arcs(pg: Any) -> dict[tuple[str, str], bool]:
    """Each link drawn as an arc inside a row: whether it rises (its middle above its ends by
    20 px at least) when both ends sit in one row, or bows 20 px off the straight line."""
    return {
        (a, b): ok
        for a, b, ok in pg.evaluate(
            """() => window.filiationGraph.cy().edges('.same-layer').map(e => {
                const s = e.sourceEndpoint(), t = e.targetEndpoint(), c = e.controlPoints()[0];
                const mid = {x: (s.x + 2 * c.x + t.x) / 4, y: (s.y + 2 * c.y + t.y) / 4};
                const dx = t.x - s.x, dy = t.y - s.y, len = Math.hypot(dx, dy);
                const off = Math.abs((mid.x - s.x) * dy - (mid.y - s.y) * dx) / len;
                const rises = Math.abs(s.y - t.y) < 1 ? mid.y < Math.min(s.y, t.y) - 20 : off > 20;
                return [e.source().id(), e.target().id(), rises];
            })"""
        )
    }


def _drawn(pg: Any) -> set[str]:
    return {n["id"] for n in pg.evaluate("() => window.filiationGraph.state()")["nodes"]}


def _planned(pg: Any, g: Any, node_id: str, **kwargs: Any) -> Any:
    """What the service plans for the drawing the page asked for (its width and size)."""
    asked = pg.evaluate("() => window.filiationGraph.view()")
    return g.graph(node_id, width=asked["width"], budget=asked["budget"], **kwargs)


def _download(pg: Any, selector: str) -> tuple[str, bytes]:
    with pg.expect_download() as info:
        pg.click(selector)
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_browser_expert_mode_filters_table_and_downloads(
    server: str, page: Any, web_db: Path
) -> None:
    import csv
    import io
    import zipfile

    import networkx as nx

    g = filiation.open(web_db)
    pg = page
    pg.goto(server + "/en/")
    pg.fill("#q", "Llama-3.1-8B-Inst")
    option = pg.locator("#suggest-home [role=option]", has_text=LLAMA).first
    option.wait_for()
    option.click()
    pg.wait_for_url(server + page_url("en", "models", LLAMA))

    # Both views show real nodes.
    pg.locator("#tree-descendants details.group li.node").first.wait_for()
    pg.click("#tab-graph")
    pg.wait_for_selector(GRAPH_READY)
    everything = _planned(pg, g, LLAMA)
    assert _drawn(pg) == {n["id"] for n in everything.nodes}
    # Layers: ancestors above the model, each generation in its own row below the previous one.
    ys = pg.evaluate(
        "() => Object.fromEntries("
        "window.filiationGraph.cy().nodes().map(n => [n.id(), n.position('y')]))"
    )
    by_layer: dict[int, list[float]] = {}
    for n in everything.nodes:
        by_layer.setdefault(n["layer"], []).append(ys[n["id"]])
    layers = sorted(by_layer)
    assert layers[0] < 0 < layers[-1]
    for upper, lower in itertools.pairwise(layers):
        assert max(by_layer[upper]) < min(by_layer[lower]), (upper, lower)
    # A link inside one generation (a merge of two siblings) arcs over its row.
    layer = {n["id"]: n["layer"] for n in everything.nodes}
    same = {
        (e["parent"], e["child"])
        for e in everything.edges
        if layer[e["parent"]] == layer[e["child"]]
    }
    arcs = _arcs(pg)
    assert set(arcs) == same and all(arcs.values()), arcs

    # Expert mode: a filter applied by the server changes what is drawn and the table.
    pg.click("#graph-view-expert summary")
    rows = pg.locator("#graph-view .graph-table tbody tr")
    assert rows.count() == len(everything.nodes)
    whole = g.lineage(LLAMA, max_depth=2)
    cut = sorted(n["downloads"] or 0 for n in whole.nodes)[len(whole.nodes) * 3 // 4]
    pg.fill("#graph-view input[name=min_downloads]", str(cut))
    pg.uncheck('#graph-view input[name=relation][value="merge"]')
    pg.fill("#graph-view input[name=since]", "2024-01-01")
    draws = pg.evaluate("() => window.filiationGraph.state().draws")
    pg.click("#graph-view .graph-draw")
    pg.wait_for_function(f"() => window.filiationGraph.state().draws > {draws}", polling=100)
    rels = ["finetune", "quantized", "adapter", "unspecified"]
    filters = {"relations": rels, "min_downloads": cut, "since": "2024-01-01"}
    want = _planned(pg, g, LLAMA, **filters)
    want_ids = {n["id"] for n in want.nodes}
    assert _drawn(pg) == want_ids and want_ids != {n["id"] for n in everything.nodes}
    models = [n for n in want.nodes if n["kind"] == "model" and n["id"] != LLAMA]
    assert models and all(n["downloads"] >= cut for n in models)
    assert all(n["relation"] != "merge" for n in want.nodes)
    assert rows.count() == len(want_ids)
    # Sorting by downloads (descending first) puts the best known first.
    pg.click('#graph-view .graph-table button.sort[data-key="downloads"]')
    first = rows.first.locator("td a").inner_text()
    assert first == max(want.nodes, key=lambda n: n.get("downloads") or 0)["id"]
    pg.click('#graph-view .graph-table button.sort[data-key="id"]')
    ids = rows.locator("td:first-child a").all_inner_texts()
    assert ids == sorted(ids, key=str.lower) or ids == sorted(ids)
    shot(pg, "8-expert-filtered")

    # Each download is a valid file holding the lineage with the drawing's filters (the
    # files hold every member; the drawing groups them).
    lin = g.lineage(LLAMA, max_depth=2, **filters)
    lin_ids = {n["id"] for n in lin.nodes}
    assert {n["id"] for n in models} <= lin_ids
    name, data = _download(pg, '#graph-view a[data-format="json"]')
    assert name.endswith(".json")
    doc = json.loads(data)
    assert {n["id"] for n in doc["nodes"]} == lin_ids
    assert doc["filters"] == {"min_downloads": cut, "since": "2024-01-01T00:00:00Z"}
    name, data = _download(pg, '#graph-view a[data-format="graphml"]')
    graph = nx.read_graphml(io.BytesIO(data))
    assert name.endswith(".graphml") and set(graph.nodes) == lin_ids
    assert graph.number_of_edges() == len(lin.edges)
    assert all(graph.nodes[i]["downloads"] >= cut for i in lin_ids - {LLAMA})
    name, data = _download(pg, '#graph-view a[data-format="csv"]')
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        nodes = list(csv.DictReader(io.StringIO(z.read("nodes.csv").decode())))
        links = list(csv.DictReader(io.StringIO(z.read("links.csv").decode())))
    assert name.endswith(".csv.zip")
    assert {r["id"] for r in nodes} == lin_ids and len(links) == len(lin.edges)
    assert {r["relation"] for r in links} <= set(rels)
    name, data = _download(pg, "#graph-view .download-png")
    width, height = _png_size(data)
    assert name.endswith(".png") and width > 200 and height > 100
    name, data = _download(pg, "#graph-view .download-svg")
    _check_svg(pg, name, data)

    # Unticking every kind is refused with a message: nothing redrawn, the URL kept.
    url = pg.url
    for k in ("model", "dataset", "author"):
        pg.uncheck(f'#graph-view input[name=kind][value="{k}"]')
    pg.click("#graph-view .graph-draw")
    status = pg.locator("#graph-view .graph-status").inner_text()
    assert "Tick at least one box" in status and "Node kinds" in status
    assert pg.get_attribute("#graph-view fieldset.kinds", "aria-invalid") == "true"
    assert _drawn(pg) == want_ids and pg.url == url
    shot(pg, "8b-expert-no-kind")
    for k in ("model", "dataset", "author"):
        pg.check(f'#graph-view input[name=kind][value="{k}"]')

    # The settings are in the URL; the language switch keeps them and translates the page.
    assert f"min_downloads={cut}" in pg.url and "since=2024-01-01" in pg.url
    pg.click(".lang-switch")
    pg.wait_for_url(server + page_url("fr", "models", LLAMA) + "?**")
    pg.wait_for_selector(GRAPH_READY)  # the graph tab opens by itself, filters restored
    assert pg.locator("#tab-graph").get_attribute("aria-selected") == "true"
    assert pg.locator("#graph-view-expert").get_attribute("open") is not None
    assert "Mode expert" in pg.locator("#graph-view-expert summary").inner_text()
    assert pg.input_value("#graph-view input[name=min_downloads]") == str(cut)
    assert not pg.is_checked('#graph-view input[name=relation][value="merge"]')
    assert _drawn(pg) == want_ids
    heads = pg.locator("#graph-view .graph-table thead th").all_inner_texts()
    assert heads[:2] == ["Identifiant", "Type"]
    assert "éléments" in pg.locator("#graph-view .graph-status").inner_text()
    shot(pg, "9-expert-fr")
    assert pg.problems == []


def test_browser_author_families_and_graphs_of_dataset_and_author(
    server: str, page: Any, web_db: Path
) -> None:
    g = filiation.open(web_db)
    pg = page
    pg.goto(server + page_url("en", "authors", AUTHOR))
    fam = g.families(AUTHOR, limit=author_view.FAMILIES)
    roots = pg.locator("#families tbody th a").all_inner_texts()
    assert roots == [f.root.id for f in fam.families]
    counts = pg.locator("#families tbody td:nth-child(2)").all_inner_texts()
    assert counts == [f"{f.members:,}" for f in fam.families]
    pg.wait_for_selector(GRAPH_READY)
    rels = ["published_by", "finetune", "quantized", "adapter", "merge", "unspecified"]
    drawing = _planned(pg, g, AUTHOR, kind="author")
    assert _drawn(pg) == {n["id"] for n in drawing.nodes}
    assert {n["relation"] for n in drawing.nodes if n["layer"] == 1} == {"published_by"}
    shot(pg, "10-author")

    # Expert mode on the author's graph: published_by always followed, the same filters,
    # table and downloads as on a model page.
    pg.click("#graph-view-expert summary")
    fixed = '#graph-view input[name=relation][value="published_by"]'
    assert pg.is_checked(fixed) and pg.is_disabled(fixed)
    lin = g.descendants(AUTHOR, kind="author", relations=rels, max_depth=2)
    cut = sorted(n["downloads"] or 0 for n in lin.nodes)[len(lin.nodes) // 2]
    pg.fill("#graph-view input[name=min_downloads]", str(cut))
    pg.uncheck('#graph-view input[name=relation][value="quantized"]')
    draws = pg.evaluate("() => window.filiationGraph.state().draws")
    pg.click("#graph-view .graph-draw")
    pg.wait_for_function(f"() => window.filiationGraph.state().draws > {draws}", polling=100)
    rels.remove("quantized")
    kept = _planned(pg, g, AUTHOR, kind="author", relations=rels, min_downloads=cut)
    kept_ids = {n["id"] for n in kept.nodes}
    assert _drawn(pg) == kept_ids
    assert all((n.get("downloads") or 0) >= cut for n in kept.nodes if n["kind"] == "model")
    assert pg.locator("#graph-view .graph-table tbody tr").count() == len(kept_ids)
    exported = g.descendants(AUTHOR, kind="author", relations=rels, max_depth=2, min_downloads=cut)
    name, data = _download(pg, '#graph-view a[data-format="json"]')
    assert name == f"{AUTHOR}.json" and json.loads(data) == exported.to_dict()
    name, data = _download(pg, "#graph-view .download-svg")
    _check_svg(pg, name, data)
    shot(pg, "10b-author-expert")

    pg.goto(server + page_url("fr", "datasets", DATASET))
    pg.wait_for_selector(GRAPH_READY)
    impact = _planned(pg, g, DATASET, kind="dataset")
    assert _drawn(pg) == {n["id"] for n in impact.nodes}
    kinds = {n["kind"] for n in pg.evaluate("() => window.filiationGraph.state()")["nodes"]}
    assert kinds - {"group"} == {"dataset", "model"}
    shot(pg, "11-dataset-graph-fr")

    # Expert mode on the data set's graph: its downloads are its impact set, filtered alike.
    pg.click("#graph-view-expert summary")
    pg.uncheck('#graph-view input[name=kind][value="dataset"]')
    whole = g.impact(DATASET, max_depth=2)
    dates = sorted(n["created_at"][:10] for n in whole.to_dict()["nodes"] if n["created_at"])
    until = dates[len(dates) // 2]
    pg.fill("#graph-view input[name=until]", until)
    draws = pg.evaluate("() => window.filiationGraph.state().draws")
    pg.click("#graph-view .graph-draw")
    pg.wait_for_function(f"() => window.filiationGraph.state().draws > {draws}", polling=100)
    kept = _planned(pg, g, DATASET, kind="dataset", kinds=["model", "author"], until=until)
    assert _drawn(pg) == {n["id"] for n in kept.nodes}
    assert {n["id"] for n in kept.nodes} != {n["id"] for n in impact.nodes}
    name, data = _download(pg, '#graph-view a[data-format="json"]')
    doc = json.loads(data)
    exported = g.impact(DATASET, max_depth=2, kinds=["model", "author"], until=until)
    assert doc["direction"] == "impact"
    assert {n["id"] for n in doc["nodes"]} == {n["id"] for n in exported.nodes}
    name, data = _download(pg, "#graph-view .download-svg")
    _check_svg(pg, name, data)
    assert "kind=model%2Cauthor" in pg.url or "kind=model,author" in pg.url
    shot(pg, "11b-dataset-expert-fr")
    assert pg.problems == []
