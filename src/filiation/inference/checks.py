"""Checks of declared links: the links of the genealogy that the evidence contradicts.

A publisher's card says "fine-tuned from X"; the Hub's own metadata may say otherwise. Each
rule compares what a link claims with what filiation knows of its two ends:

=====================  ======================================================================
rule                   a link is flagged when
=====================  ======================================================================
other_architecture     parent and child have different known architectures (a GGUF
                       header's ``general.architecture``, the same name among the model's
                       tags, or an edge list's ``architecture`` column)
other_size             a finetune or merge whose parameter count is less than 1/1.5 of its
                       parent's (or, for a finetune, more than 1.5x: another hidden size or
                       depth), or a quantised copy larger than 1.5x its parent (quantising
                       never grows a model); adapters are not compared (they are small
                       on purpose)
child_older            the child was created more than a day before its parent (a release
                       often uploads its instruct model minutes before its base)
gguf_finetune          a "finetune" whose repository ships GGUF files and no safetensors (that
                       is a quantisation, not a fine-tune)
single_parent_merge    a "merge" with exactly one parent
cycle                  the link lies on a cycle of lineage links (a self-loop included)
=====================  ======================================================================

Only the genealogy's own links are checked (suspects from ``inferred:*`` sources are not).
Every rule is evaluated over the whole index at once with array operations (no loop over
nodes), so the full Hub takes seconds; the result is cached per index, and the flags of one
model are a look-up in it.

Where the facts come from: the index keeps parameter counts (the dump's ``safetensors``
total, else its ``gguf`` total) and creation dates. The architecture and the files shipped
are not kept by the store: they are read from the current hub-stats snapshot's dump when it
is still on disk (and from edge lists' ``architecture`` column); a rule whose facts are
missing is reported as not evaluated, never as clean.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from filiation.domain import (
    KIND_CODES,
    LINEAGE_RELATIONS,
    RELATION_CODES,
    RELATIONS_BY_CODE,
    NodeKind,
    Relation,
)
from filiation.errors import SourceError

# pyarrow reads the facts from a dump (then kept beside the index): a model's checks in
# ``show`` evaluate the rules over numpy arrays only and do not load it.
if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq
from filiation.lineage.arrays import NULL_INT, IndexArrays

RULES: dict[str, str] = {
    "other_architecture": "parent of another architecture",
    "other_size": "parent of another size (parameter count)",
    "child_older": "child created before its parent (by more than a day)",
    "gguf_finetune": "a finetune shipping only GGUF files (a quantisation)",
    "single_parent_merge": "a merge with a single parent",
    "cycle": "link on a cycle",
}
#: Parameter counts within this factor are "the same size": a fine-tune may add a few
#: tokens or a head, never half of the model; depth up-scaling or distillation goes beyond.
SIZE_FACTOR = 1.5
#: A child created less than this before its parent is not flagged: a release uploads its
#: base and instruct models within hours of each other, in either order.
CREATED_MARGIN_US = 24 * 3600 * 1_000_000
#: Dump columns read for the facts the store does not keep.
_DUMP_COLUMNS = ("id", "tags", "gguf", "safetensors")
#: What edge lists write for "we do not know" in their architecture column.
_NO_VALUE = frozenset({"", "unknown", "none", "null", "n/a", "na", "-", "?"})
_GGUF_ARCH = r'"architecture"\s*:\s*"(?P<arch>[^"]{1,64})"'
_LINEAGE = np.array([RELATION_CODES[r] for r in LINEAGE_RELATIONS], np.int8)
_FINETUNE = RELATION_CODES[Relation.FINETUNE]
_MERGE = RELATION_CODES[Relation.MERGE]
_QUANTIZED = RELATION_CODES[Relation.QUANTIZED]
_ADAPTER = RELATION_CODES[Relation.ADAPTER]


class Flag(BaseModel):
    """One declared link and the rule it breaks, with the values that break it."""

    child: str
    parent: str
    relation: str
    rule: str
    explanation: str
    values: dict[str, Any] = Field(default_factory=dict)
    declared: bool = True
    source: str = ""


class CheckReport(BaseModel):
    """The flags of one model (``node``) or of the whole genealogy (``node`` None)."""

    node: str | None = None
    links_checked: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    flags: list[Flag] = Field(default_factory=list)
    truncated: bool = False
    not_evaluated: dict[str, str] = Field(default_factory=dict)
    facts: list[str] = Field(default_factory=list)

    @property
    def rule_meanings(self) -> dict[str, str]:
        """What each rule flags, in words (for a reader of the report)."""
        return dict(RULES)

    def summary(self) -> str:
        """One line: ``checks: 2 (child_older 1, cycle 1)`` or ``checks: none``."""
        total = sum(self.counts.values())
        if not total:
            return "checks: none"
        parts = ", ".join(f"{r} {c}" for r, c in self.counts.items() if c)
        return f"checks: {total} ({parts})"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass
class Facts:
    """Per index node: architecture code (-1 unknown) and whether it ships only GGUF files
    (1 yes, 0 no, -1 unknown); ``sources`` says where they were read."""

    architecture: np.ndarray
    arch_vocab: list[str]
    gguf_only: np.ndarray
    sources: list[str] = field(default_factory=list)

    @classmethod
    def unknown(cls, n: int) -> Facts:
        return cls(np.full(n, -1, np.int32), [], np.full(n, -1, np.int8))

    def _code(self, name: str) -> int:
        try:
            return self.arch_vocab.index(name)
        except ValueError:
            self.arch_vocab.append(name)
            return len(self.arch_vocab) - 1


def _node_of_ids(arrays: IndexArrays, lower_ids: pa.Array) -> np.ndarray:
    """The model node of each lower-cased id (-1 when absent), through the index's own id
    hashes (sorted): one vectorised hash and binary search, then a check of the strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from filiation.lineage.arrays import _blob, hash_ids

    lower_ids = pc.cast(lower_ids, pa.large_string())
    if isinstance(lower_ids, pa.ChunkedArray):
        lower_ids = lower_ids.combine_chunks()
    blob, offsets = _blob(lower_ids, separator="\n")
    hashes = hash_ids(blob, offsets)
    table = np.asarray(arrays.id_hash)
    owner = np.asarray(arrays.id_hash_node)
    model = KIND_CODES[NodeKind.MODEL]
    out = np.full(len(hashes), -1, np.int64)
    if not len(table):
        return out
    # sorted keys make the binary searches walk the table in order (10x faster at 3M)
    order = np.argsort(hashes, kind="stable")
    lo = np.empty(len(hashes), np.int64)
    hi = np.empty(len(hashes), np.int64)
    lo[order] = np.searchsorted(table, hashes[order], side="left")
    hi[order] = np.searchsorted(table, hashes[order], side="right")
    # a model and a data set may share an id (and so a hash): at most a few per hash
    for k in range(int((hi - lo).max(initial=0))):
        pos = lo + k
        live = (pos < hi) & (out < 0)
        if not live.any():
            break
        cand = owner[np.minimum(pos, len(owner) - 1)].astype(np.int64)
        out[live & (np.asarray(arrays.kind)[cand] == model)] = cand[
            live & (np.asarray(arrays.kind)[cand] == model)
        ]
    found = out >= 0
    if found.any():  # 64-bit hashes: a collision is unlikely, but never assumed away
        theirs = pc.utf8_lower(arrays.id_array().take(pa.array(out[found])))
        same = pc.equal(theirs, lower_ids.filter(pa.array(found))).to_numpy(zero_copy_only=False)
        out[np.flatnonzero(found)[~same]] = -1
    return out


