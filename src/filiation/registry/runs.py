"""Training runs in the registry: what a training callback recorded when a model was saved.

A run belongs to a registered model (created on its first run, named by the callback) and
says what it was trained from (its base, linked as a *declared* derivation with the
callback as evidence), on which data sets, with which hyper-parameters, and the metrics and
the six steps of making a model (data preparation, building, compiling, training,
evaluating, predicting) the callback saw. Values are stored as JSON: whatever a framework
hands over that JSON cannot hold (enums, tensors, numpy numbers) is kept as its text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson
from sqlalchemy import Connection, select, update

from filiation.errors import FieldProblem, RecordNotFoundError, RegistryValidationError
from filiation.store import schema

from .base import row_fields
from .models import (
    DERIVATIONS,
    NAME_MAX,
    TRAINING_STEPS,
    Provenance,
    TrainingRun,
    User,
    parse_model,
)
from .origins import by_name, dataset_ids, hub_model, known_hub_id, merged_datasets

if TYPE_CHECKING:
    from .service import Ref, Registry

FRAMEWORK_MAX = 32

#: A value as JSON holds it.
JSONValue: TypeAlias = dict[str, "JSONValue"] | list["JSONValue"] | str | int | float | bool | None


def jsonable(value: object) -> JSONValue:
    """``value`` as JSON holds it (unknown types as their text, NaN as null)."""
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.loads(orjson.dumps(value, default=_text, option=option))


def _text(value: Any) -> Any:
    item = getattr(value, "item", None)  # a 0-d tensor or numpy scalar
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)


def _base_name(base: str) -> str:
    """A base named by a local path is registered under the folder's name (the name a
    callback gives a model saved there); anything else under its own name."""
    base = base.strip()
    if "/" in base and (base.startswith(("/", ".", "~")) or base.count("/") > 1):
        return PurePath(base).name or base
    return base


def record_training(
    reg: Registry,
    model: str,
    *,
    framework: str,
    actor: User,
    base_model: str | None,
    relation: str,
    datasets: Sequence[str],
    hyper_parameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    output_dir: str | None,
    evidence: str,
    run: int | None = None,
    learning_type: str | None = None,
) -> TrainingRun:
    if relation not in DERIVATIONS:
        raise RegistryValidationError(
            {"relation": FieldProblem("choice", f"one of: {', '.join(DERIVATIONS)}")}, "run"
        )
    if not framework or len(framework) > FRAMEWORK_MAX:
        raise RegistryValidationError(
            {"framework": FieldProblem("required", "name the framework")}, "run"
        )
    unknown = sorted({str(s.get("step")) for s in steps} - set(TRAINING_STEPS))
    if unknown:
        raise RegistryValidationError(
            {
                "steps": FieldProblem(
                    "choice",
                    f"unknown steps {', '.join(unknown)}; steps are: " + ", ".join(TRAINING_STEPS),
                )
            },
            "run",
        )
    names = [str(d) for d in datasets]
    usable = dataset_ids(names)
    with reg.engine.begin() as conn:
        parent = _parent(reg, conn, base_model, model, actor) if base_model else None
        row = by_name(conn, model)
        link: dict[str, Any] = {}
        if parent is not None:
            link = {
                "derived_from": parent,
                "derived_relation": relation,
                "derived_provenance": Provenance.DECLARED.value,
                "derived_evidence": evidence,
            }
        if row is None:
            data = {
                "name": model,
                "description": f"trained with {framework}"
                + (f", saved in {output_dir}" if output_dir else ""),
                "training_datasets": usable,
                **link,
                **({"learning_type": learning_type} if learning_type else {}),
            }
            model_id = reg.insert_model_in(conn, parse_model(data), actor)
        else:
            model_id = row["id"]
            old = orjson.loads(row["training_datasets"] or "[]")
            changes: dict[str, Any] = {"training_datasets": merged_datasets(old, usable)}
            if not row["hub_id"]:
                changes.update(link)
            if learning_type and not row["learning_type"]:
                changes["learning_type"] = learning_type
            reg.update_model_in(conn, model_id, changes, actor)
        values = {
            "model_id": model_id,
            "at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
            "user_name": actor.name,
            "framework": framework,
            "base_model": base_model,
            "datasets": orjson.dumps(names).decode(),
            "hyper_parameters": orjson.dumps(jsonable(dict(hyper_parameters))).decode(),
            "metrics": orjson.dumps(jsonable(dict(metrics))).decode(),
            "steps": orjson.dumps(jsonable([dict(s) for s in steps])).decode(),
            "output_dir": output_dir,
        }
        runs = schema.registry_training_runs
        before = None
        if run is None:
            run_id = int(conn.execute(runs.insert().values(**values)).inserted_primary_key[0])
        else:
            # The same run, seen again (a later save, an evaluation after training).
            old_runs = _runs(conn, run_id=run)
            if not old_runs or old_runs[0].model_id != model_id:
                raise RecordNotFoundError(f"no training run {run} of model {model!r}")
            before = _summary(old_runs[0])
            conn.execute(update(runs).where(runs.c.id == run).values(**values))
            run_id = run
        recorded = _runs(conn, run_id=run_id)[0]
        reg.log_change(conn, actor, "model", model_id, "train", before, _summary(recorded))
        return recorded


def _summary(run: TrainingRun) -> dict[str, Any]:
    """What a run's history entry shows (its steps stay in the run's record)."""
    return run.model_dump(
        mode="json",
        include={"id", "framework", "base_model", "datasets", "hyper_parameters", "metrics"},
    )


def _parent(reg: Registry, conn: Connection, base: str, model: str, actor: User) -> str | None:
    """The registered name of the base: the Hub model (registered on the way) when the
    genealogy knows it, else the model of that name (registered by name if new)."""
    hub_id = known_hub_id(reg, base)
    if hub_id is not None:
        row, _ = hub_model(reg, conn, hub_id, actor)
        name = str(row["name"])
    else:
        name = _base_name(base)[:NAME_MAX]
        if by_name(conn, name) is None:
            reg.insert_model_in(
                conn,
                parse_model(
                    {"name": name, "description": "base of a training run, not on the Hub"}
                ),
                actor,
            )
    return None if name.lower() == model.strip().lower() else name


def _runs(
    conn: Connection, *, model_id: int | None = None, run_id: int | None = None
) -> list[TrainingRun]:
    r, m = schema.registry_training_runs, schema.registry_models
    q = select(r, m.c.name.label("model")).join(m, m.c.id == r.c.model_id).order_by(r.c.id)
    if model_id is not None:
        q = q.where(r.c.model_id == model_id)
    if run_id is not None:
        q = q.where(r.c.id == run_id)
    return [
        TrainingRun(**row_fields(row, "datasets", "hyper_parameters", "metrics", "steps"))
        for row in conn.execute(q).mappings()
    ]


def training_runs(reg: Registry, ref: Ref) -> list[TrainingRun]:
    with reg.engine.connect() as conn:
        row = reg.find_in(conn, schema.registry_models, ref, "model")
        return _runs(conn, model_id=row["id"])
