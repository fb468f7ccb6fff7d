"""The signals of a candidate pair: the columns the logistic model weighs.

``FEATURES`` names the columns, in the order of the fitted coefficients
(``metadata_model.json`` says which names it was fitted on, and loading refuses others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filiation.inference.candidates import PARAMS_LEVEL, SIZE_LEVEL, Pairs
from filiation.inference.features import (
    ADAPTER,
    FMT,
    INSTRUCTED,
    MERGE,
    SUFFIXED,
    TRAINED,
    UNKNOWN,
    Features,
)
from filiation.inference.names import CUT_LEVELS

FEATURES = (
    "bias",
    "exact_name",
    "loose_name",
    "end_cut",
    "start_cut",
    "params_block",
    "size_block",
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
    "top_downloaded",
    "log_download_place",
    "closest_match",
    "name_cover",
    "format_from_plain",
    "own_base",
    "publisher_series",
    "parent_has_instruct_twin",
)


def _share(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the share of its group (publisher) whose ``values`` are true."""
    ok = codes >= 0
    size = max(int(codes.max()) + 1, 1) if len(codes) else 1
    total = np.bincount(codes[ok], minlength=size)
    hits = np.bincount(codes[ok], weights=values[ok].astype(np.float64), minlength=size)
    share = hits / np.maximum(total, 1)
    return np.where(ok, share[np.maximum(codes, 0)], 0.0)


def _instruct_twin(feat: Features) -> np.ndarray:
    """Per row: a base model whose publisher also has a post-trained model of its loose name
    (``Llama-3.1-8B`` and ``Llama-3.1-8B-Instruct``). A child named after the base is as
    often made from the twin: the name alone cannot tell them apart."""
    ok = (feat.loose >= 0) & (feat.author >= 0)
    group = np.where(ok, feat.loose ^ (feat.author.astype(np.int64) * 0x9E3779B1), -1)
    instructed = ok & ((feat.flags & INSTRUCTED) > 0)
    keys, inverse = np.unique(group, return_inverse=True)
    has = np.zeros(len(keys), bool)
    has[inverse[instructed]] = True
    return ok & ~instructed & has[inverse]


@dataclass
class Context:
    """Per-model quantities that depend on the whole dump (computed once)."""

    format_share: np.ndarray
    derived_share: np.ndarray
    declared: np.ndarray
    instruct_twin: np.ndarray


def context(feat: Features, declared: np.ndarray) -> Context:
    return Context(
        format_share=_share(feat.author, (feat.flags & FMT) > 0),
        derived_share=_share(feat.author, declared),
        declared=declared,
        instruct_twin=_instruct_twin(feat),
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
    col("size_block", level == SIZE_LEVEL)
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
    # Against the child's other candidates.
    if pairs.dl_rank is not None and pairs.level_gap is not None:
        col("top_downloaded", pairs.dl_rank == 0)
        col("log_download_place", np.log1p(pairs.dl_rank))
        col("closest_match", pairs.level_gap == 0)
    # How much of the child's name the parent's name explains (1: all of it).
    lc, lp = feat.key_len[c].astype(np.float64), feat.key_len[p].astype(np.float64)
    col("name_cover", np.where((lc > 0) & (lp > 0), np.minimum(lp / np.maximum(lc, 1), 1.0), 0))
    # A format copy of a plain (not post-trained, not merged) model of its name.
    col("format_from_plain", child_fmt & exact & ((fp & (FMT | ADAPTER | MERGE)) == 0))
    # A publisher's ``X-Instruct`` made from its own ``X`` (or ``X-Base``): the loose names
    # meet, the child says post-training and the parent does not.
    same_pub = (feat.author[c] == feat.author[p]) & (feat.author[c] >= 0)
    col("own_base", same_pub & (level == 1) & ((fc & INSTRUCTED) > 0) & ((fp & INSTRUCTED) == 0))
    # Two models of one publisher's series met by their size only: as often siblings
    # (``calme-2.2``, ``calme-2.3``) as parent and child.
    col("publisher_series", same_pub & (level >= PARAMS_LEVEL))
    col("parent_has_instruct_twin", ctx.instruct_twin[p] & ((fc & INSTRUCTED) == 0))
    return out
