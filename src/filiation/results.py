"""Typed results of the service: what the CLI prints, the API serialises and the web renders.

Traversals can return tens of thousands of nodes, so :class:`Lineage` keeps them as arrays
and builds records only when asked; its JSON form is stable and documented in
``docs/json.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field

from filiation.domain import KINDS_BY_CODE, RELATIONS_BY_CODE, NodeKind, Relation
from filiation.lineage.arrays import NULL_INT

if TYPE_CHECKING:
    from filiation.lineage.index import LineageIndex
    from filiation.lineage.traverse import Walk

HUB = "https://huggingface.co"


def hub_url(kind: NodeKind, node_id: str) -> str | None:
    if kind is NodeKind.MODEL:
        return f"{HUB}/{node_id}"
    if kind is NodeKind.DATASET:
        return f"{HUB}/datasets/{node_id}"
    if kind is NodeKind.AUTHOR:
        return f"{HUB}/{node_id}"
    return None


class ResultModel(BaseModel):
    """The results' base: each model's validator is built on its first use, not at import
    (pydantic's ``defer_build``), so a fresh ``show`` pays for the few results it returns
    (about 50 ms less CPU than building all of them at import)."""

    model_config = ConfigDict(defer_build=True)


#: What ``citations`` counts, said once for every result that carries it.
CITATIONS_HELP = (
    "distinct models naming this node as a parent (declared links of any relation but "
    "published_by; direct children only, unlike descendants)"
)


class NodeSummary(ResultModel):
    """A node as listed among others: enough to recognise and rank it."""

    id: str
    kind: NodeKind
    author: str | None = None
    downloads: int | None = None
    likes: int | None = None
    descendants: int = 0
    citations: int = Field(0, description=CITATIONS_HELP)
    stub: bool = Field(False, description="named as a parent but absent from every source")


class Link(ResultModel):
    """A typed parent→child link and who said so."""

    parent: str
    child: str
    relation: Relation
    declared: bool = Field(description="relation stated by the publisher, not inferred")
    source: str = Field(description="the snapshot that holds this link")
    evidence: str | None = Field(None, description="the field or file the link was read from")
    confidence: float | None = Field(
        None, description="for a suspected (inferred) link, how likely it is; None if declared"
    )


class Neighbour(NodeSummary):
    relation: Relation
    declared: bool


class SearchHit(NodeSummary):
    """A search result; authors and data sets, which have no descendants of their own, say
    what they reach instead."""

    models: int | None = Field(
        None,
        description="an author: the models it publishes; a data set: the models in its "
        "impact set (trained on it, and everything derived from them)",
    )
    families: int | None = Field(
        None, description="an author: the families its models sit in (their root ancestors)"
    )


class SearchPage(ResultModel):
    """One page of search results, with how many there are in all."""

    query: str
    items: list[SearchHit]
    offset: int
    limit: int
    total: int = Field(description="results in all (at most `counted_up_to`)")
    total_exact: bool = Field(description="false: there are more than `total`")
    counted_up_to: int = Field(description="results are counted up to this bound")
    next_offset: int | None = Field(None, description="where the next page starts, if any")


class NodeDetails(ResultModel):
    """Everything ``show`` says about one node."""

    id: str
    kind: NodeKind
    stub: bool
    url: str | None
    author: str | None = None
    created_at: datetime | None = None
    last_modified: datetime | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    license: str | None = None
    downloads: int | None = None
    downloads_all_time: int | None = None
    likes: int | None = None
    trending_score: float | None = None
    parameters: int | None = None
    parents: list[Neighbour]
    parents_by_relation: dict[str, int]
    children_by_relation: dict[str, int]
    children: int
    datasets: list[Neighbour]
    descendants: int
    generations: int
    citations: int = Field(0, description=CITATIONS_HELP)
    important_parents: list[Neighbour]
    important_children: list[Neighbour]
    ranking: list[str]
    extra: dict[str, Any] = Field(default_factory=dict)


class Family(ResultModel):
    """A family an author's models sit in: its root ancestor and how many of them it holds."""

    root: NodeSummary = Field(description="a model with no known parent, ancestor of them")
    members: int = Field(description="how many of the author's models descend from it (or are it)")


class Families(ResultModel):
    author: str
    models: int = Field(description="models the author published")
    families: list[Family] = Field(description="most members first, then best known root")
    total: int = Field(description="how many families were found")


class PathResult(ResultModel):
    source: str
    target: str
    found: bool
    links: list[Link]


class Stats(ResultModel):
    nodes_by_kind: dict[str, int]
    stubs_by_kind: dict[str, int] = Field(
        description="nodes only named by a link (a parent absent from the dump, a data set)"
    )
    links_by_relation: dict[str, int] = Field(description="declared and Hub-inferred links")
    declared_links: int
    suspected_links: int = Field(
        0, description="links filiation suspects (inferred:*), followed only when asked"
    )
    cycles: int
    nodes_in_cycles: int
    snapshots: list[dict[str, Any]]
    store: str


class NodeRef(ResultModel):
    """A node found by its id: the id as published, and what it is."""

    id: str
    kind: NodeKind


class EntryPoints(ResultModel):
    """Where to start exploring (the home page): the most derived families and the newest
    models, each best first."""

    families: list[NodeSummary] = Field(description="models with most descendants")
    recent: list[NodeSummary] = Field(description="the most recently created models")


class Health(ResultModel):
    """What a server process answers from."""

    status: str = "ok"
    version: str
    snapshots: list[int] = Field(
        default_factory=list, description="ids of the snapshots this process answers from"
    )
    worker: int = Field(0, description="id of the server process that answered")


class Limits(ResultModel):
    """Bounds of what the genealogy accepts, for interfaces to check input early."""

    max_id_length: int = Field(description="no source keeps a longer id")
    suggest_max: int = Field(
        description="ids longer than this get no near-id suggestions when unknown"
    )


def _opt(value: Any) -> int | None:
    v = int(value)
    return None if v == NULL_INT else v


#: The dates ISO 8601 writes with four digits (years 1 to 9999), in microseconds since 1970.
_FIRST_DATE, _LAST_DATE = -62_135_596_800_000_000, 253_402_300_799_999_999


def _iso(micros: int) -> str | None:
    """A creation date from the index (microseconds since 1970, UTC) as ISO 8601."""
    return iso_dates(np.asarray([micros], np.int64))[0]


def iso_dates(micros: np.ndarray) -> list[str | None]:
    """Creation dates from the index as ISO 8601 (``None`` where unknown or beyond what the
    format writes), all at once: a traversal's hundred dates one by one through ``datetime``
    cost more than the walk that found them."""
    micros = np.asarray(micros, np.int64)
    known = (micros != NULL_INT) & (micros >= _FIRST_DATE) & (micros <= _LAST_DATE)
    text = np.datetime_as_string(np.where(known, micros, 0).astype("datetime64[us]"), unit="s")
    return [t + "Z" if k else None for t, k in zip(text.tolist(), known.tolist(), strict=True)]


def summary_fields(index: LineageIndex, node: int) -> dict[str, Any]:
    a = index.a
    return {
        "id": a.id_of(node),
        "kind": KINDS_BY_CODE[int(a.kind[node])],
        "author": author_name(index, node),
        "downloads": _opt(a.downloads[node]),
        "likes": _opt(a.likes[node]),
        "descendants": int(a.descendants[node]),
        "citations": int(a.citations[node]),
        "stub": bool(a.stub[node]),
    }


def author_name(index: LineageIndex, node: int) -> str | None:
    """The author a model or data set is published by, if any."""
    author = int(index.a.author[node])
    return index.a.id_of(author) if author >= 0 else None


def link_of(index: LineageIndex, edge: int) -> Link:
    a = index.a
    src = int(a.edge_source[edge])
    return Link(
        parent=a.id_of(int(a.edge_parent[edge])),
        child=a.id_of(int(a.edge_child[edge])),
        relation=RELATIONS_BY_CODE[int(a.edge_rel[edge])],
        declared=bool(a.edge_declared[edge]),
        source=a.vocab["sources"][src] if src >= 0 else "derived",
        evidence=a.vocab["evidence"][int(a.edge_evidence[edge])] or None,
        confidence=index.confidence(edge),
    )


#: A node kind or a relation as a :class:`LineageNode` holds it: its name (the JSON's string),
#: documented with the names it takes.
KindName = Annotated[str, Field(json_schema_extra={"enum": [k.value for k in NodeKind]})]
RelationName = Annotated[str, Field(json_schema_extra={"enum": [r.value for r in Relation]})]


@dataclass(frozen=True, slots=True)
class LineageNode:
    """One node of a traversal's answer: the fields of its JSON record (docs/json.md), which
    the API's OpenAPI document shows as they are written here.

    Built on demand from the answer's arrays (for node in lineage); the root(s) come first
    at depth 0, with no relation, via nor declared.
    """

    id: str
    kind: KindName
    author: str | None
    depth: Annotated[
        int,
        Field(
            description="shortest number of links from the root; negative for ancestors in /lineage"
        ),
    ]
    relation: Annotated[
        RelationName | None, Field(description="the link by which the node was first reached")
    ]
    via: Annotated[str | None, Field(description="the node at the other end of that link")]
    declared: Annotated[
        bool | None, Field(description="whether the publisher declared that relation")
    ]
    downloads: int | None
    likes: int | None
    descendants: Annotated[int, Field(description="the node's own number of descendants")]
    stub: Annotated[bool, Field(description="named by a link but described by no source")]
    created_at: Annotated[str | None, Field(description="creation date (ISO 8601, UTC), if known")]
    citations: Annotated[int, Field(description=CITATIONS_HELP)] = 0
    suspected: Annotated[
        bool,
        Field(
            description="reached through a suspected link (inferred by filiation, followed "
            "only when asked)"
        ),
    ] = False
    confidence: Annotated[
        float | None,
        Field(description="that link's confidence; null when reached through a declared one"),
    ] = None


class Lineage:
    """The nodes a traversal reached and the links it followed.

    ``len(lineage)`` counts the nodes found, without the starting node(s). Depth is the
    shortest number of links from the start; in :meth:`Genealogy.lineage`, ancestors have
    negative depths and descendants positive ones.
    """

    def __init__(
        self,
        index: LineageIndex,
        *,
        root: str,
        direction: str,
        relations: list[Relation],
        roots: np.ndarray,
        nodes: np.ndarray,
        depth: np.ndarray,
        via: np.ndarray,
        edges: np.ndarray,
        truncated: bool,
        depth_cut: bool = False,
    ) -> None:
        self._index = index
        self.root = root
        self.direction = direction
        self.relations = relations
        self.roots = roots
        self.node_index = nodes
        self.depth = depth
        self.via = via
        self.edge_index = edges
        self.truncated = truncated
        self.depth_cut = depth_cut
        #: The node filters applied (``filiation.lineage.filters``), empty when none.
        self.filters: dict[str, Any] = {}
        #: Reads the signals of suspected links by link number (the service's, from the
        #: store: ``service/evidence.py``); without it a suspect's evidence is its source.
        self.evidence_reader: Callable[[np.ndarray], dict[int, Any]] | None = None

    @classmethod
    def from_walk(
        cls, index: LineageIndex, root: str, direction: str, relations: list[Relation], walk: Walk
    ) -> Lineage:
        """The answer of one walk; the walk's fields are this class's arrays of the same
        names (``nodes``, ``edges``... kept as they are, not copied)."""
        return cls(index, root=root, direction=direction, relations=relations, **vars(walk))

    def as_walk(self) -> Walk:
        """The arrays of this answer as a walk (to filter it, see ``lineage/filters.py``)."""
        from filiation.lineage.traverse import Walk

        return Walk(
            roots=self.roots,
            nodes=self.node_index,
            depth=self.depth,
            via=self.via,
            edges=self.edge_index,
            truncated=self.truncated,
            depth_cut=self.depth_cut,
        )

    @property
    def index(self) -> LineageIndex:
        """The index this answer's arrays number nodes and links in."""
        return self._index

    def __len__(self) -> int:
        return len(self.node_index)

    def __iter__(self) -> Iterator[LineageNode]:
        """Typed nodes, the root(s) first: the records of :attr:`nodes`, as dataclasses."""
        return (LineageNode(**record) for record in self.nodes)

    def __repr__(self) -> str:
        return (
            f"Lineage(root={self.root!r}, direction={self.direction!r}, nodes={len(self)}, "
            f"truncated={self.truncated})"
        )

    def ids(self) -> list[str]:
        return self._index.a.ids_of(self.node_index)

    @property
    def max_depth(self) -> int:
        return int(np.abs(self.depth).max()) if len(self.depth) else 0

    def relation_counts(self) -> dict[str, int]:
        if not len(self.via):
            return {}
        codes = np.asarray(self._index.a.edge_rel)[self.via]
        counts = np.bincount(codes, minlength=len(RELATIONS_BY_CODE))
        return {RELATIONS_BY_CODE[i].value: int(c) for i, c in enumerate(counts) if c}

    @cached_property
    def nodes(self) -> list[dict[str, Any]]:
        """One record per node: the root(s) at depth 0, then every node found."""
        index = self._index
        a = index.a
        out: list[dict[str, Any]] = []
        for r in self.roots.tolist():
            fields = summary_fields(index, r)
            out.append(
                {
                    "id": fields["id"],
                    "kind": fields["kind"].value,
                    "author": fields["author"],
                    "depth": 0,
                    "relation": None,
                    "via": None,
                    "declared": None,
                    "downloads": fields["downloads"],
                    "likes": fields["likes"],
                    "descendants": fields["descendants"],
                    "stub": fields["stub"],
                    "created_at": _iso(int(a.created[r])),
                    "citations": fields["citations"],
                }
            )
        if not len(self.node_index):
            return out
        ids = a.ids_of(self.node_index)
        kinds = np.asarray(a.kind)[self.node_index].tolist()
        dls = np.asarray(a.downloads)[self.node_index].tolist()
        likes = np.asarray(a.likes)[self.node_index].tolist()
        desc = np.asarray(a.descendants)[self.node_index].tolist()
        cites = np.asarray(a.citations)[self.node_index].tolist()
        stub = np.asarray(a.stub)[self.node_index].tolist()
        created = iso_dates(np.asarray(a.created)[self.node_index])
        author_idx = np.asarray(a.author)[self.node_index]
        has_author = author_idx >= 0
        authors: list[str | None] = [None] * len(ids)
        for i, name in zip(
            np.flatnonzero(has_author).tolist(), a.ids_of(author_idx[has_author]), strict=True
        ):
            authors[i] = name
        rel = np.asarray(a.edge_rel)[self.via].tolist()
        decl = np.asarray(a.edge_declared)[self.via].tolist()
        # The node each one was reached from: the parent going down, the child going up.
        if self.direction == "ancestors":
            up = np.ones(len(self.depth), bool)
        elif self.direction == "both":
            up = self.depth < 0
        else:
            up = np.zeros(len(self.depth), bool)
        other = np.where(
            up, np.asarray(a.edge_child)[self.via], np.asarray(a.edge_parent)[self.via]
        )
        other_ids = a.ids_of(other)
        kind_names = [k.value for k in KINDS_BY_CODE]
        rel_names = [r.value for r in RELATIONS_BY_CODE]
        depths = self.depth.tolist()
        for i, node_id in enumerate(ids):
            out.append(
                {
                    "id": node_id,
                    "kind": kind_names[kinds[i]],
                    "author": authors[i],
                    "depth": depths[i],
                    "relation": rel_names[rel[i]],
                    "via": other_ids[i],
                    "declared": bool(decl[i]),
                    "downloads": None if dls[i] == NULL_INT else dls[i],
                    "likes": None if likes[i] == NULL_INT else likes[i],
                    "descendants": desc[i],
                    "stub": bool(stub[i]),
                    "created_at": created[i],
                    "citations": cites[i],
                }
            )
        # A node reached through a suspected link says so, with the link's confidence.
        via = np.asarray(self.via)
        for i in np.flatnonzero(self._index.suspected(via)).tolist():
            out[len(out) - len(ids) + i]["suspected"] = True
            out[len(out) - len(ids) + i]["confidence"] = self._index.confidence(int(via[i]))
        return out

    @cached_property
    def edges(self) -> list[dict[str, Any]]:
        a = self._index.a
        if not len(self.edge_index):
            return []
        e = np.unique(self.edge_index)
        parents = a.ids_of(np.asarray(a.edge_parent)[e])
        children = a.ids_of(np.asarray(a.edge_child)[e])
        rels = np.asarray(a.edge_rel)[e].tolist()
        decl = np.asarray(a.edge_declared)[e].tolist()
        srcs = np.asarray(a.edge_source)[e].tolist()
        labels = a.vocab["sources"]
        rel_names = [r.value for r in RELATIONS_BY_CODE]
        out = [
            {
                "parent": p,
                "child": c,
                "relation": rel_names[r],
                "declared": bool(d),
                "source": labels[s] if s >= 0 else "derived",
            }
            for p, c, r, d, s in zip(parents, children, rels, decl, srcs, strict=True)
        ]
        # Suspected (inferred) links, followed only when asked, say so with their confidence
        # and evidence; declared links keep their record as documented.
        sus = np.flatnonzero(self._index.suspected(e))
        signals = self.evidence_reader(e[sus]) if self.evidence_reader and len(sus) else None
        for i in sus.tolist():
            edge = int(e[i])
            out[i]["suspected"] = True
            out[i]["confidence"] = self._index.confidence(edge)
            out[i]["evidence"] = (
                signals.get(edge)
                if signals is not None
                else a.vocab["evidence"][int(a.edge_evidence[edge])] or None
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "relations": [r.value for r in self.relations],
            "nodes": self.nodes,
            "edges": self.edges,
            "truncated": self.truncated,
            "depth_limited": self.depth_cut,
            **({"filters": self.filters} if self.filters else {}),
        }

    def to_json(self, indent: bool = False) -> str:
        option = orjson.OPT_INDENT_2 if indent else 0
        return orjson.dumps(self.to_dict(), option=option).decode()
