"""The search filter never hides a hit: the first ``limit`` ids containing a query, in
renown order, are those a plain scan of every id finds, whatever the blocks' size, the ids'
bytes (multi-byte UTF-8, one-byte ids, ids as long as a block) or where the query sits
(inside an id, across ``author/name``, nowhere). Also for the filters of indexes written
before the layout changed, which are still read as they are."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from filiation.lineage import search
from filiation.lineage.arrays import _blob
from tests.legacy_index import legacy_search_filter

ALPHABET = "abcdefghij-_./0123456789é中"


def _ids(rng: random.Random, n: int) -> list[str]:
    words = ["llama", "tiny", "qwen", "sft", "dpo", "gguf", "mnli", "chat", "v5", "it"]
    out = []
    for i in range(n):
        author = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 9)))
        name = "-".join(rng.choice(words) for _ in range(rng.randint(0, 4)))
        if i % 97 == 0:
            name = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 300)))
        out.append(f"{author}/{name}" if i % 13 else author)  # some ids have no author
    return out


def _queries(rng: random.Random, ids: list[str]) -> list[str]:
    qs = ["a", "é", "中", "tiny", "-tiny-", "o-tiny-d", "llama-sft", "zzz", "sft-chat", "/"]
    for _ in range(150):
        text = rng.choice(ids)
        lo = rng.randrange(len(text))
        qs.append(text[lo : lo + rng.randint(1, 14)])
    for _ in range(30):  # across the end of one id and the start of the next: never a hit
        i = rng.randrange(len(ids) - 1)
        qs.append(ids[i][-3:] + ids[i + 1][:3])
    return qs


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "layout",
    [search.CURRENT, search.Layout(block=8, log_bits=10, segment=1), search.LEGACY],
    ids=["current", "tiny-blocks", "legacy"],
)
def test_the_filter_finds_what_a_plain_scan_finds(seed: int, layout: search.Layout) -> None:
    rng = random.Random(seed)
    ids = _ids(rng, rng.randint(1, 5000))
    lower = [i.lower() for i in ids]
    blob, offsets = _blob(pa.array(lower, pa.large_string()), separator="\n")
    if layout.segment:
        bits, built = search.build_filter(blob, offsets, layout)
        assert built == layout
    else:
        bits = legacy_search_filter(blob, offsets)
    for query in _queries(rng, lower):
        needle = query.encode()
        if "\n" in query or not needle:
            continue
        expected = [i for i, text in enumerate(lower) if query in text]
        for limit in (1, 21, 10**6):
            got = search.find(blob, offsets, bits, layout, needle, limit)
            assert got == expected[:limit], (query, limit)
    odd = search.find(blob, offsets, bits, layout, b"a", 10**6, accept=lambda node: node % 2)
    assert odd == [i for i, text in enumerate(lower) if "a" in text and i % 2]


def test_an_index_records_its_filters_layout_and_old_ones_read_as_legacy() -> None:
    meta: dict[str, object] = {}
    search.CURRENT.record(meta)
    assert search.Layout.of(meta) == search.CURRENT
    assert search.Layout.of({}) == search.LEGACY
    assert search.Layout.of({"search_block": 1024}) == search.LEGACY


def test_a_querys_hashes_are_those_of_the_filters_windows() -> None:
    rng = random.Random(3)
    for needle in [b"", b"ab", b"abc", b"o-tiny-d", "é中/x".encode(), b"a\nbcdef"] + [
        bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))) for _ in range(200)
    ]:
        for log_bits in (10, 14, 17):
            grams = search._grams(np.frombuffer(needle, np.uint8), log_bits)
            windows = {x for h, ok in grams for x in h[ok].tolist()}
            assert search.query_hashes(needle, log_bits) == sorted(windows)


def test_an_empty_index_finds_nothing() -> None:
    blob, offsets = _blob(pa.array([], pa.large_string()), separator="\n")
    bits, layout = search.build_filter(blob, offsets)
    assert search.find(blob, offsets, bits, layout, b"llama", 10) == []


def test_a_rare_query_made_of_common_sequences_scans_few_blocks() -> None:
    """Why the blocks are small: each sequence of ``o-tiny-d`` sits in ids that are common
    (``xo-tin``, ``q-tiny-x``, ``tiny-do``: one in 300 ids each), so almost every block of
    1,024 ids holds all of them, in different ids, and would be scanned; only the blocks where
    one id holds the whole query should be."""
    rng = random.Random(7)
    parts = ["xo-tin", "q-tiny-x", "tiny-do"]
    ids = []
    for _ in range(60_000):
        author = "".join(rng.choice("abcefghjkl") for _ in range(6))
        roll = rng.randrange(300)
        name = parts[roll] if roll < 3 else "".join(rng.choice("abcefghjkl") for _ in range(9))
        ids.append(f"{author}/{name}")
    for at in rng.sample(range(60_000), 3):
        ids[at] = "planted/xo-tiny-do"
    blob, offsets = _blob(pa.array(ids, pa.large_string()), separator="\n")
    bits, layout = search.build_filter(blob, offsets)
    holding = {i // layout.block for i, text in enumerate(ids) if "o-tiny-d" in text}
    candidates = set(search.candidate_blocks(bits, layout, len(ids), b"o-tiny-d"))
    total = (len(ids) + layout.block - 1) // layout.block
    assert holding <= candidates
    assert len(candidates) <= total // 10, (len(candidates), total)
    assert search.find(blob, offsets, bits, layout, b"o-tiny-d", 10) == sorted(
        i for i, text in enumerate(ids) if "o-tiny-d" in text
    )
