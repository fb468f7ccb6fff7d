"""The registry's records: registered models, AI systems and the models they use, flagged
data sets.

Besides the reads and the checked writes the interfaces call, :class:`Records` offers the
write API of the modules that record models on the registry's behalf (a scan, a training run,
an Etalab import): :meth:`~Records.find_in`, :meth:`~Records.model_in`,
:meth:`~Records.insert_model_in` and :meth:`~Records.update_model_in`, with
:meth:`~.base.RegistryBase.log_change`. Each works inside the caller's transaction and checks
what it writes as the interfaces' writes do; the caller has checked the actor's role.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from filiation.domain import NodeKind
from filiation.errors import (
    FieldProblem,
    NodeNotFoundError,
    RecordNotFoundError,
    RegistryValidationError,
)
from filiation.store import schema

from .base import Ref, RegistryBase, utc_now
from .models import (
    MODEL_FIELDS,
    AISystem,
    FlaggedDataset,
    RegisteredModel,
    Role,
    SystemStatus,
    Use,
    User,
    parse_model,
    parse_system,
    parse_usage,
)

#: Yes/no fields that may be unstated (``None``): stored false, named in ``unstated``.
UNSTATED_FIELDS = ("open_weights", "personal_data")


class Records(RegistryBase):
    """Registered models, systems, their uses and flagged data sets."""

    # -- models ---------------------------------------------------------------------------
    def _model_rows(self, conn: Connection) -> dict[int, dict[str, Any]]:
        m = schema.registry_models
        return {r["id"]: dict(r) for r in conn.execute(select(m).order_by(m.c.id)).mappings()}

    def _uses(
        self, conn: Connection, *, system_id: int | None = None, model_id: int | None = None
    ) -> list[Use]:
        us, s, m = schema.registry_uses, schema.registry_systems, schema.registry_models
        q = (
            select(
                us.c.system_id,
                s.c.name.label("system"),
                us.c.model_id,
                m.c.name.label("model"),
                us.c.usage,
                m.c.hub_id.label("model_hub_id"),
                s.c.status.label("system_status"),
            )
            .join(s, s.c.id == us.c.system_id)
            .join(m, m.c.id == us.c.model_id)
            .where(us.c.removed_at.is_(None))
            .order_by(s.c.key, m.c.key)
        )
        if system_id is not None:
            q = q.where(us.c.system_id == system_id)
        if model_id is not None:
            q = q.where(us.c.model_id == model_id)
        return [Use(**r) for r in conn.execute(q).mappings()]

    @staticmethod
    def _as_model(row: Mapping[str, Any], rows: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
        parent = rows.get(row["derived_from"]) if row["derived_from"] is not None else None
        out = {k: row[k] for k in row.keys() if k not in ("key", "derived_from")}  # noqa: SIM118
        out["training_datasets"] = orjson.loads(row["training_datasets"] or "[]")
        out["extra"] = orjson.loads(row["extra"] or "{}")
        for name in (out.pop("unstated", None) or "").split(","):
            if name in UNSTATED_FIELDS:
                out[name] = None  # not stated, which the column (false) cannot say
        out["updated_on"] = row["updated_on"].date() if row["updated_on"] else None
        out["derived_from"] = parent["name"] if parent else None
        return out

    def models(self, *, include_retired: bool = False) -> list[RegisteredModel]:
        with self.engine.connect() as conn:
            rows = self._model_rows(conn)
            uses = self._uses(conn)
        by_model: dict[int, list[Use]] = {}
        for use in uses:
            by_model.setdefault(use.model_id, []).append(use)
        out = [
            RegisteredModel(**self._as_model(r, rows), used_by=by_model.get(i, []))
            for i, r in rows.items()
            if include_retired or r["retired_at"] is None
        ]
        return sorted(out, key=lambda m: m.name.lower())

    def find_in(self, conn: Connection, table: Any, ref: Ref, what: str) -> dict[str, Any]:
        """The row of ``table`` (models or systems) that ``ref`` names: a number (int or
        ``#12``) or a name in any case; a clear error naming ``what`` when there is none."""
        if isinstance(ref, int) or (
            isinstance(ref, str) and ref.startswith("#") and ref[1:].isdigit()
        ):
            number = ref if isinstance(ref, int) else int(ref[1:])
            row = conn.execute(select(table).where(table.c.id == number)).mappings().first()
        else:
            key = str(ref).strip().lower()
            row = conn.execute(select(table).where(table.c.key == key)).mappings().first()
        if row is None:
            if isinstance(ref, int) or str(ref).startswith("#"):
                named = f"#{str(ref).lstrip('#')}"
            else:  # "12" is a name: a number is written "#12"
                hint = f" (by number: '#{ref}')" if str(ref).isdigit() else ""
                named = f"named {ref!r}{hint}"
            raise RecordNotFoundError(
                f"no registered {what} {named}; `filiation registry {what}s` lists them"
            )
        return dict(row)

    def model(self, ref: Ref) -> RegisteredModel:
        """A registered model by number (int or ``#12``) or by name (any case)."""
        with self.engine.connect() as conn:
            row = self.find_in(conn, schema.registry_models, ref, "model")
            record = self.model_in(conn, row["id"])
            uses = self._uses(conn, model_id=row["id"])
        return record.model_copy(update={"used_by": uses})

    def _check_model(
        self, conn: Connection, clean: dict[str, Any], own_id: int | None
    ) -> dict[str, Any]:
        """Checks against the database and the genealogy; returns the row's values."""
        problems: dict[str, FieldProblem] = {}
        m = schema.registry_models
        key = (clean["name"] or "").lower()
        taken = conn.execute(select(m.c.id).where(m.c.key == key)).scalar() if key else None
        if taken is not None and taken != own_id:
            problems["name"] = FieldProblem("taken", "a registered model has this name")
        hub_id = clean["hub_id"]
        if hub_id:
            try:
                hub_id = self.g.resolve(hub_id, NodeKind.MODEL)
            except NodeNotFoundError as exc:
                problems["hub_id"] = FieldProblem(
                    "hub_unknown",
                    str(exc),
                    suggestions=", ".join(exc.suggestions),
                )
        parent_id = None
        if clean["derived_from"]:
            parent_id = conn.execute(
                select(m.c.id).where(m.c.key == clean["derived_from"].lower())
            ).scalar()
            if parent_id is None:
                problems["derived_from"] = FieldProblem(
                    "model_unknown", "no registered model has this name"
                )
            elif own_id is not None:
                rows = self._model_rows(conn)
                seen, cur = set(), parent_id
                while cur is not None and cur not in seen:
                    if cur == own_id:
                        problems["derived_from"] = FieldProblem(
                            "cycle", "a model cannot derive from itself or its own descendants"
                        )
                        break
                    seen.add(cur)
                    cur = rows[cur]["derived_from"]
        if problems:
            raise RegistryValidationError(problems, "model")
        values = {k: clean[k] for k in MODEL_FIELDS if k not in ("derived_from",)}
        values.update(
            key=key,
            hub_id=hub_id,
            derived_from=parent_id,
            # A derivation someone typed is declared; scans and callbacks say otherwise.
            derived_provenance=(clean.get("derived_provenance") or "declared")
            if parent_id is not None
            else None,
            derived_evidence=clean.get("derived_evidence") if parent_id is not None else None,
            training_datasets=orjson.dumps(clean["training_datasets"]).decode(),
            extra=orjson.dumps(clean["extra"]).decode() if clean.get("extra") else None,
            unstated=",".join(f for f in UNSTATED_FIELDS if clean[f] is None) or None,
            **{f: bool(clean[f]) for f in UNSTATED_FIELDS},
            updated_on=(
                datetime.combine(clean["updated_on"], datetime.min.time())
                if clean["updated_on"]
                else None
            ),
        )
        return values

    @staticmethod
    def _snapshot(record: RegisteredModel | AISystem) -> dict[str, Any]:
        return record.model_dump(mode="json", include=set(record.fields()))

    def _parse_model(
        self, conn: Connection, data: Mapping[str, Any], own_id: int | None
    ) -> dict[str, Any]:
        """:func:`parse_model`; when it fails, the database checks of the fields that passed
        are reported too, so that a form shows every problem at once."""
        try:
            return parse_model(data)
        except RegistryValidationError as exc:
            if exc.partial is None:
                raise
            try:
                self._check_model(conn, exc.partial, own_id)
            except RegistryValidationError as more:
                fields = dict(exc.fields)
                for name, problem in more.fields.items():
                    fields.setdefault(name, problem)
                raise RegistryValidationError(fields, "model") from None
            raise

    def create_model(self, data: Mapping[str, Any], *, actor: User | None) -> RegisteredModel:
        actor = self.require(actor, Role.EDITOR)
        with self.engine.begin() as conn:
            clean = self._parse_model(conn, data, None)
            new_id = self.insert_model_in(conn, clean, actor)
        return self.model(new_id)

    def insert_model_in(self, conn: Connection, clean: dict[str, Any], actor: User) -> int:
        """Register a model from :func:`~.models.parse_model`'s ``clean`` values, checked
        against the database and the genealogy, with its history entry; its number."""
        values = self._check_model(conn, clean, None)
        try:
            new_id = conn.execute(
                schema.registry_models.insert().values(**values, created_at=utc_now())
            ).inserted_primary_key[0]
        except IntegrityError:
            raise RegistryValidationError(
                {"name": FieldProblem("taken", "a registered model has this name")}, "model"
            ) from None
        after = self.model_in(conn, new_id)
        self.log_change(conn, actor, "model", new_id, "create", None, self._snapshot(after))
        return int(new_id)

    def model_in(self, conn: Connection, model_id: int) -> RegisteredModel:
        """One model, reading only its row and its parent's (imports call this per row)."""
        m = schema.registry_models
        row = conn.execute(select(m).where(m.c.id == model_id)).mappings().one()
        rows = {model_id: row}
        if row["derived_from"] is not None:
            parent = conn.execute(select(m).where(m.c.id == row["derived_from"])).mappings().one()
            rows[parent["id"]] = parent
        return RegisteredModel(**self._as_model(row, rows))

    def update_model(
        self, ref: Ref, changes: Mapping[str, Any], *, actor: User | None
    ) -> RegisteredModel:
        """Change some fields (the others keep their values)."""
        actor = self.require(actor, Role.EDITOR)
        with self.engine.begin() as conn:
            row = self.find_in(conn, schema.registry_models, ref, "model")
            self.update_model_in(conn, row["id"], changes, actor)
        return self.model(row["id"])

    def update_model_in(
        self, conn: Connection, model_id: int, changes: Mapping[str, Any], actor: User
    ) -> bool:
        """Apply ``changes`` to model ``model_id`` (the other fields keep their values),
        checked like a new model, with a history entry; False when nothing changed."""
        before = self.model_in(conn, model_id)
        merged = {**before.fields(), **changes}
        link = (
            str(merged.get("derived_from") or "").strip().lower(),
            merged.get("derived_relation"),
        )
        if link == ((before.derived_from or "").lower(), before.derived_relation):
            # The same derivation: how it is known stays unless the change says otherwise.
            for field in ("derived_provenance", "derived_evidence"):
                if not changes.get(field):
                    merged[field] = getattr(before, field)
        else:
            # A new derivation without its provenance is the word of whoever made the change.
            for field in ("derived_provenance", "derived_evidence"):
                if not changes.get(field):
                    merged[field] = None
        clean = self._parse_model(conn, merged, model_id)
        values = self._check_model(conn, clean, model_id)
        m = schema.registry_models
        conn.execute(update(m).where(m.c.id == model_id).values(**values))
        after = self.model_in(conn, model_id)
        if self._snapshot(after) == self._snapshot(before):
            return False
        self.log_change(
            conn, actor, "model", model_id, "update", self._snapshot(before), self._snapshot(after)
        )
        return True

    def retire_model(self, ref: Ref, *, actor: User | None) -> RegisteredModel:
        """Retire (never delete): the model leaves the lists, its record and history stay."""
        actor = self.require(actor, Role.EDITOR)
        m = schema.registry_models
        with self.engine.begin() as conn:
            row = self.find_in(conn, m, ref, "model")
            if row["retired_at"] is None:
                conn.execute(update(m).where(m.c.id == row["id"]).values(retired_at=utc_now()))
                self.log_change(
                    conn, actor, "model", row["id"], "retire", {"retired": False}, {"retired": True}
                )
        return self.model(row["id"])

    # -- systems --------------------------------------------------------------------------
    def _as_system(self, row: Mapping[str, Any], uses: list[Use]) -> AISystem:
        return AISystem(**{k: row[k] for k in row.keys() if k != "key"}, uses=uses)  # noqa: SIM118

    def systems(self, *, include_retired: bool = False) -> list[AISystem]:
        s = schema.registry_systems
        with self.engine.connect() as conn:
            rows = conn.execute(select(s).order_by(s.c.key)).mappings().all()
            uses = self._uses(conn)
        by_system: dict[int, list[Use]] = {}
        for use in uses:
            by_system.setdefault(use.system_id, []).append(use)
        return [
            self._as_system(r, by_system.get(r["id"], []))
            for r in rows
            if include_retired or r["retired_at"] is None
        ]

    def system(self, ref: Ref) -> AISystem:
        with self.engine.connect() as conn:
            row = self.find_in(conn, schema.registry_systems, ref, "system")
            return self._as_system(row, self._uses(conn, system_id=row["id"]))

    def _system_taken(self, conn: Connection, name: str, own_id: int | None) -> None:
        s = schema.registry_systems
        taken = conn.execute(select(s.c.id).where(s.c.key == name.lower())).scalar()
        if taken is not None and taken != own_id:
            raise RegistryValidationError(
                {"name": FieldProblem("taken", "a system has this name")}, "system"
            )

    def create_system(self, data: Mapping[str, Any], *, actor: User | None) -> AISystem:
        actor = self.require(actor, Role.EDITOR)
        clean = parse_system(data)
        s = schema.registry_systems
        with self.engine.begin() as conn:
            self._system_taken(conn, clean["name"], None)
            retired = utc_now() if clean["status"] == SystemStatus.RETIRED else None
            try:
                new_id = conn.execute(
                    s.insert().values(
                        **clean, key=clean["name"].lower(), created_at=utc_now(), retired_at=retired
                    )
                ).inserted_primary_key[0]
            except IntegrityError:  # created by another request since the check
                raise RegistryValidationError(
                    {"name": FieldProblem("taken", "a system has this name")}, "system"
                ) from None
            row = self.find_in(conn, s, int(new_id), "system")
            self.log_change(
                conn,
                actor,
                "system",
                new_id,
                "create",
                None,
                self._snapshot(self._as_system(row, [])),
            )
        return self.system(int(new_id))

    def update_system(
        self, ref: Ref, changes: Mapping[str, Any], *, actor: User | None
    ) -> AISystem:
        actor = self.require(actor, Role.EDITOR)
        s = schema.registry_systems
        with self.engine.begin() as conn:
            row = self.find_in(conn, s, ref, "system")
            before = self._as_system(row, [])
            clean = parse_system({**before.fields(), **changes})
            self._system_taken(conn, clean["name"], row["id"])
            retired = row["retired_at"]
            if clean["status"] == SystemStatus.RETIRED and retired is None:
                retired = utc_now()
            elif clean["status"] != SystemStatus.RETIRED:
                retired = None
            conn.execute(
                update(s)
                .where(s.c.id == row["id"])
                .values(**clean, key=clean["name"].lower(), retired_at=retired)
            )
            after = self._as_system(self.find_in(conn, s, row["id"], "system"), [])
            if self._snapshot(after) != self._snapshot(before):
                self.log_change(
                    conn,
                    actor,
                    "system",
                    row["id"],
                    "update",
                    self._snapshot(before),
                    self._snapshot(after),
                )
        return self.system(row["id"])

    def retire_system(self, ref: Ref, *, actor: User | None) -> AISystem:
        return self.update_system(ref, {"status": SystemStatus.RETIRED.value}, actor=actor)

    def attach(self, system: Ref, model: Ref, usage: str, *, actor: User | None) -> AISystem:
        """The system uses the model, for ``usage`` (how the model serves the system);
        attaching again changes the usage description."""
        actor = self.require(actor, Role.EDITOR)
        usage = parse_usage(usage)
        us = schema.registry_uses
        with self.engine.begin() as conn:
            s_row = self.find_in(conn, schema.registry_systems, system, "system")
            m_row = self.find_in(conn, schema.registry_models, model, "model")
            if m_row["retired_at"] is not None:
                raise RegistryValidationError(
                    {"model": FieldProblem("retired", "this model is retired")}, "use"
                )
            old = (
                conn.execute(
                    select(us).where(us.c.system_id == s_row["id"], us.c.model_id == m_row["id"])
                )
                .mappings()
                .first()
            )
            before = (
                {"model": m_row["name"], "usage": old["usage"]}
                if old and old["removed_at"] is None
                else None
            )
            if old is None:
                conn.execute(
                    us.insert().values(system_id=s_row["id"], model_id=m_row["id"], usage=usage)
                )
            else:
                conn.execute(
                    update(us)
                    .where(us.c.system_id == s_row["id"], us.c.model_id == m_row["id"])
                    .values(usage=usage, removed_at=None)
                )
            after = {"model": m_row["name"], "usage": usage}
            if before != after:
                self.log_change(conn, actor, "system", s_row["id"], "attach", before, after)
        return self.system(s_row["id"])

    def detach(self, system: Ref, model: Ref, *, actor: User | None) -> AISystem:
        actor = self.require(actor, Role.EDITOR)
        us = schema.registry_uses
        with self.engine.begin() as conn:
            s_row = self.find_in(conn, schema.registry_systems, system, "system")
            m_row = self.find_in(conn, schema.registry_models, model, "model")
            old = (
                conn.execute(
                    select(us).where(
                        us.c.system_id == s_row["id"],
                        us.c.model_id == m_row["id"],
                        us.c.removed_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )
            if old is None:
                raise RecordNotFoundError(
                    f"system {s_row['name']!r} does not use model {m_row['name']!r}"
                )
            conn.execute(
                update(us)
                .where(us.c.system_id == s_row["id"], us.c.model_id == m_row["id"])
                .values(removed_at=utc_now())
            )
            self.log_change(
                conn,
                actor,
                "system",
                s_row["id"],
                "detach",
                {"model": m_row["name"], "usage": old["usage"]},
                None,
            )
        return self.system(s_row["id"])

    # -- data sets ------------------------------------------------------------------------
    def flag_dataset(
        self,
        dataset: str,
        *,
        personal_data: bool = True,
        note: str | None = None,
        actor: User | None,
    ) -> FlaggedDataset:
        """Record whether a data set contains personal data (a Hub id or an internal name)."""
        actor = self.require(actor, Role.EDITOR)
        clean = parse_model({"name": "x", "training_datasets": [dataset]})["training_datasets"]
        if len(clean) != 1:
            raise RegistryValidationError(
                {"dataset": FieldProblem("required", "give a data set id")}, "data set"
            )
        try:
            shown = self.g.resolve(clean[0], NodeKind.DATASET)
        except NodeNotFoundError:
            shown = clean[0]  # an internal data set the public genealogy does not know
        d = schema.registry_datasets
        key = shown.lower()
        with self.engine.begin() as conn:
            old = conn.execute(select(d).where(d.c.key == key)).mappings().first()
            before = {"personal_data": old["personal_data"], "note": old["note"]} if old else None
            after = {"personal_data": personal_data, "note": note}
            if old is None:
                conn.execute(
                    d.insert().values(key=key, id=shown, personal_data=personal_data, note=note)
                )
            else:
                conn.execute(
                    update(d).where(d.c.key == key).values(personal_data=personal_data, note=note)
                )
            if before != after:
                self.log_change(conn, actor, "dataset", key, "flag", before, after)
        return FlaggedDataset(id=shown, personal_data=personal_data, note=note)

    def datasets(self) -> list[FlaggedDataset]:
        d = schema.registry_datasets
        with self.engine.connect() as conn:
            rows = conn.execute(select(d).order_by(d.c.key)).mappings().all()
        return [
            FlaggedDataset(id=r["id"], personal_data=r["personal_data"], note=r["note"])
            for r in rows
        ]

    def personal_datasets(self) -> set[str]:
        """Lower-cased ids of the data sets flagged as containing personal data."""
        return {d.id.lower() for d in self.datasets() if d.personal_data}
