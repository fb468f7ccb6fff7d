"""What the pair test reads a model through: :class:`TensorSource`, the tensors of one model.

Apart from the package's ``__init__`` (which re-exports it beside ``compare``) so that
``stats``, which every comparison runs, depends on the protocol and not on the package that
imports ``stats`` itself: no import circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


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
