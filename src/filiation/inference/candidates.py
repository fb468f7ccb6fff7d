"""Candidate parents by blocking: never pairwise, always by equal keys.

Models sharing a name key (or an exact parameter count) form a block; in each block the
few likeliest parents (not a format copy, most downloaded, oldest) are the *heads*, and
every model without a declared parent is paired with the heads of its blocks. Sorting and
one binary search per key keep this linear in the dump's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filiation.inference.features import (
    ADAPTER,
    FMT,
    INSTRUCTED,
    MERGE,
    TERMINAL,
    TRAINED,
    UNKNOWN,
    Features,
)
from filiation.inference.names import CUT_LEVELS

#: Candidate parents kept per name block (the likeliest first).
MAX_HEADS = 5
#: The level of pairs found by an equal parameter count rather than by name.
PARAMS_LEVEL = 2 + 2 * CUT_LEVELS
#: The level of pairs found by a near parameter count in the same architecture: a fine-tune
#: that resized its vocabulary or added a head (``calme-3.2-baguette-3b`` from
#: ``Qwen2.5-3B``, 0.02 % apart) whose name says nothing of its base.
SIZE_LEVEL = PARAMS_LEVEL + 1
#: Width of a size class, in natural log of the parameter count (0.2 %); a child meets its
#: own class and both neighbours, so bases up to 0.4 % apart.
SIZE_STEP = 0.002
#: How much younger than its child a parent of the same publisher and name may be (µs): the
#: repositories of one release are created within hours of each other, in either order.
RELEASE_SLACK_US = 2 * 86_400 * 1_000_000
#: Candidate parents kept per size class: the most downloaded bases of that architecture
#: and size (most fine-tunes descend from a few hundred popular bases).
SIZE_HEADS = 3


@dataclass
class Pairs:
    """Candidate (child, parent) rows and how they were found."""

    child: np.ndarray
    parent: np.ndarray
    level: np.ndarray  # 0 same exact key, 1 same loose key, 2.. child's key cut (CUTS)
    rank: np.ndarray  # the parent's place among its block's heads (0 = likeliest)
    block: np.ndarray  # size of the block
    # Among the same child's candidates: the parent's place by downloads (0 = most
    # downloaded), and how much looser this pair's match is than the child's closest one.
    dl_rank: np.ndarray | None = None
    level_gap: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.child)

    def select(self, mask: np.ndarray) -> Pairs:
        def part(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[mask]

        return Pairs(
            self.child[mask],
            self.parent[mask],
            self.level[mask],
            self.rank[mask],
            self.block[mask],
            part(self.dl_rank),
            part(self.level_gap),
        )


def _spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    total = int(lengths.sum())
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)


@dataclass
class _Heads:
    """The likeliest parents of each block of one key, sorted by key."""

    rows: np.ndarray
    key: np.ndarray
    rank: np.ndarray
    block: np.ndarray
    first_key: np.ndarray  # each distinct key once, sorted
    first: np.ndarray  # where its heads start
    count: np.ndarray  # how many heads it has


def size_key(feat: Features) -> np.ndarray:
    """Each model's size class: architecture and parameter count to :data:`SIZE_STEP` (-1
    when either is unknown). Neighbouring classes differ by one."""
    known = (feat.arch >= 0) & (feat.params > 0)
    bucket = np.floor(np.log(np.maximum(feat.params, 1)) / SIZE_STEP).astype(np.int64)
    return np.where(known, (feat.arch.astype(np.int64) + 1) * (1 << 32) + bucket, -1)


def _heads(feat: Features, key: np.ndarray, max_heads: int = MAX_HEADS) -> _Heads:
    """Per block: not a format copy or adapter first, then most downloaded, then oldest."""
    # A model in a format made to run (GGUF, AWQ, MLX...) heads no block: nobody's parent.
    valid = np.flatnonzero((key >= 0) & ((feat.flags & TERMINAL) == 0))
    copy_like = ((feat.flags[valid] & (FMT | ADAPTER)) > 0).astype(np.int8)
    created = np.where(feat.created[valid] == UNKNOWN, np.iinfo(np.int64).max, feat.created[valid])
    order = valid[np.lexsort((created, -feat.downloads[valid], copy_like, key[valid]))]
    del created, copy_like, valid
    k = key[order]
    if not len(k):
        e, e64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
        return _Heads(e, e64, e, e, e64, e64, e64)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    rank = np.arange(len(k)) - np.repeat(starts, sizes)
    head = rank < max_heads
    block = np.repeat(sizes, sizes)[head].astype(np.int32)
    count = np.minimum(sizes, max_heads)
    first = np.cumsum(count) - count
    return _Heads(
        order[head].astype(np.int32),
        k[head],
        rank[head].astype(np.int32),
        block,
        k[starts],
        first,
        count,
    )


def _lookup(
    feat: Features,
    heads: _Heads,
    child_key: np.ndarray,
    needs: np.ndarray,
    *,
    release_slack: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Children needing a parent, paired with the heads of the block their key names (one
    search); the child itself, parents younger than it and copies of copies left out.

    ``release_slack``: a parent of the child's own publisher may be up to
    :data:`RELEASE_SLACK_US` younger (a release's base and instruct repositories are
    created together, in either order: ``Qwen2-7B`` an hour after ``Qwen2-7B-Instruct``)."""
    kids = np.flatnonzero(needs & (child_key >= 0)).astype(np.int32)
    if not len(heads.first_key):  # no block of this key has a head: nobody to pair with
        kids = kids[:0]
    wanted = child_key[kids]
    pos = np.minimum(np.searchsorted(heads.first_key, wanted), max(len(heads.first_key) - 1, 0))
    hit = heads.first_key[pos] == wanted
    lo = heads.first[pos]
    counts = np.where(hit, heads.count[pos], 0)
    idx = _spans(lo, counts)
    child = np.repeat(kids, counts)
    del lo, counts, kids, wanted, pos, hit
    parent = heads.rows[idx]
    cc, cp = feat.created[child], feat.created[parent]
    older = cp < cc
    if release_slack:
        same = (feat.author[child] == feat.author[parent]) & (feat.author[child] >= 0)
        older |= same & (cp < cc + RELEASE_SLACK_US)
    keep = (child != parent) & ((cc == UNKNOWN) | (cp == UNKNOWN) | older)
    del cc, cp, older
    # A format copy is made from full weights, not from another copy: two copies of one
    # model (``X-GGUF``, ``X-AWQ``) are siblings, never parent and child.
    keep &= ~(((feat.flags[child] & FMT) > 0) & ((feat.flags[parent] & FMT) > 0))
    return child[keep], parent[keep], heads.rank[idx][keep], heads.block[idx][keep]


