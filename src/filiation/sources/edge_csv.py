"""Read lineage people compiled themselves: an edge list, and optionally a node list.

``edges.csv`` has one link per row, ``parent_id,child_id,relation`` (other common header
names are accepted, see ``EDGE_COLUMNS``); relation names are normalised (``finetuned`` →
``finetune``, ``merged`` → ``merge``...). ``nodes.csv`` may describe the nodes: ``id`` and
any of ``owner``/``author``, ``type``, ``architecture``; unknown columns are kept as extra
fields shown by ``filiation show``.
"""

from __future__ import annotations

import csv
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filiation.domain import NodeKind, Relation, author_of, normalise_relation
from filiation.errors import SourceError
from filiation.sources.hub_stats import clean_id, drop_self_loops
from filiation.sources.records import (
    LINK_SCHEMA,
    NODE_SCHEMA,
    IngestReport,
    Records,
    clean_text_fields,
)

EDGE_COLUMNS = {
    "parent": ("parent_id", "parent", "base_model", "source", "from"),
    "child": ("child_id", "child", "model", "model_id", "target", "to"),
    "relation": ("relation", "relation_type", "type", "edge_type"),
}
NODE_ID_COLUMNS = ("id", "model_id", "model", "node_id")
NODE_AUTHOR_COLUMNS = ("owner", "author")


