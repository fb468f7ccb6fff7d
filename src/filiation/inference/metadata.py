"""Suspected parents from the Hub's metadata dump (hub-stats ``models.parquet``).

Most derived models on the Hub name no parent. Their metadata often gives one away: a
``…-Q4_K_M-GGUF`` repository published by a quantising account, with the parameter count
and architecture of an older ``…`` model, is very likely its quantised copy. This module
turns those signals into suspects, at Hub scale, with array operations only:

1. **features per model**, read batch by batch from the dump (only the columns used; the
   tags are reduced to a few flags as each batch is read): name keys (the model's name with
   format and version suffixes removed), format/adapter/merge/training flags, parameter
   count, architecture, library, pipeline, publisher, creation date, downloads;
2. **candidates by blocking**: models sharing a name key form a block; in each block the
   few most likely parents (not a format copy, most downloaded, oldest) are the *heads*,
   and every model without a declared parent is paired with the heads of its blocks;
   a parent must be older than its child when both dates are known. Never pairwise;
3. **scores**: a logistic model over the pair's signals gives each candidate a score; each
   child keeps its best candidate, whose confidence comes from a second logistic model
   (Platt scaling over the score, the margin to the runner-up and the number of
   candidates). Both were fitted on masked declared links (see
   ``metadata_model.json``'s ``fitted_on`` and ``benchmarks/infer.py``);
4. **relation** from the child's own flags: adapter, quantised copy, merge, else finetune.

The dump's columns are all optional except ``id``: a missing column is a missing signal
(counted in the report), never an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filiation.domain import Relation
from filiation.errors import SourceError
from filiation.sources.hub_stats import _column  # the dump's columns, read as ingest does

SOURCE = "inferred:metadata"
#: Candidate parents kept per name block (the likeliest first).
MAX_HEADS = 5
#: How many trailing (then leading) name segments may be cut to meet a parent's name.
CUT_LEVELS = 3
#: The name variants tried after the exact and loose keys: ``<parent>-x``, ``x-<parent>``...
CUTS = (
    *(f"end{i}" for i in range(1, CUT_LEVELS + 1)),
    *(f"start{i}" for i in range(1, CUT_LEVELS + 1)),
)
#: The level of pairs found by an equal parameter count rather than by name.
PARAMS_LEVEL = 2 + 2 * CUT_LEVELS
#: Suspects below this confidence are not kept at all (not worth showing, even on request).
MIN_KEPT = 0.05
#: Dump columns read (all optional but ``id``).
COLUMNS = (
    "id",
    "author",
    "createdAt",
    "downloads",
    "tags",
    "safetensors",
    "gguf",
    "baseModels",
    "pipeline_tag",
    "library_name",
)
UNKNOWN = np.iinfo(np.int64).min

# Name tokens, matched as whole suffixes after a separator (``-``, ``_``, ``.``, space).
_FORMAT_TOKENS = (
    r"gguf|ggml|awq|gptq|exl2|exl3|mlx|bnb|nf4|mxfp4|fp8|fp16|bf16|f16|f32|fp32|fp4|int4|int8|"
    r"w4a16|w8a8|w8a16|w4a4|hqq|onnx|openvino|ov|i1|imatrix|quantized|quants?|"
    r"[2-8]-?bits?|q[2-8](?:-k)?(?:-[a-z0-9]{1,2})*|iq[1-4](?:-[a-z0-9]{1,3})*|\d+(?:\.\d+)?bpw|h[468]|hf|"
    r"dynamic|unsloth|lite"
)
_ADAPTER_TOKENS = r"lora|qlora|peft|adapters?"
_TRAINING_TOKENS = (
    r"sft|dpo|orpo|kto|simpo|grpo|ppo|rlhf|ft|finetuned?|fine-?tuned|tuned|instruct|chat|it|"
    r"merged?|v\d+(?:\.\d+)*|\d{3,}|checkpoint-?\d+|ckpt|epochs?-?\d*|steps?-?\d+|base|test|"
    r"new|final|exp\d*"
)


def _suffix(tokens: str) -> str:
    return rf"(?:[-_. ](?:{tokens}))+$"


FORMAT_TAGS = (
    "gguf",
    "awq",
    "gptq",
    "exl2",
    "exl3",
    "mlx",
    "4-bit",
    "8-bit",
    "bitsandbytes",
    "quantized",
    "fp8",
    "compressed-tensors",
    "autoawq",
    "auto-gptq",
    "gguf-my-repo",
    "llama-cpp",
    "imatrix",
    "hqq",
    "nf4",
)
ADAPTER_TAGS = ("lora", "qlora", "peft", "adapter", "adapters")
MERGE_TAGS = ("merge", "mergekit", "lazymergekit")
TRAINING_TAGS = (
    "trl",
    "sft",
    "dpo",
    "orpo",
    "kto",
    "grpo",
    "generated_from_trainer",
    "unsloth",
    "axolotl",
    "finetune",
    "fine-tuned",
    "autotrain",
)
FORMAT_LIBRARIES = ("gguf", "mlx", "ctranslate2", "onnx", "openvino")
ADAPTER_LIBRARIES = ("peft", "adapter-transformers")

# Bits of ``Features.flags``: SUFFIXED when the name carries training or version suffixes
# (its loose key differs from its exact key: ``-Instruct``, ``-sft``, ``-v2``...).
# INSTRUCTED when a segment of the name says post-training (``instruct``, ``chat``, ``it``,
# ``sft``, ``dpo``...).
FMT, ADAPTER, MERGE, TRAINED, SUFFIXED, INSTRUCTED = 1, 2, 4, 8, 32, 64
_INSTRUCTED = r"(?:^|[-. ])(?:instruct|chat|it|sft|dpo|orpo|kto|simpo|rlhf)(?:[-. ]|$)"

_GGUF_ARCH = r'"architecture"\s*:\s*"(?P<arch>[^"]{1,64})"'
_GGUF_TOTAL = r'"total"\s*:\s*(?P<total>\d+)'

Progress = Callable[[str], None]


@dataclass
class Features:
    """One row per model of the dump: the signals inference uses, as compact arrays."""

    ids: pa.Array
    author: np.ndarray  # code, -1 unknown
    created: np.ndarray  # µs since the epoch, UNKNOWN when absent
    downloads: np.ndarray
    params: np.ndarray  # -1 unknown
    arch: np.ndarray  # index in ``arch_names``, -1 unknown
    library: np.ndarray  # hash, -1 unknown
    pipeline: np.ndarray  # hash, -1 unknown
    exact: np.ndarray  # hash of the name key (format suffixes removed), -1 none
    loose: np.ndarray  # also training/version suffixes removed
    flags: np.ndarray  # FMT | ADAPTER | MERGE | TRAINED
    cuts: list[np.ndarray]  # the exact key with 1..3 trailing, then 1..3 leading segments cut
    dump_declared: np.ndarray  # names a parent in baseModels or a base_model tag
    arch_names: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def keys(self) -> pa.Array:
        """The ids lower-cased (how the genealogy looks them up)."""
        return pc.utf8_lower(self.ids)


# -- reading ----------------------------------------------------------------------------------
def read_features(
    source: str | Path | pa.Table, *, batch_size: int = 131_072, say: Progress | None = None
) -> Features:
    """The signals of every model of a dump (a ``models.parquet`` path or an Arrow table)."""
    say = say or (lambda _m: None)
    if isinstance(source, pa.Table):
        present = set(source.column_names)
        cols = [c for c in COLUMNS if c in present]

        def batches() -> Iterator[pa.RecordBatch]:
            return iter(source.select(cols).to_batches(max_chunksize=batch_size))

        total = source.num_rows
    else:
        path = Path(source)
        try:
            pf = pq.ParquetFile(path)
        except FileNotFoundError as exc:
            raise SourceError(f"{path} does not exist") from exc
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{path} is not a readable Parquet file ({exc})") from exc
        schema = pf.schema_arrow
        present = set(schema.names)
        # Only the nested fields used: the safetensors total, the baseModels list.
        cols = [_nested(schema, c) for c in COLUMNS if c in present]

        def batches() -> Iterator[pa.RecordBatch]:
            return pf.iter_batches(batch_size=batch_size, columns=cols)

        total = pf.metadata.num_rows
    if "id" not in present:
        raise SourceError("the dump has no 'id' column: it is not a hub-stats models dump")
    missing = [c for c in COLUMNS if c not in present]
    # Architectures: those the dump's GGUF headers name, recognised in any model's tags too.
    arch_set: set[str] = set()
    if "gguf" in present:
        for batch in _only(batches(), "gguf", source, batch_size):
            found = pc.extract_regex(_column(batch, "gguf", pa.string()), _GGUF_ARCH)
            arch_set.update(pc.unique(pc.struct_field(found, "arch")).drop_null().to_pylist())
    arch_vocab = sorted(arch_set)
    parts: list[dict[str, Any]] = []
    done = 0
    for batch in batches():
        parts.append(_batch_features(batch, arch_vocab))
        done += batch.num_rows
        say(f"reading metadata: {done:,} of {total:,} models")
        pa.default_memory_pool().release_unused()
    return _assemble(parts, missing, arch_vocab)


def _nested(schema: pa.Schema, name: str) -> str:
    """The column path to read: a nested field where only that field is used."""
    sub = {"safetensors": "total", "baseModels": "models"}.get(name)
    typ = schema.field(name).type
    if sub and pa.types.is_struct(typ) and typ.get_field_index(sub) >= 0:
        return f"{name}.{sub}"
    return name


def _only(
    batches: Iterator[pa.RecordBatch], name: str, source: Any, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """One column's batches (a file is read again for that column alone)."""
    if isinstance(source, pa.Table):
        yield from source.select([name]).to_batches(max_chunksize=batch_size)
    else:
        yield from pq.ParquetFile(source).iter_batches(batch_size=batch_size, columns=[name])