def candidates(feat: Features, needs: np.ndarray) -> Pairs:
    """Candidate parents of the models in ``needs``: heads of the block of their exact key,
    of their loose key, then of their exact key cut by one, two, three segments (matched
    against parents' exact keys); older than the child when both dates are known; once per
    pair, by the closest match."""
    exact_heads = _heads(feat, feat.exact)
    lookups = [(exact_heads, feat.exact), (_heads(feat, feat.loose), feat.loose)]
    lookups += [(exact_heads, cut) for cut in feat.cuts]
    # Same exact parameter count: a full fine-tune keeps its parent's, to the unit.
    lookups.append((_heads(feat, feat.params), feat.params))
    # Near parameter count, same architecture: the popular bases of the child's size class
    # and of both neighbouring classes (one level: the closest match is kept per pair).
    size = size_key(feat)
    size_heads = _heads(feat, size, SIZE_HEADS)
    size_parts = [
        _lookup(feat, size_heads, np.where(size >= 0, size + d, -1), needs) for d in (0, -1, 1)
    ]
    del size, size_heads
    parts = [
        _lookup(feat, heads, key, needs, release_slack=i < 2)
        for i, (heads, key) in enumerate(lookups)
    ]
    del lookups, exact_heads
    parts.append(tuple(np.concatenate(a) for a in zip(*size_parts, strict=True)))
    del size_parts
    level = np.concatenate([np.full(len(p[0]), i, np.int8) for i, p in enumerate(parts)])
    child = np.concatenate([p[0] for p in parts])
    parent = np.concatenate([p[1] for p in parts])
    rank = np.concatenate([p[2] for p in parts])
    block = np.concatenate([p[3] for p in parts])
    del parts
    n = max(len(feat), 1)
    # Once per pair, by the closest match (the earliest lookup): a stable sort keeps it first.
    pair = child.astype(np.int64) * n + parent
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    first = order[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else order
    del pair, order
    first.sort()
    pairs = Pairs(child[first], parent[first], level[first], rank[first], block[first])
    # A publisher's plain ``X`` (or ``X-Base``) is the base of its own ``X-Instruct``, not a
    # fine-tune of it (the Hub's creation dates of the two are often minutes apart, in
    # either order).
    fc, fp = feat.flags[pairs.child], feat.flags[pairs.parent]
    plain_child = (fc & (INSTRUCTED | FMT | ADAPTER | TRAINED | MERGE)) == 0
    own_base = (
        plain_child
        & ((fp & INSTRUCTED) > 0)
        & (feat.author[pairs.child] == feat.author[pairs.parent])
        & (feat.author[pairs.child] >= 0)
    )
    pairs = pairs.select(~own_base)
    # A format copy named like a full-weight model is that model's copy, never its parent
    # (``Llama-4-Maverick-…-Instruct-FP8`` is made from ``…-Instruct``, whatever the dates).
    fc, fp = feat.flags[pairs.child], feat.flags[pairs.parent]
    copy_parent = ((fp & FMT) > 0) & ((fc & (FMT | ADAPTER)) == 0) & (pairs.level <= 1)
    pairs = pairs.select(~copy_parent)
    # A copy or an adapter keeps its original's name: when a model of exactly its name key
    # is a candidate, the looser matches of that child are not.
    copy = (feat.flags[pairs.child] & (FMT | ADAPTER)) > 0
    named = np.zeros(len(feat), bool)
    named[pairs.child[copy & (pairs.level == 0)]] = True
    pairs = pairs.select(~(named[pairs.child] & (pairs.level > 0)))
    return _among_siblings(feat, pairs)


def _among_siblings(feat: Features, pairs: Pairs) -> Pairs:
    """Where each candidate stands among the other candidates of its child: a parent is
    chosen against the alternatives, not alone (the most downloaded of a child's equal-size
    candidates is most often the one it was trained from)."""
    n = len(pairs)
    if not n:
        pairs.dl_rank = pairs.level_gap = np.zeros(0, np.int32)
        return pairs
    order = np.lexsort((-feat.downloads[pairs.parent], pairs.child))
    ch = pairs.child[order]
    starts = np.flatnonzero(np.r_[True, ch[1:] != ch[:-1]])
    sizes = np.diff(np.r_[starts, n])
    dl_rank = np.empty(n, np.int32)
    dl_rank[order] = np.arange(n) - np.repeat(starts, sizes)
    best_level = np.minimum.reduceat(pairs.level[order].astype(np.int32), starts)
    gap = np.empty(n, np.int32)
    gap[order] = pairs.level[order] - np.repeat(best_level, sizes)
    pairs.dl_rank, pairs.level_gap = dl_rank, gap
    return pairs
