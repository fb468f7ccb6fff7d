"""Breadth-first traversals over the index, cycle-safe and bounded on request.

Small families (the vast majority) are walked node by node in Python, which costs a few
microseconds; as soon as a frontier grows, the walk switches to whole-level array operations,
so the largest families of the Hub (tens of thousands of descendants) take milliseconds.
Every node is visited once, so cycles end the walk instead of looping it; the depth of a node
is its shortest distance from the start, and the link that reached it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filiation.lineage.arrays import IndexArrays, spans

#: Number of links out of a level above which it is expanded with array operations.
VECTOR_THRESHOLD = 256

#: A limited walk reads only the head of each adjacency row when the level has more than
#: this many times the nodes the limit still allows (:meth:`Traverser._level`).
HEAD_FACTOR = 4


@dataclass
class Walk:
    """What a traversal found: nodes (without the start), their depth, the link that reached
    each, every link followed between found nodes, and whether a bound cut it short."""

    roots: np.ndarray
    nodes: np.ndarray
    depth: np.ndarray
    via: np.ndarray
    edges: np.ndarray
    truncated: bool
    depth_cut: bool


@dataclass
class _Layout:
    """One adjacency layout to follow (declared links, or suspected ones above a minimum
    confidence: ``conf`` is then the confidence of every link, by link number)."""

    ptr: np.ndarray
    nbr: np.ndarray
    rel: np.ndarray
    eid: np.ndarray
    conf: np.ndarray | None = None
    min_conf: float = 0.0

    def entries(self, idx: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Those of the layout positions ``idx`` whose link may be followed."""
        idx = idx[allowed[self.rel[idx]]]
        if self.conf is not None:
            idx = idx[self.conf[self.eid[idx]] >= self.min_conf]
        return idx