def _pick(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _open(path: Path, files: ExitStack) -> tuple[list[str], Any]:
    """The header and a reader of a CSV file; ``files`` closes it when the read is over."""
    try:
        handle = files.enter_context(path.open(newline="", encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise SourceError(f"{path} does not exist") from exc
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise SourceError(f"{path} is empty; expected a header line") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SourceError(f"{path} is not a UTF-8 CSV file: {exc}") from exc
    return header, reader


def read(
    edges: str | os.PathLike[str],
    nodes: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
) -> Records:
    """Read an edge list and, if given, a node list into records."""
    with ExitStack() as files:
        return _read(edges, nodes, name, files)


def _read(
    edges: str | os.PathLike[str],
    nodes: str | os.PathLike[str] | None,
    name: str | None,
    files: ExitStack,
) -> Records:
    edges_path = Path(edges)
    source = f"edges:{name or edges_path.stem}"
    label = str(edges_path) + (f" + {nodes}" if nodes else "")
    report = IngestReport(source=source, label=label)

    header, reader = _open(edges_path, files)
    ip = _pick(header, EDGE_COLUMNS["parent"])
    ic = _pick(header, EDGE_COLUMNS["child"])
    ir = _pick(header, EDGE_COLUMNS["relation"])
    if ip is None or ic is None:
        raise SourceError(
            f"{edges_path} needs a parent and a child column (for example "
            f"'parent_id,child_id,relation'); its header is: {', '.join(header)}"
        )
    if ir is None:
        report.note("no relation column: every link is 'unspecified'")

    cols: dict[str, list[object]] = {f.name: [] for f in LINK_SCHEMA}
    bad_lines: list[int] = []
    unknown: dict[str, int] = {}
    try:
        for row in reader:
            report.rows_read += 1
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            need = max(ip, ic, ir if ir is not None else 0)
            if len(row) <= need:
                bad_lines.append(line)
                continue
            parent, child = clean_id(row[ip]), clean_id(row[ic])
            if parent is None or child is None:
                bad_lines.append(line)
                continue
            raw_rel = row[ir].strip() if ir is not None else ""
            rel = normalise_relation(raw_rel) if raw_rel else Relation.UNSPECIFIED
            if rel is None or rel is Relation.PUBLISHED_BY:
                unknown[raw_rel] = unknown.get(raw_rel, 0) + 1
                rel = Relation.UNSPECIFIED
            parent_kind = NodeKind.DATASET if rel is Relation.TRAINED_ON else NodeKind.MODEL
            cols["child_kind"].append(NodeKind.MODEL.value)
            cols["child_key"].append(child.lower())
            cols["child_id"].append(child)
            cols["parent_kind"].append(parent_kind.value)
            cols["parent_key"].append(parent.lower())
            cols["parent_id"].append(parent)
            cols["relation"].append(rel.value)
            cols["declared"].append(False)
            cols["evidence"].append(f"{edges_path.name}:{line}")
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SourceError(
            f"{edges_path} cannot be read as CSV near line {reader.line_num}: {exc}"
        ) from exc

    if bad_lines:
        shown = ", ".join(map(str, bad_lines[:10])) + (" ..." if len(bad_lines) > 10 else "")
        report.skip(f"edge rows without a usable parent and child (lines {shown})", len(bad_lines))
    for raw, count in sorted(unknown.items()):
        report.note(f"links with unknown relation {raw!r} (kept as 'unspecified')", count)

    links = pa.table(cols, schema=LINK_SCHEMA)
    links = _dedupe_links(links, report)
    links = drop_self_loops(links, report)
    node_table = _read_nodes(Path(nodes), report, files) if nodes else NODE_SCHEMA.empty_table()
    report.nodes = node_table.num_rows
    report.links = links.num_rows
    return Records(
        source=source, label=label, taken_at=None, nodes=node_table, links=links, report=report
    )


def _dedupe_links(links: pa.Table, report: IngestReport) -> pa.Table:
    if not links.num_rows:
        return links
    grouped = links.group_by(["child_key", "parent_key", "relation"], use_threads=False).aggregate(
        []
    )
    dupes = links.num_rows - grouped.num_rows
    if not dupes:
        return links
    seen: set[tuple[str, str, str]] = set()
    keep = []
    for c, p, r in zip(
        links["child_key"].to_pylist(),
        links["parent_key"].to_pylist(),
        links["relation"].to_pylist(),
        strict=True,
    ):
        key = (c, p, r)
        keep.append(key not in seen)
        seen.add(key)
    report.skip("duplicate edge rows", dupes)
    return links.filter(pa.array(keep))


def _read_nodes(path: Path, report: IngestReport, files: ExitStack) -> pa.Table:
    header, reader = _open(path, files)
    iid = _pick(header, NODE_ID_COLUMNS)
    if iid is None:
        raise SourceError(f"{path} needs an 'id' column; its header is: {', '.join(header)}")
    iauthor = _pick(header, NODE_AUTHOR_COLUMNS)
    extra_cols = [
        (i, h.strip()) for i, h in enumerate(header) if i not in (iid, iauthor) and h.strip()
    ]
    ids: list[str] = []
    authors: list[str | None] = []
    extras: list[str | None] = []
    seen: set[str] = set()
    bad = 0
    dupes = 0
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            node_id = clean_id(row[iid]) if len(row) > iid else None
            if node_id is None:
                bad += 1
                continue
            if node_id.lower() in seen:
                dupes += 1
                continue
            seen.add(node_id.lower())
            ids.append(node_id)
            author = clean_id(row[iauthor]) if iauthor is not None and len(row) > iauthor else None
            authors.append(author or author_of(node_id))
            extra = {h: row[i] for i, h in extra_cols if i < len(row) and row[i].strip()}
            extras.append(json.dumps(extra) if extra else None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SourceError(
            f"{path} cannot be read as CSV near line {reader.line_num}: {exc}"
        ) from exc
    report.skip("node rows without a usable id", bad)
    report.skip("duplicate node rows", dupes)
    n = len(ids)
    id_arr = pa.array(ids, pa.string())
    columns = {
        "kind": pa.array([NodeKind.MODEL.value] * n, pa.string()),
        "key": pc.utf8_lower(id_arr),
        "id": id_arr,
        "author": pa.array(authors, pa.string()),
        "extra": pa.array(extras, pa.string()),
    }
    table = pa.table(
        {f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in NODE_SCHEMA}, schema=NODE_SCHEMA
    )
    return clean_text_fields(table, report)
