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
One batch is parsed by :mod:`filiation.sources.hub_stats_parse`; its report's reasons and
``drop_self_loops`` stay importable from here too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filiation.errors import SourceError
from filiation.limits import DATETIME_MICROS, MAX_ID_LENGTH
from filiation.sources.hub_columns import clean_id, clean_ids
from filiation.sources.hub_stats_parse import (
    NOTE_BAD_UTF8,
    NOTE_BROKEN_CARD,
    NOTE_JUNK_DATASET,
    NOTE_LONG_CARD,
    NOTE_UNKNOWN_RELATION,
    SKIP_BAD_PARENT,
    SKIP_SELF_LOOP,
    drop_self_loops,
    parse_batch,
)
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

#: Hub ids are short and printable; anything else is not an id we can show or look up safely
#: (the length limit, :data:`filiation.limits.MAX_ID_LENGTH`, is re-exported here).
__all__ = [
    "MAX_ID_LENGTH",
    "NOTE_BAD_UTF8",
    "NOTE_BROKEN_CARD",
    "NOTE_JUNK_DATASET",
    "NOTE_LONG_CARD",
    "NOTE_UNKNOWN_RELATION",
    "SKIP_BAD_PARENT",
    "SKIP_SELF_LOOP",
    "clean_id",
    "drop_self_loops",
]

SKIP_EMPTY_ID = "rows with an empty id"
SKIP_BAD_ID = "rows with an unusable id (control characters, invalid UTF-8 or over-long)"
SKIP_DUPLICATE = "duplicate rows for the same id (kept the most recently modified)"

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


def _latest(stamps: pa.Array) -> datetime | None:
    """The latest of ``stamps`` that a ``datetime`` can hold (others are not a date)."""
    micros = pc.cast(stamps, pa.int64())
    low, high = DATETIME_MICROS
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
                    job = pool.submit(parse_batch, batch, keep, own)
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
