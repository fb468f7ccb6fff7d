"""Read lineage people compiled themselves: an edge list, and optionally a node list.

``edges.csv`` has one link per row, ``parent_id,child_id,relation`` (other common header
names are accepted, see ``EDGE_COLUMNS``); relation names are normalised (``finetuned`` →
``finetune``, ``merged`` → ``merge``...). ``nodes.csv`` may describe the nodes: ``id`` and
any of ``owner``/``author``, ``type``, ``architecture``; unknown columns are kept as extra
fields shown by ``filiation show``.

The files are parsed by Arrow's CSV reader and checked column by column: an edge list of
100,000 links is read in a few hundredths of a second (a Python loop over its rows took
0.8 s, a tenth of a delta's budget). Arrow does not say which line a row came from, so the
lines are counted apart (:func:`_records`) for the evidence each link cites
(``edges.csv:<line>``, the line a row ends on, as Python's ``csv`` module counts them).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from filiation.domain import NodeKind, Relation, author_of, normalise_relation
from filiation.errors import SourceError
from filiation.sources.hub_columns import clean_id, clean_ids
from filiation.sources.hub_stats_parse import drop_self_loops
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
_BOM = b"\xef\xbb\xbf"


def _pick(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


@dataclass
class _Rows:
    """A CSV file's rows: every column as strings (``c0``, ``c1``...), short rows padded."""

    header: list[str]
    table: pa.Table
    #: The line each row of ``table`` ends on (line 1 is the header).
    lines: np.ndarray
    #: Rows after the header, blank lines included (what ``csv.reader`` yields).
    rows_read: int
    #: Lines of rows with at most ``need`` fields that are not blank: unusable.
    short: list[int]


