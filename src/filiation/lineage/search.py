"""Substring search over every id, best known first, fast enough to type into.

Ids are kept lower-cased in one byte string, in order of renown, cut into blocks of
``BLOCK`` ids. Each block has a bit filter of the 3- to 5-byte sequences it contains,
so a query only scans the blocks that may hold it; and since blocks come in order of renown,
a frequent query stops after its first matches. A rare query still touches only a few
blocks. No posting lists: the filter of the whole Hub is about 60 MB.
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024
LOG_BITS = 17
BITS = 1 << LOG_BITS
#: Lengths of the byte sequences each block's filter records. Bigrams and trigrams alone
#: are useless here: some id of almost every block contains each common one, so a rare
#: query made of common trigrams would still scan everything; 4- and 5-grams are selective.
GRAMS = (3, 4, 5)
_MULT = np.uint32(2654435761)
_SEP = 0x0A


def _hashes(b: np.ndarray) -> np.ndarray:
    """Hash every 3-, 4- and 5-byte window of ``b`` that does not cross an id boundary."""
    n = len(b)
    b32 = b.astype(np.uint32)
    sep = b == _SEP
    out = []
    for g in GRAMS:
        if n < g:
            break
        ok = np.ones(n - g + 1, bool)
        h = np.zeros(n - g + 1, np.uint32)
        for j in range(g):
            ok &= ~sep[j : n - g + 1 + j]
            h = h * np.uint32(257) + b32[j : n - g + 1 + j]
        out.append(((h + np.uint32(g << 24)) * _MULT)[ok])
    if not out:
        return np.zeros(0, np.uint32)
    return (np.concatenate(out) >> np.uint32(32 - LOG_BITS)).astype(np.uint32)


def build_filter(blob: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, int]:
    n = len(offsets) - 1
    n_blocks = (n + BLOCK - 1) // BLOCK
    bits = np.zeros((n_blocks, BITS // 8), np.uint8)
    group = 64  # blocks processed together, to bound temporary memory
    for g0 in range(0, n_blocks, group):
        g1 = min(n_blocks, g0 + group)
        dense = np.zeros((g1 - g0, BITS), bool)
        for blk in range(g0, g1):
            lo = offsets[blk * BLOCK]
            hi = offsets[min(n, (blk + 1) * BLOCK)]
            dense[blk - g0, _hashes(np.asarray(blob[lo:hi]))] = True
        bits[g0:g1] = np.packbits(dense, axis=1)
    # Stored transposed: a query reads one contiguous row of block flags per hash.
    return np.ascontiguousarray(bits.T), BLOCK


def query_hashes(needle: bytes) -> np.ndarray:
    return _hashes(np.frombuffer(needle, np.uint8))


def candidate_blocks(bits: np.ndarray, needle: bytes) -> np.ndarray:
    """Blocks whose filter holds every sequence of ``needle`` (``bits`` is hash-byte major)."""
    n_blocks = bits.shape[1] if bits.ndim == 2 else 0
    hashes = np.unique(query_hashes(needle))
    if n_blocks == 0:
        return np.zeros(0, np.int64)
    if len(hashes) == 0:
        return np.arange(n_blocks)
    rows = bits[(hashes >> 3).astype(np.int64)]
    masks = (np.uint8(0x80) >> (hashes & 7).astype(np.uint8)).astype(np.uint8)
    ok = np.all((rows & masks[:, None]) != 0, axis=0)
    return np.flatnonzero(ok)


def find(
    blob: np.ndarray,
    offsets: np.ndarray,
    bits: np.ndarray,
    block: int,
    needle: bytes,
    limit: int,
    accept: object = None,
) -> list[int]:
    """Indices of the first ``limit`` ids containing ``needle``, in index order.

    ``accept``, if given, is a callable on a node index that filters hits (by kind).
    """
    n = len(offsets) - 1
    hits: list[int] = []
    if not needle or b"\n" in needle:
        return hits
    for blk in candidate_blocks(bits, needle).tolist():
        first = blk * block
        last = min(n, first + block)
        lo = int(offsets[first])
        hi = int(offsets[last])
        text = bytes(blob[lo:hi])
        pos = text.find(needle)
        if pos < 0:
            continue
        local = np.asarray(offsets[first : last + 1]) - lo
        while pos >= 0:
            node = first + int(np.searchsorted(local, pos, side="right")) - 1
            if accept is None or accept(node):  # type: ignore[operator]
                hits.append(node)
                if len(hits) >= limit:
                    return hits
            # Skip to the next id: one hit per id.
            pos = text.find(needle, int(local[node - first + 1]))
    return hits
