"""``filiation infer``: suspected parents of the whole genealogy, stored as their own source.

The suspects are recomputed from the hub-stats dump of the current genealogy (the file its
snapshot was read from) and from the genealogy's declared links (what already has a parent
needs no suspicion), then stored as one snapshot of source ``inferred:metadata``: atomic like
every ingest, replacing the previous suspects, never touching a declared link. The index
keeps them apart (:mod:`filiation.lineage.build`) and walks follow them only when asked.

Call :func:`refresh_after_ingest` after an ingest of ``hub-stats`` (or of edges) to keep the
suspects current; never after an ingest of the suspects themselves.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filiation.domain import KIND_CODES, LINEAGE_RELATIONS, RELATION_CODES, NodeKind
from filiation.errors import InvalidArgumentError, SourceError
from filiation.inference import metadata as md
from filiation.lineage.arrays import _blob, hash_ids
from filiation.sources.records import LINK_SCHEMA, IngestReport, Records, empty_nodes

if TYPE_CHECKING:
    from filiation.lineage.index import LineageIndex
    from filiation.service import Genealogy

#: Suspects stored (and so shown on request) from this confidence on: below it, the
#: benchmark finds them wrong more often than right, and at Hub scale they would be millions.
STORE_MIN = 0.3
#: Where the Hub's dump is looked for when the genealogy has none of its own.
HUB_STATS_SOURCE = "hub-stats"

Say = Callable[[str], None]


@dataclass
class SuspectedLink:
    """One suspected link, as shown (ids as published)."""

    parent: str
    child: str
    relation: str
    confidence: float
    evidence: dict[str, Any]
    source: str = md.SOURCE

    def as_dict(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "child": self.child,
            "relation": self.relation,
            "confidence": round(self.confidence, 4),
            "evidence": self.evidence,
            "source": self.source,
        }


@dataclass
class InferResult:
    """What ``filiation infer`` found: the links (most confident first) and counts."""

    links: list[SuspectedLink]
    dump: str
    models: int
    needing: int
    candidates: int
    stored: int
    by_relation: dict[str, int]
    snapshot_id: int | None
    fitted_on: str
    missing_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "links": [link.as_dict() for link in self.links],
            "summary": {
                "dump": self.dump,
                "models": self.models,
                "without_declared_parent": self.needing,
                "candidate_pairs": self.candidates,
                "stored": self.stored,
                "stored_min_confidence": STORE_MIN,
                "by_relation": self.by_relation,
                "snapshot_id": self.snapshot_id,
                "model_fitted_on": self.fitted_on,
                "missing_columns": self.missing_columns,
            },
        }


def dump_of(genealogy: Genealogy) -> Path:
    """The hub-stats file the current genealogy was read from."""
    from filiation.service import BUNDLED_LABEL, bundled_snapshot

    snap = next(
        (s for s in genealogy.store.current_snapshots() if s.source == HUB_STATS_SOURCE), None
    )
    if snap is None:
        raise InvalidArgumentError(
            "the genealogy has no hub-stats snapshot to infer from: run `filiation ingest` "
            "first, or pass the dump with --dump"
        )
    if snap.label == BUNDLED_LABEL:
        return bundled_snapshot()
    path = Path(snap.label)
    if not path.exists():
        raise SourceError(
            f"the hub-stats dump of the current genealogy ({path}) is no longer there: "
            "pass its path (or a newer dump) with --dump"
        )
    return path


def declared_in(index: LineageIndex, keys: pa.Array) -> np.ndarray:
    """Per lower-case model id: whether the genealogy declares a lineage parent for it."""
    a = index.a
    n = len(keys)
    out = np.zeros(n, bool)
    if not n or not a.n_nodes:
        return out
    blob, off = _blob(keys, separator="\n")
    hashes = hash_ids(blob, off)
    is_model = a.kind[a.id_hash_node] == KIND_CODES[NodeKind.MODEL]
    table_hash = a.id_hash[is_model]
    table_node = a.id_hash_node[is_model]
    pos = np.minimum(np.searchsorted(table_hash, hashes), max(len(table_hash) - 1, 0))
    found = len(table_hash) > 0
    hit = (table_hash[pos] == hashes) if found else np.zeros(n, bool)
    node = table_node[pos]
    lineage = np.zeros(len(RELATION_CODES), bool)
    lineage[[RELATION_CODES[r] for r in LINEAGE_RELATIONS]] = True
    owner = np.repeat(np.arange(a.n_nodes), np.diff(a.up_ptr))  # child of each parent entry
    has_parent = np.bincount(owner[lineage[a.up_rel]], minlength=a.n_nodes) > 0
    out[hit] = has_parent[node[hit]]
    return out


def infer_genealogy(
    genealogy: Genealogy,
    dump: str | os.PathLike[str] | None = None,
    *,
    min_confidence: float = STORE_MIN,
    limit: int | None = None,
    store: bool = True,
    say: Say | None = None,
) -> InferResult:
    """Recompute the suspected parents of the genealogy and store them (see the module)."""
    if not 0.0 <= min_confidence <= 1.0:
        raise InvalidArgumentError(f"min_confidence must be between 0 and 1, not {min_confidence}")
    if limit is not None and limit < 0:
        raise InvalidArgumentError(f"limit must be 0 or more, not {limit}")
    say = say or (lambda _m: None)
    index = genealogy.index  # first: an empty store gets the bundled sample here
    path = Path(dump) if dump is not None else dump_of(genealogy)
    feat = md.read_features(path, say=say)
    say("finding the models without a declared parent")
    declared = declared_in(index, feat.keys) | feat.dump_declared
    say("scoring candidate parents")
    model = md.Model.bundled()
    sus = md.infer(feat, declared, model=model, min_confidence=STORE_MIN)
    report = IngestReport(source=md.SOURCE, label=str(path))
    report.rows_read = len(feat)
    for col in feat.missing:
        report.note(f"column {col} missing from the dump (signal not used)")
    snapshot_id = None
    if store:
        say(f"storing {len(sus):,} suspected links")
        records = Records(
            md.SOURCE,
            f"{path} (metadata model: {model.fitted_on})",
            None,
            empty_nodes(),
            links_table(sus),
            report,
        )
        report.links = records.links.num_rows
        snapshot_id = genealogy.ingest(records).snapshot_id
    shown = np.flatnonzero(sus.confidence >= min_confidence)
    shown = shown[np.lexsort((sus.child[shown], -sus.confidence[shown]))]
    if limit is not None:
        shown = shown[:limit]
    parents = pc.take(feat.ids, pa.array(sus.parent[shown])).to_pylist()
    children = pc.take(feat.ids, pa.array(sus.child[shown])).to_pylist()
    links = [
        SuspectedLink(parent=p, child=c, relation=str(r), confidence=float(conf), evidence=ev)
        for p, c, r, conf, ev in zip(
            parents,
            children,
            sus.relation[shown],
            sus.confidence[shown],
            sus.evidences(shown),
            strict=True,
        )
    ]
    return InferResult(
        links=links,
        dump=str(path),
        models=len(feat),
        needing=sus.needing,
        candidates=sus.candidates,
        stored=len(sus) if store else 0,
        by_relation=dict(Counter(str(r) for r in sus.relation).most_common()),
        snapshot_id=snapshot_id,
        fitted_on=model.fitted_on,
        missing_columns=feat.missing,
    )


def refresh_after_ingest(genealogy: Genealogy, *, say: Say | None = None) -> InferResult | None:
    """Recompute the suspects after an ingest of ``hub-stats`` or of edges (never after one of
    ``inferred:*``: that would loop). ``None``, with the reason sent to ``say``, when there is
    no dump to read: the previous suspects then stay as they are."""
    say = say or (lambda _m: None)
    try:
        return infer_genealogy(genealogy, limit=0, say=say)
    except (InvalidArgumentError, SourceError) as exc:
        say(f"suspected parents not recomputed: {exc}")
        return None


def links_table(sus: md.Suspects) -> pa.Table:
    """The suspects as link records (``declared`` false, evidence as JSON with confidence)."""
    n = len(sus)
    child = pc.take(sus.feat.ids, pa.array(sus.child))
    parent = pc.take(sus.feat.ids, pa.array(sus.parent))
    model = np.full(n, NodeKind.MODEL.value, object)
    return pa.table(
        {
            "child_kind": pa.array(model, pa.string()),
            "child_key": pc.utf8_lower(child),
            "child_id": child,
            "parent_kind": pa.array(model, pa.string()),
            "parent_key": pc.utf8_lower(parent),
            "parent_id": parent,
            "relation": pa.array(sus.relation.astype(str), pa.string()),
            "declared": pa.array(np.zeros(n, bool)),
            "evidence": pa.array(md.evidence_json(sus), pa.string()),
        },
        schema=LINK_SCHEMA,
    )
