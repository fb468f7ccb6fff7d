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

Where each step lives: :mod:`~filiation.inference.features` (reading the dump),
:mod:`~filiation.inference.names` (name keys), :mod:`~filiation.inference.candidates`
(blocking), :mod:`~filiation.inference.signals` (a pair's signals),
:mod:`~filiation.inference.scoring` (the logistic model); this module keeps the public
entry (:func:`infer`, :class:`Suspects`, :func:`fit`, :func:`evidence_json`) and re-exports
the names callers import from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from filiation.domain import Relation
from filiation.inference import METADATA_SOURCE
from filiation.inference.candidates import MAX_HEADS, PARAMS_LEVEL, Pairs, candidates
from filiation.inference.features import (
    ADAPTER,
    ADAPTER_LIBRARIES,
    ADAPTER_TAGS,
    COLUMNS,
    FMT,
    FORMAT_LIBRARIES,
    FORMAT_TAGS,
    INSTRUCTED,
    MERGE,
    MERGE_TAGS,
    SUFFIXED,
    TRAINED,
    TRAINING_TAGS,
    UNKNOWN,
    Features,
    Progress,
    hash_strings,
    read_features,
)
from filiation.inference.names import CUT_LEVELS, CUTS, _names, name_keys
from filiation.inference.scoring import (
    CHUNK,
    STAGE2,
    Best,
    Model,
    best_per_child,
    fit_logistic,
    scores,
)
from filiation.inference.signals import FEATURES, Context, context, signals

__all__ = [
    "ADAPTER",
    "ADAPTER_LIBRARIES",
    "ADAPTER_TAGS",
    "CHUNK",
    "COLUMNS",
    "CUTS",
    "CUT_LEVELS",
    "FEATURES",
    "FMT",
    "FORMAT_LIBRARIES",
    "FORMAT_TAGS",
    "INSTRUCTED",
    "MAX_HEADS",
    "MERGE",
    "MERGE_TAGS",
    "MIN_KEPT",
    "NAME_MATCH",
    "PARAMS_LEVEL",
    "SOURCE",
    "STAGE2",
    "SUFFIXED",
    "TRAINED",
    "TRAINING_TAGS",
    "UNKNOWN",
    "Best",
    "Context",
    "Features",
    "Model",
    "Pairs",
    "Progress",
    "Suspects",
    "best_per_child",
    "candidates",
    "context",
    "evidence_json",
    "fit",
    "fit_logistic",
    "hash_strings",
    "infer",
    "name_keys",
    "read_features",
    "relation_of",
    "scores",
    "signals",
]

SOURCE = METADATA_SOURCE
#: Suspects below this confidence are not kept at all (not worth showing, even on request).
MIN_KEPT = 0.05
#: Parts the fitting families are dealt into for stage 2's out-of-family scores.
CALIBRATION_FOLDS = 4


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
    "same architecture, parameter count within 0.4 %",
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
    conf = model.confidence(best.stage2)
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


def _design(
    feat: Features, declared: np.ndarray, truth: set[tuple[int, int]], children: np.ndarray
) -> tuple[Context, Pairs, np.ndarray, np.ndarray]:
    """The candidate pairs of ``children`` (their parents hidden), their signals, and which
    pairs are right."""
    pairs = candidates(feat, ~declared)
    pairs = pairs.select(np.isin(pairs.child, children))
    ctx = context(feat, declared)
    x = signals(feat, ctx, pairs)
    y = np.fromiter(
        ((int(c), int(p)) in truth for c, p in zip(pairs.child, pairs.parent, strict=True)),
        bool,
        len(pairs),
    )
    return ctx, pairs, x, y


def fit(
    feat: Features,
    declared: np.ndarray,
    truth: set[tuple[int, int]],
    fit_children: np.ndarray,
    *,
    groups: np.ndarray | None = None,
) -> Model:
    """Fit both stages on the children ``fit_children`` (rows whose declared parents were
    hidden: ``declared`` is false for them) against their hidden parents ``truth``.

    ``groups`` (a family label per child of ``fit_children``): stage 2 is then fitted on
    out-of-family scores, as the confidence will be used on unseen families: the families
    are dealt into :data:`CALIBRATION_FOLDS` parts, and each part's children are scored by a
    stage 1 fitted on the other parts (two halves would leave each scoring fit half the
    data, and its scores on another scale than the shipped fit's). Without ``groups``,
    stage 2 is fitted on the scores of the same children (optimistic: for tiny samples)."""
    ctx, pairs, x, y = _design(feat, declared, truth, fit_children)
    stage1 = fit_logistic(x, y)
    scored = [(fit_children, stage1)]
    if groups is not None:
        labels = np.unique(groups)
        part = np.arange(len(labels)) % CALIBRATION_FOLDS
        np.random.default_rng(0).shuffle(part)
        part_of = dict(zip(labels.tolist(), part.tolist(), strict=True))
        parts = np.array([part_of[g] for g in np.asarray(groups).tolist()], np.int64)
        scored = []
        for i in range(CALIBRATION_FOLDS):
            held = parts == i
            if not held.any():
                continue
            seen = np.isin(pairs.child, fit_children[~held])
            scored.append((fit_children[held], fit_logistic(x[seen], y[seen])))
    s2x, s2y = [], []
    for children, w in scored:
        sel = np.isin(pairs.child, children)
        best = best_per_child(feat, ctx, pairs.select(sel), x[sel].astype(np.float64) @ w)
        s2x.append(best.stage2)
        s2y.append(
            np.fromiter(
                ((int(c), int(p)) in truth for c, p in zip(best.child, best.parent, strict=True)),
                bool,
                len(best.child),
            )
        )
    stage2 = fit_logistic(np.vstack(s2x), np.concatenate(s2y))
    return Model(stage1, stage2)


def evidence_json(suspects: Suspects) -> list[str]:
    """The stored evidence of every suspect: its confidence and signals, as JSON text (the
    confidence first: the index reads it from there)."""
    conf = np.round(suspects.confidence, 4).tolist()
    return [
        orjson.dumps({"confidence": c, "signals": ev}).decode()
        for c, ev in zip(conf, suspects.evidences(), strict=True)
    ]
