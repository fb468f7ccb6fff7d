"""Parse one record batch of the Hub's dump (``models.parquet``) into nodes and links.

Kept apart from :mod:`filiation.sources.hub_stats`, which opens the dump, decides which rows
to keep and runs this parser on several batches at once (threads): everything here is
column-wise Arrow compute over one batch, plus the model-card JSON of the rows whose card can
add something. The order of trust between the parent sources is described in
:mod:`filiation.sources.hub_stats`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from filiation.domain import NodeKind, Relation, normalise_relation
from filiation.limits import MAX_CARD_LENGTH
from filiation.sources.hub_columns import _column, _first_tag_value, clean_id, clean_ids
from filiation.sources.records import (
    LINK_SCHEMA,
    NODE_SCHEMA,
    IngestReport,
    clean_text_fields,
    valid_utf8,
)

_TAG_PARENT = r"^base_model:(?:(?P<rel>[A-Za-z_\-]+):)?(?P<pid>[^:].*)$"
_CARD_RELATION = r'"base_model_relation"\s*:\s*"(?P<rel>[^"]*)"'
_GGUF_TOTAL = r'"total"\s*:\s*(?P<total>\d+)'

SKIP_SELF_LOOP = "self-loops (a model naming itself as its parent)"
SKIP_BAD_PARENT = "parent or data set names that are not usable ids"
NOTE_BROKEN_CARD = "model cards whose JSON is broken (row kept, card ignored)"
NOTE_UNKNOWN_RELATION = "links with an unknown relation (kept as 'unspecified')"
NOTE_JUNK_DATASET = "dataset names in model cards that are not strings"
NOTE_BAD_UTF8 = "values with invalid UTF-8 (bad bytes replaced by U+FFFD)"
NOTE_LONG_CARD = "model cards over the length limit (row kept, card ignored)"


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


def parse_batch(
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
