"""What changed in a family between two snapshots of the store.

Each source keeps its newest snapshots (``FILIATION_KEEP_SNAPSHOTS``, default 2 per source).
``diff(since=DATE)`` compares, for every source, the newest snapshot taken at or before
``DATE`` with the current one: the genealogy as it was then against the genealogy now. A
model *appeared* if no source listed it then, *disappeared* if none lists it now, and
*changed parents* if its model-to-model parents (with their relations) differ. With a root
id, only the family of that id (the id and its descendants then or now) is compared; with a
source (``hub-api:<id>`` after ``filiation refresh``), only that source's snapshots.

The snapshots are read back from the store (not the index, which holds only the current
ones): at full Hub scale that is a few seconds per snapshot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from filiation.domain import LINEAGE_RELATIONS
from filiation.errors import InvalidArgumentError
from filiation.store import schema
from filiation.store.store import SnapshotInfo, Store

_LINEAGE = [r.value for r in LINEAGE_RELATIONS]


class ParentChange(BaseModel):
    id: str
    before: list[str] = Field(description="parents then, as 'relation:parent'")
    after: list[str] = Field(description="parents now, as 'relation:parent'")


class Diff(BaseModel):
    root: str | None
    since: datetime
    before: list[dict[str, Any]] = Field(description="the snapshots compared (then)")
    after: list[dict[str, Any]] = Field(description="the snapshots compared (now)")
    appeared: list[str]
    disappeared: list[str]
    changed_parents: list[ParentChange]


class _State:
    """The models and their lineage parents that a set of snapshots holds (Arrow tables).

    A family is found level by level with ``is_in`` over the whole link table (in C, a few
    milliseconds per generation at full Hub scale); only the rows of the compared scope
    become Python objects.
    """

    def __init__(
        self,
        store: Store,
        snaps: list[SnapshotInfo],
        cache: dict[int, tuple[pa.Table, pa.Table]] | None = None,
    ) -> None:
        cache = {} if cache is None else cache
        node_parts, link_parts = [], []
        for snap in snaps:
            if snap.id not in cache:
                cache[snap.id] = _read(store, snap.id)
            nodes, links = cache[snap.id]
            node_parts.append(nodes)
            link_parts.append(links)
        self.nodes = pa.concat_tables(node_parts) if node_parts else _EMPTY_NODES.empty_table()
        self.links = pa.concat_tables(link_parts) if link_parts else _EMPTY_LINKS.empty_table()

    def family(self, root: str) -> set[str]:
        seen = {root}
        frontier = [root]
        while frontier:
            below = self.links.filter(
                pc.is_in(self.links["parent_key"], pa.array(frontier, pa.string()))
            )["child_key"]
            frontier = [k for k in set(below.to_pylist()) if k not in seen]
            seen.update(frontier)
        return seen

    def within(self, scope: set[str] | None) -> tuple[dict[str, str], dict[str, set[str]]]:
        """Ids and parents (``relation:parent``) of the models in ``scope`` (None: all)."""
        nodes, links = self.nodes, self.links
        if scope is not None:
            keys = pa.array(sorted(scope), pa.string())
            nodes = nodes.filter(pc.is_in(nodes["key"], keys))
            links = links.filter(pc.is_in(links["child_key"], keys))
        ids: dict[str, str] = {}
        for key, node_id in zip(nodes["key"].to_pylist(), nodes["id"].to_pylist(), strict=True):
            ids.setdefault(key, node_id)
        parents: dict[str, set[str]] = {}
        cols = [links[c].to_pylist() for c in ("child_key", "parent_id", "relation")]
        for child, pid, rel in zip(*cols, strict=True):
            parents.setdefault(child, set()).add(f"{rel}:{pid}")
        return ids, parents


# Schemas, made into empty tables only when used: building a table when this module is
# imported loads pandas (pyarrow checks whether its input is a DataFrame), 0.13 s of every
# command's start (benchmarks/cli_startup.py).
_EMPTY_NODES = pa.schema([("key", pa.string()), ("id", pa.string())])
_EMPTY_LINKS = pa.schema(
    [
        ("child_key", pa.string()),
        ("parent_key", pa.string()),
        ("parent_id", pa.string()),
        ("relation", pa.string()),
    ]
)


def _read(store: Store, snap: int) -> tuple[pa.Table, pa.Table]:
    """A snapshot's model ids and lineage links: only the columns compared are read."""
    nodes = store.read_columns(schema.nodes, ["kind", "key", "id"], _NODE_READ, snap)
    nodes = nodes.filter(pc.equal(nodes["kind"], "model")).drop_columns("kind")
    links = store.read_columns(schema.links, _LINK_READ.names, _LINK_READ, snap)
    links = links.filter(pc.is_in(links["relation"], _value_set()))
    return nodes, links