class Traverser:
    def __init__(self, arrays: IndexArrays) -> None:
        self.a = arrays
        self._spare: list[np.ndarray] = []

    def layouts(self, down: bool, min_confidence: float | None) -> list[_Layout]:
        """The declared layout, and the suspected one when ``min_confidence`` is given."""
        a = self.a
        if down:
            out = [_Layout(a.down_ptr, a.down_nbr, a.down_rel, a.down_edge)]
        else:
            out = [_Layout(a.up_ptr, a.up_nbr, a.up_rel, a.up_edge)]
        if min_confidence is not None and a.n_suspected:
            p = "sus_down_" if down else "sus_up_"
            out.append(
                _Layout(
                    getattr(a, p + "ptr"),
                    getattr(a, p + "nbr"),
                    getattr(a, p + "rel"),
                    getattr(a, p + "edge"),
                    a.edge_confidence,
                    float(min_confidence),
                )
            )
        return out

    def run(
        self,
        roots: list[int],
        *,
        down: bool,
        allowed: np.ndarray,
        max_depth: int | None,
        limit: int | None,
        with_edges: bool = True,
        start_depth: int = 0,
        min_confidence: float | None = None,
    ) -> Walk:
        """A breadth-first walk; ``min_confidence`` (``None``: declared links only) also
        follows suspected links of at least that confidence."""
        a = self.a
        layouts = self.layouts(down, min_confidence)
        allowed_list = allowed.tolist()
        depth_of: dict[int, int] = dict.fromkeys(roots, start_depth)
        found: list[int] = []
        found_depth: list[int] = []
        found_via: list[int] = []
        edges: list[int] = []
        frontier = list(depth_of)
        depth = start_depth
        truncated = False
        depth_cut = False
        vector_state = None
        while frontier:
            if max_depth is not None and depth >= max_depth:
                depth_cut = self._has_more(frontier, layouts, allowed)
                break
            if len(frontier) * len(layouts) > VECTOR_THRESHOLD:
                # many starts (a data set's models): reading their rows one by one in Python
                # would cost more than the level itself
                vector_state = (frontier, depth)
                break
            spans = [(lay, *lay.ptr[v : v + 2].tolist()) for v in frontier for lay in layouts]
            if sum(e - s for _, s, e in spans) > VECTOR_THRESHOLD:
                vector_state = (frontier, depth)
                break
            nxt: list[int] = []
            for lay, s, e in spans:
                if s == e:
                    continue
                conf = lay.conf
                for u, r, ed in zip(
                    lay.nbr[s:e].tolist(), lay.rel[s:e].tolist(), lay.eid[s:e].tolist(), strict=True
                ):
                    if not allowed_list[r]:
                        continue
                    if conf is not None and not conf[ed] >= lay.min_conf:
                        continue
                    if with_edges:
                        edges.append(ed)
                    if u not in depth_of:
                        depth_of[u] = depth + 1
                        nxt.append(u)
                        found.append(u)
                        found_depth.append(depth + 1)
                        found_via.append(ed)
            depth += 1
            if limit is not None and len(found) >= limit:
                truncated = len(found) > limit or self._has_more(nxt, layouts, allowed)
                break
            frontier = nxt

        nodes = np.asarray(found, np.int64)
        depths = np.asarray(found_depth, np.int32)
        via = np.asarray(found_via, np.int64)
        edge_arr = np.asarray(edges, np.int64)
        if vector_state is not None:
            nodes, depths, via, edge_arr, truncated, depth_cut = self._vector(
                vector_state,
                depth_of,
                nodes,
                depths,
                via,
                edge_arr,
                layouts,
                allowed,
                max_depth,
                limit,
                with_edges,
            )
        if limit is not None and len(nodes) > limit:
            # Keep the best known of the last level: lower index means better known.
            order = np.lexsort((nodes, depths))[:limit]
            order.sort()
            nodes, depths, via = nodes[order], depths[order], via[order]
            truncated = True
        if with_edges and truncated and len(edge_arr):
            # Only links whose far end made it into the answer.
            keep = np.concatenate([nodes, np.asarray(roots, np.int64)])
            far = a.edge_child[edge_arr] if down else a.edge_parent[edge_arr]
            edge_arr = edge_arr[np.isin(far, keep)]
        return Walk(
            roots=np.asarray(roots, np.int64),
            nodes=nodes,
            depth=depths,
            via=via,
            edges=edge_arr,
            truncated=truncated,
            depth_cut=depth_cut,
        )

    def _has_more(
        self, frontier: list[int] | np.ndarray, layouts: list[_Layout], allowed: np.ndarray
    ) -> bool:
        """Whether a frontier we stopped at has further links (so the answer is partial)."""
        for v in list(frontier)[:10_000]:
            for lay in layouts:
                s, e = lay.ptr[v : v + 2].tolist()
                if s != e and len(lay.entries(np.arange(s, e), allowed)):
                    return True
        return False

    def _vector(
        self,
        state: tuple[list[int], int],
        depth_of: dict[int, int],
        nodes: np.ndarray,
        depths: np.ndarray,
        via: np.ndarray,
        edges: np.ndarray,
        layouts: list[_Layout],
        allowed: np.ndarray,
        max_depth: int | None,
        limit: int | None,
        with_edges: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, bool]:
        frontier_list, depth = state
        frontier = np.asarray(frontier_list, np.int64)
        out_nodes, out_depth, out_via, out_edges = [nodes], [depths], [via], [edges]
        count = len(nodes)
        truncated = False
        depth_cut = False
        all_allowed = bool(allowed.all())
        visited = self._scratch()
        touched = [np.fromiter(depth_of, np.int64, len(depth_of))]
        visited[touched[0]] = True
        try:
            while len(frontier):
                if max_depth is not None and depth >= max_depth:
                    depth_cut = self._has_more(frontier, layouts, allowed)
                    break
                room = None if limit is None else limit - count
                level = self._level(
                    frontier, layouts, allowed, all_allowed, visited, room, touched, with_edges
                )
                if level is None:
                    break
                new, new_via, edge_ids, cut = level
                if with_edges:
                    out_edges.append(edge_ids)
                if len(new) == 0:
                    break
                visited[new] = True
                touched.append(new)
                depth += 1
                out_nodes.append(new)
                out_depth.append(np.full(len(new), depth, np.int32))
                out_via.append(new_via)
                count += len(new)
                if limit is not None and count >= limit:
                    truncated = cut or count > limit or self._has_more(new, layouts, allowed)
                    break
                frontier = new
        finally:
            # Leave the shared flags all false for the next walk: only what was set.
            for part in touched:
                visited[part] = False
            self._spare.append(visited)
        return (
            np.concatenate(out_nodes),
            np.concatenate(out_depth),
            np.concatenate(out_via),
            np.concatenate(out_edges),
            truncated,
            depth_cut,
        )

    def _scratch(self) -> np.ndarray:
        """An all-false "visited" array of one flag per node, reused across walks: a fresh one
        (megabytes at Hub scale) cost more than the walk of most families. One per walk
        running at once (a walk hands it back when it ends)."""
        try:
            return self._spare.pop()
        except IndexError:
            return np.zeros(self.a.n_nodes, bool)

    def _level(
        self,
        frontier: np.ndarray,
        layouts: list[_Layout],
        allowed: np.ndarray,
        all_allowed: bool,
        visited: np.ndarray,
        room: int | None,
        found: list[np.ndarray],
        with_edges: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None:
        """The nodes one level further (sorted), the link that reached each, the links
        followed, and whether the level was cut to ``room`` nodes; ``None`` when the frontier
        has no link at all (``found``: every node found before, the starts included).

        With ``room`` (what the limit leaves) far smaller than the level, only the head of
        each adjacency row is read: rows are sorted by neighbour, and a limited walk keeps the
        best known (lowest numbered) of its last level, so when the heads already hold more
        than ``room`` new nodes, all below the first unread entry of any row cut short, the
        rest of the level cannot change the answer. The first level of a family with tens
        of thousands of children then costs what a page of it does. A head that is not
        enough is lengthened; a level no longer than its heads is read whole.
        """
        lens = [lay.ptr[frontier + 1] - lay.ptr[frontier] for lay in layouts]
        total = sum(int(n.sum()) for n in lens)
        if total == 0:
            return None
        head = None
        if room is not None and room > 0 and total > HEAD_FACTOR * room + VECTOR_THRESHOLD:
            head = max(2 * room, VECTOR_THRESHOLD)
        while True:
            targets, edge_ids, bound, cut = self._read(
                frontier, layouts, lens, allowed, all_allowed, head
            )
            fresh = ~visited[targets]
            new, first = np.unique(targets[fresh], return_index=True)
            if head is None or not cut:
                return new, edge_ids[fresh][first], edge_ids, False
            assert room is not None
            if len(new) > room and new[room - 1] < bound:
                # the level is cut at ``room`` nodes: the walk ends here, truncated
                reached_by = edge_ids[fresh][first[:room]]
                if with_edges:
                    extra = self._unread_links_to(cut, np.concatenate(found), allowed, all_allowed)
                    edge_ids = np.concatenate([edge_ids, extra])
                return new[:room], reached_by, edge_ids, True
            head *= 4

    def _read(
        self,
        frontier: np.ndarray,
        layouts: list[_Layout],
        lens: list[np.ndarray],
        allowed: np.ndarray,
        all_allowed: bool,
        head: int | None,
    ) -> tuple[np.ndarray, np.ndarray, int, list[tuple[_Layout, np.ndarray, np.ndarray]]]:
        """The neighbours and links of the frontier's rows that may be followed, each row cut
        to its first ``head`` entries (``None``: whole); the lowest first unread neighbour of
        a cut row, and the cut rows' unread parts (layout, starts, ends)."""
        target_parts: list[np.ndarray] = []
        edge_parts: list[np.ndarray] = []
        bound = np.iinfo(np.int64).max
        cut: list[tuple[_Layout, np.ndarray, np.ndarray]] = []
        for lay, n in zip(layouts, lens, strict=True):
            starts = lay.ptr[frontier]
            if head is not None:
                long = n > head
                if long.any():
                    unread = starts[long] + head
                    bound = min(bound, int(lay.nbr[unread].min()))
                    cut.append((lay, unread, starts[long] + n[long]))
                    n = np.minimum(n, head)
            if int(n.sum()) == 0:
                continue
            idx = spans(starts, n)
            if not all_allowed or lay.conf is not None:
                idx = lay.entries(idx, allowed)
            target_parts.append(lay.nbr[idx])
            edge_parts.append(lay.eid[idx])
        if not target_parts:
            empty = np.zeros(0, np.int64)
            return empty, empty, bound, cut
        return np.concatenate(target_parts), np.concatenate(edge_parts), bound, cut

    def _unread_links_to(
        self,
        cut: list[tuple[_Layout, np.ndarray, np.ndarray]],
        found: np.ndarray,
        allowed: np.ndarray,
        all_allowed: bool,
    ) -> np.ndarray:
        """Links of the rows' unread parts to nodes found at earlier levels: a whole walk
        would have followed them and they join two nodes of the answer. Rows are sorted, so
        each found node is searched, not each entry read."""
        found = np.unique(found)
        parts: list[np.ndarray] = []
        for lay, starts, ends in cut:
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                row = lay.nbr[s:e]
                lo = np.searchsorted(row, found, "left")
                hi = np.searchsorted(row, found, "right")
                hit = hi > lo
                if not hit.any():
                    continue
                idx = s + spans(lo[hit], hi[hit] - lo[hit])
                if not all_allowed or lay.conf is not None:
                    idx = lay.entries(idx, allowed)
                parts.append(lay.eid[idx])
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def path(
        self,
        source: int,
        target: int,
        *,
        allowed: np.ndarray,
        min_confidence: float | None = None,
    ) -> list[int] | None:
        """Links (edge ids) of a shortest chain by which ``target`` derives from ``source``
        (suspected links too, of at least ``min_confidence``, when it is given)."""
        if source == target:
            return []
        a = self.a
        layouts = self.layouts(False, min_confidence)
        prev: dict[int, int] = {target: -1}
        frontier = [target]
        allowed_list = allowed.tolist()
        while frontier:
            nxt: list[int] = []
            for v in frontier:
                for lay in layouts:
                    s, e = lay.ptr[v : v + 2].tolist()
                    for u, r, ed in zip(
                        lay.nbr[s:e].tolist(),
                        lay.rel[s:e].tolist(),
                        lay.eid[s:e].tolist(),
                        strict=True,
                    ):
                        if not allowed_list[r] or u in prev:
                            continue
                        if lay.conf is not None and not lay.conf[ed] >= lay.min_conf:
                            continue
                        prev[u] = ed
                        if u == source:
                            chain: list[int] = []
                            node = u
                            while prev[node] != -1:
                                edge = prev[node]
                                chain.append(edge)
                                node = int(a.edge_child[edge])
                            return chain
                        nxt.append(u)
            frontier = nxt
        return None
