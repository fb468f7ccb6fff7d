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
from typing import Any

import numpy as np

from filiation.inference.weights import stats
from filiation.inference.weights.stats import Fingerprint
from filiation.inference.weights.tensors import LoraAdapter, Weights, WeightsError

#: coordinates used by the merge test (a fixed subsample of the fingerprints)
MERGE_COORDS = 60_000
#: a model moves below a merge only if clearly closer to it than to its tree parent
REATTACH = 0.7
#: how much more consistent (sum of cosines) another root must be than the medoid
ROOT_MARGIN = 0.2
#: an adapter whose delta correlates this well with (merged copy - base) was trained on base
ADAPTER_MATCH = 0.9


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
    #: every pair compared and its statistic (model id, model id, rho): the calibration data
    rho: list[tuple[str, str, float]] = field(default_factory=list)


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
    from threadpoolctl import threadpool_limits

    # The matrices are small: BLAS threads only contend, 40x slower on a loaded machine.
    with threadpool_limits(limits=1, user_api="blas"):
        return _recover(models)


def _recover(models: dict[str, Weights]) -> Forest:
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
            forest.rho.append((ids[i], ids[j], round(rho[i, j], 4)))
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
    vec = _vectors(floats, fps, names)
    if len(floats) >= 3:
        merges = _merges(floats, vec)
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
    root, tree = _root(core, adj, vec, d)
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
        if best is None or d(x, best) >= REATTACH * d(x, tree[x]):
            continue
        lr, _ = stats.low_rank(fps[x], fps[tree[x]], _pair(x, tree[x], names))
        if lr >= stats.LOW_RANK:
            continue  # a low-rank difference names its parent: an adapter merged on it
        below = _subtree(x, tree)
        if any(p in below for p, _ in merges[best][0]):
            continue
        tree[x] = best
    # a low-rank difference is exact only against the model the adapter was merged into
    for x in list(tree):
        if tree[x] in merges:
            continue
        lr, _ = stats.low_rank(fps[x], fps[tree[x]], _pair(x, tree[x], names))
        if lr < stats.LOW_RANK:
            continue
        below = _subtree(x, tree)
        for o in core:
            if o in below or o == tree[x]:
                continue
            other, _ = stats.low_rank(fps[x], fps[o], _pair(x, o, names))
            if other > lr + 1e-3:
                tree[x], lr = o, other
    for child, parent in tree.items():
        shared = _pair(child, parent, names)
        lr, changed = stats.low_rank(fps[child], fps[parent], shared)
        # the margin over the next candidate parent: not a descendant, not a quantised copy
        below = _subtree(child, tree)
        others = [
            d(child, o)
            for o in members
            if o not in below and o != parent and o not in quantized and o not in merges
        ]
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


def _orient(root: int, adj: dict[int, list[int]]) -> dict[int, int]:
    tree: dict[int, int] = {}
    order, seen = [root], {root}
    for m in order:
        for o in adj[m]:
            if o not in seen:
                seen.add(o)
                tree[o] = m
                order.append(o)
    return tree


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / den) if den > 0 else 0.0


def _root(
    core: list[int], adj: dict[int, list[int]], vec: dict[int, np.ndarray], d: Any
) -> tuple[int, dict[int, int]]:
    """The root of the tree and the tree oriented from it.

    The medoid, unless another root makes the increments more consistent: along a real
    chain p -> v -> w the second step does not undo the first (cos(w - v, v - p) >= 0), while
    rooting a family at one of its fine-tunes makes the base's other children step back
    against that fine-tune's change (sibling fine-tunes share part of their drift, so the
    cosine is clearly negative). The root maximising the sum of these cosines wins when it
    beats the medoid by ROOT_MARGIN.
    """
    medoid = min(core, key=lambda m: sum(d(m, o) for o in core if o != m))

    def score(r: int) -> float:
        tree = _orient(r, adj)
        total = 0.0
        for w, v in tree.items():
            p = tree.get(v)
            if p is not None and w in vec and v in vec and p in vec:
                total += _cos(vec[w] - vec[v], vec[v] - vec[p])
        return total

    scores = {r: score(r) for r in core} if vec else {medoid: 0.0}
    best = max(scores, key=lambda r: scores[r])
    root = best if scores[best] > scores[medoid] + ROOT_MARGIN else medoid
    return root, _orient(root, adj)


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


def _vectors(
    floats: list[int], fps: list[Fingerprint], names: dict[tuple[int, int], list[str]]
) -> dict[int, np.ndarray]:
    """Each model's sampled weights on the tensors all of ``floats`` share, as one vector of
    at most MERGE_COORDS coordinates (the same ones for every model)."""
    shared = set(_pair(floats[0], floats[1], names)) if len(floats) > 1 else set()
    for a in floats:
        for b in floats:
            if a < b:
                shared &= set(_pair(a, b, names))
    keys = sorted(shared)
    if not keys:
        return {}
    total = sum(fps[floats[0]].values[k].size for k in keys)
    step = max(1, total // MERGE_COORDS)
    return {
        m: np.concatenate([fps[m].values[k].ravel() for k in keys])[::step].astype(np.float64)
        for m in floats
    }


def _merges(
    floats: list[int], vec: dict[int, np.ndarray]
) -> dict[int, tuple[list[tuple[int, float]], float]]:
    if not vec:
        return {}
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
        fits: dict[int, dict[str, str]] = {}  # base -> its tensor name -> adapter target
        for i, fp in enumerate(fps):
            rename = getattr(fp.source, "canonical", None)
            names = {(rename(t) if rename else t): t for t in targets}
            if all(
                n in fp.shapes and fp.shapes[n][:2] == ad.target_shape(t) for n, t in names.items()
            ):
                fits[i] = names
        if not fits:
            forest.problems.append(
                (
                    aid,
                    f"weights: adapter fits none of the scanned models "
                    f"({len(targets)} target tensors)",
                )
            )
            continue
        best: tuple[float, int, int, list[str]] | None = None
        for b, names in fits.items():
            sampled = [n for n in names if n in fps[b].values]
            if not sampled:
                continue
            deltas = {
                n: ad.delta(names[n], fps[b].rows[n].tolist(), stats.MAX_COLS) for n in sampled
            }
            for x in range(len(fps)):
                if x == b or not all(n in fps[x].values for n in sampled):
                    continue
                rs = [
                    stats._corr(fps[x].values[n] - fps[b].values[n], deltas[n])
                    for n in sampled
                    if fps[x].values[n].shape == deltas[n].shape
                ]
                if len(rs) == len(sampled):
                    r = float(np.median(rs))
                    if best is None or r > best[0]:
                        best = (r, b, x, sampled)
        if best is not None and best[0] >= ADAPTER_MATCH:
            r, b, x, sampled = best
            forest.links.append(
                WeightLink(
                    aid,
                    ids[b],
                    "adapter",
                    round(r, 3),
                    f"weights: scale*B@A of the adapter reproduces {ids[x]} - {ids[b]} "
                    f"(median correlation {r:.3f} >= {ADAPTER_MATCH} over {len(sampled)} target "
                    f"tensors: {', '.join(sampled[:3])})",
                )
            )
            continue
        roots = [b for b in fits if b not in parent_of]
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