def _lineage_ends(arrays: IndexArrays) -> np.ndarray:
    """Per node: is it an end of a lineage link (the only nodes whose facts a rule reads)."""
    rel = np.asarray(arrays.edge_rel)
    lin = np.isin(rel, _LINEAGE)
    ends = np.zeros(arrays.n_nodes, bool)
    ends[np.asarray(arrays.edge_child)[lin]] = True
    ends[np.asarray(arrays.edge_parent)[lin]] = True
    return ends


def add_dump_facts(
    facts: Facts, arrays: IndexArrays, dump: Path, batch_size: int = 262_144
) -> None:
    """Architecture and GGUF-only flags from a hub-stats dump, for the models at either end
    of a lineage link (the others are never read by a rule).

    The tags are the costly column (tens of millions of strings at Hub scale): they are read
    batch by batch and only the rows of link ends are looked at."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(dump)
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"{dump} is not a readable hub-stats dump ({exc})") from exc
    schema = pf.schema_arrow
    present = set(schema.names)
    if "id" not in present or "gguf" not in present:
        return
    cols = ["id", "gguf"]
    st = schema.field("safetensors").type if "safetensors" in present else None
    if st is not None:
        # only whether the row has safetensors: one nested field, not the 20 dtype counts
        has_total = pa.types.is_struct(st) and st.get_field_index("total") >= 0
        cols.append("safetensors.total" if has_total else "safetensors")
    table = pf.read(columns=cols)
    nodes = _node_of_ids(arrays, pc.utf8_lower(table["id"]))
    ends = _lineage_ends(arrays)
    wanted = (nodes >= 0) & ends[np.maximum(nodes, 0)]
    gguf = pc.cast(table["gguf"], pa.string())
    has_gguf = pc.is_valid(gguf).to_numpy(zero_copy_only=False)
    if st is not None:
        stc = table.column(table.num_columns - 1)
        has_st = pc.is_valid(stc).to_numpy(zero_copy_only=False)
        facts.gguf_only[nodes[wanted]] = (has_gguf & ~has_st)[wanted].astype(np.int8)
    found = pc.struct_field(pc.extract_regex(gguf, _GGUF_ARCH), "arch")
    vocab = sorted(a for a in pc.unique(found).to_pylist() if a)
    arch = np.full(len(table), -1, np.int32)
    del table
    if vocab:
        remap = np.array([facts._code(a) for a in vocab], np.int32)
        header = pc.fill_null(pc.index_in(found, value_set=pa.array(vocab)), -1)
        hdr = header.to_numpy(zero_copy_only=False)
        arch[hdr >= 0] = remap[hdr[hdr >= 0]]
        if "tags" in present:
            _tag_architectures(pf, arch, wanted, vocab, remap, batch_size)
    known = wanted & (arch >= 0)
    facts.architecture[nodes[known]] = arch[known]
    facts.sources.append(f"dump {dump.name}: GGUF headers, architecture tags, files shipped")


def _tag_architectures(
    pf: pq.ParquetFile,
    arch: np.ndarray,
    wanted: np.ndarray,
    vocab: list[str],
    remap: np.ndarray,
    batch_size: int,
) -> None:
    """Fill ``arch`` (rows without a GGUF header's) from the tags: the Hub tags a model with
    its config's ``model_type``, the names GGUF headers use. A row naming two stays unknown."""
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = pa.array(vocab)
    start = 0
    for batch in pf.iter_batches(batch_size=batch_size, columns=["tags"]):
        n = batch.num_rows
        rows = np.flatnonzero(wanted[start : start + n] & (arch[start : start + n] < 0))
        if len(rows):
            tags = pc.take(batch.column(0), pa.array(rows))
            flat = pc.list_flatten(tags)
            owner = rows[pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)] + start
            hit = pc.fill_null(pc.index_in(flat, value_set=value_set), -1)
            hit = hit.to_numpy(zero_copy_only=False)
            sel = hit >= 0
            at, codes = owner[sel], remap[hit[sel]]
            if len(at):
                order = np.lexsort((codes, at))
                at, codes = at[order], codes[order]
                first = np.r_[True, at[1:] != at[:-1]]
                last = np.r_[at[1:] != at[:-1], True]
                single = codes[first] == codes[last]
                arch[at[first][single]] = codes[first][single]
        start += n


