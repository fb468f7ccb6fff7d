"""Apply a small source's change to a built index instead of rebuilding it from every snapshot.

A full build reads every current snapshot: at 3.1 M models most of its time goes to the
hub-stats dump's strings (unifying ids across sources, numbering, authors), which a
``refresh`` of one family or an edge list of two links does not change. :func:`apply_delta`
starts from the previous index instead and redoes only what the change touches:

1. the *touched keys* are the ids the changed source names, before and after (its node rows,
   both ends of its links);
2. a small index is built, by the ordinary :func:`~filiation.lineage.build.build`, from the
   rows of **every** current source restricted to the touched keys (their node rows, the
   links whose child or parent is touched): it holds the touched nodes exactly as a full
   build would see them (fields by source priority, stubs, authors, every link out of them,
   deduplicated with its provenance);
3. the previous index's nodes and links are patched with it: touched nodes take their new
   fields, links out of touched nodes are replaced, new nodes are appended, stubs and
   authors nothing points to any more are dropped;
4. what depends on the whole graph is redone with array operations: renown (authors and
   data sets by the downloads pointing to them) and the numbering by renown, both adjacency
   layouts, the id look-up, the search filter from the first block that changed, and the
   descendant counts of the touched nodes' ancestors (before and after the change).

The answer is the index a full build gives for the same snapshots, except for the order
among nodes of equal renown (same score and likes), which a full build breaks by first
appearance in the sources and a delta by the previous index's order, new nodes last.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filiation.domain import KIND_CODES, LINEAGE_RELATIONS, RELATION_CODES, NodeKind, Relation
from filiation.lineage import search as search_mod
from filiation.lineage.arrays import IndexArrays, _blob, hash_ids, spans
from filiation.lineage.build import (
    SourceTables,
    _combine,
    _descendant_counts,
    _indptr,
    build,
    lay_out_links,
)

Step = Callable[[str], None]

_LINEAGE = np.zeros(len(RELATION_CODES), bool)
_LINEAGE[[RELATION_CODES[r] for r in LINEAGE_RELATIONS]] = True

#: Above this many nodes whose descendant counts may change, they are all counted again
#: (one pass over the whole graph) rather than walked one by one.
EXACT_WALKS = 20_000

_NODE_FIELDS = (
    "kind",
    "stub",
    "downloads",
    "downloads_all_time",
    "likes",
    "parameters",
    "trending",
    "created",
    "modified",
)
_CODED = ("pipeline_tag", "library_name", "license")
_EDGE_FIELDS = (
    "edge_child",
    "edge_parent",
    "edge_rel",
    "edge_declared",
    "edge_source",
    "edge_evidence",
    "edge_confidence",
)


def touched_keys(*tables: tuple[pa.Table, pa.Table]) -> pa.Array:
    """Every key (lower-case id) a source's records name: node rows and both link ends."""
    parts: list[pa.Array] = []
    for nodes, links in tables:
        for col in (nodes["key"], links["child_key"], links["parent_key"]):
            parts.extend(col.chunks)
    if not parts:
        return pa.array([], pa.string())
    return pc.unique(pa.chunked_array(parts, pa.string()).combine_chunks())


def restrict(table: SourceTables, keys: pa.Array) -> SourceTables:
    """A source's rows about ``keys``: node rows with such a key, links with such an end."""
    nodes = table.nodes.filter(pc.is_in(table.nodes["key"], value_set=keys))
    links = table.links
    ends = pc.or_(
        pc.is_in(links["child_key"], value_set=keys), pc.is_in(links["parent_key"], value_set=keys)
    )
    return SourceTables(
        snapshot_id=table.snapshot_id,
        source=table.source,
        label=table.label,
        nodes=nodes,
        links=links.filter(ends),
    )


def _lower_array(a: IndexArrays) -> pa.LargeStringArray:
    """Lower-case ids as one Arrow array over the blob (each with its trailing separator)."""
    return pa.LargeStringArray.from_buffers(
        a.n_nodes, pa.py_buffer(np.ascontiguousarray(a.lower_off)), pa.py_buffer(a.lower_blob)
    )


