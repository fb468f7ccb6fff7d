"""``filiation export``: one format registry behind the CLI, the Python API and the JSON API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from filiation import exports
from filiation.api import create_app
from filiation.cli import app
from filiation.errors import InvalidArgumentError

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def test_json_export_is_the_documented_lineage(sample) -> None:
    exported = sample.export(LLAMA.lower(), "json", direction="descendants", max_depth=1)
    assert exported.media_type == "application/json"
    assert exported.filename == "meta-llama_Llama-3.1-8B-Instruct.json"
    doc = json.loads(exported.content)
    direct = sample.descendants(LLAMA, max_depth=1)
    assert doc["root"] == LLAMA
    assert sorted(n["id"] for n in doc["nodes"]) == sorted(n["id"] for n in direct.nodes)


def test_unknown_format_or_direction_lists_what_exists(sample) -> None:
    with pytest.raises(InvalidArgumentError, match="json"):
        sample.export(LLAMA, "docx")
    with pytest.raises(InvalidArgumentError, match="ancestors, descendants or both"):
        sample.export(LLAMA, "json", direction="sideways")


def test_cli_writes_the_file_whole(sample_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "llama.json"
    runner = CliRunner()
    result = runner.invoke(
        app, ["--db", str(sample_db), "export", LLAMA, "-f", "json", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_bytes())["root"] == LLAMA
    assert not list(tmp_path.glob(".*.part"))
    bad = runner.invoke(app, ["--db", str(sample_db), "export", LLAMA, "-f", "docx"])
    assert bad.exit_code == 2
    assert "unknown export format" in bad.output


def test_api_serves_an_attachment(sample) -> None:
    client = TestClient(create_app(sample))
    response = client.get(f"/api/models/{LLAMA}/export", params={"format": "json"})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert json.loads(response.content)["root"] == LLAMA
    assert client.get(f"/api/models/{LLAMA}/export", params={"format": "x"}).status_code == 422


def test_every_registered_format_names_a_media_type() -> None:
    for name, fmt in exports.formats().items():
        assert fmt.name == name and "/" in fmt.media_type and fmt.extension


def test_graphml_is_the_lineage_with_its_attributes(sample) -> None:
    import io

    import networkx as nx

    exported = sample.export(LLAMA, "graphml", max_depth=2, min_downloads=10)
    assert exported.filename.endswith(".graphml")
    graph = nx.read_graphml(io.BytesIO(exported.content))
    lin = sample.lineage(LLAMA, max_depth=2, min_downloads=10)
    assert set(graph.nodes) == {n["id"] for n in lin.nodes}
    assert graph.number_of_edges() == len(lin.edges)
    for n in lin.nodes:
        attrs = graph.nodes[n["id"]]
        assert attrs["kind"] == n["kind"] and attrs["depth"] == n["depth"]
        assert (
            attrs.get("downloads") == n["downloads"] and attrs.get("created_at") == n["created_at"]
        )
    for e in lin.edges:
        data = graph.edges[e["parent"], e["child"]]
        assert data["relation"] == e["relation"] and data["declared"] == e["declared"]


def test_csv_zip_and_single_files_parse_back(sample) -> None:
    import csv
    import io
    import zipfile

    lin = sample.descendants(LLAMA, max_depth=1)
    exported = sample.export(LLAMA, "csv", direction="descendants", max_depth=1)
    assert exported.media_type == "application/zip" and exported.filename.endswith(".csv.zip")
    with zipfile.ZipFile(io.BytesIO(exported.content)) as z:
        assert sorted(z.namelist()) == ["links.csv", "nodes.csv"]
        nodes = list(csv.DictReader(io.StringIO(z.read("nodes.csv").decode())))
        links = list(csv.DictReader(io.StringIO(z.read("links.csv").decode())))
    assert [r["id"] for r in nodes] == [n["id"] for n in lin.nodes]
    assert [int(r["depth"]) for r in nodes] == [n["depth"] for n in lin.nodes]
    assert {(r["parent"], r["child"], r["relation"]) for r in links} == {
        (e["parent"], e["child"], e["relation"]) for e in lin.edges
    }
    alone = sample.export(LLAMA, "nodes-csv", direction="descendants", max_depth=1)
    assert alone.content == zipfile.ZipFile(io.BytesIO(exported.content)).read("nodes.csv")


def test_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    import csv
    import io

    import filiation

    edges = tmp_path / "edges.csv"
    edges.write_text(
        "parent_id,child_id,relation\n"
        "=cmd/base,+evil/child,finetune\n"
        "+evil/child,@sum/x,quantized\n"
        "@sum/x,-minus/y,adapter\n",
        encoding="utf-8",
    )
    g = filiation.open(tmp_path / "odd.sqlite", load_bundled=False)
    g.ingest_edges(edges)
    text = g.export("+evil/child", "nodes-csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    ids = {r["id"] for r in rows}
    assert ids == {"'+evil/child", "'=cmd/base", "'@sum/x", "'-minus/y"}
    assert {r["depth"] for r in rows} >= {"-1", "0", "1", "2"}  # numbers stay numbers
    links = g.export("+evil/child", "links-csv").content.decode()
    assert not any(
        cell.startswith(("=", "+", "-", "@"))
        for row in csv.reader(io.StringIO(links))
        for cell in row
    )


def test_api_export_honours_filters(sample) -> None:
    import io

    import networkx as nx

    client = TestClient(create_app(sample))
    r = client.get(
        f"/api/models/{LLAMA}/export",
        params={"format": "graphml", "max_depth": 2, "min_downloads": 100, "kind": "model"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/graphml")
    graph = nx.read_graphml(io.BytesIO(r.content))
    lin = sample.lineage(LLAMA, max_depth=2, min_downloads=100)
    assert set(graph.nodes) == {n["id"] for n in lin.nodes}
    assert len(graph) < len(sample.lineage(LLAMA, max_depth=2).nodes)


DATASET = "HuggingFaceH4/ultrachat_200k"
SHARED_ID = "Qwen/Qwen2.5-14B-Instruct"  # a model and a data set of the sample
AUTHOR = "meta-llama"


def _ids(doc: dict) -> list[str]:
    return [n["id"] for n in doc["nodes"]]


def test_a_data_sets_export_is_its_impact_set(sample, sample_db: Path) -> None:
    """As its page's graph: the models trained on it and what derives from them, filtered."""
    flt = {"max_depth": 2, "min_downloads": 10}
    want = sample.impact(DATASET, **flt).to_dict()
    assert len(want["nodes"]) > 1
    exported = sample.export(DATASET, "json", **flt)
    assert exported.filename == "HuggingFaceH4_ultrachat_200k.json"
    assert json.loads(exported.content) == want
    client = TestClient(create_app(sample))
    r = client.get(f"/api/datasets/{DATASET}/export", params={"format": "json", **flt})
    assert r.status_code == 200 and r.json() == want
    assert "attachment" in r.headers["content-disposition"]
    out = CliRunner().invoke(
        app,
        ["--db", str(sample_db), "export", DATASET, "--max-depth", "2", "--min-downloads", "10"],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == want


def test_an_id_shared_by_a_model_and_a_data_set_exports_either(sample, sample_db: Path) -> None:
    client = TestClient(create_app(sample))
    as_model = client.get(f"/api/models/{SHARED_ID}/export", params={"max_depth": 1}).json()
    as_dataset = client.get(f"/api/datasets/{SHARED_ID}/export", params={"max_depth": 1}).json()
    assert as_model == sample.lineage(SHARED_ID, max_depth=1).to_dict()
    assert as_dataset == sample.impact(SHARED_ID, max_depth=1).to_dict()
    assert as_model["direction"] == "both" and as_dataset["direction"] == "impact"
    assert _ids(as_model) != _ids(as_dataset)
    args = ["--db", str(sample_db), "export", SHARED_ID, "--max-depth", "1"]
    out = CliRunner().invoke(app, [*args, "--node-kind", "dataset"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == as_dataset
    bad = CliRunner().invoke(app, [*args, "--node-kind", "planet"])
    assert bad.exit_code != 0 and "planet" in bad.output


def test_an_authors_export_is_what_it_published_and_what_derives_from_it(sample) -> None:
    import io

    import networkx as nx

    client = TestClient(create_app(sample))
    params = {"format": "graphml", "max_depth": 2, "kind": "model"}
    r = client.get(f"/api/authors/{AUTHOR}/export", params=params)
    assert r.status_code == 200
    graph = nx.read_graphml(io.BytesIO(r.content))
    shown = client.get(f"/api/authors/{AUTHOR}/descendants", params={"max_depth": 2}).json()
    published = sample.children(AUTHOR, kind="author", relations=["published_by"], limit=None)
    models = {n["id"] for n in shown["nodes"] if n["kind"] == "model"}
    assert set(graph.nodes) == models | {AUTHOR}  # the start is always kept
    assert {m.id for m in published if m.kind == "model"} < models
    assert graph.nodes[AUTHOR]["kind"] == "author"
    assert client.get("/api/authors/nobody-at-all-here/export").status_code == 404
