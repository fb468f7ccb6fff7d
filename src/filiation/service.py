"""The facade every interface calls: ingest sources, then ask lineage questions.

``filiation.open(db)`` returns a :class:`Genealogy`. The CLI, the JSON API and the web pages
are thin layers over these methods, so each question is answered in exactly one place.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from filiation import exports
from filiation.domain import (
    KIND_CODES,
    KINDS_BY_CODE,
    LINEAGE_RELATIONS,
    RELATION_CODES,
    RELATIONS_BY_CODE,
    NodeKind,
    Relation,
    parse_kind,
    parse_relations,
)
from filiation.errors import InvalidArgumentError, NodeNotFoundError, StoreError
from filiation.exports import Export, ExportScope
from filiation.lineage.arrays import FORMAT_VERSION, NULL_INT, IndexArrays
from filiation.lineage.families import root_members
from filiation.lineage.filters import DateArg, NodeFilter
from filiation.lineage.index import DEFAULT_RANKING, LineageIndex, relation_mask
from filiation.lineage.traverse import Walk
from filiation.results import (
    Families,
    Family,
    Lineage,
    Neighbour,
    NodeDetails,
    NodeSummary,
    PathResult,
    SearchHit,
    Stats,
    hub_url,
    link_of,
    summary_fields,
)
from filiation.sources.local_folder import ScanResult
from filiation.sources.records import IngestReport, Records, empty_links, empty_nodes
from filiation.store import snapshot_cache
from filiation.store.store import Store

if TYPE_CHECKING:
    from filiation.registry.service import Registry

ENV_DB = "FILIATION_DB"
#: How many complete snapshots of each source the store keeps (``diff`` compares them).
ENV_KEEP = "FILIATION_KEEP_SNAPSHOTS"
DEFAULT_KEEP = 2
BUNDLED = "hub-stats-sample.parquet"
BUNDLED_LABEL = "bundled sample of cfahlgren1/hub-stats (Apache-2.0)"

Step = Callable[[str], None]
RelationsArg = Sequence[str | Relation] | str | None
KindsArg = Sequence[NodeKind | str] | str | None

log = logging.getLogger("filiation")

#: The index a question in progress reads (see :meth:`Genealogy.pinned`): a refresh that
#: swaps the genealogy's index never changes it under a request that has started.
_PINNED: ContextVar[tuple[Genealogy, LineageIndex] | None] = ContextVar(
    "filiation_pinned_index", default=None
)


@contextlib.contextmanager
def _index_lock(folder: Path) -> Iterator[None]:
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


def default_db() -> str:
    """``$FILIATION_DB``, else ``filiation.sqlite`` in the user's data directory."""
    env = os.environ.get(ENV_DB)
    if env:
        return env
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("filiation", appauthor=False)) / "filiation.sqlite")


def bundled_snapshot() -> Path:
    return Path(str(resources.files("filiation") / "data" / BUNDLED))