def add_extra_facts(facts: Facts, arrays: IndexArrays, extras: Iterable[tuple[str, str]]) -> int:
    """Architectures from source-specific fields (an edge list's ``architecture``), given as
    ``(lower-cased id, extra JSON)``; returns how many were used."""
    keys: list[str] = []
    codes: list[int] = []
    for key, text in extras:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        arch = value.get("architecture") if isinstance(value, dict) else None
        if isinstance(arch, str) and arch.strip().lower() not in _NO_VALUE:
            keys.append(key)
            codes.append(facts._code(arch.strip().lower()))
    if not keys:
        return 0
    import pyarrow as pa

    nodes = _node_of_ids(arrays, pa.array(keys, pa.string()))
    ok = nodes >= 0
    unknown = facts.architecture[nodes[ok]] < 0
    facts.architecture[nodes[ok][unknown]] = np.asarray(codes, np.int32)[ok][unknown]
    facts.sources.append("edge lists: architecture column")
    return int(ok.sum())


@dataclass
class _Flagged:
    """Every flag of the genealogy, as arrays: edge number, rule number, and values."""

    edge: np.ndarray
    rule: np.ndarray
    cycle_size: np.ndarray  # per node: size of its strongly connected component
    checked: int
    not_evaluated: dict[str, str]
    facts: Facts


