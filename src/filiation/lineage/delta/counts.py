"""A delta's counts over the graph: citations, descendants and generations of the nodes the
change reaches (a walk each, or every count again when they are many), and the cycles."""

from __future__ import annotations

import numpy as np

from filiation.domain import KIND_CODES, LINEAGE_RELATIONS, RELATION_CODES, NodeKind, Relation
from filiation.lineage.arrays import IndexArrays, spans
from filiation.lineage.build import _descendant_counts
from filiation.lineage.delta.staging import Stage
from filiation.lineage.families import ancestors

LINEAGE = np.zeros(len(RELATION_CODES), bool)
LINEAGE[[RELATION_CODES[r] for r in LINEAGE_RELATIONS]] = True

#: Above this many nodes whose descendant counts may change (and above as many as the last
#: full count walked exactly: ``meta["exact_counts"]``, the ancestors of merges and
#: cycles), they are all counted again in one pass over the whole graph rather than walked
#: one by one: a full count walks those ancestors too, so fewer walks never cost more.
EXACT_WALKS = 20_000


def walk_limit(base: IndexArrays) -> int:
    """How many nodes a delta walks one by one before counting every node again."""
    return max(EXACT_WALKS, int(base.meta.get("exact_counts", 0)))


def update_counts(
    base: IndexArrays,
    stage: Stage,
    new_of_work: np.ndarray | None,
    touched: np.ndarray,
    cited_work: np.ndarray,
    gone: tuple[np.ndarray, np.ndarray],
    came: tuple[np.ndarray, np.ndarray],
) -> None:
    """The new index's citations, descendant counts and cycle figures from the base's: ``touched``
    (working numbers) are the nodes the change describes, ``cited_work`` the parents of links
    it removed or brought, ``gone`` the base's links (child, parent) that did not survive and
    ``came`` the new ones (working numbers). ``new_of_work`` None: every number kept, new
    nodes last; the counts are then the base's files grown, with the changed rows patched."""
    out = stage.out
    n_base = base.n_nodes
    if new_of_work is None and bool((np.asarray(came[0]) >= n_base).all()):
        # Every new link hangs a new node: no base node reaches another one it did not
        # reach before, so each count is the base's plus the new nodes below it.
        stage.grown("citations", base.citations, base, _zeros(out, base), *_cited(out, cited_work))
        if _add_new_below(base, stage):
            _new_cycles(base, out, came)
            return
        every_count = _grow_counts(base, stage, touched, None)
        came_new = came
    elif new_of_work is None:
        came_new = came
        every_count = _grow_counts(base, stage, touched, cited_work)
    else:
        stage.keep("citations", _recite(base, out, new_of_work, cited_work))
        came_new = (new_of_work[came[0]], new_of_work[came[1]])
        every_count = _recount(base, out, new_of_work, touched, base.n_nodes)
        stage.keep("descendants", out.descendants)
        stage.keep("generations", out.generations)
    if every_count:
        pass  # every count done again, the cycles' with them
    elif _off_cycles(base, *gone) and _off_cycles(out, *came_new):
        # No link that changed can lie on a cycle: the base's cycles are the new ones.
        out.meta["cycles"] = base.meta.get("cycles", 0)
        out.meta["nodes_in_cycles"] = base.meta.get("nodes_in_cycles", 0)
    else:
        _cycles(out, LINEAGE)


