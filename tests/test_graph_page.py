"""The graph of a family in a real Chromium (tests/web_fixtures.py: `filiation serve`
over a SQLite store of the bundled sample): what is drawn is read back from the page with
``window.filiationGraph.state()`` (label boxes in page pixels) and must read at every family
size: a bounded number of items, every label legible (≥ 11 px) and whole, no two labels
overlapping, generations in rows; a group opens on click; the exports carry the same labels.
Also on a generated family of 50 k descendants. Screenshots go to artifacts/."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

import filiation
from filiation.lineage.index import DEFAULT_RANKING
from tests.serving import serving
from tests.test_graph_view import HUGE, HUGE_CHILDREN, synthetic_family
from tests.web_fixtures import ARTIFACTS, DATASET, GRAPH_READY, LLAMA, page_url

BASE = "meta-llama/Llama-3.1-8B"
MIN_PX = 11


@pytest.fixture(scope="module")
def huge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = synthetic_family(tmp_path_factory.mktemp("huge"))
    with serving(db, tmp_path_factory.mktemp("serve-huge") / "serve.log") as base:
        yield base


def open_graph(pg: Any, base: str, lang: str, kind: str, node_id: str, query: str = "") -> None:
    warnings: list[str] = []
    pg.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    pg.warnings = warnings
    pg.set_viewport_size({"width": 1400, "height": 900})
    pg.goto(base + page_url(lang, kind, node_id) + query)
    if kind == "models" and not query:
        pg.click("#tab-graph")
    pg.wait_for_selector(GRAPH_READY, timeout=20_000)


def state(pg: Any) -> dict[str, Any]:
    return pg.evaluate("() => window.filiationGraph.state()")  # type: ignore[no-any-return]


def plan(pg: Any) -> dict[str, Any]:
    return pg.evaluate("() => window.filiationGraph.view()")  # type: ignore[no-any-return]


def check_readable(pg: Any, most: int, whole: bool = True) -> dict[str, Any]:
    """Every label drawn is visible (``whole``; else those of the start and its row at least),
    at least MIN_PX high, whole (author and name), and no two label boxes overlap; at most
    ``most`` items; generations in separate rows."""
    st = state(pg)
    nodes = st["nodes"]
    assert 1 < len(nodes) <= most
    assert st["fontPx"] >= MIN_PX
    hidden = [n["id"] for n in nodes if not n["labelVisible"]]
    if whole:
        assert not hidden, hidden
    else:
        assert all(n["labelVisible"] for n in nodes if n["layer"] in (0, 1)), hidden
    for n in nodes:
        if n["kind"] != "group":
            lines = n["label"].split("\n")[: -1 if n["more"] else None]
            assert "".join(lines) == n["id"], n  # whole: author/ and full name
            assert n["title"] == n["id"]
        else:
            assert n["label"].startswith("+") and n["members"] > 1
    for a, b in itertools.combinations(nodes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"] + 0.5
            or b["x"] + b["w"] <= a["x"] + 0.5
            or a["y"] + a["h"] <= b["y"] + 0.5
            or b["y"] + b["h"] <= a["y"] + 0.5
        )
        assert apart, (a["id"], b["id"])
    rows: dict[int, list[dict[str, Any]]] = {}
    for n in nodes:
        rows.setdefault(n["layer"], []).append(n)
    layers = sorted(rows)
    for upper, lower in itertools.pairwise(layers):
        assert max(n["y"] + n["h"] for n in rows[upper]) < min(n["y"] for n in rows[lower])
    return st


def shot(pg: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.evaluate("() => document.querySelector('#graph-view').scrollIntoView()")
    pg.screenshot(path=str(ARTIFACTS / f"graph-{name}.png"))


@pytest.mark.parametrize(
    ("lang", "kind", "node_id"),
    [("en", "models", LLAMA), ("fr", "models", BASE), ("en", "datasets", DATASET)],
)
def test_default_drawing_reads_well(
    server: str,
    page: Any,
    web_db: Path,
    lang: str,
    kind: str,
    node_id: str,
) -> None:
    pg = page
    open_graph(pg, server, lang, kind, node_id)
    drawn = plan(pg)
    st = check_readable(pg, drawn["budget"] + 1)
    # What is drawn is what the service plans for that width.
    g = filiation.open(web_db)
    want = g.graph(node_id, kind=kind[:-1], width=drawn["width"], budget=drawn["budget"])
    assert {n["id"] for n in st["nodes"]} == {n["id"] for n in want.nodes}
    assert len(want.nodes) < want.family  # the family is bigger than the drawing: grouped
    status = pg.locator("#graph-view .graph-status").inner_text()
    assert f"{want.family:,}".replace(",", "\u202f" if lang == "fr" else ",") in status
    # The generations menu reaches the family's real number of generations.
    options = pg.locator("#graph-view select[name=max_depth] option").all_inner_texts()
    most = max(want.generations.values())
    assert str(most) in options and options[-1].startswith(("all", "toutes"))
    shot(pg, f"{lang}-{node_id.split('/')[-1]}")
    assert pg.problems == [] and pg.warnings == []


def test_a_group_opens_on_click_and_the_exports_carry_the_labels(
    server: str,
    page: Any,
    web_db: Path,
) -> None:
    pg = page
    open_graph(pg, server, "en", "models", LLAMA)
    before = state(pg)
    group = max((n for n in before["nodes"] if n["kind"] == "group"), key=lambda n: n["members"])
    planned = next(n for n in plan(pg)["nodes"] if n["id"] == group["id"])
    # A real click in the middle of the group's box.
    pg.evaluate(f"() => window.scrollTo(0, {group['y'] - 200})")
    scroll = pg.evaluate("() => [window.scrollX, window.scrollY]")
    cx, cy = group["x"] + group["w"] / 2 - scroll[0], group["y"] + group["h"] / 2 - scroll[1]
    pg.wait_for_timeout(300)  # Cytoscape takes in the scroll (its container's offset)
    pg.mouse.click(cx, cy)
    # The group opens on its next page of best-known members, in place of the first ones.
    pg.wait_for_function(
        "n => window.filiationGraph.state().draws > n"
        " && document.querySelector('#graph-view .graph').dataset.ready === 'true'",
        arg=before["draws"],
        polling=100,
        timeout=15_000,
    )
    after = check_readable(pg, plan(pg)["budget"] + 1)
    g = filiation.open(web_db)
    members = [
        c.id
        for c in g.children(
            LLAMA, relations=[planned["relation"]], limit=None, ranking=DEFAULT_RANKING
        )
    ]
    page_shown = [
        n["id"]
        for n in plan(pg)["nodes"]
        if n["relation"] == planned["relation"] and n["layer"] == 1 and n["kind"] != "group"
    ]
    start = planned["next_offset"]
    assert start > 0 and page_shown == members[start : start + len(page_shown)]
    assert not set(page_shown) & {n["id"] for n in before["nodes"]}
    still = next(n for n in after["nodes"] if n["id"] == group["id"])
    assert still["members"] == len(members) - len(page_shown)
    # The side panel says what the group stands for.
    meta = pg.locator("#graph-view .gp-meta").inner_text()
    assert meta.startswith(f"{still['members']} of the {len(members)} ")
    shot(pg, "en-group-opened")

    # SVG and PNG: the drawing as shown, every label whole, PNG at twice the size.
    pg.click("#graph-view-expert summary")
    with pg.expect_download() as info:
        pg.click("#graph-view .download-svg")
    svg = ET.fromstring(Path(info.value.path()).read_bytes())
    ns = "{http://www.w3.org/2000/svg}"
    labels = {}
    for el in svg.iter(f"{ns}g"):
        if el.get("class") == "node":
            labels[el.get("data-id")] = "".join(t.text or "" for t in el.iter(f"{ns}text"))
    assert labels == {n["id"]: n["label"].replace("\n", "") for n in after["nodes"]}
    assert all(float(t.get("font-size", 0)) >= MIN_PX for t in svg.iter(f"{ns}text"))
    # Link tooltips name a group by what it stands for, never by its internal id.
    tips = [t.text or "" for t in svg.iter(f"{ns}title")]
    assert any(" → +" in t for t in tips) and not any("group:" in t for t in tips)
    with pg.expect_download() as info:
        pg.click("#graph-view .download-png")
    data = Path(info.value.path()).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width >= 2 * float(svg.get("width", 0)) - 90  # twice the drawing (SVG adds 20 px pads)
    assert pg.problems == [] and pg.warnings == []


def test_all_generations_and_the_overview(server: str, page: Any) -> None:
    pg = page
    open_graph(pg, server, "en", "models", BASE, "?max_depth=all&budget=200")
    st = check_readable(pg, 201, whole=False)
    drawn = plan(pg)
    assert not drawn["cut"]["depth"]
    deepest = max(n["layer"] for n in st["nodes"])
    # Deep down the family; where a generation's chain goes on through a member in a group,
    # the status says members are grouped (the way on is to open the group).
    assert deepest > 5
    assert (
        deepest == drawn["generations"]["below"]
        or "in groups" in pg.locator("#graph-view .graph-status").inner_text()
    )
    assert "generations bound" not in pg.locator("#graph-view .graph-status").inner_text()
    shot(pg, "en-all-generations")
    # The overview: a count per generation and relation, each a way into the graph.
    pg.click("#graph-view .overview-box summary")
    cells = pg.locator("#graph-view table.overview button.cell")
    total = sum(int(t.replace(",", "")) for t in cells.all_inner_texts())
    assert total == drawn["family"]
    cell = pg.locator('#graph-view table.overview button.cell[data-relation="merge"]').first
    generation = int(cell.get_attribute("data-generation") or 0)
    cell.click()
    pg.wait_for_function(
        "() => window.filiationGraph.view().nodes.every(n => "
        "n.relation === null || n.relation === 'merge')"
    )
    pg.wait_for_selector(GRAPH_READY)
    check_readable(pg, 201, whole=False)
    assert max(n["layer"] for n in state(pg)["nodes"]) <= generation
    assert pg.problems == [] and pg.warnings == []


def test_a_large_drawing_is_drawn_in_webgl(server: str, page: Any, web_db: Path) -> None:
    """Beyond 300 items (static/graph/webgl.js) sigma.js draws in WebGL, from the same layered
    layout: labels legible where shown and never overlapping, generations in rows, the side
    panel on click, the SVG export whole; zoomed out to the whole, labels too small to read
    are not drawn."""
    pg = page
    open_graph(pg, server, "en", "models", BASE, "?max_depth=all&budget=2000&width=100")
    st = state(pg)
    nodes = st["nodes"]
    g = filiation.open(web_db)
    family = g.graph(BASE, max_depth=None, width=100, budget=2000)
    assert st["renderer"] == "webgl" and len(nodes) == len(family.nodes) > 300
    shown = [n for n in nodes if n["labelVisible"]]
    # It opens on the start, readable: the start and a good part of its children labelled.
    assert any(n["id"] == BASE for n in shown)
    assert sum(1 for n in shown if n["layer"] == 1) >= 5
    assert st["fontPx"] >= MIN_PX and all(n["h"] >= 2 * MIN_PX for n in shown)
    for n in shown:
        if n["kind"] != "group":
            assert "".join(n["label"].split("\n")[: -1 if n["more"] else None]) == n["id"]
    for a, b in itertools.combinations(nodes, 2):
        assert (
            a["x"] + a["w"] <= b["x"] + 0.5
            or b["x"] + b["w"] <= a["x"] + 0.5
            or a["y"] + a["h"] <= b["y"] + 0.5
            or b["y"] + b["h"] <= a["y"] + 0.5
        ), (a["id"], b["id"])
    rows: dict[int, list[dict[str, Any]]] = {}
    for n in nodes:
        rows.setdefault(n["layer"], []).append(n)
    for upper, lower in itertools.pairwise(sorted(rows)):
        assert max(n["y"] + n["h"] for n in rows[upper]) < min(n["y"] for n in rows[lower])
    shot(pg, "en-webgl")
    # A real click on a child's box opens the side panel on it.
    child = next(n for n in shown if n["layer"] == 1 and n["kind"] != "group")
    pg.evaluate(f"() => window.scrollTo(0, {child['y'] - 200})")
    scroll = pg.evaluate("() => [window.scrollX, window.scrollY]")
    pg.mouse.click(child["x"] + child["w"] / 2 - scroll[0], child["y"] + child["h"] / 2 - scroll[1])
    pg.wait_for_selector("#graph-view .graph-panel:not([hidden])", timeout=5_000)
    panel = pg.locator("#graph-view .gp-id").inner_text().replace("\u200b", "")
    assert panel == child["id"]
    # The SVG export: every item, every label whole.
    pg.click("#graph-view-expert summary")
    with pg.expect_download() as info:
        pg.click("#graph-view .download-svg")
    svg = ET.fromstring(Path(info.value.path()).read_bytes())
    ns = "{http://www.w3.org/2000/svg}"
    labels = {
        el.get("data-id"): "".join(t.text or "" for t in el.iter(f"{ns}text"))
        for el in svg.iter(f"{ns}g")
        if el.get("class") == "node"
    }
    assert labels == {n["id"]: n["label"].replace("\n", "") for n in nodes}
    # The PNG: the whole drawing, at twice its size up to 16,000 px.
    with pg.expect_download() as info:
        pg.click("#graph-view .download-png")
    data = Path(info.value.path()).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width >= min(16_000, 2 * float(svg.get("width", 0)) - 90) * 0.95
    # Fit to view: the whole family, its labels too small to read, so none is drawn.
    pg.click("#graph-view .graph-fit")
    pg.wait_for_timeout(300)
    whole = state(pg)
    assert whole["fontPx"] < MIN_PX and not any(n["labelVisible"] for n in whole["nodes"])
    assert pg.problems == []
    # Chromium's notes on its software GL ("GPU stall due to ReadPixels") are not the page's:
    # without a GPU its compositor reads every drawn WebGL canvas back (a page holding only a
    # cleared WebGL canvas logs the same); any other warning (a missing text) fails.
    assert [w for w in pg.warnings if "GL Driver Message" not in w] == []


def test_a_family_of_50k_descendants(huge_server: str, page: Any) -> None:
    pg = page
    open_graph(pg, huge_server, "en", "models", HUGE)
    st = check_readable(pg, 41)
    groups = {
        n["id"]: n["members"] for n in st["nodes"] if n["kind"] == "group" and n["layer"] == 1
    }
    drawn_children = sum(1 for n in st["nodes"] if n["layer"] == 1 and n["kind"] != "group")
    assert sum(groups.values()) + drawn_children == sum(HUGE_CHILDREN.values())
    assert "+29," in " ".join(n["label"] for n in st["nodes"])  # "+29,99x fine-tunes"
    shot(pg, "en-50k")
    assert pg.problems == [] and pg.warnings == []


def test_a_wide_webgl_drawing_opens_legible_on_a_phone(huge_server: str, page: Any) -> None:
    """A WebGL drawing of 200 items a generation in a 390 px view: the camera must zoom in
    further than for a desktop page to reach a legible size; it opens on the start, labels
    legible and drawn (a fixed zoom-in bound left it at 9 px, no label drawn)."""
    pg = page
    pg.set_viewport_size({"width": 390, "height": 844})
    pg.goto(huge_server + page_url("en", "models", HUGE) + "?max_depth=all&budget=2000&width=200")
    pg.wait_for_selector(GRAPH_READY, timeout=30_000)
    st = state(pg)
    assert st["renderer"] == "webgl" and len(st["nodes"]) > 300
    assert st["fontPx"] >= MIN_PX
    shown = [n for n in st["nodes"] if n["labelVisible"]]
    assert any(n["id"] == HUGE for n in shown) and len(shown) >= 3
    shot(pg, "en-webgl-phone")
    assert pg.problems == []


def test_a_wheel_built_from_a_clean_clone_serves_a_graph(
    tmp_path: Path, browser: Any, web_db: Path
) -> None:
    """`pip install .` from a fresh clone: the build hook installs the graph libraries (npm ci,
    from npm's cache here: no network at test time) and the wheel carries them; installed in a
    fresh environment, its server draws a graph in Chromium. The clone is of the last commit."""
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    if shutil.which("npm") is None:
        pytest.fail("npm is missing: the wheel's build needs it (apt-get install nodejs npm)")
    repo = Path(__file__).resolve().parents[1]
    clone, dist, venv = tmp_path / "clone", tmp_path / "dist", tmp_path / "venv"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert not (clone / "src/filiation/web/node_modules").exists()
    env = {**os.environ, "npm_config_prefer_offline": "true", "PYTHONPATH": ""}
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(clone)]
    subprocess.run([sys.executable, "-m", "pip", *build], check=True, env=env)
    wheel = next(dist.glob("filiation-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "filiation/web/node_modules/cytoscape/dist/cytoscape.min.js" in names
    assert "filiation/web/node_modules/elkjs/lib/elk.bundled.js" in names
    # A fresh environment: the wheel in it, its dependencies from this one.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    where = subprocess.run(
        [python, "-c", "import filiation.web as w; print(w.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    assert where.startswith(str(venv)), where
    os.environ["PYTHONPATH"], saved = "", os.environ.get("PYTHONPATH", "")
    try:
        with serving(web_db, tmp_path / "serve.log", python=python) as base:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            pg = context.new_page()
            problems: list[str] = []
            pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            pg.goto(base + page_url("en", "models", LLAMA))
            assert pg.locator("#graph-missing").count() == 0
            pg.click("#tab-graph")
            pg.wait_for_selector(GRAPH_READY, timeout=20_000)
            assert len(state(pg)["nodes"]) > 1 and problems == []
            context.close()
    finally:
        os.environ["PYTHONPATH"] = saved
