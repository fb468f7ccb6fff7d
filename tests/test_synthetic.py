"""The benchmark's synthetic dump (merges, long chains, cycles, self-loops, renamed and absent
parents) ingested at a size the suite can afford, checked against what the generator says it
wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pyarrow.parquet as pq
import pytest

import filiation

GENERATOR = Path(__file__).resolve().parents[1] / "benchmarks" / "synthetic.py"


@pytest.fixture(scope="module")
def synthetic(
    tmp_path_factory: pytest.TempPathFactory, stores
) -> tuple[filiation.Genealogy, dict, Path]:
    out = tmp_path_factory.mktemp("synthetic") / "hub.parquet"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--models", "20000", "--out", str(out), "--seed", "5"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    g = filiation.open(stores.new("synthetic", folder=out.parent), load_bundled=False)
    report = g.ingest_hub_stats(out)
    assert report.rows_read == 20_000
    return g, meta, out


def test_largest_family_has_the_generated_descendants(synthetic) -> None:
    g, meta, _ = synthetic
    lin = g.descendants(meta["largest_family_root"])
    assert len(lin) == meta["largest_family_descendants"]
    assert g.show(meta["largest_family_root"]).children == meta["largest_family_direct_children"]
    assert g.show(meta["largest_family_root"]).descendants == len(lin)


def test_deepest_chain_is_walked_to_its_root(synthetic) -> None:
    g, meta, _ = synthetic
    up = g.ancestors(meta["deepest_model"])
    assert len(up) == meta["deepest_model_ancestors"]
    path = g.path(meta["deepest_chain_root"], meta["deepest_model"])
    assert path.found and len(path.links) <= meta["deepest_chain_links"]


def test_every_generated_cycle_is_found_and_walks_end(synthetic) -> None:
    g, meta, _ = synthetic
    cycles = meta["cycles"]
    assert g.stats().cycles >= len(cycles)
    for cycle in cycles:
        for node in cycle:
            reached = set(g.descendants(node).ids())
            assert set(cycle) - {node} <= reached, (node, cycle)
    for loop in meta["self_loops"]:
        assert loop not in g.descendants(loop).ids()


def test_descendant_counts_agree_with_networkx(synthetic) -> None:
    """Exact counts through merges and cycles, on every parent of the dump."""
    g, _, out = synthetic
    ref = nx.DiGraph()
    for row in pq.read_table(out, columns=["id", "baseModels"]).to_pylist():
        bm = row["baseModels"]
        for parent in (bm or {}).get("models") or []:
            if parent["id"].lower() != row["id"].lower():
                ref.add_edge(parent["id"].lower(), row["id"].lower())
    index = g.index
    checked = 0
    for node in ref.nodes:
        if ref.out_degree(node) == 0:
            continue
        expected = nx.descendants(ref, node)
        got = {i.lower() for i in g.descendants(node).ids()}
        # filiation also follows parents named only in tags or cards: a superset.
        assert expected <= got, node
        assert int(index.a.descendants[index.lookup(node)]) == len(got)
        checked += 1
    assert checked > 1000
