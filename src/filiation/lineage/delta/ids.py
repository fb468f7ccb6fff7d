"""A delta's ids: which nodes of the change the previous index already holds, the id blobs
and their look-up for the new numbering, and the search filter over them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filiation.lineage import search as search_mod
from filiation.lineage.arrays import IndexArrays, _blob, hash_ids, spans
from filiation.lineage.delta.staging import Stage


def lower_array(a: IndexArrays) -> pa.LargeStringArray:
    """Lower-case ids as one Arrow array over the blob (each with its trailing separator)."""
    return pa.LargeStringArray.from_buffers(
        a.n_nodes, pa.py_buffer(np.ascontiguousarray(a.lower_off)), pa.py_buffer(a.lower_blob)
    )


def _candidates(a: IndexArrays, blob: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, node): the nodes of ``a`` whose id has the hash of the i-th id of ``blob``
    (separator-terminated, lower-case), i.e. the same id but for rare hash collisions."""
    hashes = hash_ids(blob, off)
    lo = np.searchsorted(a.id_hash, hashes, side="left")
    hi = np.searchsorted(a.id_hash, hashes, side="right")
    which = np.repeat(np.arange(len(hashes)), hi - lo)
    return which, np.asarray(a.id_hash_node)[spans(lo, hi - lo)].astype(np.int64)


def _same_ids(a: IndexArrays, nodes: np.ndarray, ids: pa.Array) -> np.ndarray:
    """Whether each node of ``a`` has the lower-case id (separator-terminated) at the same
    place in ``ids``: the nodes' bytes gathered from the blob (only their pages are read:
    an Arrow array over the whole mapped blob made Arrow read all of it)."""
    if not len(nodes):
        return np.zeros(0, bool)
    nodes = np.asarray(nodes, np.int64)
    starts = np.asarray(a.lower_off[nodes], np.int64)
    lens = np.asarray(a.lower_off[nodes + 1], np.int64) - starts
    ids = pc.cast(ids, pa.large_binary())
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    offsets = np.frombuffer(ids.buffers()[1], np.int64)[ids.offset : ids.offset + len(ids) + 1]
    data = ids.buffers()[2]
    theirs = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    their_lens = np.diff(offsets)
    same = lens == their_lens
    mine = np.asarray(a.lower_blob)[spans(starts[same], lens[same])]
    other = theirs[spans(offsets[:-1][same], their_lens[same])]
    differs = mine != other
    owner = np.repeat(np.arange(int(same.sum())), lens[same])
    bad = np.zeros(int(same.sum()), bool)
    bad[owner[differs]] = True
    out = np.zeros(len(nodes), bool)
    out[np.flatnonzero(same)] = ~bad
    return out


def match_nodes(base: IndexArrays, small: IndexArrays) -> np.ndarray:
    """For each node of ``small``, the same node (id and kind) in ``base``, or -1."""
    out = np.full(small.n_nodes, -1, np.int64)
    if small.n_nodes == 0 or base.n_nodes == 0:
        return out
    which, node = _candidates(base, small.lower_blob, small.lower_off)
    same = base.kind[node] == small.kind[which]
    same &= _same_ids(base, node, lower_array(small).take(pa.array(which)))
    out[which[same]] = node[same]  # (id, kind) is unique in an index: one match at most
    return out


def nodes_with_keys(a: IndexArrays, keys: pa.Array) -> np.ndarray:
    """The nodes of ``a`` (of any kind) whose lower-case id is one of ``keys``."""
    if not len(keys) or not a.n_nodes:
        return np.zeros(0, np.int64)
    blob, off = _blob(keys, separator="\n")
    which, node = _candidates(a, blob, off)
    wanted = pc.binary_join_element_wise(
        pc.cast(keys, pa.large_string()).take(pa.array(which)),
        pa.scalar("", pa.large_string()),
        pa.scalar("\n", pa.large_string()),
    )
    return node[_same_ids(a, node, wanted)]


