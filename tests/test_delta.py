"""A change applied as a delta over the previous index (``lineage/delta/``) gives the index a
full rebuild gives: same nodes and fields, same links and provenance, same descendant counts,
same walks, parents and children, search hits and stats, with nodes in the same order of
renown (ties aside, see the module). Random deltas over the real sample: links added and
removed, parents changed, cycles created and broken, nodes added, removed, re-described.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filiation.lineage.arrays import IndexArrays
from filiation.lineage.build import SourceTables, build
from filiation.lineage.delta import apply_delta, touched_keys
from filiation.lineage.index import LineageIndex
from filiation.service.index_cache import source_priority
from filiation.sources import hub_stats
from filiation.sources.records import LINK_SCHEMA, NODE_SCHEMA
from tests.legacy_index import legacy_search_filter

RELS = ["finetune", "quantized", "adapter", "merge", "trained_on"]
SEARCHES = ["llama", "acme", "new-", "qwen", "-7b", "mistral"]


@pytest.fixture(scope="module")
def hub(hub_sample: Path) -> SourceTables:
    records = hub_stats.read(hub_sample)
    return SourceTables(1, "hub-stats", "sample", records.nodes, records.links)


@pytest.fixture(scope="module")
def hub_ids(hub_sample: Path) -> list[str]:
    return pq.read_table(hub_sample, columns=["id"]).column("id").to_pylist()


def records(
    nodes: list[tuple[str, int, int, str | None]],
    links: list[tuple[str, str, str]],
    suspected: bool = False,
) -> tuple[pa.Table, pa.Table]:
    """A source's tables from rows: (id, downloads, likes, licence) and (child, parent, rel)."""
    n = len(nodes)
    node_cols: dict[str, Any] = {f.name: pa.nulls(n, f.type) for f in NODE_SCHEMA}
    node_cols.update(
        kind=pa.array(["model"] * n, pa.string()),
        key=pa.array([i.lower() for i, *_ in nodes], pa.string()),
        id=pa.array([i for i, *_ in nodes], pa.string()),
        downloads=pa.array([d for _, d, _, _ in nodes], pa.int64()),
        likes=pa.array([lk for _, _, lk, _ in nodes], pa.int64()),
        license=pa.array([lic for *_, lic in nodes], pa.string()),
    )
    m = len(links)
    kind = ["dataset" if r == "trained_on" else "model" for _, _, r in links]
    link_cols = {
        "child_kind": pa.array(["model"] * m, pa.string()),
        "child_key": pa.array([c.lower() for c, _, _ in links], pa.string()),
        "child_id": pa.array([c for c, _, _ in links], pa.string()),
        "parent_kind": pa.array(kind, pa.string()),
        "parent_key": pa.array([p.lower() for _, p, _ in links], pa.string()),
        "parent_id": pa.array([p for _, p, _ in links], pa.string()),
        "relation": pa.array([r for *_, r in links], pa.string()),
        "declared": pa.array([not suspected] * m, pa.bool_()),
        "evidence": pa.array(
            [
                f'{{"confidence": 0.{40 + i % 60}}}' if suspected else f"edges.csv:{i}"
                for i in range(m)
            ],
            pa.string(),
        ),
    }
    return (
        pa.table(node_cols, schema=NODE_SCHEMA),
        pa.table(link_cols, schema=LINK_SCHEMA),
    )


def random_source(rng: random.Random, pool: list[str]) -> tuple[list[Any], list[Any]]:
    """Rows of a small source over ``pool`` (real ids and new ones)."""
    nodes = [
        (
            rng.choice(pool),
            rng.choice([0, 5, 10**6, 10**9]),
            rng.randint(0, 3),
            rng.choice([None, "mit", "apache-2.0"]),
        )
        for _ in range(rng.randint(0, 12))
    ]
    links = []
    for _ in range(rng.randint(0, 25)):
        child, parent = rng.sample(pool, 2)
        links.append((child, parent, rng.choice(RELS)))
    dedup_nodes = list({n[0].lower(): n for n in nodes}.values())
    return dedup_nodes, links


