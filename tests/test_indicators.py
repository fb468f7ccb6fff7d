"""Indicators computed in the index: ``citations`` (distinct models naming a node as a
parent), checked against an independent reading of the real sample and on a small edge
list built for the edge cases (a child linked twice, a self-link)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

import filiation
from filiation.api import create_app
from tests import reference


def test_citations_of_models_and_data_sets_match_the_dump(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    index = sample.index
    checked = 0
    for node in ref.nodes:
        i = index.lookup(node, filiation.NodeKind.MODEL)
        # the oracle's graph holds one edge per (parent, child) pair, self-loops left out
        assert int(index.a.citations[i]) == ref.out_degree(node), node
        checked += ref.out_degree(node) > 0
    assert checked > 500
    for name, models in list(reference.trained_on(hub_sample).items())[:300]:
        i = index.lookup(name, filiation.NodeKind.DATASET)
        assert int(index.a.citations[i]) == len(models), name


def test_citations_count_distinct_children_not_links(tmp_path: Path, fresh_db) -> None:
    path = tmp_path / "edges.csv"
    path.write_text(
        "parent_id,child_id,relation\n"
        "org/base,a/one,finetune\n"
        "org/base,a/one,adapter\n"  # the same child a second time: one citation
        "org/base,b/two,quantized\n"
        "b/two,c/three,merge\n"
        "org/base,org/base,finetune\n",  # a model naming itself cites nothing
        encoding="utf-8",
    )
    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_edges(path)
    base = g.show("org/base")
    assert base.citations == 2
    assert base.descendants == 3  # descendants follow the family, citations do not
    assert g.show("b/two").citations == 1
    assert g.show("c/three").citations == 0
    ranked = g.show("c/three", ranking=["citations", "downloads"])
    assert ranked.ranking == ["citations", "downloads"]
    rows = {n.id: n.citations for n in g.descendants("org/base")}
    assert rows == {"org/base": 2, "a/one": 0, "b/two": 1, "c/three": 0}
    children = g.children("org/base", ranking=["citations", "downloads"])
    assert children[0].id == "b/two"  # the cited child first
    assert g.show("org", kind="author").citations == 0


LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture(scope="module")
def client(sample_db: Any) -> Iterator[TestClient]:
    with TestClient(create_app(sample_db)) as c:
        yield c


def test_api_shows_and_ranks_by_citations(client, sample) -> None:
    path = quote(LLAMA, safe="/")
    d = client.get(f"/api/models/{path}", params={"rank_by": "citations,downloads"}).json()
    assert d["citations"] == sample.show(LLAMA).citations > 0
    assert d["ranking"] == ["citations", "downloads"]
    cites = [n["citations"] for n in d["important_children"]]
    assert cites == sorted(cites, reverse=True)
    rows = client.get(f"/api/models/{path}/descendants", params={"max_depth": 1}).json()
    index = sample.index
    for row in rows["nodes"]:
        assert row["citations"] == int(index.a.citations[index.lookup(row["id"])])
    page = client.get(f"/api/models/{path}/children", params={"rank_by": "citations"}).json()
    assert all("citations" in n for n in page["items"])


def test_model_page_shows_citations_and_offers_the_cnil_order(client, sample) -> None:
    d = sample.show(LLAMA, ranking=["citations", "downloads"])
    url = f"/en/models/{quote(LLAMA, safe='/')}"
    text = client.get(url).text
    assert f'<strong id="n-citations">{d.citations:,}</strong>' in text
    assert 'href="?rank=citations">Rank by citations, then downloads</a>' in text
    ranked = client.get(url, params={"rank": "citations"}).text
    assert "Ranked by citations, then downloads (30 days)." in ranked
    block = re.findall(r'<ol class="nodes" id="important-children">(.*?)</ol>', ranked, re.S)[0]
    shown = re.findall(r'<a href="/en/models/([^"]+)">', block)
    assert shown[: len(d.important_children)] == [
        quote(n.id, safe="/") for n in d.important_children
    ]
    fr = client.get(f"/fr/models/{quote(LLAMA, safe='/')}", params={"rank": "citations"}).text
    assert "Classés par citations, puis téléchargements (30 jours)" in fr
    assert "Classement par défaut" in fr


def test_author_page_says_unknown_when_no_source_typed_it(client) -> None:
    en = client.get("/en/authors/meta-llama").text
    assert "Person or organisation: not stated by any source" in en
    fr = client.get("/fr/authors/meta-llama").text
    assert "Personne ou organisation\u202f: aucune source ne le précise" in fr


def test_cli_show_prints_citations_and_ranks_by_them(sample_db: Any, sample) -> None:
    from typer.testing import CliRunner

    from filiation.cli import app

    runner = CliRunner()
    d = sample.show(LLAMA)
    out = runner.invoke(app, ["--db", str(sample_db), "show", LLAMA]).stdout
    assert f"{d.citations:,} models name it as a parent" in out
    done = runner.invoke(
        app, ["--db", str(sample_db), "show", LLAMA, "--rank-by", "citations,downloads", "--json"]
    )
    data = json.loads(done.stdout)
    assert data["ranking"] == ["citations", "downloads"] and data["citations"] == d.citations
    cites = [c["citations"] for c in data["important_children"]]
    assert cites == sorted(cites, reverse=True)


def test_exports_carry_citations(sample) -> None:
    import csv
    import io

    d = sample.show(LLAMA)
    lin = sample.descendants(LLAMA, max_depth=1)
    want = {n.id: n.citations for n in lin}
    rows = list(
        csv.DictReader(
            io.StringIO(
                sample.export(
                    LLAMA, "nodes-csv", direction="descendants", max_depth=1
                ).content.decode()
            )
        )
    )
    assert {r["id"]: int(r["citations"]) for r in rows} == want
    data = json.loads(sample.export(LLAMA, "json", direction="descendants", max_depth=1).content)
    assert {n["id"]: n["citations"] for n in data["nodes"]} == want
    card = sample.export(LLAMA, "model-card").content.decode()
    assert f"- **Citations:** {d.citations:,} models name it as a parent" in card
    bom = json.loads(sample.export(LLAMA, "cyclonedx").content)
    props = {p["name"]: p["value"] for p in bom["metadata"]["component"]["properties"]}
    assert props["filiation:citations"] == str(d.citations)
