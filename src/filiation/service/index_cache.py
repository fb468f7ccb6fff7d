"""The lineage index's lifecycle: loaded from its cache beside the store, or built from the
store's current snapshots under a lock every process of the machine respects; swapped for a
newer one (in the background, for a server) when another process ingests; pinned for the
length of a question so that no answer mixes two indexes.

:class:`IndexCache` knows nothing of the questions asked of the index (``genealogy.py``)
nor of how snapshots are written (``ingest.py``), which publishes what it builds here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filiation.errors import StoreError
from filiation.lineage.arrays import FORMAT_VERSION, READABLE_FORMATS, IndexArrays
from filiation.lineage.index import LineageIndex
from filiation.store import snapshot_cache
from filiation.store.store import SnapshotInfo, Store

if TYPE_CHECKING:
    import pyarrow as pa

    from filiation.lineage.build import SourceTables

log = logging.getLogger("filiation")

Say = Callable[[str], None]

#: The index a question in progress reads (see :meth:`Genealogy.pinned`): a refresh that
#: swaps the genealogy's index never changes it under a request that has started.
_PINNED: ContextVar[tuple[IndexCache, LineageIndex] | None] = ContextVar(
    "filiation_pinned_index", default=None
)


@contextlib.contextmanager
def index_lock(folder: Path) -> Iterator[None]:
    """Held while an index of the store is built or published, by any process of this
    machine: a server worker that sees a new snapshot waits for the ingest that wrote it to
    publish its index instead of building the same index again from the store."""
    import fcntl

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield  # a read-only place: nobody publishes there, there is nothing to coordinate
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def staging_folder(folder: Path) -> Iterator[Path | None]:
    """An empty folder beside the published indexes where a delta writes the arrays of the
    index it makes (``lineage/delta/staging.py``): publishing links them from there. Removed
    on the way out (the published index keeps its links); None in a read-only place."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="delta-", suffix=".tmp", dir=folder))
    except OSError:
        yield None
        return
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def source_priority(source: str, snapshot_id: int) -> tuple[bool, bool, int]:
    """The order in which the index reads sources (the first one gives a node its fields):
    families refreshed live from the Hub API (``hub-api:<id>``, fresher than any dump), then
    the hub-stats dump, then the others, newest first."""
    return (not source.startswith("hub-api:"), source != "hub-stats", -snapshot_id)


