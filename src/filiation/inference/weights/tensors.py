"""Streaming readers of model weights: safetensors, int8 per-row, GGUF and PEFT adapters.

Nothing here unpickles: ``.bin``/``.pt`` files are ignored. Safetensors files are read by
their header (8-byte length, JSON) and byte ranges of the rows asked for, through a
``read_range(offset, length)`` callable so that the same reader works on a local file and on
a remote one read by HTTP range requests. GGUF files are memory-mapped by ``gguf.GGUFReader``
and only the rows asked for are dequantised.

**int8 per-row format.** A 2-D ``I8`` tensor ``N`` with a companion scale tensor named
``N_scale``, ``N.scale`` or (for ``X.weight``) ``X.weight_scale``/``X.scale``, of shape
``(rows,)`` or ``(rows, 1)`` in any float dtype, holds ``N = int8 * scale[:, None]``: the
symmetric per-row quantisation (``scale = max|row| / 127``) that bitsandbytes-style
``LLM.int8`` checkpoints and most hand-rolled int8 exports write.

**Names.** Tensor names are made canonical so that the same tensor in two formats compares:
prefixes of task heads (``model.``, ``bert.``, ``transformer.``) are dropped and, when the
architecture is known to ``gguf`` (``config.json`` ``model_type``), Hugging Face names are
mapped to GGUF names (``model.layers.0.mlp.up_proj.weight`` -> ``blk.0.ffn_up.weight``).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: a header longer than this is refused: real ones are well under 10 MB even for 1000 tensors
MAX_HEADER = 100 * 1024 * 1024

_ST_DTYPES: dict[str, tuple[np.dtype[Any], str]] = {
    "F64": (np.dtype("<f8"), "F64"),
    "F32": (np.dtype("<f4"), "F32"),
    "F16": (np.dtype("<f2"), "F16"),
    "BF16": (np.dtype("<u2"), "BF16"),
    "I8": (np.dtype("i1"), "I8"),
    "U8": (np.dtype("u1"), "U8"),
    "I16": (np.dtype("<i2"), "I16"),
    "I32": (np.dtype("<i4"), "I32"),
    "I64": (np.dtype("<i8"), "I64"),
}
_FLOATS = ("F64", "F32", "F16", "BF16")
_PREFIXES = ("base_model.model.", "model.", "bert.", "transformer.", "roberta.")


class WeightsError(Exception):
    """Weights that cannot be used; the message says why, for the scan's problems."""


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(values: np.ndarray) -> np.ndarray:
    """Round to nearest even bfloat16, returned as float32 (what a bf16 copy would hold)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))
    return (rounded & np.uint32(0xFFFF0000)).view(np.float32)


class SafetensorsFile:
    """One safetensors file read by header and byte ranges, validated before any read."""

    def __init__(self, read_range: Callable[[int, int], bytes], size: int, label: str) -> None:
        self.label = label
        self._read = read_range
        if size < 8:
            raise WeightsError(f"{label}: {size} bytes, too short for a safetensors header")
        (n,) = struct.unpack("<Q", read_range(0, 8))
        if n > MAX_HEADER or 8 + n > size:
            raise WeightsError(
                f"{label}: header claims {n:,} bytes but the file has {size:,}: truncated or "
                "not a safetensors file"
            )
        try:
            header = json.loads(read_range(8, n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightsError(f"{label}: header is not valid JSON ({exc})") from None
        if not isinstance(header, dict):
            raise WeightsError(f"{label}: header is not a JSON object")
        self.base = 8 + n
        self.tensors: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
                shape = tuple(int(s) for s in shape)
                start, end = int(start), int(end)
            except (KeyError, TypeError, ValueError):
                raise WeightsError(f"{label}: malformed header entry for {name!r}") from None
            if dtype not in _ST_DTYPES:
                continue  # F8, bool...: not compared
            count = int(np.prod(shape)) if shape else 1
            if min(shape, default=1) < 0 or end - start != count * _ST_DTYPES[dtype][0].itemsize:
                raise WeightsError(
                    f"{label}: {name} shape {list(shape)} {dtype} does not match its "
                    f"{end - start:,} bytes: the header lies"
                )
            if start < 0 or self.base + end > size:
                raise WeightsError(
                    f"{label}: {name} ends at byte {self.base + end:,} beyond the file's "
                    f"{size:,}: truncated"
                )
            self.tensors[name] = (dtype, shape, start, end)

    @classmethod
    def open(cls, path: Path, label: str) -> SafetensorsFile:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise WeightsError(f"{label}: cannot read ({exc.strerror or exc})") from None

        def read_range(offset: int, length: int) -> bytes:
            try:
                with path.open("rb") as f:
                    f.seek(offset)
                    data = f.read(length)
            except OSError as exc:
                raise WeightsError(f"{label}: cannot read ({exc.strerror or exc})") from None
            if len(data) != length:
                raise WeightsError(f"{label}: truncated at byte {offset + len(data):,}")
            return data

        return cls(read_range, size, label)

    def read_rows(self, name: str, rows: Sequence[int] | None, max_cols: int | None) -> np.ndarray:
        """The rows asked for (all if None) of a tensor seen as 2-D, in its stored dtype."""
        dtype, shape, start, _end = self.tensors[name]
        np_dtype = _ST_DTYPES[dtype][0]
        n_rows = shape[0] if shape else 1
        n_cols = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        cols = n_cols if max_cols is None else min(n_cols, max_cols)
        row_bytes = n_cols * np_dtype.itemsize
        wanted = range(n_rows) if rows is None else rows
        out = np.empty((len(wanted), cols), dtype=np_dtype)
        # consecutive rows are read in one range
        i = 0
        idx = list(wanted)
        while i < len(idx):
            j = i
            while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1:
                j += 1
            count = j - i + 1
            if count == 1 or cols == n_cols:
                raw = self._read(self.base + start + idx[i] * row_bytes, count * row_bytes)
                block = np.frombuffer(raw, dtype=np_dtype).reshape(count, n_cols)
                out[i : j + 1] = block[:, :cols]
            else:
                for k in range(i, j + 1):
                    raw = self._read(
                        self.base + start + idx[k] * row_bytes, cols * np_dtype.itemsize
                    )
                    out[k] = np.frombuffer(raw, dtype=np_dtype)
            i = j + 1
        return out


def _to_float(raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return bf16_to_f32(raw)
    return raw.astype(np.float32)


def _gguf_names(model_type: str | None, n_blocks: int) -> Callable[[str], str | None] | None:
    """Hugging Face tensor name -> GGUF name for an architecture ``gguf`` knows."""
    if not model_type:
        return None
    try:
        import gguf

        arch = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}.get(model_type)
        if arch is None:
            return None
        mapping = gguf.get_tensor_name_map(arch, max(n_blocks, 1))
    except Exception:  # an architecture the installed gguf cannot map: names stay as they are
        return None

    def name(hf: str) -> str | None:
        return mapping.get_name(hf, try_suffixes=(".weight", ".bias"))

    return name


def canonical(name: str, mapper: Callable[[str], str | None] | None) -> str:
    for candidate in (name, *(name[len(p) :] for p in _PREFIXES if name.startswith(p))):
        if mapper is not None:
            mapped = mapper(candidate)
            if mapped:
                return mapped
    for p in _PREFIXES:
        if name.startswith(p):
            return name[len(p) :]
    return name


def _config(folder: Path) -> dict[str, Any]:
    try:
        value = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


class SafetensorsModel:
    """A model saved as one or more safetensors files (shards), with int8 per-row support."""

    def __init__(
        self,
        files: list[SafetensorsFile],
        label: str,
        model_type: str | None = None,
        n_blocks: int = 0,
    ) -> None:
        self.label = label
        mapper = _gguf_names(model_type, n_blocks)
        self._where: dict[str, tuple[SafetensorsFile, str, str | None]] = {}
        scales: set[str] = set()
        raw_names = {n: f for f in files for n in f.tensors}
        for raw, f in raw_names.items():
            dtype = f.tensors[raw][0]
            scale = None
            if dtype == "I8":
                stem = raw[: -len(".weight")] if raw.endswith(".weight") else raw
                for s in (f"{raw}_scale", f"{raw}.scale", f"{stem}.weight_scale", f"{stem}.scale"):
                    if s in raw_names and raw_names[s].tensors[s][0] in _FLOATS:
                        scale = s
                        break
                if scale is None:
                    continue  # an int8 tensor without scales is not a weight we can compare
                scales.add(scale)
            elif dtype not in _FLOATS:
                continue
            self._where[raw] = (f, raw, scale)
        self._mapper = mapper
        self._names: dict[str, str] = {}
        for raw in self._where:
            if raw in scales:
                continue
            self._names.setdefault(canonical(raw, mapper), raw)
        self._scale_files = raw_names

    @classmethod
    def open(cls, folder: Path, files: list[Path], label: str) -> SafetensorsModel:
        cfg = _config(folder)
        model_type = cfg.get("model_type") if isinstance(cfg.get("model_type"), str) else None
        blocks = cfg.get("num_hidden_layers") or cfg.get("n_layer") or 0
        opened = [SafetensorsFile.open(p, f"{label}/{p.name}") for p in files]
        return cls(opened, label, model_type, int(blocks) if isinstance(blocks, int) else 0)

    def names(self) -> list[str]:
        return sorted(self._names)

    def canonical(self, raw: str) -> str:
        """This model's name for a tensor named ``raw`` elsewhere (an adapter's target)."""
        return canonical(raw, self._mapper)

    def shape(self, name: str) -> tuple[int, ...]:
        f, raw, _ = self._where[self._names[name]]
        return f.tensors[raw][1]

    def storage(self, name: str) -> str:
        f, raw, scale = self._where[self._names[name]]
        return "I8-row" if scale is not None else f.tensors[raw][0]

    def _scale(self, scale: str, rows: Sequence[int]) -> np.ndarray:
        f = self._scale_files[scale]
        dtype = f.tensors[scale][0]
        return _to_float(f.read_rows(scale, rows, 1), dtype)[:, 0]

    def read(
        self, name: str, rows: Sequence[int] | None = None, max_cols: int | None = None
    ) -> np.ndarray:
        f, raw, scale = self._where[self._names[name]]
        dtype = f.tensors[raw][0]
        values = f.read_rows(raw, rows, max_cols)
        if scale is not None:
            idx = range(values.shape[0]) if rows is None else rows
            return values.astype(np.float32) * self._scale(scale, idx)[:, None]
        return _to_float(values, dtype)

    def requantize(self, name: str, rows: Sequence[int], values: np.ndarray) -> np.ndarray | None:
        f, raw, scale = self._where[self._names[name]]
        dtype = f.tensors[raw][0]
        if scale is not None:
            s = self._scale(scale, rows)[:, None]
            safe = np.where(s == 0, 1, s)
            return np.clip(np.rint(values / safe), -128, 127).astype(np.float32) * s
        if dtype == "F16":
            return values.astype(np.float16).astype(np.float32)
        if dtype == "BF16":
            return f32_to_bf16(values)
        return None


class GGUFModel:
    """A GGUF file, memory-mapped; rows are dequantised only when read."""

    def __init__(self, path: Path, label: str) -> None:
        self.label = label
        try:
            from gguf import GGUFReader

            self._reader = GGUFReader(path)
        except OSError as exc:
            raise WeightsError(f"{label}: cannot read ({exc.strerror or exc})") from None
        except Exception as exc:  # ValueError, struct and numpy errors on a bad file
            raise WeightsError(
                f"{label}: not a readable GGUF file, truncated or corrupted "
                f"({type(exc).__name__}: {exc})"
            ) from None
        self._tensors = {t.name: t for t in self._reader.tensors}
        arch = self._field("general.architecture")
        blocks = self._field(f"{arch}.block_count")
        self._mapper = _gguf_names(
            arch if isinstance(arch, str) else None, blocks if isinstance(blocks, int) else 0
        )

    def _field(self, key: str) -> Any:
        field = self._reader.fields.get(key)
        try:
            return field.contents() if field is not None else None
        except Exception:  # a malformed field: as if absent
            return None

    def canonical(self, raw: str) -> str:
        """This file's (llama.cpp) name for a Hugging Face tensor name."""
        return canonical(raw, self._mapper)

    def names(self) -> list[str]:
        return sorted(self._tensors)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(s) for s in reversed(self._tensors[name].shape))

    def storage(self, name: str) -> str:
        return str(self._tensors[name].tensor_type.name)

    def _rows(self, name: str, rows: Sequence[int] | None) -> np.ndarray:
        t = self._tensors[name]
        data = t.data
        if data.ndim == 1:
            data = data.reshape(1, -1)
        elif data.ndim > 2:
            data = data.reshape(-1, data.shape[-1])
        return data if rows is None else data[np.asarray(rows)]

    def read(
        self, name: str, rows: Sequence[int] | None = None, max_cols: int | None = None
    ) -> np.ndarray:
        from gguf.quants import dequantize

        t = self._tensors[name]
        try:
            values = dequantize(np.asarray(self._rows(name, rows)), t.tensor_type)
        except Exception as exc:
            raise WeightsError(
                f"{self.label}: tensor {name} ({t.tensor_type.name}) cannot be dequantised "
                f"({type(exc).__name__}: {exc})"
            ) from None
        values = values.reshape(values.shape[0], -1).astype(np.float32, copy=False)
        return values if max_cols is None else values[:, :max_cols]

    def requantize(self, name: str, rows: Sequence[int], values: np.ndarray) -> np.ndarray | None:
        from gguf.quants import dequantize, quantize

        qtype = self._tensors[name].tensor_type
        if qtype.name == "F32":
            return None
        try:
            return dequantize(quantize(values.astype(np.float32), qtype), qtype).reshape(
                values.shape
            )
        except Exception:  # a type gguf cannot quantise (K-quants, IQ): no grid test
            return None


