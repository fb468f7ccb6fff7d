"""The JSON API on the real sample: each answer is the Python API's, parameters are the CLI's."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from typer.testing import CliRunner

import filiation
from filiation.api import create_app
from filiation.cli import app as cli_app
from tests.serving import serving

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_BASE = "meta-llama/Llama-3.1-8B"
SUPERNOVA = "arcee-ai/Llama-3.1-SuperNova-Lite"
MANY_CHILDREN = "Qwen/Qwen2.5-7B-Instruct"  # 74 direct children in the sample
MERGE = "gaverfraxz/Meta-Llama-3.1-8B-Instruct-HalfAbliterated-TIES"  # 3 merge parents
SHARED_ID = "Qwen/Qwen2.5-14B-Instruct"  # a model and a data set
SHARED_AUTHOR = "camel-ai"  # an author and a data set
LONG_ID = "someone/" + "v1.2-" * 60  # 308 characters: longer than any Hub id, still kept


@pytest.fixture(scope="module")
def client(sample_db: Path) -> Any:
    """The app over its own Genealogy of the sample (not the `sample` fixture's object)."""
    with TestClient(create_app(sample_db)) as c:
        yield c


def plain(value: Any) -> Any:
    """A Python API result as the JSON the API sends."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    elif isinstance(value, list):
        value = TypeAdapter(list[Any]).dump_python(value, mode="json")
    elif hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return orjson.loads(orjson.dumps(value))


def ok(client: TestClient, url: str, **params: Any) -> Any:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def url(kind: str, node_id: str, sub: str = "") -> str:
    return f"/api/{kind}/{quote(node_id, safe='/')}" + (f"/{sub}" if sub else "")


# -- answers are the Python API's -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("sub", "node", "params"),
    [
        ("descendants", LLAMA, {}),
        ("descendants", LLAMA, {"relation": "finetune", "max_depth": 2}),
        ("descendants", LLAMA, {"limit": 7}),
        ("ancestors", SUPERNOVA, {}),
        ("ancestors", MERGE, {"relation": ["merge", "finetune"], "max_depth": 1}),
        ("lineage", LLAMA, {"max_depth": 1}),
        ("lineage", SUPERNOVA, {"limit": 3, "relation": "finetune,adapter"}),
    ],
)
def test_model_traversals_are_the_python_api_result(
    client, sample, sub: str, node: str, params: dict[str, Any]
) -> None:
    got = ok(client, url("models", node, sub), **params)
    call = getattr(sample, sub)
    expected = call(
        node,
        relations=params.get("relation"),
        max_depth=params.get("max_depth"),
        limit=params.get("limit"),
    )
    assert got == plain(expected)
    assert got["root"] == node and got["nodes"][0]["depth"] == 0


def test_impact_is_the_python_api_result(client, sample) -> None:
    dataset = sample.search("ultrafeedback", kinds=["dataset"])[0].id
    got = ok(client, url("datasets", dataset, "impact"))
    assert got == plain(sample.impact(dataset))
    assert got["direction"] == "impact" and got["nodes"][0]["kind"] == "dataset"
    cut = ok(client, url("datasets", dataset, "impact"), max_depth=1, limit=3)
    assert cut == plain(sample.impact(dataset, max_depth=1, limit=3))
    assert {n["depth"] for n in cut["nodes"][1:]} == {1}


def test_parameters_behave_like_the_cli(client, sample) -> None:
    base = url("models", LLAMA, "descendants")
    # relation: repeated or comma-separated, aliases accepted, the same answer
    repeated = ok(client, base, relation=["finetune", "adapter"])
    assert ok(client, base, relation="finetune,adapter") == repeated
    assert ok(client, base, relation=["lora", "fine-tune"])["nodes"] == repeated["nodes"]
    assert {n["relation"] for n in repeated["nodes"][1:]} <= {"finetune", "adapter"}
    assert repeated["relations"] == ["finetune", "adapter"]
    # max_depth stops the walk and says more generations exist
    shallow = ok(client, base, max_depth=1)
    assert {n["depth"] for n in shallow["nodes"][1:]} == {1}
    assert shallow["depth_limited"] is True and shallow["truncated"] is False
    assert len(shallow["nodes"]) - 1 == sample.show(LLAMA).children
    # limit keeps the nearest, best known nodes and says it cut
    full = ok(client, base)
    five = ok(client, base, limit=5)
    assert len(five["nodes"]) == 6 and five["truncated"] is True and full["truncated"] is False
    assert [n["id"] for n in five["nodes"]] == [n["id"] for n in full["nodes"][:6]]
    assert ok(client, base, limit=0)["nodes"] == full["nodes"][:1]


#: Every route that walks the genealogy, with a node it starts from: they share one set of
#: traversal parameters (relation, max_depth, limit, kind, min_downloads, since, until).
WALKS = [
    ("models", LLAMA, "descendants"),
    ("models", LLAMA, "ancestors"),
    ("models", LLAMA, "lineage"),
    ("models", LLAMA, "export"),
    ("datasets", "HuggingFaceH4/ultrachat_200k", "impact"),
    ("datasets", "HuggingFaceH4/ultrachat_200k", "export"),
    ("authors", "meta-llama", "descendants"),
    ("authors", "meta-llama", "export"),
]


def test_every_walk_checks_its_parameters_the_same_way(client, sample) -> None:
    """A bad traversal parameter is a 422 naming it on every walking route, before the id is
    looked up (as the service and the CLI report it); good ones reach the service."""
    bad = [
        ({"relation": "sibling"}, "unknown relation 'sibling'"),
        ({"since": "yesterday"}, "since must be a date"),
        ({"until": "2024-13-01"}, "until must be a date"),
        ({"kind": "robot"}, "robot"),
        ({"since": "2025-01-01", "until": "2024-01-01"}, "since"),
    ]
    for plural, node, sub in WALKS:
        for node_id in (node, "nobody/nothing"):
            for params, message in bad:
                r = client.get(url(plural, node_id, sub), params=params)
                assert r.status_code == 422, (plural, node_id, sub, params, r.text)
                assert message in r.json()["message"], (sub, params, r.json())
        r = client.get(url(plural, "nobody/nothing", sub), params={"since": "2024-05-01"})
        assert r.status_code == 404 and r.json()["error"] == "not_found", (plural, sub)
    # Filters and bounds reach the service: the answer is the Python API's, same query.
    params = {"kind": "model", "min_downloads": 10, "since": "2024-08-01", "max_depth": 3}
    got = ok(client, url("models", LLAMA, "descendants"), **params)
    expected = sample.descendants(
        LLAMA, kinds=["model"], min_downloads=10, since="2024-08-01", max_depth=3
    )
    assert got == plain(expected) and 1 < len(got["nodes"]) < len(sample.descendants(LLAMA))
    assert all(n["downloads"] >= 10 for n in got["nodes"][1:])


def test_show_a_model(client, sample) -> None:
    got = ok(client, url("models", LLAMA))
    assert got == plain(sample.show(LLAMA, kind="model"))
    assert got["ranking"] == ["descendants", "downloads", "likes"]
    ranked = ok(client, url("models", LLAMA), limit=3, rank_by="likes,downloads", relation="merge")
    expected = sample.show(
        LLAMA, kind="model", limit=3, ranking=["likes", "downloads"], relations=["merge"]
    )
    assert ranked == plain(expected)
    likes = [c["likes"] for c in ranked["important_children"]]
    assert len(likes) == 3 and likes == sorted(likes, reverse=True)
    # ids are matched case-insensitively and answered as published
    assert ok(client, url("models", LLAMA.lower()))["id"] == LLAMA


def test_datasets_and_authors_are_looked_up_as_such(client, sample) -> None:
    assert ok(client, url("models", SHARED_ID))["kind"] == "model"
    as_dataset = ok(client, url("datasets", SHARED_ID))
    assert as_dataset == plain(sample.show(SHARED_ID, kind="dataset"))
    assert as_dataset["kind"] == "dataset"
    assert ok(client, url("datasets", SHARED_AUTHOR))["kind"] == "dataset"
    author = ok(client, url("authors", SHARED_AUTHOR))
    assert author == plain(sample.show(SHARED_AUTHOR, kind="author"))
    assert author["kind"] == "author"
    meta = ok(client, url("authors", "meta-llama"), relation="published_by", limit=5)
    assert meta == plain(
        sample.show("meta-llama", kind="author", relations=["published_by"], limit=5)
    )
    # a data set is not a model, and a model is not an author
    r = client.get(url("models", "HuggingFaceH4/ultrachat_200k", "descendants"))
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.get(url("authors", LLAMA)).status_code == 404


def _pages(client: TestClient, path: str, size: int, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    for _ in range(1000):
        page = ok(client, path, limit=size, offset=offset, **params)
        assert page["offset"] == offset and page["limit"] == size
        assert len(page["items"]) <= size
        items += page["items"]
        offset += size
        if not page["has_more"]:
            assert len(page["items"]) <= size
            return items
        assert len(page["items"]) == size
    raise AssertionError("paging never ended")


@pytest.mark.parametrize("rank_by", [None, "likes", "descendants,downloads"])
def test_children_pages_concatenate_to_the_full_list(client, sample, rank_by) -> None:
    path = url("models", MANY_CHILDREN, "children")
    params = {"rank_by": rank_by} if rank_by else {}
    ranking = rank_by.split(",") if rank_by else ["downloads"]
    full = plain(sample.children(MANY_CHILDREN, limit=None, ranking=ranking))
    assert len(full) == 74
    assert _pages(client, path, 20, **params) == full
    assert _pages(client, path, 74, **params) == full
    # one page is the Python API's list from its offset
    page = ok(client, path, limit=10, offset=5, **params)
    assert page["items"] == full[5:15] and page["ranking"] == ranking and page["has_more"]
    assert ok(client, path, offset=74, **params)["items"] == []


def test_children_relation_filter_and_parents(client, sample) -> None:
    page = ok(client, url("models", LLAMA, "children"), relation="merge", limit=100)
    assert page["items"] == plain(sample.children(LLAMA, relations=["merge"], limit=100))
    assert {c["relation"] for c in page["items"]} == {"merge"} and not page["has_more"]
    assert page["relations"] == ["merge"]
    parents = ok(client, url("models", MERGE, "parents"))
    assert parents["items"] == plain(sample.parents(MERGE))
    assert len(parents["items"]) == 3 and parents["has_more"] is False
    by_likes = _pages(client, url("models", MERGE, "parents"), 2, rank_by="likes")
    assert by_likes == plain(sample.parents(MERGE, ranking=["likes"]))


def test_author_models_are_paged_with_a_total(client, sample) -> None:
    details = sample.show(
        "meta-llama", kind="author", relations=["published_by"], limit=10_000, ranking=["likes"]
    )
    full = plain(details.important_children)
    first = ok(client, url("authors", "meta-llama", "models"), limit=10, rank_by="likes")
    assert first["total"] == details.children_by_relation["published_by"] == len(full)
    assert first["items"] == full[:10] and first["has_more"] is True
    assert _pages(client, url("authors", "meta-llama", "models"), 10, rank_by="likes") == full
    # the author of that name, not the data set
    assert ok(client, url("authors", SHARED_AUTHOR, "models"))["total"] == 4


def test_search_path_stats_snapshots_health(client, sample) -> None:
    assert ok(client, "/api/search", q="qwen2.5-7b") == plain(sample.search("qwen2.5-7b"))
    hits = ok(client, "/api/search", q="ultra", kind="dataset", limit=5)
    assert hits == plain(sample.search("ultra", kinds=["dataset"], limit=5))
    assert len(hits) == 5 and {h["kind"] for h in hits} == {"dataset"}
    both = ok(client, "/api/search", q="qwen", kind=["model", "author"], limit=3)
    assert both == ok(client, "/api/search", q="qwen", kind="model,author", limit=3)
    assert both == plain(sample.search("qwen", kinds=["model", "author"], limit=3))

    found = ok(client, "/api/path", source=LLAMA_BASE, target=SUPERNOVA)
    assert found == plain(sample.path(LLAMA_BASE, SUPERNOVA)) and found["found"] is True
    missing = ok(client, "/api/path", source=SUPERNOVA, target=LLAMA_BASE)
    assert missing["found"] is False and missing["links"] == []

    assert ok(client, "/api/stats") == plain(sample.stats())
    assert ok(client, "/api/snapshots") == plain(sample.snapshots())
    health = ok(client, "/api/health")
    assert health["status"] == "ok" and health["version"] == filiation.__version__
    assert health["snapshots"] == [s["id"] for s in sample.snapshots() if s["current"]]
    assert health["worker"] == os.getpid()


# -- ids ------------------------------------------------------------------------------------------
def test_odd_ids_route_correctly(client, sample) -> None:
    # no slash and dots
    for node in ("Qwen2-1.5B", "josie-3b-v6.0"):
        assert ok(client, url("models", node))["id"] == node
        assert ok(client, url("models", node, "descendants")) == plain(sample.descendants(node))
        assert ok(client, url("models", node, "children"))["id"] == node
    # an escaped slash is a slash
    escaped = f"/api/models/{quote(LLAMA, safe='')}/descendants"
    assert "%2F" in escaped
    assert ok(client, escaped, max_depth=1) == plain(sample.descendants(LLAMA, max_depth=1))
    # unknown ids: a JSON 404, never an HTML page
    for node in ("distilbert-base-uncased", "été/modèle-ünïcode", "ab.c/d.e"):
        r = client.get(url("models", node))
        assert r.status_code == 404, node
        body = r.json()
        assert body["error"] == "not_found" and repr(node) in body["message"]
        assert isinstance(body["suggestions"], list)
        assert client.get(url("models", node, "lineage")).status_code == 404
    # a very long id: a prompt 404 (no stored id is longer than 512 characters)
    start = time.perf_counter()
    r = client.get(url("models", "a/" + "b" * 5000, "descendants"))
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert time.perf_counter() - start < 1


def test_unicode_ids_and_ids_named_like_a_sub_resource(tmp_path: Path) -> None:
    """A store of its own: the sample has neither kind of id."""
    edges = tmp_path / "edges.csv"
    edges.write_text(
        "parent_id,child_id,relation\n"
        "someone/base,someone/lineage,finetune\n"
        "someone/lineage,équipe/modèle-été,quantized\n"
        f"someone/lineage,{LONG_ID},adapter\n",
        encoding="utf-8",
    )
    db = tmp_path / "odd.sqlite"
    g = filiation.open(db, load_bundled=False)
    g.ingest_edges(edges)
    with TestClient(create_app(g)) as c:
        unicode_id = "équipe/modèle-été"
        shown = ok(c, url("models", unicode_id))
        assert shown["id"] == unicode_id and shown["parents"][0]["id"] == "someone/lineage"
        up = ok(c, url("models", unicode_id, "ancestors"))
        assert [n["id"] for n in up["nodes"]] == [unicode_id, "someone/lineage", "someone/base"]
        # /api/models/someone/lineage: no model "someone", so it is the model of that id
        assert ok(c, "/api/models/someone/lineage") == plain(
            g.show("someone/lineage", kind="model")
        )
        down = ok(c, "/api/models/someone/lineage/descendants")
        assert [n["id"] for n in down["nodes"]] == ["someone/lineage", unicode_id, LONG_ID]
        assert ok(c, "/api/models/someone/base/lineage")["root"] == "someone/base"
        # a long id is found in any case; a long unknown one is a prompt 404
        assert ok(c, url("models", LONG_ID.upper()))["id"] == LONG_ID
        assert ok(c, url("models", LONG_ID, "ancestors"))["nodes"][1]["id"] == "someone/lineage"
        assert ok(c, "/api/path", source="someone/base", target=LONG_ID)["found"] is True
        r = c.get(url("models", LONG_ID + "x"))
        assert r.status_code == 404 and r.json()["suggestions"] == []


# -- errors ---------------------------------------------------------------------------------------
def test_errors_are_json_with_a_status_and_no_traceback(client) -> None:
    cases = [
        (url("models", LLAMA + "t"), {}, 404, "not_found"),
        (url("models", LLAMA, "descendants"), {"relation": "sibling"}, 422, "invalid_argument"),
        (url("models", "nobody/nothing", "descendants"), {"relation": "sibling"}, 422, None),
        (url("models", LLAMA, "descendants"), {"max_depth": -1}, 422, "invalid_argument"),
        (url("models", LLAMA, "ancestors"), {"limit": "many"}, 422, "invalid_argument"),
        (url("models", LLAMA, "children"), {"rank_by": "fame"}, 422, "invalid_argument"),
        (url("models", LLAMA, "children"), {"offset": -1}, 422, "invalid_argument"),
        (url("models", LLAMA), {"rank_by": "likes,fame"}, 422, "invalid_argument"),
        ("/api/search", {"q": "qwen", "kind": "robot"}, 422, "invalid_argument"),
        ("/api/search", {}, 422, "invalid_argument"),
        ("/api/search", {"q": "x" * 513}, 422, "invalid_argument"),
        ("/api/path", {"source": LLAMA, "target": "nobody/nothing"}, 404, "not_found"),
        ("/api/models/", {}, 422, "invalid_argument"),
        ("/api/nothing-here", {}, 404, "not_found"),
        ("/nothing-here", {}, 404, "not_found"),
    ]
    for path, params, status, code in cases:
        r = client.get(path, params=params)
        assert r.status_code == status, (path, params, r.text)
        body = r.json()
        assert set(body) >= {"error", "message"}, body
        if code:
            assert body["error"] == code, (path, body)
        assert "Traceback" not in r.text and 'File "' not in r.text
    typo = client.get(url("models", LLAMA + "t")).json()
    assert LLAMA in typo["suggestions"] and "did you mean" in typo["message"]
    bad = client.get(url("models", LLAMA, "descendants"), params={"relation": "sibling"}).json()
    assert "unknown relation 'sibling'" in bad["message"]
    r = client.post("/api/stats")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_an_unexpected_error_is_a_json_500_without_details(sample_db: Path) -> None:
    app = create_app(sample_db)

    def broken() -> None:
        raise RuntimeError("secret detail at /srv/private/path")

    app.state.genealogy.stats = broken
    with TestClient(app) as c:
        r = c.get("/api/stats")
    assert r.status_code == 500
    assert r.json() == {
        "error": "internal_error",
        "message": "internal error; see the server's log",
    }
    assert "secret" not in r.text and "Traceback" not in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]


# -- headers, OpenAPI, /docs ----------------------------------------------------------------------
def _check_headers(r: httpx.Response) -> str:
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    return csp


def test_security_headers_on_every_response(client) -> None:
    for path in (
        url("models", LLAMA),
        url("models", LLAMA, "descendants"),
        url("models", "distilbert-base-uncased"),
        "/api/search?q=x&kind=robot",
        "/api/health",
        "/openapi.json",
        "/nothing-here",
    ):
        csp = _check_headers(client.get(path))
        assert "img-src 'self';" in csp, path
    for path in ("/docs", "/docs/docs.js", "/docs/assets/swagger-ui-bundle.js"):
        csp = _check_headers(client.get(path))
        # Swagger UI's stylesheet draws its icons as data: images, nothing more is relaxed.
        assert "img-src 'self' data:" in csp


def test_openapi_documents_every_endpoint_and_docs_load_locally(client) -> None:
    spec = ok(client, "/openapi.json")
    paths = set(spec["paths"])
    for sub in ("", "/ancestors", "/descendants", "/lineage", "/children", "/parents"):
        assert "/api/models/{node_id}" + sub in paths
    assert {
        "/api/search",
        "/api/path",
        "/api/stats",
        "/api/snapshots",
        "/api/health",
        "/api/datasets/{node_id}",
        "/api/datasets/{node_id}/impact",
        "/api/authors/{node_id}",
        "/api/authors/{node_id}/models",
    } <= paths
    schemas = set(spec["components"]["schemas"])
    assert {"NodeDetails", "SearchHit", "Stats", "PathResult", "LineageOut", "ErrorOut"} <= schemas
    ok_schema = spec["paths"]["/api/models/{node_id}"]["get"]["responses"]["200"]
    assert ok_schema["content"]["application/json"]["schema"]["$ref"].endswith("/NodeDetails")
    descendants = spec["paths"]["/api/models/{node_id}/descendants"]["get"]
    assert {p["name"] for p in descendants["parameters"]} == {
        "node_id",
        "relation",
        "max_depth",
        "limit",
        "kind",
        "min_downloads",
        "since",
        "until",
        "include_suspected",
        "min_confidence",
    }
    assert "404" in descendants["responses"]

    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "http://" not in html and "https://" not in html  # no CDN
    assert html.count("<script") == html.count("<script src=")  # no inline script
    for asset in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/docs.js",
    ):
        assert asset in html
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 300
    assert client.get("/docs/assets/index.j2").status_code == 404


# -- one genealogy, many requests -----------------------------------------------------------------
def test_concurrent_requests_share_the_genealogy(client) -> None:
    paths = [
        url("models", LLAMA, "descendants"),
        url("models", LLAMA, "lineage") + "?max_depth=2",
        url("models", MANY_CHILDREN, "children") + "?rank_by=likes",
        url("models", SUPERNOVA),
        "/api/search?q=llama",
        "/api/stats",
    ]
    expected = {p: client.get(p).content for p in paths}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: (p, client.get(p)), paths * 8))
    for path, r in answers:
        assert r.status_code == 200 and r.content == expected[path], path


# -- filiation serve ------------------------------------------------------------------------------
def test_serve_answers_over_http(sample_db: Path, sample, tmp_path: Path) -> None:
    with (
        serving(sample_db, tmp_path / "serve.log") as base,
        httpx.Client(base_url=base, timeout=5, trust_env=False) as http,
    ):
        r = http.get(f"/api/models/{LLAMA}/descendants", params={"max_depth": 1})
        assert r.status_code == 200
        assert r.json() == plain(sample.descendants(LLAMA, max_depth=1))
        _check_headers(r)
        assert "server" not in r.headers


def test_serve_on_a_busy_port_is_one_clear_error(sample_db: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli_app, ["--db", str(sample_db), "serve", "--port", str(port)])
    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr
