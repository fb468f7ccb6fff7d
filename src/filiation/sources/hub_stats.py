"""Read the Hub's public metadata dump (``cfahlgren1/hub-stats``, ``models.parquet``).

The dump is streamed in record batches and parsed column-wise with Arrow compute, two
batches at once by separate threads (Arrow's kernels release the GIL), so the 3 million rows
of the full Hub take seconds and memory stays bounded by the batch size plus the compact
result. Model-card JSON is parsed only for rows whose card can
add something (training data sets, or a parent nothing else names).

Where parents come from, in order of trust:
1. ``baseModels``: the Hub's own typed parent list;
2. the ``base_model:<relation>:<id>`` / ``base_model:<id>`` tags;
3. ``cardData.base_model`` (the publisher's front matter), typed by the card's
   ``base_model_relation`` when present, else ``merge`` for several parents and
   ``unspecified`` for one (the Hub's own rule).
A relation is *declared* when the card states ``base_model_relation`` and it agrees with the
link; otherwise it was left to the Hub (or to us) to infer.

Ids and columns are cleaned by :mod:`filiation.sources.hub_columns` (shared with the other
sources and with metadata inference); ``clean_id`` and ``clean_ids`` stay importable from here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filiation.domain import NodeKind, Relation, normalise_relation
from filiation.errors import SourceError
from filiation.limits import MAX_CARD_LENGTH, MAX_ID_LENGTH
from filiation.sources.hub_columns import _column, _first_tag_value, clean_id, clean_ids
from filiation.sources.records import (
    LINK_SCHEMA,
    NODE_SCHEMA,
    IngestReport,
    Records,
    clean_text_fields,
    valid_utf8,
)

HUB_STATS_REPO = "cfahlgren1/hub-stats"
HUB_STATS_FILE = "models.parquet"
SOURCE = "hub-stats"

#: Columns of the dump that filiation reads; only ``id`` is indispensable.
COLUMNS = (
    "id",
    "author",
    "createdAt",
    "lastModified",
    "downloads",
    "downloadsAllTime",
    "likes",
    "trendingScore",
    "tags",
    "cardData",
    "safetensors",
    "gguf",
    "baseModels",
    "pipeline_tag",
    "library_name",
)
_PARENT_COLUMNS = ("baseModels", "tags", "cardData")

#: Hub ids are short and printable; anything else is not an id we can show or look up safely
#: (the length limit, :data:`filiation.limits.MAX_ID_LENGTH`, is re-exported here).
__all__ = ["MAX_ID_LENGTH"]
_TAG_PARENT = r"^base_model:(?:(?P<rel>[A-Za-z_\-]+):)?(?P<pid>[^:].*)$"
_CARD_RELATION = r'"base_model_relation"\s*:\s*"(?P<rel>[^"]*)"'
_GGUF_TOTAL = r'"total"\s*:\s*(?P<total>\d+)'

SKIP_EMPTY_ID = "rows with an empty id"
SKIP_BAD_ID = "rows with an unusable id (control characters, invalid UTF-8 or over-long)"
SKIP_DUPLICATE = "duplicate rows for the same id (kept the most recently modified)"
SKIP_SELF_LOOP = "self-loops (a model naming itself as its parent)"
SKIP_BAD_PARENT = "parent or data set names that are not usable ids"
NOTE_BROKEN_CARD = "model cards whose JSON is broken (row kept, card ignored)"
NOTE_UNKNOWN_RELATION = "links with an unknown relation (kept as 'unspecified')"
NOTE_JUNK_DATASET = "dataset names in model cards that are not strings"
NOTE_BAD_UTF8 = "values with invalid UTF-8 (bad bytes replaced by U+FFFD)"
NOTE_LONG_CARD = "model cards over the length limit (row kept, card ignored)"

ProgressCallback = Callable[[int], None]


def download(revision: str | None = None, token: str | None = None) -> Path:
    """Fetch the current dump from the Hub (with huggingface_hub's own progress bar)."""
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            HUB_STATS_REPO, HUB_STATS_FILE, repo_type="dataset", revision=revision, token=token
        )
    except Exception as exc:  # the client raises many types; all mean "could not download"
        first_line = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        raise SourceError(
            f"could not download {HUB_STATS_REPO}/{HUB_STATS_FILE} from the Hub "
            f"({type(exc).__name__}: {first_line}); check the network, or pass the path of a "
            "models.parquet you already have"
        ) from exc
    return Path(path)


@dataclass
class Scan:
    """An open dump: its report so far and the rows to keep (one per id)."""

    path: Path
    file: pq.ParquetFile
    columns: list[str]
    keep: np.ndarray
    report: IngestReport
    taken_at: datetime | None


def open_dump(path: str | Path) -> Scan:
    """Check the file and decide which rows to keep, reading only the id and date columns."""
    path = Path(path)
    report = IngestReport(source=SOURCE, label=str(path))
    try:
        # Without pre-buffering: the reader would otherwise keep every column chunk it read
        # (350 MB of the full Hub) for as long as the file is open, i.e. the whole ingest.
        pf = pq.ParquetFile(path, pre_buffer=False)
    except FileNotFoundError as exc:
        raise SourceError(f"{path} does not exist") from exc
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(
            f"{path} is not a readable Parquet file ({exc}); if it was downloaded, it may be "
            "truncated: download it again"
        ) from exc
    present = set(pf.schema_arrow.names)
    if "id" not in present:
        raise SourceError(
            f"{path} has no 'id' column, so it is not a hub-stats models dump "
            f"(columns found: {', '.join(sorted(present)) or 'none'})"
        )
    if not present.intersection(_PARENT_COLUMNS):
        raise SourceError(
            f"{path} has none of the columns that name parents ({', '.join(_PARENT_COLUMNS)}); "
            "it is not a hub-stats models dump"
        )
    for col in COLUMNS:
        if col not in present:
            report.note(f"column {col} missing from the dump")
    dates = [c for c in ("lastModified", "createdAt") if c in present]
    try:
        head = pf.read(columns=["id", *dates])
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(
            f"{path} is damaged ({exc}); nothing was stored. Download the dump again"
        ) from exc
    ids, usable = clean_ids(head["id"].combine_chunks())
    n = len(ids)
    empty = pc.fill_null(pc.equal(pc.utf8_length(ids), 0), True).to_numpy(zero_copy_only=False)
    report.skip(SKIP_EMPTY_ID, int(empty.sum()))
    report.skip(SKIP_BAD_ID, int((~usable & ~empty).sum()))
    modified = _as_timestamp(head, "lastModified", n)
    keep = usable.copy()
    keys = pc.utf8_lower(ids)
    # Distinct ids counted as the size of their dictionary: the same hash table as
    # ``count_distinct`` takes, built three times faster (no grouping machinery).
    distinct = len(pc.dictionary_encode(pc.filter(keys, pa.array(usable))).dictionary)
    if distinct != int(usable.sum()):
        # Several rows for one id: keep the most recently modified, then the last one.
        rows = np.arange(n, dtype=np.int64)
        order = pa.table({"k": keys, "m": modified, "r": rows, "u": pa.array(usable)}).sort_by(
            [("u", "descending"), ("k", "ascending"), ("m", "descending"), ("r", "descending")]
        )
        k = order["k"].combine_chunks()
        first = np.ones(n, bool)
        if n > 1:
            first[1:] = pc.fill_null(pc.not_equal(k.slice(1), k.slice(0, n - 1)), True).to_numpy(
                zero_copy_only=False
            )
        chosen = order["r"].to_numpy()[first & order["u"].to_numpy(zero_copy_only=False)]
        keep = np.zeros(n, bool)
        keep[chosen] = True
        report.skip(SKIP_DUPLICATE, int(usable.sum() - keep.sum()))
    taken = [_latest(_as_timestamp(head, c, n)) for c in dates]
    taken_at = max((t for t in taken if t is not None), default=None)
    del head, ids, keys, modified
    # Counting distinct ids takes a hash table of every id (hundreds of megabytes at 3
    # million rows) that Arrow's allocator would otherwise keep for the rest of the ingest.
    pa.default_memory_pool().release_unused()
    return Scan(path, pf, [c for c in COLUMNS if c in present], keep, report, taken_at)


#: The dates a Python ``datetime`` can hold, in microseconds since 1970 (a hostile dump may
#: hold any 64-bit number).
_REPRESENTABLE = (-62_135_596_800_000_000, 253_402_300_799_999_999)