_TAG_BITS = (
    (FORMAT_TAGS, FMT),
    (ADAPTER_TAGS, ADAPTER),
    (MERGE_TAGS, MERGE),
    (TRAINING_TAGS, TRAINED),
)
_BASE_MODEL_TAG = 16


def _tag_signals(
    tags: pa.Array, arch_vocab: list[str], n: int
) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """Per row: flag bits from the tags, the first architecture tag, and whether a
    ``base_model:`` tag names a parent. One hash of the flattened tags; the few distinct
    tags are classified in Python."""
    flags = np.zeros(n, np.uint8)
    declared = np.zeros(n, bool)
    arch = pa.nulls(n, pa.string())
    flat = pc.list_flatten(tags)
    if not len(flat):
        return flags, arch, declared
    rows = pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)
    enc = pc.dictionary_encode(flat)
    values = enc.dictionary.to_pylist()
    arch_index = {a: i for i, a in enumerate(arch_vocab)}
    bits = np.zeros(len(values) + 1, np.uint8)
    arch_of = np.full(len(values) + 1, -1, np.int32)
    for i, v in enumerate(values):
        if v is None:
            continue
        low = v.lower()
        for group, bit in _TAG_BITS:
            if low in group:
                bits[i] |= bit
        if low.startswith("base_model:"):
            bits[i] |= _BASE_MODEL_TAG
        arch_of[i] = arch_index.get(v, -1)
    idx = pc.fill_null(enc.indices, len(values)).to_numpy(zero_copy_only=False)
    elem_bits = bits[idx]
    for _, bit in _TAG_BITS:
        flags[rows[(elem_bits & bit) > 0]] |= bit
    declared[rows[(elem_bits & _BASE_MODEL_TAG) > 0]] = True
    elem_arch = arch_of[idx]
    hit = np.flatnonzero(elem_arch >= 0)
    if len(hit):
        pick = np.full(n, -1, np.int32)
        pick[rows[hit][::-1]] = elem_arch[hit][::-1]  # the first architecture tag of a row
        vocab = pa.array([*arch_vocab, None], pa.string())
        arch = pc.take(vocab, pa.array(np.where(pick >= 0, pick, len(arch_vocab))))
    return flags, arch, declared


