"""A delta's patch of the previous index: its nodes and links with the small index's word on
the touched ones, the nodes nothing holds any more dropped, the rest renumbered by renown
(the ids, layouts and counts that follow are in ``ids.py``, ``layouts.py``, ``counts.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filiation.domain import KIND_CODES, RELATION_CODES, NodeKind, Relation
from filiation.lineage.arrays import IndexArrays, spans
from filiation.lineage.build import lay_out_links
from filiation.lineage.delta.counts import update_counts
from filiation.lineage.delta.ids import (
    lower_array,
    match_nodes,
    nodes_with_keys,
    renumber_ids,
    search_filter,
)
from filiation.lineage.delta.layouts import LAYOUT_ARRAYS, merge_layouts
from filiation.lineage.delta.staging import Stage

Step = Callable[[str], None]

_NODE_FIELDS = (
    "kind",
    "stub",
    "downloads",
    "downloads_all_time",
    "likes",
    "parameters",
    "trending",
    "created",
    "modified",
)
_CODED = ("pipeline_tag", "library_name", "license")

#: What an index's ``meta`` says of that index alone, not carried to a delta made from it:
#: which snapshots it covers, when it was published, and which index it was appended to.
NOT_CARRIED = ("snapshots", "built_at", "appended_to")


def _remap_codes(codes: np.ndarray, old: list[str], vocab: list[str]) -> np.ndarray:
    """Codes into ``old`` as codes into ``vocab`` (extended with the values it lacks)."""
    if not len(old):
        return codes.astype(np.int32)
    # A hash look-up in Arrow: the evidence vocabulary holds a string per edge-list row.
    found = pc.index_in(pa.array(old, pa.string()), value_set=pa.array(vocab, pa.string()))
    table = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    lacking = np.flatnonzero(table < 0)
    table[lacking] = len(vocab) + np.arange(len(lacking))
    vocab.extend(old[i] for i in lacking.tolist())
    return np.where(codes >= 0, table[np.maximum(codes, 0)], codes).astype(np.int32)


def patch(
    base: IndexArrays,
    small: IndexArrays,
    keys: pa.Array,
    labels: list[str],
    say: Step,
    folder: Path | None = None,
) -> IndexArrays:
    """``base`` patched with ``small`` (the index of every source's rows about ``keys``),
    its arrays staged in ``folder`` when there is one (``staging.py``)."""
    n_base = base.n_nodes
    matched = match_nodes(base, small)
    small_keys = pc.utf8_slice_codeunits(lower_array(small), 0, -1)
    in_keys = pc.is_in(small_keys, value_set=pc.cast(keys, pa.large_string()))
    is_touched = in_keys.to_numpy(zero_copy_only=False)
    author_code = KIND_CODES[NodeKind.AUTHOR]
    # Authors are derived from their models: the small index's word on them is final.
    is_touched |= small.kind == author_code
    new_small = np.flatnonzero(matched < 0)
    # Working numbering: base nodes, then the small index's new nodes.
    work_of_small = matched.copy()
    work_of_small[new_small] = n_base + np.arange(len(new_small))
    n_work = n_base + len(new_small)
    fast = _appended(base, small, keys, labels, say, folder, work_of_small, is_touched, new_small)
    if fast is not None:
        return fast

    say("patching nodes")
    out = IndexArrays.empty()
    stage = Stage(out, base, folder)
    touched_work = work_of_small[is_touched]
    touched_small = np.flatnonzero(is_touched)
    for name in _NODE_FIELDS:
        fresh = np.asarray(getattr(small, name))
        old = getattr(base, name)
        stage.grown(name, old, base, fresh[new_small], touched_work, fresh[touched_small])
    for name in _CODED:
        vocab = list(base.vocab.get(name, []))
        mapped = _remap_codes(np.asarray(getattr(small, name)), small.vocab.get(name, []), vocab)
        old = getattr(base, name)
        stage.grown(name, old, base, mapped[new_small], touched_work, mapped[touched_small])
        out.vocab[name] = vocab
    touched_node = np.zeros(n_work, bool)
    touched_node[touched_work] = True

    say("patching links")
    # Sources: the new snapshots' labels; links kept from the base map theirs by label.
    codes = _LinkCodes(base, small, list(labels))
    sources, evidence, src_table, s_src, s_ev = (
        codes.sources,
        codes.evidence,
        codes.src_table,
        codes.s_src,
        codes.s_ev,
    )
    b_src = src_table[np.asarray(base.edge_source) + 1]
    # The links out of a touched node are replaced by the small index's, unless they are
    # the same (a parent the change merely names): then every base link may stay in place.
    replace = touched_node.copy()
    same = _same_links(base, small, work_of_small, touched_work, src_table, s_src, s_ev)
    replace[same] = False
    keep = ~replace[np.asarray(base.edge_child)]
    take = replace[work_of_small[np.asarray(small.edge_child)]]

    every = bool(keep.all())  # the usual small change: no base link replaced

    def both(base_part: np.ndarray, small_part: np.ndarray) -> np.ndarray:
        return np.concatenate([base_part if every else base_part[keep], small_part[take]])

    work32 = work_of_small.astype(np.int32)
    e_child = both(np.asarray(base.edge_child), work32[small.edge_child])
    e_parent = both(np.asarray(base.edge_parent), work32[small.edge_parent])
    e_rel = both(np.asarray(base.edge_rel), np.asarray(small.edge_rel))
    e_decl = both(np.asarray(base.edge_declared), np.asarray(small.edge_declared))
    e_src = both(b_src, s_src)
    del b_src
    e_ev = both(np.asarray(base.edge_evidence), s_ev.astype(np.int32, copy=False))
    e_conf = both(np.asarray(base.edge_confidence), np.asarray(small.edge_confidence))

    # Who still exists: a stub is the end of a source's link, an author has a model.
    pub_code = RELATION_CODES[Relation.PUBLISHED_BY]
    pub = e_rel == pub_code
    linked = np.zeros(n_work, bool)
    linked[e_child[~pub]] = True
    linked[e_parent[~pub]] = True
    has_model = np.zeros(n_work, bool)
    has_model[e_parent[pub]] = True
    is_author = out.kind == author_code
    alive = np.where(is_author, has_model, ~out.stub | linked)
    # A touched node the small index does not hold is described by no source any more.
    present = np.ones(n_work, bool)
    was_touched_base = np.zeros(n_work, bool)
    was_touched_base[nodes_with_keys(base, keys)] = True
    present[was_touched_base & ~touched_node & (out.kind != author_code)] = False
    alive &= present
    # An author of a removed node may have lost its last model.
    live_edge = alive[e_child] & alive[e_parent]
    has_model[:] = False
    has_model[e_parent[live_edge & pub]] = True
    alive &= ~is_author | has_model
    live_edge = alive[e_child] & alive[e_parent]
    # Whose citations may change: the parents of every base link that does not survive as
    # it was and of every link the change brings (work numbering).
    n_kept = int(keep.sum())
    survives = keep.copy()
    survives[keep] = live_edge[:n_kept]
    cited_work = np.concatenate(
        [np.asarray(base.edge_parent)[~survives], e_parent[n_kept:]]
    ).astype(np.int64)
    gone = (np.asarray(base.edge_child)[~survives], np.asarray(base.edge_parent)[~survives])
    came = (e_child[n_kept:][live_edge[n_kept:]], e_parent[n_kept:][live_edge[n_kept:]])
    if not live_edge.all():
        e_child, e_parent, e_rel, e_decl, e_src, e_ev, e_conf = (
            a[live_edge] for a in (e_child, e_parent, e_rel, e_decl, e_src, e_ev, e_conf)
        )

    say("ranking nodes")
    downloads = out.downloads
    score = np.maximum(downloads, 0).astype(np.float64)
    aggregated = out.kind != KIND_CODES[NodeKind.MODEL]
    if aggregated.any() and len(e_child):
        sums = np.bincount(e_parent, weights=score[e_child], minlength=n_work)
        score = np.where(aggregated, sums, score)
        del sums
    live = np.flatnonzero(alive)
    order = _by_renown(live, score[live], np.maximum(out.likes[live], 0))
    del live
    n = len(order)
    new_of_work = np.full(n_work, -1, np.int32)
    new_of_work[order] = np.arange(n, dtype=np.int32)
    identity = n == n_work and bool((order == np.arange(n)).all())
    stage.keep("score", score if identity else score[order])
    del score, aggregated
    if not identity:
        for name in (*_NODE_FIELDS, *_CODED):
            stage.keep(name, getattr(out, name)[order])
        e_child = new_of_work[e_child]
        e_parent = new_of_work[e_parent]
    for name, value, dtype in (
        ("edge_child", e_child, np.int32),
        ("edge_parent", e_parent, np.int32),
        ("edge_rel", e_rel, np.int8),
        ("edge_declared", e_decl, bool),
        ("edge_source", e_src, np.int16),
        ("edge_evidence", e_ev, np.int32),
        ("edge_confidence", e_conf, np.float32),
    ):
        stage.keep(name, value.astype(dtype, copy=False))
    # From here on, the staged columns (mapped): the ones in memory are let go.
    del e_rel, e_decl, e_src, e_ev, e_conf
    e_child, e_parent = out.edge_child, out.edge_parent

    say("renumbering ids")
    say(f"{n:,} nodes ({n - n_base:+,}), numbers {'kept' if identity else 'changed'}")
    renumber_ids(base, small, stage, order, new_small, identity)

    say("laying out links")
    out.vocab["sources"] = sources
    out.vocab["evidence"] = evidence
    sus = ~np.isnan(out.edge_confidence)
    if identity:
        merge_layouts(base, stage, keep, int(keep.sum()), n)
    else:
        lay_out_links(out, e_child, e_parent, out.edge_rel, n)
        for name in LAYOUT_ARRAYS:
            stage.keep(name, getattr(out, name))
    pub = out.edge_rel == pub_code
    author = np.full(n, -1, np.int32)
    author[e_child[pub]] = e_parent[pub]
    stage.keep("author", author)
    out.meta = _meta(base, suspected=int(sus.sum()), links=len(e_child), nodes=n)

    say("counting descendants")
    touched_any = np.flatnonzero(touched_node | was_touched_base)
    update_counts(base, stage, new_of_work, touched_any, cited_work, gone, came)

    say("preparing search")
    search_filter(base, stage, order, n_base)
    return out


def _appended(
    base: IndexArrays,
    small: IndexArrays,
    keys: pa.Array,
    labels: list[str],
    say: Step,
    folder: Path | None,
    work_of_small: np.ndarray,
    is_touched: np.ndarray,
    new_small: np.ndarray,
) -> IndexArrays | None:
    """The common change, in time and memory that follow the change rather than the index:
    new nodes and links under existing nodes, no base link replaced or dropped, no node
    dropped, and no node changing rank (an edge list of new models, a scan, most suspects).
    Every array is then the base's with a tail and a few changed rows (``Stage.grown``:
    the base's file grown in place, the rows as a patch), and every whole-graph figure is
    the base's corrected by the change. None when the change is not of that kind: the
    caller patches a full copy instead."""
    n_base = base.n_nodes
    k = len(new_small)
    n = n_base + k
    author_code = KIND_CODES[NodeKind.AUTHOR]
    pub_code = RELATION_CODES[Relation.PUBLISHED_BY]
    touched_small = np.flatnonzero(is_touched)
    touched_work = work_of_small[touched_small]
    old = touched_work < n_base
    tb, tb_small = touched_work[old], touched_small[old]  # touched base nodes
    by_node = np.argsort(tb)
    tb, tb_small = tb[by_node], tb_small[by_node]
    # A base node the change names but no source describes any more is dropped: not here.
    named = nodes_with_keys(base, keys)
    named = named[np.asarray(base.kind)[named] != author_code]
    if len(np.setdiff1d(named, tb)):
        return None
    if (small.kind[tb_small] != base.kind[tb]).any() or (
        small.stub[tb_small] & ~base.stub[tb]
    ).any():
        return None

    # The base's sources keep their codes when they are all still current (a new source
    # goes last): the links' source column is then only grown. Readers look labels up by
    # code; the order is no priority.
    # A source ingested again (an edge list, a scan, a family refreshed) keeps its code
    # under its new snapshot's label.
    before = [successor(lbl, labels) for lbl in base.vocab.get("sources", [])]
    if None not in before and len(set(before)) == len(before):
        sources = [*before, *(lbl for lbl in labels if lbl not in set(before))]
    else:
        sources = list(labels)
    codes = _LinkCodes(base, small, sources)
    evidence, src_table, s_src, s_ev = codes.evidence, codes.src_table, codes.s_src, codes.s_ev
    same = _same_links(base, small, work_of_small, touched_work, src_table, s_src, s_ev)
    replace = np.setdiff1d(touched_work, same)
    if len(links_out(base, replace[replace < n_base])):
        return None  # base links replaced: their layouts' rows change in place
    take = np.flatnonzero(np.isin(work_of_small[np.asarray(small.edge_child)], replace))
    t_child = work_of_small[np.asarray(small.edge_child)[take]]
    t_parent = work_of_small[np.asarray(small.edge_parent)[take]]
    t_rel = np.asarray(small.edge_rel)[take]

    # Every new node must exist: a stub at the end of a link, an author with a model.
    kind_new, stub_new = small.kind[new_small], small.stub[new_small]
    linked = np.zeros(k, bool)
    has_model = np.zeros(k, bool)
    pub = t_rel == pub_code
    for ends in (t_child[~pub], t_parent[~pub]):
        linked[ends[ends >= n_base] - n_base] = True
    has_model[t_parent[pub][t_parent[pub] >= n_base] - n_base] = True
    if not np.where(kind_new == author_code, has_model, ~stub_new | linked).all():
        return None

    # Renown: a model's score is its downloads; an author's or a data set's, the sum of
    # its children's: the base's, plus the new links' children, plus the change in
    # downloads of touched children along their kept links.
    model_code = KIND_CODES[NodeKind.MODEL]
    dl_small = np.maximum(np.asarray(small.downloads), 0).astype(np.float64)
    to_parts = [t_parent.astype(np.int64)]
    amounts = [dl_small[np.asarray(small.edge_child)[take]]]
    diff = dl_small[tb_small] - np.maximum(np.asarray(base.downloads)[tb], 0)
    moved = np.flatnonzero(diff != 0)
    if len(moved):
        edges = links_out(base, tb[moved])
        owner = np.asarray(base.edge_child)[edges]
        to_parts.append(np.asarray(base.edge_parent)[edges].astype(np.int64))
        amounts.append(diff[moved][np.searchsorted(tb[moved], owner)])
    to, amount = np.concatenate(to_parts), np.concatenate(amounts)
    kind_to = np.empty(len(to), np.int8)
    kind_to[to < n_base] = np.asarray(base.kind)[to[to < n_base]]
    kind_to[to >= n_base] = kind_new[to[to >= n_base] - n_base]
    to, amount = to[kind_to != model_code], amount[kind_to != model_code]
    gained = np.unique(to)
    sums = np.bincount(np.searchsorted(gained, to), weights=amount, minlength=len(gained))
    changed = np.union1d(tb, gained[gained < n_base])
    c_score = np.asarray(base.score)[changed].astype(np.float64)
    c_likes = np.maximum(np.asarray(base.likes)[changed], 0)
    at_tb = np.searchsorted(changed, tb)
    c_likes[at_tb] = np.maximum(small.likes[tb_small], 0)
    is_model = small.kind[tb_small] == model_code
    c_score[at_tb[is_model]] = dl_small[tb_small[is_model]]
    in_base = gained < n_base
    c_score[np.searchsorted(changed, gained[in_base])] += sums[in_base]
    score_tail = np.where(kind_new == model_code, dl_small[new_small], 0.0)
    score_tail[gained[~in_base] - n_base] += sums[~in_base]
    likes_tail = np.maximum(small.likes[new_small], 0)
    if not _still_ranked(base, changed, c_score, c_likes, score_tail, likes_tail):
        return None

    say("patching nodes")
    out = IndexArrays.empty()
    stage = Stage(out, base, folder)
    for name in _NODE_FIELDS:
        fresh = np.asarray(getattr(small, name))
        stage.grown(name, getattr(base, name), base, fresh[new_small], tb, fresh[tb_small])
    for name in _CODED:
        vocab = list(base.vocab.get(name, []))
        mapped = _remap_codes(np.asarray(getattr(small, name)), small.vocab.get(name, []), vocab)
        stage.grown(name, getattr(base, name), base, mapped[new_small], tb, mapped[tb_small])
        out.vocab[name] = vocab
    stage.grown("score", base.score, base, score_tail, changed, c_score)

    say("patching links")
    m = len(base.edge_child)
    small_cols = {
        "edge_child": t_child.astype(np.int32),
        "edge_parent": t_parent.astype(np.int32),
        "edge_rel": t_rel,
        "edge_declared": np.asarray(small.edge_declared)[take],
        "edge_source": s_src[take],
        "edge_evidence": s_ev[take].astype(np.int32),
        "edge_confidence": np.asarray(small.edge_confidence)[take],
    }
    same_codes = np.array_equal(src_table[1:], np.arange(len(src_table) - 1))
    for name, tail in small_cols.items():
        if name == "edge_source" and not same_codes:
            # The sources' order changed (a new source among them): every code again.
            whole = np.concatenate([src_table[np.asarray(base.edge_source) + 1], tail])
            stage.keep(name, whole.astype(np.int16))
        else:
            stage.grown(name, getattr(base, name), base, tail)
    pubs = t_rel == pub_code
    kids, owners = t_child[pubs], t_parent[pubs]
    author_tail = np.full(k, -1, np.int32)
    author_tail[kids[kids >= n_base] - n_base] = owners[kids >= n_base]
    old_kid = kids < n_base
    stage.grown("author", base.author, base, author_tail, kids[old_kid], owners[old_kid])

    say("renumbering ids")
    say(f"{n:,} nodes ({k:+,}), numbers kept, appended")
    renumber_ids(base, small, stage, None, new_small, True)

    say("laying out links")
    out.vocab["sources"] = sources
    out.vocab["evidence"] = evidence
    merge_layouts(base, stage, None, m, n)
    new_sus = ~np.isnan(small_cols["edge_confidence"])
    out.meta = _meta(
        base, suspected=base.n_suspected + int(new_sus.sum()), links=m + len(take), nodes=n
    )
    # the base's nodes keep their numbers, new ones follow: what a reader of the base worked
    # out about its nodes may carry over (service/searching.py)
    out.meta["appended_to"] = {"built_at": base.meta.get("built_at"), "nodes": base.n_nodes}

    say("counting descendants")
    touched = np.union1d(touched_work, named)
    no_link = np.zeros(0, np.int32)
    came = (t_child, t_parent)
    update_counts(base, stage, None, touched, t_parent.astype(np.int64), (no_link, no_link), came)

    say("preparing search")
    search_filter(base, stage, None, n_base)
    return out


def _meta(base: IndexArrays, *, suspected: int, links: int, nodes: int) -> dict[str, Any]:
    """The new index's ``meta.json``, alike on both paths: the base's, with the new counts,
    and without what it says of the base alone (``NOT_CARRIED``)."""
    meta = {key: value for key, value in base.meta.items() if key not in NOT_CARRIED}
    meta.update(suspected=suspected, links=links, nodes=nodes)
    return meta


def _still_ranked(
    base: IndexArrays,
    changed: np.ndarray,
    c_score: np.ndarray,
    c_likes: np.ndarray,
    score_tail: np.ndarray,
    likes_tail: np.ndarray,
) -> bool:
    """Whether the numbering by renown (score, then likes, both descending, then number)
    still holds with the ``changed`` base nodes' new score and likes and the new nodes last:
    checked at each changed node's neighbours and along the tail, not over every node."""
    n_base = base.n_nodes
    n = n_base + len(score_tail)
    left = np.concatenate([changed - 1, changed, np.arange(max(n_base - 1, 0), n - 1)]).astype(
        np.int64
    )
    left = np.unique(left[(left >= 0) & (left < n - 1)])
    if not len(left):
        return True

    def values(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inside = pos < n_base
        score = np.empty(len(pos), np.float64)
        likes = np.empty(len(pos), np.int64)
        score[inside] = np.asarray(base.score)[pos[inside]]
        likes[inside] = np.maximum(np.asarray(base.likes)[pos[inside]], 0)
        score[~inside] = score_tail[pos[~inside] - n_base]
        likes[~inside] = likes_tail[pos[~inside] - n_base]
        at = np.searchsorted(changed, pos)
        hit = (at < len(changed)) & (changed[np.minimum(at, len(changed) - 1)] == pos)
        score[hit] = c_score[at[hit]]
        likes[hit] = c_likes[at[hit]]
        return score, likes

    s0, l0 = values(left)
    s1, l1 = values(left + 1)
    return bool(((s0 > s1) | ((s0 == s1) & (l0 >= l1))).all())


def links_out(a: IndexArrays, nodes: np.ndarray) -> np.ndarray:
    """The links (numbers) out of ``nodes`` of ``a``: their rows of both upward layouts
    (declared and suspected), without a pass over every link."""
    nodes = np.asarray(nodes, np.int64)
    parts = []
    for prefix in ("", "sus_"):
        ptr = getattr(a, prefix + "up_ptr")
        starts = np.asarray(ptr[nodes], np.int64)
        lens = np.asarray(ptr[nodes + 1], np.int64) - starts
        parts.append(np.asarray(getattr(a, prefix + "up_edge"))[spans(starts, lens)])
    return np.concatenate(parts).astype(np.int64)


class _LinkCodes:
    """The new index's source and evidence vocabularies (``sources`` given, evidence the
    base's extended), the base's source codes in them (``src_table``, indexed by code + 1
    so that -1, no source, stays -1: a look-up in 16 bits) and the small index's links'
    codes in them (``s_src``, ``s_ev``)."""

    def __init__(self, base: IndexArrays, small: IndexArrays, sources: list[str]) -> None:
        self.sources = sources
        where = {lbl: i for i, lbl in enumerate(sources)}
        base_src = [
            where.get(successor(lbl, sources) or "", -1) for lbl in base.vocab.get("sources", [])
        ]
        small_src = [where.get(lbl, -1) for lbl in small.vocab.get("sources", [])]
        self.src_table = np.array([-1, *base_src], np.int16)
        self.s_src = np.array([-1, *small_src], np.int16)[np.asarray(small.edge_source) + 1]
        self.evidence = list(base.vocab.get("evidence", []))
        small_ev = small.vocab.get("evidence", [])
        ev_small = _remap_codes(np.arange(len(small_ev)), small_ev, self.evidence)
        self.s_ev = (
            ev_small[np.asarray(small.edge_evidence).astype(np.int64)]
            if len(ev_small)
            else np.zeros(len(small.edge_evidence), np.int32)
        )


def successor(label: str, labels: list[str]) -> str | None:
    """``label`` (``source#snapshot``) if it is among ``labels``, else the label there of the
    same source's newer snapshot: a source has one current snapshot, so a base link of its
    replaced one that the new one also holds is, in a full build, that snapshot's link.
    None if the source is gone."""
    if label in labels:
        return label
    source = label.rpartition("#")[0]
    return next((lbl for lbl in labels if lbl.rpartition("#")[0] == source), None)


def _same_links(
    base: IndexArrays,
    small: IndexArrays,
    work_of_small: np.ndarray,
    touched: np.ndarray,
    src_table: np.ndarray,
    s_src: np.ndarray,
    s_ev: np.ndarray,
) -> np.ndarray:
    """The touched nodes (working numbers, sorted) whose links out are the same, field for
    field, in the base and in the small index (sources and evidence in the new
    vocabularies; ``src_table`` maps the base's source codes, shifted by one)."""
    touched = np.unique(np.asarray(touched, np.int64))
    b = links_out(base, touched[touched < base.n_nodes])
    sm = np.flatnonzero(np.isin(work_of_small[np.asarray(small.edge_child)], touched))

    def rows(
        a: IndexArrays, sel: np.ndarray, num: np.ndarray | None, src: np.ndarray, ev: np.ndarray
    ) -> np.ndarray:
        """The links ``sel`` of ``a`` as rows of their fields, sorted (child first)."""
        child = np.asarray(a.edge_child)[sel].astype(np.int64)
        parent = np.asarray(a.edge_parent)[sel].astype(np.int64)
        if num is not None:
            child, parent = num[child], num[parent]
        cols = [
            child,
            parent,
            np.asarray(a.edge_rel)[sel].astype(np.int64),
            np.asarray(a.edge_declared)[sel].astype(np.int64),
            src.astype(np.int64),
            ev.astype(np.int64),
            np.asarray(a.edge_confidence)[sel].view(np.uint32).astype(np.int64),
        ]
        table = np.stack(cols, axis=1) if len(sel) else np.zeros((0, len(cols)), np.int64)
        return table[np.lexsort(table.T[::-1])] if len(table) else table

    b_src = src_table[np.asarray(base.edge_source)[b] + 1]
    before = rows(base, b, None, b_src, np.asarray(base.edge_evidence)[b])
    after = rows(small, sm, work_of_small, s_src[sm], s_ev[sm])
    # Same multiset of rows per node: as many rows, and the sorted rows equal one by one.
    n_before = np.bincount(np.searchsorted(touched, before[:, 0]), minlength=len(touched))
    n_after = np.bincount(np.searchsorted(touched, after[:, 0]), minlength=len(touched))
    same = n_before == n_after
    pick_b = same[np.searchsorted(touched, before[:, 0])]
    pick_a = same[np.searchsorted(touched, after[:, 0])]
    differs = (before[pick_b] != after[pick_a]).any(axis=1)
    same[np.searchsorted(touched, before[pick_b][differs, 0])] = False
    return touched[same]


def _by_renown(live: np.ndarray, score: np.ndarray, likes: np.ndarray) -> np.ndarray:
    """``live`` ordered by score, then likes (both descending), then number: a check that
    they already are (the usual small change, new nodes of no renown last) costs a pass,
    a sort of every node ten times more."""
    if len(live) < 2:
        return live
    s0, s1, l0, l1 = score[:-1], score[1:], likes[:-1], likes[1:]
    if bool(((s0 > s1) | ((s0 == s1) & (l0 >= l1))).all()):
        return live
    return live[np.lexsort((live, -likes, -score))]
