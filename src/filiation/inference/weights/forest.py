"""From pairwise evidence to a forest: each model gets no parent, one, or several (merges).

Order matters, from the most certain evidence to the least:

1. **families**: models linked by the relatedness test (transitively) form a family; models
   of the same architecture but independent initialisations stay apart;
2. **quantised copies**: a model whose values are its parent's rounded onto its own grid
   hangs below the most precise model that reproduces it (direction: the coarser is the
   child); it is a leaf for what follows;
3. **merges**: a model that a convex combination of two or more other members reproduces
   (residual below ``MERGE_RESIDUAL`` of the distance to the closest member) is their child;
4. **the rest**: a minimum spanning tree of the weight distances, rooted at the family's
   medoid (fine-tunes drift from their base in independent directions, so the base sits at
   the centre of its descendants); a model closer to a merge than to its tree parent is moved
   below the merge. Each tree link is an adapter (low-rank difference) or a fine-tune.

Unmerged PEFT adapters are compared with the models whose tensors they fit: a merged copy of
the adapter in the scan identifies its base exactly (``merged - base`` correlates with
``scale * B @ A``); otherwise a single compatible family root is proposed at low confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from filiation.inference.weights import stats
from filiation.inference.weights.stats import Fingerprint
from filiation.inference.weights.tensors import LoraAdapter, Weights, WeightsError

#: coordinates used by the merge test (a fixed subsample of the fingerprints)
MERGE_COORDS = 60_000


@dataclass
class WeightLink:
    child: str
    parent: str
    relation: str
    confidence: float
    evidence: str


@dataclass
class Forest:
    links: list[WeightLink] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (model id, message)
    families: list[list[str]] = field(default_factory=list)
    pairs: int = 0


class _DSU:
    def __init__(self, n: int) -> None:
        self.p = list(range(n))

    def find(self, x: int) -> int:
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.p[rb] = ra
        return True


def recover(models: dict[str, Weights]) -> Forest:
    """The forest of the given models (id -> opened weights); unreadable ones are problems."""
    forest = Forest()
    ids: list[str] = []
    fps: list[Fingerprint] = []
    adapters: dict[str, LoraAdapter] = {}
    for mid, src in models.items():
        if isinstance(src, LoraAdapter):
            adapters[mid] = src
            continue
        try:
            fps.append(stats.fingerprint(src))
            ids.append(mid)
        except WeightsError as exc:
            forest.problems.append((mid, str(exc)))
    n = len(fps)
    names: dict[tuple[int, int], list[str]] = {}
    rho: dict[tuple[int, int], float] = {}
    dsu = _DSU(n)
    for i in range(n):
        for j in range(i + 1, n):
            shared = stats.common(fps[i], fps[j])
            if len(shared) < 2:
                continue
            forest.pairs += 1
            names[i, j] = shared
            rho[i, j] = stats.relatedness(fps[i], fps[j], shared)
            if rho[i, j] >= stats.RELATED:
                dsu.union(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(dsu.find(i), []).append(i)
    parent_of: dict[int, list[int]] = {}
    for members in groups.values():
        if len(members) > 1:
            forest.families.append(sorted(ids[i] for i in members))
            _family(members, fps, ids, names, rho, forest, parent_of)
    _adapters(adapters, fps, ids, parent_of, forest)
    return forest


def _pair(i: int, j: int, names: dict[tuple[int, int], list[str]]) -> list[str]:
    return names.get((min(i, j), max(i, j)), [])


def _family(
    members: list[int],
    fps: list[Fingerprint],
    ids: list[str],
    names: dict[tuple[int, int], list[str]],
    rho: dict[tuple[int, int], float],
    forest: Forest,
    parent_of: dict[int, list[int]],
) -> None:
    dist: dict[tuple[int, int], float] = {}
    for a in members:
        for b in members:
            if a < b and _pair(a, b, names):
                dist[a, b] = dist[b, a] = stats.distance(fps[a], fps[b], _pair(a, b, names))

    def d(a: int, b: int) -> float:
        return dist.get((a, b), float("inf"))

    def link(child: int, parent: int, relation: str, conf: float, note: str) -> None:
        shared = _pair(child, parent, names)
        ev = stats.PairEvidence(
            child=ids[child],
            parent=ids[parent],
            related=True,
            value=rho.get((min(child, parent), max(child, parent)), 0.0),
            tensors=shared,
            distance=d(child, parent),
            note=note,
        )
        forest.links.append(
            WeightLink(ids[child], ids[parent], relation, round(float(conf), 3), ev.describe())
        )
        parent_of.setdefault(child, []).append(parent)

    # 2. quantised copies: below the finest model that reproduces them
    quantized: set[int] = set()
    for c in members:
        finer = [p for p in members if p != c and fps[p].bits > fps[c].bits and d(c, p) < 1e9]
        if not finer:
            continue
        scored = [(stats.quant_match(fps[c], fps[p], _pair(c, p, names)), p) for p in finer]
        tested = [(m, p) for m, p in scored if m is not None]
        if tested:
            match, best = max(tested, key=lambda t: (t[0], -d(c, t[1])))
            if match >= stats.QUANT_MATCH:
                link(
                    c,
                    best,
                    "quantized",
                    match,
                    f"requantisation match={match:.3f} onto {fps[c].bits:g}-bit grid "
                    f"(>= {stats.QUANT_MATCH})",
                )
                quantized.add(c)
        elif fps[c].bits <= 8:
            best = min(finer, key=lambda p: d(c, p))
            link(
                c,
                best,
                "quantized",
                0.6,
                f"{fps[c].bits:g}-bit storage whose grid gguf cannot reproduce: nearest finer "
                "model",
            )
            quantized.add(c)
    floats = [m for m in members if m not in quantized]
    # 3. merges
    merges: dict[int, tuple[list[tuple[int, float]], float]] = {}
    if len(floats) >= 3:
        merges = _merges(floats, fps, names, d)
    core = [m for m in floats if m not in merges]
    if not core:
        return
    # 4. spanning tree of the core, rooted at its medoid
    edges = sorted((d(a, b), a, b) for a in core for b in core if a < b and d(a, b) < 1e9)
    dsu = _DSU(max(core) + 1)
    adj: dict[int, list[int]] = {m: [] for m in core}
    for _, a, b in edges:
        if dsu.union(a, b):
            adj[a].append(b)
            adj[b].append(a)
    root = min(core, key=lambda m: sum(d(m, o) for o in core if o != m))
    tree: dict[int, int] = {}
    order = [root]
    seen = {root}
    for m in order:
        for o in adj[m]:
            if o not in seen:
                seen.add(o)
                tree[o] = m
                order.append(o)
    # merges below their parents; models closer to a merge than to their tree parent move
    for m, (parents, conf) in merges.items():
        for p, w in parents:
            link(
                m,
                p,
                "merge",
                conf,
                f"merge weight={w:.3f}; convex-combination residual / nearest member "
                f"distance={1 - conf:.3f} (<= {stats.MERGE_RESIDUAL})",
            )
    for x in list(tree):
        best = min(merges, key=lambda m: d(x, m), default=None)
        if best is None or d(x, best) >= d(x, tree[x]):
            continue
        below = _subtree(x, tree)
        if any(p in below for p, _ in merges[best][0]):
            continue
        tree[x] = best
    for child, parent in tree.items():
        shared = _pair(child, parent, names)
        lr, changed = stats.low_rank(fps[child], fps[parent], shared)
        others = [d(child, o) for o in members if o not in (child, parent)]
        second = min(others, default=float("inf"))
        margin = 1 - d(child, parent) / second if second < float("inf") else 1.0
        conf = 0.5 + 0.5 * max(0.0, margin)
        relation = "adapter" if lr >= stats.LOW_RANK else "finetune"
        link(
            child,
            parent,
            relation,
            conf,
            f"top-{stats.RANK_K} energy of the delta={lr:.3f} (>= {stats.LOW_RANK} "
            f"low rank), {changed:.0%} of tensors changed; tree rooted at {ids[root]}",
        )


def _subtree(x: int, tree: dict[int, int]) -> set[int]:
    below = {x}
    changed = True
    while changed:
        changed = False
        for c, p in tree.items():
            if p in below and c not in below:
                below.add(c)
                changed = True
    return below


def _merges(
    floats: list[int],
    fps: list[Fingerprint],
    names: dict[tuple[int, int], list[str]],
    d: object,
) -> dict[int, tuple[list[tuple[int, float]], float]]:
    shared = set(_pair(floats[0], floats[1], names))
    for a in floats:
        for b in floats:
            if a < b:
                shared &= set(_pair(a, b, names))
    keys = sorted(shared)
    if not keys:
        return {}
    total = sum(fps[floats[0]].values[k].size for k in keys)
    step = max(1, total // MERGE_COORDS)
    vec = {
        m: np.concatenate([fps[m].values[k].ravel() for k in keys])[::step].astype(np.float64)
        for m in floats
    }
    found: dict[int, tuple[list[tuple[int, float]], float]] = {}
    for m in floats:
        cands = [o for o in floats if o != m]
        mat = np.stack([vec[o] for o in cands], axis=1)
        w, resid = stats.merge_weights(vec[m], mat)
        nearest = min(float(np.linalg.norm(vec[m] - vec[o])) for o in cands)
        ratio = resid / nearest if nearest > 0 else 1.0
        parents = [(cands[i], float(w[i])) for i in np.argsort(-w) if w[i] >= 0.05]
        if ratio <= stats.MERGE_RESIDUAL and len(parents) >= 2:
            found[m] = (parents, round(1.0 - ratio, 3))
    return found


def _adapters(
    adapters: dict[str, LoraAdapter],
    fps: list[Fingerprint],
    ids: list[str],
    parent_of: dict[int, list[int]],
    forest: Forest,
) -> None:
    for aid, ad in adapters.items():
        targets = list(ad.pairs)
        bases = [
            i
            for i, fp in enumerate(fps)
            if all(t in fp.shapes and fp.shapes[t][:2] == ad.target_shape(t) for t in targets)
        ]
        if not bases:
            forest.problems.append(
                (
                    aid,
                    f"weights: adapter fits none of the scanned models "
                    f"({len(targets)} target tensors)",
                )
            )
            continue
        sampled = [t for t in targets if t in fps[bases[0]].values]
        best: tuple[float, int, int] | None = None
        for b in bases:
            for x in range(len(fps)):
                if x == b or not all(t in fps[x].values for t in sampled) or not sampled:
                    continue
                rs = []
                for t in sampled:
                    delta = ad.delta(t, fps[b].rows[t].tolist(), stats.MAX_COLS)
                    diff = fps[x].values[t] - fps[b].values[t]
                    if diff.shape != delta.shape:
                        break
                    rs.append(stats._corr(diff, delta))
                else:
                    r = float(np.median(rs))
                    if best is None or r > best[0]:
                        best = (r, b, x)
        if best is not None and best[0] >= 0.9:
            r, b, x = best
            forest.links.append(
                WeightLink(
                    aid,
                    ids[b],
                    "adapter",
                    round(r, 3),
                    f"weights: scale*B@A of the adapter reproduces {ids[x]} - {ids[b]} "
                    f"(median correlation {r:.3f} >= 0.9 over {len(sampled)} target tensors: "
                    f"{', '.join(sampled[:3])})",
                )
            )
            continue
        roots = [b for b in bases if b not in parent_of]
        if len(roots) == 1:
            forest.links.append(
                WeightLink(
                    aid,
                    ids[roots[0]],
                    "adapter",
                    0.5,
                    f"weights: the only root model whose tensors the adapter fits "
                    f"({len(targets)} target tensors, e.g. {targets[0]}); "
                    "no merged copy to confirm",
                )
            )
        else:
            forest.problems.append(
                (
                    aid,
                    f"weights: adapter fits {len(roots)} unrelated models "
                    f"({', '.join(ids[b] for b in roots[:4])}); no merged copy tells which",
                )
            )