def _match(base: IndexArrays, small: IndexArrays) -> np.ndarray:
    """For each node of ``small``, the same node (id and kind) in ``base``, or -1."""
    out = np.full(small.n_nodes, -1, np.int64)
    if small.n_nodes == 0 or base.n_nodes == 0:
        return out
    hashes = hash_ids(small.lower_blob, small.lower_off)
    lo = np.searchsorted(base.id_hash, hashes, side="left")
    hi = np.searchsorted(base.id_hash, hashes, side="right")
    base_lower = _lower_array(base)
    small_lower = _lower_array(small)
    for i in np.flatnonzero(hi > lo).tolist():
        want = small_lower[i].as_py()
        for pos in range(int(lo[i]), int(hi[i])):
            node = int(base.id_hash_node[pos])
            if base.kind[node] == small.kind[i] and base_lower[node].as_py() == want:
                out[i] = node
                break
    return out


def _nodes_with_keys(a: IndexArrays, keys: pa.Array) -> np.ndarray:
    """The nodes of ``a`` (of any kind) whose lower-case id is one of ``keys``."""
    if not len(keys) or not a.n_nodes:
        return np.zeros(0, np.int64)
    blob, off = _blob(keys, separator="\n")
    hashes = hash_ids(blob, off)
    lo = np.searchsorted(a.id_hash, hashes, side="left")
    hi = np.searchsorted(a.id_hash, hashes, side="right")
    found: list[int] = []
    for i in np.flatnonzero(hi > lo).tolist():
        want = bytes(blob[off[i] : off[i + 1] - 1])
        for pos in range(int(lo[i]), int(hi[i])):
            node = int(a.id_hash_node[pos])
            if a.lower_of(node) == want:
                found.append(node)
    return np.array(found, np.int64)


def _remap_codes(codes: np.ndarray, old: list[str], vocab: list[str]) -> np.ndarray:
    """Codes into ``old`` as codes into ``vocab`` (extended with the values it lacks)."""
    if not len(old):
        return codes.astype(np.int32)
    where = {v: i for i, v in enumerate(vocab)}
    table = np.empty(len(old), np.int32)
    for i, v in enumerate(old):
        if v not in where:
            where[v] = len(vocab)
            vocab.append(v)
        table[i] = where[v]
    return np.where(codes >= 0, table[np.maximum(codes, 0)], codes).astype(np.int32)


def apply_delta(
    base: IndexArrays,
    sources: list[SourceTables],
    keys: pa.Array,
    *,
    step: Step | None = None,
) -> IndexArrays:
    """The index of ``sources`` (every current snapshot, in the order :func:`build` takes
    them), from ``base`` (the index of the same snapshots but for the changes to ``keys``).

    ``keys`` must hold every id whose rows or links differ between the two sets of snapshots
    (:func:`touched_keys` of the changed source's old and new records)."""
    say = step or (lambda _msg: None)
    say("indexing the change")
    small = build([restrict(s, keys) for s in sources])
    labels = [f"{s.source}#{s.snapshot_id}" for s in sources]
    return _patch(base, small, keys, labels, say)


