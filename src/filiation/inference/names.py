"""Name keys: what a model's name says about its parent, once the noise is removed.

A quantised or fine-tuned copy usually keeps its original's name and adds suffixes
(``-Q4_K_M-GGUF``, ``-Instruct``, ``-v2``) or a segment before or after it. Removing those
suffixes (the *exact* and *loose* keys) and cutting segments (the *cuts*) turns "is this
named after that?" into equality of keys, which blocking compares at Hub scale.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: How many trailing (then leading) name segments may be cut to meet a parent's name.
CUT_LEVELS = 3
#: The name variants tried after the exact and loose keys: ``<parent>-x``, ``x-<parent>``...
CUTS = (
    *(f"end{i}" for i in range(1, CUT_LEVELS + 1)),
    *(f"start{i}" for i in range(1, CUT_LEVELS + 1)),
)

# Name tokens, matched as whole suffixes after a separator (``-``, ``_``, ``.``, space).
_FORMAT_TOKENS = (
    r"gguf|ggml|awq|gptq|exl2|exl3|mlx|bnb|nf4|mxfp4|fp8|fp16|bf16|f16|f32|fp32|fp4|int4|int8|"
    r"w4a16|w8a8|w8a16|w4a4|hqq|onnx|openvino|ov|i1|imatrix|quantized|quants?|"
    r"[2-8]-?bits?|q[2-8](?:-k)?(?:-[a-z0-9]{1,2})*|iq[1-4](?:-[a-z0-9]{1,3})*|\d+(?:\.\d+)?bpw|h[468]|hf|"
    r"dynamic|unsloth|lite"
)
#: ``-hf`` says "converted to the transformers layout": the name key drops it, but it marks
#: no format copy (``Llama-2-7b-chat-hf`` is the parent of the GGUF and AWQ copies).
_COPY_TOKENS = _FORMAT_TOKENS.replace("|hf|", "|")
#: Format tokens of repositories made to run, not to train from (see ``TERMINAL``).
_TERMINAL_TOKENS = (
    r"gguf|ggml|awq|gptq|exl2|exl3|mlx|onnx|openvino|"
    r"q[2-8]-k(?:-[a-z0-9]{1,2})*|q[2-8]-[01]|iq[1-4](?:-[a-z0-9]{1,3})*|\d+(?:\.\d+)?bpw"
)
_ADAPTER_TOKENS = r"lora|qlora|peft|adapters?"
_TRAINING_TOKENS = (
    r"sft|dpo|orpo|kto|simpo|grpo|ppo|rlhf|ft|finetuned?|fine-?tuned|tuned|instruct|chat|it|"
    r"merged?|v\d+(?:\.\d+)*|\d{3,}|checkpoint-?\d+|ckpt|epochs?-?\d*|steps?-?\d+|base|test|"
    r"new|final|exp\d*"
)


def _suffix(tokens: str) -> str:
    return rf"(?:[-_. ](?:{tokens}))+$"


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
        "name_format": pc.fill_null(
            pc.match_substring_regex(name, _suffix(_COPY_TOKENS)), False
        ).to_numpy(zero_copy_only=False),
        "name_adapter": pc.fill_null(pc.not_equal(exact, no_fmt), False).to_numpy(
            zero_copy_only=False
        ),
        "name_terminal": pc.fill_null(
            pc.match_substring_regex(name, rf"[-. ](?:{_TERMINAL_TOKENS})(?:[-. ]|$)"), False
        ).to_numpy(zero_copy_only=False),
        "exact": short(exact),
        "loose": short(loose),
    }
    # A cut may leave a format suffix at the new end (``llama-3-8b-bnb-4bit-python`` cut to
    # ``llama-3-8b-bnb-4bit``): it goes, as from a whole name.
    strip = _suffix(f"{_FORMAT_TOKENS}|{_ADAPTER_TOKENS}")
    out.update(
        {
            k: short(pc.replace_substring_regex(v, strip, ""))
            for k, v in _cuts(short(exact), n).items()
        }
    )
    return out


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


def _names(ids: pa.Array) -> pa.Array:
    """Model names as name keys see them: lower case, no author, ``_`` as ``-``."""
    keys = pc.utf8_lower(ids)
    parts = pc.split_pattern(keys, "/", max_splits=1)
    has_slash = pc.fill_null(pc.equal(pc.list_value_length(parts), 2), False)
    parts = pc.if_else(has_slash, parts, pa.scalar(["", ""], parts.type))
    name = pc.if_else(has_slash, pc.list_element(parts, 1), keys)
    return pc.replace_substring(pc.fill_null(name, ""), "_", "-")