def _cites(out: IndexArrays, redo: np.ndarray) -> np.ndarray:
    """The citations of ``redo`` (sorted, unique): distinct models naming each as a parent,
    read from its row of the children layout."""
    n = out.n_nodes
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
    return np.bincount(np.searchsorted(redo, pairs // n), minlength=len(redo)).astype(np.int32)


def _zeros(out: IndexArrays, base: IndexArrays) -> np.ndarray:
    """A count column's tail: one zero for each new node."""
    return np.zeros(out.n_nodes - base.n_nodes, np.int32)


def _cited(out: IndexArrays, cited: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nodes whose citations may change (sorted), and their new counts."""
    redo = np.unique(cited)
    return redo, _cites(out, redo)


#: Above this many (new node, ancestor) pairs, the counts of a delta that only adds nodes
#: are not added up pair by pair (walks or a full count instead).
MAX_PAIRS = 20_000_000


def _add_new_below(base: IndexArrays, stage: Stage) -> bool:
    """Descendants and generations when the change only hangs new nodes (below existing
    ones or each other): every node's count is the base's plus the new nodes below it, and
    its generations the larger of the base's and its distance to the farthest of them.
    Found by one walk up from all new nodes at once, by (new node, ancestor) pairs, each
    pair met first at its shortest distance (as a walk down from the ancestor meets it).
    False (nothing staged) when the pairs would exceed ``MAX_PAIRS``."""
    out = stage.out
    n, n_base = out.n_nodes, base.n_nodes
    owner = np.arange(n_base, n, dtype=np.int64)
    at = owner.copy()
    seen = _Seen(owner * n + at)
    found_at, found_owner, found_depth = [], [], []
    depth = 0
    while len(at):
        depth += 1
        starts = np.asarray(out.up_ptr[at], np.int64)
        lens = np.asarray(out.up_ptr[at + 1], np.int64) - starts
        idx = spans(starts, lens)
        ok = LINEAGE[np.asarray(out.up_rel)[idx]]
        keys = seen.add(np.unique(np.repeat(owner, lens)[ok] * n + np.asarray(out.up_nbr)[idx][ok]))
        if seen.size > MAX_PAIRS:
            return False
        owner, at = keys // n, keys % n
        other = at != owner  # a cycle back to the new node itself
        found_at.append(at[other])
        found_owner.append(owner[other])
        found_depth.append(np.full(int(other.sum()), depth, np.int32))
    if found_at:
        node = np.concatenate(found_at)
        dist = np.concatenate(found_depth)
    else:
        node, dist = np.zeros(0, np.int64), np.zeros(0, np.int32)
    rows = np.unique(node)
    which = np.searchsorted(rows, node)
    more = np.bincount(which, minlength=len(rows)).astype(np.int32)
    far = np.zeros(len(rows), np.int32)
    np.maximum.at(far, which, dist)
    old_rows = rows < n_base
    b = rows[old_rows]
    desc = more.copy()
    gen = far.copy()
    desc[old_rows] += np.asarray(base.descendants)[b]
    gen[old_rows] = np.maximum(gen[old_rows], np.asarray(base.generations)[b])
    stage.grown("descendants", base.descendants, base, _zeros(out, base), rows, desc)
    stage.grown("generations", base.generations, base, _zeros(out, base), rows, gen)
    return True


class _Seen:
    """A growing set of int64 keys, as sorted runs merged two by two when the newer one is
    as large (a binary counter): a long walk of many small levels costs each level a few
    binary searches, not a pass over everything seen so far."""

    def __init__(self, first: np.ndarray) -> None:
        self.runs = [np.unique(first)]
        self.size = len(self.runs[0])

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Add ``keys`` (sorted, unique); return those that were not in the set yet."""
        for run in self.runs:
            if not len(keys):
                break
            pos = np.searchsorted(run, keys)
            keys = keys[~((pos < len(run)) & (run[np.minimum(pos, len(run) - 1)] == keys))]
        if len(keys):
            self.runs.append(keys)
            self.size += len(keys)
            while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
                last = self.runs.pop()
                self.runs[-1] = np.sort(np.concatenate([self.runs[-1], last]))
        return keys


def _new_cycles(base: IndexArrays, out: IndexArrays, came: tuple[np.ndarray, np.ndarray]) -> None:
    """The cycle figures when the change only hangs new nodes: a new cycle is made of new
    nodes only (no base node gained a parent), so the base's figures plus those of the new
    links between new nodes."""
    n_base = base.n_nodes
    child, parent = np.asarray(came[0], np.int64), np.asarray(came[1], np.int64)
    sel = parent >= n_base
    if sel.any():
        starts = np.asarray(out.up_ptr[child[sel]], np.int64)
        lens = np.asarray(out.up_ptr[child[sel] + 1], np.int64) - starts
        idx = spans(starts, lens)
        ok = LINEAGE[np.asarray(out.up_rel)[idx]] & (np.asarray(out.up_nbr)[idx] >= n_base)
        kid = np.repeat(child[sel], lens)[ok] - n_base
        par = np.asarray(out.up_nbr)[idx][ok].astype(np.int64) - n_base
    else:
        kid = par = np.zeros(0, np.int64)
    cycles, nodes_in = cycle_figures(out.n_nodes - n_base, par, kid)
    out.meta["cycles"] = base.meta.get("cycles", 0) + cycles
    out.meta["nodes_in_cycles"] = base.meta.get("nodes_in_cycles", 0) + nodes_in


#: Rounds of trimming before the rest of a small graph is split into strong components one
#: node at a time (a long chain of new models is trimmed by one node at each end a round).
TRIM_ROUNDS = 32


def cycle_figures(n: int, parent: np.ndarray, child: np.ndarray) -> tuple[int, int]:
    """How many cycles (strongly connected components of more than one node) the links
    ``parent -> child`` make among ``n`` nodes, and how many nodes lie on them: what
    :func:`_cycles` counts with scipy over the whole graph, for the few links a delta
    brings, without importing scipy (a third of a second of a delta process's start).

    Nodes with no link in or no link out within the graph lie on no cycle: trimmed away
    with array operations, round after round, which leaves nothing in the usual change
    (new models under new stubs); what is left is split by Tarjan's algorithm."""
    parent = np.asarray(parent, np.int64)
    child = np.asarray(child, np.int64)
    for _ in range(TRIM_ROUNDS):
        if not len(parent):
            return 0, 0
        live = (np.bincount(child, minlength=n) > 0) & (np.bincount(parent, minlength=n) > 0)
        keep = live[parent] & live[child]
        if keep.all():
            break
        parent, child = parent[keep], child[keep]
    nodes, pair = np.unique(np.concatenate([parent, child]), return_inverse=True)
    sizes = _component_sizes(len(nodes), pair[: len(parent)], pair[len(parent) :])
    on_cycles = [size for size in sizes if size > 1]
    return len(on_cycles), sum(on_cycles)


def _component_sizes(n: int, src: np.ndarray, dst: np.ndarray) -> list[int]:
    """The sizes of the strongly connected components of a graph of ``n`` nodes (links
    ``src -> dst``): Tarjan's algorithm, iterative (a chain of thousands of links would
    overflow Python's stack)."""
    order = np.argsort(src, kind="stable")
    ptr = np.searchsorted(src[order], np.arange(n + 1)).tolist()
    nbr = dst[order].tolist()
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    sizes: list[int] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, ptr[root])]
        while work:
            v, i = work[-1]
            if i < ptr[v + 1]:
                work[-1] = (v, i + 1)
                w = nbr[i]
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, ptr[w]))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                size = 0
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    size += 1
                    if w == v:
                        break
                sizes.append(size)
    return sizes


