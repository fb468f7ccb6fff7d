"""The planned drawing of a family (filiation.lineage.view through Genealogy.graph): bounded
whatever the family's size, group nodes that stand for exactly the members not drawn, the
best-known members drawn first, groups opened a page at a time; on the bundled sample and on
a generated family of the size of the Hub's largest (50 k descendants)."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

import filiation
from filiation.errors import InvalidArgumentError
from filiation.lineage.index import DEFAULT_RANKING
from filiation.service import Genealogy

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
BASE = "meta-llama/Llama-3.1-8B"
HUGE = "synthetic/Base-50k"
#: The generated family: children of the start by relation, and grandchildren below the first
#: GRAND_PARENTS children (GRAND_EACH each): 50,000 descendants in all.
HUGE_CHILDREN = {"finetune": 30_000, "adapter": 11_000, "quantized": 4_000}
GRAND_PARENTS, GRAND_EACH = 100, 50


def synthetic_family(folder: Path) -> Path:
    """A SQLite store holding one family of 50 k descendants (edge list only)."""
    edges = folder / "edges.csv"
    with edges.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["parent_id", "child_id", "relation"])
        n = 0
        for rel, count in HUGE_CHILDREN.items():
            for _ in range(count):
                w.writerow([HUGE, f"user{n % 997}/child-{n:05d}", rel])
                n += 1
        for p in range(GRAND_PARENTS):
            for c in range(GRAND_EACH):
                w.writerow([f"user{p % 997}/child-{p:05d}", f"grand{c}/of-{p:05d}", "merge"])
    db = folder / "huge.sqlite"
    g = filiation.open(db, load_bundled=False)
    g.ingest_edges(edges)
    return db


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Genealogy:
    return filiation.open(tmp_path_factory.mktemp("gv") / "sample.sqlite")


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Genealogy:
    return filiation.open(synthetic_family(tmp_path_factory.mktemp("huge")), load_bundled=False)


def layers(view: Any) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in view.nodes:
        out[n["layer"]].append(n)
    return out


def check_bounded(view: Any, width: int, budget: int) -> None:
    ids = [n["id"] for n in view.nodes]
    assert len(ids) == len(set(ids))
    assert len(ids) <= budget + 1
    for layer, items in layers(view).items():
        assert len(items) <= (1 if layer == 0 else width), layer
    drawn = set(ids)
    assert all(e["parent"] in drawn and e["child"] in drawn for e in view.edges)


def check_first_generation(g: Genealogy, view: Any, root: str) -> None:
    """Generation 1: drawn children plus group members are exactly the start's children, each
    group counting the members of its relation not drawn, the drawn ones the best known."""
    first = layers(view)[1]
    children = g.children(root, limit=None, ranking=DEFAULT_RANKING)
    by_rel: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for c in children:  # a child linked twice counts once, in its first (best) relation
        if c.id not in seen:
            seen.add(c.id)
            by_rel[c.relation.value].append(c.id)
    drawn = {n["id"]: n for n in first if n["kind"] != "group"}
    groups = {n["relation"]: n for n in first if n["kind"] == "group"}
    assert len(drawn) + sum(n["members"] for n in groups.values()) == len(seen)
    for rel, members in by_rel.items():
        shown = [m for m in members if m in drawn]
        # The drawn members of a relation are its best known: a prefix of the ranking.
        assert shown == members[: len(shown)], rel
        hidden = len(members) - len(shown)
        if hidden:
            assert groups[rel]["members"] == hidden
            assert groups[rel]["anchor"] == root
            assert groups[rel]["best"] == members[len(shown)]
        else:
            assert rel not in groups


def test_sample_family_is_bounded_with_exact_groups(sample: Genealogy) -> None:
    view = sample.graph(LLAMA)
    check_bounded(view, 7, 40)
    check_first_generation(sample, view, LLAMA)
    assert any(n["kind"] == "group" for n in view.nodes) and view.cut["width"]
    # The ancestor is drawn above, with its link.
    parents = {p.id for p in sample.parents(LLAMA)}
    assert parents <= {n["id"] for n in layers(view)[-1]}
    assert {(e["parent"], e["child"]) for e in view.edges} >= {(p, LLAMA) for p in parents}
    # The overview counts the whole family; the generations are the family's real ones.
    whole = sample.descendants(LLAMA)
    assert sum(c["count"] for c in view.overview if c["generation"] > 0) == len(whole)
    assert view.generations["below"] == max(n["depth"] for n in whole.nodes)
    assert view.family == len(whole) + len(sample.ancestors(LLAMA))


def test_all_generations_of_the_largest_sample_family(sample: Genealogy) -> None:
    deep = sample.graph(BASE, max_depth=None, budget=200)
    check_bounded(deep, 7, 200)
    assert not deep.cut["depth"]
    assert max(n["layer"] for n in deep.nodes) == deep.generations["below"] == 13
    shallow = sample.graph(BASE, max_depth=1)
    assert shallow.cut["depth"] and {n["layer"] for n in shallow.nodes} == {0, 1}
    # Each drawn model of the last generation says how many children are not drawn.
    for n in shallow.nodes:
        if n["layer"] == 1 and n["kind"] == "model":
            assert n.get("more_below", 0) == len(
                {c.id for c in sample.children(n["id"], limit=None)}
            )


def test_an_opened_group_shows_the_next_page_of_members(sample: Genealogy) -> None:
    view = sample.graph(LLAMA)
    group = max((n for n in view.nodes if n["kind"] == "group"), key=lambda n: n["members"])
    key = group["id"].removeprefix("group:")
    members = [
        c.id
        for c in sample.children(
            LLAMA, relations=[group["relation"]], limit=None, ranking=DEFAULT_RANKING
        )
    ]
    opened = sample.graph(LLAMA, opened={key: group["next_offset"]})
    check_bounded(opened, 7, 40)
    shown = [
        n["id"]
        for n in opened.nodes
        if n["layer"] == 1 and n["relation"] == group["relation"] and n["kind"] != "group"
    ]
    start = group["next_offset"]
    assert shown and shown == members[start : start + len(shown)]
    again = next(n for n in opened.nodes if n["id"] == group["id"])
    assert again["members"] == len(members) - len(shown)
    # The group's members, a page at a time, all of them.
    page, total = sample.group(key, offset=0, limit=5)
    assert total == len(members) and len(page) == 5
    assert {p.id for p in page} <= set(members)


def test_data_set_and_author_graphs(sample: Genealogy) -> None:
    view = sample.graph("HuggingFaceH4/ultrachat_200k", kind="dataset")
    check_bounded(view, 7, 40)
    first = layers(view)[1]
    assert {n["relation"] for n in first} == {"trained_on"}
    trained = sample.children(
        "HuggingFaceH4/ultrachat_200k", kind="dataset", relations=["trained_on"], limit=None
    )
    assert sum(n["members"] for n in first) == len(trained)
    author = sample.graph("meta-llama", kind="author", max_depth=1)
    assert {n["relation"] for n in layers(author)[1]} == {"published_by"}


def test_bad_arguments_are_refused(sample: Genealogy) -> None:
    with pytest.raises(InvalidArgumentError):
        sample.graph(LLAMA, width=0)
    with pytest.raises(InvalidArgumentError):
        sample.group("x|finetune|" + LLAMA)


def test_a_family_of_50k_descendants_stays_a_few_dozen_items(huge: Genealogy) -> None:
    view = huge.graph(HUGE)
    check_bounded(view, 7, 40)
    assert view.family == 50_000
    assert Counter(c["relation"] for c in view.overview if c["generation"] == 1) == Counter(
        {r: 1 for r in HUGE_CHILDREN}
    )
    first = layers(view)[1]
    groups = {n["relation"]: n["members"] for n in first if n["kind"] == "group"}
    drawn = Counter(n["relation"] for n in first if n["kind"] != "group")
    assert {r: groups[r] + drawn[r] for r in HUGE_CHILDREN} == HUGE_CHILDREN
    check_first_generation(huge, view, HUGE)
    wide = huge.graph(HUGE, max_depth=None, width=20, budget=200)
    check_bounded(wide, 20, 200)
    assert max(n["layer"] for n in wide.nodes) == 2


def test_the_api_routes(sample: Genealogy) -> None:
    from fastapi.testclient import TestClient

    from filiation.api import create_app

    client = TestClient(create_app(sample))
    r = client.get(f"/api/graph/models/{LLAMA}", params={"max_depth": "all", "width": 5})
    assert r.status_code == 200
    body = r.json()
    assert body == sample.graph(LLAMA, max_depth=None, width=5).as_dict()
    assert len(body["nodes"]) <= body["budget"] + 1 and body["width"] == 5
    group = next(n for n in body["nodes"] if n["kind"] == "group")
    r = client.get(f"/api/graph/models/{LLAMA}", params={"open": group["id"] + "@2"})
    assert r.status_code == 200
    page = client.get("/api/graph-group", params={"key": group["id"], "limit": 3}).json()
    assert page["total"] == group["total"] and len(page["items"]) == 3
    data = client.get("/api/graph/datasets/HuggingFaceH4/ultrachat_200k").json()
    assert data["nodes"][0]["kind"] == "dataset"
    assert client.get(f"/api/graph/models/{LLAMA}", params={"max_depth": "x"}).status_code == 422
    assert client.get(f"/api/graph/models/{LLAMA}", params={"open": "a@b"}).status_code == 422
    assert client.get("/api/graph/models/nobody/nothing").status_code == 404
    assert client.get("/api/graph-group", params={"key": "z|merge|x"}).status_code == 422


def test_relation_colours_have_one_source() -> None:
    """The graph takes its colours from filiation.domain (the page's data-vocabulary); the
    stylesheet's --rel-* defaults, used by pages without a graph, must say the same."""
    import re

    from filiation.domain import RELATION_COLOURS, Relation

    css = (Path(__file__).parents[1] / "src/filiation/web/static/app.css").read_text()
    declared = dict(re.findall(r"--rel-(\w+):\s*(#[0-9a-fA-F]{6})", css))
    assert declared == {r.value: c for r, c in RELATION_COLOURS.items()}
    assert set(RELATION_COLOURS) == set(Relation)
