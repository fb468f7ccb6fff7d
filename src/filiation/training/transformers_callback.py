"""A ``transformers`` Trainer callback that records each training run in the registry.

    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=test,
                      callbacks=[TransformersCallback(base_model="openai-community/gpt2")])

What it records, and when (the six steps of making a model):

- ``on_train_begin``: *data preparation* (the training set's size and columns, and its name
  when it is a ``datasets.Dataset`` that knows it), *building* (model class and type,
  parameters, the base it was loaded from), *compiling* (optimizer, learning-rate schedule)
  and the main hyper-parameters of the ``TrainingArguments``; the *learning type* from the
  model's head, the trainer's configuration and whether it starts from a base
  (:mod:`filiation.training.learning`), set on the registered model unless it has one;
- ``on_train_end``: *training* (steps, epochs, final training loss); the run's metrics
  ``epochs`` and ``steps`` are what was run (``state.epoch``, ``state.global_step``), and of
  ``num_train_epochs`` and ``max_steps`` only the one in effect is kept (a positive
  ``max_steps`` overrides the epochs);
- ``on_evaluate`` / ``on_predict``: *evaluating* / *predicting*, with their metrics.

The run is written when the Trainer saves the model (``on_save``, at each checkpoint). The
Trainer calls no callback for ``trainer.save_model()``, and training without checkpoints
saves nothing, so the run is also written when training ends; an evaluation or prediction
after that updates the same run. Recording never stops the training: a failure is a
:class:`~filiation.training.recorder.TrainingRecordWarning`.

The registered model is named ``model_name`` (default: the ``output_dir``'s folder name)
and derives from its base: ``base_model`` if given, else the model's
``config._name_or_path`` / ``name_or_path`` (transformers 5 no longer writes it to
``config.json``, but keeps it on a model loaded with ``from_pretrained``), as ``finetune``,
or ``adapter`` for a ``peft`` model (whose base is the adapter's base model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filiation.errors import MissingExtraError

from .learning import from_transformers
from .recorder import RecordingCallback

try:
    from transformers import TrainerCallback
except ImportError as exc:  # the optional extra is not installed
    raise MissingExtraError("train", "transformers") from exc

#: The TrainingArguments recorded as hyper-parameters (when the installed version has them).
HYPER_PARAMETERS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "max_grad_norm",
    "warmup_steps",
    "seed",
    "optim",
    "lr_scheduler_type",
    "fp16",
    "bf16",
)


class TransformersCallback(RecordingCallback, TrainerCallback):  # type: ignore[misc]
    """Records the training run of a ``transformers.Trainer`` in filiation's registry.

    The options are the :class:`~filiation.training.recorder.RecorderOptions`; ``datasets``:
    the training data sets' ids, when the training set does not name itself.
    """

    framework = "transformers"

    # -- the steps ----------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        rec = self.recorder
        model = kwargs.get("model")
        self._training_begins()
        rec.output_dir = str(args.output_dir) if args.output_dir else None
        if rec.model_name is None:
            rec.model_name = Path(args.output_dir or "model").resolve().name
        rec.hyper_parameters.update(
            {name: getattr(args, name) for name in HYPER_PARAMETERS if hasattr(args, name)}
        )
        # A positive max_steps overrides num_train_epochs: keep only the one in effect.
        by_steps = (rec.hyper_parameters.get("max_steps") or 0) > 0
        overridden = "num_train_epochs" if by_steps else "max_steps"
        rec.hyper_parameters.pop(overridden, None)
        base, adapter = _base_of(model)
        if adapter:
            rec.relation = "adapter"
        if not self._explicit_base:
            rec.base_model = base
        learning = from_transformers(
            _class_names(model), type(args).__name__, from_base=rec.base_model is not None
        )
        rec.learning_type = learning.value if learning is not None else None
        dataset = getattr(kwargs.get("train_dataloader"), "dataset", None)
        named = _dataset_names(dataset)
        rec.add_datasets(named)
        rec.step(
            "data_preparation",
            datasets=list(rec.datasets),
            rows=_len(dataset),
            columns=list(getattr(dataset, "column_names", None) or []),
        )
        rec.step(
            "building",
            model_class=type(model).__name__ if model is not None else None,
            model_type=getattr(getattr(model, "config", None), "model_type", None),
            parameters=_parameters(model),
            base_model=rec.base_model,
            adapter=adapter,
            learning_type=rec.learning_type,
        )
        optimizer = kwargs.get("optimizer")
        scheduler = kwargs.get("lr_scheduler")
        rec.step(
            "compiling",
            optimizer=type(optimizer).__name__ if optimizer is not None else None,
            optim=getattr(args, "optim", None),
            lr_scheduler=type(scheduler).__name__ if scheduler is not None else None,
            lr_scheduler_type=getattr(args, "lr_scheduler_type", None),
        )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        rec = self.recorder
        train_loss = next(
            (e["train_loss"] for e in reversed(state.log_history) if "train_loss" in e), None
        )
        if train_loss is not None:
            rec.metrics["train_loss"] = train_loss
        # What was run, not what was asked: max_steps or an early stop change both.
        rec.metrics["epochs"] = round(float(state.epoch or 0.0), 4)
        rec.metrics["steps"] = int(state.global_step)
        rec.step(
            "training",
            global_step=state.global_step,
            epochs=state.epoch,
            train_loss=train_loss,
        )
        self._trained = True
        self._save(state)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
    ) -> None:
        self.recorder.metrics.update(dict(metrics or {}))
        self.recorder.step("evaluating", metrics=dict(metrics or {}))
        if self._trained:  # an evaluation after training: the recorded run is updated
            self._save(state)

    def on_predict(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
    ) -> None:
        self.recorder.step("predicting", metrics=dict(metrics or {}))
        if self._trained:
            self._save(state)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._save(state)

    def _save(self, state: Any) -> None:
        # In distributed training every process runs the callbacks: one records.
        if getattr(state, "is_world_process_zero", True):
            self.recorder.save()


def _base_of(model: Any) -> tuple[str | None, bool]:
    """(the model it was loaded from, whether it is a peft adapter on that model)."""
    if model is None:
        return None, False
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and peft_config:
        config = peft_config.get(getattr(model, "active_adapter", "default")) or next(
            iter(peft_config.values())
        )
        base = getattr(config, "base_model_name_or_path", None)
        if base:
            return str(base), True
    for holder in (getattr(model, "config", None), model):
        for attr in ("_name_or_path", "name_or_path"):
            value = getattr(holder, attr, None)
            if isinstance(value, str) and value.strip():
                return value.strip(), False
    return None, False


def _class_names(model: Any) -> list[str]:
    """The class of the model trained and, under a ``peft`` wrapper, of the model it wraps
    (``PeftModel`` around ``GPT2LMHeadModel``): the head says the learning type."""
    names: list[str] = []
    seen = 0
    while model is not None and seen < 4:  # a wrapper's wrapper, never an endless chain
        names.append(type(model).__name__)
        get_base = getattr(model, "get_base_model", None)
        inner = get_base() if callable(get_base) else None
        model = inner if inner is not model else None
        seen += 1
    return names


def _dataset_names(dataset: Any) -> list[str]:
    """A ``datasets.Dataset``'s own name (``info.dataset_name``, else its builder's)."""
    info = getattr(dataset, "info", None)
    for attr in ("dataset_name", "builder_name"):
        value = getattr(info, attr, None)
        if isinstance(value, str) and value.strip():
            return [value.strip()]
    return []


def _len(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None


def _parameters(model: Any) -> int | None:
    try:
        return int(sum(p.numel() for p in model.parameters()))
    except (AttributeError, TypeError):
        return None