def _patch(
    base: IndexArrays, small: IndexArrays, keys: pa.Array, labels: list[str], say: Step
) -> IndexArrays:
    n_base = base.n_nodes
    matched = _match(base, small)
    small_keys = pc.utf8_slice_codeunits(_lower_array(small), 0, -1)
    in_keys = pc.is_in(small_keys, value_set=pc.cast(keys, pa.large_string()))
    is_touched = in_keys.to_numpy(zero_copy_only=False)
    author_code = KIND_CODES[NodeKind.AUTHOR]
    # Authors are derived from their models: the small index's word on them is final.
    is_touched |= small.kind == author_code
    new_small = np.flatnonzero(matched < 0)
    # Working numbering: base nodes, then the small index's new nodes.
    work_of_small = matched.copy()
    work_of_small[new_small] = n_base + np.arange(len(new_small))
    n_work = n_base + len(new_small)

    say("patching nodes")
    out = IndexArrays.empty()
    touched_work = work_of_small[is_touched]
    touched_small = np.flatnonzero(is_touched)
    for name in _NODE_FIELDS:
        old = np.asarray(getattr(base, name))
        col = np.concatenate([old, np.asarray(getattr(small, name))[new_small]])
        col[touched_work] = np.asarray(getattr(small, name))[touched_small]
        setattr(out, name, col)
    for name in _CODED:
        vocab = list(base.vocab.get(name, []))
        mapped = _remap_codes(np.asarray(getattr(small, name)), small.vocab.get(name, []), vocab)
        col = np.concatenate([np.asarray(getattr(base, name)), mapped[new_small]])
        col[touched_work] = mapped[touched_small]
        setattr(out, name, col)
        out.vocab[name] = vocab
    touched_node = np.zeros(n_work, bool)
    touched_node[touched_work] = True

    say("patching links")
    # Sources: the new snapshots' labels; links kept from the base map theirs by label.
    sources = list(labels)
    where = {lbl: i for i, lbl in enumerate(sources)}
    base_src = np.array([where.get(lbl, -1) for lbl in base.vocab.get("sources", [])] or [-1])
    small_src = np.array([where.get(lbl, -1) for lbl in small.vocab.get("sources", [])] or [-1])
    evidence = list(base.vocab.get("evidence", []))
    ev_small = _remap_codes(
        np.arange(len(small.vocab.get("evidence", []))), small.vocab.get("evidence", []), evidence
    )
    b_src = np.asarray(base.edge_source).astype(np.int64)
    s_src = np.asarray(small.edge_source).astype(np.int64)
    b_src = np.where(b_src >= 0, base_src[np.maximum(b_src, 0)], -1)
    s_src = np.where(s_src >= 0, small_src[np.maximum(s_src, 0)], -1)
    s_ev = (
        ev_small[np.asarray(small.edge_evidence).astype(np.int64)]
        if len(ev_small)
        else np.zeros(len(small.edge_evidence), np.int32)
    )
    # The links out of a touched node are replaced by the small index's, unless they are
    # the same (a parent the change merely names): then every base link may stay in place.
    replace = touched_node.copy()
    replace[_same_links(base, small, work_of_small, touched_node, b_src, s_src, s_ev)] = False
    keep = ~replace[np.asarray(base.edge_child)]
    take = replace[work_of_small[np.asarray(small.edge_child)]]

    def both(base_part: np.ndarray, small_part: np.ndarray) -> np.ndarray:
        return np.concatenate([base_part[keep], small_part[take]])

    e_child = both(np.asarray(base.edge_child), work_of_small[small.edge_child])
    e_parent = both(np.asarray(base.edge_parent), work_of_small[small.edge_parent])
    e_rel = both(np.asarray(base.edge_rel), np.asarray(small.edge_rel))
    e_decl = both(np.asarray(base.edge_declared), np.asarray(small.edge_declared))
    e_src = both(b_src, s_src).astype(np.int16)
    e_ev = both(np.asarray(base.edge_evidence).astype(np.int32), s_ev).astype(np.int32)
    e_conf = both(np.asarray(base.edge_confidence), np.asarray(small.edge_confidence))

    # Who still exists: a stub is the end of a source's link, an author has a model.
    pub_code = RELATION_CODES[Relation.PUBLISHED_BY]
    pub = e_rel == pub_code
    linked = np.zeros(n_work, bool)
    linked[e_child[~pub]] = True
    linked[e_parent[~pub]] = True
    has_model = np.zeros(n_work, bool)
    has_model[e_parent[pub]] = True
    is_author = out.kind == author_code
    alive = np.where(is_author, has_model, ~out.stub | linked)
    # A touched node the small index does not hold is described by no source any more.
    present = np.ones(n_work, bool)
    was_touched_base = np.zeros(n_work, bool)
    was_touched_base[_nodes_with_keys(base, keys)] = True
    present[was_touched_base & ~touched_node & (out.kind != author_code)] = False
    alive &= present
    # An author of a removed node may have lost its last model.
    live_edge = alive[e_child] & alive[e_parent]
    has_model[:] = False
    has_model[e_parent[live_edge & pub]] = True
    alive &= ~is_author | has_model
    live_edge = alive[e_child] & alive[e_parent]
    # Whose citations may change: the parents of every base link that does not survive as
    # it was and of every link the change brings (work numbering).
    n_kept = int(keep.sum())
    survives = np.zeros(len(keep), bool)
    survives[np.flatnonzero(keep)[live_edge[:n_kept]]] = True
    cited_work = np.concatenate(
        [np.asarray(base.edge_parent)[~survives], e_parent[n_kept:]]
    ).astype(np.int64)
    gone = (np.asarray(base.edge_child)[~survives], np.asarray(base.edge_parent)[~survives])
    came = (e_child[n_kept:][live_edge[n_kept:]], e_parent[n_kept:][live_edge[n_kept:]])
    e_child, e_parent, e_rel, e_decl, e_src, e_ev, e_conf = (
        a[live_edge] for a in (e_child, e_parent, e_rel, e_decl, e_src, e_ev, e_conf)
    )

    say("ranking nodes")
    downloads = out.downloads
    score = np.maximum(downloads, 0).astype(np.float64)
    aggregated = out.kind != KIND_CODES[NodeKind.MODEL]
    if aggregated.any() and len(e_child):
        sums = np.bincount(e_parent, weights=score[e_child], minlength=n_work)
        score = np.where(aggregated, sums, score)
    out.score = score
    live = np.flatnonzero(alive)
    likes = np.maximum(out.likes[live], 0)
    order = _by_renown(live, score[live], likes)
    n = len(order)
    new_of_work = np.full(n_work, -1, np.int64)
    new_of_work[order] = np.arange(n)
    for name in (*_NODE_FIELDS, *_CODED, "score"):
        setattr(out, name, getattr(out, name)[order])

    say("renumbering ids")
    identity = n == n_work and bool((order == np.arange(n)).all())
    say(f"{n:,} nodes ({n - n_base:+,}), numbers {'kept' if identity else 'changed'}")
    new_ids = small.id_array().take(pa.array(new_small))
    new_lower = pc.utf8_slice_codeunits(_lower_array(small), 0, -1).take(pa.array(new_small))
    if identity:
        # New nodes last, none removed (an edge list naming new models): append.
        out.id_blob, out.id_off = _append_blob(base.id_blob, base.id_off, new_ids, "")
        out.lower_blob, out.lower_off = _append_blob(
            base.lower_blob, base.lower_off, new_lower, "\n"
        )
    else:
        idx = pa.array(order)
        ids = pa.chunked_array([base.id_array(), new_ids])
        lower_all = pa.chunked_array(
            [pc.utf8_slice_codeunits(_lower_array(base), 0, -1), new_lower]
        )
        out.id_blob, out.id_off = _blob(ids.take(idx), separator="")
        out.lower_blob, out.lower_off = _blob(lower_all.take(idx), separator="\n")
    added = hash_ids(small.lower_blob, small.lower_off)[new_small]
    if identity:
        # The base's look-up is still right: the new ids are merged in at their place (after
        # equal hashes, as a stable sort of every id would put them).
        sort = np.argsort(added, kind="stable")
        pos = np.searchsorted(base.id_hash, added[sort], side="right")
        out.id_hash = np.insert(np.asarray(base.id_hash), pos, added[sort])
        nodes = (n_base + sort).astype(np.int32)
        out.id_hash_node = np.insert(np.asarray(base.id_hash_node), pos, nodes)
    else:
        hashes = np.zeros(n_work, np.uint64)
        hashes[np.asarray(base.id_hash_node)] = base.id_hash
        hashes[n_base:] = added
        hashes = hashes[order]
        by_hash = np.argsort(hashes, kind="stable")
        out.id_hash = hashes[by_hash]
        out.id_hash_node = by_hash.astype(np.int32)

    say("laying out links")
    e_child = new_of_work[e_child]
    e_parent = new_of_work[e_parent]
    out.edge_child = e_child.astype(np.int32)
    out.edge_parent = e_parent.astype(np.int32)
    out.edge_rel = e_rel.astype(np.int8)
    out.edge_declared = e_decl.astype(bool)
    out.edge_source = e_src
    out.edge_evidence = e_ev
    out.edge_confidence = e_conf.astype(np.float32)
    out.vocab["sources"] = sources
    out.vocab["evidence"] = evidence
    sus = ~np.isnan(out.edge_confidence)
    if identity:
        _merge_layouts(base, out, keep, int(keep.sum()), n)
    else:
        lay_out_links(out, e_child, e_parent, out.edge_rel, n)
    pub = out.edge_rel == pub_code
    out.author = np.full(n, -1, np.int32)
    out.author[e_child[pub]] = e_parent[pub]
    out.meta = {k: v for k, v in base.meta.items() if k not in ("snapshots", "built_at")}
    out.meta["suspected"] = int(sus.sum())
    out.meta["links"] = len(e_child)
    out.meta["nodes"] = n

    out.citations = _recite(base, out, new_of_work, cited_work)

    say("counting descendants")
    came_new = (new_of_work[came[0]], new_of_work[came[1]])
    if _recount(base, out, new_of_work, touched_node | was_touched_base, n_base):
        pass  # every count done again, the cycles' with them
    elif _off_cycles(base, *gone) and _off_cycles(out, *came_new):
        # No link that changed can lie on a cycle: the base's cycles are the new ones.
        out.meta["cycles"] = base.meta.get("cycles", 0)
        out.meta["nodes_in_cycles"] = base.meta.get("nodes_in_cycles", 0)
    else:
        _cycles(out, _LINEAGE)

    say("preparing search")
    _search(base, out, order, n_base)
    return out


