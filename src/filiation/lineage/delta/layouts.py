"""A delta's adjacency layouts when node numbers did not change: the base's entries, the
change's links merged in at their place, instead of sorting every link again (a change that
renumbers nodes lays every link out again with ``build.lay_out_links``)."""

from __future__ import annotations

import numpy as np

from filiation.lineage.arrays import IndexArrays, spans
from filiation.lineage.build import _combine, _indptr
from filiation.lineage.delta.staging import Stage

#: The arrays of the adjacency layouts (declared links, then suspected ones).
LAYOUT_ARRAYS = tuple(
    f"{prefix}{side}{part}"
    for prefix in ("", "sus_")
    for side in ("down_", "up_")
    for part in ("ptr", "nbr", "edge", "rel")
)


def merge_layouts(
    base: IndexArrays, stage: Stage, keep: np.ndarray | None, kept: int, n: int
) -> None:
    """Both adjacency layouts of the new index from the base's, when node numbers did not
    change: the base's entries of kept links (in order already; ``keep`` None: every one),
    the new links' merged in at their place, instead of sorting every link again."""
    out = stage.out
    if keep is None:
        keep = np.ones(0, bool)  # every base link kept: only the insertions below
    else:
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
            if not len(keep) or kept == len(keep):
                _insert_entries(base, stage, name, row_of, nbr_of, sel, n)
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
            stage.keep(name + "ptr", _indptr(rows, n))
            stage.keep(name + "nbr", np.insert(nbr, pos, nbr_of[add]).astype(np.int32))
            stage.keep(name + "edge", np.insert(edge, pos, add).astype(np.int32))
            stage.keep(name + "rel", np.insert(rel, pos, out.edge_rel[add]).astype(np.int8))


def _insert_entries(
    base: IndexArrays,
    stage: Stage,
    name: str,
    row_of: np.ndarray,
    nbr_of: np.ndarray,
    sel: np.ndarray,
    n: int,
) -> None:
    """One layout of ``out``: the base's with the links ``sel`` inserted, when every base
    link is kept (link numbers unchanged). Only the rows that gain entries are searched for
    their place; the rest is one insertion pass."""
    out = stage.out
    old_ptr = getattr(base, name + "ptr")
    nbr = getattr(base, name + "nbr")
    rel = getattr(base, name + "rel")
    eid = getattr(base, name + "edge")
    if not len(sel):
        # Nothing to insert (no new link of this kind): the base's entries as they are.
        stage.grown(name + "ptr", old_ptr, base, np.full(n + 1 - len(old_ptr), old_ptr[-1]))
        for part, value in (("nbr", nbr), ("rel", rel), ("edge", eid)):
            stage.keep(name + part, value)
        return
    add_key = _combine(row_of[sel], nbr_of[sel], out.edge_rel[sel], n)
    by_key = np.argsort(add_key, kind="stable")
    add = sel[by_key]
    add_key = add_key[by_key]
    add_rows = row_of[add].astype(np.int64)
    n_old = len(old_ptr) - 1
    if add_rows[0] >= n_old:
        # Every entry for rows of new nodes (the parents layout of new models): the base's
        # entries as they are, the new ones after them, the row pointers grown.
        counts = np.bincount(add_rows - n_old, minlength=n - n_old)
        stage.grown(name + "ptr", old_ptr, base, old_ptr[-1] + np.cumsum(counts))
        stage.grown(name + "nbr", nbr, base, nbr_of[add])
        stage.grown(name + "edge", eid, base, add)
        stage.grown(name + "rel", rel, base, out.edge_rel[add])
        return
    ptr = np.concatenate([old_ptr, np.full(n + 1 - len(old_ptr), old_ptr[-1], old_ptr.dtype)])
    rows = np.unique(add_rows)
    starts = ptr[rows]
    lens = ptr[rows + 1] - starts
    idx = spans(starts, lens)
    sub_key = _combine(np.repeat(rows, lens), nbr[idx], rel[idx], n)
    at = np.searchsorted(sub_key, add_key)
    end = ptr[add_rows + 1]
    pos = end if not len(idx) else np.where(at < len(idx), idx[np.minimum(at, len(idx) - 1)], end)
    pos = np.minimum(pos, end)
    # Each row's start moves by the entries inserted in the rows before it: a constant
    # added to each stretch between two rows that gain entries (one pass, in place).
    gains, counts = np.unique(add_rows, return_counts=True)
    shift = np.cumsum(counts)
    bounds = np.append(gains + 1, n + 1).tolist()
    for i, by in enumerate(shift.tolist()):
        ptr[bounds[i] : bounds[i + 1]] += by
    stage.keep(name + "ptr", ptr, changed=True)
    stage.inserted(name + "nbr", nbr, base, pos, nbr_of[add])
    stage.inserted(name + "edge", eid, base, pos, add)
    stage.inserted(name + "rel", rel, base, pos, out.edge_rel[add])
