"""Ingest orchestration: a source's records become a snapshot of the store and, in the same
pass, the lineage index of the new genealogy, published to the :class:`IndexCache`.

The sources themselves (``filiation.sources``) only read; the store only writes; this module
runs the two side by side and decides what to keep (``$FILIATION_KEEP_SNAPSHOTS``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

import pyarrow as pa

from filiation.service.defaults import BUNDLED_LABEL, bundled_snapshot, keep_snapshots
from filiation.service.index_cache import (
    IndexCache,
    Say,
    index_lock,
    source_priority,
    staging_folder,
)
from filiation.sources.records import IngestReport, Records, empty_links, empty_nodes
from filiation.store import snapshot_cache
from filiation.store.store import Store

if TYPE_CHECKING:
    from filiation.sources.hub_api import FamilyOptions
    from filiation.sources.local_folder import ScanResult

#: A snapshot of at most this many rows (nodes and links) is applied as a delta over the
#: index of the previous snapshots (``lineage/delta/``) when that index is at hand.
DELTA_MAX_ROWS = 250_000


class Ingester:
    """Writes sources' records to the store as snapshots and publishes their index."""

    def __init__(self, store: Store, cache: IndexCache, say: Say) -> None:
        self.store = store
        self.cache = cache
        self._say = say
        self.keep_snapshots = keep_snapshots()

    def bundled_records(self) -> Records:
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

        source = Path(path) if path is not None else self.download_hub_stats()
        scan = hub_stats.open_dump(source)
        return self._ingest_stream(
            scan.report,
            hub_stats.SOURCE,
            str(source),
            scan.taken_at,
            hub_stats.batches(scan, progress=progress),
            rows=len(scan.keep),
        )

    def download_hub_stats(self) -> Path:
        """Fetch the Hub's current metadata dump (saying so first: it is large), to ingest."""
        from filiation.sources import hub_stats

        self._say(f"Downloading {hub_stats.HUB_STATS_REPO}/{hub_stats.HUB_STATS_FILE}…")
        return hub_stats.download()

    def scan(self, path: str | os.PathLike[str], *, weights: bool = False) -> ScanResult:
        """Models found under ``path`` (a model folder, a tree of them or the Hugging Face
        cache) and what each derives from, with the file that says so; nothing is stored.
        With ``weights``, the links the weights show are added (``source="weights"``)."""
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

        result = scan if isinstance(scan, local_folder.ScanResult) else local_folder.scan(scan)
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

        current = self.store.current_snapshots()
        others = [s for s in current if s.source != source]
        base = self.cache.covering(current) if rows <= DELTA_MAX_ROWS else None
        replaced = [s for s in current if s.source == source]
        node_parts: list[pa.Table] = []
        link_parts: list[pa.Table] = []
        publishing = contextlib.ExitStack()
        # A copy for the next rebuild of the index, of the very parts the store gets, named
        # once the commit gives the snapshot its id (see store/snapshot_cache.py).
        staged = snapshot_cache.Staged(self.store.index_dir())
        publishing.callback(staged.discard)  # unless published below
        with (
            publishing,
            open_writer(self.store, source, label, taken_at, rows, staged.add) as writer,
        ):
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
            if base is not None and new.nodes.num_rows + new.links.num_rows <= DELTA_MAX_ROWS:
                # A small change: patch the index of the previous snapshots, reading only
                # the other snapshots' rows about the ids the change names.
                from filiation.lineage.delta import apply_delta, touched_keys

                old = [self.cache.read_snapshot(s) for s in replaced]
                keys = touched_keys((new.nodes, new.links), *((t.nodes, t.links) for t in old))
                tables = [new, *(self.cache.read_snapshot(s, keys) for s in others)]
                tables.sort(key=lambda t: source_priority(t.source, t.snapshot_id or 1 << 62))
                del new, old
                staging = publishing.enter_context(staging_folder(self.store.index_dir()))
                arrays = apply_delta(base, tables, keys, step=self._say, folder=staging)
            else:
                tables = [new, *(self.cache.read_snapshot(s) for s in others)]
                tables.sort(key=lambda t: source_priority(t.source, t.snapshot_id or 1 << 62))
                del new  # build() empties `tables`, freeing the parsed rows as it goes
                self._say("indexing")
                arrays = build(tables, step=self._say)
            del base
            self._say("waiting for the store to commit")
            # From the commit until the index is published, other processes that see the
            # new snapshot wait for this index rather than build it themselves.
            publishing.enter_context(index_lock(self.store.index_dir()))
            snap_id = writer.commit(report.as_dict())
            report.snapshot_id = snap_id
            committed = next((x for x in self.store.snapshots() if x.id == snap_id), None)
            if committed is not None:
                staged.publish(committed)
            arrays.vocab["sources"] = [
                lbl.replace("#0", f"#{snap_id}") if lbl == f"{source}#0" else lbl
                for lbl in arrays.vocab["sources"]
            ]
            self.cache.publish(arrays)
        self.store.prune(keep=self.keep_snapshots)
        snapshot_cache.prune(self.store.index_dir(), self.store.snapshots())
        if committed is not None:  # the by-key files a delta over a big snapshot reads
            snapshot_cache.index_keys(self.store.index_dir(), committed)
        return report

    def refresh_family(self, model_id: str, **options: Unpack[FamilyOptions]) -> IngestReport:
        """Bring one family up to date from the Hub API (``huggingface_hub``): the model and
        its descendants down to ``depth`` generations, stored as a snapshot of source
        ``hub-api:<id>`` (see :mod:`filiation.sources.hub_api`)."""
        from filiation.sources import hub_api

        records = hub_api.fetch_family(model_id, progress=self._say, **options)
        return self.ingest(records)