def _grow_counts(
    base: IndexArrays, stage: Stage, touched: np.ndarray, cited: np.ndarray | None
) -> bool:
    """Citations, descendants and generations when numbers are kept and nodes only added:
    the base's, grown by the new nodes, with the rows of the cited nodes and of the
    touched nodes' ancestors counted again (a walk each; beyond ``walk_limit`` of them,
    every count again, the cycles' with them: then True)."""
    from filiation.lineage.traverse import Traverser

    out = stage.out
    n, n_base = out.n_nodes, base.n_nodes
    tail = np.zeros(n - n_base, np.int32)
    if cited is not None:  # (None: staged already)
        stage.grown("citations", base.citations, base, tail, *_cited(out, cited))
    touched = np.asarray(touched, np.int64)
    before = _ancestors(base, touched[touched < n_base], LINEAGE)
    walk = np.union1d(before, _ancestors(out, touched, LINEAGE))
    if len(walk) > walk_limit(base):
        sel = LINEAGE[out.edge_rel] & np.isnan(out.edge_confidence)
        _descendant_counts(out, out.edge_child[sel], out.edge_parent[sel], n, LINEAGE)
        stage.keep("descendants", out.descendants)
        stage.keep("generations", out.generations)
        return True
    desc = np.zeros(len(walk), np.int32)
    gen = np.zeros(len(walk), np.int32)
    trav = Traverser(out)
    for i, v in enumerate(walk.tolist()):
        res = trav.run(
            [v], down=True, allowed=LINEAGE, max_depth=None, limit=None, with_edges=False
        )
        desc[i] = len(res.nodes)
        gen[i] = int(res.depth.max()) if len(res.depth) else 0
    stage.grown("descendants", base.descendants, base, tail, walk, desc)
    stage.grown("generations", base.generations, base, tail, walk, gen)
    return False


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
    if len(redo):
        cites[redo] = _cites(out, redo)
    return cites


def _ancestors(a: IndexArrays, seeds: np.ndarray, lineage: np.ndarray) -> np.ndarray:
    """``seeds`` and every node above them by declared lineage links."""
    return np.flatnonzero(ancestors(a, seeds, lineage))


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
    lineage = LINEAGE
    seeds_work = np.asarray(touched, np.int64)
    before = _ancestors(base, seeds_work[seeds_work < n_base], lineage)
    after_seeds = new_of_work[seeds_work]
    after = _ancestors(out, after_seeds[after_seeds >= 0], lineage)
    moved = new_of_work[before]
    redo = np.unique(np.concatenate([moved[moved >= 0], after]))
    if len(redo) > walk_limit(base):
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
        hit = LINEAGE[np.asarray(rel)[spans(starts, lens)]]
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