def _same_links(
    base: IndexArrays,
    small: IndexArrays,
    work_of_small: np.ndarray,
    touched: np.ndarray,
    b_src: np.ndarray,
    s_src: np.ndarray,
    s_ev: np.ndarray,
) -> np.ndarray:
    """The touched nodes (working numbers) whose links out are the same, field for field,
    in the base and in the small index (sources and evidence in the new vocabularies)."""
    b = np.flatnonzero(touched[np.asarray(base.edge_child)])
    sm = np.flatnonzero(touched[work_of_small[np.asarray(small.edge_child)]])

    def rows(
        a: IndexArrays, sel: np.ndarray, num: np.ndarray | None, src: np.ndarray, ev: np.ndarray
    ) -> dict[int, list[tuple[int, ...]]]:
        child = np.asarray(a.edge_child)[sel].astype(np.int64)
        parent = np.asarray(a.edge_parent)[sel].astype(np.int64)
        if num is not None:
            child, parent = num[child], num[parent]
        cols = zip(
            child.tolist(),
            parent.tolist(),
            np.asarray(a.edge_rel)[sel].tolist(),
            np.asarray(a.edge_declared)[sel].tolist(),
            src[sel].tolist(),
            ev[sel].tolist(),
            np.asarray(a.edge_confidence)[sel].view(np.uint32).tolist(),
            strict=True,
        )
        out: dict[int, list[tuple[int, ...]]] = {}
        for row in cols:
            out.setdefault(row[0], []).append(row)
        return out

    before = rows(base, b, None, b_src, np.asarray(base.edge_evidence).astype(np.int64))
    after = rows(small, sm, work_of_small, s_src, s_ev)
    nodes = np.flatnonzero(touched)
    same = [v for v in nodes.tolist() if sorted(before.get(v, [])) == sorted(after.get(v, []))]
    return np.array(same, np.int64)


