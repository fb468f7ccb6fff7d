"""What every source produces: two Arrow tables (nodes, links) and a report of what it kept.

Sources never write to the store themselves; they turn a file or an API answer into these
records, so the store has one write path and every source is testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

NODE_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("key", pa.string()),
        ("id", pa.string()),
        ("author", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("last_modified", pa.timestamp("us")),
        ("pipeline_tag", pa.string()),
        ("library_name", pa.string()),
        ("license", pa.string()),
        ("downloads", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
        ("trending_score", pa.float64()),
        ("parameters", pa.int64()),
        ("extra", pa.string()),
    ]
)

LINK_SCHEMA = pa.schema(
    [
        ("child_kind", pa.string()),
        ("child_key", pa.string()),
        ("child_id", pa.string()),
        ("parent_kind", pa.string()),
        ("parent_key", pa.string()),
        ("parent_id", pa.string()),
        ("relation", pa.string()),
        ("declared", pa.bool_()),
        ("evidence", pa.string()),
    ]
)


@dataclass
class IngestReport:
    """Counts of what a source kept and skipped, and why; printed after every ingest."""

    source: str
    label: str
    rows_read: int = 0
    nodes: int = 0
    links: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    snapshot_id: int | None = None

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(count)

    def note(self, what: str, count: int = 1) -> None:
        if count:
            self.notes[what] = self.notes.get(what, 0) + int(count)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "label": self.label,
            "snapshot_id": self.snapshot_id,
            "rows_read": self.rows_read,
            "nodes": self.nodes,
            "links": self.links,
            "skipped": dict(sorted(self.skipped.items())),
            "notes": dict(sorted(self.notes.items())),
        }


@dataclass
class Records:
    """A source's whole contribution, ready to become one snapshot."""

    source: str
    label: str
    taken_at: datetime | None
    nodes: pa.Table
    links: pa.Table
    report: IngestReport


def empty_nodes() -> pa.Table:
    return NODE_SCHEMA.empty_table()


def empty_links() -> pa.Table:
    return LINK_SCHEMA.empty_table()
