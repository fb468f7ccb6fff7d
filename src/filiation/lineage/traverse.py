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
        visited = np.zeros(self.a.n_nodes, bool)
        visited[list(depth_of)] = True
        frontier = np.asarray(frontier_list, np.int64)
        out_nodes = [nodes]
        out_depth = [depths]
        out_via = [via]
        out_edges = [edges]
        count = len(nodes)
        truncated = False
        depth_cut = False
        all_allowed = bool(allowed.all())
        while len(frontier):
            if max_depth is not None and depth >= max_depth:
                depth_cut = self._has_more(frontier, layouts, allowed)
                break
            target_parts: list[np.ndarray] = []
            edge_parts: list[np.ndarray] = []
            for lay in layouts:
                starts = lay.ptr[frontier]
                lens = lay.ptr[frontier + 1] - starts
                if int(lens.sum()) == 0:
                    continue
                idx = spans(starts, lens)
                if not all_allowed or lay.conf is not None:
                    idx = lay.entries(idx, allowed)
                target_parts.append(lay.nbr[idx])
                edge_parts.append(lay.eid[idx])
            if not target_parts:
                break
            targets = np.concatenate(target_parts)
            edge_ids = np.concatenate(edge_parts)
            if with_edges:
                out_edges.append(edge_ids)
            fresh = ~visited[targets]
            new, first = np.unique(targets[fresh], return_index=True)
            if len(new) == 0:
                break
            visited[new] = True
            depth += 1
            out_nodes.append(new)
            out_depth.append(np.full(len(new), depth, np.int32))
            out_via.append(edge_ids[fresh][first])
            count += len(new)
            if limit is not None and count >= limit:
                truncated = count > limit or self._has_more(new, layouts, allowed)
                break
            frontier = new
        return (
            np.concatenate(out_nodes),
            np.concatenate(out_depth),
            np.concatenate(out_via),
            np.concatenate(out_edges) if with_edges else edges,
            truncated,
            depth_cut,
        )

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
