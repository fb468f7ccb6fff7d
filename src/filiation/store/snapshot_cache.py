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

A delta needs only the rows about the ids it touches; finding them in the compressed copy
of a 3.1-million-row dump meant decompressing all of it (1.6 s of CPU for every small
ingest). So beside a big copy are kept the same rows uncompressed (``.rows``, an Arrow IPC
file read through a memory map) and a by-key index of them (``.keys``: a hash of each row's
key, or of each link end, sorted, with the row numbers), written once the ingest that made
the copy is published, or by the first delta that reads an older copy. A delta hashes its
keys, finds the rows by binary search and takes those rows alone, in time proportional to
the change (0.06 s for a 1,000-link edge list at 3.1 M models). A copy without them (older
copies, a full disk) is read as before.

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
    import numpy as np
    import pyarrow as pa

    from .store import SnapshotInfo

FOLDER = "snapshots"
#: The first bytes of a copy (a copy of another format, or none, is not used).
MAGIC = b"filiation-parts-1\n"
#: Files kept for each copy (``prune`` deletes any other): the copy and its keyed rows.
SUFFIXES = (".parts", ".rows", ".keys")
#: The by-key files are written only while the disk keeps this many times their size free.
KEYED_ROOM = 4
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
    them: found through the by-key files when they exist, else filtered batch by batch from
    the copy (a delta reads what it needs of a 3-million-row dump without holding the dump
    in memory) while the by-key files are written for the next time."""
    import pyarrow as pa  # loaded when an index is built or a delta applied, not by questions

    from filiation.sources.records import LINK_SCHEMA, NODE_SCHEMA

    paths = _paths(folder, snap)
    if paths is None or not all(p.exists() for p in paths):
        return None
    try:
        tables = []
        for path, ends, schema in zip(paths, _ENDS, (NODE_SCHEMA, LINK_SCHEMA), strict=True):
            table = None
            if keys is not None:
                with contextlib.suppress(OSError, ValueError, pa.ArrowException):
                    table = _keyed(path, ends, keys)  # damaged by-key files: the copy
            if table is None:
                table = _filtered(path, ends, keys, schema)
            tables.append(table.select(schema.names).cast(schema))
        return tables[0], tables[1]
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None  # damaged, foreign or deleted meanwhile: the store has the rows


#: The key columns of the node rows and of the link rows.
_ENDS = (("key",), ("child_key", "parent_key"))


def _filtered(
    path: Path, ends: tuple[str, ...], keys: pa.Array | None, schema: pa.Schema
) -> pa.Table:
    """The copy's rows (about ``keys`` if given: then a big copy's by-key files are written
    on the way, for the next time)."""
    import pyarrow as pa

    big = keys is not None and path.stat().st_size >= KEYED_MIN_BYTES
    batches = _scan(path, ends, keys, keep=True, index=big)
    return pa.Table.from_batches(batches) if batches else schema.empty_table()


def _scan(
    path: Path, ends: tuple[str, ...], keys: pa.Array | None, *, keep: bool, index: bool
) -> list[pa.RecordBatch]:
    """Read a copy batch by batch: the batches (about ``keys``) if ``keep``, and its by-key
    files written if ``index``."""
    import pyarrow as pa

    keyed = _KeyedWriter(path.parent, ends) if index else None
    batches = []
    try:
        with pa.memory_map(str(path)) as source:
            for batch in _batches(source):
                if keyed is not None:
                    keyed.add(batch)
                if keep:
                    batches.append(batch if keys is None else _about(batch, ends, keys))
        if keyed is not None:
            keyed.publish(path)
    finally:
        if keyed is not None:
            keyed.discard()
    return batches


def index_keys(folder: Path, snap: SnapshotInfo) -> None:
    """Write the by-key files of a snapshot's copy if it is big and has none: called once a
    full ingest is published (nothing waits for it then), so that the first delta over a new
    dump is as quick as the next ones. A copy that cannot be read or indexed is left as is:
    the next delta reads it whole."""
    import pyarrow as pa

    paths = _paths(folder, snap)
    if paths is None:
        return
    for path, ends in zip(paths, _ENDS, strict=True):
        with contextlib.suppress(OSError, ValueError, pa.ArrowException):
            if path.stat().st_size >= KEYED_MIN_BYTES and not _keyed_paths(path)[1].exists():
                _scan(path, ends, None, keep=False, index=True)


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


def _keyed_paths(path: Path) -> tuple[Path, Path]:
    stem = path.name.removesuffix(".parts")
    return path.with_name(f"{stem}.rows"), path.with_name(f"{stem}.keys")


#: Odd 64-bit multipliers mixing the words of a key (arithmetic wraps at 2**64).
_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xFF51AFD7ED558CCD)


def _hashes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each key from its length and three 8-byte windows (its start, its
    middle, its end), in a few array operations: four times cheaper than the index's exact
    id hash over every byte (``lineage/arrays.py:hash_ids``), which a bucket key does not
    need: keys that share a hash are told apart by comparing them (:func:`_about`)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = pc.fill_null(pc.cast(values, pa.large_string()), "")
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int64)[values.offset : values.offset + n + 1]
    data = values.buffers()[2]
    blob = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    blob = np.concatenate([blob[offsets[0] : offsets[-1]], np.zeros(8, np.uint8)])
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    length = (ends - starts).astype(np.uint64)
    step = np.arange(8)
    out = length * np.uint64(_MIX[3])
    with np.errstate(over="ignore"):
        for k, first in enumerate(
            (starts, np.maximum(starts, ends - 8), np.maximum(starts, (starts + ends) // 2 - 4))
        ):
            at = first[:, None] + step
            window = np.where(at < ends[:, None], blob[at], 0).astype(np.uint8)
            word = window.view(np.uint64).reshape(n)
            out = (out ^ word) * np.uint64(_MIX[k])
            out ^= out >> np.uint64(29)
    return out


def _keyed(path: Path, ends: tuple[str, ...], keys: pa.Array) -> pa.Table | None:
    """The rows about ``keys`` through the copy's by-key files, or None without them."""
    import numpy as np
    import pyarrow as pa

    from filiation.lineage.arrays import spans

    rows_path, keys_path = _keyed_paths(path)
    if not keys_path.exists():
        return None
    index = np.load(keys_path, mmap_mode="r")
    with pa.memory_map(str(rows_path)) as source:
        reader = pa.ipc.open_file(source)
        sizes = np.array([reader.get_batch(i).num_rows for i in range(reader.num_record_batches)])
        if index.ndim != 2 or index.shape != (2, int(sizes.sum()) * len(ends)):
            raise ValueError("by-key files of another copy")
        wanted = np.unique(_hashes(keys))
        lo = np.searchsorted(index[0], wanted, side="left")
        hi = np.searchsorted(index[0], wanted, side="right")
        rows = np.unique(np.asarray(index[1])[spans(lo, hi - lo)]).astype(np.int64)
        # Taken batch by batch: a take over the whole table would join its batches first.
        first = np.concatenate([[0], np.cumsum(sizes)])
        which = np.searchsorted(first, rows, side="right") - 1
        taken = [
            reader.get_batch(int(b)).take(pa.array(rows[which == b] - first[b]))
            for b in np.unique(which)
        ]
        table = pa.Table.from_batches(taken, reader.schema)
    # The same hash is the same key but for rare collisions: the keys are compared too.
    return _about(table, ends, keys)