def _cuts(exact: pa.Array, n: int) -> dict[str, pa.Array]:
    """The exact key with trailing, then leading ``-`` segments cut one at a time: a child
    named ``<parent>-<something>`` or ``<something>-<parent>`` meets its parent's exact key.
    A cut key must still have two segments (``7b`` alone names nothing)."""
    out: dict[str, pa.Array] = {}
    none = pa.nulls(n, pa.string())
    for end, reverse, keep in (("end", True, 0), ("start", False, 1)):
        cut = exact
        for level in range(1, CUT_LEVELS + 1):
            parts = pc.split_pattern(cut, "-", max_splits=1, reverse=reverse)
            split = pc.fill_null(pc.equal(pc.list_value_length(parts), 2), False)
            parts = pc.if_else(split, parts, pa.scalar(["", ""], parts.type))
            cut = pc.if_else(split, pc.list_element(parts, keep), none)
            several = pc.fill_null(pc.match_substring(cut, "-"), False)
            out[f"{end}{level}"] = pc.if_else(several, cut, none)
    return out


def _batch_features(batch: pa.RecordBatch, arch_vocab: list[str]) -> dict[str, Any]:
    n = batch.num_rows
    ids = pc.utf8_trim_whitespace(_column(batch, "id", pa.string()))
    keys = pc.utf8_lower(ids)
    parts = pc.split_pattern(keys, "/", max_splits=1)
    has_slash = pc.fill_null(pc.equal(pc.list_value_length(parts), 2), False)
    none = pa.nulls(n, pa.string())
    parts = pc.if_else(has_slash, parts, pa.scalar(["", ""], parts.type))
    prefix = pc.if_else(has_slash, pc.list_element(parts, 0), none)
    name = _names(ids)
    author = pc.coalesce(pc.utf8_lower(_column(batch, "author", pa.string())), prefix)

    tags = _column(batch, "tags", pa.list_(pa.string()))
    library = pc.utf8_lower(_column(batch, "library_name", pa.string()))
    pipeline = _column(batch, "pipeline_tag", pa.string())
    gguf = _column(batch, "gguf", pa.string())

    params = pa.nulls(n, pa.int64())
    if "safetensors" in batch.schema.names:
        st = batch.column("safetensors")
        if pa.types.is_struct(st.type) and st.type.get_field_index("total") >= 0:
            params = _column(
                pa.record_batch([pc.struct_field(st, "total")], ["t"]), "t", pa.int64()
            )
    has_gguf = pc.is_valid(gguf).to_numpy(zero_copy_only=False)
    if has_gguf.any():
        gg_total = pc.struct_field(pc.extract_regex(gguf, _GGUF_TOTAL), "total")
        params = pc.coalesce(params, pc.cast(gg_total, pa.int64()))
        gg_arch = pc.struct_field(pc.extract_regex(gguf, _GGUF_ARCH), "arch")
    else:
        gg_arch = none
    tag_flags, tag_arch, declared = _tag_signals(tags, arch_vocab, n)
    arch = pc.coalesce(gg_arch, tag_arch)

    keys_of = name_keys(name)
    name_fmt = keys_of.pop("name_format")
    name_adapter = keys_of.pop("name_adapter")

    lib_fmt = pc.fill_null(pc.is_in(library, pa.array(FORMAT_LIBRARIES)), False)
    lib_adapter = pc.fill_null(pc.is_in(library, pa.array(ADAPTER_LIBRARIES)), False)
    flags = tag_flags.copy()
    flags[name_fmt | has_gguf | lib_fmt.to_numpy(zero_copy_only=False)] |= FMT
    flags[name_adapter | lib_adapter.to_numpy(zero_copy_only=False)] |= ADAPTER
    instructed = pc.fill_null(pc.match_substring_regex(name, _INSTRUCTED), False)
    flags[instructed.to_numpy(zero_copy_only=False)] |= INSTRUCTED

    if "baseModels" in batch.schema.names and pa.types.is_struct(batch.column("baseModels").type):
        bm = batch.column("baseModels")
        if bm.type.get_field_index("models") >= 0:
            lengths = pc.list_value_length(pc.struct_field(bm, "models"))
            declared |= pc.fill_null(pc.greater(lengths, 0), False).to_numpy(zero_copy_only=False)

    created = _column(batch, "createdAt", pa.timestamp("us"))
    arch_code = pc.fill_null(pc.index_in(arch, pa.array(arch_vocab, pa.string())), -1)
    out = {
        "ids": ids,
        "author": hash_strings(author),
        "created": pc.fill_null(pc.cast(created, pa.int64()), UNKNOWN).to_numpy(
            zero_copy_only=False
        ),
        "downloads": pc.fill_null(_column(batch, "downloads", pa.int64()), 0).to_numpy(
            zero_copy_only=False
        ),
        "params": pc.fill_null(params, -1).to_numpy(zero_copy_only=False),
        "arch": arch_code.to_numpy(zero_copy_only=False).astype(np.int32),
        "library": hash_strings(library),
        "pipeline": hash_strings(pipeline),
        "flags": flags,
        "declared": declared,
    }
    out.update({k: hash_strings(v) for k, v in keys_of.items()})
    return out