def renumber_ids(
    base: IndexArrays,
    small: IndexArrays,
    stage: Stage,
    order: np.ndarray | None,
    new_small: np.ndarray,
    identity: bool,
) -> None:
    """The new index's ids and look-up: the base's nodes then the small index's new ones
    (``new_small``), in the new numbering ``order`` (working numbers, ``identity`` when it
    keeps every number and only appends)."""
    n_base = base.n_nodes
    new_ids = small.id_array().take(pa.array(new_small))
    new_lower = pc.utf8_slice_codeunits(lower_array(small), 0, -1).take(pa.array(new_small))
    if identity:
        # New nodes last, none removed (an edge list naming new models): append.
        for name, values, separator in (("id", new_ids, ""), ("lower", new_lower, "\n")):
            blob, off = getattr(base, f"{name}_blob"), getattr(base, f"{name}_off")
            end = int(off[-1])
            more, more_off = _blob(values, separator=separator)
            stage.grown(f"{name}_blob", blob if len(blob) == end else blob[:end], base, more)
            stage.grown(f"{name}_off", off, base, more_off[1:] + end)
    else:
        assert order is not None
        idx = pa.array(order)
        ids = pa.chunked_array([base.id_array(), new_ids])
        lower_all = pa.chunked_array([pc.utf8_slice_codeunits(lower_array(base), 0, -1), new_lower])
        for name, values, separator in (("id", ids, ""), ("lower", lower_all, "\n")):
            blob, off = _blob(values.take(idx), separator=separator)
            stage.keep(f"{name}_blob", blob)
            stage.keep(f"{name}_off", off)
    added = hash_ids(small.lower_blob, small.lower_off)[new_small]
    if identity:
        # The base's look-up is still right: the new ids are merged in at their place (after
        # equal hashes, as a stable sort of every id would put them).
        sort = np.argsort(added, kind="stable")
        pos = np.searchsorted(base.id_hash, added[sort], side="right")
        # (the base's files copied by the kernel between the insertions, when they are few)
        stage.inserted("id_hash", base.id_hash, base, pos, added[sort])
        nodes = (n_base + sort).astype(np.int32)
        stage.inserted("id_hash_node", base.id_hash_node, base, pos, nodes)
    else:
        assert order is not None
        hashes = np.zeros(n_base + len(new_small), np.uint64)
        hashes[np.asarray(base.id_hash_node)] = base.id_hash
        hashes[n_base:] = added
        hashes = hashes[order]
        by_hash = np.argsort(hashes, kind="stable")
        stage.keep("id_hash", hashes[by_hash])
        stage.keep("id_hash_node", by_hash.astype(np.int32))


def search_filter(base: IndexArrays, stage: Stage, order: np.ndarray | None, n_base: int) -> None:
    """The search filter: the base's segments up to the first node whose id changed, built
    again from that one's segment (``order`` None: every number kept, new nodes last). New
    segments are appended to the base's file and the rebuilt ones kept beside it as a patch
    (``Stage.grown``; a copy the kernel makes when the file cannot grow), so the filter is
    never copied through this process. A base whose filter has another layout (an index
    written before it changed) gets a whole new one."""
    out = stage.out
    layout = search_mod.CURRENT
    n = out.n_nodes if order is None else len(order)
    if order is None:
        first = same = n_base
    else:
        same = min(len(order), n_base)
        prefix = order[:same] == np.arange(same)
        first = int(np.argmin(prefix)) if not prefix.all() else same
    layout.record(out.meta)
    if search_mod.Layout.of(base.meta) != layout:
        bits, _ = search_mod.build_filter(out.lower_blob, out.lower_off, layout)
        stage.keep("search_bits", bits, changed=True)
        return
    if first == same and n == n_base:
        stage.keep("search_bits", base.search_bits)
        return
    seg = first // layout.ids_per_segment
    start = seg * layout.ids_per_segment
    lo = int(out.lower_off[start])
    rebuilt, _ = search_mod.build_filter(
        np.asarray(out.lower_blob[lo:]), np.asarray(out.lower_off[start:]) - lo, layout
    )
    old = base.search_bits
    if seg + len(rebuilt) < len(old):  # fewer segments than the base's: written whole
        bits = np.concatenate([np.asarray(old[:seg]), rebuilt])
        stage.keep("search_bits", bits, changed=True)
        return
    kept = len(old) - seg  # segments of the base built again
    rows = np.arange(seg, len(old))
    stage.grown("search_bits", old, base, rebuilt[kept:], rows, rebuilt[:kept])
