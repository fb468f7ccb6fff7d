"""Records about nodes, read from the index's arrays: a node's details, its neighbours one
page at a time, an author's families, the genealogy's counts and the home page's entry
points. Functions of a :class:`~filiation.lineage.index.LineageIndex` and a resolved node;
``Genealogy`` resolves the ids and checks the arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from filiation.domain import (
    KIND_CODES,
    KINDS_BY_CODE,
    LINEAGE_RELATIONS,
    RELATION_CODES,
    RELATIONS_BY_CODE,
    NodeKind,
    Relation,
)
from filiation.lineage.arrays import NULL_INT
from filiation.lineage.families import root_members
from filiation.lineage.index import LineageIndex, relation_mask
from filiation.results import (
    EntryPoints,
    Families,
    Family,
    Neighbour,
    NodeDetails,
    NodeSummary,
    Stats,
    hub_url,
    summary_fields,
)


def _opt(value: Any) -> int | None:
    v = int(value)
    return None if v == NULL_INT else v


def neighbours(
    index: LineageIndex,
    node: int,
    down: bool,
    rels: tuple[Relation, ...] | None,
    limit: int | None,
    ranking: Sequence[str],
    offset: int = 0,
) -> list[Neighbour]:
    """Direct children (``down``) or parents of ``node``, best first under ``ranking``."""
    nodes, edges, _ = index.top_neighbours(
        node,
        down=down,
        relations=rels,
        limit=offset + limit if limit is not None else 1 << 62,
        ranking=ranking,
    )
    # Records only for the page asked for: a family's other tens of thousands stay arrays.
    nodes, edges = nodes[offset:], edges[offset:]
    a = index.a
    return [
        Neighbour(
            **summary_fields(index, n),
            relation=RELATIONS_BY_CODE[int(a.edge_rel[e])],
            declared=bool(a.edge_declared[e]),
        )
        for n, e in zip(nodes.tolist(), edges.tolist(), strict=True)
    ]


def node_details(
    index: LineageIndex,
    node: int,
    rels: tuple[Relation, ...] | None,
    limit: int,
    ranking: Sequence[str],
    extra: dict[str, Any],
) -> NodeDetails:
    """A node's indicators, its direct family counted per relation, and the important
    parents and children under ``ranking``."""
    a = index.a

    def per_relation(ptr: np.ndarray, rel: np.ndarray, skip: Relation | None) -> dict[str, int]:
        s, e = ptr[node : node + 2].tolist()
        counts = np.bincount(np.asarray(rel[s:e]), minlength=len(RELATIONS_BY_CODE))
        return {
            RELATIONS_BY_CODE[i].value: int(c)
            for i, c in enumerate(counts)
            if c and RELATIONS_BY_CODE[i] is not skip
        }

    # Below an author: what it published; below a data set: the models trained on it.
    children_by = per_relation(a.down_ptr, a.down_rel, None)
    lineage_names = {r.value for r in (rels or LINEAGE_RELATIONS)}
    kind_ = KINDS_BY_CODE[int(a.kind[node])]
    nid = a.id_of(node)

    def vocab(name: str) -> str | None:
        code = int(getattr(a, name)[node])
        return a.vocab[name][code] if code >= 0 else None

    def when(value: int) -> datetime | None:
        v = int(value)
        return None if v == NULL_INT else datetime.fromtimestamp(v / 1e6, UTC).replace(tzinfo=None)

    trending = float(a.trending[node])
    by_downloads = ("downloads",)
    return NodeDetails(
        id=nid,
        kind=kind_,
        stub=bool(a.stub[node]),
        url=None if a.stub[node] and kind_ is NodeKind.DATASET else hub_url(kind_, nid),
        author=summary_fields(index, node)["author"],
        created_at=when(a.created[node]),
        last_modified=when(a.modified[node]),
        pipeline_tag=vocab("pipeline_tag"),
        library_name=vocab("library_name"),
        license=vocab("license"),
        downloads=_opt(a.downloads[node]),
        downloads_all_time=_opt(a.downloads_all_time[node]),
        likes=_opt(a.likes[node]),
        trending_score=None if np.isnan(trending) else trending,
        parameters=_opt(a.parameters[node]),
        parents=neighbours(index, node, False, rels, None, by_downloads),
        parents_by_relation=per_relation(a.up_ptr, a.up_rel, Relation.PUBLISHED_BY),
        children_by_relation=children_by,
        children=sum(v for k, v in children_by.items() if k in lineage_names),
        datasets=neighbours(index, node, False, (Relation.TRAINED_ON,), None, by_downloads),
        descendants=int(a.descendants[node]),
        generations=int(a.generations[node]),
        citations=int(a.citations[node]),
        important_parents=neighbours(index, node, False, rels, limit, ranking),
        important_children=neighbours(index, node, True, rels, limit, ranking),
        ranking=list(ranking),
        extra=extra,
    )


def families(index: LineageIndex, author: int, limit: int) -> Families:
    """The families an author's models sit in (see ``Genealogy.families``)."""
    a = index.a
    published, _ = index.neighbours(author, down=True, relations=(Relation.PUBLISHED_BY,))
    models = published[np.asarray(a.kind)[published] == KIND_CODES[NodeKind.MODEL]]
    roots, members = root_members(a, models, relation_mask(LINEAGE_RELATIONS))
    # Most members first; ties stay best known first (roots come in index order).
    order = np.argsort(-members, kind="stable")[:limit]
    return Families(
        author=a.id_of(author),
        models=len(models),  # an author publishes a model once: links are unique
        families=[
            Family(root=NodeSummary(**summary_fields(index, r)), members=int(c))
            for r, c in zip(roots[order].tolist(), members[order].tolist(), strict=True)
        ],
        total=len(roots),
    )