def _own_lineage(a: IndexArrays, edges: np.ndarray | None = None) -> np.ndarray:
    """Per edge (of ``edges``, default all): a lineage link some source declared (not one
    filiation inferred). Asked of a node's few edges, it reads only those."""
    sources = a.vocab.get("sources", [])
    inferred = np.array([s.startswith(("inferred", "weights")) for s in sources] or [False])
    src_all, rel_all = np.asarray(a.edge_source), np.asarray(a.edge_rel)
    src = (src_all if edges is None else src_all[edges]).astype(np.int64)
    rel = rel_all if edges is None else rel_all[edges]
    own = ~inferred[np.clip(src, 0, len(inferred) - 1)] if len(src) else np.zeros(0, bool)
    return np.isin(rel, _LINEAGE) & own


def _slots(ptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The positions of ``nodes``' neighbours in a CSR adjacency (``ptr``), one array."""
    lo, hi = ptr[nodes], ptr[nodes + 1]
    sizes = hi - lo
    return np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())


def _reach(
    ptr: np.ndarray,
    nbr: np.ndarray,
    via: np.ndarray,
    ok: Callable[[np.ndarray], np.ndarray],
    start: int,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """Nodes reachable from ``start`` along one direction of the index's adjacency, through
    the edges ``ok`` keeps (and, with ``within``, a mask, through those nodes only), as a
    boolean mask (a frontier walk: one numpy step a generation)."""
    seen = np.zeros(len(ptr) - 1, bool) if within is None else ~within
    seen[start] = True
    frontier = np.array([start], np.int64)
    while frontier.size:
        slots = _slots(ptr, frontier)
        if not slots.size:
            break
        slots = slots[ok(via[slots])]
        nxt = np.unique(nbr[slots])
        frontier = nxt[~seen[nxt]]
        seen[frontier] = True
    return seen if within is None else seen & within


def _evaluate(a: IndexArrays, facts: Facts, node: int | None = None) -> _Flagged:
    """The flags of every declared lineage link or, with ``node``, of that node's links only:
    a model page or ``show`` then costs the node's family, not the whole Hub's graph."""
    n = a.n_nodes
    rel = np.asarray(a.edge_rel)
    child = np.asarray(a.edge_child)
    parent = np.asarray(a.edge_parent)
    if node is None:
        lin = _own_lineage(a)
        edges = np.flatnonzero(lin)
    else:
        # the node's own edges, from the adjacency: no pass over the whole Hub's edges
        up_edge, down_edge = np.asarray(a.up_edge), np.asarray(a.down_edge)
        at = np.array([node], np.int64)
        mine = np.unique(
            np.concatenate(
                [
                    up_edge[_slots(np.asarray(a.up_ptr), at)],
                    down_edge[_slots(np.asarray(a.down_ptr), at)],
                ]
            )
        ).astype(np.int64)
        edges = mine[_own_lineage(a, mine)]
    c, p, r = child[edges], parent[edges], rel[edges]
    out_e: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    names = list(RULES)
    not_evaluated: dict[str, str] = {}

    def add(rule: str, mask: np.ndarray) -> None:
        out_e.append(edges[mask])
        out_r.append(np.full(int(mask.sum()), names.index(rule), np.int8))

    # architecture
    ac, ap = facts.architecture[c], facts.architecture[p]
    if (facts.architecture >= 0).any():
        add("other_architecture", (ac >= 0) & (ap >= 0) & (ac != ap))
    else:
        not_evaluated["other_architecture"] = "no architecture known (no dump, no edge list)"
    # size
    pc_, pp = np.asarray(a.parameters)[c], np.asarray(a.parameters)[p]
    known = (pc_ != NULL_INT) & (pp != NULL_INT) & (pc_ > 0) & (pp > 0)
    ratio = np.where(known, pc_.astype(np.float64) / np.where(known, pp, 1), 1.0)
    small = ratio < 1 / SIZE_FACTOR
    big = ratio > SIZE_FACTOR
    add(
        "other_size",
        known
        & (
            ((r == _FINETUNE) & (small | big)) | ((r == _MERGE) & small) | ((r == _QUANTIZED) & big)
        ),
    )
    # dates
    cc, cp = np.asarray(a.created)[c], np.asarray(a.created)[p]
    add("child_older", (cc != NULL_INT) & (cp != NULL_INT) & (cc < cp - CREATED_MARGIN_US))
    # GGUF-only fine-tunes
    if (facts.gguf_only >= 0).any():
        add("gguf_finetune", (r == _FINETUNE) & (facts.gguf_only[c] == 1))
    else:
        not_evaluated["gguf_finetune"] = "files shipped unknown (the hub-stats dump is not on disk)"
    # merges with one parent (distinct parents among the child's merge links)
    merge = r == _MERGE
    if merge.any():
        # every merge link of these children counts, not only the ones under check
        if node is None:
            all_merges = np.flatnonzero(lin & (rel == _MERGE))
        else:  # the children's links to their parents, from the adjacency
            kids = np.unique(c[merge]).astype(np.int64)
            ups = np.asarray(a.up_edge)[_slots(np.asarray(a.up_ptr), kids)].astype(np.int64)
            all_merges = ups[_own_lineage(a, ups) & (rel[ups] == _MERGE)]
        pairs = np.unique(np.stack([child[all_merges], parent[all_merges]]), axis=1)
        per_child = np.bincount(pairs[0].astype(np.int64), minlength=n)
        add("single_parent_merge", merge & (per_child[c] == 1))
    # cycles: links inside one strongly connected component, and self-loops
    size = np.ones(n, np.int32)
    if len(edges) and node is None:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        graph = csr_matrix((np.ones(len(edges), np.int8), (c, p)), shape=(n, n))
        _, label = connected_components(graph, directed=True, connection="strong")
        size = np.bincount(label)[label].astype(np.int32)
        add("cycle", ((label[c] == label[p]) & (size[c] > 1)) | (c == p))
    elif len(edges):
        # the node's strongly connected component: what it reaches both up and down
        def own(e: np.ndarray) -> np.ndarray:
            return _own_lineage(a, e)

        up = _reach(np.asarray(a.up_ptr), np.asarray(a.up_nbr), np.asarray(a.up_edge), own, node)
        # The component lies among the ancestors, and a path inside it never leaves it: the
        # walk down goes through ancestors only (a base model's whole family is not walked).
        component = _reach(
            np.asarray(a.down_ptr), np.asarray(a.down_nbr), np.asarray(a.down_edge), own, node, up
        )
        size[component] = int(component.sum())
        add("cycle", (component[c] & component[p] & (size[c] > 1)) | (c == p))
    return _Flagged(
        edge=np.concatenate(out_e) if out_e else np.zeros(0, np.int64),
        rule=np.concatenate(out_r) if out_r else np.zeros(0, np.int8),
        cycle_size=size,
        checked=len(edges),
        not_evaluated=not_evaluated,
        facts=facts,
    )


_CACHE: weakref.WeakKeyDictionary[Any, _Flagged] = weakref.WeakKeyDictionary()


def _flagged(index: Any, facts_of: Any) -> _Flagged:
    """All flags of an index, computed once per index object (``facts_of(arrays)`` builds the
    facts only then)."""
    found = _CACHE.get(index)
    if found is None:
        found = _evaluate(index.a, facts_of(index.a))
        _CACHE[index] = found
    return found


def _values(
    a: IndexArrays, facts: Facts, rule: str, c: int, p: int, fl: _Flagged
) -> dict[str, Any]:
    def when(v: int) -> str | None:
        return None if v == NULL_INT else str(np.datetime64(int(v), "us"))[:19]

    if rule == "other_architecture":
        return {
            "child": facts.arch_vocab[facts.architecture[c]],
            "parent": facts.arch_vocab[facts.architecture[p]],
        }
    if rule == "other_size":
        return {"child": int(a.parameters[c]), "parent": int(a.parameters[p])}
    if rule == "child_older":
        return {"child": when(a.created[c]), "parent": when(a.created[p])}
    if rule == "gguf_finetune":
        return {"child_files": "gguf only"}
    if rule == "cycle":
        return {"models_on_cycle": int(fl.cycle_size[c])}
    return {}


def check(
    index: Any,
    facts_of: Any,
    node: int | None = None,
    *,
    limit: int | None = 100,
    rules: Iterable[str] | None = None,
    children: np.ndarray | None = None,
) -> CheckReport:
    """The flags touching ``node`` (as child or parent) or, without it, the whole genealogy's
    counted per rule with the first ``limit`` flags (best known children first); with
    ``children`` (node numbers), only the links of those nodes to their parents (a dossier's
    affected models)."""
    a: IndexArrays = index.a
    fl = _flagged(index, facts_of) if node is None else _evaluate(a, facts_of(a), node)
    names = list(RULES)
    wanted = list(rules) if rules else names
    for r in wanted:
        if r not in RULES:
            from filiation.errors import InvalidArgumentError

            raise InvalidArgumentError(f"unknown rule {r!r}; rules: {', '.join(RULES)}")
    keep = np.isin(fl.rule, [names.index(r) for r in wanted])
    e, ru = fl.edge[keep], fl.rule[keep]
    if node is not None:
        touch = (np.asarray(a.edge_child)[e] == node) | (np.asarray(a.edge_parent)[e] == node)
        e, ru = e[touch], ru[touch]
    if children is not None:
        touch = np.isin(np.asarray(a.edge_child)[e], np.asarray(children, np.int64))
        e, ru = e[touch], ru[touch]
    counts = {r: int(c) for r, c in zip(names, np.bincount(ru, minlength=len(names)), strict=True)}
    order = np.lexsort((ru, np.asarray(a.edge_parent)[e], np.asarray(a.edge_child)[e]))
    truncated = limit is not None and len(order) > limit
    if limit is not None:
        order = order[:limit]
    facts = fl.facts
    sources = a.vocab.get("sources", [])
    out: list[Flag] = []
    for i in order.tolist():
        edge, rule = int(e[i]), names[int(ru[i])]
        c, p = int(a.edge_child[edge]), int(a.edge_parent[edge])
        out.append(
            Flag(
                child=a.id_of(c),
                parent=a.id_of(p),
                relation=RELATIONS_BY_CODE[int(a.edge_rel[edge])].value,
                rule=rule,
                explanation=RULES[rule],
                values=_values(a, facts, rule, c, p, fl),
                declared=bool(a.edge_declared[edge]),
                source=sources[int(a.edge_source[edge])] if sources else "",
            )
        )
    return CheckReport(
        node=a.id_of(node) if node is not None else None,
        links_checked=fl.checked,
        counts={r: counts[r] for r in wanted},
        flags=out,
        truncated=truncated,
        not_evaluated={r: v for r, v in fl.not_evaluated.items() if r in wanted},
        facts=list(fl.facts.sources),
    )