def mutate(rng: random.Random, src: tuple[list[Any], list[Any]], pool: list[str]) -> Any:
    """The next version of a source: links removed, added, re-parented, reversed (which
    makes and breaks cycles), node rows dropped, added and re-described."""
    nodes, links = list(src[0]), list(src[1])
    for _ in range(rng.randint(0, 4)):
        action = rng.randrange(6)
        if action == 0 and links:
            links.pop(rng.randrange(len(links)))
        elif action == 1:
            child, parent = rng.sample(pool, 2)
            links.append((child, parent, rng.choice(RELS)))
        elif action == 2 and links:
            i = rng.randrange(len(links))
            child, _, rel = links[i]
            parent = rng.choice([p for p in pool if p != child])
            links[i] = (child, parent, rel)
        elif action == 3 and links:
            child, parent, rel = links[rng.randrange(len(links))]
            links.append((parent, child, "finetune" if rel == "trained_on" else rel))
        elif action == 4 and nodes:
            nodes.pop(rng.randrange(len(nodes)))
        else:
            nodes.append((rng.choice(pool), rng.choice([0, 7, 10**8]), rng.randint(0, 5), None))
    return list({n[0].lower(): n for n in nodes}.values()), links


def tables(
    hub: SourceTables, api: Any, api_id: int, edges: Any, sus: list[Any] | None = None
) -> list[SourceTables]:
    out = [
        hub,
        SourceTables(2, "edges:team", "team", *records(*edges)),
        SourceTables(api_id, "hub-api:acme", "family", *records(*api)),
    ]
    if sus:
        out.append(SourceTables(6, "inferred:metadata", "suspects", *records([], sus, True)))
    out.sort(key=lambda t: source_priority(t.source, t.snapshot_id))
    return out


def canon(a: IndexArrays) -> dict[str, Any]:
    """Everything an answer is made of, by id rather than by node number."""
    n = a.n_nodes
    ids = [i.lower() for i in a.ids_of(np.arange(n))]
    key = [(ids[v], int(a.kind[v])) for v in range(n)]

    def vocab(name: str, code: int) -> str | None:
        return a.vocab[name][code] if code >= 0 else None

    nodes = {
        key[v]: (
            a.id_of(v),
            bool(a.stub[v]),
            int(a.downloads[v]),
            int(a.likes[v]),
            float(a.score[v]),
            vocab("license", int(a.license[v])),
            int(a.descendants[v]),
            int(a.citations[v]),
            int(a.generations[v]),
            key[int(a.author[v])] if a.author[v] >= 0 else None,
        )
        for v in range(n)
    }
    edges = sorted(
        (
            key[int(a.edge_child[e])],
            key[int(a.edge_parent[e])],
            int(a.edge_rel[e]),
            bool(a.edge_declared[e]),
            a.vocab["sources"][a.edge_source[e]] if a.edge_source[e] >= 0 else None,
            a.vocab["evidence"][a.edge_evidence[e]],
            None if np.isnan(a.edge_confidence[e]) else round(float(a.edge_confidence[e]), 4),
        )
        for e in range(len(a.edge_child))
    )
    renown = [(float(a.score[v]), max(int(a.likes[v]), 0)) for v in range(n)]
    stats = {k: a.meta.get(k) for k in ("cycles", "nodes_in_cycles", "links", "nodes")}
    return {"nodes": nodes, "edges": edges, "renown": renown, "stats": stats}


def walks(a: IndexArrays, picks: list[str]) -> dict[str, Any]:
    """Ancestors, descendants, parents, children of some nodes, and search hits, by id."""
    index = LineageIndex(a)
    out: dict[str, Any] = {}
    for name in picks:
        node = index.lookup(name)
        if node is None:
            out[name] = None
            continue
        row = []
        for down in (True, False):
            for conf in (None, 0.5):
                walk = index.walk([node], down=down, min_confidence=conf)
                row.append(sorted(zip(a.ids_of(walk.nodes), walk.depth.tolist(), strict=True)))
            nbrs, _ = index.neighbours(node, down=down, relations=None)
            row.append(sorted(a.ids_of(nbrs)))
            # best known first: the neighbours' renown in the order given
            row.append([(float(a.score[v]), int(max(a.likes[v], 0))) for v in nbrs])
        out[name] = row
    for text in SEARCHES:
        hits = index.search(text, limit=10_000)
        out["?" + text] = (sorted(a.ids_of(np.array(hits))), [float(a.score[h]) for h in hits])
    return out