def _records(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each record of ``data`` ends: (end offsets, line numbers, content lengths).

    A record ends at a line break outside quotes (``\\n``, ``\\r\\n`` or a lone ``\\r``, as
    ``csv`` counts lines); a break inside quotes belongs to a value. The quotes are told
    by their parity, true of every well-formed file; a stray quote inside an unquoted value
    breaks the count, which the caller checks against Arrow's."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n = len(buf)
    nl = np.flatnonzero(buf == 10)
    cr = np.flatnonzero(buf == 13)
    if len(cr):
        after = np.minimum(cr + 1, n - 1)
        cr = cr[(cr + 1 >= n) | (buf[after] != 10)]
        breaks = np.sort(np.concatenate([nl, cr]))
    else:
        breaks = nl
    total = len(breaks)  # physical lines so far, each ended by a break
    line = np.arange(1, total + 1)
    quotes = np.flatnonzero(buf == 34)
    if len(quotes):
        outside = np.searchsorted(quotes, breaks) % 2 == 0
        breaks, line = breaks[outside], line[outside]
    ends = breaks
    if not len(breaks) or breaks[-1] < n - 1:
        ends = np.append(breaks, n)  # a last record without a line break
        line = np.append(line, total + int(buf[-1] not in (10, 13)))
    starts = np.concatenate([[0], ends[:-1] + 1])
    length = ends - starts
    crlf = np.zeros(len(ends), dtype=bool)
    inside = (ends < n) & (length > 0)
    crlf[inside] = (buf[ends[inside]] == 10) & (buf[ends[inside] - 1] == 13)
    return ends, line, length - crlf


def _load(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError(f"{path} does not exist") from exc
    except OSError as exc:
        raise SourceError(f"{path} cannot be read: {exc}") from exc
    data = data.removeprefix(_BOM)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(f"{path} is not a UTF-8 CSV file (line {line}: {exc.reason})") from exc
    return data


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Rows parsed by the ``csv`` module, with the line each ends on: for a file whose
    quotes :func:`_records` cannot follow, and the few rows Arrow refuses."""
    reader = csv.reader(io.StringIO(text, newline=""))
    return [(reader.line_num, row) for row in reader]


@dataclass
class _File:
    """A CSV file read whole, its records located and its header parsed."""

    path: Path
    data: bytes
    header: list[str]
    ends: np.ndarray
    lines: np.ndarray
    lengths: np.ndarray


def _open(path: Path) -> _File:
    data = _load(path)
    if not data:
        raise SourceError(f"{path} is empty; expected a header line")
    ends, lines, lengths = _records(data)
    try:
        rows = _csv_rows(data[: ends[0]].decode("utf-8"))
    except csv.Error as exc:
        raise SourceError(f"{path} cannot be read as CSV near line 1: {exc}") from exc
    return _File(path, data, rows[0][1] if rows else [], ends, lines, lengths)


def _read_rows(file: _File, need: int) -> _Rows:
    """Every row of a CSV file, its header apart; rows with at most ``need`` fields (too
    short to hold the columns the caller uses) are set aside as ``short`` unless blank."""
    path, data, header = file.path, file.data, file.header
    ends, lines, lengths = file.ends, file.lines, file.lengths
    names = [f"c{i}" for i in range(max(len(header), 1))]
    refused: list[tuple[int, str]] = []
    filled = lines[1:][lengths[1:] > 0]  # the lines of the records Arrow sees
    if len(filled):
        table = _arrow_read(file, names, refused)
    else:  # Arrow refuses a file of no rows
        table = pa.table({n: pa.array([], pa.string()) for n in names})
    rows_read = len(ends) - 1
    numbered = len(filled) == table.num_rows + len(refused)
    if numbered:
        ok_lines = np.delete(filled, [number - 1 for number, _ in refused])
        extra = [
            (int(filled[number - 1]), row)
            for number, text in refused
            for _, row in _csv_rows(text)[:1]
        ]
    else:  # stray quotes: let the csv module number the rows (and read the refused ones)
        try:
            parsed = _csv_rows(data.decode("utf-8"))[1:]
        except csv.Error as exc:
            raise SourceError(f"{path} cannot be read as CSV: {exc}") from exc
        rows_read = len(parsed)
        parsed = [(line, row) for line, row in parsed if row]
        width = len(names)
        ok_lines = np.array([line for line, row in parsed if len(row) == width], np.int64)
        extra = [(line, row) for line, row in parsed if len(row) != width]
        if len(ok_lines) != table.num_rows:
            raise SourceError(f"{path} cannot be read as CSV: unbalanced quotes")
    short = [line for line, row in extra if len(row) <= need and any(c.strip() for c in row)]
    wide = [(line, row) for line, row in extra if len(row) > need]
    if wide:
        padded = [(row + [""] * len(names))[: len(names)] for _, row in wide]
        more = pa.table(
            {n: pa.array([r[i] for r in padded], pa.string()) for i, n in enumerate(names)}
        )
        table = pa.concat_tables([table, more])
        all_lines = np.concatenate([ok_lines, np.array([line for line, _ in wide], np.int64)])
        order = np.argsort(all_lines, kind="stable")
        table, ok_lines = table.take(pa.array(order)), all_lines[order]
    return _Rows(header, table, np.asarray(ok_lines, np.int64), rows_read, sorted(short))


def _arrow_read(file: _File, names: list[str], refused: list[tuple[int, str]]) -> pa.Table:
    """The rows after the header, parsed by Arrow as strings; rows of another number of
    fields than the header are left to the caller in ``refused`` (their number among the
    non-empty records, their text)."""

    def refuse(row: pa_csv.InvalidRow) -> str:
        refused.append((row.number, row.text))
        return "skip"

    body = pa.py_buffer(file.data)[min(int(file.ends[0]) + 1, len(file.data)) :]
    try:
        return pa_csv.read_csv(
            pa.BufferReader(body),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=b'"' in file.data, invalid_row_handler=refuse
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
    except pa.ArrowException as exc:
        raise SourceError(f"{file.path} cannot be read as CSV: {exc}") from exc


def _blank(table: pa.Table) -> np.ndarray:
    """Rows whose every field is empty or spaces (skipped without a word, like empty lines)."""
    blank = np.ones(table.num_rows, dtype=bool)
    for col in table.columns:
        blank &= pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0).to_numpy(
            zero_copy_only=False
        )
    return blank


def read(
    edges: str | os.PathLike[str],
    nodes: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
) -> Records:
    """Read an edge list and, if given, a node list into records."""
    edges_path = Path(edges)
    source = f"edges:{name or edges_path.stem}"
    label = str(edges_path) + (f" + {nodes}" if nodes else "")
    report = IngestReport(source=source, label=label)
    links = _read_links(edges_path, report)
    node_table = _read_nodes(Path(nodes), report) if nodes else NODE_SCHEMA.empty_table()
    report.nodes = node_table.num_rows
    report.links = links.num_rows
    return Records(
        source=source, label=label, taken_at=None, nodes=node_table, links=links, report=report
    )


def _read_links(path: Path, report: IngestReport) -> pa.Table:
    file = _open(path)
    header = file.header
    ip = _pick(header, EDGE_COLUMNS["parent"])
    ic = _pick(header, EDGE_COLUMNS["child"])
    ir = _pick(header, EDGE_COLUMNS["relation"])
    if ip is None or ic is None:
        raise SourceError(
            f"{path} needs a parent and a child column (for example "
            f"'parent_id,child_id,relation'); its header is: {', '.join(header)}"
        )
    if ir is None:
        report.note("no relation column: every link is 'unspecified'")
    rows = _read_rows(file, need=max(ip, ic, ir if ir is not None else 0))
    report.rows_read = rows.rows_read
    table, lines = rows.table, rows.lines
    parent, parent_ok = clean_ids(table.column(ip))
    child, child_ok = clean_ids(table.column(ic))
    blank = _blank(table)
    usable = parent_ok & child_ok
    bad_lines = sorted([*rows.short, *lines[~usable & ~blank].tolist()])
    keep = pa.array(usable)
    parent, child, lines = parent.filter(keep), child.filter(keep), lines[usable]
    if ir is None:
        relation = pa.array([Relation.UNSPECIFIED.value] * len(lines), pa.string())
    else:
        relation = _relations(pc.utf8_trim_whitespace(table.column(ir).filter(keep)), report)
    if bad_lines:
        shown = ", ".join(map(str, bad_lines[:10])) + (" ..." if len(bad_lines) > 10 else "")
        report.skip(f"edge rows without a usable parent and child (lines {shown})", len(bad_lines))
    n = len(lines)
    dataset = pc.equal(relation, Relation.TRAINED_ON.value)
    links = pa.table(
        {
            "child_kind": pa.array([NodeKind.MODEL.value] * n, pa.string()),
            "child_key": pc.utf8_lower(child),
            "child_id": child,
            "parent_kind": pc.if_else(dataset, NodeKind.DATASET.value, NodeKind.MODEL.value),
            "parent_key": pc.utf8_lower(parent),
            "parent_id": parent,
            "relation": relation,
            "declared": pa.array(np.zeros(n, dtype=bool)),
            "evidence": pc.binary_join_element_wise(
                path.name, pc.cast(pa.array(lines), pa.string()), ":"
            ),
        },
        schema=LINK_SCHEMA,
    )
    links = _dedupe_links(links, report)
    return drop_self_loops(links, report)


def _relations(raw: pa.ChunkedArray | pa.Array, report: IngestReport) -> pa.Array:
    """Relation names normalised; unknown ones (and ``published_by``, not a lineage link)
    kept as ``unspecified`` and counted in a note naming each."""
    raw = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
    counts = pc.value_counts(raw)
    mapped: dict[str, str] = {}
    for entry in sorted(counts.to_pylist(), key=lambda e: e["values"]):
        value, count = entry["values"], entry["counts"]
        rel = normalise_relation(value) if value else Relation.UNSPECIFIED
        if rel is None or rel is Relation.PUBLISHED_BY:
            report.note(f"links with unknown relation {value!r} (kept as 'unspecified')", count)
            rel = Relation.UNSPECIFIED
        mapped[value] = rel.value
    values = pa.array(list(mapped), pa.string())
    index = pc.index_in(raw, value_set=values)
    return pc.take(pa.array(list(mapped.values()), pa.string()), index)


def _dedupe_links(links: pa.Table, report: IngestReport) -> pa.Table:
    """The first row of each (child, parent, relation); the others counted as duplicates."""
    if not links.num_rows:
        return links
    numbered = links.append_column("row", pa.array(np.arange(links.num_rows)))
    first = numbered.group_by(["child_key", "parent_key", "relation"], use_threads=False).aggregate(
        [("row", "min")]
    )
    dupes = links.num_rows - first.num_rows
    if not dupes:
        return links
    report.skip("duplicate edge rows", dupes)
    return links.take(np.sort(first["row_min"].to_numpy()))


def _read_nodes(path: Path, report: IngestReport) -> pa.Table:
    file = _open(path)
    header = file.header
    iid = _pick(header, NODE_ID_COLUMNS)
    if iid is None:
        raise SourceError(f"{path} needs an 'id' column; its header is: {', '.join(header)}")
    iauthor = _pick(header, NODE_AUTHOR_COLUMNS)
    extra_cols = [
        (i, h.strip()) for i, h in enumerate(header) if i not in (iid, iauthor) and h.strip()
    ]
    rows = _read_rows(file, need=iid)
    table = rows.table
    ids, ok = clean_ids(table.column(iid))
    blank = _blank(table)
    bad = len(rows.short) + int(np.count_nonzero(~ok & ~blank))
    keys = pc.utf8_lower(ids)
    numbered = pa.table({"key": keys, "row": pa.array(np.arange(len(ok)))}).filter(pa.array(ok))
    first = numbered.group_by("key", use_threads=False).aggregate([("row", "min")])
    dupes = numbered.num_rows - first.num_rows
    report.skip("node rows without a usable id", bad)
    report.skip("duplicate node rows", dupes)
    rows_kept = np.sort(first["row_min"].to_numpy())
    table = table.take(rows_kept)
    ids = pc.take(ids, rows_kept)
    n = len(ids)
    id_list = ids.to_pylist()
    if iauthor is not None:
        written = [clean_id(a) for a in table.column(iauthor).to_pylist()]
    else:
        written = [None] * n
    authors = [a or author_of(i) for a, i in zip(written, id_list, strict=True)]
    extras: list[str | None] = [None] * n
    if extra_cols:
        values = [table.column(i).to_pylist() for i, _ in extra_cols]
        for r in range(n):
            extra = {h: values[k][r] for k, (_, h) in enumerate(extra_cols) if values[k][r].strip()}
            extras[r] = json.dumps(extra) if extra else None
    columns = {
        "kind": pa.array([NodeKind.MODEL.value] * n, pa.string()),
        "key": pc.utf8_lower(ids),
        "id": ids,
        "author": pa.array(authors, pa.string()),
        "extra": pa.array(extras, pa.string()),
    }
    nodes = pa.table(
        {f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in NODE_SCHEMA}, schema=NODE_SCHEMA
    )
    return clean_text_fields(nodes, report)