def _latest(stamps: pa.Array) -> datetime | None:
    """The latest of ``stamps`` that a ``datetime`` can hold (others are not a date)."""
    micros = pc.cast(stamps, pa.int64())
    low, high = _REPRESENTABLE
    kept = pc.filter(micros, pc.and_(pc.greater_equal(micros, low), pc.less_equal(micros, high)))
    latest = pc.max(kept).as_py()
    return None if latest is None else datetime(1970, 1, 1) + timedelta(microseconds=latest)


def _as_timestamp(table: pa.Table, name: str, n: int) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(n, pa.timestamp("us"))
    col = table[name].combine_chunks()
    try:
        return pc.cast(col, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(n, pa.timestamp("us"))


#: Batches parsed at once by separate threads (Arrow's kernels release the GIL): on two
#: cores, the parsing of the full Hub takes about half the time.
PARSERS = 2


def batches(
    scan: Scan, *, batch_size: int = 65_536, progress: ProgressCallback | None = None
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Parse the dump batch by batch into (nodes, links) tables in the store's schema, in
    the dump's order. :data:`PARSERS` batches are parsed at once, each counting what it
    skips in a report of its own, added to the scan's in order."""
    offset = 0  # rows handed out
    read = 0  # rows read from the file
    pending: deque[tuple[int, IngestReport, Future[tuple[pa.Table, pa.Table]]]] = deque()
    try:
        with ThreadPoolExecutor(PARSERS, thread_name_prefix="filiation-parse") as pool:
            reader = scan.file.iter_batches(batch_size=batch_size, columns=scan.columns)
            while True:
                while len(pending) < PARSERS:
                    batch = next(reader, None)
                    if batch is None:
                        break
                    keep = scan.keep[read : read + batch.num_rows]
                    own = IngestReport(source=scan.report.source, label=scan.report.label)
                    job = pool.submit(_parse_batch, batch, keep, own)
                    pending.append((batch.num_rows, own, job))
                    read += batch.num_rows
                    del batch
                if not pending:
                    break
                rows, own, job = pending.popleft()
                nodes, links = job.result()
                del job
                for reason, count in own.skipped.items():
                    scan.report.skip(reason, count)
                for what, count in own.notes.items():
                    scan.report.note(what, count)
                offset += rows
                scan.report.rows_read = offset
                scan.report.nodes += nodes.num_rows
                scan.report.links += links.num_rows
                if progress:
                    progress(rows)
                # Hand the batch's temporary buffers back to the system: Arrow's allocator
                # otherwise keeps them, and at 3 million rows that is half a gigabyte.
                pa.default_memory_pool().release_unused()
                yield nodes, links
                del nodes, links
    except pa.ArrowException as exc:
        raise SourceError(
            f"{scan.path} is damaged after row {offset} ({exc}); nothing was stored. "
            "Download the dump again"
        ) from exc


def read(
    path: str | Path, *, batch_size: int = 65_536, progress: ProgressCallback | None = None
) -> Records:
    """Parse a whole ``models.parquet`` into records (the streaming path is :func:`batches`)."""
    scan = open_dump(path)
    parts = list(batches(scan, batch_size=batch_size, progress=progress))
    nodes = pa.concat_tables([p[0] for p in parts]) if parts else NODE_SCHEMA.empty_table()
    links = pa.concat_tables([p[1] for p in parts]) if parts else LINK_SCHEMA.empty_table()
    return Records(SOURCE, str(path), scan.taken_at, nodes, links, scan.report)


# -- one batch ------------------------------------------------------------------------------
def _valid_batch(batch: pa.RecordBatch, report: IngestReport) -> pa.RecordBatch:
    """The batch with every text value valid UTF-8 (Parquet does not check; Arrow's string
    functions stop on the first bad byte), the replaced values counted. Ids with bad bytes
    were already set aside by :func:`open_dump`."""
    columns = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        fixed, bad = valid_utf8(col)
        if bad and name != "id":
            report.note(NOTE_BAD_UTF8, bad)
        columns.append(fixed)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _relation_codes(values: pa.Array, report: IngestReport) -> pa.Array:
    """Normalise relation names (the dump's or the tags'); unknown ones become unspecified."""
    uniques = pc.unique(values).to_pylist()
    mapped: list[str | None] = []
    for raw in uniques:
        rel = normalise_relation(raw) if isinstance(raw, str) else None
        if rel in (None, Relation.TRAINED_ON, Relation.PUBLISHED_BY):
            rel = None
        mapped.append(rel.value if rel else None)
    idx = pc.index_in(values, value_set=pa.array(uniques, pa.string()))
    out = pc.take(pa.array(mapped, pa.string()), idx)
    unknown = pc.and_(pc.is_valid(values), pc.is_null(out))
    report.note(NOTE_UNKNOWN_RELATION, pc.sum(pc.cast(unknown, pa.int64())).as_py() or 0)
    return pc.fill_null(out, Relation.UNSPECIFIED.value)


def _parse_batch(
    batch: pa.RecordBatch, keep: np.ndarray, report: IngestReport
) -> tuple[pa.Table, pa.Table]:
    n = batch.num_rows
    batch = _valid_batch(batch, report)
    ids, _ = clean_ids(batch.column("id"))
    keys = pc.utf8_lower(ids)
    tags = _column(batch, "tags", pa.list_(pa.string()))
    card = _column(batch, "cardData", pa.string())
    long_card = pc.fill_null(pc.greater(pc.utf8_length(card), MAX_CARD_LENGTH), False)
    report.note(NOTE_LONG_CARD, pc.sum(pc.cast(long_card, pa.int64())).as_py() or 0)
    card = pc.if_else(long_card, pa.scalar(None, pa.string()), card)
    author = _column(batch, "author", pa.string())
    prefix = pc.list_element(pc.split_pattern(ids, "/", max_splits=1), 0)
    has_slash = pc.match_substring(ids, "/")
    author = pc.coalesce(author, pc.if_else(has_slash, prefix, pa.nulls(n, pa.string())))
    license_ = _first_tag_value(tags, "license:", n)

    params = pa.nulls(n, pa.int64())
    if "safetensors" in batch.schema.names:
        st = batch.column("safetensors")
        if pa.types.is_struct(st.type) and st.type.get_field_index("total") >= 0:
            params = pc.cast(pc.struct_field(st, "total"), pa.int64())
    if "gguf" in batch.schema.names:
        gg = _column(batch, "gguf", pa.string())
        total = pc.struct_field(pc.extract_regex(gg, _GGUF_TOTAL), "total")
        params = pc.coalesce(params, pc.cast(total, pa.int64()))

    found = pc.extract_regex(card, _CARD_RELATION)
    null_str = pa.scalar(None, pa.string())
    card_rel_raw = pc.if_else(pc.is_valid(found), pc.struct_field(found, "rel"), null_str)
    card_rel = pc.if_else(
        pc.is_valid(card_rel_raw), _relation_codes(card_rel_raw, report), null_str
    )

    parts: list[pa.Table] = []
    has_parent = np.zeros(n, bool)
    junk = 0

    # 1. baseModels, the Hub's own typed list.
    if "baseModels" in batch.schema.names and pa.types.is_struct(batch.column("baseModels").type):
        bm = batch.column("baseModels")
        models = pc.struct_field(bm, "models")
        flat = pc.list_flatten(models)
        if len(flat):
            owner = pc.list_parent_indices(models).to_numpy(zero_copy_only=False)
            pid, ok = clean_ids(pc.struct_field(flat, "id"))
            ok &= keep[owner]
            junk += int((~ok & keep[owner]).sum())
            sel = pa.array(ok)
            owner_sel = owner[ok]
            rel = _relation_codes(
                pc.take(pc.struct_field(bm, "relation"), pa.array(owner_sel)), report
            )
            parts.append(
                _link_part(
                    owner_sel, pc.filter(pid, sel), rel, card_rel, "baseModels", NodeKind.MODEL
                )
            )
            has_parent[owner_sel] = True

    # 2. base_model tags, for rows the Hub gave no typed list for.
    flat_tags = pc.list_flatten(tags)
    tag_rows = pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)
    is_bm = pc.fill_null(pc.starts_with(flat_tags, "base_model:"), False).to_numpy(
        zero_copy_only=False
    )
    need = is_bm & keep[tag_rows] & ~has_parent[tag_rows]
    if need.any():
        parsed = pc.extract_regex(pc.filter(flat_tags, pa.array(need)), _TAG_PARENT)
        rows = tag_rows[need]
        pid, ok = clean_ids(pc.struct_field(parsed, "pid"))
        junk += int((~ok).sum())
        raw_rel = pc.struct_field(parsed, "rel")
        # Per row and parent, a typed tag wins over a plain one; the card's relation types
        # a parent named only by a plain tag.
        table = pa.table(
            {
                "row": pa.array(rows[ok]),
                "key": pc.utf8_lower(pc.filter(pid, pa.array(ok))),
                "pid": pc.filter(pid, pa.array(ok)),
                "rel": pc.filter(
                    pc.if_else(pc.equal(raw_rel, ""), null_str, raw_rel), pa.array(ok)
                ),
            }
        )
        table = table.sort_by([("row", "ascending"), ("key", "ascending"), ("rel", "descending")])
        grouped = table.group_by(["row", "key"], use_threads=False).aggregate(
            [("pid", "first"), ("rel", "first")]
        )
        g_rows = grouped["row"].to_numpy()
        typed = _relation_codes(grouped["rel_first"].combine_chunks(), report)
        typed = pc.if_else(
            pc.is_valid(grouped["rel_first"]),
            typed,
            pc.coalesce(pc.take(card_rel, pa.array(g_rows)), Relation.UNSPECIFIED.value),
        )
        parts.append(
            _link_part(
                g_rows,
                grouped["pid_first"].combine_chunks(),
                typed,
                card_rel,
                "tags",
                NodeKind.MODEL,
            )
        )
        has_parent[g_rows] = True

    # 3. the card's own base_model, and its training data sets: parse only those cards.
    mentions_base = pc.fill_null(pc.match_substring(card, '"base_model"'), False).to_numpy(
        zero_copy_only=False
    )
    mentions_ds = pc.fill_null(pc.match_substring(card, '"datasets"'), False).to_numpy(
        zero_copy_only=False
    )
    wanted = keep & ((mentions_base & ~has_parent) | mentions_ds)
    card_rows: list[int] = []
    card_pids: list[str] = []
    card_rels: list[str] = []
    ds_rows: list[int] = []
    ds_names: list[str] = []
    broken = 0
    junk_ds = 0
    if wanted.any():
        idx = np.flatnonzero(wanted)
        texts = pc.take(card, pa.array(idx)).to_pylist()
        declared = pc.take(card_rel, pa.array(idx)).to_pylist()
        for row, text, decl in zip(idx.tolist(), texts, declared, strict=True):
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                broken += 1
                continue
            if not isinstance(value, dict):
                broken += 1
                continue
            if not has_parent[row] and "base_model" in value:
                pids, bad = _as_id_list(value["base_model"])
                junk += bad
                rel = decl or (
                    Relation.MERGE.value if len(pids) > 1 else Relation.UNSPECIFIED.value
                )
                for pid in pids:
                    card_rows.append(row)
                    card_pids.append(pid)
                    card_rels.append(rel)
            if "datasets" in value:
                names, bad = _as_id_list(value["datasets"])
                junk_ds += bad
                ds_rows += [row] * len(names)
                ds_names += names
    report.note(NOTE_BROKEN_CARD, broken)
    report.note(NOTE_JUNK_DATASET, junk_ds)
    if card_rows:
        parts.append(
            _link_part(
                np.asarray(card_rows, np.int64),
                pa.array(card_pids, pa.string()),
                pa.array(card_rels, pa.string()),
                card_rel,
                "cardData.base_model",
                NodeKind.MODEL,
            )
        )

    # Training data sets: dataset: tags, then the card's list; once per model and data set.
    is_ds = pc.fill_null(pc.starts_with(flat_tags, "dataset:"), False).to_numpy(
        zero_copy_only=False
    )
    is_ds &= keep[tag_rows]
    ds_parts = []
    if is_ds.any():
        names, ok = clean_ids(
            pc.utf8_slice_codeunits(pc.filter(flat_tags, pa.array(is_ds)), len("dataset:"))
        )
        junk += int((~ok).sum())
        ds_parts.append(
            pa.table(
                {
                    "row": pa.array(tag_rows[is_ds][ok]),
                    "pid": pc.filter(names, pa.array(ok)),
                    "ev": pa.array(np.full(int(ok.sum()), 0, np.int8)),
                }
            )
        )
    if ds_rows:
        ds_parts.append(
            pa.table(
                {
                    "row": pa.array(np.asarray(ds_rows, np.int64)),
                    "pid": pa.array(ds_names, pa.string()),
                    "ev": pa.array(np.full(len(ds_rows), 1, np.int8)),
                }
            )
        )
    if ds_parts:
        ds = pa.concat_tables(ds_parts)
        ds = ds.append_column("key", pc.utf8_lower(ds["pid"]))
        ds = ds.append_column("pos", pa.array(np.arange(ds.num_rows, dtype=np.int64)))
        grouped = ds.group_by(["row", "key"], use_threads=False).aggregate([("pos", "min")])
        first = ds.take(grouped["pos_min"])
        evidence = pc.take(
            pa.array(["tags", "cardData.datasets"]), pc.cast(first["ev"], pa.int32())
        )
        part = _link_part(
            first["row"].to_numpy(),
            first["pid"].combine_chunks(),
            _constant(Relation.TRAINED_ON.value, first.num_rows),
            None,
            "",
            NodeKind.DATASET,
        )
        part = part.set_column(part.schema.get_field_index("evidence"), "evidence", evidence)
        parts.append(part)
    report.skip(SKIP_BAD_PARENT, junk)

    links = pa.concat_tables(parts) if parts else _empty_links_with_row()
    child_rows = links["row"].to_numpy()
    links = links.drop_columns(["row"])
    child_ids = pc.take(ids, pa.array(child_rows))
    links = links.set_column(1, "child_key", pc.utf8_lower(child_ids))
    links = links.set_column(2, "child_id", child_ids)
    links = drop_self_loops(links, report)

    extra = pa.nulls(n, pa.string())
    nodes = pa.table(
        {
            "kind": _constant(NodeKind.MODEL.value, n),
            "key": keys,
            "id": ids,
            "author": author,
            "created_at": _column(batch, "createdAt", pa.timestamp("us")),
            "last_modified": _column(batch, "lastModified", pa.timestamp("us")),
            "pipeline_tag": _column(batch, "pipeline_tag", pa.string()),
            "library_name": _column(batch, "library_name", pa.string()),
            "license": license_,
            "downloads": _column(batch, "downloads", pa.int64()),
            "downloads_all_time": _column(batch, "downloadsAllTime", pa.int64()),
            "likes": _column(batch, "likes", pa.int64()),
            "trending_score": _column(batch, "trendingScore", pa.float64()),
            "parameters": params,
            "extra": extra,
        },
        schema=NODE_SCHEMA,
    ).filter(pa.array(keep))
    return clean_text_fields(nodes, report), links.cast(LINK_SCHEMA)


def _constant(value: str, n: int) -> pa.Array:
    """``n`` times the same text (without a Python object per row)."""
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _empty_links_with_row() -> pa.Table:
    return LINK_SCHEMA.append(pa.field("row", pa.int64())).empty_table()


def _link_part(
    rows: np.ndarray,
    parent_ids: pa.Array,
    relations: pa.Array,
    card_rel: pa.Array | None,
    evidence: str,
    parent_kind: NodeKind,
) -> pa.Table:
    """Links from the given rows; ``declared`` where the card's relation equals the link's."""
    m = len(rows)
    row_arr = pa.array(np.asarray(rows, np.int64))
    if card_rel is None:
        declared = pa.array(np.ones(m, bool))
    else:
        declared = pc.fill_null(pc.equal(pc.take(card_rel, row_arr), relations), False)
    return pa.table(
        {
            "child_kind": _constant(NodeKind.MODEL.value, m),
            "child_key": pa.nulls(m, pa.string()),
            "child_id": pa.nulls(m, pa.string()),
            "parent_kind": _constant(parent_kind.value, m),
            "parent_key": pc.utf8_lower(parent_ids),
            "parent_id": parent_ids,
            "relation": relations,
            "declared": declared,
            "evidence": _constant(evidence, m),
            "row": row_arr,
        }
    )


def _as_id_list(value: Any) -> tuple[list[str], int]:
    """Card fields may be a string or a list of strings; return the ids and how many were junk."""
    if value is None:
        return [], 0
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    junk = 0
    for item in items:
        cleaned = clean_id(item)
        if cleaned is None:
            junk += 1
        else:
            out.append(cleaned)
    return out, junk


def drop_self_loops(links: pa.Table, report: IngestReport) -> pa.Table:
    """A model cannot derive from itself; such links are counted and left out."""
    if not links.num_rows:
        return links
    loop = pc.fill_null(
        pc.and_(
            pc.equal(links["child_key"], links["parent_key"]),
            pc.equal(links["child_kind"], links["parent_kind"]),
        ),
        False,
    )
    count = pc.sum(pc.cast(loop, pa.int64())).as_py() or 0
    report.skip(SKIP_SELF_LOOP, count)
    return links.filter(pc.invert(loop)) if count else links