def on_disk(a: IndexArrays, folder: Path) -> IndexArrays:
    """``a`` published and mapped back, as every process reads an index."""
    a.save(folder)
    return IndexArrays.load(folder)


def staged(
    base: IndexArrays, sources: list[SourceTables], keys: pa.Array, work: Path | None
) -> IndexArrays:
    """The delta as ``apply_delta`` makes it in memory, or (with ``work``) as an ingest
    does: from a published base, its arrays staged in a folder, then published itself."""
    if work is None:
        return apply_delta(base, sources, keys)
    mapped = on_disk(base, work / "base")
    stage = work / "stage"
    stage.mkdir()
    published = on_disk(apply_delta(mapped, sources, keys, folder=stage), work / "delta")
    shutil.rmtree(stage)  # as the ingest does: the published index keeps its links
    return published


def check_delta(hub: SourceTables, hub_ids: list[str], seed: int, work: Path | None) -> None:
    rng = random.Random(seed)
    pool = rng.sample(hub_ids[:400], 30) + [f"acme/New-{i}" for i in range(12)]
    pool += ["ds/corpus-a", "ds/corpus-b"]
    edges = random_source(rng, pool)
    old = random_source(rng, pool)
    new = mutate(rng, old, pool)
    sus = [(c, p, "finetune") for c, p in (rng.sample(pool, 2) for _ in range(rng.randint(0, 6)))]
    base = build(tables(hub, old, 3, edges, sus))
    full = build(tables(hub, new, 4, edges, sus))
    keys = touched_keys(records(*old), records(*new))
    delta = staged(base, tables(hub, new, 4, edges, sus), keys, work)
    assert canon(delta) == canon(full)
    picks = [p for p in pool if rng.random() < 0.5] + [hub_ids[0]]
    assert walks(delta, picks) == walks(full, picks)


def test_a_new_family_and_its_removal_match_a_rebuild(
    hub: SourceTables, hub_ids: list[str]
) -> None:
    parent = hub_ids[0]
    links = [("acme/ft", parent, "finetune"), ("acme/q", "acme/ft", "quantized")]
    with_it = ([("acme/ft", 10**9, 3, "mit")], links)
    empty: tuple[list[Any], list[Any]] = ([], [])
    no_edges: tuple[list[Any], list[Any]] = ([], [])
    base = build(tables(hub, empty, 3, no_edges))
    keys = touched_keys(records(*empty), records(*with_it))
    grown = apply_delta(base, tables(hub, with_it, 4, no_edges), keys)
    assert canon(grown) == canon(build(tables(hub, with_it, 4, no_edges)))
    # the new model is the best known: it comes first, and its parent counts it
    assert grown.id_of(0) == "acme/ft"
    p = LineageIndex(grown).lookup(parent)
    assert (
        p is not None
        and grown.descendants[p] == base.descendants[LineageIndex(base).lookup(parent)] + 2
    )
    shrunk = apply_delta(grown, tables(hub, empty, 5, no_edges), keys)
    assert canon(shrunk) == canon(base)


@pytest.mark.parametrize("seed", [3, 17, 40])
def test_new_models_under_known_ones_keep_every_link_in_place(
    hub: SourceTables, hub_ids: list[str], seed: int, tmp_path: Path
) -> None:
    """The usual small change (an edge list of new models under known ones) leaves every
    link of the base where it was, the new ones inserted in the layouts, and still gives
    what a rebuild gives; published, it shares the files it did not change with the base
    (linked, not written again: no suspected link changed)."""
    rng = random.Random(seed)
    known = rng.sample(hub_ids[:400], 20)
    edges = ([], [(f"team/m-{i}", rng.choice(known), rng.choice(RELS)) for i in range(6)])
    api: tuple[list[Any], list[Any]] = ([], [])
    more = [(f"team/n-{i}", rng.choice(known), rng.choice(RELS)) for i in range(rng.randint(1, 9))]
    grown = (edges[0], edges[1] + more)
    base = build(tables(hub, api, 3, edges))
    keys = touched_keys(records(*edges), records(*grown))
    delta = staged(base, tables(hub, api, 3, grown), keys, tmp_path)
    full = build(tables(hub, api, 3, grown))
    assert canon(delta) == canon(full)
    picks = [*known[:8], "team/n-0"]
    assert walks(delta, picks) == walks(full, picks)
    kept = base.meta["links"]
    assert delta.meta["links"] > kept
    same = np.arange(base.n_nodes)
    assert delta.ids_of(same) == base.ids_of(same)  # no node renumbered
    assert (delta.edge_child[:kept] == base.edge_child).all()
    assert (delta.edge_parent[:kept] == base.edge_parent).all()
    for name in ("sus_down_nbr", "sus_up_edge"):
        assert (tmp_path / "delta" / f"{name}.npy").samefile(tmp_path / "base" / f"{name}.npy")


