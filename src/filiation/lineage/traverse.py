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


class Traverser:
    def __init__(self, arrays: IndexArrays) -> None:
        self.a = arrays

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
    ) -> Walk:
        a = self.a
        ptr, nbr, rel, eid = (
            (a.down_ptr, a.down_nbr, a.down_rel, a.down_edge)
            if down
            else (a.up_ptr, a.up_nbr, a.up_rel, a.up_edge)
        )
        all_allowed = bool(allowed.all())
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
                depth_cut = self._has_more(frontier, ptr, rel, allowed)
                break
            spans = [ptr[v : v + 2].tolist() for v in frontier]
            if sum(e - s for s, e in spans) > VECTOR_THRESHOLD:
                vector_state = (frontier, depth)
                break
            nxt: list[int] = []
            for s, e in spans:
                if s == e:
                    continue
                for u, r, ed in zip(
                    nbr[s:e].tolist(), rel[s:e].tolist(), eid[s:e].tolist(), strict=True
                ):
                    if not allowed_list[r]:
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
                truncated = len(found) > limit or self._has_more(nxt, ptr, rel, allowed)
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
                ptr,
                nbr,
                rel,
                eid,
                allowed,
                all_allowed,
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
        self,
        frontier: list[int] | np.ndarray,
        ptr: np.ndarray,
        rel: np.ndarray,
        allowed: np.ndarray,
    ) -> bool:
        """Whether a frontier we stopped at has further links (so the answer is partial)."""
        for v in list(frontier)[:10_000]:
            s, e = ptr[v : v + 2].tolist()
            if s != e and allowed[rel[s:e]].any():
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
        ptr: np.ndarray,
        nbr: np.ndarray,
        rel: np.ndarray,
        eid: np.ndarray,
        allowed: np.ndarray,
        all_allowed: bool,
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
        while len(frontier):
            if max_depth is not None and depth >= max_depth:
                depth_cut = self._has_more(frontier, ptr, rel, allowed)
                break
            starts = ptr[frontier]
            lens = ptr[frontier + 1] - starts
            total = int(lens.sum())
            if total == 0:
                break
            idx = spans(starts, lens)
            if not all_allowed:
                idx = idx[allowed[rel[idx]]]
            targets = nbr[idx]
            edge_ids = eid[idx]
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
                truncated = count > limit or self._has_more(new, ptr, rel, allowed)
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

    def path(self, source: int, target: int, *, allowed: np.ndarray) -> list[int] | None:
        """Links (edge ids) of a shortest chain by which ``target`` derives from ``source``."""
        if source == target:
            return []
        a = self.a
        prev: dict[int, int] = {target: -1}
        frontier = [target]
        allowed_list = allowed.tolist()
        while frontier:
            nxt: list[int] = []
            for v in frontier:
                s, e = a.up_ptr[v : v + 2].tolist()
                for u, r, ed in zip(
                    a.up_nbr[s:e].tolist(),
                    a.up_rel[s:e].tolist(),
                    a.up_edge[s:e].tolist(),
                    strict=True,
                ):
                    if not allowed_list[r] or u in prev:
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
