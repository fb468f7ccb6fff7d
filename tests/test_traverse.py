"""Limited walks over families far wider than their limit (``Traverser._level`` reads only the
head of each adjacency row there) answer what a plain breadth-first reading of the same links
answers: the nearest levels whole, then the best known (lowest numbered) of the last level,
the link that reached each node, every followed link between two nodes of the answer, and
whether the limit cut anything.

The graphs are random, with hubs of hundreds of children (a family's base model), links of
several relations between the same two models, suspected links of known confidence, cross
and back links and cycles; the reference shares no code with the traverser.
"""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest

from filiation.domain import RELATIONS_BY_CODE
from filiation.lineage.build import SourceTables, build
from filiation.lineage.index import LineageIndex
from filiation.lineage.traverse import HEAD_FACTOR, VECTOR_THRESHOLD
from tests.test_delta import records

RELS = ["finetune", "quantized", "adapter", "merge"]

#: (parent, child, relation, confidence: None for a declared link)
Link = tuple[str, str, str, float | None]


def random_family(rng: random.Random) -> tuple[LineageIndex, list[Link]]:
    """A few hubs with hundreds of children each, links from anything to anything (cross
    links, back links, cycles), some pairs under two relations, and suspected links."""
    n = rng.randint(600, 1500)
    names = [f"org{i % 7}/m{i}" for i in range(n)]
    declared: set[tuple[int, int, str]] = set()
    for hub in rng.sample(range(n), rng.randint(1, 4)):
        for child in rng.sample(range(n), rng.randint(300, min(900, n))):
            if child != hub:
                declared.add((hub, child, rng.choice(RELS)))
    for _ in range(rng.randint(200, 2000)):
        p, c = rng.sample(range(n), 2)
        declared.add((p, c, rng.choice(RELS)))
    for p, c, _ in rng.sample(sorted(declared), len(declared) // 10):
        declared.add((p, c, rng.choice(RELS)))
    pairs = {(p, c) for p, c, _ in declared}
    guessed = sorted(
        {(p, c) for p, c in (rng.sample(range(n), 2) for _ in range(rng.randint(0, 300)))} - pairs
    )
    nodes = [(name, rng.choice([0, 5, 10**3, 10**6]), rng.randint(0, 9), None) for name in names]
    rows = [(names[c], names[p], r) for p, c, r in sorted(declared)]
    tables = [SourceTables(1, "edges:team", "team", *records(nodes, rows))]
    links: list[Link] = [(names[p], names[c], r, None) for p, c, r in sorted(declared)]
    if guessed:
        sus = [(names[c], names[p], "finetune") for p, c in guessed]
        tables.append(SourceTables(2, "inferred:metadata", "guesses", *records([], sus, True)))
        # the confidence ``records`` gives the i-th suspected link
        links += [
            (names[p], names[c], "finetune", float(f"0.{40 + i % 60}"))
            for i, (p, c) in enumerate(guessed)
        ]
    return LineageIndex(build(tables)), links


def reference(
    index: LineageIndex, links: list[Link], root: str, down: bool, limit: int, floor: float | None
) -> tuple[dict[str, int], set[tuple[str, str, str]], bool]:
    """Depth of every node of the answer, the links it holds, and whether it was cut."""
    followed = [
        (p, c, r)
        for p, c, r, conf in links
        if conf is None or (floor is not None and conf >= floor)
    ]
    out: dict[str, list[str]] = defaultdict(list)
    for p, c, _ in followed:
        out[p if down else c].append(c if down else p)
    number = {name: index.lookup(name) for name in {x for p, c, _ in followed for x in (p, c)}}
    depth = {root: 0}
    frontier = [root]
    count, level, cut_by_limit, truncated = 0, 0, False, False
    while frontier:
        nxt = sorted({d for f in frontier for d in out[f]} - set(depth), key=number.__getitem__)
        if not nxt:
            break
        level += 1
        if count + len(nxt) >= limit:
            kept = nxt[: limit - count]
            cut_by_limit = True
            truncated = count + len(nxt) > limit or any(out[k] for k in kept)
            depth.update(dict.fromkeys(kept, level))
            break
        depth.update(dict.fromkeys(nxt, level))
        count += len(nxt)
        frontier = nxt
    expanded = {k for k, d in depth.items() if not cut_by_limit or d < level}
    edges = {
        (p, c, r)
        for p, c, r in followed
        if (p if down else c) in expanded and p in depth and c in depth
    }
    return {k: d for k, d in depth.items() if d}, edges, truncated


@pytest.mark.parametrize("seed", range(10))
def test_limited_walks_of_wide_families_match_a_plain_reading(seed: int) -> None:
    rng = random.Random(seed)
    index, links = random_family(rng)
    a = index.a
    headed = 0
    for down in (True, False):
        ptr = np.asarray(a.down_ptr if down else a.up_ptr)
        widest = np.argsort(-np.diff(ptr), kind="stable")[:3].tolist()
        for start in widest + rng.sample(range(a.n_nodes), 3):
            root = a.id_of(start)
            for floor in (None, 0.5):
                for limit in (1, 5, 37, 60, 200, 10**6):
                    walk = index.walk([start], down=down, limit=limit, min_confidence=floor)
                    want_depth, want_edges, want_cut = reference(
                        index, links, root, down, limit, floor
                    )
                    asked = (root, down, floor, limit)
                    got = dict(zip(a.ids_of(walk.nodes), walk.depth.tolist(), strict=True))
                    assert got == want_depth, asked
                    assert walk.truncated == want_cut, asked
                    got_edges = {
                        (
                            a.id_of(int(a.edge_parent[e])),
                            a.id_of(int(a.edge_child[e])),
                            RELATIONS_BY_CODE[int(a.edge_rel[e])].value,
                        )
                        for e in walk.edges.tolist()
                    }
                    assert got_edges == want_edges, asked
                    # each node was reached from a node one level nearer
                    for node, d, via in zip(
                        walk.nodes.tolist(), walk.depth.tolist(), walk.via.tolist(), strict=True
                    ):
                        near = int(a.edge_parent[via] if down else a.edge_child[via])
                        far = int(a.edge_child[via] if down else a.edge_parent[via])
                        assert far == node and got.get(a.id_of(near), 0) == d - 1, asked
                    headed += int(np.diff(ptr)[start]) > HEAD_FACTOR * limit + VECTOR_THRESHOLD
    assert headed  # the head-only reading was exercised