def test_a_long_edge_list_keeps_each_links_evidence(hub: SourceTables, hub_ids: list[str]) -> None:
    """Each row of an edge list is its own evidence (``edges.csv:<row>``): past 32,767 rows
    the codes must not wrap (they did in 16 bits, showing another row's evidence)."""
    n = 40_000
    links = [(f"team/m-{i}", hub_ids[i % 50], "finetune") for i in range(n)]
    api: tuple[list[Any], list[Any]] = ([], [])
    a = build(tables(hub, api, 3, ([], links)))
    index = LineageIndex(a)
    for i in (0, 32_767, 32_768, n - 1):
        child = index.lookup(f"team/m-{i}")
        assert child is not None
        edges = np.flatnonzero(np.asarray(a.edge_child) == child)
        said = {a.vocab["evidence"][int(a.edge_evidence[e])] for e in edges}
        assert f"edges.csv:{i}" in said


def test_a_cycle_made_then_broken_matches_a_rebuild(hub: SourceTables, hub_ids: list[str]) -> None:
    a, b = hub_ids[1], hub_ids[2]
    no_edges: tuple[list[Any], list[Any]] = ([], [])
    one = ([], [(b, a, "finetune")])
    loop = ([], [(b, a, "finetune"), (a, b, "merge")])
    base = build(tables(hub, one, 3, no_edges))
    cyc = apply_delta(
        base, tables(hub, loop, 4, no_edges), touched_keys(records(*one), records(*loop))
    )
    full = build(tables(hub, loop, 4, no_edges))
    assert canon(cyc) == canon(full)
    assert cyc.meta["cycles"] == full.meta["cycles"] >= 1
    back = apply_delta(
        cyc, tables(hub, one, 5, no_edges), touched_keys(records(*loop), records(*one))
    )
    assert canon(back) == canon(build(tables(hub, one, 5, no_edges)))


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples every run: CI answers the same for the same code
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_random_deltas_match_a_full_rebuild(
    hub: SourceTables, hub_ids: list[str], seed: int
) -> None:
    check_delta(hub, hub_ids, seed, None)


