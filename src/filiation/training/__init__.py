"""Lineage recorded while training: callbacks that write each training run to the registry.

``TransformersCallback`` (a ``transformers.TrainerCallback``) and ``KerasCallback`` (a
``keras.callbacks.Callback``) collect the six steps of making a model — data preparation,
building, compiling, training, evaluating, predicting — and record, when the model is saved,
what it was trained from, on which data sets, with which hyper-parameters and metrics
(:meth:`filiation.registry.service.Registry.record_training`). Both rest on the
framework-agnostic :class:`~filiation.training.recorder.TrainingRecorder`.

The frameworks are an optional extra (``pip install 'filiation[train]'``): they are
imported only when a callback is first used, so ``import filiation`` never needs them.
"""

from __future__ import annotations

from typing import Any

from .recorder import STEPS, TrainingRecorder, TrainingRecordWarning

__all__ = [
    "STEPS",
    "KerasCallback",
    "TrainingRecordWarning",
    "TrainingRecorder",
    "TransformersCallback",
]


def __getattr__(name: str) -> Any:
    if name == "TransformersCallback":
        from .transformers_callback import TransformersCallback

        return TransformersCallback
    if name == "KerasCallback":
        from .keras_callback import KerasCallback

        return KerasCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
