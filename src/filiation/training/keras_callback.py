"""A Keras 3 callback that records each training run in the registry.

    callback = KerasCallback(model_name="churn-scorer", datasets=["internal/churn-2026"])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=3, batch_size=32, callbacks=[callback])
    model.evaluate(x_test, y_test, callbacks=[callback])
    model.predict(x_new, callbacks=[callback])

What it records, and when (the six steps of making a model):

- ``on_train_begin``: *data preparation* (the data sets named, steps per epoch, batch
  size when given), *building* (model name and class, layers, parameters, input shape)
  and *compiling* (``model.get_compile_config()``: the optimizer and its configuration,
  the loss, the metrics);
- ``on_epoch_end``: the history of every logged value;
- ``on_train_end``: *training* (epochs run, final values, history); the run's metrics
  ``epochs`` and ``steps`` are the epochs run and the optimizer's updates during them (an early
  stop makes them fewer than asked); the *learning type* is supervised when the compiled
  loss compares outputs with targets (:mod:`filiation.training.learning`), else unset;
- ``on_test_end`` after training: *evaluating*, with its metrics (the validation passes
  inside ``fit`` also end with ``on_test_end``: they go to the history, not here);
- ``on_predict_end``: *predicting* (batches predicted).

When the run is written: Keras has no hook for ``model.save()`` (it is a plain method, and
wrapping it would change the user's model object behind their back), and most scripts save
once training is over. So the run is written when training ends, which is the state that
``model.save()`` then writes, and each evaluation or prediction passed the same callback
updates that same run with its metrics and step. Recording never stops the training: a
failure is a :class:`~filiation.training.recorder.TrainingRecordWarning`.

Keras runs on torch (installed by the extra) unless ``KERAS_BACKEND`` or ``keras.json``
chose another back end before this module is imported.

Keras cannot tell the callback the batch size ``fit`` was given: pass ``batch_size=`` (or
any other value in ``hyper_parameters=``) to record it. The registered model is named
``model_name`` (default: the Keras model's name) and derives from ``base_model`` when given
(a Hub id known to the genealogy, else a name), as ``relation`` (``finetune``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

from filiation.errors import MissingExtraError

from .learning import from_keras_loss
from .recorder import RecorderOptions, RecordingCallback


def _default_backend() -> None:
    """The ``train`` extra installs torch, not TensorFlow (Keras's default back end): when
    nothing chose a back end yet (no ``KERAS_BACKEND``, no ``keras.json``, keras not yet
    imported), Keras runs on torch."""
    if "keras" in sys.modules or "KERAS_BACKEND" in os.environ:
        return
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    if not (home / "keras.json").exists():
        os.environ["KERAS_BACKEND"] = "torch"


_default_backend()
try:
    import keras
except ImportError as exc:  # the optional extra (or the back end Keras was told to use)
    missing = "keras" if exc.name in (None, "keras") else f"{exc.name} (Keras's back end)"
    raise MissingExtraError("train", missing) from exc


class KerasCallback(RecordingCallback, keras.callbacks.Callback):  # type: ignore[misc]
    """Records a Keras model's training run, evaluations and predictions in the registry.

    The options are the :class:`~filiation.training.recorder.RecorderOptions`, and
    ``batch_size`` (Keras cannot tell a callback the one ``fit`` was given), recorded as a
    hyper-parameter, and ``output_dir``, where the model is saved.
    """

    framework = "keras"

    def __init__(
        self,
        *,
        batch_size: int | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        **options: Unpack[RecorderOptions],
    ) -> None:
        if batch_size is not None:
            options["hyper_parameters"] = {
                **(options.get("hyper_parameters") or {}),
                "batch_size": batch_size,
            }
        super().__init__(**options)
        self.recorder.output_dir = os.fspath(output_dir) if output_dir is not None else None
        self.history: dict[str, list[Any]] = {}
        self._fitting = False
        self._predicted_batches = 0
        self._start_iterations: int | None = None

    # -- training -----------------------------------------------------------------------------
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        rec, model = self.recorder, self.model
        self._fitting = True
        self._start_iterations = _iterations(model)
        if self._training_begins():  # a new run: a new history
            self.history = {}
        if rec.model_name is None:
            rec.model_name = model.name
        params = dict(self.params or {})
        rec.hyper_parameters.update(
            {"epochs": params.get("epochs"), "steps_per_epoch": params.get("steps")}
        )
        rec.step(
            "data_preparation",
            datasets=list(rec.datasets),
            steps_per_epoch=params.get("steps"),
            batch_size=rec.hyper_parameters.get("batch_size"),
        )
        rec.step(
            "building",
            model_name=model.name,
            model_class=type(model).__name__,
            layers=[layer.__class__.__name__ for layer in model.layers],
            parameters=_count(model),
            input_shape=_input_shape(model),
        )
        compiled = _compile_config(model)
        optimizer = compiled.get("optimizer")
        if isinstance(optimizer, Mapping):
            rec.hyper_parameters["optimizer"] = optimizer.get("class_name")
            config = optimizer.get("config") or {}
            for key in ("learning_rate", "weight_decay", "beta_1", "beta_2", "momentum"):
                if config.get(key) is not None:
                    rec.hyper_parameters[key] = config[key]
        rec.hyper_parameters["loss"] = compiled.get("loss")
        learning = from_keras_loss(compiled.get("loss"))
        rec.learning_type = learning.value if learning is not None else None
        rec.step(
            "compiling",
            optimizer=optimizer,
            loss=compiled.get("loss"),
            metrics=compiled.get("metrics"),
        )

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        rec = self.recorder
        self._fitting = False
        final = dict(logs or {})
        rec.metrics.update(
            {f"train_{k}" if not k.startswith("val_") else k: v for k, v in final.items()}
        )
        epochs = max((len(v) for v in self.history.values()), default=0)
        # What was run, not what was asked: an early stop ends before ``epochs``.
        rec.metrics["epochs"] = epochs
        end = _iterations(self.model)
        rec.metrics["steps"] = (
            end - self._start_iterations
            if end is not None and self._start_iterations is not None
            else None
        )
        rec.step("training", epochs=epochs, final=final, history=self.history)
        self._trained = True
        rec.save()

    # -- evaluating and predicting --------------------------------------------------------------
    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._fitting:  # a validation pass inside fit: already in the history
            return
        metrics = dict(logs or {})
        self.recorder.metrics.update({f"eval_{k}": v for k, v in metrics.items()})
        self.recorder.step("evaluating", metrics=metrics)
        if self._trained:
            self.recorder.save()

    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._predicted_batches = 0

    def on_predict_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._predicted_batches += 1

    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self.recorder.step("predicting", batches=self._predicted_batches)
        if self._trained:
            self.recorder.save()


def _compile_config(model: Any) -> dict[str, Any]:
    try:
        config = model.get_compile_config()
    except (AttributeError, NotImplementedError, ValueError):
        config = None
    if isinstance(config, Mapping):
        return dict(config)
    optimizer = getattr(model, "optimizer", None)
    return {
        "optimizer": {"class_name": type(optimizer).__name__} if optimizer is not None else None,
        "loss": getattr(model, "loss", None),
    }


def _iterations(model: Any) -> int | None:
    """The optimizer's update count so far (the steps of a run: its change during ``fit``)."""
    try:
        return int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    except (AttributeError, TypeError, ValueError):
        return None


def _count(model: Any) -> int | None:
    try:
        return int(model.count_params())
    except (ValueError, AttributeError):  # a model not built yet
        return None


def _input_shape(model: Any) -> Any:
    try:
        return [list(getattr(i, "shape", ())) for i in model.inputs]
    except (AttributeError, ValueError, TypeError):
        return None
