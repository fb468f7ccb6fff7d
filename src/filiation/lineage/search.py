"""Substring search over every id, best known first, fast enough to type into.

Ids are kept lower-cased in one byte string, in order of renown, cut into blocks of
``block`` ids. Each block has a bit filter of the 3- to 5-byte sequences its ids contain,
so a query only scans the blocks that may hold it; and since blocks come in order of renown,
a frequent query stops after its first matches. No posting lists: the filter of the whole
Hub is about 50 MB.

The filter holds, for each of the ``2**log_bits`` hash values, one bit per block (eight
blocks to a byte). A query ANDs the rows of its sequences' hashes, so its cost grows with the
number of blocks divided by eight, which is what lets the blocks be small. Small blocks matter
for rare queries: a block is a candidate when each of the query's sequences sits in *some* id
of it, and the more ids a block holds, the more often a query made of common sequences
(``o-tiny-d``: ``tiny``, ``y-d``...) finds them all there, in different ids. Blocks of 1,024
ids made such queries scan a fifth of the Hub (5-20 ms); blocks of 128 ids a few hundredths.

The rows are cut into segments of ``segment`` bytes (``8 * segment`` blocks): the array is
``(segments, hash values, segment)``, so new ids (a delta's new models come last) add
segments at the end, which a delta appends to the previous index's file, instead of a few
bytes at the end of each of 16,384 rows, which made it copy the whole filter.

Indexes written before (format 8 and older) hold blocks of 1,024 ids with one byte per block
and hash byte (:data:`LEGACY`): their filter is still read as it is, and replaced by the
current layout when a delta rebuilds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Lengths of the byte sequences each block's filter records. Bigrams and trigrams alone
#: are useless here: some id of almost every block contains each common one, so a rare
#: query made of common trigrams would still scan everything; 4- and 5-grams are selective.
GRAMS = (3, 4, 5)
_MULT = np.uint32(2654435761)
_SEP = 0x0A


@dataclass(frozen=True)
class Layout:
    """How a filter was built: what a query must hash the same way to read it."""

    block: int  # ids per block
    log_bits: int  # hash values: 2**log_bits
    #: bytes of a hash value's row in each segment (0: the legacy layout, one byte per block
    #: and hash byte, unsegmented)
    segment: int

    @property
    def ids_per_segment(self) -> int:
        return self.block * 8 * self.segment

    @classmethod
    def of(cls, meta: dict[str, Any]) -> Layout:
        """The layout an index's ``meta`` records (none: the one before layouts were)."""
        if "search_segment" not in meta:
            return cls(int(meta.get("search_block", LEGACY.block)), LEGACY.log_bits, 0)
        return cls(
            int(meta["search_block"]), int(meta["search_log_bits"]), int(meta["search_segment"])
        )

    def record(self, meta: dict[str, Any]) -> None:
        meta["search_block"] = self.block
        meta["search_log_bits"] = self.log_bits
        meta["search_segment"] = self.segment


#: What every new filter is built with: 128 ids a block, 16,384 hash values (about 20% of a
#: block's bits set at Hub scale, so a query of a dozen sequences has almost no false
#: candidate), segments of 32,768 ids (512 KB).
CURRENT = Layout(block=128, log_bits=14, segment=32)
#: Filters of indexes written before the layout was recorded.
LEGACY = Layout(block=1024, log_bits=17, segment=0)


