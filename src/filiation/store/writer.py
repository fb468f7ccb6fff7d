"""Write one snapshot, all or nothing, while the caller goes on parsing and indexing.

Storing millions of rows is independent of building the lineage index. For large inputs the
rows are therefore encoded (zstd Arrow parts) by a thread of the caller, whose work runs
beside the parsing and the index build (Arrow releases the GIL), and stored by a separate
process fed the encoded parts through a pipe; small inputs are written in-process. Each part
is encoded once, for the store and for the snapshot's copy beside the index. In both cases
the snapshot is one transaction, committed only when :meth:`commit` is called: if the caller
dies, the writer sees the pipe close and rolls back.
"""

from __future__ import annotations

import contextlib
import json
import queue
import struct
import subprocess
import sys
import threading
import traceback
from datetime import datetime
from typing import Any

import pyarrow as pa

from filiation.errors import StoreError
from filiation.store.transaction import PartCopy, encode_parts, rows_with_extra, stored

#: Inputs with at least this many rows are written by a separate process.
PROCESS_THRESHOLD = 200_000

_ARGS = b"A"
_NODES = b"N"  # caller side only: a table of nodes to encode
_LINKS = b"L"  # caller side only: a table of links to encode
_PART = b"P"  # one encoded part: rows_of (N or L), its row count (8 bytes), its bytes
_ROWS = b"R"  # node rows with an ``extra`` field, as an Arrow IPC stream
_COMMIT = b"C"


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


