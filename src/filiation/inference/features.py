"""Per-model signals read from the hub-stats dump (``models.parquet``), as compact arrays.

The dump is read batch by batch and only the columns used; tags are reduced to a few flag
bits and strings to 63-bit hashes as each batch is read, so a Hub-sized dump fits in a few
GB. Every column but ``id`` is optional: a missing column is a missing signal (listed in
``Features.missing``), never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filiation.errors import SourceError
from filiation.inference.names import CUTS, _names, name_keys
from filiation.sources.hub_columns import _column  # the dump's columns, read as ingest does

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
#: Tags of formats made to run, never to train from: a repository in one of them is
#: nobody's parent (a fine-tune starts from full or bitsandbytes weights, not a GGUF file).
_QUANTISED_TO_RUN = (
    "gguf",
    "awq",
    "gptq",
    "exl2",
    "exl3",
    "mlx",
    "autoawq",
    "auto-gptq",
    "gguf-my-repo",
    "llama-cpp",
    "imatrix",
)
TERMINAL_TAGS = (*_QUANTISED_TO_RUN, "onnx", "openvino")
#: Tags of a format copy of any kind: those, and the quantisations one may still train from.
FORMAT_TAGS = (
    *_QUANTISED_TO_RUN,
    "4-bit",
    "8-bit",
    "bitsandbytes",
    "quantized",
    "fp8",
    "compressed-tensors",
    "hqq",
    "nf4",
)
FORMAT_LIBRARIES = ("gguf", "mlx", "ctranslate2", "onnx", "openvino")
ADAPTER_LIBRARIES = ("peft", "adapter-transformers")
TERMINAL_LIBRARIES = ("gguf", "mlx", "onnx", "openvino", "ctranslate2")

# Bits of ``Features.flags``: SUFFIXED when the name carries training or version suffixes
# (its loose key differs from its exact key: ``-Instruct``, ``-sft``, ``-v2``...).
# INSTRUCTED when a segment of the name says post-training (``instruct``, ``chat``, ``it``,
# ``sft``, ``dpo``...).
# TERMINAL when the model is in a format made to run, not to train from (GGUF, AWQ, GPTQ,
# EXL2, MLX, ONNX...): it is never proposed as a parent.
FMT, ADAPTER, MERGE, TRAINED, SUFFIXED, INSTRUCTED, TERMINAL = 1, 2, 4, 8, 32, 64, 128
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
    key_len: np.ndarray  # characters of the exact name key (0 when none)
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
    (TERMINAL_TAGS, TERMINAL),
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
    name_terminal = keys_of.pop("name_terminal")
    key_len = pc.fill_null(pc.utf8_length(keys_of["exact"]), 0).to_numpy(zero_copy_only=False)

    lib_fmt = pc.fill_null(pc.is_in(library, pa.array(FORMAT_LIBRARIES)), False)
    lib_adapter = pc.fill_null(pc.is_in(library, pa.array(ADAPTER_LIBRARIES)), False)
    flags = tag_flags.copy()
    flags[name_fmt | has_gguf | lib_fmt.to_numpy(zero_copy_only=False)] |= FMT
    flags[name_adapter | lib_adapter.to_numpy(zero_copy_only=False)] |= ADAPTER
    lib_terminal = pc.fill_null(pc.is_in(library, pa.array(TERMINAL_LIBRARIES)), False)
    flags[name_terminal | has_gguf | lib_terminal.to_numpy(zero_copy_only=False)] |= TERMINAL
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
        "key_len": np.minimum(key_len, 255).astype(np.uint8),
    }
    out.update({k: hash_strings(v) for k, v in keys_of.items()})
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
        key_len=cat("key_len", np.uint8),
        cuts=[cat(name) for name in CUTS],
        flags=flags,
        dump_declared=cat("declared", bool),
        arch_names=arch_vocab,
        missing=missing,
    )