def _by_renown(live: np.ndarray, score: np.ndarray, likes: np.ndarray) -> np.ndarray:
    """``live`` ordered by score, then likes (both descending), then number: a check that
    they already are (the usual small change, new nodes of no renown last) costs a pass,
    a sort of every node ten times more."""
    if len(live) < 2:
        return live
    s0, s1, l0, l1 = score[:-1], score[1:], likes[:-1], likes[1:]
    if bool(((s0 > s1) | ((s0 == s1) & (l0 >= l1))).all()):
        return live
    return live[np.lexsort((live, -likes, -score))]


def _append_blob(
    blob: np.ndarray, off: np.ndarray, values: pa.Array, separator: str
) -> tuple[np.ndarray, np.ndarray]:
    """A blob and its offsets with ``values`` added at the end."""
    more, more_off = _blob(values, separator=separator)
    end = int(off[-1])
    return (
        np.concatenate([np.asarray(blob[:end]), more]),
        np.concatenate([np.asarray(off), more_off[1:] + end]),
    )


def _merge_layouts(
    base: IndexArrays, out: IndexArrays, keep: np.ndarray, kept: int, n: int
) -> None:
    """Both adjacency layouts of ``out`` from the base's, when node numbers did not change:
    the base's entries of kept links (in order already), the new links' merged in at their
    place, instead of sorting every link again."""
    remap = np.cumsum(keep) - 1  # base link number -> new link number
    new_edges = np.arange(kept, len(out.edge_child))
    new_sus = ~np.isnan(out.edge_confidence[new_edges])
    for prefix, sel in (("", new_edges[~new_sus]), ("sus_", new_edges[new_sus])):
        for side, row_of, nbr_of in (
            ("down_", out.edge_parent, out.edge_child),
            ("up_", out.edge_child, out.edge_parent),
        ):
            name = prefix + side
            ptr = np.asarray(getattr(base, name + "ptr"))
            eid = np.asarray(getattr(base, name + "edge"))
            if kept == len(keep):
                _insert_entries(base, out, name, row_of, nbr_of, sel, n)
                continue
            ok = keep[eid]
            rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))[ok]
            nbr = np.asarray(getattr(base, name + "nbr"))[ok]
            rel = np.asarray(getattr(base, name + "rel"))[ok]
            edge = remap[eid[ok]]
            add_key = _combine(row_of[sel], nbr_of[sel], out.edge_rel[sel], n)
            add = sel[np.argsort(add_key)]
            pos = np.searchsorted(_combine(rows, nbr, rel, n), np.sort(add_key))
            rows = np.insert(rows, pos, row_of[add])
            setattr(out, name + "ptr", _indptr(rows, n))
            setattr(out, name + "nbr", np.insert(nbr, pos, nbr_of[add]).astype(np.int32))
            setattr(out, name + "edge", np.insert(edge, pos, add).astype(np.int32))
            setattr(out, name + "rel", np.insert(rel, pos, out.edge_rel[add]).astype(np.int8))