class SnapshotWriter:
    """Stores a snapshot's nodes and links; nothing is visible before :meth:`commit`."""

    def __init__(
        self,
        store: Any,
        source: str,
        label: str,
        taken_at: datetime | None,
        copy: PartCopy | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.label = label
        self.taken_at = taken_at
        self.copy = copy  # given every part written (the snapshot's copy beside the index)
        self._open()

    def _open(self) -> None:
        """Start the snapshot's transaction."""
        raise NotImplementedError

    def write(self, nodes: pa.Table | None = None, links: pa.Table | None = None) -> None:
        raise NotImplementedError

    def commit(self, report: dict[str, Any]) -> int:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()


class InProcessWriter(SnapshotWriter):
    def _open(self) -> None:
        self._tx = self.store.begin_snapshot(self.source, self.label, self.taken_at)

    def write(self, nodes: pa.Table | None = None, links: pa.Table | None = None) -> None:
        self._tx.write(nodes, links, self.copy)

    def commit(self, report: dict[str, Any]) -> int:
        return self._tx.commit(report)

    def abort(self) -> None:
        self._tx.rollback()


class ProcessWriter(SnapshotWriter):
    """A child process owns the transaction; a sender thread encodes the parts, so that the
    caller never waits.

    The child is a plain ``python -m filiation.store.writer`` fed framed messages on its
    standard input (not multiprocessing, which would re-run the caller's script): first its
    arguments as JSON, then encoded parts (and node rows with an ``extra`` field as Arrow IPC
    tables), then the commit.
    """

    def _open(self) -> None:
        taken_at = self.taken_at
        # The arguments (the store's URL may hold a password) go through the pipe, not the
        # command line, which every user of the machine can read.
        args = json.dumps(
            {
                "url": self.store.url,
                "source": self.source,
                "label": self.label,
                "taken_at": taken_at.isoformat() if taken_at else None,
            }
        ).encode()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "filiation.store.writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Tables, not bytes: the caller keeps the tables anyway, so a writer that lags behind
        # costs no memory; each is encoded only when the pipe is ready for it.
        self._queue: queue.Queue[tuple[bytes, pa.Table | bytes] | None] = queue.Queue()
        self._queue.put((_ARGS, args))
        self._sender = threading.Thread(target=self._send, name="filiation-sender", daemon=True)
        self._sender.start()

    def _send(self) -> None:
        assert self._proc.stdin is not None
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                tag, payload = item
                if isinstance(payload, bytes):
                    self._frame(tag, payload)
                    continue
                rows_of = "nodes" if tag == _NODES else "links"
                table = stored(rows_of, payload)
                del payload, item
                # zstd runs without the GIL: this overlaps the caller's parsing and indexing.
                for rows, part in encode_parts(table):
                    if self.copy is not None:
                        self.copy(rows_of, part)
                    self._frame(_PART, tag + struct.pack("<Q", rows) + part)
                    del part
                if tag == _NODES:
                    extra = rows_with_extra(table)
                    if extra.num_rows:
                        self._frame(_ROWS, _ipc(extra))
                del table
        except (OSError, ValueError, pa.ArrowException):
            pass  # the writer died (commit() reports why), or a part could not be encoded
        finally:
            # The writer commits only on the commit frame: a closed pipe before it means
            # roll back, whatever stopped this thread.
            with contextlib.suppress(OSError):
                self._proc.stdin.close()

    def _frame(self, tag: bytes, body: bytes) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(tag + struct.pack("<Q", len(body)))
        self._proc.stdin.write(body)

    def write(self, nodes: pa.Table | None = None, links: pa.Table | None = None) -> None:
        if nodes is not None and nodes.num_rows:
            self._queue.put((_NODES, nodes))
        if links is not None and links.num_rows:
            self._queue.put((_LINKS, links))

    def commit(self, report: dict[str, Any]) -> int:
        self._queue.put((_COMMIT, json.dumps(report).encode()))
        self._queue.put(None)
        self._sender.join()
        assert self._proc.stdout is not None and self._proc.stderr is not None
        out = self._proc.stdout.read()  # the child writes one line, then exits
        errors = self._proc.stderr.read()
        self._proc.wait()
        try:
            answer = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            detail = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise StoreError(
                f"the snapshot writer stopped unexpectedly (exit code {self._proc.returncode}: "
                f"{detail[0]}); nothing was stored"
            ) from None
        if "error" in answer:
            raise StoreError(answer["error"])
        return int(answer["ok"])

    def abort(self) -> None:
        self._queue.put(None)
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(10)


def open_writer(
    store: Any,
    source: str,
    label: str,
    taken_at: datetime | None,
    rows: int,
    copy: PartCopy | None = None,
) -> SnapshotWriter:
    cls = ProcessWriter if rows >= PROCESS_THRESHOLD else InProcessWriter
    return cls(store, source, label, taken_at, copy)


def _read_exact(stream: Any, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _read_frame(stream: Any) -> tuple[bytes, bytes] | None:
    head = _read_exact(stream, 9)
    body = _read_exact(stream, struct.unpack("<Q", head[1:])[0]) if head else None
    if head is None or body is None:
        return None
    return head[:1], body


def _child_main() -> int:
    from filiation.store.store import Store

    out = sys.stdout
    stream = sys.stdin.buffer
    frame = _read_frame(stream)
    if frame is None or frame[0] != _ARGS:
        return 3  # the caller is gone before it said what to write
    args = json.loads(frame[1])
    taken_at = datetime.fromisoformat(args["taken_at"]) if args["taken_at"] else None
    try:
        store = Store(args["url"])  # (a snapshot's connection keeps a small page cache)
        tx = store.begin_snapshot(args["source"], args["label"], taken_at)
    except Exception as exc:
        out.write(json.dumps({"error": str(exc)}) + "\n")
        return 1
    try:
        while True:
            frame = _read_frame(stream)
            if frame is None:
                tx.rollback()  # the caller is gone: keep nothing
                return 3
            tag, body = frame
            if tag == _PART:
                rows_of = "nodes" if body[:1] == _NODES else "links"
                tx.write_part(rows_of, struct.unpack("<Q", body[1:9])[0], body[9:])
            elif tag == _ROWS:
                tx.write_rows(_from_ipc(body))
            elif tag == _COMMIT:
                snap_id = tx.commit(json.loads(body))
                out.write(json.dumps({"ok": snap_id}) + "\n")
                return 0
    except StoreError as exc:
        tx.rollback()
        out.write(json.dumps({"error": str(exc)}) + "\n")
        return 1
    except Exception:
        tx.rollback()
        out.write(
            json.dumps({"error": "the snapshot writer failed: " + traceback.format_exc()}) + "\n"
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(_child_main())