def name_keys(name: pa.Array) -> dict[str, pa.Array]:
    """The name keys of model names (lower case, ``_`` as ``-``, no author): exact (format
    and adapter suffixes removed), loose (training and version suffixes too), the cuts; and
    whether the name shows a format or an adapter."""
    n = len(name)
    none = pa.nulls(n, pa.string())
    no_fmt = pc.replace_substring_regex(name, _suffix(_FORMAT_TOKENS), "")
    exact = pc.replace_substring_regex(no_fmt, _suffix(f"{_FORMAT_TOKENS}|{_ADAPTER_TOKENS}"), "")
    loose = pc.replace_substring_regex(
        exact, _suffix(f"{_FORMAT_TOKENS}|{_ADAPTER_TOKENS}|{_TRAINING_TOKENS}"), ""
    )

    def short(key: pa.Array) -> pa.Array:  # keys too short to mean anything block nothing
        return pc.if_else(pc.greater_equal(pc.utf8_length(key), 4), key, none)

    out: dict[str, Any] = {
        "name_format": pc.fill_null(pc.not_equal(no_fmt, name), False).to_numpy(
            zero_copy_only=False
        ),
        "name_adapter": pc.fill_null(pc.not_equal(exact, no_fmt), False).to_numpy(
            zero_copy_only=False
        ),
        "exact": short(exact),
        "loose": short(loose),
    }
    out.update({k: short(v) for k, v in _cuts(short(exact), n).items()})
    return out


_P = 0x100000001B3  # the 64-bit FNV prime: odd, so invertible modulo 2**64
_P_INV = pow(_P, -1, 1 << 64)
_powers: dict[str, np.ndarray] = {}


def _power_table(size: int) -> tuple[np.ndarray, np.ndarray]:
    """P**j and P**-j modulo 2**64 for j < size (grown by doubling, kept between calls)."""
    have = _powers.get("p")
    if have is None or len(have) < size:
        length = max(size, 2 * len(have) if have is not None else 1 << 16)
        with np.errstate(over="ignore"):
            _powers["p"] = np.cumprod(np.r_[1, np.full(length - 1, _P)].astype(np.uint64))
            _powers["i"] = np.cumprod(np.r_[1, np.full(length - 1, _P_INV)].astype(np.uint64))
    return _powers["p"], _powers["i"]