def _grams(b: np.ndarray, log_bits: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each length of :data:`GRAMS`, the hash of the window starting at each byte of
    ``b`` that has room for one, and whether that window stays inside one id."""
    n = len(b)
    b32 = b.astype(np.uint32)
    inside = b != _SEP
    # The window of length g + 1 at i is the one of length g at i and one more byte.
    h = np.zeros(n, np.uint32)
    ok = np.ones(n, bool)
    for g in range(1, GRAMS[-1] + 1):
        if n < g:
            return
        h = h[: n - g + 1] * np.uint32(257) + b32[g - 1 :]
        ok = ok[: n - g + 1] & inside[g - 1 :]
        if g in GRAMS:
            yield ((h + np.uint32(g << 24)) * _MULT) >> np.uint32(32 - log_bits), ok


def build_filter(
    blob: np.ndarray, offsets: np.ndarray, layout: Layout = CURRENT
) -> tuple[np.ndarray, Layout]:
    """The filter of the ids ``blob`` holds (``offsets``: where each starts, n + 1), in
    ``layout`` (segmented layouts only: the legacy one is read, never written)."""
    per_segment = 8 * layout.segment  # blocks
    stride = 1 << max(8, (per_segment - 1).bit_length())  # flags of a hash value
    if not layout.segment or layout.log_bits + stride.bit_length() - 1 > 32:
        raise ValueError(f"cannot build a search filter in {layout}")
    n = len(offsets) - 1
    n_blocks = (n + layout.block - 1) // layout.block
    n_segments = (n_blocks + per_segment - 1) // per_segment
    bits_n = 1 << layout.log_bits
    bits = np.zeros((n_segments, bits_n, layout.segment), np.uint8)
    # where each block's bytes start, and where the last one ends
    starts = np.asarray(offsets, np.int64)[np.minimum(np.arange(n_blocks + 1) * layout.block, n)]
    # A segment at a time: flag ``h * stride + b`` is hash value h in block b of the segment
    # (rows of ``stride`` flags, packed as they lie): 4 MB of flags, a few arrays of its bytes.
    shift = np.uint32(stride.bit_length() - 1)
    for seg in range(n_segments):
        b0 = seg * per_segment
        b1 = min(n_blocks, b0 + per_segment)
        chunk = np.asarray(blob[int(starts[b0]) : int(starts[b1])])
        block = np.repeat(np.arange(b1 - b0, dtype=np.uint32), np.diff(starts[b0 : b1 + 1]))
        flags = np.zeros(bits_n * stride, bool)
        for h, ok in _grams(chunk, layout.log_bits):
            flags[((h << shift) | block[: len(h)])[ok]] = True
        packed = np.packbits(flags.reshape(bits_n, stride), axis=1)
        bits[seg] = packed[:, : layout.segment]
    return bits, layout


def _block_count(bits: np.ndarray, layout: Layout, n_ids: int) -> int:
    """How many blocks the filter ``bits`` of ``n_ids`` ids holds (none if it is empty)."""
    if layout.segment:
        return (n_ids + layout.block - 1) // layout.block if bits.ndim == 3 else 0
    return bits.shape[1] if bits.ndim == 2 else 0


def query_hashes(needle: bytes, log_bits: int) -> list[int]:
    """:func:`_grams`' hashes of a query, distinct, in plain Python: a query is a few
    bytes, for which numpy's per-call cost (80 µs for 30 small operations) is the whole
    cost. ``tests/test_search_filter.py`` holds both to the same values."""
    shift = 32 - log_bits
    out = set()
    sep = _SEP
    for g in GRAMS:
        for start in range(len(needle) - g + 1):
            window = needle[start : start + g]
            if sep in window:
                continue
            h = 0
            for byte in window:
                h = (h * 257 + byte) & 0xFFFFFFFF
            out.add((((h + (g << 24)) * 2654435761) & 0xFFFFFFFF) >> shift)
    return sorted(out)


def candidate_blocks(bits: np.ndarray, layout: Layout, n_ids: int, needle: bytes) -> Iterator[int]:
    """Blocks whose filter holds every sequence of ``needle``, in order, found as they are
    read: a frequent query stops after a few blocks, so the rest is never unpacked."""
    count = _block_count(bits, layout, n_ids)
    if count == 0:
        return
    hashes = query_hashes(needle, layout.log_bits)
    if not hashes:
        yield from range(count)
        return
    if not layout.segment:
        h = np.asarray(hashes, np.int64)
        masks = (0x80 >> (h & 7)).astype(np.uint8)
        rows = np.asarray(bits[h >> 3]) & masks[:, None]
        yield from np.flatnonzero(np.all(rows != 0, axis=0)).tolist()
        return
    rows = np.bitwise_and.reduce(bits[:, hashes, :], axis=1).ravel()
    flagged = np.flatnonzero(rows)  # bytes of eight blocks with one candidate or more
    for at in range(0, len(flagged), 64):
        chunk = flagged[at : at + 64]
        byte, bit = np.nonzero(np.unpackbits(rows[chunk]).reshape(-1, 8))
        blocks = chunk[byte] * 8 + bit
        yield from blocks[blocks < count].tolist()


def find(
    blob: np.ndarray,
    offsets: np.ndarray,
    bits: np.ndarray,
    layout: Layout,
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
    block = layout.block
    for blk in candidate_blocks(bits, layout, n, needle):
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
