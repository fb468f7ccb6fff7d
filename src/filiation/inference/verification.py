"""``filiation verify``: the weights test on a link, with tensors read from the Hub.

A suspect (or a declared link) says "CHILD derives from PARENT". ``verify`` opens both
models on the Hub as :class:`~filiation.sources.hub_tensors.HubTensorSource` (headers, then
byte ranges of the few tensors the test reads), runs the same
pair test as ``scan --weights`` and :func:`filiation.inference.weights.compare` (the
sampled rows of each model, ``stats.fingerprint``, then ``stats.classify``; the child's
sample is read once for all its parents), and records the verdict:

* ``confirmed``: the test finds the two models related (the statistic passes its threshold);
* ``rejected``: the test finds them independent;
* ``inconclusive``: the test cannot decide (no tensors in common, shapes that differ, a
  model not in safetensors); the reason is kept.

Each verdict is a row of the ``verifications`` table (migration 0007), keyed by the two ids:
suspects are replaced at each ``infer``, their verdicts stay. The newest row of a pair is its
current verdict.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import insert, select

from filiation.domain import LINEAGE_RELATIONS, RELATIONS_BY_CODE
from filiation.errors import FiliationError, InvalidArgumentError
from filiation.sources.hub_tensors import HubTensorSource
from filiation.store import schema

SOURCE = "weights:hub"
VERDICTS = ("confirmed", "rejected", "inconclusive")


class Verification(BaseModel):
    """The verdict of the weights test on one link (child → parent)."""

    child: str
    parent: str
    relation: str | None = None
    verdict: str
    statistic: float | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    bytes_read: int = 0
    source: str = SOURCE
    at: datetime | None = None


class VerifyReport(BaseModel):
    """What ``filiation verify CHILD`` found, one verdict per parent tried."""

    child: str
    results: list[Verification] = Field(default_factory=list)
    bytes_read: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _verdict_of(ev: Any) -> tuple[str, float | None, dict[str, Any]]:
    """The verdict a weights ``PairEvidence`` carries, its statistic and its details."""
    detail: dict[str, Any] = {
        "statistic_name": ev.statistic,
        "threshold": ev.threshold,
        "tensors": len(ev.tensors),
        "tensor_names": list(ev.tensors),
        "relation_found": ev.relation,
        "direction": "reversed" if ev.reversed else "as claimed",
        "confidence": ev.confidence,
        "evidence": ev.describe(),
    }
    if ev.note:
        detail["reason"] = ev.note
    if len(ev.tensors) < 2:
        return "inconclusive", None, detail
    return ("confirmed" if ev.related else "rejected"), float(ev.value), detail


def parents_to_verify(genealogy: Any, child: str) -> list[tuple[str, str]]:
    """The child's parents in the genealogy (declared links and suspects alike), with their
    relation: what ``verify`` tries when no ``--against`` is given."""
    node = genealogy._node(child)
    a = genealogy.index.a
    lineage = {r.value for r in LINEAGE_RELATIONS}
    s, e = int(a.up_ptr[node]), int(a.up_ptr[node + 1])
    out: list[tuple[str, str]] = []
    for parent, rel in zip(a.up_nbr[s:e].tolist(), a.up_rel[s:e].tolist(), strict=True):
        relation = RELATIONS_BY_CODE[int(rel)].value
        if relation in lineage and parent != node:
            out.append((a.id_of(int(parent)), relation))
    return out


def record(genealogy: Any, v: Verification) -> None:
    """Keep one verdict (a row of ``verifications``)."""
    with genealogy.store.engine.begin() as conn:
        conn.execute(
            insert(schema.verifications).values(
                source=v.source,
                child_key=v.child.lower(),
                child_id=v.child,
                parent_key=v.parent.lower(),
                parent_id=v.parent,
                relation=v.relation,
                verdict=v.verdict,
                statistic=v.statistic,
                detail=json.dumps(v.detail, default=str),
                bytes_read=v.bytes_read,
                at=(v.at or datetime.now(UTC)).replace(tzinfo=None),
            )
        )


def verifications(genealogy: Any, child: str | None = None) -> list[Verification]:
    """Recorded verdicts, newest first (of one child's links when ``child`` is given)."""
    t = schema.verifications.c
    query = select(schema.verifications).order_by(t.at.desc(), t.id.desc())
    if child is not None:
        query = query.where(t.child_key == child.lower())
    with genealogy.store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        Verification(
            child=r["child_id"],
            parent=r["parent_id"],
            relation=r["relation"],
            verdict=r["verdict"],
            statistic=r["statistic"],
            detail=json.loads(r["detail"]) if r["detail"] else {},
            bytes_read=int(r["bytes_read"]),
            source=r["source"],
            at=r["at"],
        )
        for r in rows
    ]


def verify(
    genealogy: Any,
    child: str,
    against: str | None = None,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    save: bool = True,
) -> VerifyReport:
    """Verify CHILD against PARENT (or against each of its parents in the genealogy).

    The child need not be in the genealogy when ``against`` is given (a model just found on
    the Hub); without ``against`` it must be, and have parents. A model that cannot be read
    (absent, private, not safetensors, a lying header) gives an ``inconclusive`` verdict
    saying why; the other parents are still tried.
    """
    if against is not None:
        try:
            relation = dict(parents_to_verify(genealogy, child)).get(genealogy.resolve(against))
        except FiliationError:
            relation = None
        pairs = [(against, relation)]
    else:
        pairs = parents_to_verify(genealogy, child)
        if not pairs:
            raise InvalidArgumentError(
                f"{child!r} has no parent in the genealogy, declared or suspected: "
                "give one with --against"
            )
    from filiation.inference.weights.stats import classify, common, fingerprint
    from filiation.inference.weights.tensors import WeightsError

    report = VerifyReport(child=child)
    child_fp: Any = None
    child_src: HubTensorSource | None = None
    child_problem: str | None = None
    try:
        child_src = HubTensorSource(child, endpoint=endpoint, token=token)
        child_fp = fingerprint(child_src)  # read once, compared with every parent
    except (FiliationError, WeightsError) as exc:
        child_problem = str(exc)
    for parent, relation in pairs:
        parent_src: HubTensorSource | None = None
        try:
            if child_problem is not None:
                raise InvalidArgumentError(child_problem)
            parent_src = HubTensorSource(parent, endpoint=endpoint, token=token)
            parent_fp = fingerprint(parent_src)
            verdict, stat, detail = _verdict_of(
                classify(child_fp, parent_fp, common(child_fp, parent_fp))
            )
        except (FiliationError, WeightsError) as exc:
            verdict, stat, detail = "inconclusive", None, {"reason": str(exc)}
        used = parent_src.bytes_read if parent_src is not None else 0
        if not report.results and child_src is not None:
            used += child_src.bytes_read  # the child's sample, read once, counted once
        v = Verification(
            child=child,
            parent=parent,
            relation=relation,
            verdict=verdict,
            statistic=stat,
            detail=detail,
            bytes_read=used,
            at=datetime.now(UTC).replace(tzinfo=None),
        )
        if save:
            record(genealogy, v)
        report.results.append(v)
        report.bytes_read += used
    return report