def _recite(
    base: IndexArrays, out: IndexArrays, new_of_work: np.ndarray, cited_work: np.ndarray
) -> np.ndarray:
    """Citations: the base's, but for the parents of links the change removed or brought,
    counted again from their children in the new layout (what ``indicators.citations``
    counts over every link, on the few nodes whose count may differ)."""
    n = out.n_nodes
    n_base = base.n_nodes
    cites = np.zeros(n, np.int32)
    old = new_of_work[:n_base]
    alive = old >= 0
    cites[old[alive]] = np.asarray(base.citations)[alive]
    redo = np.unique(new_of_work[cited_work])
    redo = redo[redo >= 0]
    if not len(redo):
        return cites
    starts = out.down_ptr[redo]
    lens = out.down_ptr[redo + 1] - starts
    idx = spans(starts, lens)
    rows = np.repeat(redo, lens)
    child = np.asarray(out.down_nbr)[idx]
    ok = (
        (np.asarray(out.down_rel)[idx] != RELATION_CODES[Relation.PUBLISHED_BY])
        & (out.kind[child] == KIND_CODES[NodeKind.MODEL])
        & (child != rows)
    )
    pairs = np.unique(rows[ok].astype(np.int64) * n + child[ok])
    counts = np.bincount(pairs // n, minlength=n).astype(np.int32)
    cites[redo] = counts[redo]
    return cites


def _insert_entries(
    base: IndexArrays,
    out: IndexArrays,
    name: str,
    row_of: np.ndarray,
    nbr_of: np.ndarray,
    sel: np.ndarray,
    n: int,
) -> None:
    """One layout of ``out``: the base's with the links ``sel`` inserted, when every base
    link is kept (link numbers unchanged). Only the rows that gain entries are searched for
    their place; the rest is one insertion pass."""
    ptr = np.asarray(getattr(base, name + "ptr"))
    nbr = np.asarray(getattr(base, name + "nbr"))
    rel = np.asarray(getattr(base, name + "rel"))
    eid = np.asarray(getattr(base, name + "edge"))
    ptr = np.concatenate([ptr, np.full(n + 1 - len(ptr), ptr[-1], ptr.dtype)])
    add_key = _combine(row_of[sel], nbr_of[sel], out.edge_rel[sel], n)
    by_key = np.argsort(add_key, kind="stable")
    add = sel[by_key]
    add_key = add_key[by_key]
    add_rows = row_of[add].astype(np.int64)
    rows = np.unique(add_rows)
    starts = ptr[rows]
    lens = ptr[rows + 1] - starts
    idx = spans(starts, lens)
    sub_key = _combine(np.repeat(rows, lens), nbr[idx], rel[idx], n)
    at = np.searchsorted(sub_key, add_key)
    end = ptr[add_rows + 1]
    pos = end if not len(idx) else np.where(at < len(idx), idx[np.minimum(at, len(idx) - 1)], end)
    pos = np.minimum(pos, end)
    more = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(add_rows, minlength=n), out=more[1:])
    setattr(out, name + "ptr", ptr + more)
    setattr(out, name + "nbr", np.insert(nbr, pos, nbr_of[add]).astype(np.int32))
    setattr(out, name + "edge", np.insert(eid, pos, add).astype(np.int32))
    setattr(out, name + "rel", np.insert(rel, pos, out.edge_rel[add]).astype(np.int8))


