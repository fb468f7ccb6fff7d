"""Which families a set of nodes sits in: their root ancestors, each with how many of the set
descend from it.

A family is a root (a node with no lineage parent) and everything derived from it. Walking
down from each root costs the size of its family, and the roots an author's models reach
are the Hub's largest (tens of thousands of descendants each): the author page used to cap
the count at 200 roots and still took half a second. This walks *up* instead, from the set,
carrying which member of the set each step came from: the cost is the sum of the members'
ancestries (a few nodes each), every root is counted exactly, and a merge counts in each of
its families.
"""

from __future__ import annotations

import numpy as np

from filiation.lineage.arrays import IndexArrays, spans


def root_members(
    a: IndexArrays, members: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The roots above ``members`` (a member with no parent is its own root) and, for each,
    how many members descend from it (or are it); roots in index order (best known first).

    ``allowed`` is a mask of the relation codes followed upwards. Cycle-safe: each (member,
    ancestor) pair is visited once, so a family made only of a cycle has no root and is not
    listed.
    """
    members = _sorted_unique(np.asarray(members, np.int64))
    if len(members) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    n = np.int64(a.n_nodes)
    up_ptr = np.asarray(a.up_ptr)
    up_nbr = np.asarray(a.up_nbr)
    up_rel = np.asarray(a.up_rel)
    # A pair is (which member, an ancestor of it or itself), packed in one int64 sort key.
    owner = np.arange(len(members), dtype=np.int64)
    node = members
    seen = owner * n + node  # sorted: members are sorted and owner is their rank
    root_pairs: list[np.ndarray] = []
    while len(node):
        starts = up_ptr[node]
        lens = up_ptr[node + 1] - starts
        idx = spans(starts, lens)
        keep = allowed[up_rel[idx]]
        has_parent = np.bincount(np.repeat(np.arange(len(node)), lens)[keep], minlength=len(node))
        root_pairs.append(owner[has_parent == 0] * n + node[has_parent == 0])
        pairs = np.repeat(owner, lens)[keep] * n + up_nbr[idx][keep].astype(np.int64)
        pairs = _sorted_unique(pairs)
        at = np.minimum(np.searchsorted(seen, pairs), len(seen) - 1)
        fresh = pairs[seen[at] != pairs]
        # Both sorted and disjoint: a stable sort merges the two runs in linear time.
        seen = np.sort(np.concatenate([seen, fresh]), kind="stable")
        owner, node = fresh // n, fresh % n
    found = np.sort(np.concatenate(root_pairs) % n)
    if len(found) == 0:
        return found, found
    starts = np.flatnonzero(np.r_[True, found[1:] != found[:-1]])
    return found[starts], np.diff(np.r_[starts, len(found)])


def ancestors(a: IndexArrays, seeds: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """A mask of ``seeds`` and every node above them by declared links (of the relation
    codes ``allowed``; all by default), one level of the walk at a time."""
    up_ptr, up_nbr, up_rel = np.asarray(a.up_ptr), np.asarray(a.up_nbr), np.asarray(a.up_rel)
    seen = np.zeros(a.n_nodes, bool)
    seen[seeds] = True
    frontier = np.unique(np.asarray(seeds, np.int64))
    while len(frontier):
        starts = up_ptr[frontier]
        idx = spans(starts, up_ptr[frontier + 1] - starts)
        if allowed is not None:
            idx = idx[allowed[up_rel[idx]]]
        nxt = np.unique(up_nbr[idx])
        frontier = nxt[~seen[nxt]]
        seen[frontier] = True
    return seen


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy's hash-based unique is several times slower on these
    int64 keys."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x
