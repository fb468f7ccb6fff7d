"""Read the Hub's public metadata dump (``cfahlgren1/hub-stats``, ``models.parquet``).

The dump is read in record batches and parsed column-wise with Arrow compute, so that the
3 million rows of the full Hub fit in a minute and a few GB. Only the model-card JSON that
can matter (rows whose card names a base model, a relation or data sets) is parsed in Python.

Where parents come from, in order of trust:
1. ``baseModels``: the Hub's own typed parent list;
2. the ``base_model:<relation>:<id>`` / ``base_model:<id>`` tags;
3. ``cardData.base_model`` (the publisher's front matter), typed ``unspecified``
   unless the card also says ``base_model_relation``.
A relation is *declared* when the card states ``base_model_relation`` and it agrees with the
link; otherwise it was left to the Hub (or to us) to infer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filiation.domain import NodeKind, Relation, author_of, normalise_relation
from filiation.errors import SourceError
from filiation.sources.records import LINK_SCHEMA, NODE_SCHEMA, IngestReport, Records

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

#: Hub ids are short and printable; anything else is not an id we can show or look up safely.
MAX_ID_LENGTH = 512
_BAD_ID = re.compile(r"[\x00-\x1f\x7f]")
_TAG_PARENT = re.compile(r"^base_model:(?:([A-Za-z_\-]+):)?(.+)$")
_GGUF_TOTAL = r'"total"\s*:\s*(?P<total>\d+)'

ProgressCallback = Callable[[int], None]


def download(revision: str | None = None, token: str | None = None) -> Path:
    """Fetch the current dump from the Hub (with huggingface_hub's own progress bar)."""
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            HUB_STATS_REPO, HUB_STATS_FILE, repo_type="dataset", revision=revision, token=token
        )
    except Exception as exc:  # the client raises many types; all mean "could not download"
        raise SourceError(
            f"could not download {HUB_STATS_REPO}/{HUB_STATS_FILE} from the Hub ({exc}); "
            "check the network, or pass the path of a models.parquet you already have"
        ) from exc
    return Path(path)