def _ancestors(a: IndexArrays, seeds: np.ndarray, lineage: np.ndarray) -> np.ndarray:
    """``seeds`` and every node above them by declared lineage links."""
    seen = np.zeros(a.n_nodes, bool)
    seen[seeds] = True
    frontier = np.unique(seeds)
    while len(frontier):
        starts = a.up_ptr[frontier]
        lens = a.up_ptr[frontier + 1] - starts
        if lens.sum() == 0:
            break
        idx = spans(starts, lens)
        idx = idx[lineage[a.up_rel[idx]]]
        nxt = np.unique(a.up_nbr[idx])
        frontier = nxt[~seen[nxt]]
        seen[frontier] = True
    return np.flatnonzero(seen)


def _recount(
    base: IndexArrays,
    out: IndexArrays,
    new_of_work: np.ndarray,
    touched: np.ndarray,
    n_base: int,
) -> bool:
    """Descendants and generations: the base's, but for the ancestors (before or after the
    change) of touched nodes, counted again by a walk each; many of them, all counted again
    (with the cycles: then True)."""
    from filiation.lineage.traverse import Traverser

    n = out.n_nodes
    lineage = _LINEAGE
    seeds_work = np.flatnonzero(touched)
    before = _ancestors(base, seeds_work[seeds_work < n_base], lineage)
    after_seeds = new_of_work[seeds_work]
    after = _ancestors(out, after_seeds[after_seeds >= 0], lineage)
    moved = new_of_work[before]
    redo = np.unique(np.concatenate([moved[moved >= 0], after]))
    if len(redo) > EXACT_WALKS:
        sel = lineage[out.edge_rel] & np.isnan(out.edge_confidence)
        _descendant_counts(out, out.edge_child[sel], out.edge_parent[sel], n, lineage)
        return True
    work_of_new = np.flatnonzero(new_of_work >= 0)[np.argsort(new_of_work[new_of_work >= 0])]
    desc = np.zeros(n, np.int32)
    gen = np.zeros(n, np.int32)
    from_base = work_of_new < n_base
    desc[from_base] = np.asarray(base.descendants)[work_of_new[from_base]]
    gen[from_base] = np.asarray(base.generations)[work_of_new[from_base]]
    out.descendants = desc
    out.generations = gen
    trav = Traverser(out)
    for v in redo.tolist():
        res = trav.run(
            [v], down=True, allowed=lineage, max_depth=None, limit=None, with_edges=False
        )
        desc[v] = len(res.nodes)
        gen[v] = int(res.depth.max()) if len(res.depth) else 0
    return False


