"""The pair statistics: relatedness, distance, quantisation grid, low rank, merges.

Every statistic works on a *fingerprint*: the same rows of the same tensors of each model.
For each 2-D tensor (at most ``MAX_TENSORS``, chosen by a hash of the canonical name so that
all models of an architecture pick the same ones), ``ROWS`` rows evenly spaced and the first
``MAX_COLS`` columns (whole quantisation blocks) are read. A 7B model's fingerprint is
48 x 64 x 768 floats (9 MB), read one tensor at a time.

Statistics (thresholds calibrated in docs/weights.md):

- **relatedness**: ``rho`` = median over shared tensors of the Pearson correlation of the
  sampled weights. Under independence (two random initialisations) each correlation is
  approximately N(0, 1/n) with n >= 4096 values, so |rho| < 0.05; a fine-tune keeps rho near 1.
  Related when ``rho >= RELATED``.
- **distance**: ``sqrt(sum ||a-b||^2 / sum ||a|| ||b||)`` over shared tensors: how far apart two
  related models are, used to place each model next to its closest relative.
- **quantisation match**: the share of the child's sampled values that the parent's values,
  rounded onto the child's storage grid (fp16, bf16, int8 per-row with the child's scales,
  the child's GGUF type), reproduce exactly. A quantised copy reproduces ~100 %; a fine-tune
  stored at lower precision does not (its changes are larger than half a grid step).
- **low rank**: for each changed tensor, the share of the energy of the delta's sampled rows in
  its ``RANK_K`` largest singular values; a LoRA merged into its base (rank r <= 16) gives
  ~1.0, full fine-tuning spreads the energy over all directions.
- **merge residual**: a model written as a convex combination of other members of its family
  (non-negative least squares with the weights summing to one), residual divided by the
  distance to the closest single member: ~0 for a linear merge, ~1 otherwise.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from filiation.inference.weights.source import TensorSource
from filiation.inference.weights.tensors import WeightsError, f32_to_bf16

ROWS = 64
MAX_COLS = 768
MAX_TENSORS = 48
RANK_K = 16
#: related when the median correlation of shared tensors reaches this (null: |rho| < 0.05)
RELATED = 0.25
#: a quantised copy reproduces at least this share of its values from its parent
QUANT_MATCH = 0.9
#: a low-rank (adapter) difference keeps at least this share of energy in RANK_K directions
LOW_RANK = 0.98
#: a merge's best convex combination leaves at most this share of the closest member's distance
MERGE_RESIDUAL = 0.3

_BITS = {"F64": 64.0, "F32": 32.0, "F16": 16.0, "BF16": 16.0, "I8-row": 8.0}


def storage_bits(storage: str) -> float:
    if storage in _BITS:
        return _BITS[storage]
    m = re.match(r"[A-Z]*?(\d+)", storage)  # Q4_1 -> 4, IQ2_XS -> 2, TQ1_0 -> 1
    return float(m.group(1)) if m else 32.0


@dataclass
class Fingerprint:
    """Sampled rows of a model's 2-D tensors, the same rows for every model of a shape."""

    label: str
    source: Any
    shapes: dict[str, tuple[int, ...]]
    storage: dict[str, str]
    rows: dict[str, np.ndarray]
    values: dict[str, np.ndarray]

    @property
    def bits(self) -> float:
        """Precision of the model's weights: the median over sampled tensors."""
        if not self.storage:
            return 32.0
        return float(np.median([storage_bits(s) for s in self.storage.values()]))


def sample_rows(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, ROWS)).astype(np.int64))


