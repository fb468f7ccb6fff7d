"""Committed snapshots kept beside the lineage index as Arrow files.

Rebuilding the index needs every current snapshot's rows. After a small ingest (``refresh``
of one family, an edge list, a scan) beside a full Hub dump, reading the dump's 3.1 million
node rows and 1.2 million link rows back from SQLite takes about 25 s; the same rows from a
zstd-compressed Arrow IPC file take under a second. So an ingest leaves a copy of the
snapshot it committed in ``<index cache>/snapshots/``, and a snapshot read back from the
store is copied there too.

It is a cache, with a cache's rules: a snapshot never changes once committed, so a copy is
valid for as long as the snapshot exists; files are keyed by the snapshot's id *and* start
time (SQLite may give a deleted snapshot's id to a new one); they are written to a temporary
name then renamed, so a reader never sees half a file; a missing, unreadable or damaged file
just means reading the store; copies of snapshots the store no longer holds are deleted; and
the whole folder may be deleted at any time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from .store import SnapshotInfo

FOLDER = "snapshots"
#: Batches of this many rows: big enough for zstd, small enough to bound the writer's memory.
BATCH_ROWS = 65_536
#: A copy is written only when the disk has this many times the rows' size in memory free
#: (the compressed copy takes about a third of it): the store, on the same disk beside a
#: SQLite file, must never run out of room for the sake of its cache.
ROOM = 4


def _key(snap: SnapshotInfo) -> str | None:
    if snap.started_at is None:
        return None
    return f"{snap.id}-{int(snap.started_at.timestamp() * 1_000_000)}"


def _paths(folder: Path, snap: SnapshotInfo) -> tuple[Path, Path] | None:
    key = _key(snap)
    if key is None:
        return None
    base = folder / FOLDER
    return base / f"{key}.nodes.arrow", base / f"{key}.links.arrow"


def read(
    folder: Path, snap: SnapshotInfo, keys: pa.Array | None = None
) -> tuple[pa.Table, pa.Table] | None:
    """The snapshot's (nodes, links) from the cache, or None when it holds no usable copy.

    With ``keys``, only the node rows with one of these keys and the links with an end among
    them, filtered batch by batch: a delta reads what it needs of a 3-million-row dump
    without holding the dump in memory."""
    import pyarrow as pa  # loaded when an index is built or a delta applied, not by questions

    paths = _paths(folder, snap)
    if paths is None or not all(p.exists() for p in paths):
        return None
    try:
        tables = []
        for path, ends in zip(paths, (("key",), ("child_key", "parent_key")), strict=True):
            with pa.memory_map(str(path)) as source:
                reader = pa.ipc.open_file(source)
                if keys is None:
                    tables.append(reader.read_all())
                    continue
                batches = [
                    _about(reader.get_batch(i), ends, keys)
                    for i in range(reader.num_record_batches)
                ]
                tables.append(pa.Table.from_batches(batches, schema=reader.schema))
        return tables[0], tables[1]
    except (OSError, pa.ArrowException):
        return None  # damaged or deleted meanwhile: the store has the rows


def _about(batch: pa.RecordBatch, ends: tuple[str, ...], keys: pa.Array) -> pa.RecordBatch:
    """The rows of ``batch`` whose ``ends`` columns hold one of ``keys``."""
    import pyarrow.compute as pc

    mask = pc.is_in(batch.column(ends[0]), value_set=keys)
    for name in ends[1:]:
        mask = pc.or_(mask, pc.is_in(batch.column(name), value_set=keys))
    return batch.filter(mask)


class Staged:
    """A copy written before its snapshot is committed (an ingest frees its rows while it
    indexes them, before the commit gives the snapshot its id): :meth:`publish` names it
    after the committed snapshot, :meth:`discard` drops it."""

    def __init__(self, folder: Path, files: list[Path]) -> None:
        self.folder = folder
        self.files = files

    def publish(self, snap: SnapshotInfo) -> bool:
        paths = _paths(self.folder, snap)
        if paths is None:
            self.discard()
            return False
        try:
            # The links file is renamed last: a reader needs both files.
            for tmp, path in zip(self.files, paths, strict=True):
                os.replace(tmp, path)
        except OSError:
            self.discard()
            return False
        return True

    def discard(self) -> None:
        for tmp in self.files:
            with contextlib.suppress(OSError):
                tmp.unlink()


def stage(folder: Path, nodes: pa.Table, links: pa.Table) -> Staged | None:
    """Write a copy of a snapshot about to be committed; None when it cannot be written (a
    read-only or full disk: the store stays the only copy, which is all that is needed)."""
    import pyarrow as pa

    base = folder / FOLDER
    files: list[Path] = []
    try:
        base.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(base).free < ROOM * (nodes.nbytes + links.nbytes):
            return None  # the store needs the room more than its cache does
        for name, table in (("nodes", nodes), ("links", links)):
            tmp = base / f"staged-{os.getpid()}-{id(table)}.{name}.arrow.tmp"
            files.append(tmp)
            with (
                pa.OSFile(str(tmp), "wb") as sink,
                pa.ipc.new_file(
                    sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")
                ) as out,
            ):
                out.write_table(table, max_chunksize=BATCH_ROWS)
    except (OSError, pa.ArrowException):
        Staged(folder, files).discard()
        return None
    return Staged(folder, files)


def write(folder: Path, snap: SnapshotInfo, nodes: pa.Table, links: pa.Table) -> bool:
    """Keep a copy of a committed snapshot (read back from the store); False when it could
    not be written."""
    staged = stage(folder, nodes, links)
    return staged is not None and staged.publish(snap)


#: Temporary files older than this are left-overs of a process that died while writing.
STALE_SECONDS = 3600


def _writer_alive(name: str) -> bool:
    """Whether the process that named a temporary file ``staged-<pid>-...`` still runs: a
    killed ingest's files (24 MB per kill at 300,000 rows) go at the next ingest instead of
    an hour later. A name without a pid, or a pid we may not signal, counts as alive."""
    pid = name.split("-")[1] if name.startswith("staged-") and name.count("-") >= 2 else ""
    if not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or signals not supported
        return True
    return True


def prune(folder: Path, keep: list[SnapshotInfo]) -> None:
    """Delete the copies of snapshots other than ``keep`` (the store's), and temporary files
    left by a process that died while writing one."""
    base = folder / FOLDER
    if not base.is_dir():
        return
    wanted = {k for k in (_key(s) for s in keep) if k}
    now = time.time()
    for path in base.iterdir():
        name = path.name
        with contextlib.suppress(OSError):
            if name.endswith(".tmp"):
                if not _writer_alive(name) or now - path.stat().st_mtime > STALE_SECONDS:
                    path.unlink()
            elif name.split(".", 1)[0] not in wanted:
                path.unlink()