#: Copies smaller than this (about 250,000 rows) get no by-key files: decompressing them
#: costs less than writing the files, which a delta over them would do each time.
KEYED_MIN_BYTES = 16 << 20


class _KeyedWriter:
    """Writes a copy's by-key files as its batches are read: the rows uncompressed, and
    their keys' hashes sorted with the row numbers. Temporary names until :meth:`publish`
    names them after the copy (rows first: a reader starts from the keys file); a full or
    read-only disk just leaves the copy without them.

    Written from the copy once a full ingest is published (:func:`index_keys`), not while
    it runs: at 3.1 M models they are 840 MB more to write, which the store's commit would
    wait for; and by the first delta over a copy that has none (an older one)."""

    def __init__(self, folder: Path, ends: tuple[str, ...]) -> None:
        self.ends = ends
        # ``staged-<pid>-...``: prune() deletes them at once if this process dies
        self.tmp = [folder / f"staged-{os.getpid()}-{id(self)}.{n}.tmp" for n in ("rows", "keys")]
        self._room = shutil.disk_usage(folder).free // KEYED_ROOM
        self._out: pa.ipc.RecordBatchFileWriter | None = None
        self._sink: pa.NativeFile | None = None
        self._hashes: list[tuple[np.ndarray, int]] = []  # an end's hashes, its first row
        self._rows = 0
        self._size = 0
        self._failed = False

    def add(self, batch: pa.RecordBatch) -> None:
        import pyarrow as pa

        if self._failed:
            return
        self._size += batch.nbytes
        try:
            if self._size > self._room:
                raise OSError("the disk is nearly full")
            if self._out is None:
                self._sink = pa.OSFile(str(self.tmp[0]), "wb")
                self._out = pa.ipc.new_file(self._sink, batch.schema)
            self._out.write_batch(batch)
        except (OSError, pa.ArrowException):
            self._failed = True
            return
        self._hashes.extend((_hashes(batch.column(name)), self._rows) for name in self.ends)
        self._rows += batch.num_rows

    def publish(self, copy: Path) -> bool:
        """Write the keys file and name both after ``copy`` (its ``.parts`` file); False
        when they could not be written."""
        import numpy as np
        import pyarrow as pa

        if self._failed or self._out is None:
            return False
        try:
            self._out.close()
            self._sink.close()  # type: ignore[union-attr]
            entries = np.empty((2, sum(len(h) for h, _ in self._hashes)), np.uint64)
            pos = 0
            for hashes, first in self._hashes:  # each end of each batch
                entries[0, pos : pos + len(hashes)] = hashes
                entries[1, pos : pos + len(hashes)] = np.arange(first, first + len(hashes))
                pos += len(hashes)
            self._hashes = []
            entries = entries[:, np.argsort(entries[0])]
            with open(self.tmp[1], "wb") as out:
                np.save(out, entries)
            for tmp, path in zip(self.tmp, _keyed_paths(copy), strict=True):
                os.replace(tmp, path)
        except (OSError, pa.ArrowException):
            self._failed = True
            return False
        return True

    def discard(self) -> None:
        """Remove what :meth:`publish` did not rename."""
        with contextlib.suppress(Exception):
            if self._sink is not None and not self._sink.closed:
                self._sink.close()
        for tmp in self.tmp:
            with contextlib.suppress(OSError):
                tmp.unlink()


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
            elif name.split(".", 1)[0] not in wanted or not name.endswith(SUFFIXES):
                path.unlink()  # a deleted snapshot's copy, or one of an older format
