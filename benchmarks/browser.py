"""The graph view in a real browser: how long the first drawing of a family's default view takes
once its data has arrived, and how smoothly a drawing of 5,000 items pans and zooms.

Runs `filiation serve` on a store (the 3.1 M synthetic one: `benchmarks/synthetic.py`, then
`filiation ingest hub-stats`), opens model pages in Chromium (Playwright) and reads the
timings the page records (`window.filiationGraph.state().timing`: from the request to the
drawing, and from the arrival of the data to the drawing, layout and rendering included).
Then it draws 5,000 nodes and their links with the page's own Cytoscape styles and measures
frames per second (``requestAnimationFrame`` callbacks counted) during a scripted zoom and pan,
with the styles as shipped and with Cytoscape's viewport options that trade detail for speed.

    python benchmarks/synthetic.py --models 3100000 --out /tmp/explorer-bench/hub-3.1M.parquet
    filiation --db /tmp/explorer-bench/hub.sqlite ingest hub-stats \
        /tmp/explorer-bench/hub-3.1M.parquet
    python benchmarks/browser.py --db /tmp/explorer-bench/hub.sqlite
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
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: Families of the synthetic Hub, largest first (README of benchmarks: the named parents).
FAMILIES = [
    "black-forest-labs/FLUX.1-dev",
    "Qwen/Qwen1.5-0.5B",
    "google/gemma-2b",
    "meta-llama/Llama-3.1-8B-Instruct",
    "distilbert/distilbert-base-uncased",
]
READY = '#graph-view .graph[data-ready="true"]'

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
  const { empty, bare, ...rest } = options;
  const cy = window.cytoscape(Object.assign({ container: box,
    elements: empty ? [] : render.elements(view, vocab, F.t, F.num),
    style: bare ? plain : render.styles(), layout: { name: "grid" } }, rest));
  cy.fit();
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const items = { nodes: cy.nodes().length, edges: cy.edges().length };
  const base = cy.zoom();
  let frames = 0;
  const t0 = performance.now();
  await new Promise((done) => {
    function step(now) {
      const t = (now - t0) / 1000;
      frames += 1;
      // Zoom in and out around the centre while panning in a circle.
      cy.viewport({ zoom: base * (1 + 3 * Math.abs(Math.sin(t))),
        pan: { x: 700 + 300 * Math.cos(t * 2), y: 450 + 200 * Math.sin(t * 2) } });
      if (t < seconds) { requestAnimationFrame(step); } else { done(); }
    }
    requestAnimationFrame(step);
  });
  const fps = frames / ((performance.now() - t0) / 1000);
  cy.destroy(); box.remove();
  return { fps, items };
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


def frame_rates(pg: Any, base: str, family: str, n: int, seconds: float) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{base}/api/models/{quote(family, safe='/')}/descendants",
        params={"limit": n - 1},
        timeout=120,
        trust_env=False,
    )
    r.raise_for_status()
    lineage = r.json()
    pg.goto(f"{base}/en/models/{quote(family, safe='/')}")
    pg.wait_for_function("() => window.filiation && window.cytoscape && window.filiationGraph")
    configs = {
        "as shipped (labels always drawn)": {},
        "textureOnViewport": {"textureOnViewport": True},
        "hideEdgesOnViewport + hideLabelsOnViewport": {
            "hideEdgesOnViewport": True,
            "hideLabelsOnViewport": True,
        },
        "bare dots and lines, no labels": {"bare": True},
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="the store to serve (the 3.1 M synthetic one)")
    ap.add_argument("--families", nargs="*", default=FAMILIES)
    ap.add_argument("--runs", type=int, default=3, help="drawings per family (median reported)")
    ap.add_argument("--items", type=int, default=5000, help="nodes drawn for the frame rate")
    ap.add_argument("--seconds", type=float, default=4.0, help="scripted zoom and pan, seconds")
    ap.add_argument("--fps-family", default=FAMILIES[0])
    ap.add_argument("--log", type=Path, default=Path("/tmp/explorer-bench/serve.log"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.log.parent.mkdir(parents=True, exist_ok=True)
    proc, base = serve(args.db, args.log)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            pg = browser.new_page(viewport={"width": 1400, "height": 900})
            pg.set_default_timeout(120_000)
            report = {
                "first_drawing": first_drawings(pg, base, args.families, args.runs),
                "pan_zoom": frame_rates(pg, base, args.fps_family, args.items, args.seconds),
            }
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