def hash_strings(values: pa.Array) -> np.ndarray:
    """A 63-bit hash of each string (-1 for null): equal strings, equal hashes; different
    ones collide with negligible probability. A polynomial hash of the bytes, from one
    running sum over the whole buffer (so a few array operations per batch, whatever the
    lengths); keys are compared as numbers, never kept as millions of strings."""
    values = pc.cast(values, pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    if not n:
        return np.zeros(0, np.int64)
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    values = pc.fill_null(values, "")
    if values.offset:
        values = values.take(pa.array(np.arange(n)))
    _, off_buf, data_buf = values.buffers()
    offsets = np.frombuffer(off_buf, np.int64)[: n + 1]
    base = int(offsets[0])
    offsets = offsets - base
    m = int(offsets[-1])
    data = (
        np.frombuffer(data_buf, np.uint8, count=m, offset=base)
        if data_buf is not None and m
        else np.zeros(0, np.uint8)
    )
    powers, inverse = _power_table(m + 1)
    with np.errstate(over="ignore"):
        running = np.zeros(m + 1, np.uint64)
        np.cumsum((data.astype(np.uint64) + np.uint64(1)) * powers[:m], out=running[1:])
        h = (running[offsets[1:]] - running[offsets[:-1]]) * inverse[offsets[:-1]]
        h ^= np.diff(offsets).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    out = (h >> np.uint64(1)).astype(np.int64)  # non-negative
    out[~valid] = -1
    return out


def _assemble(parts: list[dict[str, Any]], missing: list[str], arch_vocab: list[str]) -> Features:
    def cat(name: str, dtype: Any = np.int64) -> np.ndarray:
        if not parts:
            return np.zeros(0, dtype)
        return np.concatenate([p[name] for p in parts]).astype(dtype, copy=False)

    ids = pa.concat_arrays(
        [p["ids"].cast(pa.string()) for p in parts] or [pa.array([], pa.string())]
    )
    author = cat("author")
    # Publishers numbered (for per-publisher shares); -1 stays unknown.
    codes = np.full(len(author), -1, np.int32)
    known = author >= 0
    codes[known] = np.unique(author[known], return_inverse=True)[1].astype(np.int32)
    flags = cat("flags", np.uint8)
    exact, loose = cat("exact"), cat("loose")
    flags[(exact >= 0) & (loose != exact)] |= SUFFIXED
    return Features(
        ids=ids,
        author=codes,
        created=cat("created"),
        downloads=cat("downloads"),
        params=cat("params"),
        arch=cat("arch", np.int32),
        library=cat("library"),
        pipeline=cat("pipeline"),
        exact=exact,
        loose=loose,
        cuts=[cat(name) for name in CUTS],
        flags=flags,
        dump_declared=cat("declared", bool),
        arch_names=arch_vocab,
        missing=missing,
    )


# -- candidates -------------------------------------------------------------------------------
@dataclass
class Pairs:
    """Candidate (child, parent) rows and how they were found."""

    child: np.ndarray
    parent: np.ndarray
    level: np.ndarray  # 0 same exact key, 1 same loose key, 2.. child's key cut (CUTS)
    rank: np.ndarray  # the parent's place among its block's heads (0 = likeliest)
    block: np.ndarray  # size of the block

    def __len__(self) -> int:
        return len(self.child)

    def select(self, mask: np.ndarray) -> Pairs:
        return Pairs(
            self.child[mask], self.parent[mask], self.level[mask], self.rank[mask], self.block[mask]
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


def _heads(feat: Features, key: np.ndarray) -> _Heads:
    """Per block: not a format copy or adapter first, then most downloaded, then oldest."""
    valid = np.flatnonzero(key >= 0)
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
    head = rank < MAX_HEADS
    block = np.repeat(sizes, sizes)[head].astype(np.int32)
    count = np.minimum(sizes, MAX_HEADS)
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
    feat: Features, heads: _Heads, child_key: np.ndarray, needs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Children needing a parent, paired with the heads of the block their key names (one
    search); the child itself, parents younger than it and copies of copies left out."""
    kids = np.flatnonzero(needs & (child_key >= 0)).astype(np.int32)
    wanted = child_key[kids]
    pos = np.minimum(np.searchsorted(heads.first_key, wanted), max(len(heads.first_key) - 1, 0))
    hit = heads.first_key[pos] == wanted if len(heads.first_key) else np.zeros(len(kids), bool)
    lo = heads.first[pos]
    counts = np.where(hit, heads.count[pos], 0)
    idx = _spans(lo, counts)
    child = np.repeat(kids, counts)
    del lo, counts, kids, wanted, pos, hit
    parent = heads.rows[idx]
    cc, cp = feat.created[child], feat.created[parent]
    keep = (child != parent) & ((cc == UNKNOWN) | (cp == UNKNOWN) | (cp < cc))
    del cc, cp
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
    parts = [_lookup(feat, heads, key, needs) for heads, key in lookups]
    del lookups, exact_heads
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
    # A copy or an adapter keeps its original's name: when a model of exactly its name key
    # is a candidate, the looser matches of that child are not.
    copy = (feat.flags[pairs.child] & (FMT | ADAPTER)) > 0
    named = np.zeros(len(feat), bool)
    named[pairs.child[copy & (pairs.level == 0)]] = True
    return pairs.select(~(named[pairs.child] & (pairs.level > 0)))


# -- signals ----------------------------------------------------------------------------------
FEATURES = (
    "bias",
    "exact_name",
    "loose_name",
    "end_cut",
    "start_cut",
    "params_block",
    "child_format",
    "parent_format",
    "child_adapter",
    "parent_adapter",
    "child_merge",
    "child_trained",
    "same_publisher",
    "params_known",
    "params_close",
    "params_log_ratio",
    "arch_known",
    "arch_same",
    "same_library",
    "same_pipeline",
    "head_rank",
    "log_block",
    "log_parent_downloads",
    "publisher_format_share",
    "publisher_derived_share",
    "parent_derived",
    "dates_known",
    "log_age_gap",
    "format_exact",
    "adapter_exact",
    "parent_more_suffixed",
    "child_more_suffixed",
)


def _share(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the share of its group (publisher) whose ``values`` are true."""
    ok = codes >= 0
    size = max(int(codes.max()) + 1, 1) if len(codes) else 1
    total = np.bincount(codes[ok], minlength=size)
    hits = np.bincount(codes[ok], weights=values[ok].astype(np.float64), minlength=size)
    share = hits / np.maximum(total, 1)
    return np.where(ok, share[np.maximum(codes, 0)], 0.0)


@dataclass
class Context:
    """Per-model quantities that depend on the whole dump (computed once)."""

    format_share: np.ndarray
    derived_share: np.ndarray
    declared: np.ndarray


def context(feat: Features, declared: np.ndarray) -> Context:
    return Context(
        format_share=_share(feat.author, (feat.flags & FMT) > 0),
        derived_share=_share(feat.author, declared),
        declared=declared,
    )


def signals(feat: Features, ctx: Context, pairs: Pairs) -> np.ndarray:
    """The signal matrix of the pairs (one column per name of :data:`FEATURES`)."""
    c, p = pairs.child, pairs.parent
    m = len(c)
    out = np.zeros((m, len(FEATURES)), np.float32)

    def col(name: str, values: np.ndarray) -> None:
        out[:, FEATURES.index(name)] = values

    fc, fp = feat.flags[c], feat.flags[p]
    child_fmt = (fc & FMT) > 0
    child_adapter = (fc & ADAPTER) > 0
    col("bias", np.ones(m))
    exact = pairs.level == 0
    col("exact_name", exact)
    col("loose_name", pairs.level == 1)
    level = pairs.level.astype(np.int64)
    col("end_cut", np.where((level >= 2) & (level < 2 + CUT_LEVELS), level - 1, 0))
    col(
        "start_cut",
        np.where((level >= 2 + CUT_LEVELS) & (level < PARAMS_LEVEL), level - 1 - CUT_LEVELS, 0),
    )
    col("params_block", level == PARAMS_LEVEL)
    col("child_format", child_fmt)
    col("parent_format", (fp & FMT) > 0)
    col("child_adapter", child_adapter)
    col("parent_adapter", (fp & ADAPTER) > 0)
    col("child_merge", (fc & MERGE) > 0)
    col("child_trained", (fc & TRAINED) > 0)
    col("same_publisher", (feat.author[c] == feat.author[p]) & (feat.author[c] >= 0))
    pc_, pp = feat.params[c], feat.params[p]
    known = (pc_ > 0) & (pp > 0)
    ratio = np.abs(np.log(np.maximum(pc_, 1) / np.maximum(pp, 1)))
    col("params_known", known)
    col("params_close", known & (ratio < 0.05))
    col("params_log_ratio", np.where(known, np.minimum(ratio, 5.0), 0.0))
    ac, ap = feat.arch[c], feat.arch[p]
    col("arch_known", (ac >= 0) & (ap >= 0))
    col("arch_same", (ac >= 0) & (ac == ap))
    col("same_library", (feat.library[c] >= 0) & (feat.library[c] == feat.library[p]))
    col("same_pipeline", (feat.pipeline[c] >= 0) & (feat.pipeline[c] == feat.pipeline[p]))
    col("head_rank", pairs.rank)
    col("log_block", np.log1p(pairs.block))
    col("log_parent_downloads", np.log1p(np.maximum(feat.downloads[p], 0)) / 10.0)
    col("publisher_format_share", ctx.format_share[c])
    col("publisher_derived_share", ctx.derived_share[c])
    col("parent_derived", ctx.declared[p])
    cc, cp = feat.created[c], feat.created[p]
    dated = (cc != UNKNOWN) & (cp != UNKNOWN)
    gap_days = np.where(dated, (cc - cp) / 86_400e6, 0.0)
    col("dates_known", dated)
    col("log_age_gap", np.log1p(np.maximum(gap_days, 0.0)) / 5.0)
    col("format_exact", child_fmt & exact)
    col("adapter_exact", child_adapter & exact)
    # Direction from the names: ``X-Instruct`` derives from ``X``, rarely the reverse.
    sc, sp = (fc & SUFFIXED) > 0, (fp & SUFFIXED) > 0
    col("parent_more_suffixed", sp & ~sc)
    col("child_more_suffixed", sc & ~sp)
    return out


# -- the model --------------------------------------------------------------------------------
@dataclass
class Model:
    """Fitted coefficients: pair scores, then the calibration of each child's best pair."""

    stage1: np.ndarray
    stage2: np.ndarray
    fitted_on: str = ""

    @classmethod
    def bundled(cls) -> Model:
        text = resources.files("filiation.inference").joinpath("metadata_model.json").read_text()
        return cls.from_json(json.loads(text))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        if list(data["features"]) != list(FEATURES):
            raise ValueError("the fitted model was made for other signals: fit it again")
        return cls(
            np.asarray(data["stage1"], np.float64),
            np.asarray(data["stage2"], np.float64),
            str(data.get("fitted_on", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "fitted_on": self.fitted_on,
            "features": list(FEATURES),
            "stage1": [round(float(x), 6) for x in self.stage1],
            "stage2_features": list(STAGE2),
            "stage2": [round(float(x), 6) for x in self.stage2],
        }


STAGE2 = ("bias", "score", "margin", "log_candidates")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Weights of an L2-regularised logistic regression (the bias, column 0, not penalised)."""
    from scipy.optimize import minimize

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    penal = np.ones(x.shape[1])
    penal[0] = 0.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        # log(1 + e^z) - y z, computed stably
        value = np.sum(np.logaddexp(0.0, z) - y * z) / len(y) + l2 * np.sum(penal * w * w)
        grad = x.T @ (_sigmoid(z) - y) / len(y) + 2 * l2 * penal * w
        return float(value), grad

    res = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    return np.asarray(res.x)


@dataclass
class Best:
    """Each child's best candidate: rows, stage-2 inputs and the signals of that pair."""

    child: np.ndarray
    parent: np.ndarray
    stage2: np.ndarray
    signals: np.ndarray
    pair_index: np.ndarray


#: Pairs whose signals are computed at once (a few tens of MB of temporaries).
CHUNK = 1 << 19


def scores(feat: Features, ctx: Context, pairs: Pairs, stage1: np.ndarray) -> np.ndarray:
    """The stage-1 score of every pair, a chunk of pairs at a time (bounded memory)."""
    out = np.empty(len(pairs), np.float64)
    for lo in range(0, len(pairs), CHUNK):
        part = pairs.select(slice(lo, lo + CHUNK))
        out[lo : lo + CHUNK] = signals(feat, ctx, part).astype(np.float64) @ stage1
    return out


def best_per_child(feat: Features, ctx: Context, pairs: Pairs, score: np.ndarray) -> Best:
    """Each child's highest-scoring candidate, with its margin over the runner-up."""
    if not len(score):
        e = np.zeros(0, np.int64)
        return Best(e, e, np.zeros((0, len(STAGE2))), np.zeros((0, len(FEATURES)), np.float32), e)
    order = np.lexsort((-score, pairs.child))
    ch = pairs.child[order]
    starts = np.flatnonzero(np.r_[True, ch[1:] != ch[:-1]])
    counts = np.diff(np.r_[starts, len(ch)])
    top = order[starts]
    second = np.where(counts > 1, score[order[np.minimum(starts + 1, len(ch) - 1)]], -np.inf)
    margin = np.minimum(score[top] - second, 10.0)
    s2 = np.column_stack([np.ones(len(top)), score[top], margin, np.log(counts.astype(np.float64))])
    x_top = signals(feat, ctx, pairs.select(top))
    return Best(pairs.child[top], pairs.parent[top], s2, x_top, top)


def relation_of(flags_child: np.ndarray, flags_parent: np.ndarray) -> np.ndarray:
    """What the child's own flags say it is: adapter, quantised copy, merge, else finetune."""
    out = np.full(len(flags_child), Relation.FINETUNE.value, dtype=object)
    out[(flags_child & MERGE) > 0] = Relation.MERGE.value
    out[((flags_child & FMT) > 0) & ((flags_parent & FMT) == 0)] = Relation.QUANTIZED.value
    out[(flags_child & ADAPTER) > 0] = Relation.ADAPTER.value
    return out


NAME_MATCH = (
    "same name",
    "same name without version or training suffixes",
    "parent name + one segment",
    "parent name + two segments",
    "parent name + three segments",
    "one segment + parent name",
    "two segments + parent name",
    "three segments + parent name",
    "same parameter count",
)


# -- inference --------------------------------------------------------------------------------
@dataclass
class Suspects:
    """Suspected links: rows of the features, relation, confidence and the signals behind."""

    feat: Features
    child: np.ndarray
    parent: np.ndarray
    relation: np.ndarray
    confidence: np.ndarray
    signals: np.ndarray
    level: np.ndarray
    candidates: int = 0
    needing: int = 0

    def __len__(self) -> int:
        return len(self.child)

    def order(self) -> np.ndarray:
        """Most confident first, then by child id (stable, for reproducible listings)."""
        return np.lexsort((self.child, -self.confidence))

    def evidence(self, i: int) -> dict[str, Any]:
        """Each signal of suspect ``i`` and its value, as a person reads them."""
        return self.evidences(np.array([i]))[0]

    def evidences(self, which: np.ndarray | None = None) -> list[dict[str, Any]]:
        """The evidence of several suspects (all by default), column by column: at Hub
        scale a million of them take seconds, not minutes."""
        f = self.feat
        which = np.arange(len(self)) if which is None else np.asarray(which, np.int64)
        c, p = self.child[which], self.parent[which]
        x = self.signals[which]
        level = self.level[which].astype(np.int64)
        # The name key that matched: the child's exact or loose key, or (for a cut or an
        # equal parameter count) the parent's exact key.
        child_names = name_keys(_names(pc.take(f.ids, pa.array(c))))
        parent_exact = name_keys(_names(pc.take(f.ids, pa.array(p))))["exact"]
        key = pc.if_else(
            pa.array(level == 0),
            child_names["exact"],
            pc.if_else(pa.array(level == 1), child_names["loose"], parent_exact),
        ).to_pylist()
        labels = ((FMT, "format"), (ADAPTER, "adapter"), (MERGE, "merge"), (TRAINED, "trained"))
        flag_names = [[label for bit, label in labels if v & bit] for v in range(16)]
        labels_s = ((SUFFIXED, "training or version suffix"),)
        flag_names = [
            flag_names[v & 15] + [label for bit, label in labels_s if v & bit] for v in range(64)
        ]
        arch_names = [*f.arch_names, None]

        def date(values: np.ndarray) -> list[str | None]:
            days = np.where(values == UNKNOWN, 0, values).astype("datetime64[us]")
            text = np.datetime_as_string(days, unit="D").tolist()
            return [
                None if u else t for t, u in zip(text, (values == UNKNOWN).tolist(), strict=True)
            ]

        def col(name: str) -> list[Any]:
            return x[:, FEATURES.index(name)].tolist()

        def positive(values: np.ndarray) -> list[int | None]:
            return [v if v > 0 else None for v in values.tolist()]

        columns = {
            "name_key": key,
            "name_match": [NAME_MATCH[min(v, len(NAME_MATCH) - 1)] for v in level.tolist()],
            "child_flags": [flag_names[v & 63] for v in f.flags[c].tolist()],
            "parent_flags": [flag_names[v & 63] for v in f.flags[p].tolist()],
            "same_publisher": [bool(v) for v in col("same_publisher")],
            "publisher_format_share": [round(v, 3) for v in col("publisher_format_share")],
            "child_parameters": positive(f.params[c]),
            "parent_parameters": positive(f.params[p]),
            "child_architecture": [arch_names[v] for v in f.arch[c].tolist()],
            "parent_architecture": [arch_names[v] for v in f.arch[p].tolist()],
            "same_library": [bool(v) for v in col("same_library")],
            "same_pipeline": [bool(v) for v in col("same_pipeline")],
            "child_created": date(f.created[c]),
            "parent_created": date(f.created[p]),
            "parent_downloads": f.downloads[p].tolist(),
        }
        names = list(columns)
        return [
            {k: v for k, v in zip(names, row, strict=True) if v is not None}
            for row in zip(*columns.values(), strict=True)
        ]


def _names(ids: pa.Array) -> pa.Array:
    """Model names as name keys see them: lower case, no author, ``_`` as ``-``."""
    keys = pc.utf8_lower(ids)
    parts = pc.split_pattern(keys, "/", max_splits=1)
    has_slash = pc.fill_null(pc.equal(pc.list_value_length(parts), 2), False)
    parts = pc.if_else(has_slash, parts, pa.scalar(["", ""], parts.type))
    name = pc.if_else(has_slash, pc.list_element(parts, 1), keys)
    return pc.replace_substring(pc.fill_null(name, ""), "_", "-")


def infer(
    feat: Features,
    declared: np.ndarray | None = None,
    *,
    model: Model | None = None,
    min_confidence: float = MIN_KEPT,
) -> Suspects:
    """Suspected parents of every model that declares none (``declared`` per row: whether
    the genealogy already names a parent; by default what the dump itself names)."""
    model = model or Model.bundled()
    declared = feat.dump_declared if declared is None else np.asarray(declared, bool)
    if len(declared) != len(feat):
        raise ValueError("declared must have one value per model of the features")
    needs = ~declared
    pairs = candidates(feat, needs)
    ctx = context(feat, declared)
    best = best_per_child(feat, ctx, pairs, scores(feat, ctx, pairs, model.stage1))
    conf = _sigmoid(best.stage2 @ model.stage2)
    keep = conf >= min_confidence
    child, parent = best.child[keep], best.parent[keep]
    return Suspects(
        feat=feat,
        child=child,
        parent=parent,
        relation=relation_of(feat.flags[child], feat.flags[parent]),
        confidence=conf[keep],
        signals=best.signals[keep],
        level=pairs.level[best.pair_index[keep]],
        candidates=len(pairs),
        needing=int(needs.sum()),
    )


def fit(
    feat: Features, declared: np.ndarray, truth: set[tuple[int, int]], fit_children: np.ndarray
) -> Model:
    """Fit both stages on the children ``fit_children`` (rows whose declared parents were
    hidden: ``declared`` is false for them) against their hidden parents ``truth``."""
    pairs = candidates(feat, ~declared)
    sel = np.isin(pairs.child, fit_children)
    pairs = pairs.select(sel)
    ctx = context(feat, declared)
    x = signals(feat, ctx, pairs)
    y = np.fromiter(
        ((int(c), int(p)) in truth for c, p in zip(pairs.child, pairs.parent, strict=True)),
        bool,
        len(pairs),
    )
    stage1 = fit_logistic(x, y)
    best = best_per_child(feat, ctx, pairs, x.astype(np.float64) @ stage1)
    yb = np.fromiter(
        ((int(c), int(p)) in truth for c, p in zip(best.child, best.parent, strict=True)),
        bool,
        len(best.child),
    )
    stage2 = fit_logistic(best.stage2, yb)
    return Model(stage1, stage2)


def evidence_json(suspects: Suspects) -> list[str]:
    """The stored evidence of every suspect: its confidence and signals, as JSON text (the
    confidence first: the index reads it from there)."""
    conf = np.round(suspects.confidence, 4).tolist()
    return [
        orjson.dumps({"confidence": c, "signals": ev}).decode()
        for c, ev in zip(conf, suspects.evidences(), strict=True)
    ]