def clean_id(value: Any) -> str | None:
    """Return a usable id, or ``None`` for empty, over-long or control-character ids."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_ID_LENGTH or _BAD_ID.search(value):
        return None
    return value


def read(
    path: str | Path,
    *,
    batch_size: int = 250_000,
    progress: ProgressCallback | None = None,
) -> Records:
    """Parse a ``models.parquet`` in the hub-stats schema into records."""
    path = Path(path)
    report = IngestReport(source=SOURCE, label=str(path))
    try:
        pf = pq.ParquetFile(path)
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
    columns = [c for c in COLUMNS if c in present]

    node_parts: list[pa.Table] = []
    link_parts: list[pa.Table] = []
    row_offset = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            nodes, links = _parse_batch(batch, row_offset, report)
            node_parts.append(nodes)
            link_parts.append(links)
            row_offset += batch.num_rows
            if progress:
                progress(batch.num_rows)
    except pa.ArrowException as exc:
        raise SourceError(
            f"{path} is damaged after row {row_offset} ({exc}); nothing was stored. "
            "Download the dump again"
        ) from exc
    report.rows_read = row_offset

    nodes = pa.concat_tables(node_parts) if node_parts else _empty_rows()
    links = pa.concat_tables(link_parts) if link_parts else _empty_row_links()
    nodes, links = _drop_duplicates(nodes, links, report)
    taken_at = _dump_date(nodes)
    report.nodes = nodes.num_rows
    report.links = links.num_rows
    return Records(
        source=SOURCE,
        label=str(path),
        taken_at=taken_at,
        nodes=nodes.drop_columns(["row"]).cast(NODE_SCHEMA),
        links=links.drop_columns(["row"]).cast(LINK_SCHEMA),
        report=report,
    )


def _empty_rows() -> pa.Table:
    return NODE_SCHEMA.append(pa.field("row", pa.int64())).empty_table()


def _empty_row_links() -> pa.Table:
    return LINK_SCHEMA.append(pa.field("row", pa.int64())).empty_table()


def _column(batch: pa.RecordBatch, name: str, type_: pa.DataType) -> pa.Array:
    """A column cast to the type we store, or nulls when the dump lacks it or has another type."""
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, type_)
    col = batch.column(name)
    if col.type == type_:
        return col
    try:
        return pc.cast(col, type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(batch.num_rows, type_)


def _first_tag_value(tags: pa.Array, prefix: str, n: int) -> pa.Array:
    """For each row, the value of the first tag ``prefix<value>`` (e.g. ``license:``), or null."""
    flat = pc.list_flatten(tags)
    parents = pc.list_parent_indices(tags)
    mask = pc.starts_with(flat, prefix)
    values = pc.utf8_slice_codeunits(pc.filter(flat, mask), len(prefix))
    rows = pc.filter(parents, mask).to_numpy(zero_copy_only=False)
    out = np.full(n, -1, dtype=np.int64)
    # Assign in reverse so the first tag of each row wins.
    order = np.arange(len(rows))[::-1]
    out[rows[order]] = order
    taken = pc.take(values, pa.array(np.where(out >= 0, out, 0)))
    return pc.if_else(pa.array(out >= 0), taken, pa.nulls(n, pa.string()))


def _parse_batch(
    batch: pa.RecordBatch, row_offset: int, report: IngestReport
) -> tuple[pa.Table, pa.Table]:
    n = batch.num_rows
    raw_ids = batch.column("id").to_pylist()
    ids: list[str | None] = [clean_id(v) for v in raw_ids]
    valid = np.fromiter((i is not None for i in ids), dtype=bool, count=n)
    bad = int(n - valid.sum())
    if bad:
        empty = sum(1 for v in raw_ids if v is None or (isinstance(v, str) and not v.strip()))
        report.skip("rows with an empty id", empty)
        report.skip("rows with an unusable id (control characters or over-long)", bad - empty)
    id_arr = pa.array(ids, pa.string())
    keys = pc.utf8_lower(id_arr)

    tags = _column(batch, "tags", pa.list_(pa.string()))
    card = _column(batch, "cardData", pa.string())
    author = _column(batch, "author", pa.string())
    author = pc.if_else(
        pc.is_null(author), pa.array([author_of(i) if i else None for i in ids]), author
    )
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

    rows = pa.array(np.arange(row_offset, row_offset + n, dtype=np.int64))
    kind = pa.array(np.full(n, NodeKind.MODEL.value, dtype=object), pa.string())

    # --- model cards: parse only those that can say something about lineage ---------------
    cards: dict[int, dict[str, Any]] = {}
    if card.null_count < n:
        interesting = pc.or_(
            pc.match_substring(card, '"base_model'), pc.match_substring(card, '"datasets"')
        )
        interesting = pc.and_(pc.fill_null(interesting, False), pa.array(valid))
        idx = np.flatnonzero(interesting.to_numpy(zero_copy_only=False))
        if len(idx):
            texts = pc.take(card, pa.array(idx)).to_pylist()
            broken = 0
            for i, text in zip(idx.tolist(), texts, strict=True):
                try:
                    value = json.loads(text)
                except (ValueError, RecursionError):
                    broken += 1
                    continue
                if isinstance(value, dict):
                    cards[i] = value
                else:
                    broken += 1
            report.note("model cards whose JSON is broken (row kept, card ignored)", broken)
        card_license = [None] * n
        for i, value in cards.items():
            lic = value.get("license")
            if isinstance(lic, str):
                card_license[i] = lic
        license_ = pc.coalesce(license_, pa.array(card_license, pa.string()))

    extra = pa.nulls(n, pa.string())
    nodes = pa.table(
        {
            "kind": kind,
            "key": keys,
            "id": id_arr,
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
            "row": rows,
        }
    ).filter(pa.array(valid))

    links = _links(batch, ids, valid, tags, cards, row_offset, report)
    return nodes, links


def _declared_relation(card: dict[str, Any] | None) -> Relation | None:
    if not card:
        return None
    value = card.get("base_model_relation")
    return normalise_relation(value) if isinstance(value, str) else None


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


def _links(
    batch: pa.RecordBatch,
    ids: list[str | None],
    valid: np.ndarray,
    tags: pa.Array,
    cards: dict[int, dict[str, Any]],
    row_offset: int,
    report: IngestReport,
) -> pa.Table:
    n = batch.num_rows
    child_rows: list[int] = []
    parent_ids: list[str] = []
    relations: list[str] = []
    declared: list[bool] = []
    evidence: list[str] = []
    parent_kind: list[str] = []
    has_parent = np.zeros(n, dtype=bool)

    def add(row: int, pid: str, rel: Relation, decl: bool, ev: str, kind: NodeKind) -> None:
        child_rows.append(row)
        parent_ids.append(pid)
        relations.append(rel.value)
        declared.append(decl)
        evidence.append(ev)
        parent_kind.append(kind.value)

    unknown_rel = 0
    junk_parent = 0
    # 1. baseModels, the Hub's own typed list.
    if "baseModels" in batch.schema.names and pa.types.is_struct(batch.column("baseModels").type):
        bm = batch.column("baseModels")
        rel_col = pc.struct_field(bm, "relation").to_pylist()
        models = pc.struct_field(bm, "models")
        flat = pc.list_flatten(models)
        owners = pc.list_parent_indices(models).to_numpy(zero_copy_only=False)
        pids = pc.struct_field(flat, "id").to_pylist()
        for row, pid in zip(owners.tolist(), pids, strict=True):
            if not valid[row]:
                continue
            cleaned = clean_id(pid)
            if cleaned is None:
                junk_parent += 1
                continue
            raw_rel = rel_col[row]
            rel = normalise_relation(raw_rel)
            if rel is None or rel in (Relation.TRAINED_ON, Relation.PUBLISHED_BY):
                unknown_rel += 1
                rel = Relation.UNSPECIFIED
            card_rel = _declared_relation(cards.get(row))
            add(row, cleaned, rel, card_rel == rel, "baseModels", NodeKind.MODEL)
            has_parent[row] = True

    # 2. base_model tags, for rows the Hub gave no typed list for.
    flat_tags = pc.list_flatten(tags)
    tag_rows = pc.list_parent_indices(tags)
    is_bm = pc.fill_null(pc.starts_with(flat_tags, "base_model:"), False)
    bm_rows = pc.filter(tag_rows, is_bm).to_numpy(zero_copy_only=False)
    need = ~has_parent[bm_rows] & valid[bm_rows] if len(bm_rows) else np.zeros(0, bool)
    if need.any():
        sel = np.flatnonzero(need)
        values = pc.take(pc.filter(flat_tags, is_bm), pa.array(sel)).to_pylist()
        per_row: dict[int, dict[str, Relation | None]] = {}
        for row, tag in zip(bm_rows[sel].tolist(), values, strict=True):
            m = _TAG_PARENT.match(tag)
            if not m:
                continue
            rel_name, pid = m.group(1), clean_id(m.group(2))
            if pid is None:
                junk_parent += 1
                continue
            entry = per_row.setdefault(row, {})
            if rel_name is None:
                entry.setdefault(pid, None)
            else:
                rel = normalise_relation(rel_name)
                if rel is None:
                    unknown_rel += 1
                    rel = Relation.UNSPECIFIED
                entry[pid] = rel
        for row, parents in per_row.items():
            card_rel = _declared_relation(cards.get(row))
            for pid, rel in parents.items():
                final = rel or card_rel or Relation.UNSPECIFIED
                add(row, pid, final, card_rel == final, "tags", NodeKind.MODEL)
            has_parent[row] = True

    # 3. cardData.base_model, the publisher's own words, when nothing else named a parent.
    for row, card in cards.items():
        if has_parent[row] or "base_model" not in card:
            continue
        pids, junk = _as_id_list(card.get("base_model"))
        junk_parent += junk
        card_rel = _declared_relation(card)
        raw = card.get("base_model_relation")
        if raw is not None and card_rel is None:
            unknown_rel += 1
        for pid in pids:
            rel = card_rel or (Relation.MERGE if len(pids) > 1 else Relation.UNSPECIFIED)
            add(row, pid, rel, card_rel is not None, "cardData.base_model", NodeKind.MODEL)

    # Training data sets: dataset: tags and cardData.datasets, deduplicated per model.
    is_ds = pc.fill_null(pc.starts_with(flat_tags, "dataset:"), False)
    ds_rows = pc.filter(tag_rows, is_ds).to_numpy(zero_copy_only=False)
    seen: set[tuple[int, str]] = set()
    if len(ds_rows):
        ds_vals = pc.utf8_slice_codeunits(pc.filter(flat_tags, is_ds), len("dataset:")).to_pylist()
        for row, ds in zip(ds_rows.tolist(), ds_vals, strict=True):
            cleaned = clean_id(ds)
            if not valid[row] or cleaned is None or (row, cleaned.lower()) in seen:
                continue
            seen.add((row, cleaned.lower()))
            add(row, cleaned, Relation.TRAINED_ON, True, "tags", NodeKind.DATASET)
    for row, card in cards.items():
        if "datasets" not in card:
            continue
        dss, junk = _as_id_list(card.get("datasets"))
        report.note("dataset names in model cards that are not strings", junk)
        for ds in dss:
            if (row, ds.lower()) in seen:
                continue
            seen.add((row, ds.lower()))
            add(row, ds, Relation.TRAINED_ON, True, "cardData.datasets", NodeKind.DATASET)

    report.note("links with an unknown relation (kept as 'unspecified')", unknown_rel)
    report.skip("parent or data set names that are not usable ids", junk_parent)

    rows_np = np.asarray(child_rows, dtype=np.int64)
    child_ids = [ids[r] for r in child_rows]
    links = pa.table(
        {
            "child_kind": pa.array([NodeKind.MODEL.value] * len(child_rows), pa.string()),
            "child_key": pc.utf8_lower(pa.array(child_ids, pa.string())),
            "child_id": pa.array(child_ids, pa.string()),
            "parent_kind": pa.array(parent_kind, pa.string()),
            "parent_key": pc.utf8_lower(pa.array(parent_ids, pa.string())),
            "parent_id": pa.array(parent_ids, pa.string()),
            "relation": pa.array(relations, pa.string()),
            "declared": pa.array(declared, pa.bool_()),
            "evidence": pa.array(evidence, pa.string()),
            "row": pa.array(rows_np + row_offset),
        }
    )
    return drop_self_loops(links, report)


def drop_self_loops(links: pa.Table, report: IngestReport) -> pa.Table:
    """A model cannot derive from itself; such links are counted and left out."""
    if not links.num_rows:
        return links
    loop = pc.and_(
        pc.equal(links["child_key"], links["parent_key"]),
        pc.equal(links["child_kind"], links["parent_kind"]),
    )
    count = pc.sum(pc.cast(loop, pa.int64())).as_py() or 0
    report.skip("self-loops (a model naming itself as its parent)", count)
    return links.filter(pc.invert(loop)) if count else links


def _drop_duplicates(
    nodes: pa.Table, links: pa.Table, report: IngestReport
) -> tuple[pa.Table, pa.Table]:
    """Keep one row per id (case-insensitive): the most recently modified, then the last seen."""
    if not nodes.num_rows:
        return nodes, links
    keys = nodes["key"].combine_chunks()
    if pc.count_distinct(keys).as_py() == nodes.num_rows:
        return nodes, links
    ordered = nodes.sort_by(
        [("key", "ascending"), ("last_modified", "descending"), ("row", "descending")]
    )
    k = ordered["key"].combine_chunks()
    first = np.ones(len(k), dtype=bool)
    if len(k) > 1:
        first[1:] = pc.not_equal(k.slice(1), k.slice(0, len(k) - 1)).to_numpy(zero_copy_only=False)
    kept = ordered.filter(pa.array(first))
    report.skip(
        "duplicate rows for the same id (kept the most recently modified)", len(k) - len(kept)
    )
    kept_rows = kept["row"].combine_chunks()
    links = links.filter(pc.is_in(links["row"], value_set=kept_rows))
    return kept.sort_by("row"), links


def _dump_date(nodes: pa.Table) -> datetime | None:
    """The dump carries no date of its own; its newest modification time is the best proxy."""
    if not nodes.num_rows:
        return None
    latest = pc.max(nodes["last_modified"]).as_py()
    created = pc.max(nodes["created_at"]).as_py()
    dates = [d for d in (latest, created) if d is not None]
    return max(dates) if dates else None
