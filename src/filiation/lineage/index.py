"""The lineage index: look-ups, traversals, ranking and search over :class:`IndexArrays`.

It knows nothing of the store or of how results are shown; the service turns its integer
answers into typed results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from filiation.domain import (
    DEFAULT_RANKING,
    KIND_CODES,
    LINEAGE_RELATIONS,
    RANKING_KEYS,
    RELATION_CODES,
    NodeKind,
    Relation,
)
from filiation.lineage import search as search_mod
from filiation.lineage.arrays import IndexArrays, hash_id
from filiation.lineage.query import TraversalQuery
from filiation.lineage.traverse import Traverser, Walk

__all__ = ["DEFAULT_RANKING", "RANKING_KEYS", "LineageIndex", "relation_mask"]


def suspected_confidence(query: TraversalQuery) -> float | None:
    """The minimum confidence of suspected links a walk for ``query`` follows (``None``:
    declared links only, the default)."""
    return query.min_confidence if query.include_suspected else None


def relation_mask(relations: Sequence[Relation] | None) -> np.ndarray:
    mask = np.zeros(len(RELATION_CODES), bool)
    for rel in relations or LINEAGE_RELATIONS:
        mask[RELATION_CODES[rel]] = True
    return mask


class LineageIndex:
    def __init__(self, arrays: IndexArrays) -> None:
        self.a = arrays
        self.traverser = Traverser(arrays)
        #: how the search filter was built (read once: every search needs it)
        self.search_layout = search_mod.Layout.of(arrays.meta)

    @property
    def n_nodes(self) -> int:
        return self.a.n_nodes

    # -- ids ------------------------------------------------------------------------------
    def lookup(self, node_id: str, kind: NodeKind | None = None) -> int | None:
        """The node with this id (case-insensitive); models before data sets before authors."""
        target = node_id.strip().lower().encode()
        a = self.a
        hashes = a.id_hash
        h = np.uint64(hash_id(target))
        lo = int(np.searchsorted(hashes, h, side="left"))
        want = KIND_CODES[kind] if kind is not None else None
        best: int | None = None
        while lo < len(hashes) and hashes[lo] == h:
            node = int(a.id_hash_node[lo])
            lo += 1
            if a.lower_of(node) != target:
                continue  # a hash collision
            code = int(a.kind[node])
            if want is not None and code == want:
                return node
            if want is None and (best is None or code < int(a.kind[best])):
                best = node
        return best if want is None else None

    def kind_of(self, node: int) -> NodeKind:
        from filiation.domain import KINDS_BY_CODE

        return KINDS_BY_CODE[int(self.a.kind[node])]

    # -- walks ----------------------------------------------------------------------------
    def walk(
        self,
        roots: list[int],
        *,
        down: bool,
        relations: Sequence[Relation] | None = None,
        max_depth: int | None = None,
        limit: int | None = None,
        start_depth: int = 0,
        with_edges: bool = True,
        min_confidence: float | None = None,
    ) -> Walk:
        """A walk over declared links; with ``min_confidence``, also over suspected
        (inferred) links of at least that confidence (``suspected_confidence(query)``)."""
        return self.traverser.run(
            roots,
            down=down,
            allowed=relation_mask(relations),
            max_depth=max_depth,
            limit=limit,
            start_depth=start_depth,
            with_edges=with_edges,
            min_confidence=min_confidence,
        )

    def path(
        self,
        source: int,
        target: int,
        relations: Sequence[Relation] | None,
        *,
        min_confidence: float | None = None,
    ) -> list[int] | None:
        return self.traverser.path(
            source, target, allowed=relation_mask(relations), min_confidence=min_confidence
        )

    # -- suspected links ------------------------------------------------------------------
    def confidence(self, edge: int) -> float | None:
        """The confidence of a suspected link; ``None`` for a declared one."""
        conf = self.a.edge_confidence
        if edge >= len(conf) or np.isnan(conf[edge]):
            return None
        return round(float(conf[edge]), 4)  # stored as float32: no false digits

    def suspected(self, edges: np.ndarray) -> np.ndarray:
        """Which of these links are suspected (inferred), not declared."""
        conf = self.a.edge_confidence
        if not len(conf):
            return np.zeros(len(edges), bool)
        return ~np.isnan(conf[np.asarray(edges, np.int64)])

    def neighbours(
        self, node: int, *, down: bool, relations: Sequence[Relation] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Direct children (or parents) as (nodes, edge ids), best known first."""
        a = self.a
        ptr, nbr, rel, eid = (
            (a.down_ptr, a.down_nbr, a.down_rel, a.down_edge)
            if down
            else (a.up_ptr, a.up_nbr, a.up_rel, a.up_edge)
        )
        s, e = ptr[node : node + 2].tolist()
        mask = relation_mask(relations)[rel[s:e]]
        return np.asarray(nbr[s:e])[mask], np.asarray(eid[s:e])[mask]

    def top_neighbours(
        self,
        node: int,
        *,
        down: bool,
        relations: Sequence[Relation] | None,
        limit: int,
        ranking: Sequence[str] = ("downloads",),
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """The ``limit`` first direct neighbours under ``ranking``; also how many there are.

        Ranking by downloads alone is the index order, so it is a prefix and costs nothing.
        """
        nodes, edges = self.neighbours(node, down=down, relations=relations)
        total = len(nodes)
        if tuple(ranking) != ("downloads",) and total > 1:
            order = self.rank(nodes, ranking)
            nodes, edges = nodes[order], edges[order]
        return nodes[:limit], edges[:limit], total

    def rank(self, nodes: np.ndarray, ranking: Sequence[str]) -> np.ndarray:
        """Order of ``nodes`` under ``ranking`` (each key descending, ties by renown)."""
        keys: list[np.ndarray] = [nodes]  # last resort: renown (index order)
        for name in reversed(list(ranking)):
            if name not in RANKING_KEYS:
                from filiation.errors import InvalidArgumentError

                raise InvalidArgumentError(
                    f"unknown ranking key {name!r}; use one of: {', '.join(RANKING_KEYS)}"
                )
            column = np.asarray(getattr(self.a, name)[nodes], dtype=np.float64)
            keys.append(-np.nan_to_num(column, nan=-np.inf))
        return np.lexsort(keys)

    # -- search ---------------------------------------------------------------------------
    def search(self, text: str, limit: int, kinds: Sequence[NodeKind] | None = None) -> list[int]:
        needle = text.strip().lower().encode()
        if not needle:
            return []
        accept = None
        if kinds:
            wanted = np.zeros(len(KIND_CODES), bool)
            for k in kinds:
                wanted[KIND_CODES[k]] = True
            kind_arr = self.a.kind

            def accept(node: int) -> bool:
                return bool(wanted[kind_arr[node]])

        hits: list[int] = []
        exact = self.lookup(text)
        if exact is not None and (accept is None or accept(exact)):
            hits.append(exact)
        for node in search_mod.find(
            self.a.lower_blob,
            self.a.lower_off,
            self.a.search_bits,
            self.search_layout,
            needle,
            limit + 1,
            accept,
        ):
            if node not in hits:
                hits.append(node)
        return hits[:limit]