class LoraAdapter:
    """A PEFT LoRA adapter: for each target tensor, ``delta = scale * B @ A``."""

    def __init__(self, folder: Path, label: str) -> None:
        self.label = label
        cfg_file = folder / "adapter_config.json"
        try:
            cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WeightsError(f"{label}: adapter_config.json unreadable ({exc})") from None
        if not isinstance(cfg, dict):
            raise WeightsError(f"{label}: adapter_config.json is not a JSON object")
        r = int(cfg.get("r") or 8)
        alpha = float(cfg.get("lora_alpha") or r)
        self.scale = alpha / (r**0.5 if cfg.get("use_rslora") else r)
        self.base_name = cfg.get("base_model_name_or_path")
        weights = folder / "adapter_model.safetensors"
        if not weights.is_file():
            raise WeightsError(
                f"{label}: adapter_model.safetensors missing (only safetensors "
                "adapters are read, never pickles)"
            )
        self.file = SafetensorsFile.open(weights, f"{label}/adapter_model.safetensors")
        self.pairs: dict[str, tuple[str, str]] = {}
        for raw in self.file.tensors:
            if ".lora_A." not in raw:
                continue
            b = raw.replace(".lora_A.", ".lora_B.")
            if b not in self.file.tensors:
                continue
            # keyed by the target's Hugging Face name; each base maps it to its own names
            self.pairs[canonical(raw.replace(".lora_A", ""), None)] = (raw, b)
        if not self.pairs:
            raise WeightsError(f"{label}: no lora_A/lora_B pairs in the adapter")

    def target_shape(self, name: str) -> tuple[int, int]:
        a, b = self.pairs[name]
        return self.file.tensors[b][1][0], self.file.tensors[a][1][1]

    def delta(self, name: str, rows: Sequence[int], max_cols: int | None) -> np.ndarray:
        a, b = self.pairs[name]
        a_m = _to_float(self.file.read_rows(a, None, max_cols), self.file.tensors[a][0])
        b_m = _to_float(self.file.read_rows(b, rows, None), self.file.tensors[b][0])
        return (self.scale * (b_m @ a_m)).astype(np.float32)


Weights = SafetensorsModel | GGUFModel | LoraAdapter


def open_folder(folder: Path, label: str) -> Weights | None:
    """The weights of a model folder, or None when it has none filiation reads.

    Safetensors shards win over GGUF files in the same folder; of several GGUF files the
    most precise (largest) is read, as the one others are most likely quantised from.
    """
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise WeightsError(f"{label}: cannot list ({exc.strerror or exc})") from None
    if "adapter_config.json" in names and "adapter_model.safetensors" in names:
        return LoraAdapter(folder, label)
    shards = [folder / n for n in names if n.endswith(".safetensors")]
    if shards:
        return SafetensorsModel.open(folder, shards, label)
    ggufs = [folder / n for n in names if n.endswith(".gguf")]
    if ggufs:
        best = max(ggufs, key=lambda p: p.stat().st_size)
        return GGUFModel(best, f"{label}/{best.name}")
    return None
