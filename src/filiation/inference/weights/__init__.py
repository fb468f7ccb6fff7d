"""Lineage recovered from the weights themselves: which models on disk derive from which.

A model's files may say nothing of its origin; its weights still do. Two models that share an
initialisation keep correlated weights through any amount of fine-tuning, while models trained
from independent initialisations have weight correlations indistinguishable from zero. On the
models found by a scan, this package:

1. reads a fixed sample of rows of each 2-D tensor, one tensor at a time, from safetensors (any
   float dtype, int8 per-row), GGUF (dequantised by the ``gguf`` package) and PEFT adapters,
   never unpickling anything and never holding more than one tensor's sampled rows per read;
2. tests each pair of compatible models for relatedness (``stats.relatedness``: the median,
   over shared tensors, of the Pearson correlation of the sampled weights);
3. within each related family, finds quantised copies (the child's values are the parent's
   rounded onto the child's storage grid), merges (the child is a convex combination of other
   members), then a spanning tree of the rest, rooted at its most central model, each link
   typed adapter (low-rank difference) or fine-tune.

``compare`` runs the pair test on any two :class:`TensorSource` objects, so the same statistic
applies to files on disk and to tensors read from the Hub by byte ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from filiation.inference.weights.stats import PairEvidence


@runtime_checkable
class TensorSource(Protocol):
    """The tensors of one model, read lazily.

    ``names`` are canonical (``stats`` compares tensors of the same name): readers map the
    names of a format (Hugging Face, GGUF) to one spelling. ``read`` returns float32 values,
    dequantised, of the given rows (first axis) of a tensor, with at most ``max_cols`` leading
    columns; a reader must not load the whole tensor to do so when the format allows it.
    """

    label: str

    def names(self) -> list[str]: ...

    def shape(self, name: str) -> tuple[int, ...]: ...

    def storage(self, name: str) -> str:
        """How the tensor is stored: ``F32``, ``F16``, ``BF16``, ``I8-row`` or a GGUF type."""
        ...

    def read(
        self, name: str, rows: Sequence[int] | None = None, max_cols: int | None = None
    ) -> np.ndarray: ...

    def requantize(self, name: str, rows: Sequence[int], values: np.ndarray) -> np.ndarray | None:
        """``values`` (float rows of this tensor's shape) rounded as this model stores them,
        then dequantised; ``None`` when this model stores full-precision floats."""
        ...


def compare(child: TensorSource, parent: TensorSource) -> PairEvidence:
    """Are ``child`` and ``parent`` related, and if so how (quantized, adapter, finetune)?

    The statistic, threshold and tensors used are in the returned evidence; see
    ``stats.relatedness`` for the test and docs/weights.md for its calibration.
    """
    from filiation.inference.weights.stats import compare_sources

    return compare_sources(child, parent)


__all__ = ["TensorSource", "compare"]
