"""The shipped logistic model and the scoring of candidates with it.

Stage 1 scores every candidate pair; each child keeps its best one, and stage 2 (Platt
scaling over the score, the margin to the runner-up and the number of candidates) turns
that into a calibrated confidence. Both were fitted on masked declared links (see
``metadata_model.json``'s ``fitted_on`` and ``benchmarks/infer.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from filiation.inference.candidates import Pairs
from filiation.inference.features import Features
from filiation.inference.signals import FEATURES, Context, signals


@dataclass
class Model:
    """Fitted coefficients: pair scores, then the calibration of each child's best pair."""

    stage1: np.ndarray
    stage2: np.ndarray
    fitted_on: str = ""

    def confidence(self, stage2_inputs: np.ndarray) -> np.ndarray:
        """The calibrated confidence of each child's best candidate (Platt scaling)."""
        return _sigmoid(stage2_inputs @ self.stage2)

    @classmethod
    def bundled(cls) -> Model:
        text = resources.files("filiation.inference").joinpath("metadata_model.json").read_text()
        return cls.from_json(json.loads(text))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        if list(data["features"]) != list(FEATURES) or list(data.get("stage2_features", ())) != [
            *STAGE2,
            *STAGE2_SIGNALS,
        ]:
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
            "stage2_features": [*STAGE2, *STAGE2_SIGNALS],
            "stage2": [round(float(x), 6) for x in self.stage2],
        }


STAGE2 = ("bias", "score", "margin", "log_candidates")
#: Signals of the best pair that stage 2 weighs too: how sure a score is differs between a
#: format copy named after its parent and a fine-tune, between a dump with dates and sizes
#: and one with names only, and with how the pair was found (a publisher's ``X-Instruct``
#: and its own ``X`` are right nine times in ten; two models met by their size alone, three
#: times in ten, whatever their score says: one score scale cannot hold both).
STAGE2_SIGNALS = (
    "child_format",
    "child_adapter",
    "child_merge",
    "exact_name",
    "dates_known",
    "params_known",
    "same_publisher",
    "loose_name",
    "params_block",
    "size_block",
    "own_base",
    "publisher_series",
    "format_from_plain",
    "closest_match",
    "parent_has_instruct_twin",
)


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
        width = len(STAGE2) + len(STAGE2_SIGNALS)
        return Best(e, e, np.zeros((0, width)), np.zeros((0, len(FEATURES)), np.float32), e)
    order = np.lexsort((-score, pairs.child))
    ch = pairs.child[order]
    starts = np.flatnonzero(np.r_[True, ch[1:] != ch[:-1]])
    counts = np.diff(np.r_[starts, len(ch)])
    top = order[starts]
    second = np.where(counts > 1, score[order[np.minimum(starts + 1, len(ch) - 1)]], -np.inf)
    margin = np.minimum(score[top] - second, 10.0)
    x_top = signals(feat, ctx, pairs.select(top))
    s2 = np.column_stack(
        [
            np.ones(len(top)),
            score[top],
            margin,
            np.log(counts.astype(np.float64)),
            *(x_top[:, FEATURES.index(name)] for name in STAGE2_SIGNALS),
        ]
    )
    return Best(pairs.child[top], pairs.parent[top], s2, x_top, top)
