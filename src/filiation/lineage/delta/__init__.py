"""Apply a small source's change to a built index instead of rebuilding it from every snapshot.

A full build reads every current snapshot: at 3.1 M models most of its time goes to the
hub-stats dump's strings (unifying ids across sources, numbering, authors), which a
``refresh`` of one family or an edge list of two links does not change. :func:`apply_delta`
starts from the previous index instead and redoes only what the change touches:

1. the *touched keys* are the ids the changed source names, before and after (its node rows,
   both ends of its links);
2. a small index is built, by the ordinary :func:`~filiation.lineage.build.build`, from the
   rows of **every** current source restricted to the touched keys (their node rows, the
   links whose child or parent is touched): it holds the touched nodes exactly as a full
   build would see them (fields by source priority, stubs, authors, every link out of them,
   deduplicated with its provenance);
3. the previous index's nodes and links are patched with it (``patch.py``): touched nodes
   take their new fields, links out of touched nodes are replaced, new nodes are appended,
   stubs and authors nothing points to any more are dropped;
4. what depends on the whole graph is redone with array operations: renown (authors and
   data sets by the downloads pointing to them) and the numbering by renown, the ids, their
   look-up and the search filter (``ids.py``), both adjacency layouts (``layouts.py``), and
   the citations, descendant counts and cycles of the nodes the change reaches
   (``counts.py``).

The answer is the index a full build gives for the same snapshots, except for the order
among nodes of equal renown (same score and likes), which a full build breaks by first
appearance in the sources and a delta by the previous index's order, new nodes last.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from filiation.lineage.arrays import IndexArrays
from filiation.lineage.build import SourceTables, build
from filiation.lineage.delta.patch import Step, patch


def touched_keys(*tables: tuple[pa.Table, pa.Table]) -> pa.Array:
    """Every key (lower-case id) a source's records name: node rows and both link ends."""
    parts: list[pa.Array] = []
    for nodes, links in tables:
        for col in (nodes["key"], links["child_key"], links["parent_key"]):
            parts.extend(col.chunks)
    if not parts:
        return pa.array([], pa.string())
    return pc.unique(pa.chunked_array(parts, pa.string()).combine_chunks())


def restrict(table: SourceTables, keys: pa.Array) -> SourceTables:
    """A source's rows about ``keys``: node rows with such a key, links with such an end."""
    nodes = table.nodes.filter(pc.is_in(table.nodes["key"], value_set=keys))
    links = table.links
    ends = pc.or_(
        pc.is_in(links["child_key"], value_set=keys), pc.is_in(links["parent_key"], value_set=keys)
    )
    return SourceTables(
        snapshot_id=table.snapshot_id,
        source=table.source,
        label=table.label,
        nodes=nodes,
        links=links.filter(ends),
    )


def apply_delta(
    base: IndexArrays,
    sources: list[SourceTables],
    keys: pa.Array,
    *,
    step: Step | None = None,
    folder: Path | None = None,
) -> IndexArrays:
    """The index of ``sources`` (every current snapshot, in the order :func:`build` takes
    them), from ``base`` (the index of the same snapshots but for the changes to ``keys``).

    ``keys`` must hold every id whose rows or links differ between the two sets of snapshots
    (:func:`touched_keys` of the changed source's old and new records). With ``folder``
    (empty, on the file system of the index cache), the new index's arrays are written
    there as they are made and saving it links them (``staging.py``)."""
    say = step or (lambda _msg: None)
    say("indexing the change")
    small = build([restrict(s, keys) for s in sources], rows_only=True)
    labels = [f"{s.source}#{s.snapshot_id}" for s in sources]
    return patch(base, small, keys, labels, say, folder)