def selected(names: list[str], shape_of: Any) -> list[str]:
    """The 2-D tensors fingerprinted: all, or a hash-chosen subset the same for every model."""
    mats = []
    for n in names:
        s = shape_of(n)
        if len(s) >= 2 and s[0] >= 8 and int(np.prod(s[1:])) >= 8:
            mats.append(n)
    if len(mats) <= MAX_TENSORS:
        return mats
    k = -(-len(mats) // MAX_TENSORS)
    return [n for n in mats if zlib.crc32(n.encode()) % k == 0][:MAX_TENSORS]


def _grid(values: np.ndarray, storage: str) -> str:
    """An F32 tensor whose values all lie on the fp16 or bf16 grid was rounded there."""
    if storage != "F32" or not values.size:
        return storage
    if np.array_equal(f32_to_bf16(values), values):
        return "BF16"
    with np.errstate(over="ignore"):
        if np.array_equal(values.astype(np.float16).astype(np.float32), values):
            return "F16"
    return storage


def fingerprint(source: TensorSource) -> Fingerprint:
    """Read the sample of every selected tensor, one tensor at a time."""
    fp = Fingerprint(source.label, source, {}, {}, {}, {})
    for name in selected(source.names(), source.shape):
        shape = tuple(source.shape(name))
        rows = sample_rows(shape[0])
        try:
            values = np.asarray(source.read(name, rows.tolist(), MAX_COLS), dtype=np.float32)
        except WeightsError:
            raise
        except Exception as exc:  # a reader's I/O or decoding failure on a damaged file
            raise WeightsError(
                f"{source.label}: tensor {name} unreadable ({type(exc).__name__}: {exc})"
            ) from None
        if not np.all(np.isfinite(values)):
            raise WeightsError(f"{source.label}: tensor {name} holds NaN or infinite values")
        fp.shapes[name], fp.rows[name], fp.values[name] = shape, rows, values
        fp.storage[name] = _grid(values, source.storage(name))
    return fp


def common(a: Fingerprint, b: Fingerprint) -> list[str]:
    return [
        n
        for n in a.values
        if n in b.values and a.shapes[n] == b.shapes[n] and a.values[n].shape == b.values[n].shape
    ]


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    x = x.ravel().astype(np.float64) - x.mean()
    y = y.ravel().astype(np.float64) - y.mean()
    den = float(np.sqrt((x @ x) * (y @ y)))
    return float(x @ y / den) if den > 0 else 0.0


def relatedness(a: Fingerprint, b: Fingerprint, names: list[str]) -> float:
    """Median over tensors of the Pearson correlation of the sampled weights."""
    return float(np.median([_corr(a.values[n], b.values[n]) for n in names]))


def distance(a: Fingerprint, b: Fingerprint, names: list[str]) -> float:
    num = sum(float(np.sum((a.values[n] - b.values[n]) ** 2, dtype=np.float64)) for n in names)
    den = sum(float(np.linalg.norm(a.values[n]) * np.linalg.norm(b.values[n])) for n in names)
    return float(np.sqrt(num / den)) if den > 0 else float("inf")


def requantized(fp: Fingerprint, name: str, values: np.ndarray) -> np.ndarray | None:
    """``values`` rounded the way ``fp`` stores tensor ``name``; None at full precision."""
    storage = fp.storage[name]
    if storage == "F16":
        with np.errstate(over="ignore"):
            return values.astype(np.float16).astype(np.float32)
    if storage == "BF16":
        return f32_to_bf16(values)
    if storage in ("F32", "F64"):
        return None
    return fp.source.requantize(name, fp.rows[name].tolist(), values)


def quant_match(child: Fingerprint, parent: Fingerprint, names: list[str]) -> float | None:
    """Median share of the child's values reproduced by rounding the parent's onto the
    child's grid; None when the child is stored at full precision (nothing to test)."""
    shares = []
    for n in names:
        if storage_bits(child.storage[n]) >= storage_bits(parent.storage[n]):
            continue
        q = requantized(child, n, parent.values[n])
        if q is None:
            continue
        c = child.values[n]
        shares.append(float(np.mean(np.isclose(q, c, rtol=1e-4, atol=1e-7))))
    return float(np.median(shares)) if shares else None


def low_rank(a: Fingerprint, b: Fingerprint, names: list[str]) -> tuple[float, float]:
    """(median energy share of the top RANK_K directions over changed tensors, share of
    tensors changed)."""
    shares, changed = [], 0
    for n in names:
        d = (a.values[n] - b.values[n]).astype(np.float64)
        norm = float(np.linalg.norm(d))
        if norm <= 1e-6 * max(float(np.linalg.norm(a.values[n])), 1e-12):
            continue
        changed += 1
        s = np.linalg.svd(d, compute_uv=False) ** 2
        shares.append(float(s[:RANK_K].sum() / s.sum()))
    if not shares:
        return 1.0, 0.0
    return float(np.median(shares)), changed / max(len(names), 1)


@dataclass
class PairEvidence:
    """What the weights say about one pair; ``related`` is the test's verdict."""

    child: str
    parent: str
    related: bool
    statistic: str = "median Pearson correlation of sampled weights"
    value: float = 0.0
    threshold: float = RELATED
    tensors: list[str] = field(default_factory=list)
    distance: float | None = None
    relation: str | None = None
    reversed: bool = False
    quant_match: float | None = None
    low_rank: float | None = None
    changed: float | None = None
    confidence: float = 0.0
    note: str = ""

    def describe(self) -> str:
        """One line of evidence naming the statistic, its value and the tensors."""
        shown = ", ".join(self.tensors[:3]) + (
            f" +{len(self.tensors) - 3} more" if len(self.tensors) > 3 else ""
        )
        parts = [
            f"weights: rho={self.value:.3f} (>= {self.threshold} related) on "
            f"{len(self.tensors)} tensors [{shown}]"
        ]
        if self.distance is not None:
            parts.append(f"distance={self.distance:.4f}")
        if self.quant_match is not None:
            parts.append(f"requantisation match={self.quant_match:.3f}")
        if self.low_rank is not None:
            parts.append(f"top-{RANK_K} energy={self.low_rank:.3f}")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def classify(child: Fingerprint, parent: Fingerprint, names: list[str]) -> PairEvidence:
    """The pair test and, if related, the relation and which side is the parent."""
    ev = PairEvidence(child=child.label, parent=parent.label, related=False, tensors=names)
    if len(names) < 2:
        ev.note = "fewer than 2 tensors of the same shape: not comparable"
        return ev
    ev.value = relatedness(child, parent, names)
    ev.related = ev.value >= RELATED
    # confidence of the verdict: distance of rho from the threshold, in units of the null sd
    ev.confidence = float(min(1.0, abs(ev.value - RELATED) / RELATED))
    if not ev.related:
        return ev
    ev.distance = distance(child, parent, names)
    down = quant_match(child, parent, names)
    up = quant_match(parent, child, names)
    if down is not None and down >= QUANT_MATCH:
        ev.relation, ev.quant_match, ev.confidence = "quantized", down, down
        return ev
    if up is not None and up >= QUANT_MATCH:
        ev.relation, ev.quant_match, ev.confidence, ev.reversed = "quantized", up, up, True
        return ev
    ev.quant_match = down if down is not None else up
    ev.low_rank, ev.changed = low_rank(child, parent, names)
    if ev.low_rank >= LOW_RANK:
        ev.relation = "adapter"
        ev.confidence = min(1.0, 0.5 + (ev.low_rank - LOW_RANK) / (2 * (1 - LOW_RANK)))
    else:
        ev.relation = "finetune"
        ev.confidence = min(1.0, 0.5 + (LOW_RANK - ev.low_rank) / (2 * LOW_RANK))
    return ev


def compare_sources(child: TensorSource, parent: TensorSource) -> PairEvidence:
    """``compare`` of the public API: fingerprints both sources, then ``classify``."""
    a, b = fingerprint(child), fingerprint(parent)
    return classify(a, b, common(a, b))


def merge_weights(target: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative weights summing to one that best write ``target`` from the columns of
    ``candidates``, and the residual norm."""
    from scipy.optimize import nnls

    scale = float(np.linalg.norm(target)) or 1.0
    big = 1e3
    a = np.vstack([candidates / scale, big * np.ones((1, candidates.shape[1]))])
    b = np.concatenate([target / scale, [big]])
    w, _ = nnls(a, b, maxiter=50 * candidates.shape[1])
    resid = float(np.linalg.norm(candidates @ w - target))
    return w, resid
