"""Lineage questions on the real sample, checked against an independent networkx reading."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import filiation
from filiation import InvalidArgumentError, NodeNotFoundError
from filiation.lineage.arrays import NULL_INT
from filiation.results import iso_dates
from filiation.service import bundled_snapshot
from tests import reference

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def most_derived(hub_sample: Path, k: int) -> list[str]:
    g = reference.model_graph(hub_sample)
    return sorted(g.nodes, key=lambda n: (-len(nx.descendants(g, n)), n))[:k]


def test_bundled_snapshot_is_the_real_sample(hub_sample: Path) -> None:
    assert bundled_snapshot().read_bytes() == hub_sample.read_bytes()


def test_descendants_match_an_independent_traversal(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    for root in most_derived(hub_sample, 6):
        lin = sample.descendants(root)
        got = {rec["id"].lower(): rec for rec in lin.nodes[1:]}
        expected = nx.single_source_shortest_path_length(ref, root)
        expected.pop(root)
        assert set(got) == set(expected), root
        for node_id, rec in got.items():
            assert rec["depth"] == expected[node_id]
            via = rec["via"].lower()
            # The node was reached from a node one generation up, by a real link of that type.
            assert expected.get(via, 0) == rec["depth"] - 1
            assert ref.edges[via, node_id]["relation"] == rec["relation"]
        assert not lin.truncated


def test_ancestors_of_merges_include_every_parent_line(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    merges = [n for n in ref.nodes if ref.in_degree(n) >= 3][:25]
    assert merges, "the sample has merges with several parents"
    for child in merges:
        lin = sample.ancestors(child)
        assert {i.lower() for i in lin.ids()} == nx.ancestors(ref, child)
        parents = {r["id"].lower() for r in lin.nodes[1:] if r["depth"] == 1}
        assert parents == set(ref.predecessors(child))
        depth = {r["id"].lower(): r["depth"] for r in lin.nodes}
        for rec in lin.nodes[1:]:
            # Each ancestor was reached from a node one generation nearer, its child.
            via = rec["via"].lower()
            assert depth[via] == rec["depth"] - 1
            assert ref.edges[rec["id"].lower(), via]["relation"] == rec["relation"]


def test_descendant_counts_and_generations_are_exact(sample, hub_sample: Path) -> None:
    """Merges make a node reachable twice; it must still be counted once."""
    ref = reference.model_graph(hub_sample)
    index = sample.index
    checked = 0
    for node in ref.nodes:
        if ref.out_degree(node) == 0:
            continue
        i = index.lookup(node)
        dist = nx.single_source_shortest_path_length(ref, node)
        assert int(index.a.descendants[i]) == len(dist) - 1, node
        assert int(index.a.generations[i]) == max(dist.values()), node
        checked += 1
    assert checked > 500


def test_relation_filter_follows_only_those_links(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    only = nx.DiGraph(
        [(u, v) for u, v, rel in ref.edges(data="relation") if rel in ("finetune", "adapter")]
    )
    only.add_node(LLAMA.lower())
    lin = sample.descendants(LLAMA, relations=["finetune", "adapter"])
    assert {i.lower() for i in lin.ids()} == nx.descendants(only, LLAMA.lower())
    assert set(lin.relation_counts()) <= {"finetune", "adapter"}
    # Aliases and comma lists are accepted, and mean the same.
    same = sample.descendants(LLAMA, relations="finetuned,adapter")
    assert same.ids() == lin.ids()


def test_max_depth_bounds_and_reports_the_cut(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    dist = nx.single_source_shortest_path_length(ref, LLAMA.lower(), cutoff=2)
    dist.pop(LLAMA.lower())
    lin = sample.descendants(LLAMA, max_depth=2)
    assert {i.lower() for i in lin.ids()} == set(dist)
    assert lin.depth_cut, "Llama-3.1-8B-Instruct has more than two generations below it"
    assert not sample.descendants(LLAMA, max_depth=50).depth_cut
    assert len(sample.descendants(LLAMA, max_depth=0)) == 0


def test_limit_keeps_the_nearest_then_best_known(sample, hub_sample: Path) -> None:
    full = sample.descendants(LLAMA)
    cut = sample.descendants(LLAMA, limit=30)
    assert len(cut) == 30 and cut.truncated
    depths = [r["depth"] for r in cut.nodes[1:]]
    last = max(depths)
    # Every node of a shallower generation than the last kept one is kept.
    assert {r["id"] for r in full.nodes[1:] if r["depth"] < last} <= set(cut.ids())
    # In the cut generation, the best known are kept.
    kept = [r for r in cut.nodes[1:] if r["depth"] == last]
    dropped = [r for r in full.nodes[1:] if r["depth"] == last and r["id"] not in set(cut.ids())]
    if dropped:
        assert min(r["downloads"] or 0 for r in kept) >= max(r["downloads"] or 0 for r in dropped)
    # Edges only join nodes of the answer.
    ids = {r["id"] for r in cut.nodes}
    assert all(e["parent"] in ids and e["child"] in ids for e in cut.edges)


def test_traversal_json_has_the_documented_shape(sample) -> None:
    data = sample.descendants(LLAMA, max_depth=2).to_dict()
    assert set(data) >= {"root", "nodes", "edges", "truncated"}
    assert data["root"] == LLAMA
    root = data["nodes"][0]
    assert root["id"] == LLAMA and root["depth"] == 0
    for node in data["nodes"]:
        assert {"id", "kind", "depth", "relation", "via", "declared", "downloads"} <= set(node)
    ids = {n["id"] for n in data["nodes"]}
    for edge in data["edges"]:
        assert set(edge) == {"parent", "child", "relation", "declared", "source"}
        assert edge["parent"] in ids and edge["child"] in ids
    # Merges: a node reached once may have several links inside the answer.
    assert len(data["edges"]) >= len(data["nodes"]) - 1


def test_full_lineage_puts_ancestors_above_and_descendants_below(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    lin = sample.lineage(LLAMA)
    up = {r["id"].lower() for r in lin.nodes[1:] if r["depth"] < 0}
    down = {r["id"].lower() for r in lin.nodes[1:] if r["depth"] > 0}
    assert up == nx.ancestors(ref, LLAMA.lower())
    assert down == nx.descendants(ref, LLAMA.lower())


def test_path_explains_how_b_derives_from_a(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    far = max(
        nx.single_source_shortest_path_length(ref, LLAMA.lower()).items(), key=lambda kv: kv[1]
    )[0]
    result = sample.path(LLAMA, far)
    assert result.found
    assert len(result.links) == nx.shortest_path_length(ref, LLAMA.lower(), far)
    assert result.links[0].parent == LLAMA
    assert result.links[-1].child.lower() == far
    for a, b in zip(result.links, result.links[1:], strict=False):
        assert a.child == b.parent
    for link in result.links:
        assert ref.edges[link.parent.lower(), link.child.lower()]["relation"] == link.relation
    assert not sample.path(far, LLAMA).found


def test_impact_of_a_dataset_is_its_models_and_all_their_descendants(
    sample, hub_sample: Path
) -> None:
    ref = reference.model_graph(hub_sample)
    users = reference.trained_on(hub_sample)
    checked = 0
    for dataset, models in sorted(users.items(), key=lambda kv: -len(kv[1]))[:8]:
        expected = set(models)
        for m in models:
            if m in ref:
                expected |= nx.descendants(ref, m)
        lin = sample.impact(dataset)
        assert {i.lower() for i in lin.ids()} == expected, dataset
        assert lin.nodes[0]["kind"] == "dataset"
        assert {r["id"].lower() for r in lin.nodes[1:] if r["depth"] == 1} == models
        checked += 1
    assert checked == 8


def test_show_counts_and_ranks_the_direct_family(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    d = sample.show(LLAMA, limit=5)
    expected: dict[str, int] = {}
    for _, _, rel in ref.out_edges(LLAMA.lower(), data="relation"):
        expected[rel] = expected.get(rel, 0) + 1
    assert d.children_by_relation == expected
    assert d.children == ref.out_degree(LLAMA.lower())
    assert d.descendants == len(nx.descendants(ref, LLAMA.lower()))
    assert d.downloads == reference.downloads(hub_sample)[LLAMA.lower()]
    assert d.license == "llama3.1" and d.pipeline_tag == "text-generation"
    keys = [(c.descendants, c.downloads or 0, c.likes or 0) for c in d.important_children]
    assert keys == sorted(keys, reverse=True) and len(keys) == 5
    # The best child by the rule is the best of all children, not only of the listed ones.
    all_children = sample.children(LLAMA, limit=None)
    best = max(all_children, key=lambda c: (c.descendants, c.downloads or 0, c.likes or 0))
    assert d.important_children[0].id == best.id
    by_likes = sample.show(LLAMA, limit=5, ranking=["likes"]).important_children
    assert [c.likes for c in by_likes] == sorted(
        (c.likes or 0 for c in all_children), reverse=True
    )[:5]


def test_children_come_best_known_first(sample) -> None:
    kids = sample.children(LLAMA, limit=10)
    downloads = [k.downloads or 0 for k in kids]
    assert downloads == sorted(downloads, reverse=True)


def test_ids_are_case_insensitive_and_shown_as_published(sample) -> None:
    assert sample.show(LLAMA.upper()).id == LLAMA
    assert sample.resolve("META-LLAMA/llama-3.1-8b-INSTRUCT") == LLAMA


def test_unknown_ids_and_bad_arguments_get_clear_errors(sample) -> None:
    with pytest.raises(NodeNotFoundError) as info:
        sample.descendants("meta-llama/Llama-3.1-8B-Instructt")
    assert "did you mean" in str(info.value)
    with pytest.raises(InvalidArgumentError, match="unknown relation"):
        sample.descendants(LLAMA, relations=["cousin"])
    with pytest.raises(InvalidArgumentError):
        sample.descendants(LLAMA, max_depth=-1)
    with pytest.raises(InvalidArgumentError):
        sample.search("llama", limit=-5)
    with pytest.raises(InvalidArgumentError):
        sample.show("   ")
    with pytest.raises(NodeNotFoundError):
        sample.impact(LLAMA)  # a model is not a data set


def test_search_is_case_insensitive_and_best_known_first(sample, hub_sample: Path) -> None:
    hits = sample.search("LLAMA-3.1-8b", limit=15)
    assert hits and hits == sample.search("llama-3.1-8B", limit=15)
    assert all("llama-3.1-8b" in h.id.lower() for h in hits)
    assert hits[0].id == LLAMA  # the best known model containing the text
    dls = [h.downloads or 0 for h in hits]
    assert dls == sorted(dls, reverse=True)
    # Nothing better known was missed.
    ref = reference.downloads(hub_sample)
    matching = sorted((v for k, v in ref.items() if "llama-3.1-8b" in k), reverse=True)
    assert dls[:10] == matching[:10]
    assert sample.search("zzzz-no-such-model-zzzz") == []
    authors = sample.search("meta-llama", kinds=["author"])
    assert [h.id for h in authors] == ["meta-llama"]
    assert all(h.kind.value == "dataset" for h in sample.search("ultra", kinds=["dataset"]))


def test_stats_describe_what_is_loaded(sample, hub_sample: Path) -> None:
    ref = reference.model_graph(hub_sample)
    s = sample.stats()
    lineage_links = sum(
        v for k, v in s.links_by_relation.items() if k not in ("trained_on", "published_by")
    )
    assert lineage_links == ref.number_of_edges()
    assert s.nodes_by_kind["model"] == ref.number_of_nodes()
    assert s.stubs_by_kind["model"] == len(
        set(ref.nodes) - {r["id"].lower() for r in reference.rows(hub_sample)}
    )
    assert s.cycles == 0 and len(s.snapshots) == 1


def write_edges(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("parent_id,child_id,relation\n" + "".join(f"{p},{c},{r}\n" for p, c, r in rows))
    return path


def test_cycles_self_loops_and_merges_are_handled(tmp_path: Path, fresh_db) -> None:
    rows = [
        ("org/a", "org/b", "finetuned"),
        ("org/b", "org/c", "finetuned"),
        ("org/c", "org/a", "finetuned"),  # cycle a -> b -> c -> a
        ("org/b", "org/d", "merged"),
        ("org/e", "org/d", "merged"),  # d merges b and e
        ("org/d", "org/f", "quantized"),
        ("org/f", "org/f", "quantized"),  # self-loop
        ("org/e", "org/g", "adapter"),
    ]
    g = filiation.open(fresh_db, load_bundled=False)
    report = g.ingest_edges(write_edges(tmp_path / "edges.csv", rows))
    assert sum(v for k, v in report.skipped.items() if "self-loop" in k) == 1
    ref = nx.DiGraph([(p, c) for p, c, _ in rows if p != c])
    for node in ref.nodes:
        lin = g.descendants(node)
        assert set(lin.ids()) == nx.descendants(ref, node), node
        assert int(g.index.a.descendants[g.index.lookup(node)]) == len(nx.descendants(ref, node))
        assert set(g.ancestors(node).ids()) == nx.ancestors(ref, node)
    s = g.stats()
    assert s.cycles == 1 and s.nodes_in_cycles == 3
    assert {p.id for p in g.show("org/d").parents} == {"org/b", "org/e"}
    assert g.path("org/e", "org/f").found
    assert [link.relation.value for link in g.path("org/a", "org/f").links] == [
        "finetune",
        "merge",
        "quantized",
    ]


def test_a_long_chain_is_walked_and_bounded(tmp_path: Path, fresh_db) -> None:
    chain = [(f"org/m{i}", f"org/m{i + 1}", "finetune") for i in range(120)]
    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_edges(write_edges(tmp_path / "chain.csv", chain))
    lin = g.descendants("org/m0")
    assert len(lin) == 120 and lin.max_depth == 120
    assert g.show("org/m0").generations == 120
    assert len(g.ancestors("org/m120", max_depth=80)) == 80
    assert g.ancestors("org/m120", max_depth=80).depth_cut


def test_the_index_is_cached_and_rebuilt_only_for_new_snapshots(
    sample_db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import filiation.lineage.build as build_mod

    def fail(*_a, **_k):
        raise AssertionError("the index was rebuilt although no snapshot changed")

    monkeypatch.setattr(build_mod, "build", fail)
    g = filiation.open(sample_db)
    assert len(g.descendants(LLAMA)) > 100


def test_an_empty_store_starts_with_the_bundled_sample(fresh_db) -> None:
    g = filiation.open(fresh_db)
    assert len(g.descendants(LLAMA)) > 100
    (snap,) = g.snapshots()
    assert "cfahlgren1/hub-stats" in snap["label"] and snap["current"]


def test_an_id_shared_by_a_model_and_a_dataset_resolves_by_kind(tmp_path: Path, fresh_db) -> None:
    """On the Hub a data set and a model may share an id; models come first unless asked."""
    edges = tmp_path / "e.csv"
    edges.write_text(
        "parent_id,child_id,relation\n"
        "org/shared,org/child,finetune\n"
        "org/shared,org/trained,trained_on\n"
        "org/other,org/shared,finetune\n"
    )
    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_edges(edges)
    assert g.show("org/shared").kind.value == "model"
    assert g.show("ORG/SHARED", kind="dataset").kind.value == "dataset"
    assert g.impact("org/shared").ids() == ["org/trained"]
    assert g.descendants("org/shared").ids() == ["org/child"]
    assert g.ancestors("org/shared").ids() == ["org/other"]


def test_a_traversal_query_asks_the_same_as_its_keywords(sample, hub_sample: Path) -> None:
    from filiation.lineage.query import TraversalQuery

    root = most_derived(hub_sample, 1)[0]
    asked = {"relations": "finetune,adapter", "max_depth": 2, "limit": 40, "kinds": "model"}
    q = TraversalQuery.parse(**asked)
    for question in (sample.ancestors, sample.descendants, sample.lineage):
        by_query, by_keywords = question(root, query=q), question(root, **asked)
        assert by_query.to_json() == by_keywords.to_json()
    assert len(sample.descendants(root, query=q).nodes) <= 41
    exported = sample.export(root, "json", query=q).content
    assert exported == sample.export(root, "json", **asked).content
    with pytest.raises(InvalidArgumentError, match="not both"):
        sample.descendants(root, query=q, max_depth=1)


def test_creation_dates_are_iso_8601_and_unknown_ones_null() -> None:
    """A traversal writes its nodes' dates all at once: as ``datetime`` does one by one, and
    ``null`` for an unknown date or one ISO 8601 cannot write (``datetime`` raised there)."""
    rng = random.Random(5)
    # microseconds since 1970, from year 1000 to 9999, with the instants either side of 1970
    micros = [rng.randint(-30_610_224_000_000_000, 253_402_300_799_999_999) for _ in range(5000)]
    micros += [-1_500_000, -1, 0, 1, 999_999, 1_000_000]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    want = [(epoch + timedelta(microseconds=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in micros]
    assert iso_dates(np.array(micros)) == want
    beyond = [NULL_INT, -(2**62), 2**62, 253_402_300_800_000_000]
    assert iso_dates(np.array(beyond)) == [None] * len(beyond)
    assert iso_dates(np.array([-62_135_596_800_000_000])) == ["0001-01-01T00:00:00Z"]
