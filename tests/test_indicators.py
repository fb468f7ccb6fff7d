"""Indicators computed in the index: ``citations`` (distinct models naming a node as a
parent), checked against an independent reading of the real sample and on a small edge
list built for the edge cases (a child linked twice, a self-link)."""

from __future__ import annotations

from pathlib import Path

import filiation
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
