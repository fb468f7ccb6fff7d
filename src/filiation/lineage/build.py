"""Build the lineage index from the store's current snapshots.

The whole Hub is a few million nodes and links: as integer arrays it fits in a few hundred
MB and every question becomes array arithmetic. Building does, once per snapshot set, all
the work that queries must not do: unify ids across sources (case-insensitively), create
stub nodes for parents absent from the dumps, derive authors, number nodes in order of
renown (so "best known first" is "lowest index first"), lay out links both ways (CSR), count
descendants and generations exactly, find cycles, and prepare the search filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from filiation.domain import (
    KIND_CODES,
    LINEAGE_RELATIONS,
    RELATION_CODES,
    NodeKind,
    Relation,
)
from filiation.lineage import search as search_mod
from filiation.lineage.arrays import NULL_INT, IndexArrays

Step = Callable[[str], None]


@dataclass
class SourceTables:
    """One current snapshot, as read from the store."""

    snapshot_id: int
    source: str
    label: str
    nodes: pa.Table
    links: pa.Table


_KIND_ORDER = {k.value: c for k, c in KIND_CODES.items()}
_REL_ORDER = {r.value: c for r, c in RELATION_CODES.items()}


def _codes(col: pa.ChunkedArray | pa.Array, mapping: dict[str, int]) -> np.ndarray:
    keys = list(mapping)
    idx = pc.index_in(col, value_set=pa.array(keys, pa.string()))
    values = np.array([mapping[k] for k in keys], dtype=np.int8)
    raw = idx.to_numpy(zero_copy_only=False)
    return values[np.nan_to_num(raw, nan=0).astype(np.int64)]


def _dict_encode(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    enc = pc.dictionary_encode(col).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    codes = (
        np.where(np.isnan(codes), -1, codes).astype(np.int32)
        if codes.dtype.kind == "f"
        else codes.astype(np.int32)
    )
    return codes, [str(v) for v in enc.dictionary.to_pylist()]


def _int(col: pa.ChunkedArray | pa.Array, dtype: type = np.int64) -> np.ndarray:
    return pc.fill_null(col, NULL_INT).to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def build(sources: Sequence[SourceTables], step: Step | None = None) -> IndexArrays:
    say = step or (lambda _msg: None)
    say("unifying nodes")
    # -- 1. nodes: one per (kind, key); earlier sources in `sources` win --------------------
    node_parts = []
    for rank, src in enumerate(sources):
        t = src.nodes.append_column("prio", pa.array(np.full(src.nodes.num_rows, rank, np.int32)))
        node_parts.append(t)
    link_parts = []
    source_labels = [f"{s.source}#{s.snapshot_id}" for s in sources]
    for rank, src in enumerate(sources):
        t = src.links.append_column("src", pa.array(np.full(src.links.num_rows, rank, np.int16)))
        link_parts.append(t)

    from filiation.sources.records import empty_links, empty_nodes

    nodes = (
        pa.concat_tables(node_parts)
        if node_parts
        else empty_nodes().append_column("prio", pa.array([], pa.int32()))
    )
    links = (
        pa.concat_tables(link_parts)
        if link_parts
        else empty_links().append_column("src", pa.array([], pa.int16()))
    )
    nodes = nodes.append_column(
        "full", pc.binary_join_element_wise(nodes["kind"], nodes["key"], "\x1f")
    )
    nodes = _first_per_key(nodes, "full", "prio")
    nodes = nodes.append_column("stub", pa.array(np.zeros(nodes.num_rows, bool)))

    # -- 2. stubs for link endpoints no source described -----------------------------------
    say("adding parents absent from the sources")
    child_full = pc.binary_join_element_wise(links["child_kind"], links["child_key"], "\x1f")
    parent_full = pc.binary_join_element_wise(links["parent_kind"], links["parent_key"], "\x1f")
    stubs = []
    for kind_col, key_col, id_col, full in (
        ("parent_kind", "parent_key", "parent_id", parent_full),
        ("child_kind", "child_key", "child_id", child_full),
    ):
        missing = pc.invert(pc.is_in(full, value_set=nodes["full"].combine_chunks()))
        t = pa.table(
            {
                "kind": links[kind_col],
                "key": links[key_col],
                "id": links[id_col],
                "full": full,
            }
        ).filter(missing)
        stubs.append(t)
    stub_t = pa.concat_tables(stubs)
    if stub_t.num_rows:
        stub_t = stub_t.append_column("prio", pa.array(np.zeros(stub_t.num_rows, np.int32)))
        stub_t = _first_per_key(stub_t, "full", "prio").drop_columns(["prio"])
        nodes = _append_partial(nodes, stub_t, stub=True)

    # -- 3. authors, and their published_by links -------------------------------------------
    say("deriving authors")
    from filiation.domain import author_of

    author_col = nodes["author"].to_pylist()
    ids_py = nodes["id"].to_pylist()
    kinds_py = nodes["kind"].to_pylist()
    pub_child_full: list[str] = []
    pub_author: list[str] = []
    fulls_py = nodes["full"].to_pylist()
    for full, kind, nid, author in zip(fulls_py, kinds_py, ids_py, author_col, strict=True):
        if kind == NodeKind.AUTHOR.value:
            continue
        name = author or author_of(nid)
        if name:
            pub_child_full.append(full)
            pub_author.append(name)
    author_ids = pa.array(pub_author, pa.string())
    author_keys = pc.utf8_lower(author_ids)
    author_full = pc.binary_join_element_wise(NodeKind.AUTHOR.value, author_keys, "\x1f")
    new_authors = pa.table(
        {
            "kind": pa.array([NodeKind.AUTHOR.value] * len(pub_author), pa.string()),
            "key": author_keys,
            "id": author_ids,
            "full": author_full,
        }
    ).filter(pc.invert(pc.is_in(author_full, value_set=nodes["full"].combine_chunks())))
    if new_authors.num_rows:
        new_authors = new_authors.append_column(
            "prio", pa.array(np.zeros(new_authors.num_rows, np.int32))
        )
        new_authors = _first_per_key(new_authors, "full", "prio").drop_columns(["prio"])
        nodes = _append_partial(nodes, new_authors, stub=False)

    # -- 4. provisional numbering and edge endpoints ---------------------------------------
    say("numbering nodes")
    full_all = nodes["full"].combine_chunks()
    n = len(full_all)
    e_child = pc.index_in(child_full, value_set=full_all).to_numpy(zero_copy_only=False)
    e_parent = pc.index_in(parent_full, value_set=full_all).to_numpy(zero_copy_only=False)
    e_rel = _codes(links["relation"], _REL_ORDER)
    e_decl = pc.fill_null(links["declared"], False).to_numpy(zero_copy_only=False).astype(bool)
    e_src = links["src"].to_numpy().astype(np.int16)
    ev_codes, evidences = _dict_encode(pc.fill_null(links["evidence"], ""))
    p_child = pc.index_in(pa.array(pub_child_full, pa.string()), value_set=full_all).to_numpy(
        zero_copy_only=False
    )
    p_author = pc.index_in(author_full, value_set=full_all).to_numpy(zero_copy_only=False)
    pub_ev = len(evidences)
    evidences.append("author")
    e_child = np.concatenate([e_child, p_child]).astype(np.int64)
    e_parent = np.concatenate([e_parent, p_author]).astype(np.int64)
    e_rel = np.concatenate(
        [e_rel, np.full(len(p_child), RELATION_CODES[Relation.PUBLISHED_BY], np.int8)]
    )
    e_decl = np.concatenate([e_decl, np.ones(len(p_child), bool)])
    e_src = np.concatenate([e_src, np.full(len(p_child), -1, np.int16)])
    e_ev = np.concatenate([ev_codes, np.full(len(p_child), pub_ev, np.int32)])

    # Deduplicate links (same child, parent and relation): the first source wins.
    n_rel = len(RELATION_CODES)
    combo = (e_child * n + e_parent) * n_rel + e_rel
    _, first = np.unique(combo, return_index=True)
    first.sort()
    e_child, e_parent, e_rel, e_decl, e_src, e_ev = (
        a[first] for a in (e_child, e_parent, e_rel, e_decl, e_src, e_ev)
    )

    # -- 5. renown and final numbering --------------------------------------------------------
    say("ranking nodes")
    kind = _codes(nodes["kind"], _KIND_ORDER)
    downloads = _int(nodes["downloads"])
    likes = _int(nodes["likes"])
    score = np.maximum(downloads, 0).astype(np.float64)
    agg = kind != KIND_CODES[NodeKind.MODEL]
    if agg.any():
        # Authors and data sets rank by the downloads of the models that point to them.
        contrib = np.maximum(downloads[e_child], 0).astype(np.float64)
        sums = np.bincount(e_parent, weights=contrib, minlength=n)
        score = np.where(agg, sums, score)
    lower = nodes["key"].combine_chunks()
    tie = pc.sort_indices(pa.table({"k": lower}), sort_keys=[("k", "ascending")]).to_numpy()
    tie_rank = np.empty(n, np.int64)
    tie_rank[tie] = np.arange(n)
    order = np.lexsort((tie_rank, -np.maximum(likes, 0), -score))
    new_of_old = np.empty(n, np.int64)
    new_of_old[order] = np.arange(n)

    def per_node(a: np.ndarray) -> np.ndarray:
        return a[order]

    e_child = new_of_old[e_child]
    e_parent = new_of_old[e_parent]
    nodes = nodes.take(pa.array(order))
    kind = per_node(kind)

    say("laying out links")
    arrays = IndexArrays.empty()
    arrays.kind = kind
    arrays.stub = nodes["stub"].to_numpy(zero_copy_only=False).astype(bool)
    arrays.downloads = _int(nodes["downloads"])
    arrays.downloads_all_time = _int(nodes["downloads_all_time"])
    arrays.likes = _int(nodes["likes"])
    arrays.parameters = _int(nodes["parameters"])
    arrays.trending = (
        pc.fill_null(nodes["trending_score"], np.nan)
        .to_numpy(zero_copy_only=False)
        .astype(np.float32)
    )
    arrays.created = _int(pc.cast(nodes["created_at"], pa.int64()))
    arrays.modified = _int(pc.cast(nodes["last_modified"], pa.int64()))
    arrays.score = score[order]
    for name in ("pipeline_tag", "library_name", "license"):
        codes, vocab = _dict_encode(nodes[name])
        arrays.vocab[name] = vocab
        setattr(arrays, name, codes)
    arrays.set_ids(nodes["id"].combine_chunks(), nodes["key"].combine_chunks())

    m = len(e_child)
    arrays.edge_child = e_child.astype(np.int32)
    arrays.edge_parent = e_parent.astype(np.int32)
    arrays.edge_rel = e_rel.astype(np.int8)
    arrays.edge_declared = e_decl
    arrays.edge_source = e_src
    arrays.edge_evidence = e_ev.astype(np.int16)
    arrays.vocab["sources"] = source_labels
    arrays.vocab["evidence"] = evidences
    # Children of a node in renown order, parents likewise: "top k" is then a prefix.
    down = np.lexsort((e_child, e_parent))
    up = np.lexsort((e_parent, e_child))
    arrays.down_ptr = _indptr(e_parent, n)
    arrays.down_nbr = e_child[down].astype(np.int32)
    arrays.down_edge = down.astype(np.int32)
    arrays.down_rel = e_rel[down]
    arrays.up_ptr = _indptr(e_child, n)
    arrays.up_nbr = e_parent[up].astype(np.int32)
    arrays.up_edge = up.astype(np.int32)
    arrays.up_rel = e_rel[up]
    pub = e_rel == RELATION_CODES[Relation.PUBLISHED_BY]
    arrays.author = np.full(n, -1, np.int32)
    arrays.author[e_child[pub]] = e_parent[pub]

    say("counting descendants and cycles")
    lineage_mask = np.zeros(n_rel, bool)
    lineage_mask[[RELATION_CODES[r] for r in LINEAGE_RELATIONS]] = True
    sel = lineage_mask[e_rel]
    _descendant_counts(arrays, e_child[sel], e_parent[sel], n, lineage_mask)
    arrays.meta["links"] = int(m)
    arrays.meta["nodes"] = int(n)

    say("preparing search")
    arrays.search_bits, arrays.meta["search_block"] = search_mod.build_filter(
        arrays.lower_blob, arrays.lower_off
    )
    return arrays


def _indptr(owner: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(owner, minlength=n) if len(owner) else np.zeros(n, np.int64)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def _first_per_key(table: pa.Table, key: str, prio: str) -> pa.Table:
    """Keep one row per key: the one with the lowest priority number (then the first seen)."""
    if table.num_rows == 0:
        return table
    pos = pa.array(np.arange(table.num_rows, dtype=np.int64))
    t = table.append_column("_pos", pos)
    t = t.sort_by([(key, "ascending"), (prio, "ascending"), ("_pos", "ascending")])
    k = t[key].combine_chunks()
    first = np.ones(len(k), bool)
    if len(k) > 1:
        first[1:] = pc.not_equal(k.slice(1), k.slice(0, len(k) - 1)).to_numpy(zero_copy_only=False)
    t = t.filter(pa.array(first))
    t = t.sort_by("_pos")
    return t.drop_columns(["_pos"])


def _append_partial(nodes: pa.Table, extra: pa.Table, *, stub: bool) -> pa.Table:
    cols = {}
    for field in nodes.schema:
        if field.name in extra.column_names:
            cols[field.name] = extra[field.name].cast(field.type)
        elif field.name == "stub":
            cols[field.name] = pa.array(np.full(extra.num_rows, stub, bool))
        else:
            cols[field.name] = pa.nulls(extra.num_rows, field.type)
    return pa.concat_tables([nodes, pa.table(cols, schema=nodes.schema)])


def _descendant_counts(
    arrays: IndexArrays, child: np.ndarray, parent: np.ndarray, n: int, lineage_mask: np.ndarray
) -> None:
    """Exact number of descendants and of generations below every node (lineage links only).

    Where the family below a node is a tree, counts add up from the leaves. Merges (a model
    with several parents) and cycles would be counted twice that way, so every ancestor of
    such a model gets an exact traversal instead; on the real Hub that is a few percent of nodes.
    """
    from filiation.lineage.traverse import Traverser

    desc = np.zeros(n, np.int64)
    gen = np.zeros(n, np.int32)
    if len(child) == 0:
        arrays.descendants = desc.astype(np.int32)
        arrays.generations = gen
        arrays.meta["cycles"] = 0
        arrays.meta["nodes_in_cycles"] = 0
        arrays.meta["exact_counts"] = 0
        return
    pair = np.unique(child.astype(np.int64) * n + parent)
    child_u, parent_u = pair // n, pair % n
    n_parents = np.bincount(child_u, minlength=n)

    graph = csr_matrix((np.ones(len(child_u), np.int8), (parent_u, child_u)), shape=(n, n))
    n_comp, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    in_cycle = sizes[labels] > 1
    arrays.meta["cycles"] = int((sizes > 1).sum())
    arrays.meta["nodes_in_cycles"] = int(in_cycle.sum())

    # Nodes whose family below is not a tree: ancestors of merges and of cycle members.
    trouble = (n_parents > 1) | in_cycle
    seeds = np.flatnonzero(trouble)
    needs_exact = np.zeros(n, bool)
    needs_exact[in_cycle] = True
    up_ptr = _indptr(child_u, n)
    up_order = np.argsort(child_u, kind="stable")
    up_nbr = parent_u[up_order]
    frontier = seeds
    seen = np.zeros(n, bool)
    seen[frontier] = True
    while len(frontier):
        starts, ends = up_ptr[frontier], up_ptr[frontier + 1]
        lens = ends - starts
        if lens.sum() == 0:
            break
        idx = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        nxt = np.unique(up_nbr[idx])
        needs_exact[nxt] = True
        frontier = nxt[~seen[nxt]]
        seen[frontier] = True

    # Tree part: add up from the leaves.
    pending = np.bincount(parent_u, minlength=n).astype(np.int64)
    frontier = np.flatnonzero(pending == 0)
    done = np.zeros(n, bool)
    while len(frontier):
        done[frontier] = True
        starts, ends = up_ptr[frontier], up_ptr[frontier + 1]
        lens = ends - starts
        total = int(lens.sum())
        if total == 0:
            break
        idx = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
        src = np.repeat(frontier, lens)
        par = up_nbr[idx]
        np.add.at(desc, par, desc[src] + 1)
        np.maximum.at(gen, par, gen[src] + 1)
        np.subtract.at(pending, par, 1)
        cand = np.unique(par)
        frontier = cand[(pending[cand] == 0) & ~done[cand]]

    # Exact traversals where the tree sum would be wrong.
    exact = np.flatnonzero(needs_exact)
    arrays.meta["exact_counts"] = len(exact)
    if len(exact):
        arrays.descendants = desc.astype(np.int32)
        arrays.generations = gen
        trav = Traverser(arrays)
        allowed = lineage_mask
        for v in exact.tolist():
            res = trav.run(
                [v], down=True, allowed=allowed, max_depth=None, limit=None, with_edges=False
            )
            desc[v] = len(res.nodes)
            gen[v] = int(res.depth.max()) if len(res.depth) else 0
    arrays.descendants = desc.astype(np.int32)
    arrays.generations = gen
