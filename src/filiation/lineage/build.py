"""Build the lineage index from the store's current snapshots.

The whole Hub is a few million nodes and links: as integer arrays it fits in a few hundred
MB and every question becomes array arithmetic. Building does, once per snapshot set, all
the work that queries must not do: unify ids across sources (case-insensitively), create
stub nodes for parents absent from the dumps, derive authors, number nodes in order of
renown (so "best known first" is "lowest index first"), lay out links both ways (CSR), count
descendants and generations exactly, find cycles, and prepare the search filter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filiation.domain import (
    KIND_CODES,
    LINEAGE_RELATIONS,
    RELATION_CODES,
    NodeKind,
    Relation,
)
from filiation.lineage import search as search_mod
from filiation.lineage.arrays import NULL_INT, IndexArrays, spans
from filiation.lineage.indicators import citations

Step = Callable[[str], None]


@dataclass
class SourceTables:
    """One current snapshot, as read from the store."""

    snapshot_id: int
    source: str
    label: str
    nodes: pa.Table
    links: pa.Table


#: Where a suspected link's stored evidence gives its confidence (``{"confidence": 0.87, …}``).
CONFIDENCE_PATTERN = r'^\{"confidence":\s*(?P<c>[0-9.eE+-]+)'

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


def _prefix(ids: pa.Array) -> pa.Array:
    """The ``author`` part of ``author/name`` ids, null for ids without one."""
    head = pc.list_element(pc.split_pattern(ids, "/", max_splits=1), 0)
    ok = pc.and_(pc.match_substring(ids, "/"), pc.greater(pc.utf8_length(head), 0))
    return pc.if_else(ok, head, pa.scalar(None, pa.string()))


def _chunked(parts: list[pa.Array | pa.ChunkedArray]) -> pa.ChunkedArray:
    """Several string columns as one chunked array, without copying them."""
    chunks: list[pa.Array] = []
    for part in parts:
        for chunk in part.chunks if isinstance(part, pa.ChunkedArray) else [part]:
            chunks.append(chunk if chunk.type == pa.string() else chunk.cast(pa.string()))
    return pa.chunked_array(chunks, type=pa.string())


def _encode(parts: list[pa.Array | pa.ChunkedArray]) -> tuple[np.ndarray, pa.Array]:
    """Integer codes of every value (-1 for null) and the shared dictionary of values."""
    enc = pc.dictionary_encode(_chunked(parts))
    codes = [
        pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
        for c in enc.chunks
    ]
    dictionary = enc.chunks[0].dictionary if enc.num_chunks else pa.array([], pa.string())
    return (np.concatenate(codes) if codes else np.zeros(0, np.int32)), dictionary


def _take_sections(sections: list[pa.Array | pa.ChunkedArray], positions: np.ndarray) -> pa.Array:
    """``concat(sections).take(positions)`` without building the concatenation, as large
    strings (what the index's id blob is made of, so that no other copy is needed there).

    The list is emptied as each section is read: when the caller holds no other reference,
    the sections' memory goes before the result's is allocated."""
    sizes = np.array([len(x) for x in sections], np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    which = np.searchsorted(bounds, positions, side="right") - 1
    parts: list[pa.Array] = []
    where: list[np.ndarray] = []
    for i in range(len(sections)):
        section, sections[i] = sections[i], pa.array([], pa.string())
        sel = np.flatnonzero(which == i)
        if len(sel):
            taken = pc.take(section, pa.array(positions[sel] - bounds[i]))
            parts.append(taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken)
            where.append(sel)
            del taken
        del section
    del which
    sections.clear()
    if not parts:
        return pa.array([], pa.large_string())
    combined = pa.concat_arrays([p.cast(pa.large_string()) for p in parts])
    del parts
    order = np.concatenate(where)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pc.take(combined, pa.array(inverse))


def build(
    sources: list[SourceTables], step: Step | None = None, *, rows_only: bool = False
) -> IndexArrays:
    """Number every node once and lay out the links; see the module docstring.

    ``rows_only``: the nodes, ids and links only, without what a delta's small index never
    reads (adjacency layouts, descendant counts, citations, search filter): at 100,000
    links the small index's counts alone were 2 s of a delta.

    All id work is done once, on one Arrow dictionary of every key that appears (node rows,
    both ends of every link, authors); from there on, everything is integer arrays.
    The list of sources is emptied as soon as its tables are no longer needed, so that a
    caller that keeps no other reference gets their memory back during the build.
    """
    say = step or (lambda _msg: None)
    from filiation.inference import is_inferred_source
    from filiation.sources.records import empty_links, empty_nodes

    # Suspected links (sources ``inferred:*``) come last: a declared link of the same
    # child, parent and relation always wins the deduplication below.
    sources.sort(key=lambda s: is_inferred_source(s.source))
    inferred_src = np.array([is_inferred_source(s.source) for s in sources] or [False], bool)
    say("unifying nodes")
    # Earlier sources win when several describe the same node: keep their order.
    nodes = pa.concat_tables([s.nodes for s in sources]) if sources else empty_nodes()
    links = pa.concat_tables([s.links for s in sources]) if sources else empty_links()
    source_labels = [f"{s.source}#{s.snapshot_id}" for s in sources]
    source_names = [s.source for s in sources]
    link_src = np.concatenate(
        [np.full(s.links.num_rows, i, np.int16) for i, s in enumerate(sources)]
        or [np.zeros(0, np.int16)]
    )
    sources.clear()
    n_rows, m = nodes.num_rows, links.num_rows
    row_kind = _codes(nodes["kind"], _KIND_ORDER)
    child_kind = _codes(links["child_kind"], _KIND_ORDER)
    parent_kind = _codes(links["parent_kind"], _KIND_ORDER)
    author_code = KIND_CODES[NodeKind.AUTHOR]

    # Authors: the row's author column, else the id's prefix; for link ends, the prefix.
    row_author = pc.coalesce(nodes["author"], _prefix(_chunked([nodes["id"]])))
    row_author = pc.if_else(
        pa.array(row_kind == author_code), pa.scalar(None, pa.string()), row_author
    )
    author_of_elem, author_names = _encode(
        [
            row_author,
            _prefix(_chunked([links["child_id"]])),
            _prefix(_chunked([links["parent_id"]])),
        ]
    )
    n_auth = len(author_names)

    say("numbering nodes")
    key_code, key_values = _encode(
        [nodes["key"], links["child_key"], links["parent_key"], pc.utf8_lower(author_names)]
    )
    # Keys, kinds and authors are codes from here on: their text goes as soon as it is read
    # (a third of the parsed rows of the full Hub), before the layouts need the room.
    nodes = nodes.drop_columns(
        [c for c in ("kind", "key", "author", "extra") if c in nodes.column_names]
    )
    links = links.drop_columns(["child_kind", "child_key", "parent_kind", "parent_key"])
    del row_author
    pa.default_memory_pool().release_unused()  # else Arrow's allocator keeps their pages
    kinds = np.concatenate(
        [row_kind, child_kind, parent_kind, np.full(n_auth, author_code, np.int8)]
    )
    del row_kind, child_kind, parent_kind
    first, inverse = _first_and_inverse(key_code, kinds)
    # Provisional numbers in order of first appearance: rows (by source priority), then
    # link ends no row describes (stubs), then authors.
    appearance = np.argsort(first, kind="stable")
    prov_of_uniq = np.empty(len(first), np.int32)
    prov_of_uniq[appearance] = np.arange(len(first), dtype=np.int32)
    elem = prov_of_uniq[inverse]  # provisional node of every key element
    del inverse, prov_of_uniq
    first_pos = first[appearance].astype(np.int32)
    node_key = key_code[first_pos]
    del key_code, first, appearance
    n = len(first_pos)
    is_row = first_pos < n_rows
    stub = ~is_row & (first_pos < n_rows + 2 * m)
    kind_p = kinds[first_pos].astype(np.int8)
    row_of = np.where(is_row, first_pos, -1)

    # Links, then published_by links for rows kept and for stubs.
    e_child = elem[n_rows : n_rows + m]
    e_parent = elem[n_rows + m : n_rows + 2 * m]
    e_rel = _codes(links["relation"], _REL_ORDER)
    e_decl = pc.fill_null(links["declared"], False).to_numpy(zero_copy_only=False).astype(bool)
    # A suspected link's evidence (its signals, as JSON) is one text per link: the index keeps
    # its confidence as a number and the name of its source as evidence; the store keeps
    # the full text (``filiation infer`` shows it).
    e_inferred = inferred_src[link_src] if m else np.zeros(0, bool)
    e_conf = np.full(m, np.nan, np.float32)
    evidence_col = pc.fill_null(links["evidence"], "")
    if e_inferred.any():
        found = pc.extract_regex(evidence_col, CONFIDENCE_PATTERN)
        conf = pc.cast(pc.struct_field(found, "c"), pa.float32())
        e_conf = np.where(
            e_inferred, pc.fill_null(conf, 0.0).to_numpy(zero_copy_only=False), np.nan
        ).astype(np.float32)
        names = np.array([s for s in source_names], object)[link_src]
        evidence_col = pc.if_else(pa.array(e_inferred), pa.array(names, pa.string()), evidence_col)
    ev_codes, evidences = _dict_encode(evidence_col)
    del evidence_col
    links = links.select(["child_id", "parent_id"])  # only the ids are read below
    author_node = elem[n_rows + 2 * m :]  # provisional node of each author name
    owner_pos = np.concatenate([first_pos[is_row], first_pos[stub]])
    owner_author = author_of_elem[owner_pos]
    has = owner_author >= 0
    p_child = elem[owner_pos[has]]
    p_parent = author_node[owner_author[has]]
    pub_ev = len(evidences)
    evidences.append("author")
    e_child = np.concatenate([e_child, p_child])
    e_parent = np.concatenate([e_parent, p_parent])
    e_rel = np.concatenate(
        [e_rel, np.full(len(p_child), RELATION_CODES[Relation.PUBLISHED_BY], np.int8)]
    )
    e_decl = np.concatenate([e_decl, np.ones(len(p_child), bool)])
    e_src = np.concatenate([link_src, np.full(len(p_child), -1, np.int16)])
    e_ev = np.concatenate([ev_codes, np.full(len(p_child), pub_ev, np.int32)])
    e_conf = np.concatenate([e_conf, np.full(len(p_child), np.nan, np.float32)])
    del elem, kinds, author_of_elem, author_node, owner_pos, owner_author, has, p_child, p_parent
    del link_src, ev_codes, e_inferred

    # Deduplicate links (same child, parent and relation): the first source wins.
    n_rel = len(RELATION_CODES)
    _, keep = np.unique(_combine(e_child, e_parent, e_rel, n), return_index=True)
    keep.sort()
    suspected = ~np.isnan(e_conf[keep])
    if suspected.any():
        # A suspicion never stands beside a declared link between the same two nodes.
        pair = e_child[keep].astype(np.int64) * n + e_parent[keep]
        keep = keep[~suspected | ~np.isin(pair, pair[~suspected])]
    e_child, e_parent, e_rel, e_decl, e_src, e_ev, e_conf = (
        a[keep] for a in (e_child, e_parent, e_rel, e_decl, e_src, e_ev, e_conf)
    )
    del keep

    pa.default_memory_pool().release_unused()
    say("ranking nodes")

    def pick(values: np.ndarray, null: float) -> np.ndarray:
        """Per node, the value of the row describing it (``null`` for stubs and authors)."""
        if len(values) == 0:
            return np.full(len(row_of), null, dtype=values.dtype)
        return np.where(is_row, values[np.maximum(row_of, 0)], null)

    def from_rows(col: pa.ChunkedArray) -> np.ndarray:
        return pick(_int(col), NULL_INT)

    downloads = from_rows(nodes["downloads"])
    likes = from_rows(nodes["likes"])
    score = np.maximum(downloads, 0).astype(np.float64)
    aggregated = kind_p != KIND_CODES[NodeKind.MODEL]
    if aggregated.any():
        # Authors and data sets rank by the downloads of the models that point to them.
        sums = np.bincount(e_parent, weights=score[e_child], minlength=n)
        score = np.where(aggregated, sums, score)
    # Best known first: score, then likes, then first appearance (stable sorts).
    order = np.argsort(-np.maximum(likes, 0), kind="stable")
    order = order[np.argsort(-score[order], kind="stable")]
    new_of_old = np.empty(n, np.int32)
    new_of_old[order] = np.arange(n, dtype=np.int32)
    e_child = new_of_old[e_child]
    e_parent = new_of_old[e_parent]
    del new_of_old

    pa.default_memory_pool().release_unused()
    say("laying out links")
    arrays = IndexArrays.empty()
    arrays.kind = kind_p[order]
    arrays.stub = stub[order]
    arrays.score = score[order]
    arrays.downloads = downloads[order]
    arrays.likes = likes[order]
    row_of = row_of[order]
    is_row = is_row[order]
    del downloads, likes, score
    for name, col in (
        ("downloads_all_time", "downloads_all_time"),
        ("parameters", "parameters"),
        ("created", "created_at"),
        ("modified", "last_modified"),
    ):
        values = nodes[col]
        if pa.types.is_timestamp(values.type):
            values = pc.cast(values, pa.int64())
        setattr(arrays, name, pick(_int(values), NULL_INT))
    trending = pc.fill_null(nodes["trending_score"], np.nan).to_numpy(zero_copy_only=False)
    arrays.trending = pick(trending.astype(np.float64), np.nan).astype(np.float32)
    for name in ("pipeline_tag", "library_name", "license"):
        codes, vocab = _dict_encode(nodes[name])
        arrays.vocab[name] = vocab
        setattr(arrays, name, pick(codes, -1).astype(np.int32))
    nodes = nodes.select(["id"])
    pa.default_memory_pool().release_unused()
    lower = pc.take(key_values, pa.array(node_key[order]))
    del key_values, node_key, stub, kind_p
    # The parsed rows are all read with the display ids: free them (and the allocator's
    # pages) as they are taken, before the id blobs and the layouts need the room.
    sections = [nodes["id"], links["child_id"], links["parent_id"], author_names]
    del nodes, links, author_names
    display = _take_sections(sections, first_pos[order])
    del first_pos, order
    pa.default_memory_pool().release_unused()
    arrays.set_ids(display, lower)
    del display, lower
    pa.default_memory_pool().release_unused()
    m = len(e_child)
    e_child = arrays.edge_child = e_child.astype(np.int32, copy=False)
    e_parent = arrays.edge_parent = e_parent.astype(np.int32, copy=False)
    e_rel = arrays.edge_rel = e_rel.astype(np.int8, copy=False)
    arrays.edge_declared = e_decl
    arrays.edge_source = e_src
    arrays.edge_evidence = e_ev.astype(np.int32)
    arrays.edge_confidence = e_conf
    arrays.vocab["sources"] = source_labels
    arrays.vocab["evidence"] = evidences
    sus = ~np.isnan(e_conf)
    arrays.meta["suspected"] = int(sus.sum())
    pub = e_rel == RELATION_CODES[Relation.PUBLISHED_BY]
    arrays.author = np.full(n, -1, np.int32)
    arrays.author[e_child[pub]] = e_parent[pub]
    del pub
    if rows_only:
        return arrays
    # Children of a node in renown order, parents likewise: "top k" is then a prefix.
    # Suspected links get layouts of their own: whatever reads the declared layouts (walks,
    # counts, families) never meets a suspicion unless it asks for them.
    lay_out_links(arrays, e_child, e_parent, e_rel, n)

    # The search filter needs only the ids: it is built by another thread (numpy releases
    # the GIL) while this one counts descendants, whose traversals hold it; on two cores
    # that takes the filter off the ingest's critical path. 50 MB at 3.1 M models.
    search = _Background(search_mod.build_filter, arrays.lower_blob, arrays.lower_off)

    say("counting descendants and cycles")
    lineage_mask = np.zeros(n_rel, bool)
    lineage_mask[[RELATION_CODES[r] for r in LINEAGE_RELATIONS]] = True
    sel = lineage_mask[e_rel] & ~sus  # declared links only: suspicions are not counted
    _descendant_counts(arrays, e_child[sel], e_parent[sel], n, lineage_mask)
    arrays.citations = citations(e_child, e_parent, e_rel, sus, arrays.kind)
    arrays.meta["links"] = int(m)
    arrays.meta["nodes"] = int(n)

    say("preparing search")
    arrays.search_bits, layout = search.result()
    layout.record(arrays.meta)
    return arrays


class _Background(threading.Thread):
    """A function run by another thread; :meth:`result` waits for it (and re-raises)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__(name="filiation-build", daemon=True)
        self._call = (fn, args)
        self._value: Any = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        fn, args = self._call
        try:
            self._value = fn(*args)
        except BaseException as exc:  # handed to the waiting thread
            self._error = exc

    def result(self) -> Any:
        self.join()
        if self._error is not None:
            raise self._error
        return self._value


def _first_and_inverse(key_code: np.ndarray, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(pairs, return_index=True, return_inverse=True)[1:]`` for the (key, kind)
    pairs of every element, without sorting them: keys are dense dictionary codes (-1 for
    null), so a table indexed by pair holds each pair's first element. At 7 million elements
    the sort made the largest temporaries of the numbering step."""
    kinds_n = len(KIND_CODES)
    combo = (key_code + 1) * kinds_n + kinds  # int32: a few million keys, three kinds
    size = (int(key_code.max()) + 2) * kinds_n if len(combo) else 0
    first_of = np.full(size, len(combo), np.int64)
    np.minimum.at(first_of, combo, np.arange(len(combo), dtype=np.int64))
    present = first_of < len(combo)
    first = first_of[present]
    del first_of
    rank = np.cumsum(present, dtype=np.int32) - 1
    del present
    inverse = rank[combo]
    return first, inverse


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by a sort: numpy 2's hashing ``unique`` takes seconds where the
    sort takes tens of milliseconds on the full Hub's millions of link keys."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    first = np.empty(len(ordered), bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def _combine(a: np.ndarray, b: np.ndarray, rel: np.ndarray, n: int) -> np.ndarray:
    """One int64 sort key for (a, b, relation)."""
    return (a.astype(np.int64) * n + b) * len(RELATION_CODES) + rel


def _indptr(owner: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(owner, minlength=n) if len(owner) else np.zeros(n, np.int64)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def _descendant_counts(
    arrays: IndexArrays, child: np.ndarray, parent: np.ndarray, n: int, lineage_mask: np.ndarray
) -> None:
    """Exact number of descendants and of generations below every node (lineage links only).

    Where the family below a node is a tree, counts add up from the leaves. Merges (a model
    with several parents) and cycles would be counted twice that way, so every ancestor of
    such a model gets an exact traversal instead; on the real Hub that is a few percent of nodes.
    """
    # scipy is only needed here; importing it lazily keeps queries' start-up short.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

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
    pair = sorted_unique(child.astype(np.int64) * n + parent)
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
        idx = spans(starts, lens)
        nxt = sorted_unique(up_nbr[idx])
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
        idx = spans(starts, lens)
        src = np.repeat(frontier, lens)
        par = up_nbr[idx]
        np.add.at(desc, par, desc[src] + 1)
        np.maximum.at(gen, par, gen[src] + 1)
        np.subtract.at(pending, par, 1)
        cand = sorted_unique(par)
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


def lay_out_links(
    arrays: IndexArrays, e_child: np.ndarray, e_parent: np.ndarray, e_rel: np.ndarray, n: int
) -> None:
    """Both adjacency layouts (children and parents of each node, in renown order) of the
    declared links and of the suspected ones (``arrays.edge_confidence`` not NaN), sorted
    from scratch: by a build, and by ``lineage/delta/`` when node numbers change."""
    sus = ~np.isnan(arrays.edge_confidence)
    for prefix, suspected in (("", False), ("sus_", True)):
        # One direction at a time, each temporary freed before the next is made: at 4
        # million links the int64 sort keys and orders are the peak of a whole ingest.
        sel = np.flatnonzero(sus if suspected else ~sus).astype(np.int32)
        for name, owner, other in (("down", e_parent, e_child), ("up", e_child, e_parent)):
            owner_sel = owner[sel]
            key = _combine(owner_sel, other[sel], e_rel[sel], n)
            position = np.argsort(key)
            del key
            edge = sel[position]
            del position
            setattr(arrays, f"{prefix}{name}_ptr", _indptr(owner_sel, n))
            del owner_sel
            setattr(arrays, f"{prefix}{name}_nbr", other[edge].astype(np.int32, copy=False))
            setattr(arrays, f"{prefix}{name}_edge", edge)
            setattr(arrays, f"{prefix}{name}_rel", e_rel[edge])
            del edge
