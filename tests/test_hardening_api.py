"""The web and API under bad requests (issue 16, items 2, 5 and 11), over a store of the real
sample: the extreme parameters that gave 500s, the bound on costly exports, ``HEAD``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import filiation
from filiation import budget
from filiation.api import create_app
from tests.serving import serving

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
DATASET = "HuggingFaceH4/ultrachat_200k"


@pytest.fixture(scope="module")
def db(hub_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "api.db"
    filiation.open(path, load_bundled=False).ingest_hub_stats(hub_sample)
    return path


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as c:
        yield c


M = quote(MODEL)
#: The requests the probe answered with 500, and the answer each must get now.
EXTREMES = [
    (f"/api/models/{M}/ancestors?until=9999-12-31", 200),
    (f"/api/models/{M}/descendants?until=9999-12-31", 200),
    (f"/api/models/{M}/lineage?until=9999-12-31", 200),
    (f"/api/models/{M}/export?until=9999-12-31", 200),
    (f"/api/datasets/{quote(DATASET)}/impact?until=9999-12-31", 200),
    (f"/api/models/{M}/descendants?since=0001-01-01&until=9999-12-31", 200),
    (f"/api/models/{M}/descendants?until=9999-12-31T23:00-05:00", 422),
    (f"/api/models/{M}/children?offset=99999999999999999999", 422),
    (f"/api/models/{M}/parents?offset=99999999999999999999", 422),
    (f"/api/models/{M}/descendants?min_downloads=99999999999999999999", 422),
    (f"/api/models/{M}/descendants?max_depth=99999999999999999999", 422),
    (f"/api/models/{M}/descendants?limit=99999999999999999999", 422),
    ("/api/dossier/export?model=%3Dcmd%7C%27%20%2FC%20calc%27%21A0&format=csv", 404),
]


@pytest.mark.parametrize(("url", "status"), EXTREMES)
def test_extreme_parameters_get_an_answer_not_a_500(
    client: TestClient, url: str, status: int
) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text[:300]
    if status == 422:
        assert r.json()["error"] == "invalid_argument"


def test_cli_prints_no_traceback_for_year_9999(db: Path) -> None:
    from filiation.cli import app

    result = CliRunner().invoke(
        app, ["--db", str(db), "descendants", MODEL, "--until", "9999-12-31"]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_costly_exports_wait_in_line_then_get_a_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a PDF is being made (here: the one slot held), another waits its turn, then
    is refused with 503 and Retry-After; the cheap exports are not held up."""
    monkeypatch.setattr(budget, "COSTLY_WAIT_SECONDS", 0.2)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with budget.costly("test"):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(5)
        r = client.get("/api/dossier/export", params={"dataset": DATASET, "format": "pdf"})
        assert r.status_code == 503 and r.json()["error"] == "busy"
        assert int(r.headers["retry-after"]) > 0
        r = client.get("/api/dossier/export", params={"dataset": DATASET, "format": "csv"})
        assert r.status_code == 200
    finally:
        release.set()
        t.join()
    r = client.get("/api/dossier/export", params={"dataset": DATASET, "format": "pdf"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


PAGES = ["/", "/en/", "/fr/", f"/en/models/{M}", f"/fr/datasets/{quote(DATASET)}", "/api/stats"]


@pytest.mark.parametrize("url", PAGES)
def test_head_answers_like_get_without_a_body(client: TestClient, url: str) -> None:
    get = client.get(url, headers={"accept": "text/html"})
    head = client.head(url, headers={"accept": "text/html"})
    assert (head.status_code, head.headers["content-type"]) == (
        get.status_code,
        get.headers["content-type"],
    )
    assert get.status_code == 200 and head.content == b""
    assert "content-security-policy" in head.headers


def test_head_through_a_real_server(db: Path, tmp_path: Path) -> None:
    with serving(db, tmp_path / "serve.log") as base:
        r = httpx.head(base + f"/en/models/{M}")
        assert r.status_code == 200 and r.content == b""
        assert int(r.headers["content-length"]) > 0


def test_request_bodies_over_the_limit_get_413_unread(client: TestClient) -> None:
    from filiation.limits import MAX_BODY_BYTES

    big = b"{" + b" " * (MAX_BODY_BYTES + 1) + b"}"
    r = client.post(
        "/api/dossier/followup", content=big, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert "content-security-policy" in r.headers
    r = client.post("/en/dossier/followup", content=big, headers={"origin": "http://testserver"})
    assert r.status_code == 413
    # a small body goes through (and meets the login rule)
    r = client.post("/api/dossier/followup", json={"publisher": "x", "status": "sent"})
    assert r.status_code == 401
