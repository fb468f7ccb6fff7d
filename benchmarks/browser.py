"""The graph view in a real browser: how long the first drawing of a family's default view takes
once its data has arrived, and how smoothly a drawing of 5,000 items pans and zooms.

Runs `filiation serve` on a store (the 3.1 M synthetic one: `benchmarks/synthetic.py`, then
`filiation ingest hub-stats`), opens model pages in Chromium (Playwright) and reads the
timings the page records (`window.filiationGraph.state().timing`: from the request to the
drawing, and from the arrival of the data to the drawing, layout and rendering included).
Then it draws 5,000 nodes of a family and their links with the page's own renderers and
measures frames per second (``requestAnimationFrame`` callbacks counted, each one moving the
camera) during a scripted zoom and pan: Cytoscape's canvas with the styles as shipped and with
its viewport options that trade detail for speed, and the WebGL renderer of large drawings
(sigma.js, static/graph/webgl.js), the latter once per set of Chromium GL flags (``GL_FLAGS``:
without a GPU, Chromium's WebGL runs on SwiftShader, ANGLE's software Vulkan).

    python benchmarks/synthetic.py --models 3100000 --out /tmp/explorer-bench/hub-3.1M.parquet
    filiation --db /tmp/explorer-bench/hub.sqlite ingest hub-stats \
        /tmp/explorer-bench/hub-3.1M.parquet
    python benchmarks/browser.py --db /tmp/explorer-bench/hub.sqlite

Without the 3.1 M store, ``--synthetic`` generates the tests' family of 50 k descendants
(tests/test_graph_view.py) in a temporary store and measures on it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

CHROMIUM = "/usr/bin/chromium"
#: Families of the synthetic Hub, largest first (README of benchmarks: the named parents).
FAMILIES = [
    "black-forest-labs/FLUX.1-dev",
    "Qwen/Qwen1.5-0.5B",
    "google/gemma-2b",
    "meta-llama/Llama-3.1-8B-Instruct",
    "distilbert/distilbert-base-uncased",
]
READY = '#graph-view .graph[data-ready="true"]'
#: Chromium flags tried for the WebGL renderer (software GL on a machine without a GPU).
GL_FLAGS = {
    "--disable-gpu (the tests' flags)": ["--disable-gpu"],
    "no GL flag": [],
    "--use-angle=swiftshader --enable-unsafe-swiftshader": [
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
    ],
    "same + --ignore-gpu-blocklist": [
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--ignore-gpu-blocklist",
    ],
}
BASE_ARGS = ["--no-sandbox", "--no-first-run", "--disable-background-networking"]

#: Draws ``n`` nodes of a real family (its descendants, nearest first) and their links with the
#: page's styles, laid out on a grid, then zooms and pans for ``seconds`` and counts frames.
FPS_SCRIPT = """
async ([lineage, seconds, options]) => {
  const F = window.filiation;
  const render = await import(F.root + "/static/graph/render.js");
  const vocab = render.vocabulary(document.querySelector(".graph-view"));
  const view = { nodes: lineage.nodes.map((n) => ({ id: n.id, kind: n.kind, layer: n.depth,
    relation: n.relation, downloads: n.downloads, descendants: n.descendants, members: 1 })),
    edges: lineage.edges };
  const box = document.createElement("div");
  box.style.cssText = "position:fixed;left:0;top:0;width:1400px;height:900px;"
    + "background:#fff;z-index:99";
  document.body.appendChild(box);
  // "plain": dots and lines without labels (the least Cytoscape's canvas can draw); "empty":
  // nothing drawn (what the machine's frame rate is without the graph).
  const plain = [{ selector: "node", style: { width: 12, height: 12 } },
    { selector: "edge", style: { width: 1 } }];
  const { empty, bare, webgl, legible, sigma, animated, ...rest } = options;
  const elements = empty ? [] : render.elements(view, vocab, F.t, F.num);
  // The items on a grid wide enough for their labels (a 5,000-item drawing is far wider than
  // the page: fit to view shows dots, zooming in shows labels).
  const cols = Math.ceil(Math.sqrt(elements.length / 3)) || 1;
  const rows = Math.ceil(elements.length / cols);
  const grid = { name: "grid", cols, boundingBox: { x1: 0, y1: 0, w: cols * 210, h: rows * 70 } };
  let cy, sg = null, move;
  if (webgl) {
    // The page's WebGL renderer (static/graph/webgl.js) over a headless Cytoscape model.
    const gl = await import(F.root + "/static/graph/webgl.js");
    cy = window.cytoscape({ headless: true, styleEnabled: true, elements, style: render.styles(),
      layout: grid });
    sg = gl.sigmaView(box, cy, (n) => ({ color: n.style("border-color"),
      fill: n.style("background-color"), ink: n.style("color"),
      dashed: n.style("border-style") === "dashed" }), sigma || {});
    sg.fit();
    sg.renderer.refresh();
    const cam = sg.renderer.getCamera();
    // "legible": zoomed in so that labels are drawn (≥ 11 px), else from the whole to 4 times it.
    const top = legible ? cam.ratio * sg.scale() : 1;
    const at = (t) => ({ ratio: top / (1 + 3 * Math.abs(Math.sin(t))),
      x: 0.5 + 0.1 * Math.cos(t * 2), y: 0.5 + 0.1 * Math.sin(t * 2) });
    // "animated": the same path through camera animations of 250 ms, each started before the
    // last ends, as sigma's own wheel zoom and drag move it (the view is "moving" throughout).
    let next = 0;
    move = animated
      ? (t) => { if (t >= next) { cam.animate(at(t + 0.25), { duration: 250 }); next = t + 0.2; } }
      : (t) => cam.setState(at(t));
  } else {
    cy = window.cytoscape(Object.assign({ container: box, elements,
      style: bare ? plain : render.styles(), layout: grid }, rest));
    cy.fit();
    const base = legible ? 1 : cy.zoom();
    // Zoom in and out around the centre while panning in a circle.
    move = (t) => cy.viewport({ zoom: base * (1 + 3 * Math.abs(Math.sin(t))),
      pan: { x: 700 + 300 * Math.cos(t * 2), y: 450 + 200 * Math.sin(t * 2) } });
  }
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const items = { nodes: cy.nodes().length, edges: cy.edges().length };
  let frames = 0, labels = 0;
  const t0 = performance.now();
  await new Promise((done) => {
    function step(now) {
      const t = (now - t0) / 1000;
      frames += 1;
      move(t);
      if (sg) { labels += sg.renderer.displayedNodeLabels.size; }
      if (t < seconds) { requestAnimationFrame(step); } else { done(); }
    }
    requestAnimationFrame(step);
  });
  const fps = frames / ((performance.now() - t0) / 1000);
  let gl = null;
  if (sg) {
    const c = box.querySelector("canvas");
    const ctx = c && (c.getContext("webgl2") || c.getContext("webgl"));
    const info = ctx && ctx.getExtension("WEBGL_debug_renderer_info");
    gl = info ? ctx.getParameter(info.UNMASKED_RENDERER_WEBGL) : null;
    sg.kill();
  }
  cy.destroy(); box.remove();
  return { fps, items, labelsPerFrame: sg ? Math.round(labels / frames) : null, gl };
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(db: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "filiation.cli", "--quiet", "serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--db", db],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/health", timeout=2, trust_env=False).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("filiation serve did not start:\n" + log.read_text())


def first_drawings(pg: Any, base: str, families: list[str], runs: int) -> list[dict[str, Any]]:
    """Each family's model page, Graph tab, default settings, ``runs`` times."""
    out = []
    for family in families:
        seen = []
        for _ in range(runs):
            pg.goto(f"{base}/en/models/{quote(family, safe='/')}")
            pg.click("#tab-graph")
            pg.wait_for_selector(READY, timeout=120_000)
            st = pg.evaluate("() => window.filiationGraph.state()")
            seen.append(st["timing"] | {"items": len(st["nodes"])})
        out.append(
            {
                "family": family,
                "items": seen[-1]["items"],
                "tries": max(s["tries"] for s in seen),
                "after_first_data_ms": statistics.median(s["afterFirstData"] for s in seen),
                "after_data_ms": statistics.median(s["afterData"] for s in seen),
                "total_ms": statistics.median(s["total"] for s in seen),
                "worst_after_first_data_ms": max(s["afterFirstData"] for s in seen),
            }
        )
    return out


def lineage_of(base: str, family: str, n: int) -> dict[str, Any]:
    """``n`` items of the family: its start and descendants, nearest first."""
    r = httpx.get(
        f"{base}/api/models/{quote(family, safe='/')}/descendants",
        params={"limit": n - 1},
        timeout=120,
        trust_env=False,
    )
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def open_page(pg: Any, base: str, family: str) -> None:
    pg.goto(f"{base}/en/models/{quote(family, safe='/')}")
    pg.wait_for_function("() => window.filiation && window.cytoscape && window.filiationGraph")


def frame_rates(
    pg: Any, base: str, lineage: dict[str, Any], family: str, seconds: float
) -> list[dict[str, Any]]:
    """Cytoscape's canvas, as shipped and with its speed options, in the tests' browser."""
    open_page(pg, base, family)
    configs = {
        "as shipped (labels always drawn)": {},
        "textureOnViewport": {"textureOnViewport": True},
        "hideEdgesOnViewport + hideLabelsOnViewport": {
            "hideEdgesOnViewport": True,
            "hideLabelsOnViewport": True,
        },
        "bare dots and lines, no labels": {"bare": True},
        "as shipped, zoomed in (zoom 1 to 4, labels legible)": {"legible": True},
        "experimental WebGL renderer (3.31+; software GL without a GPU)": {
            "renderer": {"name": "canvas", "webgl": True}
        },
        "nothing drawn (the page's own frame rate)": {"empty": True},
    }
    out = []
    for name, options in configs.items():
        got = pg.evaluate(FPS_SCRIPT, [lineage, seconds, options])
        out.append({"renderer": f"Cytoscape, {name}", **got})
    return out


def webgl_rates(
    p: Any, base: str, lineage: dict[str, Any], family: str, seconds: float
) -> list[dict[str, Any]]:
    """The page's WebGL renderer (sigma.js), whole drawing and zoomed in, per set of GL flags."""
    out = []
    for flags, args in GL_FLAGS.items():
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=[*BASE_ARGS, *args], headless=True
        )
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.set_default_timeout(120_000)
        open_page(pg, base, family)
        for name, options in {
            "camera set each frame, whole drawing to 4 times it": {"webgl": True},
            "animated camera, whole drawing to 4 times it": {"webgl": True, "animated": True},
            "animated camera, zoomed in (labels legible)": {
                "webgl": True,
                "animated": True,
                "legible": True,
            },
        }.items():
            got = pg.evaluate(FPS_SCRIPT, [lineage, seconds, options])
            out.append({"renderer": f"sigma.js WebGL, {name}", "flags": flags, **got})
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="the store to serve (the 3.1 M synthetic one)")
    ap.add_argument("--families", nargs="*", default=FAMILIES)
    ap.add_argument("--runs", type=int, default=3, help="drawings per family (median reported)")
    ap.add_argument("--items", type=int, default=5000, help="nodes drawn for the frame rate")
    ap.add_argument("--seconds", type=float, default=4.0, help="scripted zoom and pan, seconds")
    ap.add_argument("--fps-family", default=FAMILIES[0])
    ap.add_argument(
        "--synthetic",
        action="store_true",
        help="measure on the tests' generated family of 50 k descendants (no --db needed)",
    )
    ap.add_argument("--log", type=Path, default=Path("/tmp/explorer-bench/serve.log"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.log.parent.mkdir(parents=True, exist_ok=True)
    if args.synthetic:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.test_graph_view import HUGE, synthetic_family

        args.db = str(synthetic_family(args.log.parent))
        args.families = [HUGE] if args.families == FAMILIES else args.families
        args.fps_family = HUGE
    elif not args.db:
        ap.error("--db or --synthetic is required")
    proc, base = serve(args.db, args.log)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=[*BASE_ARGS, "--disable-gpu"], headless=True
            )
            pg = browser.new_page(viewport={"width": 1400, "height": 900})
            pg.set_default_timeout(120_000)
            lineage = lineage_of(base, args.fps_family, args.items)
            report = {
                "first_drawing": first_drawings(pg, base, args.families, args.runs),
                "pan_zoom": frame_rates(pg, base, lineage, args.fps_family, args.seconds),
            }
            browser.close()
            report["pan_zoom"] += webgl_rates(p, base, lineage, args.fps_family, args.seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
