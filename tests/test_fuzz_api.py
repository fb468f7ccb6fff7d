"""Fuzzing the JSON API from its own OpenAPI schema: no request may get a 500 (issue 16).

Every operation the schema lists (GET, POST, PATCH, PUT, DELETE, under ``/api``) is called
with parameters and bodies drawn by Hypothesis from the schema of each: valid values (real
ids of the sample, dates, in-range numbers), values at and past the edges (0, -1, 2^63,
10^20, 9999-12-31, empty strings) and arbitrary text (control characters, quotes, HTML).
The caller is anonymous, as on the open web. A 4xx is a correct answer to a bad request;
a 500 is a bug, and the failing request is shown (Hypothesis shrinks it to the smallest).
Bounded: a few examples per operation, the whole test well under a minute.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import filiation
from filiation.api import create_app

EXAMPLES_PER_OPERATION = 8
EDGE_INTS = [0, 1, -1, 1000, 1001, 2**31, 2**63 - 1, 2**63, 10**20, -(10**20)]
EDGE_TEXT = [
    "",
    " ",
    "9999-12-31",
    "0001-01-01",
    "2024-05-01",
    "2024-13-45",
    "9999-12-31T23:00-05:00",
    "=cmd|' /C calc'!A0",
    '"><img src=x onerror=alert(1)>',
    "lib\x1b[2J",
    "a" * 600,
    "../../etc/passwd",
    "%00",
    "finetune,quantized",
    "model",
    "dataset",
    "author",
    "pdf",
    "csv",
    "md",
    "json",
    "graphml",
    "spdx",
    "cyclonedx",
    "model-card",
    "ancestors",
    "descendants",
    "both",
    "downloads",
]


@pytest.fixture(scope="module")
def client(hub_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    filiation.open(db, load_bundled=False).ingest_hub_stats(hub_sample)
    with TestClient(create_app(db), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def real_ids(hub_sample: Path) -> list[str]:
    table = pq.read_table(hub_sample, columns=["id", "author"]).slice(0, 40)
    ids = table["id"].to_pylist()
    return ids + sorted({a for a in table["author"].to_pylist() if a})[:10]


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of the app's OpenAPI schema under /api."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        if path.startswith("/api")
        for method, op in ops.items()
    ]


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def values(schema: dict[str, Any], spec: dict[str, Any], ids: list[str]) -> st.SearchStrategy:
    """Values for one JSON schema: mostly plausible, often at or past its edges."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        return st.one_of([values(s, spec, ids) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), st.sampled_from(EDGE_TEXT))
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        inside = st.integers(min_value=lo, max_value=hi)
        return st.one_of(inside, st.sampled_from(EDGE_INTS))
    if kind == "number":
        return st.one_of(st.floats(allow_nan=False), st.sampled_from(EDGE_INTS))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(values(schema.get("items", {}), spec, ids), max_size=3)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: values(v, spec, ids) for k, v in props.items() if k in required},
            optional={k: values(v, spec, ids) for k, v in props.items() if k not in required},
        )
    return st.one_of(
        st.sampled_from(ids),
        st.sampled_from(EDGE_TEXT),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
        st.text(alphabet=string.printable, max_size=30),
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def request_for(
    method: str, path: str, op: dict[str, Any], spec: dict[str, Any], ids: list[str]
) -> st.SearchStrategy:
    params = op.get("parameters", [])
    fields = {p["name"]: values(p.get("schema", {}), spec, ids) for p in params}
    body: st.SearchStrategy = st.none()
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = values(content["application/json"].get("schema", {}), spec, ids)
    return st.tuples(st.fixed_dictionaries(fields), body)


#: One operation of the schema: method, path template, its OpenAPI description.
Operation = tuple[str, str, dict[str, Any]]


def _send(client: TestClient, operation: Operation, args: dict[str, Any], body: Any) -> None:
    method, path, op = operation
    where = {p["name"]: p["in"] for p in op.get("parameters", [])}
    url = path
    query: list[tuple[str, str]] = []
    for name, value in args.items():
        if value is None:
            continue
        if where.get(name) == "path":
            url = url.replace("{" + name + "}", quote(_text(value), safe="/") or "x")
        elif isinstance(value, list):
            query += [(name, _text(v)) for v in value if v is not None]
        else:
            query.append((name, _text(value)))
    for name, place in where.items():  # a path parameter left out still needs a value
        if place == "path":
            url = url.replace("{" + name + "}", "x")
    kwargs: dict[str, Any] = {"params": query}
    if body is not None and method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = body
    response = client.request(method, url, **kwargs)
    assert response.status_code < 500 or response.status_code == 503, (
        f"{method} {url} {query} {body!r} -> {response.status_code}: {response.text[:500]}"
    )


def test_no_request_built_from_the_schema_gets_a_500(
    client: TestClient, real_ids: list[str]
) -> None:
    """Random requests per operation, drawn by Hypothesis from the operation's schema."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    ops = operations(client)
    assert len(ops) > 30  # the whole API, not a part of it
    for operation in ops:
        _fuzz(client, operation, spec, real_ids)


def _fuzz(client: TestClient, operation: Operation, spec: dict[str, Any], ids: list[str]) -> None:
    method, path, op = operation

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: CI answers the same for the same code
        suppress_health_check=list(HealthCheck),
    )
    @given(request_for(method, path, op, spec, ids))
    def check(call: tuple[dict[str, Any], Any]) -> None:
        _send(client, operation, *call)

    check()


SWEEP_TEXT = ["", "9999-12-31", "0001-01-01", "a" * 600, "lib\x1b[2J\x00", '"><img src=x>']


def test_every_parameter_at_its_edges_gets_no_500(client: TestClient, real_ids: list[str]) -> None:
    """Each parameter of each operation alone at each edge value (the others left out), on a
    real id: the boundaries random draws reach only by chance (2^63 offsets, year 9999)."""
    for operation in operations(client):
        params = operation[2].get("parameters", [])
        base = {p["name"]: real_ids[0] for p in params if p["in"] == "path"}
        for p in params:
            if p["in"] != "query":
                continue
            schema = p.get("schema", {})
            kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
            edges: list[Any] = EDGE_INTS if "integer" in kinds else SWEEP_TEXT
            for value in edges:
                _send(client, operation, {**base, p["name"]: value}, None)
