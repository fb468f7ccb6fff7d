"""The framework-agnostic part of the training callbacks: collect, then record a run.

A :class:`TrainingRecorder` collects the six steps of making a model, each with the time it
was seen and its details, the hyper-parameters, the metrics and the data sets, and
:meth:`TrainingRecorder.save` writes them to the registry as one training run (the first
save creates it, later saves of the same recorder update it, so that an evaluation after
training lands in the same run).

Recording must never stop a training run: any failure to record (no such registry user, a
role too low, an unreachable database...) becomes a :class:`TrainingRecordWarning` and is
counted in :attr:`TrainingRecorder.failures`; the training goes on.
"""

from __future__ import annotations

import getpass
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict, Unpack

from filiation.errors import InvalidArgumentError
from filiation.registry.models import TRAINING_STEPS

if TYPE_CHECKING:
    from filiation.registry.models import TrainingRun
    from filiation.service import Genealogy

#: The six steps of making a model, in their usual order.
STEPS = TRAINING_STEPS
ENV_USER = "FILIATION_USER"

logger = logging.getLogger("filiation.training")


class TrainingRecordWarning(UserWarning):
    """A training run could not be recorded in the registry (the training went on)."""


class TrainingRecorder:
    """Collects a training run and records it in the registry of ``db``.

    ``db``: a :class:`~filiation.service.Genealogy`, or a store (path or URL) opened when
    the run is first saved; default: ``$FILIATION_DB`` or the default store, like the CLI.
    ``user``: the registry user the run is recorded as (needs the editor role); default:
    ``$FILIATION_USER``, else the OS user name, like the CLI.
    """

    def __init__(
        self,
        *,
        framework: str,
        model_name: str | None = None,
        base_model: str | None = None,
        relation: str = "finetune",
        datasets: Sequence[str] | None = None,
        hyper_parameters: Mapping[str, Any] | None = None,
        db: Genealogy | str | os.PathLike[str] | None = None,
        user: str | None = None,
    ) -> None:
        self.framework = framework
        self.model_name = model_name
        self.base_model = base_model
        self.relation = relation
        self.datasets: list[str] = list(datasets or [])
        self.hyper_parameters: dict[str, Any] = dict(hyper_parameters or {})
        self.metrics: dict[str, Any] = {}
        self.steps: list[dict[str, Any]] = []
        self.output_dir: str | None = None
        #: The run's learning type, when the callback could tell (training/learning.py).
        self.learning_type: str | None = None
        self.user = user or os.environ.get(ENV_USER) or getpass.getuser()
        self._db = db
        self._genealogy: Genealogy | None = None
        #: Saves that failed (each also warned); the training went on.
        self.failures = 0
        #: The run as last recorded (None until a save succeeds).
        self.run: TrainingRun | None = None

    # -- collecting ---------------------------------------------------------------------------
    def step(self, name: str, **details: Any) -> None:
        """One of :data:`STEPS` happened now (a step seen twice is kept twice)."""
        if name not in STEPS:
            raise InvalidArgumentError(f"unknown step {name!r}; steps are: {', '.join(STEPS)}")
        at = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        self.steps.append({"step": name, "at": at, "details": details})

    def has_step(self, name: str) -> bool:
        return any(s["step"] == name for s in self.steps)

    def add_datasets(self, names: Sequence[str]) -> None:
        for name in names:
            if name and name not in self.datasets:
                self.datasets.append(name)

    def new_run(self) -> None:
        """Start another run (the same callback trains again): the next save creates it.
        The data sets and hyper-parameters given stay; steps and metrics start afresh."""
        self.run = None
        self.steps = []
        self.metrics = {}

    # -- recording ----------------------------------------------------------------------------
    def genealogy(self) -> Genealogy:
        if self._genealogy is None:
            from filiation.service import Genealogy

            db = self._db
            self._genealogy = db if isinstance(db, Genealogy) else Genealogy(db)
        return self._genealogy

    def save(self) -> TrainingRun | None:
        """Record the run as collected so far; None (and a warning) if it cannot be."""
        name = self.model_name or "model"
        try:
            reg = self.genealogy().registry
            self.run = reg.record_training(
                name,
                framework=self.framework,
                actor=reg.actor(self.user),
                base_model=self.base_model,
                relation=self.relation,
                datasets=self.datasets,
                hyper_parameters=self.hyper_parameters,
                metrics=self.metrics,
                steps=self.steps,
                output_dir=self.output_dir,
                run=self.run.id if self.run is not None else None,
                learning_type=self.learning_type,
            )
            return self.run
        except Exception as exc:  # recording must never stop the training
            self.failures += 1
            message = f"filiation could not record the training run of {name!r}: {exc}"
            logger.warning(message)
            warnings.warn(message, TrainingRecordWarning, stacklevel=2)
            return None


class RecorderOptions(TypedDict, total=False):
    """The options of the training callbacks, handed to their :class:`TrainingRecorder`: what
    the run is known by before the framework says more (each callback reads the rest from the
    training it sees; a ``base_model`` given is kept over what the model says), and where
    (``db``) and as whom (``user``) it is recorded. Each is the recorder's parameter."""

    model_name: str | None
    base_model: str | None
    relation: str
    datasets: Sequence[str] | None
    hyper_parameters: Mapping[str, Any] | None
    db: Genealogy | str | os.PathLike[str] | None
    user: str | None


class RecordingCallback:
    """What the Keras and the transformers callbacks share; each is this and its framework's
    callback class: the recorder of the run, made from the :class:`RecorderOptions`; the count
    of failed saves; a second training with the same callback is a new run."""

    #: The framework's name, recorded with each run.
    framework: ClassVar[str]

    def __init__(self, **options: Unpack[RecorderOptions]) -> None:
        super().__init__()
        self.recorder = TrainingRecorder(framework=self.framework, **options)
        self._explicit_base = options.get("base_model") is not None
        #: Whether the current run's training has ended (then evaluations update it).
        self._trained = False

    @property
    def failures(self) -> int:
        return self.recorder.failures

    def _training_begins(self) -> bool:
        """A training begins: after one that ended, the same callback trains again, which is
        a new run (then True)."""
        if not self._trained:
            return False
        self.recorder.new_run()
        self._trained = False
        return True