_NODE_READ = pa.schema([("kind", pa.string()), ("key", pa.string()), ("id", pa.string())])
_LINK_READ = pa.schema(
    [
        ("child_key", pa.string()),
        ("parent_key", pa.string()),
        ("parent_id", pa.string()),
        ("relation", pa.string()),
    ]
)


def _value_set() -> Any:
    return pa.array(_LINEAGE, pa.string())


def _when(snap: SnapshotInfo) -> datetime | None:
    return snap.taken_at or snap.finished_at


def _describe(snap: SnapshotInfo) -> dict[str, Any]:
    return {"id": snap.id, "source": snap.source, "label": snap.label, "taken_at": _when(snap)}


def pick(
    store: Store, since: datetime, source: str | None = None
) -> tuple[list[SnapshotInfo], list[SnapshotInfo]]:
    """The snapshots of then (newest of each source at or before ``since``) and of now,
    of every source or of ``source`` only."""
    complete = [s for s in store.snapshots() if s.status == "complete"]
    now = store.current_snapshots()
    if source is not None:
        known = sorted({s.source for s in complete})
        if source not in known:
            raise InvalidArgumentError(
                f"no snapshot of source {source!r}; sources: {', '.join(known) or 'none'}"
            )
        complete = [s for s in complete if s.source == source]
        now = [s for s in now if s.source == source]
    then: dict[str, SnapshotInfo] = {}
    for snap in complete:
        when = _when(snap)
        if when is not None and when <= since:
            best = then.get(snap.source)
            if best is None or (_when(best) or when) <= when:
                then[snap.source] = snap
    if not then:
        oldest = min((w for s in complete if (w := _when(s)) is not None), default=None)
        raise InvalidArgumentError(
            f"the store keeps no snapshot as old as {since.date().isoformat()}"
            + (f"; the oldest is of {oldest.date().isoformat()}" if oldest else "")
            + " (it keeps FILIATION_KEEP_SNAPSHOTS per source, default 2)"
        )
    return sorted(then.values(), key=lambda s: s.id), now


def diff(store: Store, since: datetime, root: str | None = None, source: str | None = None) -> Diff:
    then_snaps, now_snaps = pick(store, since, source)
    cache: dict[int, tuple[pa.Table, pa.Table]] = {}  # a snapshot both then and now: read once
    then, now = _State(store, then_snaps, cache), _State(store, now_snaps, cache)
    scope: set[str] | None = None
    if root is not None:
        key = root.lower()
        scope = then.family(key) | now.family(key)
    then_ids, then_parents = then.within(scope)
    now_ids, now_parents = now.within(scope)
    keys = set(then_ids) | set(now_ids)
    appeared = sorted((now_ids[k] for k in keys if k not in then_ids), key=str.lower)
    gone = sorted((then_ids[k] for k in keys if k not in now_ids), key=str.lower)
    changed = [
        ParentChange(
            id=now_ids[k],
            before=sorted(then_parents.get(k, set()), key=str.lower),
            after=sorted(now_parents.get(k, set()), key=str.lower),
        )
        for k in keys
        if k in now_ids
        and k in then_ids
        and {p.lower() for p in then_parents.get(k, set())}
        != {p.lower() for p in now_parents.get(k, set())}
    ]
    changed.sort(key=lambda c: c.id.lower())
    return Diff(
        root=root,
        since=since,
        before=[_describe(s) for s in then_snaps],
        after=[_describe(s) for s in now_snaps],
        appeared=appeared,
        disappeared=gone,
        changed_parents=changed,
    )