class IndexCache:
    """The index of one store: the current one, how it is loaded or built, and its swaps.

    ``fill_empty`` is called when the store holds no snapshot yet (the genealogy fills it
    with the bundled sample, which publishes an index); ``say`` reports long steps.
    """

    def __init__(self, store: Store, say: Say, fill_empty: Callable[[], None] | None) -> None:
        self.store = store
        self._say = say
        self._fill_empty = fill_empty
        self._index: LineageIndex | None = None
        self._fingerprint: str | None = None
        self._loading = threading.RLock()  # one thread loads or builds the index at a time
        self._refreshing = threading.Lock()  # held while a background refresh runs
        self._next_check = 0.0
        self._extra_snapshots: dict[tuple[int, ...], list[int]] = {}
        self._memo_lock = threading.Lock()

    @property
    def fingerprint(self) -> str | None:
        """Which snapshots the current index covers (its cache folder's name)."""
        return self._fingerprint

    @property
    def index(self) -> LineageIndex:
        """The lineage index: the one pinned for the question in progress, else the current
        one (loaded, or built and cached, on first use)."""
        pinned = _PINNED.get()
        if pinned is not None and pinned[0] is self:
            return pinned[1]
        index = self._index
        if index is None:
            with self._loading:
                if self._index is None:
                    self._index = self._ready(self._load_index())
                index = self._index
        return index

    def _ready(self, index: LineageIndex) -> LineageIndex:
        """What questions about this index would otherwise ask the store, asked once now
        (before the index is in use): which of its snapshots hold source-specific fields.

        Kept per set of snapshots (a snapshot never changes): requests still pinned to the
        previous index during a swap find its answer too, and never ask the store again."""
        self.extra_snapshots(index)
        return index

    def extra_snapshots(self, index: LineageIndex) -> list[int]:
        covered = tuple(int(s["id"]) for s in index.a.meta.get("snapshots", []))
        known = self._extra_snapshots.get(covered)
        if known is None:
            known = self.store.snapshots_with_extra(list(covered))
            with self._memo_lock:
                # the current and the previous sets of snapshots are all a server needs
                while len(self._extra_snapshots) >= 4:
                    self._extra_snapshots.pop(next(iter(self._extra_snapshots)))
                self._extra_snapshots[covered] = known
        return known

    @contextlib.contextmanager
    def pinned(self) -> Iterator[LineageIndex]:
        """Answer everything asked inside from one index, even if :meth:`refresh` swaps in
        a newer one meanwhile (node numbers differ between indexes). The pin follows the
        context (threads started by ``asyncio.to_thread`` and Starlette's pool included)."""
        index = self.index
        token = _PINNED.set((self, index))
        try:
            yield index
        finally:
            _PINNED.reset(token)

    def _current_fingerprint(self) -> tuple[str, list[SnapshotInfo]]:
        snaps = self.store.current_snapshots()
        # Keyed by the index format, not the package version: an upgrade that keeps the
        # format reuses the cached index instead of rebuilding it from the store.
        return f"f{FORMAT_VERSION}-" + "-".join(str(s.id) for s in snaps), snaps

    def _load_index(self) -> LineageIndex:
        if self._fill_empty is not None and self.store.is_empty():
            self._say("the store is empty: loading the bundled sample")
            self._fill_empty()
            assert self._index is not None
            return self._index
        for _ in range(5):
            fingerprint, snaps = self._current_fingerprint()
            cached = self._open_cached(fingerprint)
            if cached is not None:
                return cached
            with index_lock(self.store.index_dir()):
                # Whoever held the lock (an ingest publishing its index, another process
                # building this one) may have made it meanwhile.
                if self._current_fingerprint()[0] != fingerprint:
                    continue  # newer snapshots meanwhile: start again
                cached = self._open_cached(fingerprint)
                if cached is not None:
                    return cached
                from filiation.lineage.build import build

                ordered = sorted(snaps, key=lambda s: source_priority(s.source, s.id))
                return self.publish(build([self.read_snapshot(s) for s in ordered], step=self._say))
        raise StoreError(
            f"{self.store.describe()}: the current snapshots kept changing while their "
            "index was loaded; try again"
        )

    def _published(self, fingerprint: str) -> Path | None:
        """The published folder of the index named ``fingerprint``, or of the same snapshots
        in an older format this version still reads (an upgrade opens the index it finds
        rather than rebuilding it; the next delta or ingest publishes the current format)."""
        name = fingerprint.split("-", 1)[1] if "-" in fingerprint else ""
        for fmt in (
            FORMAT_VERSION,
            *sorted(set(READABLE_FORMATS) - {FORMAT_VERSION}, reverse=True),
        ):
            folder = self.store.index_dir() / (f"f{fmt}-{name}" if name else f"f{fmt}-")
            if (folder / "meta.json").exists():
                return folder
        return None

    def _open_cached(self, fingerprint: str) -> LineageIndex | None:
        """The cached index of these snapshots, if one is published; records what it covers."""
        folder = self._published(fingerprint)
        if folder is None:
            return None
        try:
            index = LineageIndex(IndexArrays.load(folder))
        except (ValueError, OSError):
            # Damaged, or deleted under us because a newer index was published: the caller
            # looks at the current snapshots again.
            return None
        self._fingerprint = fingerprint
        return index

    def covering(self, snapshots: list[SnapshotInfo]) -> IndexArrays | None:
        """The index of exactly these snapshots, if this process has it loaded or another
        published it (mapped, not built): what a delta starts from."""
        fingerprint = f"f{FORMAT_VERSION}-" + "-".join(str(s.id) for s in snapshots)
        index = self._index
        if index is not None and self._fingerprint == fingerprint:
            return index.a
        folder = self._published(fingerprint)
        if folder is None:
            return None
        try:
            return IndexArrays.load(folder)
        except (ValueError, OSError):
            return None

    def _clean_old_indexes(self, keep: Path) -> None:
        # Processes still reading an older index keep its (deleted) files mapped until
        # they move to the new one.
        for other in keep.parent.iterdir():
            if other.name == snapshot_cache.FOLDER:
                continue
            if other != keep and other.is_dir() and not other.name.endswith(".tmp"):
                shutil.rmtree(other, ignore_errors=True)

    def refresh(self) -> bool:
        """Pick up a snapshot another process ingested; True if the index changed.

        The new index is loaded (or built) completely before it replaces the current one
        in a single assignment; questions in progress keep the index they started with.
        """
        fingerprint, _ = self._current_fingerprint()
        if fingerprint == self._fingerprint:
            return False
        with self._loading:
            if self._current_fingerprint()[0] == self._fingerprint:
                return False
            self._index = self._ready(self._load_index())
        return True

    def refresh_soon(self, interval: float) -> None:
        """Check for a newer snapshot in a background thread, at most once per ``interval``
        seconds: a server calls this on every request, and no request waits for the check
        (nor for an index to load). A failed check is logged; the current index stays."""
        now = time.monotonic()
        if now < self._next_check or not self._refreshing.acquire(blocking=False):
            return
        self._next_check = now + interval

        def run() -> None:
            try:
                if self.refresh():
                    log.info("now answering from snapshots %s", self._fingerprint)
            except Exception as exc:
                log.warning(
                    "cannot check for a new snapshot (%s); still answering from %s",
                    exc,
                    self._fingerprint,
                )
            finally:
                self._next_check = time.monotonic() + interval
                self._refreshing.release()

        threading.Thread(target=run, name="filiation-refresh", daemon=True).start()

    def read_snapshot(self, snap: SnapshotInfo, keys: pa.Array | None = None) -> SourceTables:
        """A snapshot's tables, from the snapshot cache if it holds them, else the store;
        with ``keys``, only its rows about them (``lineage.delta.restrict``)."""
        from filiation.lineage.build import SourceTables

        folder = self.store.index_dir()
        cached = snapshot_cache.read(folder, snap, keys)
        if cached is not None:
            nodes, links = cached
        else:
            self._say(f"reading snapshot {snap.id} ({snap.source})")
            nodes, links = self.store.read_nodes(snap.id), self.store.read_links(snap.id)
            snapshot_cache.write(folder, snap, nodes, links)
            if keys is not None:
                from filiation.lineage.delta import restrict

                tables = SourceTables(snap.id, snap.source, snap.label, nodes, links)
                return restrict(tables, keys)
        return SourceTables(
            snapshot_id=snap.id, source=snap.source, label=snap.label, nodes=nodes, links=links
        )

    def publish(self, arrays: IndexArrays) -> LineageIndex:
        """Record which snapshots an index covers, cache it, and start using it.

        The caller holds the index lock (:func:`index_lock`)."""
        fingerprint, snaps = self._current_fingerprint()
        arrays.meta["snapshots"] = [
            {
                "id": s.id,
                "source": s.source,
                "label": s.label,
                "taken_at": s.taken_at.isoformat() if s.taken_at else None,
            }
            for s in snaps
        ]
        arrays.meta["built_at"] = datetime.now(UTC).isoformat()
        folder = self.store.index_dir() / fingerprint
        try:
            arrays.save(folder)
            self._clean_old_indexes(keep=folder)
            arrays = IndexArrays.load(folder)
        except OSError:
            pass  # a read-only place: keep the index in memory
        self._fingerprint = fingerprint
        self._index = LineageIndex(arrays)
        return self._index
