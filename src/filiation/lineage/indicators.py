"""Per-node indicators computed once when the index is built, from its link arrays.

Kept apart from :mod:`filiation.lineage.build` so that each indicator is one small
function of arrays: the build calls it on the finished links and stores the column.
"""

from __future__ import annotations

import numpy as np

from filiation.domain import KIND_CODES, RELATION_CODES, NodeKind, Relation


def citations(
    child: np.ndarray,
    parent: np.ndarray,
    rel: np.ndarray,
    suspected: np.ndarray,
    kind: np.ndarray,
) -> np.ndarray:
    """How many distinct models name each node as a parent, over declared links.

    A model citing a node is a model with a link to it of any relation but ``published_by``
    (a model publishing is not a model naming an origin): ``finetune``, ``quantized``,
    ``adapter``, ``merge``, ``unspecified`` for a model, ``trained_on`` for a data set.
    A model linked twice to the same parent (say ``finetune`` and ``adapter``) counts once;
    suspected (inferred) links and a model naming itself never count. Unlike
    ``descendants``, nothing is followed beyond the direct children: it is the CNIL
    demonstrator's "citations" (how often a model is named as a base), not the size of its
    family. Authors get 0.

    Vectorised (one ``np.unique`` over the pairs and one ``bincount``): a few hundred
    milliseconds on the full Hub, no Python loop over nodes.
    """
    n = len(kind)
    keep = (
        (np.asarray(rel) != RELATION_CODES[Relation.PUBLISHED_BY])
        & ~np.asarray(suspected, bool)
        & (np.asarray(kind)[child] == KIND_CODES[NodeKind.MODEL])
        & (np.asarray(child) != np.asarray(parent))
    )
    if not keep.any():
        return np.zeros(n, np.int32)
    pairs = np.unique(np.asarray(parent)[keep].astype(np.int64) * n + np.asarray(child)[keep])
    return np.bincount(pairs // n, minlength=n).astype(np.int32)
