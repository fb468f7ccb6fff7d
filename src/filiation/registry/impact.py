"""Impact across the registry, and each registered model's full ancestry.

A registered model's *ancestry* is the chain of registered models it derives from, then,
from the first one that carries a Hub id, that model's public ancestors in the lineage
index (and the data sets each was trained on). "Which of our systems rely on X" is then:
the systems using a registered model whose ancestry holds X (or that is X). Ancestries are
small (tens of nodes) and the registry holds hundreds of models, so one ancestors walk per
registered model answers in milliseconds even at full Hub scale, where X's descendants may
number tens of thousands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from filiation.domain import NodeKind, Relation
from filiation.errors import NodeNotFoundError, RecordNotFoundError

from .models import RegisteredModel, SystemStatus

if TYPE_CHECKING:
    from .service import Ref, Registry

#: Bound on the public ancestors walked per registered model (real ancestries are far smaller).
ANCESTRY_LIMIT = 2000


class Ancestor(BaseModel):
    id: str
    registered: bool
    hub_id: str | None = None
    depth: int
    relation: str | None
    via: str | None
    trained_on: list[str] = []
    personal_data: list[str] = []
    declared_personal_data: bool = False

    @property
    def flagged(self) -> bool:
        return bool(self.personal_data) or self.declared_personal_data


class ModelAncestry(BaseModel):
    model_id: int
    model: str
    hub_id: str | None
    ancestors: list[Ancestor]
    truncated: bool = False

    @property
    def flagged(self) -> list[Ancestor]:
        return [a for a in self.ancestors if a.flagged]


class ImpactHit(BaseModel):
    system_id: int
    system: str
    status: SystemStatus
    model_id: int
    model: str
    usage: str
    through: list[str]

    @property
    def direct(self) -> bool:
        return len(self.through) <= 1


class ImpactedModel(BaseModel):
    model_id: int
    model: str
    through: list[str]


class RegistryImpact(BaseModel):
    target: str
    target_kind: str
    models: list[ImpactedModel]
    systems: list[ImpactHit]

    def system_names(self) -> list[str]:
        return sorted({h.system for h in self.systems})


def _chain(models: dict[int, RegisteredModel], start: RegisteredModel) -> list[RegisteredModel]:
    """The model, then the registered models it derives from, cycle-safe."""
    by_name = {m.name.lower(): m for m in models.values()}
    out, seen = [start], {start.id}
    cur = start
    while cur.derived_from:
        parent = by_name.get(cur.derived_from.lower())
        if parent is None or parent.id in seen:
            break
        out.append(parent)
        seen.add(parent.id)
        cur = parent
    return out


def ancestry(reg: Registry, ref: Ref) -> ModelAncestry:
    start = reg.model(ref)
    models = {m.id: m for m in reg.models(include_retired=True)}
    return _ancestry(reg, start, models, reg.personal_datasets())


def _ancestry(
    reg: Registry, start: RegisteredModel, models: dict[int, RegisteredModel], flagged: set[str]
) -> ModelAncestry:
    """The ancestry of ``start``, with the registry read once by the caller."""
    g = reg.g
    chain = _chain(models, start)
    out: list[Ancestor] = []
    hub_id: str | None = None
    truncated = False
    for depth, m in enumerate(chain):
        out.append(
            Ancestor(
                id=m.name,
                registered=True,
                hub_id=m.hub_id,
                depth=depth,
                relation=chain[depth - 1].derived_relation if depth else None,
                via=chain[depth - 1].name if depth else None,
                trained_on=m.training_datasets,
                personal_data=[d for d in m.training_datasets if d.lower() in flagged],
                declared_personal_data=m.personal_data is True,
            )
        )
        if m.hub_id:
            hub_id = m.hub_id
            base = depth
            break
    if hub_id is not None:

        def public(node_id: str, d: int, relation: str | None, via: str | None) -> Ancestor:
            trained = [
                n.id
                for n in g.parents(
                    node_id, relations=[Relation.TRAINED_ON], limit=None, kind=NodeKind.MODEL
                )
            ]
            return Ancestor(
                id=node_id,
                registered=False,
                depth=d,
                relation=relation,
                via=via,
                trained_on=trained,
                personal_data=[t for t in trained if t.lower() in flagged],
            )

        registered_top = out[-1]
        own = public(hub_id, base, registered_top.relation, registered_top.via)
        # The registered model that carries the Hub id and the Hub model are one node.
        registered_top.trained_on = sorted(
            {*registered_top.trained_on, *own.trained_on}, key=str.lower
        )
        registered_top.personal_data = sorted(
            {*registered_top.personal_data, *own.personal_data}, key=str.lower
        )
        lin = g.ancestors(hub_id, limit=ANCESTRY_LIMIT)
        truncated = lin.truncated
        for node in lin.nodes[1:]:
            out.append(public(node["id"], base + node["depth"], node["relation"], node["via"]))
    return ModelAncestry(
        model_id=start.id, model=start.name, hub_id=hub_id, ancestors=out, truncated=truncated
    )


def _route(anc: ModelAncestry, target_key: str, *, dataset: bool) -> list[str] | None:
    """The names from the registered model up to the target, if its ancestry holds it."""
    by_id = {a.id.lower(): a for a in anc.ancestors}
    by_id.update({a.hub_id.lower(): a for a in anc.ancestors if a.hub_id})
    hit: Any = None
    if dataset:
        hit = next(
            (a for a in anc.ancestors if target_key in {t.lower() for t in a.trained_on}), None
        )
    else:
        hit = by_id.get(target_key)
    if hit is None:
        return None
    route = [hit.id]
    cur = hit
    while cur.via is not None and cur.depth > 0:
        cur = by_id.get(cur.via.lower())
        if cur is None:
            break
        route.append(cur.id)
    if not route or route[-1].lower() != anc.model.lower():
        route.append(anc.model)
    route.reverse()
    if dataset:
        route.append(next(t for t in hit.trained_on if t.lower() == target_key))
    return route


def impact(
    reg: Registry, *, model: str | None = None, dataset: str | None = None
) -> RegistryImpact:
    from filiation.errors import InvalidArgumentError

    if (model is None) == (dataset is None):
        raise InvalidArgumentError("give either a model (--model) or a data set (--dataset)")
    if model is not None:
        try:
            target = reg.model(model).name
        except RecordNotFoundError:
            try:
                target = reg.g.resolve(model, NodeKind.MODEL)
            except NodeNotFoundError as exc:
                raise NodeNotFoundError(model, exc.suggestions) from None
        kind = "model"
    else:
        assert dataset is not None
        try:
            target = reg.g.resolve(dataset, NodeKind.DATASET)
        except NodeNotFoundError:
            known = {d.lower(): d for m in reg.models() for d in m.training_datasets}
            known.update({d.id.lower(): d.id for d in reg.datasets()})
            if dataset.strip().lower() not in known:
                raise
            target = known[dataset.strip().lower()]
        kind = "dataset"
    key = target.lower()
    impacted: list[ImpactedModel] = []
    hits: list[ImpactHit] = []
    everything = {m.id: m for m in reg.models(include_retired=True)}
    flagged = reg.personal_datasets()
    for m in everything.values():
        if m.retired:
            continue
        route = _route(_ancestry(reg, m, everything, flagged), key, dataset=kind == "dataset")
        if route is None:
            continue
        impacted.append(ImpactedModel(model_id=m.id, model=m.name, through=route))
        for use in m.used_by:
            if use.system_status == SystemStatus.RETIRED:
                continue
            hits.append(
                ImpactHit(
                    system_id=use.system_id,
                    system=use.system,
                    status=use.system_status or SystemStatus.DEVELOPMENT,
                    model_id=m.id,
                    model=m.name,
                    usage=use.usage,
                    through=route,
                )
            )
    hits.sort(key=lambda h: (h.system.lower(), h.model.lower()))
    return RegistryImpact(target=target, target_kind=kind, models=impacted, systems=hits)