@pytest.mark.parametrize("seed", [2, 9, 58])
def test_random_deltas_counting_every_node_again_match_a_full_rebuild(
    hub: SourceTables, hub_ids: list[str], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delta reaching more nodes than it walks one by one counts every node again (with
    the cycles): the same answers."""
    from filiation.lineage.delta import counts

    monkeypatch.setattr(counts, "walk_limit", lambda _base: -1)
    check_delta(hub, hub_ids, seed, None)


@pytest.mark.parametrize("failure", ["no kernel copy", "full disk"])
def test_a_delta_that_cannot_copy_or_write_its_files_still_matches_a_full_rebuild(
    hub: SourceTables,
    hub_ids: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    """Without ``copy_file_range`` (another file system) the staged arrays are written in
    full; on a full disk the rest of the index is made in memory (the store's commit then
    reports the disk): the same answers either way."""
    import errno
    import os

    from filiation.lineage.delta import staging

    if failure == "no kernel copy":
        monkeypatch.setattr(staging, "_copy_pieces", lambda *_args: False)
    else:

        def full(*_args: Any) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(staging.os, "posix_fallocate", full)
    for seed in (7, 13):
        work = tmp_path / str(seed)
        work.mkdir()
        check_delta(hub, hub_ids, seed, work)


@pytest.mark.parametrize("seed", [5, 11, 23, 31, 47, 64, 80, 99])
def test_random_deltas_staged_on_disk_match_a_full_rebuild(
    hub: SourceTables, hub_ids: list[str], seed: int, tmp_path: Path
) -> None:
    """The same comparison when the delta writes its arrays ahead into a folder, copies the
    base's files and links those it keeps (``staging.py``), as an ingest does."""
    check_delta(hub, hub_ids, seed, tmp_path)


def new_models(
    rng: random.Random, known: list[str], tag: str, n: int
) -> list[tuple[str, str, str]]:
    """An edge list of ``n`` new models of no renown: under known ones, under each other
    (chains), some with two parents (merges), some trained on a new data set."""
    out: list[tuple[str, str, str]] = []
    for i in range(n):
        child = f"team-{tag}/m-{i}"
        out.append((child, rng.choice(known), rng.choice(["finetune", "adapter", "merge"])))
        if i and rng.random() < 0.3:
            out.append((child, f"team-{tag}/m-{rng.randrange(i)}", "quantized"))
        if rng.random() < 0.2:
            out.append((child, rng.choice(known), "merge"))
        if rng.random() < 0.1:
            out.append((child, f"ds/new-{tag}", "trained_on"))
    return out


@pytest.mark.parametrize("seed", [4, 21, 77])
def test_chained_appending_deltas_grow_the_base_files_and_match_a_full_rebuild(
    hub: SourceTables, hub_ids: list[str], seed: int, tmp_path: Path
) -> None:
    """The common change (new models of no renown under known ones) takes the appending
    path: every array of the published delta is the base's own file grown in place (the
    base's readers keep their bytes), with its few changed rows as a patch; a chain of such
    deltas, then one that re-describes and removes (the patched copy), then appending
    again, each equals a full build of the same snapshots."""
    rng = random.Random(seed)
    known = rng.sample(hub_ids[:400], 25)
    api: tuple[list[Any], list[Any]] = ([], [])
    edges: tuple[list[Any], list[Any]] = ([], [])
    current = on_disk(build(tables(hub, api, 3, edges)), tmp_path / "0")
    plan = ["append", "append", "append", "rewrite", "append"]
    for step, how in enumerate(plan, start=1):
        if how == "append":
            grown = (edges[0], edges[1] + new_models(rng, known, str(step), rng.randint(3, 12)))
        else:  # a model re-described with many downloads, links removed: numbers change
            grown = ([(known[0], 10**10, 9, "mit")], edges[1][: len(edges[1]) // 2])
        keys = touched_keys(records(*edges), records(*grown))
        said: list[str] = []
        stage = tmp_path / f"stage-{step}"
        stage.mkdir()
        made = apply_delta(
            current, tables(hub, api, 3, grown), keys, step=said.append, folder=stage
        )
        published = on_disk(made, tmp_path / str(step))
        shutil.rmtree(stage)
        full = build(tables(hub, api, 3, grown))
        assert canon(published) == canon(full), (step, how)
        picks = [*known[:6], f"team-{step}/m-0"]
        assert walks(published, picks) == walks(full, picks)
        appended = any("appended" in msg for msg in said)
        assert appended == (how == "append"), said
        if appended:
            before, after = tmp_path / str(step - 1), tmp_path / str(step)
            for name in ("kind", "edge_child", "id_blob", "up_nbr", "descendants", "search_bits"):
                assert (after / f"{name}.npy").samefile(before / f"{name}.npy"), name
            # the base still reads what it read: its arrays' lengths are its own
            assert IndexArrays.load(before).n_nodes == current.n_nodes
            assert (after / "descendants.rows.npy").exists()  # the ancestors' counts
        current, edges = published, grown


def test_new_models_in_cycles_of_their_own_are_counted_as_a_rebuild_counts_them(
    hub: SourceTables, hub_ids: list[str], tmp_path: Path
) -> None:
    """An appending delta whose new models make cycles among themselves (the only cycles
    such a change can make) counts them without scipy: the same figures as a full build,
    through the appending path."""
    known = hub_ids[:3]
    cyclic = [
        ("team/a", known[0], "finetune"),
        ("team/b", "team/a", "finetune"),
        ("team/c", "team/b", "merge"),
        ("team/a", "team/c", "merge"),  # a -> b -> c -> a
        ("team/d", "team/c", "quantized"),  # hangs off the cycle, on none
        ("team/e", known[1], "adapter"),
        ("team/f", "team/e", "finetune"),
        ("team/e", "team/f", "merge"),  # e <-> f
    ]
    api: tuple[list[Any], list[Any]] = ([], [])
    edges: tuple[list[Any], list[Any]] = ([], [])
    grown = ([], cyclic)
    base = on_disk(build(tables(hub, api, 3, edges)), tmp_path / "0")
    said: list[str] = []
    stage = tmp_path / "stage"
    stage.mkdir()
    made = apply_delta(
        base,
        tables(hub, api, 3, grown),
        touched_keys(records(*edges), records(*grown)),
        step=said.append,
        folder=stage,
    )
    full = build(tables(hub, api, 3, grown))
    assert any("appended" in msg for msg in said), said
    assert canon(made) == canon(full)
    assert made.meta["cycles"] == full.meta["cycles"] == base.meta["cycles"] + 2
    assert made.meta["nodes_in_cycles"] == base.meta["nodes_in_cycles"] + 5


@pytest.mark.parametrize("seed", range(12))
def test_cycle_figures_are_scipys_strong_components(seed: int) -> None:
    """The delta's own count of cycles (trimming, then Tarjan's algorithm) against scipy's
    strongly connected components, on random graphs: sparse and dense ones, self-links,
    repeated links, and chains longer than the trimming rounds that end in a cycle."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    from filiation.lineage.delta.counts import TRIM_ROUNDS, cycle_figures

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    m = int(rng.integers(0, 3 * n))
    parent = rng.integers(0, n, m)
    child = rng.integers(0, n, m)
    if seed % 3 == 0:  # a long chain into a small cycle
        chain = np.arange(n, n + 4 * TRIM_ROUNDS)
        parent = np.concatenate([parent, chain[:-1], [chain[-1]]])
        child = np.concatenate([child, chain[1:], [chain[-3]]])
        n += len(chain)
    graph = csr_matrix((np.ones(len(parent), np.int8), (parent, child)), shape=(n, n))
    count, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=count)
    expected = (int((sizes > 1).sum()), int((sizes[labels] > 1).sum()))
    assert cycle_figures(n, parent, child) == expected


# -- through the store and the ingest, on both back ends ---------------------------------


def store_answers(g: Any, ids: list[str]) -> tuple[Any, ...]:
    """What users see: stats, walks both ways, parents and children, search hits."""
    stats = g.stats()
    out: list[Any] = [stats.nodes_by_kind, stats.links_by_relation, stats.cycles]
    for node in ids:
        out.append(sorted((n["id"], n["depth"]) for n in g.ancestors(node).to_dict()["nodes"]))
        out.append(sorted((n["id"], n["depth"]) for n in g.descendants(node).to_dict()["nodes"]))
        shown = g.show(node)
        out.append((shown.descendants, shown.generations))
    for text in ("acme", "team-", "m-1", "llama"):  # (new models of no renown come last
        out.append(sorted(h.id for h in g.search(text, limit=500)))  # in any order)
    return tuple(out)


def test_an_edge_list_ingested_beside_the_dump_is_applied_as_a_delta(
    tmp_path: Path, stores: Any, sample_db: Any, hub_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import filiation
    from filiation.lineage import delta as delta_mod

    db = stores.copy(sample_db, tmp_path)
    g = filiation.open(db, load_bundled=False)
    _ = g.index
    # a running server: its index loaded before the change, polling as `serve` does
    server = filiation.open(db, load_bundled=False)
    _ = server.index
    applied: list[int] = []
    real = delta_mod.apply_delta

    def spy(*args: Any, **kwargs: Any) -> Any:
        applied.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(delta_mod, "apply_delta", spy)
    a, b, c = hub_ids[0], hub_ids[1], hub_ids[2]
    csv = tmp_path / "edges.csv"
    csv.write_text(
        f"parent,child,relation\n{a},acme/ft,finetune\nacme/ft,acme/q4,quantized\n{b},{c},merge\n"
    )
    g.ingest_edges(csv, name="team")
    # the next version: one link gone, a cycle made
    csv.write_text(f"parent,child,relation\n{a},acme/ft,finetune\nacme/ft,{a},merge\n")
    g.ingest_edges(csv, name="team")
    assert len(applied) == 2
    ids = [a, b, c, "acme/ft"]
    by_delta = store_answers(g, ids)
    other = filiation.open(db, load_bundled=False)  # another process sees the delta's index
    assert store_answers(other, ids) == by_delta
    assert server.refresh() and store_answers(server, ids) == by_delta
    assert not server.refresh()  # nothing newer since
    for folder in g.store.index_dir().glob("f*"):
        shutil.rmtree(folder)
    assert store_answers(filiation.open(db, load_bundled=False), ids) == by_delta


def watch_appending_path(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each delta from now on takes the appending path (``_appended``), in order."""
    import importlib

    # (``filiation.lineage.delta.patch`` is also the name of the function it defines)
    patch_mod = importlib.import_module("filiation.lineage.delta.patch")
    taken: list[bool] = []
    real = patch_mod._appended

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(patch_mod, "_appended", spy)
    return taken


def test_an_edge_list_ingested_again_grows_in_place_and_matches_a_rebuild(
    tmp_path: Path, stores: Any, sample_db: Any, hub_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same edge list ingested again (a scheduled import, a family refreshed), then
    again with new models: its links move to the new snapshot (their provenance says so)
    through the appending path, as they would in a full build, instead of a copy of every
    array (1.9 s and 370 MB for 1,000 links at Hub scale)."""
    import shutil

    import filiation

    appended = watch_appending_path(monkeypatch)
    db = stores.copy(sample_db, tmp_path)
    g = filiation.open(db, load_bundled=False)
    _ = g.index
    rng = random.Random(11)
    rows = new_models(rng, hub_ids[:30], "1", 10)
    csv = tmp_path / "edges.csv"
    ids = [*hub_ids[:3], "team-1/m-0", "team-1/m-9"]
    for step in ("first", "again", "more"):
        if step == "more":
            rows += new_models(rng, hub_ids[:30], "2", 5)
            ids.append("team-2/m-4")
        csv.write_text("parent,child,relation\n" + "".join(f"{p},{c},{r}\n" for c, p, r in rows))
        report = g.ingest_edges(csv, name="team")
        assert appended[-1], step
        lineage = g.ancestors("team-1/m-0").to_dict()
        provenance = {link["source"] for link in lineage["edges"]}
        assert f"edges:team#{report.snapshot_id}" in provenance, provenance
        by_delta = store_answers(g, ids)
        for folder in g.store.index_dir().glob("f*"):
            shutil.rmtree(folder)
        fresh = filiation.open(db, load_bundled=False)
        assert store_answers(fresh, ids) == by_delta, step
        assert fresh.ancestors("team-1/m-0").to_dict() == lineage, step
        g = fresh


def test_a_format_7_index_opens_and_a_chain_of_deltas_then_a_full_ingest_match_a_rebuild(
    tmp_path: Path,
    stores: Any,
    sample_db: Any,
    hub_ids: list[str],
    hub_sample: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An index published by the previous version (format 7: no lengths in ``meta.json``)
    is opened as it is, not rebuilt; edge lists of new models are applied over it by the
    appending path one after the other while a server reads along; a full ingest of the
    dump then folds everything back into plain files. Each step answers as a rebuild of
    the same snapshots does."""
    import json
    import shutil

    import filiation
    from filiation.lineage import build as build_mod

    db = stores.copy(sample_db, tmp_path)
    _ = filiation.open(db, load_bundled=False).index
    index_dir = filiation.open(db, load_bundled=False).store.index_dir()
    (current,) = list(index_dir.glob("f8-*"))
    meta = json.loads((current / "meta.json").read_text())
    meta["format"] = 7
    del meta["shapes"], meta["patched"]
    # and its search filter as that version wrote it: blocks of 1,024 ids, a byte per block
    for key in ("search_block", "search_log_bits", "search_segment"):
        del meta["meta"][key]
    old = IndexArrays.load(current)
    legacy = legacy_search_filter(np.asarray(old.lower_blob), np.asarray(old.lower_off))
    del old
    (current / "search_bits.npy").unlink()
    np.save(current / "search_bits.npy", legacy, allow_pickle=False)
    (current / "meta.json").write_text(json.dumps(meta))
    current.rename(index_dir / current.name.replace("f8-", "f7-", 1))

    def no_build(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the format 7 index was rebuilt")

    with monkeypatch.context() as m:
        m.setattr(build_mod, "build", no_build)
        g = filiation.open(db, load_bundled=False)
        _ = g.index
    server = filiation.open(db, load_bundled=False)
    _ = server.index
    # its legacy search filter is read as it is: every id holding the text is found
    every = server.index.a.ids_of(np.arange(server.index.a.n_nodes))
    for text in ("llama", "-7b", "qwen"):
        expected = sorted(i for i in every if text in i.lower())
        assert sorted(h.id for h in server.search(text, limit=10_000)) == expected, text
    appended = watch_appending_path(monkeypatch)
    rng = random.Random(5)
    known = hub_ids[:40]
    ids = [*known[:4], "team-1/m-0"]

    def rebuilt() -> tuple[Any, ...]:
        fresh = tmp_path / "rebuilt"
        shutil.rmtree(fresh, ignore_errors=True)
        for folder in index_dir.glob("f*"):
            shutil.copytree(folder, fresh / folder.name)
            shutil.rmtree(folder)
        try:
            return store_answers(filiation.open(db, load_bundled=False), ids)
        finally:
            for folder in index_dir.glob("f*"):
                shutil.rmtree(folder)
            for folder in fresh.iterdir():
                shutil.move(folder, index_dir / folder.name)

    for step in (1, 2, 3):
        csv = tmp_path / f"edges-{step}.csv"
        rows = new_models(rng, known, str(step), 8)
        csv.write_text("parent,child,relation\n" + "".join(f"{p},{c},{r}\n" for c, p, r in rows))
        g.ingest_edges(csv, name=f"team-{step}")
        assert appended[-1], step
        ids[-1] = f"team-{step}/m-1"
        by_delta = store_answers(g, ids)
        assert server.refresh() and store_answers(server, ids) == by_delta
        assert rebuilt() == by_delta
    assert len(list(index_dir.glob("f*/descendants.rows.npy"))) == 1  # a patch, not a copy
    from filiation.service import ingest as ingest_mod

    # a full ingest (the sample is small enough for a delta: as the full Hub's dump is not)
    monkeypatch.setattr(ingest_mod, "DELTA_MAX_ROWS", 0)
    g.ingest_hub_stats(hub_sample)  # every array written whole again
    assert not list(index_dir.glob("f*/*.rows.npy"))
    by_full = store_answers(g, ids)
    assert server.refresh() and store_answers(server, ids) == by_full
    assert rebuilt() == by_full


def test_searches_after_an_appending_delta_count_what_a_fresh_process_counts(
    tmp_path: Path, stores: Any, sample_db: Any, hub_ids: list[str]
) -> None:
    """A server's memo of what authors and data sets reach (search hits) carries over to the
    index of an appending delta, less what the change reaches: new models published by a
    known author, under a model trained on a data set. Every search then answers what a
    fresh process answers, and most of the memo was kept."""
    import filiation
    from filiation.service import searching

    db = stores.copy(sample_db, tmp_path)
    server = filiation.open(db, load_bundled=False)
    _ = server.index
    trained = next(i for i in hub_ids[:400] if server.parents(i, relations="trained_on"))
    dataset = server.parents(trained, relations="trained_on")[0].id
    author = server.show(trained).author
    assert author
    texts = ["a", "e", "ll", "mistral", "qwen", "data", author, dataset]
    for text in texts:
        server.search(text, limit=30)
    index = server.index
    csv = tmp_path / "team.csv"
    csv.write_text(
        "parent,child,relation\n"
        f"{trained},{author}/new-ft,finetune\n"
        f"{author}/new-ft,{author}/new-q4,quantized\n"
        f"{hub_ids[5]},team-x/m,adapter\n"
    )
    filiation.open(db, load_bundled=False).ingest_edges(csv, name="team")
    assert server.refresh()
    assert server.index.a.meta["appended_to"]["nodes"] == index.n_nodes
    kept = searching._carried(server.index)
    assert kept and len(kept) < len(searching._REACH[index])  # most of it is kept
    from filiation.domain import NodeKind

    memo = searching._REACH[index]
    for name, kind in ((author, NodeKind.AUTHOR), (dataset, NodeKind.DATASET)):
        node = index.lookup(name, kind)
        assert node in memo and node not in kept, name  # it reaches new models
    fresh = filiation.open(db, load_bundled=False)
    for text in texts:
        assert server.search(text, limit=30) == fresh.search(text, limit=30), text
