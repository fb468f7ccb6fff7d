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

from typing import TYPE_CHECKING

from filiation.inference.weights.source import TensorSource

if TYPE_CHECKING:
    from filiation.inference.weights.stats import PairEvidence


def compare(child: TensorSource, parent: TensorSource) -> PairEvidence:
    """Are ``child`` and ``parent`` related, and if so how (quantized, adapter, finetune)?

    The statistic, threshold and tensors used are in the returned evidence; see
    ``stats.relatedness`` for the test and docs/weights.md for its calibration.
    """
    from filiation.inference.weights.stats import compare_sources

    return compare_sources(child, parent)


__all__ = ["TensorSource", "compare"]
