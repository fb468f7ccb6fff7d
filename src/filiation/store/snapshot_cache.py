"""Committed snapshots kept beside the lineage index as files of their stored parts.

Rebuilding the index needs every current snapshot's rows. After a small ingest (``refresh``
of one family, an edge list, a scan) beside a full Hub dump, reading the dump's 3.1 million
node rows and 1.2 million link rows back from SQLite took about 25 s; the same rows from a
local file of zstd-compressed Arrow parts take under a second. So an ingest leaves a copy of
the snapshot it committed in ``<index cache>/snapshots/``, and a snapshot read back from the
store is copied there too.

A copy holds the very parts the store holds (``store/transaction.py``: Arrow IPC streams,
zstd-compressed), each preceded by its size, after a magic header: an ingest encodes each
part once and hands the same bytes to the store and to the copy, as it goes.

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
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from .store import SnapshotInfo

FOLDER = "snapshots"
#: The first bytes of a copy (a copy of another format, or none, is not used).
MAGIC = b"filiation-parts-1\n"
_SIZE = struct.Struct("<Q")
#: A copy is written only while the disk keeps this many times its size free (about four
#: times the rows' size in memory): the store, on the same disk beside a SQLite file, must
#: never run out of room for the sake of its cache.
ROOM = 12


def _key(snap: SnapshotInfo) -> str | None:
    if snap.started_at is None:
        return None
    return f"{snap.id}-{int(snap.started_at.timestamp() * 1_000_000)}"


def _paths(folder: Path, snap: SnapshotInfo) -> tuple[Path, Path] | None:
    key = _key(snap)
    if key is None:
        return None
    base = folder / FOLDER
    return base / f"{key}.nodes.parts", base / f"{key}.links.parts"


def read(
    folder: Path, snap: SnapshotInfo, keys: pa.Array | None = None
) -> tuple[pa.Table, pa.Table] | None:
    """The snapshot's (nodes, links) from the cache, or None when it holds no usable copy.

    With ``keys``, only the node rows with one of these keys and the links with an end among
    them, filtered batch by batch: a delta reads what it needs of a 3-million-row dump
    without holding the dump in memory."""
    import pyarrow as pa  # loaded when an index is built or a delta applied, not by questions

    from filiation.sources.records import LINK_SCHEMA, NODE_SCHEMA

    paths = _paths(folder, snap)
    if paths is None or not all(p.exists() for p in paths):
        return None
    try:
        tables = []
        for path, ends, schema in zip(
            paths, (("key",), ("child_key", "parent_key")), (NODE_SCHEMA, LINK_SCHEMA), strict=True
        ):
            with pa.memory_map(str(path)) as source:
                batches = [b if keys is None else _about(b, ends, keys) for b in _batches(source)]
            table = pa.Table.from_batches(batches) if batches else schema.empty_table()
            tables.append(table.select(schema.names).cast(schema))
        return tables[0], tables[1]
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None  # damaged, foreign or deleted meanwhile: the store has the rows


def _batches(source: pa.MemoryMappedFile) -> Iterator[pa.RecordBatch]:
    """The record batches of every part of a copy, checking its framing."""
    import pyarrow as pa

    data = source.read_buffer()
    if data[: len(MAGIC)].to_pybytes() != MAGIC:
        raise ValueError("not a copy of this format")
    pos, end = len(MAGIC), data.size
    while pos < end:
        if pos + _SIZE.size > end:
            raise ValueError("truncated copy")
        (size,) = _SIZE.unpack(data[pos : pos + _SIZE.size].to_pybytes())
        pos += _SIZE.size
        if pos + size > end:
            raise ValueError("truncated copy")
        yield from pa.ipc.open_stream(data.slice(pos, size))
        pos += size


def _about(batch: pa.RecordBatch, ends: tuple[str, ...], keys: pa.Array) -> pa.RecordBatch:
    """The rows of ``batch`` whose ``ends`` columns hold one of ``keys``."""
    import pyarrow.compute as pc

    mask = pc.is_in(batch.column(ends[0]), value_set=keys)
    for name in ends[1:]:
        mask = pc.or_(mask, pc.is_in(batch.column(name), value_set=keys))
    return batch.filter(mask)


class Staged:
    """A copy written as its snapshot is (the parts come as the store gets them, from the
    ingest's encoding thread), before the commit gives the snapshot its id: :meth:`publish`
    names it after the committed snapshot, :meth:`discard` drops it. A copy that cannot be
    written (read-only or full disk) is given up: the store is the only copy needed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        base = folder / FOLDER
        self.files = [base / f"staged-{os.getpid()}-{id(self)}.{n}.parts.tmp" for n in _NAMES]
        self._out: list[IO[bytes]] = []
        self._size = 0
        self._lock = threading.Lock()
        self._done = False  # discarded, given up or published: nothing more is written

    def add(self, rows_of: str, data: bytes) -> None:
        """Append one part of ``rows_of`` (``nodes`` or ``links``)."""
        with self._lock:
            if self._done:
                return
            try:
                if not self._out:
                    self._open()
                self._size += len(data) + _SIZE.size
                if shutil.disk_usage(self.files[0].parent).free < ROOM * self._size:
                    raise OSError("the disk is nearly full: the store needs the room more")
                out = self._out[_NAMES.index(rows_of)]
                out.write(_SIZE.pack(len(data)))
                out.write(data)
            except OSError:
                self._give_up()

    def _open(self) -> None:
        self.files[0].parent.mkdir(parents=True, exist_ok=True)
        for path in self.files:
            out = open(path, "wb")  # noqa: SIM115 - closed by publish() or discard()
            self._out.append(out)
            out.write(MAGIC)

    def _close(self) -> None:
        for out in self._out:
            with contextlib.suppress(OSError):
                out.close()
        self._out = []

    def _give_up(self) -> None:
        self._done = True
        self._close()
        for tmp in self.files:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def publish(self, snap: SnapshotInfo) -> bool:
        with self._lock:
            if self._done:
                return False
            try:
                if not self._out:
                    self._open()  # a snapshot without rows
                for out in self._out:
                    out.close()
                self._out = []
                paths = _paths(self.folder, snap)
                if paths is None:
                    raise OSError("no start time to name the copy after")
                # The links file is renamed last: a reader needs both files.
                for tmp, path in zip(self.files, paths, strict=True):
                    os.replace(tmp, path)
            except OSError:
                self._give_up()
                return False
            self._done = True
            return True

    def discard(self) -> None:
        with self._lock:
            if not self._done:
                self._give_up()


_NAMES = ("nodes", "links")


def write(folder: Path, snap: SnapshotInfo, nodes: pa.Table, links: pa.Table) -> bool:
    """Keep a copy of a committed snapshot (read back from the store); False when it could
    not be written."""
    import pyarrow as pa

    from filiation.store.transaction import encode_parts, stored

    staged = Staged(folder)
    try:
        for rows_of, table in zip(_NAMES, (nodes, links), strict=True):
            for _, part in encode_parts(stored(rows_of, table)):
                staged.add(rows_of, part)
    except pa.ArrowException:
        staged.discard()
        return False
    return staged.publish(snap)


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
            elif name.split(".", 1)[0] not in wanted or not name.endswith(".parts"):
                path.unlink()  # a deleted snapshot's copy, or one of an older format
