"""The drawing of a family that reads at every size: a few dozen items, generations as layers.

A family can have tens of thousands of members (FLUX.1-dev: 43 k children); a drawing can show
a few dozen legible labels. So the view is planned here, on the server, one generation at a
time from the start node: the children of the nodes drawn in the previous generation are put
in *buckets*, one per parent and relation; every bucket gets a slot, then the free slots go to
the most important members still hidden (the service's default ranking: descendants, then
downloads: members through which the family goes on come first). What a bucket cannot show
becomes one **group** node ("+37 fine-tunes") standing for its exact number of members; a group
is opened by asking for the view again with its key in ``opened`` (a page of its best-known
members, ``offset`` further on each time). Ancestors are planned the same way upwards.

The functions are pure: arrays of the :class:`~filiation.lineage.index.LineageIndex` in, plain
data out (:class:`GraphView`), so the service, the API and the tests share them.

A node filter (kinds, downloads, dates) drops members from the buckets; unlike a traversal's
filter it also stops the walk there, because a drawing cannot show what hangs below a node it
does not draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from filiation.domain import RELATIONS_BY_CODE, Relation
from filiation.lineage.filters import NodeFilter
from filiation.lineage.index import DEFAULT_RANKING, LineageIndex, relation_mask

#: Items per generation unless the caller says otherwise (what fits a page's width).
DEFAULT_WIDTH = 7
#: Items of a whole drawing unless the caller says otherwise.
DEFAULT_BUDGET = 40
#: The most items a caller may ask for (a drawing, not an export).
MAX_BUDGET = 2000


def group_key(parent: str, relation: Relation | str, down: bool) -> str:
    """The stable name of a group: the parent, the relation, the direction."""
    return f"{'d' if down else 'u'}|{Relation(relation).value}|{parent}"


@dataclass
class Bucket:
    """The members of one generation hanging from one drawn node by one relation."""

    anchor: int  # the drawn node they hang from (their parent going down, child going up)
    relation: int  # relation code
    members: list[int]  # best known first
    offset: int = 0  # members skipped before the page shown (an opened group's later page)
    slots: int = 1
    opened: bool = False

    def shown(self) -> list[int]:
        page = self.members[self.offset :] + self.members[: self.offset]
        if self.slots >= len(page):
            return page
        return page[: self.slots - 1]

    def hidden(self) -> int:
        return len(self.members) - len(self.shown())

    def next_member(self) -> int | None:
        """The member one more slot would reveal (None when all are shown)."""
        if self.slots >= len(self.members):
            return None
        page = self.members[self.offset :] + self.members[: self.offset]
        return page[self.slots - 1]


@dataclass
class GraphView:
    """What to draw: nodes (models, data sets, authors and groups), links, and why it stops."""

    root: str
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    #: Generations of the family from the start: above (ancestors) and below.
    generations: dict[str, int] = field(default_factory=dict)
    #: Which bounds cut the drawing: ``depth`` (generations not drawn), ``width`` (members
    #: grouped, or left out when a generation has more parents than room), ``budget`` (the
    #: size bound ended the drawing before the family did).
    cut: dict[str, bool] = field(default_factory=dict)
    #: Members of the whole family per generation and relation (the overview).
    overview: list[dict[str, Any]] = field(default_factory=list)
    family: int = 0
    width: int = DEFAULT_WIDTH
    budget: int = DEFAULT_BUDGET
    #: Members of drawn generations in neither an item nor a group (their parents had no room).
    left_out: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Every field, by name (shallow: ``dataclasses.asdict`` would copy the drawing)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _neighbours(
    index: LineageIndex, node: int, down: bool, allowed: np.ndarray
) -> tuple[list[int], list[int]]:
    a = index.a
    ptr, nbr, rel = (a.down_ptr, a.down_nbr, a.down_rel) if down else (a.up_ptr, a.up_nbr, a.up_rel)
    s, e = int(ptr[node]), int(ptr[node + 1])
    rels = np.asarray(rel[s:e])
    keep = allowed[rels]
    return np.asarray(nbr[s:e])[keep].tolist(), rels[keep].tolist()


def _allocate(buckets: list[Bucket], width: int, rank: dict[int, int]) -> tuple[list[Bucket], bool]:
    """Share ``width`` slots among buckets: one each to the best-placed half of the width (the
    others are left out), then the free slots to the most important hidden members (those
    with the most descendants first: the way to the next generations), an opened bucket first.
    """
    order = sorted(buckets, key=lambda b: (not b.opened, rank[b.members[0]]))
    kept = order[: max(1, (width + 1) // 2)]
    left_out = len(order) > len(kept)
    used = len(kept)
    for b in kept:
        if b.opened:
            b.slots = max(1, min(len(b.members), width - (used - 1)))
            used += b.slots - 1
    while used < width:
        best: Bucket | None = None
        best_rank = -1
        for b in kept:
            nxt = b.next_member()
            if nxt is not None and (best is None or rank[nxt] < best_rank):
                best, best_rank = b, rank[nxt]
        if best is None:
            break
        best.slots += 1
        used += 1
    return kept, left_out


def _node_item(index: LineageIndex, node: int, layer: int, relation: int | None) -> dict[str, Any]:
    a = index.a
    downloads = int(a.downloads[node])
    created = int(a.created[node])
    return {
        "id": a.id_of(node),
        "kind": index.kind_of(node).value,
        "layer": layer,
        "relation": RELATIONS_BY_CODE[relation].value if relation is not None else None,
        "downloads": downloads if downloads >= 0 else None,
        "descendants": int(a.descendants[node]),
        "generations": int(a.generations[node]),
        "stub": bool(a.stub[node]),
        "created": created if created >= 0 else None,
        "members": 1,
    }


def _more(item: dict[str, Any], down: bool, count: int) -> None:
    """Note on a drawn item how many of its children (``down``) or parents are not drawn
    anywhere, not even in a group: the drawing says where the family goes on."""
    if count:
        key = "more_below" if down else "more_above"
        item[key] = item.get(key, 0) + count
        item["more"] = True


def _generations(
    index: LineageIndex, root: int, relations: Sequence[Relation], down: bool
) -> tuple[dict[int, int], np.ndarray, np.ndarray]:
    """Every member of the family one way, with its generation (shortest distance from the
    start) and the relation of the link that first reached it."""
    walk = index.walk([root], down=down, relations=relations, with_edges=False)
    rel = np.asarray(index.a.edge_rel)[walk.via].astype(np.int64)
    return dict(zip(walk.nodes.tolist(), walk.depth.tolist(), strict=True)), walk.depth, rel


def _suspected(
    index: LineageIndex, node: int, down: bool, allowed: np.ndarray, min_confidence: float
) -> list[tuple[int, int, int, float]]:
    """The suspected children (``down``) or parents of ``node`` of at least ``min_confidence``
    through the allowed relations, as (neighbour, relation code, link, confidence)."""
    a = index.a
    if not a.n_suspected:
        return []
    p = "sus_down_" if down else "sus_up_"
    ptr, nbr, rel, eid = (getattr(a, p + name) for name in ("ptr", "nbr", "rel", "edge"))
    s, e = int(ptr[node]), int(ptr[node + 1])
    edges = np.asarray(eid[s:e], np.int64)
    conf = np.asarray(a.edge_confidence)[edges]
    rels = np.asarray(rel[s:e])
    keep = allowed[rels] & (conf >= min_confidence)
    return list(
        zip(
            np.asarray(nbr[s:e])[keep].tolist(),
            rels[keep].tolist(),
            edges[keep].tolist(),
            np.round(conf[keep].astype(np.float64), 4).tolist(),
            strict=True,
        )
    )


def _add_suspects(
    index: LineageIndex,
    view: GraphView,
    drawn: dict[int, dict[str, Any]],
    allowed: np.ndarray,
    min_confidence: float,
    room: int,
    flt: NodeFilter,
) -> None:
    """Suspected links of the drawn items, drawn apart: each link between two drawn items, and
    the ``room`` most confident suspected parents or children not drawn yet (one generation
    away from the item they hang from; the walk does not go on through them)."""
    a = index.a
    found: list[tuple[float, int, int, int, int, bool]] = []
    for node in list(drawn):
        for down in (True, False):
            for u, r, edge, conf in _suspected(index, node, down, allowed, min_confidence):
                found.append((conf, node, u, r, edge, down))
    found.sort(key=lambda f: (-f[0], f[4]))
    seen: set[int] = set()
    for conf, node, u, r, edge, down in found:
        if edge in seen:
            continue
        if u not in drawn:
            if room <= 0 or (flt.active and not flt.keep(a, np.asarray([u], np.int64))[0]):
                continue
            layer = drawn[node]["layer"] + (1 if down else -1)
            item = _node_item(index, u, layer, r)
            item.update(suspected=True, confidence=conf)
            view.nodes.append(item)
            drawn[u] = item
            room -= 1
        seen.add(edge)
        parent, child = (node, u) if down else (u, node)
        view.edges.append(
            {
                "parent": a.id_of(parent),
                "child": a.id_of(child),
                "relation": RELATIONS_BY_CODE[r].value,
                "suspected": True,
                "confidence": conf,
                "link": edge,
            }
        )


def _overview(cells: list[tuple[int, np.ndarray, np.ndarray]]) -> list[dict[str, Any]]:
    """Members of the whole family per generation and relation (of the link that first
    reached each); ``cells`` holds (sign, generations, relation codes) for each direction."""
    out: list[dict[str, Any]] = []
    n_rel = len(RELATIONS_BY_CODE)
    for sign, depth, rel in cells:
        if not len(depth):
            continue
        counts = np.bincount(depth.astype(np.int64) * n_rel + rel)
        for code in np.flatnonzero(counts).tolist():
            generation, r = divmod(code, n_rel)
            out.append(
                {
                    "generation": sign * generation,
                    "relation": RELATIONS_BY_CODE[r].value,
                    "count": int(counts[code]),
                }
            )
    out.sort(key=lambda c: (c["generation"], c["relation"]))
    return out


def plan(
    index: LineageIndex,
    root: int,
    *,
    relations: Sequence[Relation],
    max_depth: int | None = 2,
    width: int = DEFAULT_WIDTH,
    budget: int = DEFAULT_BUDGET,
    opened: dict[str, int] | None = None,
    flt: NodeFilter | None = None,
    overview: bool = True,
    min_confidence: float | None = None,
) -> GraphView:
    """The drawing of ``root``'s family: ancestors above, descendants below, each generation
    at most ``width`` items and the whole at most ``budget`` (plus the start), ``max_depth``
    generations each way (None: all). ``opened`` maps group keys (:func:`group_key`) to the
    offset of the page of members to show in place of that group's best known.

    With ``min_confidence``, the drawn items' suspected links of at least that confidence are
    added apart (``"suspected": true`` on the link and on an item only they reach, at most
    ``width`` such items): the declared family, its counts and groups are unchanged."""
    a = index.a
    allowed = relation_mask(relations)
    opened = opened or {}
    flt = flt or NodeFilter()
    view = GraphView(root=a.id_of(root), width=width, budget=budget)
    root_item = _node_item(index, root, 0, None)
    root_item["root"] = True
    view.nodes.append(root_item)
    drawn: dict[int, dict[str, Any]] = {root: root_item}
    cut = {"depth": False, "width": False, "budget": False}
    left = budget
    cells: list[tuple[int, np.ndarray, np.ndarray]] = []
    for down in (True, False):
        sign = 1 if down else -1
        generation, depths, rels = _generations(index, root, relations, down)
        cells.append((sign, depths, rels))
        view.generations["below" if down else "above"] = int(depths.max()) if len(depths) else 0
        view.family += len(depths)
        frontier = [root]
        depth = 0
        while frontier and left > 0:
            if max_depth is not None and depth >= max_depth:
                for v in frontier:
                    _more(drawn[v], down, len(_neighbours(index, v, down, allowed)[0]))
                cut["depth"] |= any(drawn[v].get("more") for v in frontier)
                break
            depth += 1
            buckets: dict[tuple[int, int], Bucket] = {}
            claimed: set[int] = set()
            for anchor in frontier:
                nbrs, rels = _neighbours(index, anchor, down, allowed)
                keep = flt.keep(a, np.asarray(nbrs, np.int64)).tolist() if flt.active else None
                for i, (u, r) in enumerate(zip(nbrs, rels, strict=True)):
                    if u in drawn or u in claimed or (keep is not None and not keep[i]):
                        continue
                    if generation.get(u) != depth:
                        continue  # of an earlier generation, reached through a hidden member
                    claimed.add(u)
                    b = buckets.get((anchor, r))
                    if b is None:
                        key = group_key(a.id_of(anchor), RELATIONS_BY_CODE[r], down)
                        b = buckets[(anchor, r)] = Bucket(anchor, r, [], opened=key in opened)
                        b.offset = opened.get(key, 0)
                    b.members.append(u)
            if not buckets:
                break
            # Members in the order of importance (DEFAULT_RANKING: descendants, downloads…).
            candidates = np.fromiter(claimed, np.int64, len(claimed))
            order = candidates[index.rank(candidates, DEFAULT_RANKING)].tolist()
            rank = {node: i for i, node in enumerate(order)}
            for b in buckets.values():
                b.members.sort(key=rank.__getitem__)
                if b.offset >= len(b.members):
                    b.offset = 0
            kept, left_out = _allocate(list(buckets.values()), min(width, left), rank)
            if left_out:
                kept_ids = {id(b) for b in kept}
                for b in (b for b in buckets.values() if id(b) not in kept_ids):
                    _more(drawn[b.anchor], down, len(b.members))
                    view.left_out += len(b.members)
                cut["budget" if left < width else "width"] = True
            frontier = []
            for b in kept:
                shown = b.shown()
                for u in shown:
                    item = _node_item(index, u, sign * depth, b.relation)
                    view.nodes.append(item)
                    drawn[u] = item
                    frontier.append(u)
                left -= len(shown)
                hidden = b.hidden()
                if hidden:
                    cut["width"] = True
                    anchor_id = a.id_of(b.anchor)
                    rel = RELATIONS_BY_CODE[b.relation]
                    key = group_key(anchor_id, rel, down)
                    shown_set = set(shown)
                    best = [m for m in b.members if m not in shown_set][:1]
                    view.nodes.append(
                        {
                            "id": "group:" + key,
                            "kind": "group",
                            "layer": sign * depth,
                            "relation": rel.value,
                            "anchor": anchor_id,
                            "members": hidden,
                            "total": len(b.members),
                            "next_offset": b.offset + len(shown) if len(shown) else 0,
                            "best": a.id_of(best[0]) if best else None,
                        }
                    )
                    parent, child = (
                        (anchor_id, "group:" + key) if down else ("group:" + key, anchor_id)
                    )
                    view.edges.append({"parent": parent, "child": child, "relation": rel.value})
                    left -= 1
        if left <= 0 and frontier:
            for v in frontier:
                _more(drawn[v], down, len(_neighbours(index, v, down, allowed)[0]))
            cut["budget"] |= any(drawn[v].get("more") for v in frontier)
    # Every link between two drawn nodes (a merge shows all its drawn parents).
    for node in drawn:
        nbrs, rels = _neighbours(index, node, True, allowed)
        for u, r in zip(nbrs, rels, strict=True):
            if u in drawn and u != node:
                view.edges.append(
                    {
                        "parent": a.id_of(node),
                        "child": a.id_of(u),
                        "relation": RELATIONS_BY_CODE[r].value,
                    }
                )
    if min_confidence is not None:
        _add_suspects(index, view, drawn, allowed, min_confidence, width, flt)
    view.cut = cut
    if overview:
        view.overview = _overview(cells)
    return view


def group_members(
    index: LineageIndex,
    anchor: int,
    relation: Relation,
    *,
    down: bool,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[int], int]:
    """A page of a group's members, best known first, and how many there are in all (for the
    side panel of a group: every member, not only those the drawing shows)."""
    nodes, _ = index.neighbours(anchor, down=down, relations=(relation,))
    nodes = np.unique(nodes)
    ordered = nodes[index.rank(nodes, DEFAULT_RANKING)]
    return ordered[offset : offset + limit].tolist(), len(ordered)
