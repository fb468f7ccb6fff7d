"""The registry's one entry point, :class:`Registry` (``Genealogy.registry``).

Every write takes the acting :class:`User`, checks their role, and commits the change and
its history entry in one transaction: a refused or failed write leaves nothing behind.
Records are never deleted (retiring marks them). Reads are plain queries; the registry is an
organisation's inventory (hundreds or thousands of rows), so records are assembled in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select

from filiation.store import schema

from .base import Ref, row_fields
from .models import HistoryEntry, Role, TrainingRun, User
from .records import Records
from .users import SESSION_HOURS, UserAccounts

if TYPE_CHECKING:
    from filiation.sources.local_folder import ScanResult

    from .etalab import ImportReport
    from .impact import ModelAncestry, RegistryImpact
    from .scanned import ScanRegistration

__all__ = ["SESSION_HOURS", "Ref", "Registry"]


class Registry(UserAccounts, Records):
    """An organisation's AI systems and models, linked to the genealogy of ``genealogy``:
    users and sessions (:class:`~.users.UserAccounts`), records
    (:class:`~.records.Records`), their history, and the questions and imports built on
    them."""

    def history(self, kind: str | None = None, ref: Ref | None = None) -> list[HistoryEntry]:
        """Every change, oldest first; of one record when ``kind`` and ``ref`` are given."""
        h = schema.registry_history
        q = select(h).order_by(h.c.id)
        if kind is not None:
            q = q.where(h.c.record_kind == kind)
            if ref is not None:
                key = ref
                if kind == "model":
                    key = self.model(ref).id
                elif kind == "system":
                    key = self.system(ref).id
                elif kind == "dataset":
                    key = str(ref).lower()
                q = q.where(h.c.record_key == str(key))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [HistoryEntry(**row_fields(r, "before", "after")) for r in rows]

    # -- impact, ancestry, Etalab ---------------------------------------------------------
    def impact(self, *, model: str | None = None, dataset: str | None = None) -> RegistryImpact:
        """Which of our systems rely, directly or through any ancestor, on ``model`` (a
        registered name or a Hub id) or on ``dataset``."""
        from .impact import impact

        return impact(self, model=model, dataset=dataset)

    def ancestry(self, ref: Ref) -> ModelAncestry:
        """A registered model's full ancestry (registered, then public), with the ancestors
        trained on a data set flagged as containing personal data."""
        from .impact import ancestry

        return ancestry(self, ref)

    # -- models found on disk, training runs ------------------------------------------------
    def register_scan(self, result: ScanResult, *, actor: User | None) -> ScanRegistration:
        """Record the models a scan found (``filiation scan``), in one transaction: each
        becomes or updates the registered model named after its scan id, derived from its
        parent (a Hub model known to the genealogy, registered on the way, or another model
        of the scan), marked *inferred* with the file and field that said so."""
        from .scanned import register_scan

        actor = self.require(actor, Role.EDITOR)
        return register_scan(self, result, actor)

    def record_training(
        self,
        model: str,
        *,
        framework: str,
        actor: User | None,
        base_model: str | None = None,
        relation: str = "finetune",
        datasets: Sequence[str] = (),
        hyper_parameters: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        steps: Sequence[Mapping[str, Any]] = (),
        output_dir: str | None = None,
        evidence: str = "training callback",
        run: int | None = None,
        learning_type: str | None = None,
    ) -> TrainingRun:
        """Record one training run of ``model`` (created if new), derived from
        ``base_model`` with ``relation``, declared by ``evidence`` (the training callbacks
        of :mod:`filiation.training` call this when a model is saved). ``run``: the number
        of a run recorded before, to update (a later save or evaluation of the same run).
        ``learning_type``: what the callback saw (:mod:`filiation.training.learning`), set on
        the model unless it already has one (a person's choice is never overwritten)."""
        from .runs import record_training

        actor = self.require(actor, Role.EDITOR)
        return record_training(
            self,
            model,
            framework=framework,
            actor=actor,
            base_model=base_model,
            relation=relation,
            datasets=datasets,
            hyper_parameters=hyper_parameters or {},
            metrics=metrics or {},
            steps=steps,
            output_dir=output_dir,
            evidence=evidence,
            run=run,
            learning_type=learning_type,
        )

    def training_runs(self, ref: Ref) -> list[TrainingRun]:
        """The training runs recorded for a registered model, oldest first."""
        from .runs import training_runs

        return training_runs(self, ref)

    def export_etalab(self, *, include_retired: bool = False, like: Path | None = None) -> bytes:
        """The Etalab inventory CSV of the registered models (UTF-8, ``,``); with ``like``, in
        that file's columns, separator, encoding, date format and rows' order."""
        from .etalab import export_csv, layout_of

        layout = layout_of(like) if like is not None else None
        return export_csv(self.models(include_retired=include_retired), layout)

    def import_etalab(
        self,
        source: bytes | str | IO[bytes],
        *,
        actor: User | None,
        name: str | None = None,
        strict: bool = False,
    ) -> ImportReport:
        """Import an Etalab inventory file as people publish it (any usual encoding and
        separator, headers as people write them), streamed in one transaction: bad rows are
        reported with their line numbers and skipped, or with ``strict`` nothing is imported.
        ``name`` (the file's) goes into the history entry of the import."""
        from .etalab import import_csv

        actor = self.require(actor, Role.EDITOR)
        return import_csv(self, source, actor, name=name, strict=strict)