def _relations(value: RelationsArg) -> tuple[Relation, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    return parse_relations([v.value if isinstance(v, Relation) else v for v in value])


def _priority(source: str, snapshot_id: int) -> tuple[bool, bool, int]:
    """The order in which the index reads sources (the first one gives a node its fields):
    families refreshed live from the Hub API (``hub-api:<id>``, fresher than any dump), then
    the hub-stats dump, then the others, newest first."""
    return (not source.startswith("hub-api:"), source != "hub-stats", -snapshot_id)


def _keep_snapshots() -> int:
    """``$FILIATION_KEEP_SNAPSHOTS`` (at least 1), else 2."""
    raw = os.environ.get(ENV_KEEP)
    if raw is None or not raw.strip():
        return DEFAULT_KEEP
    try:
        keep = int(raw)
    except ValueError:
        keep = 0
    if keep < 1:
        raise InvalidArgumentError(f"{ENV_KEEP} must be a whole number of 1 or more, not {raw!r}")
    return keep


def _check_bounds(max_depth: int | None, limit: int | None) -> None:
    if max_depth is not None and max_depth < 0:
        raise InvalidArgumentError(f"max_depth must be 0 or more, not {max_depth}")
    if limit is not None and limit < 0:
        raise InvalidArgumentError(f"limit must be 0 or more, not {limit}")


class Genealogy:
    """A genealogy of models, data sets and authors, backed by a store.

    The lineage index is built from the store's current snapshots the first time a question
    needs it (and cached beside the store); an empty store is first filled with the bundled
    sample so that every question has an answer out of the box.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        load_bundled: bool = True,
        step: Step | None = None,
    ) -> None:
        self.store = Store(db if db is not None else default_db())
        self.load_bundled = load_bundled
        self._step = step
        self._index: LineageIndex | None = None
        self._fingerprint: str | None = None
        self._registry: Registry | None = None
        self._loading = threading.RLock()  # one thread loads or builds the index at a time
        self._refreshing = threading.Lock()  # held while a background refresh runs
        self._next_check = 0.0
        self._extra_snapshots: dict[tuple[int, ...], list[int]] = {}
        self._memo_lock = threading.Lock()
        self.keep_snapshots = _keep_snapshots()

    def __repr__(self) -> str:
        return f"Genealogy({self.store.describe()!r})"

    @property
    def registry(self) -> Registry:
        """The organisation's registry of AI systems and models, in the same store."""
        from filiation.registry.service import Registry

        if self._registry is None:
            self._registry = Registry(self)
        return self._registry

    # -- the index ------------------------------------------------------------------------
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
        self._extra_of(index)
        return index

    def _extra_of(self, index: LineageIndex) -> list[int]:
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

    def _say(self, msg: str) -> None:
        if self._step:
            self._step(msg)

    @contextlib.contextmanager
    def reporting(self, step: Step | None) -> Iterator[None]:
        """Send the steps of long work done inside (index builds, ingests) to ``step``, for
        a progress display; the previous reporter is restored on the way out."""
        previous, self._step = self._step, step
        try:
            yield
        finally:
            self._step = previous

    def _current_fingerprint(self) -> tuple[str, list[Any]]:
        snaps = self.store.current_snapshots()
        # Keyed by the index format, not the package version: an upgrade that keeps the
        # format reuses the cached index instead of rebuilding it from the store.
        return f"f{FORMAT_VERSION}-" + "-".join(str(s.id) for s in snaps), snaps

    def _load_index(self) -> LineageIndex:
        if self.load_bundled and self.store.is_empty():
            self._say("the store is empty: loading the bundled sample")
            self.ingest(self._bundled_records())
            assert self._index is not None
            return self._index
        for _ in range(5):
            fingerprint, snaps = self._current_fingerprint()
            cached = self._open_cached(fingerprint)
            if cached is not None:
                return cached
            with _index_lock(self.store.index_dir()):
                # Whoever held the lock (an ingest publishing its index, another process
                # building this one) may have made it meanwhile.
                if self._current_fingerprint()[0] != fingerprint:
                    continue  # newer snapshots meanwhile: start again
                cached = self._open_cached(fingerprint)
                if cached is not None:
                    return cached
                from filiation.lineage.build import build

                ordered = sorted(snaps, key=lambda s: _priority(s.source, s.id))
                return self._publish(
                    build([self._read_snapshot(s) for s in ordered], step=self._say)
                )
        raise StoreError(
            f"{self.store.describe()}: the current snapshots kept changing while their "
            "index was loaded; try again"
        )

    def _open_cached(self, fingerprint: str) -> LineageIndex | None:
        """The cached index of these snapshots, if one is published; records what it covers."""
        folder = self.store.index_dir() / fingerprint
        if not (folder / "meta.json").exists():
            return None
        try:
            index = LineageIndex(IndexArrays.load(folder))
        except (ValueError, OSError):
            # Damaged, or deleted under us because a newer index was published: the caller
            # looks at the current snapshots again.
            return None
        self._fingerprint = fingerprint
        return index

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

    # -- ingest ---------------------------------------------------------------------------
    def _bundled_records(self) -> Records:
        from filiation.sources import hub_stats

        records = hub_stats.read(bundled_snapshot())
        records.label = BUNDLED_LABEL
        records.report.label = BUNDLED_LABEL
        return records

    def ingest(self, records: Records) -> IngestReport:
        """Store a source's records as its new snapshot and index the new genealogy."""
        return self._ingest_stream(
            records.report,
            records.source,
            records.label,
            records.taken_at,
            iter([(records.nodes, records.links)]),
            rows=records.nodes.num_rows + records.links.num_rows,
        )

    def ingest_hub_stats(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest a hub-stats ``models.parquet``; without a path, download the current one."""
        from filiation.sources import hub_stats

        source = Path(path) if path is not None else hub_stats.download()
        scan = hub_stats.open_dump(source)
        return self._ingest_stream(
            scan.report,
            hub_stats.SOURCE,
            str(source),
            scan.taken_at,
            hub_stats.batches(scan, progress=progress),
            rows=len(scan.keep),
        )

    def ingest_edges(
        self,
        edges: str | os.PathLike[str],
        nodes: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
    ) -> IngestReport:
        """Ingest a lineage edge list (``parent_id,child_id,relation``) and optional nodes."""
        from filiation.sources import edge_csv

        return self.ingest(edge_csv.read(edges, nodes, name=name))

    def scan(self, path: str | os.PathLike[str], *, weights: bool = False) -> ScanResult:
        """Models found under ``path`` (a model folder, a tree of them or the Hugging Face
        cache) and what each derives from, with the file that says so; nothing is stored.
        With ``weights``, the models' weights are compared too and the links they show are
        added with ``source="weights"`` and a confidence (docs/weights.md)."""
        from filiation.sources import local_folder

        result = local_folder.scan(path)
        if weights:
            from filiation.inference.weights.scan import add_weight_links

            add_weight_links(result)
        return result

    def ingest_scan(
        self, scan: ScanResult | str | os.PathLike[str], *, name: str | None = None
    ) -> IngestReport:
        """Record a scan's findings as a snapshot of source ``scan`` (or ``scan:NAME``):
        the models found and their links, marked inferred, with the file and field as
        evidence. A new scan of the same name replaces the previous one's findings."""
        from filiation.sources import local_folder

        result = scan if isinstance(scan, ScanResult) else local_folder.scan(scan)
        return self.ingest(local_folder.records(result, name=name))

    def _ingest_stream(
        self,
        report: IngestReport,
        source: str,
        label: str,
        taken_at: datetime | None,
        parts: Iterator[tuple[pa.Table, pa.Table]],
        rows: int,
    ) -> IngestReport:
        """Store the parts as one snapshot while indexing them, then publish both.

        The rows go to the store (in another process when they are many) while this process
        builds the lineage index of the new genealogy from the same parts in memory, so the
        store is never read back. Nothing is visible until the store commits.
        """
        from filiation.lineage.build import SourceTables, build
        from filiation.store.writer import open_writer

        others = [s for s in self.store.current_snapshots() if s.source != source]
        node_parts: list[pa.Table] = []
        link_parts: list[pa.Table] = []
        publishing = contextlib.ExitStack()
        with publishing, open_writer(self.store, source, label, taken_at, rows) as writer:
            for nodes, links in parts:
                writer.write(nodes, links)
                node_parts.append(nodes)
                link_parts.append(links)
            new = SourceTables(
                snapshot_id=0,
                source=source,
                label=label,
                nodes=pa.concat_tables(node_parts) if node_parts else empty_nodes(),
                links=pa.concat_tables(link_parts) if link_parts else empty_links(),
            )
            del node_parts, link_parts
            # A copy for the next rebuild of the index, named once the commit gives the
            # snapshot its id (see store/snapshot_cache.py).
            staged = snapshot_cache.stage(self.store.index_dir(), new.nodes, new.links)
            if staged is not None:
                publishing.callback(staged.discard)  # unless published below
            tables = [new, *(self._read_snapshot(s) for s in others)]
            tables.sort(key=lambda t: _priority(t.source, t.snapshot_id or 1 << 62))
            del new  # build() empties `tables`, freeing the parsed rows as it goes
            self._say("indexing")
            arrays = build(tables, step=self._say)
            self._say("waiting for the store to commit")
            # From the commit until the index is published, other processes that see the
            # new snapshot wait for this index rather than build it themselves.
            publishing.enter_context(_index_lock(self.store.index_dir()))
            snap_id = writer.commit(report.as_dict())
            report.snapshot_id = snap_id
            if staged is not None:
                committed = next((x for x in self.store.snapshots() if x.id == snap_id), None)
                if committed is not None:
                    staged.publish(committed)
            arrays.vocab["sources"] = [
                lbl.replace("#0", f"#{snap_id}") if lbl == f"{source}#0" else lbl
                for lbl in arrays.vocab["sources"]
            ]
            self._publish(arrays)
        self.store.prune(keep=self.keep_snapshots)
        snapshot_cache.prune(self.store.index_dir(), self.store.snapshots())
        return report

    def _read_snapshot(self, snap: Any) -> Any:
        from filiation.lineage.build import SourceTables

        folder = self.store.index_dir()
        cached = snapshot_cache.read(folder, snap)
        if cached is not None:
            nodes, links = cached
        else:
            self._say(f"reading snapshot {snap.id} ({snap.source})")
            nodes, links = self.store.read_nodes(snap.id), self.store.read_links(snap.id)
            snapshot_cache.write(folder, snap, nodes, links)
        return SourceTables(
            snapshot_id=snap.id, source=snap.source, label=snap.label, nodes=nodes, links=links
        )

    def _publish(self, arrays: IndexArrays) -> LineageIndex:
        """Record which snapshots an index covers, cache it, and start using it.

        The caller holds the index lock (:func:`_index_lock`)."""
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

    def snapshots(self) -> list[dict[str, Any]]:
        current = {s.id for s in self.store.current_snapshots()}
        return [
            {
                "id": s.id,
                "source": s.source,
                "label": s.label,
                "taken_at": s.taken_at,
                "finished_at": s.finished_at,
                "status": s.status,
                "current": s.id in current,
                "report": s.report,
            }
            for s in self.store.snapshots()
        ]

    # -- look-ups -------------------------------------------------------------------------
    def _node(self, node_id: str, kind: NodeKind | None = None) -> int:
        if not isinstance(node_id, str) or not node_id.strip():
            raise InvalidArgumentError("give a non-empty id")
        node = self.index.lookup(node_id, kind)
        if node is None:
            raise NodeNotFoundError(node_id, self._suggest(node_id, kind))
        return node

    def _suggest(self, node_id: str, kind: NodeKind | None, k: int = 5) -> list[str]:
        """Near ids for a typo: search ever shorter prefixes of the name, keep the closest.

        Bounded: at most a dozen searches on at most 128 characters, whatever the input.
        """
        import difflib

        name = node_id.strip().split("/")[-1][:128]
        kinds = [kind] if kind else None
        candidates: list[str] = []
        floor = max(2, len(name) // 2)
        step = max(1, (len(name) - floor) // 12)
        for cut in range(len(name), floor - 1, -step):
            candidates = [self.index.a.id_of(n) for n in self.index.search(name[:cut], 50, kinds)]
            if candidates:
                break
        return difflib.get_close_matches(node_id[:256], candidates, n=k, cutoff=0.5)

    def resolve(self, node_id: str, kind: NodeKind | str | None = None) -> str:
        """The id as published, for an id given in any case."""
        node = self._node(node_id, parse_kind(kind))
        return self.index.a.id_of(node)

    # -- questions ------------------------------------------------------------------------
    def ancestors(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        max_depth: int | None = None,
        limit: int | None = None,
        kinds: KindsArg = None,
        min_downloads: int | None = None,
        since: DateArg = None,
        until: DateArg = None,
        kind: NodeKind | str | None = None,
    ) -> Lineage:
        """Everything ``node_id`` derives from, nearest first.

        ``kinds``, ``min_downloads``, ``since`` and ``until`` (creation date) keep only the
        nodes that pass them, without stopping the walk (:mod:`filiation.lineage.filters`);
        ``kind`` says what ``node_id`` is when a model, a data set and an author share it.
        """
        flt = NodeFilter.parse(kinds, min_downloads, since, until)
        return self._walk(node_id, False, relations, max_depth, limit, flt, kind)

    def descendants(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        max_depth: int | None = None,
        limit: int | None = None,
        kinds: KindsArg = None,
        min_downloads: int | None = None,
        since: DateArg = None,
        until: DateArg = None,
        kind: NodeKind | str | None = None,
    ) -> Lineage:
        """Everything derived from ``node_id``, nearest first, best known first within a level
        (filters as in :meth:`ancestors`)."""
        flt = NodeFilter.parse(kinds, min_downloads, since, until)
        return self._walk(node_id, True, relations, max_depth, limit, flt, kind)

    def _relations_from(self, node: int, relations: RelationsArg) -> tuple[Relation, ...] | None:
        """The relations a walk from ``node`` follows: those asked for, else the lineage ones;
        from an author, also ``published_by`` first (what it published, then what derives
        from it), as it has no other link to follow."""
        rels = _relations(relations)
        if rels is None and self.index.kind_of(node) is NodeKind.AUTHOR:
            return (Relation.PUBLISHED_BY, *LINEAGE_RELATIONS)
        return rels

    def _filtered_walk(
        self,
        node: int,
        down: bool,
        rels: tuple[Relation, ...] | None,
        max_depth: int | None,
        limit: int | None,
        flt: NodeFilter,
    ) -> Walk:
        """A walk from ``node``; with a filter, the whole walk is filtered, then cut."""
        if not flt.active:
            return self.index.walk(
                [node], down=down, relations=rels, max_depth=max_depth, limit=limit
            )
        walk = self.index.walk([node], down=down, relations=rels, max_depth=max_depth)
        return flt.apply(self.index.a, walk, limit)

    def _walk(
        self,
        node_id: str,
        down: bool,
        relations: RelationsArg,
        max_depth: int | None,
        limit: int | None,
        flt: NodeFilter,
        kind: NodeKind | str | None = None,
    ) -> Lineage:
        _check_bounds(max_depth, limit)
        _relations(relations)  # a bad relation is reported before an unknown id, everywhere
        node = self._node(node_id, parse_kind(kind))
        rels = self._relations_from(node, relations)
        walk = self._filtered_walk(node, down, rels, max_depth, limit, flt)
        lin = Lineage.from_walk(
            self.index,
            self.index.a.id_of(node),
            "descendants" if down else "ancestors",
            list(rels or LINEAGE_RELATIONS),
            walk,
        )
        lin.filters = flt.describe()
        return lin

    def lineage(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        max_depth: int | None = None,
        limit: int | None = None,
        kinds: KindsArg = None,
        min_downloads: int | None = None,
        since: DateArg = None,
        until: DateArg = None,
        kind: NodeKind | str | None = None,
    ) -> Lineage:
        """Ancestors (negative depths) and descendants (positive depths) together; ``limit``
        bounds each direction (filters as in :meth:`ancestors`)."""
        _check_bounds(max_depth, limit)
        flt = NodeFilter.parse(kinds, min_downloads, since, until)
        node = self._node(node_id, parse_kind(kind))
        rels = self._relations_from(node, relations)
        up = self._filtered_walk(node, False, rels, max_depth, limit, flt)
        down = self._filtered_walk(node, True, rels, max_depth, limit, flt)
        lin = Lineage(
            self.index,
            root=self.index.a.id_of(node),
            direction="both",
            relations=list(rels or LINEAGE_RELATIONS),
            roots=up.roots,
            nodes=np.concatenate([up.nodes, down.nodes]),
            depth=np.concatenate([-up.depth, down.depth]),
            via=np.concatenate([up.via, down.via]),
            edges=np.concatenate([up.edges, down.edges]),
            truncated=up.truncated or down.truncated,
            depth_cut=up.depth_cut or down.depth_cut,
        )
        lin.filters = flt.describe()
        return lin

    def impact(
        self,
        dataset: str,
        *,
        relations: RelationsArg = None,
        max_depth: int | None = None,
        limit: int | None = None,
        kinds: KindsArg = None,
        min_downloads: int | None = None,
        since: DateArg = None,
        until: DateArg = None,
    ) -> Lineage:
        """Every model trained on ``dataset`` and everything derived from them.

        This is the set of models a person whose data is in the data set is concerned by.
        Depth 1 is the models trained on it; ``max_depth`` counts from the data set. Filters
        as in :meth:`ancestors`.
        """
        _check_bounds(max_depth, limit)
        flt = NodeFilter.parse(kinds, min_downloads, since, until)
        if flt.active:
            whole = self.impact(dataset, relations=relations, max_depth=max_depth)
            walk = flt.apply(self.index.a, whole.as_walk(), limit)
            lin = Lineage.from_walk(self.index, whole.root, "impact", whole.relations, walk)
            lin.filters = flt.describe()
            return lin
        rels = _relations(relations)
        node = self._node(dataset, NodeKind.DATASET)
        index = self.index
        trained, trained_edges = index.neighbours(node, down=True, relations=(Relation.TRAINED_ON,))
        roots = trained.astype(np.int64)
        if limit is not None and len(roots) > limit:
            roots = roots[:limit]
            trained_edges = trained_edges[:limit]
        if max_depth == 0 or len(roots) == 0:
            below = index.walk([], down=True, relations=rels, max_depth=0)
        else:
            rest = None if limit is None else limit - len(roots)
            below = index.walk(
                roots.tolist(),
                down=True,
                relations=rels,
                max_depth=max_depth,
                limit=rest,
                start_depth=1,
            )
        # The trained models themselves are found at depth 1, through their trained_on link.
        first_nodes = roots if max_depth != 0 else roots[:0]
        first_edges = trained_edges if max_depth != 0 else trained_edges[:0]
        truncated = below.truncated or (limit is not None and len(trained) > len(roots))
        return Lineage(
            index,
            root=index.a.id_of(node),
            direction="impact",
            relations=[
                Relation.TRAINED_ON,
                *(r for r in rels or LINEAGE_RELATIONS if r is not Relation.TRAINED_ON),
            ],
            roots=np.asarray([node], np.int64),
            nodes=np.concatenate([first_nodes, below.nodes]).astype(np.int64),
            depth=np.concatenate([np.ones(len(first_nodes), np.int32), below.depth]),
            via=np.concatenate([first_edges, below.via]).astype(np.int64),
            edges=np.concatenate([first_edges, below.edges]).astype(np.int64),
            truncated=truncated,
            depth_cut=below.depth_cut or (max_depth == 0 and len(trained) > 0),
        )

    def families(self, author: str, *, limit: int = 20) -> Families:
        """The families an author's models sit in: the root ancestors of its models (models
        with no known parent, its own base models included), with how many of its models
        descend from each, most first.

        A merge sits in several families; families made only of a cycle have no root and are
        not listed. Exact for every root: the walk goes up from the author's models
        (:mod:`filiation.lineage.families`), so it costs their ancestries, not the families.
        """
        _check_bounds(None, limit)
        node = self._node(author, NodeKind.AUTHOR)
        index = self.index
        a = index.a
        published, _ = index.neighbours(node, down=True, relations=(Relation.PUBLISHED_BY,))
        models = published[np.asarray(a.kind)[published] == KIND_CODES[NodeKind.MODEL]]
        roots, members = root_members(a, models, relation_mask(LINEAGE_RELATIONS))
        # Most members first; ties stay best known first (roots come in index order).
        order = np.argsort(-members, kind="stable")[:limit]
        return Families(
            author=a.id_of(node),
            models=len(models),  # an author publishes a model once: links are unique
            families=[
                Family(root=NodeSummary(**summary_fields(index, r)), members=int(c))
                for r, c in zip(roots[order].tolist(), members[order].tolist(), strict=True)
            ],
            total=len(roots),
        )

    def path(self, source: str, target: str, *, relations: RelationsArg = None) -> PathResult:
        """How ``target`` derives from ``source``: a shortest chain of links, if there is one."""
        rels = _relations(relations)
        a_node = self._node(source)
        b_node = self._node(target)
        chain = self.index.path(a_node, b_node, rels)
        return PathResult(
            source=self.index.a.id_of(a_node),
            target=self.index.a.id_of(b_node),
            found=chain is not None,
            links=[link_of(self.index, e) for e in chain or []],
        )

    def export(
        self,
        node_id: str,
        format: str = "json",
        *,
        direction: str = "both",
        relations: RelationsArg = None,
        max_depth: int | None = None,
        limit: int | None = None,
        kinds: KindsArg = None,
        min_downloads: int | None = None,
        since: DateArg = None,
        until: DateArg = None,
        kind: NodeKind | str | None = None,
    ) -> Export:
        """``node_id``'s lineage as a file in one of :func:`filiation.exports.formats`
        (filters as in :meth:`ancestors`).

        ``kind`` says what ``node_id`` is (default: the model of that id, else the data set,
        else the author). A data set's descendants are its :meth:`impact`; an author's, what
        it published and what derives from it: the graphs of their web pages.
        """
        if direction not in ("ancestors", "descendants", "both"):
            raise InvalidArgumentError(
                f"unknown direction {direction!r}; use ancestors, descendants or both"
            )
        _check_bounds(max_depth, limit)
        fmt = exports.get(format)
        node = self._node(node_id, parse_kind(kind))
        scope = ExportScope(
            kind=self.index.kind_of(node),
            direction=direction,  # type: ignore[arg-type]
            relations=_relations(relations),
            max_depth=max_depth,
            limit=limit,
            filter=NodeFilter.parse(kinds, min_downloads, since, until),
        )
        published = self.index.a.id_of(node)
        return Export(
            content=fmt.render(self, published, scope),
            media_type=fmt.media_type,
            filename=exports.filename_for(published, fmt),
        )

    def children(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        limit: int | None = 50,
        offset: int = 0,
        ranking: Sequence[str] = ("downloads",),
        kind: NodeKind | str | None = None,
    ) -> list[Neighbour]:
        """Direct children, best known first (or under another ranking), one page at a time.

        Below an author, what it published (``relations=["published_by"]``); below a data
        set, the models trained on it (``relations=["trained_on"]``).
        """
        return self._neighbours(node_id, True, relations, limit, ranking, offset, kind)

    def parents(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        limit: int | None = None,
        offset: int = 0,
        ranking: Sequence[str] = ("downloads",),
        kind: NodeKind | str | None = None,
    ) -> list[Neighbour]:
        return self._neighbours(node_id, False, relations, limit, ranking, offset, kind)

    def _neighbours(
        self,
        node_id: str,
        down: bool,
        relations: RelationsArg,
        limit: int | None,
        ranking: Sequence[str],
        offset: int = 0,
        kind: NodeKind | str | None = None,
        node: int | None = None,
    ) -> list[Neighbour]:
        _check_bounds(None, limit)
        if offset < 0:
            raise InvalidArgumentError(f"offset must be 0 or more, not {offset}")
        rels = _relations(relations)
        if node is None:
            node = self._node(node_id, parse_kind(kind))
        nodes, edges, _ = self.index.top_neighbours(
            node,
            down=down,
            relations=rels,
            limit=offset + limit if limit is not None else 1 << 62,
            ranking=ranking,
        )
        # Records only for the page asked for: a family's other tens of thousands stay arrays.
        nodes, edges = nodes[offset:], edges[offset:]
        a = self.index.a
        return [
            Neighbour(
                **summary_fields(self.index, n),
                relation=RELATIONS_BY_CODE[int(a.edge_rel[e])],
                declared=bool(a.edge_declared[e]),
            )
            for n, e in zip(nodes.tolist(), edges.tolist(), strict=True)
        ]

    def show(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        limit: int = 10,
        ranking: Sequence[str] = DEFAULT_RANKING,
        kind: NodeKind | str | None = None,
    ) -> NodeDetails:
        """A node's indicators, its direct family counted per relation, and the important
        parents and children under ``ranking`` (default: descendants, downloads, likes)."""
        _check_bounds(None, limit)
        rels = _relations(relations)
        node = self._node(node_id, parse_kind(kind))
        index = self.index
        a = index.a

        def per_relation(ptr: np.ndarray, rel: np.ndarray, skip: Relation | None) -> dict[str, int]:
            s, e = ptr[node : node + 2].tolist()
            counts = np.bincount(np.asarray(rel[s:e]), minlength=len(RELATIONS_BY_CODE))
            return {
                RELATIONS_BY_CODE[i].value: int(c)
                for i, c in enumerate(counts)
                if c and RELATIONS_BY_CODE[i] is not skip
            }

        # Below an author: what it published; below a data set: the models trained on it.
        children_by = per_relation(a.down_ptr, a.down_rel, None)
        lineage_names = {r.value for r in (rels or LINEAGE_RELATIONS)}
        kind_ = KINDS_BY_CODE[int(a.kind[node])]
        nid = a.id_of(node)

        def vocab(name: str) -> str | None:
            code = int(getattr(a, name)[node])
            return a.vocab[name][code] if code >= 0 else None

        def when(value: int) -> datetime | None:
            v = int(value)
            return (
                None if v == NULL_INT else datetime.fromtimestamp(v / 1e6, UTC).replace(tzinfo=None)
            )

        trending = float(a.trending[node])
        return NodeDetails(
            id=nid,
            kind=kind_,
            stub=bool(a.stub[node]),
            url=None if a.stub[node] and kind_ is NodeKind.DATASET else hub_url(kind_, nid),
            author=summary_fields(index, node)["author"],
            created_at=when(a.created[node]),
            last_modified=when(a.modified[node]),
            pipeline_tag=vocab("pipeline_tag"),
            library_name=vocab("library_name"),
            license=vocab("license"),
            downloads=_opt(a.downloads[node]),
            downloads_all_time=_opt(a.downloads_all_time[node]),
            likes=_opt(a.likes[node]),
            trending_score=None if np.isnan(trending) else trending,
            parameters=_opt(a.parameters[node]),
            parents=self._neighbours(nid, False, rels, None, ("downloads",), node=node),
            parents_by_relation=per_relation(a.up_ptr, a.up_rel, Relation.PUBLISHED_BY),
            children_by_relation=children_by,
            children=sum(v for k, v in children_by.items() if k in lineage_names),
            datasets=self._neighbours(
                nid, False, [Relation.TRAINED_ON], None, ("downloads",), node=node
            ),
            descendants=int(a.descendants[node]),
            generations=int(a.generations[node]),
            important_parents=self._neighbours(nid, False, rels, limit, ranking, node=node),
            important_children=self._neighbours(nid, True, rels, limit, ranking, node=node),
            ranking=list(ranking),
            extra=self._extra(nid, kind_),
        )

    def _extra(self, node_id: str, kind: NodeKind) -> dict[str, Any]:
        """Source-specific fields (architecture from an edge list...), read from the store,
        in the snapshots the index in use covers."""
        out: dict[str, Any] = {}
        for text in self.store.read_extra(
            self._snapshots_with_extra(), kind.value, node_id.lower()
        ):
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                for k, v in value.items():
                    out.setdefault(k, v)
        return out

    def _snapshots_with_extra(self) -> list[int]:
        """The snapshots of the index in use that hold source-specific fields at all (once
        per index): a genealogy of the Hub's dump alone asks the store nothing per ``show``."""
        return self._extra_of(self.index)

    def search(
        self, text: str, *, limit: int = 20, kinds: Sequence[NodeKind | str] | None = None
    ) -> list[SearchHit]:
        """Ids (and authors) containing ``text``, case-insensitive, best known first."""
        _check_bounds(None, limit)
        if not isinstance(text, str):
            raise InvalidArgumentError("search text must be a string")
        kinds_ = [k for k in (parse_kind(k) for k in kinds) if k] if kinds else None
        hits = self.index.search(text, limit, kinds_)
        return [SearchHit(**summary_fields(self.index, n)) for n in hits]

    def stats(self) -> Stats:
        a = self.index.a
        kinds = np.bincount(np.asarray(a.kind), minlength=len(KINDS_BY_CODE))
        rels = np.bincount(np.asarray(a.edge_rel), minlength=len(RELATIONS_BY_CODE))
        return Stats(
            nodes_by_kind={KINDS_BY_CODE[i].value: int(c) for i, c in enumerate(kinds)},
            stubs_by_kind={
                KINDS_BY_CODE[i].value: int(c)
                for i, c in enumerate(
                    np.bincount(
                        np.asarray(a.kind)[np.asarray(a.stub)], minlength=len(KINDS_BY_CODE)
                    )
                )
            },
            links_by_relation={RELATIONS_BY_CODE[i].value: int(c) for i, c in enumerate(rels) if c},
            declared_links=int(
                np.asarray(a.edge_declared)[
                    np.asarray(a.edge_rel) != RELATION_CODES[Relation.PUBLISHED_BY]
                ].sum()
            ),
            cycles=int(a.meta.get("cycles", 0)),
            nodes_in_cycles=int(a.meta.get("nodes_in_cycles", 0)),
            snapshots=[s for s in self.snapshots() if s["current"]],
            store=self.store.describe(),
        )

    # -- live refresh from the Hub API ---------------------------------------------------
    def refresh_family(
        self,
        model_id: str,
        *,
        depth: int = 1,
        token: str | None = None,
        endpoint: str | None = None,
        max_models: int = 10_000,
        backoff: float = 1.0,
    ) -> IngestReport:
        """Bring one family up to date from the Hub API (``huggingface_hub``): the model and
        its descendants down to ``depth`` generations, stored as a snapshot of source
        ``hub-api:<id>`` (see :mod:`filiation.sources.hub_api`)."""
        from filiation.sources import hub_api

        records = hub_api.fetch_family(
            model_id,
            depth=depth,
            token=token,
            endpoint=endpoint,
            max_models=max_models,
            backoff=backoff,
            progress=self._say,
        )
        return self.ingest(records)

    # -- rights requests (filiation.rights) ----------------------------------------------
    def _dossier_source(self, model: str | None, dataset: str | None) -> tuple[str, NodeKind]:
        if (model is None) == (dataset is None):
            raise InvalidArgumentError("give either a model or a data set, not both or neither")
        kind = NodeKind.MODEL if model is not None else NodeKind.DATASET
        node = self._node(model if model is not None else dataset, kind)  # type: ignore[arg-type]
        return self.index.a.id_of(node), kind

    def dossier(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        right: str = "erasure",
        relations: RelationsArg = None,
    ) -> Any:
        """The rights dossier of a request about ``model`` (it and all its descendants) or
        ``dataset`` (the models trained on it and theirs): affected models ranked by reach,
        with their path from the source, the publishers to contact and their follow-up."""
        from filiation.rights import dossier as rd
        from filiation.rights import followup

        right_ = rd.parse_right(right)
        source_id, kind = self._dossier_source(model, dataset)
        if kind is NodeKind.MODEL:
            lin = self.descendants(source_id, relations=relations)
        else:
            lin = self.impact(source_id, relations=relations)
        affected = rd.affected_set(source_id, kind.value, lin.nodes)
        publishers = rd.group_publishers(affected)
        rd.apply_followups(publishers, followup.events(self.store, kind.value, source_id, right_))
        return rd.Dossier(
            source_id=source_id,
            source_kind=kind.value,
            right=right_,
            article=rd.ARTICLES[right_],
            generated_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
            affected=affected,
            publishers=publishers,
            truncated=lin.truncated,
            snapshots=[s for s in self.snapshots() if s["current"]],
        )

    def dossier_letters(
        self, dossier: Any, lang: str = "en", publishers: Sequence[str] | None = None
    ) -> list[Any]:
        """One request letter per publisher of ``dossier`` (or of ``publishers`` only), in
        ``lang`` (en or fr)."""
        from filiation.rights.letters import letter

        chosen = (
            dossier.publishers
            if publishers is None
            else [dossier.publisher(name) for name in publishers]
        )
        return [letter(dossier, p, lang) for p in chosen]

    def export_dossier(self, dossier: Any, fmt: str, lang: str = "en") -> bytes:
        """``dossier`` as ``md``, ``csv``, ``pdf`` or ``json`` bytes."""
        from filiation.rights import exports
        from filiation.rights.letters import check_language

        check_language(lang)
        if fmt == "md":
            return exports.to_markdown(dossier, lang).encode()
        if fmt == "csv":
            return exports.to_csv(dossier).encode()
        if fmt == "pdf":
            return exports.to_pdf(dossier, lang)
        if fmt == "json":
            return dossier.model_dump_json(indent=2).encode()
        raise InvalidArgumentError(f"unknown format {fmt!r}; use one of: md, csv, pdf, json")

    def follow_up(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        right: str = "erasure",
        publisher: str,
        status: str,
        ground: str | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> Any:
        """Record where the request to ``publisher`` stands (sent, answered, refused...)."""
        from filiation.rights import dossier as rd
        from filiation.rights import followup

        status_ = rd.parse_status(status)
        current = self.dossier(model=model, dataset=dataset, right=right)
        entry = current.publisher(publisher)
        return followup.record(
            self.store,
            current.source_kind,
            current.source_id,
            current.right,
            entry.name,
            status_,
            ground=ground,
            note=note,
            at=at,
        )

    # -- history and watch ------------------------------------------------------------------
    def diff(
        self, since: datetime | str, node_id: str | None = None, *, source: str | None = None
    ) -> Any:
        """What appeared, disappeared or changed parents (in ``node_id``'s family, or
        everywhere) between the snapshots of ``since`` and the current ones (of every source,
        or of ``source`` only, e.g. ``hub-api:<id>``)."""
        from filiation.rights import history

        when = _parse_when(since)
        root = self.resolve(node_id) if node_id is not None else None
        return history.diff(self.store, when, root, source)

    @property
    def watch(self) -> WatchList:
        """The watch list (add, list, remove, check): new descendants since the last check."""
        return WatchList(self)


class WatchList:
    """Models and data sets followed over time, stored with what their last check saw."""

    def __init__(self, genealogy: Genealogy) -> None:
        self.g = genealogy

    def _family(self, node_id: str, kind: str) -> list[dict[str, Any]]:
        lin = self.g.descendants(node_id) if kind == "model" else self.g.impact(node_id)
        return [n for n in lin.nodes if n["depth"] > 0 and n["kind"] == "model"]

    def add(self, node_id: str, kind: NodeKind | str | None = None) -> Any:
        from filiation.rights import watch

        node = self.g._node(node_id, parse_kind(kind))
        kind_ = KINDS_BY_CODE[int(self.g.index.a.kind[node])]
        if kind_ is NodeKind.AUTHOR:
            raise InvalidArgumentError("watch a model or a data set, not an author")
        resolved = self.g.index.a.id_of(node)
        known = [n["id"].lower() for n in self._family(resolved, kind_.value)]
        return watch.add(self.g.store, kind_.value, resolved, known)

    def list(self) -> list[Any]:
        from filiation.rights import watch

        return [w for w, _ in watch.rows(self.g.store)]

    def remove(self, node_id: str) -> None:
        from filiation.rights import watch

        watch.remove(self.g.store, node_id)

    def check(self, post: str | None = None) -> list[Any]:
        """New descendants of each watched id since its last check (then remembered);
        with ``post``, the report is POSTed as JSON first."""
        from filiation.rights import watch

        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        reports: list[Any] = []
        seen_now: list[tuple[str, list[str]]] = []
        for item, known in watch.rows(self.g.store):
            try:
                family = self._family(item.id, item.kind)
            except NodeNotFoundError:
                family = []  # gone from the genealogy: nothing new below it
            new = [
                watch.NewDescendant(
                    id=n["id"],
                    author=n["author"],
                    depth=n["depth"],
                    relation=n["relation"],
                    via=n["via"],
                )
                for n in family
                if n["id"].lower() not in known
            ]
            reports.append(
                watch.WatchReport(id=item.id, kind=item.kind, since=item.checked_at, new=new)
            )
            seen_now.append((item.id, [n["id"].lower() for n in family]))
        if post is not None:
            watch.post(post, reports, now)
        for node_id, family_keys in seen_now:
            watch.save_check(self.g.store, node_id, family_keys, now)
        return reports


def _parse_when(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    try:
        when = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidArgumentError(
            f"not an ISO date: {value!r} (e.g. 2026-11-01 or 2026-11-01T12:00)"
        ) from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _opt(value: Any) -> int | None:
    v = int(value)
    return None if v == NULL_INT else v


def open(db: str | os.PathLike[str] | None = None, *, load_bundled: bool = True) -> Genealogy:
    """Open the genealogy stored at ``db`` (a path or SQLAlchemy URL; default: see
    :func:`default_db`)."""
    return Genealogy(db, load_bundled=load_bundled)