def stats(index: LineageIndex, snapshots: list[dict[str, Any]], store: str) -> Stats:
    """Nodes per kind, links per relation, cycles, and the current snapshots."""
    a = index.a
    kinds = np.bincount(np.asarray(a.kind), minlength=len(KINDS_BY_CODE))
    edge_rel = np.asarray(a.edge_rel)
    suspected = index.suspected(np.arange(len(edge_rel)))
    rels = np.bincount(edge_rel[~suspected], minlength=len(RELATIONS_BY_CODE))
    stubs = np.bincount(np.asarray(a.kind)[np.asarray(a.stub)], minlength=len(KINDS_BY_CODE))
    published_by = (edge_rel != RELATION_CODES[Relation.PUBLISHED_BY]) & ~suspected
    return Stats(
        nodes_by_kind={KINDS_BY_CODE[i].value: int(c) for i, c in enumerate(kinds)},
        stubs_by_kind={KINDS_BY_CODE[i].value: int(c) for i, c in enumerate(stubs)},
        links_by_relation={RELATIONS_BY_CODE[i].value: int(c) for i, c in enumerate(rels) if c},
        declared_links=int(np.asarray(a.edge_declared)[published_by].sum()),
        suspected_links=int(suspected.sum()),
        cycles=int(a.meta.get("cycles", 0)),
        nodes_in_cycles=int(a.meta.get("nodes_in_cycles", 0)),
        snapshots=snapshots,
        store=store,
    )


def entry_points(index: LineageIndex, count: int) -> EntryPoints:
    """The most derived families (models with most descendants) and the newest models, a
    pass over two arrays."""
    a = index.a
    models = (np.asarray(a.kind) == KIND_CODES[NodeKind.MODEL]) & ~np.asarray(a.stub, bool)

    def top(score: np.ndarray, known: np.ndarray) -> list[NodeSummary]:
        candidates = np.flatnonzero(models & known)
        values = score[candidates]
        k = min(count, len(candidates))
        if k == 0:
            return []
        if len(values) > k:
            keep = np.argpartition(values, len(values) - k)[len(values) - k :]
            candidates, values = candidates[keep], values[keep]
        # Highest score first; ties by renown (lower node number = better known).
        order = candidates[np.lexsort((candidates, -values))]
        return [NodeSummary(**summary_fields(index, int(n))) for n in order]

    descendants = np.asarray(a.descendants).astype(np.int64)
    created = np.asarray(a.created).astype(np.int64)
    return EntryPoints(
        families=top(descendants, descendants > 0),
        recent=top(created, created != NULL_INT),
    )


def suggest(index: LineageIndex, node_id: str, kind: NodeKind | None, k: int = 5) -> list[str]:
    """Near ids for a typo: search ever shorter prefixes of the name, keep the closest.

    Bounded: at most a dozen searches on at most 128 characters, whatever the input.
    """
    import difflib

    name = node_id.strip().split("/")[-1][:128]
    kinds = [kind] if kind else None
    candidates: list[str] = []
    floor = max(2, len(name) // 2)
    step = max(1, (len(name) - floor) // 12)
    for cut in range(len(name), floor - 1, -step):
        candidates = [index.a.id_of(n) for n in index.search(name[:cut], 50, kinds)]
        if candidates:
            break
    return difflib.get_close_matches(node_id[:256], candidates, n=k, cutoff=0.5)


def merge_extra(texts: Iterable[str]) -> dict[str, Any]:
    """Source-specific fields (architecture from an edge list...) of one node, from the JSON
    texts its snapshots hold: the first source to name a field wins; bad JSON is skipped."""
    out: dict[str, Any] = {}
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                out.setdefault(k, v)
    return out