def _off_cycles(a: IndexArrays, child: np.ndarray, parent: np.ndarray) -> bool:
    """True when none of these links of ``a`` can lie on a cycle of declared lineage links:
    each one's child has no child of its own or its parent no parent (the usual small
    change, new models under existing ones). Otherwise the cycles are counted again."""
    if not len(child):
        return True

    def has(ptr: np.ndarray, rel: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        starts = np.asarray(ptr)[nodes]
        lens = np.asarray(ptr)[nodes + 1] - starts
        hit = _LINEAGE[np.asarray(rel)[spans(starts, lens)]]
        return np.bincount(np.repeat(np.arange(len(nodes)), lens)[hit], minlength=len(nodes)) > 0

    child = np.asarray(child, np.int64)
    parent = np.asarray(parent, np.int64)
    stuck = has(a.down_ptr, a.down_rel, child) & has(a.up_ptr, a.up_rel, parent)
    return not bool(stuck.any())


def _cycles(out: IndexArrays, lineage: np.ndarray) -> None:
    """How many cycles the declared lineage links make (the figures ``stats`` shows)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = out.n_nodes
    sel = lineage[out.edge_rel] & np.isnan(out.edge_confidence)
    child, parent = out.edge_child[sel], out.edge_parent[sel]
    if not len(child):
        out.meta["cycles"] = 0
        out.meta["nodes_in_cycles"] = 0
        return
    graph = csr_matrix((np.ones(len(child), np.int8), (parent, child)), shape=(n, n))
    n_comp, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    out.meta["cycles"] = int((sizes > 1).sum())
    out.meta["nodes_in_cycles"] = int((sizes[labels] > 1).sum())


def _search(base: IndexArrays, out: IndexArrays, order: np.ndarray, n_base: int) -> None:
    """The search filter: the base's blocks up to the first node whose id changed, built
    again from there."""
    block = int(base.meta.get("search_block", search_mod.BLOCK))
    same = min(len(order), n_base)
    prefix = order[:same] == np.arange(same)
    first = int(np.argmin(prefix)) if not prefix.all() else same
    if first == same and len(order) == n_base and block == search_mod.BLOCK:
        out.search_bits = base.search_bits
        out.meta["search_block"] = block
        return
    keep_blocks = first // search_mod.BLOCK if block == search_mod.BLOCK else 0
    start = keep_blocks * search_mod.BLOCK
    lo = int(out.lower_off[start])
    tail_bits, blk = search_mod.build_filter(
        np.asarray(out.lower_blob[lo:]), np.asarray(out.lower_off[start:]) - lo
    )
    if keep_blocks and base.search_bits.ndim == 2:
        head = np.asarray(base.search_bits)[:, :keep_blocks]
        out.search_bits = np.ascontiguousarray(np.concatenate([head, tail_bits], axis=1))
    else:
        out.search_bits = tail_bits
    out.meta["search_block"] = blk
