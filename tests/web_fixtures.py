"""The browser tests' shared pieces: a SQLite store of the bundled sample, ``filiation serve``
over it in a subprocess (``server``), Debian's Chromium through Playwright (``browser``, and
a ``page`` that collects the console's errors and warnings and failed requests as
``page.problems``), the ids the pages are tested on, and where screenshots go.

The fixtures are registered for every test module by ``tests/conftest.py``
(``pytest_plugins``); the names below are imported where a test needs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import filiation
from tests.serving import serving

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"  # 50 fine-tunes, 5 adapters, 10 merges
DATASET = "HuggingFaceH4/ultrachat_200k"
AUTHOR = "meta-llama"
GRAPH_READY = '#graph-view .graph[data-ready="true"]'


def page_url(lang: str, kind: str, node_id: str) -> str:
    return f"/{lang}/{kind}/{quote(node_id, safe='/')}"


@pytest.fixture(scope="module")
def web_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store of the bundled sample (the browser tests run on one back end)."""
    db = tmp_path_factory.mktemp("web") / "web.sqlite"
    _ = filiation.open(db).index
    return db


@pytest.fixture(scope="module")
def server(web_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(web_db, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run scripts/setup-browser.sh")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    problems: list[str] = []
    # Errors and warnings both (a text missing from the catalogue is a warning of common.js);
    # not Chromium's notes on its software GL ("GL Driver Message … GPU stall due to
    # ReadPixels"): without a GPU its compositor reads any drawn WebGL canvas back, page or not.
    pg.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" or (m.type == "warning" and "GL Driver Message" not in m.text)
            else None
        ),
    )
    pg.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.problems = problems
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield pg
    finally:
        context.close()


def shot(pg: Any, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)
