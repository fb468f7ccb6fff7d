"""Parts of indexes as earlier versions of filiation wrote them, for the tests that check
that this version still reads them."""

from __future__ import annotations

import numpy as np

from filiation.lineage import search


def legacy_search_filter(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A search filter as indexes of format 8 and older hold it: blocks of 1,024 ids, one
    byte per block and hash byte (bit ``0x80 >> (h & 7)`` of row ``h >> 3``), with no
    layout recorded in the index's meta."""
    layout = search.LEGACY
    n = len(offsets) - 1
    count = (n + layout.block - 1) // layout.block
    bits = np.zeros(((1 << layout.log_bits) // 8, count), np.uint8)
    for blk in range(count):
        lo = int(offsets[blk * layout.block])
        hi = int(offsets[min(n, (blk + 1) * layout.block)])
        for h in search.query_hashes(bytes(blob[lo:hi]), layout.log_bits):
            bits[h >> 3, blk] |= 0x80 >> (h & 7)
    return bits
