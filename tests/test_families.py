"""An author's families: the root ancestors of its models, counted, in the service, the CLI,
the JSON API; and what derives from an author's models."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

import filiation
from filiation.api import create_app
from filiation.cli import app

AUTHOR = "meta-llama"
LINEAGE = ["finetune", "quantized", "adapter", "merge", "unspecified"]


def _expected(sample, author: str) -> Counter[str]:
    """Each model's roots found the slow way: its ancestors (and itself) with no parent."""
    published = sample.children(author, kind="author", relations=["published_by"], limit=None)
    counts: Counter[str] = Counter()
    for m in published:
        if m.kind != "model":
            continue
        family = [m.id, *(n["id"] for n in sample.ancestors(m.id, kind="model").nodes[1:])]
        for node in family:
            if not sample.parents(node, kind="model", relations=LINEAGE, limit=1):
                counts[node] += 1
    return counts


def test_families_count_each_models_root_ancestors(sample) -> None:
    want = _expected(sample, AUTHOR)
    result = sample.families(AUTHOR, limit=1000)
    assert result.author == AUTHOR and result.total == len(want)
    assert {f.root.id: f.members for f in result.families} == dict(want)
    members = [f.members for f in result.families]
    assert members == sorted(members, reverse=True)
    top = sample.families(AUTHOR, limit=3)
    assert [f.root.id for f in top.families] == [f.root.id for f in result.families[:3]]


def test_families_through_the_cli_and_the_api(sample, sample_db: Path) -> None:
    want = sample.families(AUTHOR, limit=5).model_dump(mode="json")
    out = CliRunner().invoke(app, ["--db", str(sample_db), "families", AUTHOR, "-n", "5", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == want
    client = TestClient(create_app(sample))
    r = client.get(f"/api/authors/{AUTHOR}/families", params={"limit": 5})
    assert r.status_code == 200 and r.json() == want
    assert client.get("/api/authors/nobody-at-all-here/families").status_code == 404


def test_what_derives_from_an_authors_models(sample) -> None:
    client = TestClient(create_app(sample))
    r = client.get(f"/api/authors/{AUTHOR}/descendants", params={"max_depth": 1})
    assert r.status_code == 200
    doc = r.json()
    published = sample.children(AUTHOR, kind="author", relations=["published_by"], limit=None)
    assert {n["id"] for n in doc["nodes"][1:]} == {m.id for m in published}
    deeper = client.get(f"/api/authors/{AUTHOR}/descendants", params={"max_depth": 2}).json()
    assert len(deeper["nodes"]) > len(doc["nodes"])
    assert {n["relation"] for n in deeper["nodes"][1:]} - {"published_by"} <= set(LINEAGE)


def test_merges_count_in_each_family_and_cycles_have_no_root(tmp_path: Path) -> None:
    """A store of its own: a merge of two bases, a model of a cycle, a model with no parent."""
    edges = tmp_path / "edges.csv"
    edges.write_text(
        "parent_id,child_id,relation\n"
        "a/base,me/tuned,finetune\n"
        "me/tuned,me/tuned-q4,quantized\n"
        "a/base,me/merged,merge\n"
        "b/base,me/merged,merge\n"
        "x/loop,me/looped,finetune\n"
        "me/looped,x/loop,finetune\n"
        "me/alone,someone/else,adapter\n"
    )
    g = filiation.open(tmp_path / "own.sqlite", load_bundled=False)
    g.ingest_edges(edges)
    result = g.families("me")
    assert result.models == 5 and result.total == 3
    got = {f.root.id: f.members for f in result.families}
    assert got == {"a/base": 3, "b/base": 1, "me/alone": 1}
    assert g.families("me", limit=1).families[0].root.id == "a/base"


def test_an_authors_search_hit_counts_follow_a_new_snapshot(tmp_path: Path) -> None:
    """The search hit's models and families (memoised per index) come from the index in use:
    after an edge list adds a model in a new family, the same search counts it."""
    edges = tmp_path / "edges.csv"
    edges.write_text("parent_id,child_id,relation\na/base,me/tuned,finetune\nme/alone,x/y,merge\n")
    g = filiation.open(tmp_path / "own.sqlite", load_bundled=False)
    g.ingest_edges(edges, name="first")

    def me() -> tuple[int | None, int | None]:
        hit = next(h for h in g.search("me", limit=50) if h.id == "me")
        again = next(h for h in g.search("me", limit=50) if h.id == "me")
        assert (again.models, again.families) == (hit.models, hit.families)
        return hit.models, hit.families

    assert me() == (2, 2)
    more = tmp_path / "more.csv"
    more.write_text("parent_id,child_id,relation\nc/base,me/new,finetune\n")
    g.ingest_edges(more, name="second")
    assert me() == (3, 3)
