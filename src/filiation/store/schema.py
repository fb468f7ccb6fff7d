"""The store's tables: dated snapshots of nodes and links, one row per fact and source.

The store is the record of what each source said and when; it is not queried for lineage
(the in-memory index is). It keeps whole snapshots so that an ingest is one transaction and
two snapshots can be compared later.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

#: Bumped only by a migration that older filiations cannot read (they refuse such a store);
#: the Alembic revision (``filiation.store.migrations.HEAD``) follows every change.
SCHEMA_VERSION = 1

metadata = MetaData()

meta = Table(
    "filiation_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("label", Text, nullable=False),
    Column("taken_at", DateTime),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),
    Column("report", Text),
)

# No primary key on purpose: sources deduplicate ids before writing, and a B-tree on
# (snapshot, kind, key) would double the cost of storing the 3 million rows of a full dump.
# On PostgreSQL, nodes and links have no foreign key either (migration 0003: its check per
# row tripled the cost of a bulk COPY); the store keeps the reference by construction.
nodes = Table(
    "nodes",
    metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("key", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("author", Text),
    Column("created_at", DateTime),
    Column("last_modified", DateTime),
    Column("pipeline_tag", Text),
    Column("library_name", Text),
    Column("license", Text),
    Column("downloads", BigInteger),
    Column("downloads_all_time", BigInteger),
    Column("likes", BigInteger),
    Column("trending_score", Float),
    Column("parameters", BigInteger),
    Column("extra", Text),
    # The row's position in its snapshot, written on PostgreSQL, whose tables keep no
    # insertion order (SQLite's rowid does): reading a snapshot back gives the rows in the
    # order the source produced them, on which the index's tie-breaks depend.
    Column("seq", BigInteger),
    Index("nodes_snapshot", "snapshot_id"),
    # Only rows with source-specific fields are looked up one by one (``show``).
    Index(
        "nodes_extra",
        "snapshot_id",
        "kind",
        "key",
        sqlite_where=text("extra IS NOT NULL"),
        postgresql_where=text("extra IS NOT NULL"),
    ),
)

links = Table(
    "links",
    metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
    Column("child_kind", String(16), nullable=False),
    Column("child_key", Text, nullable=False),
    Column("child_id", Text, nullable=False),
    Column("parent_kind", String(16), nullable=False),
    Column("parent_key", Text, nullable=False),
    Column("parent_id", Text, nullable=False),
    Column("relation", String(32), nullable=False),
    Column("declared", Boolean, nullable=False),
    Column("evidence", Text),
    Column("seq", BigInteger),
    Index("links_snapshot", "snapshot_id"),
)

NODE_COLUMNS = [c.name for c in nodes.columns if c.name not in ("snapshot_id", "seq")]
LINK_COLUMNS = [c.name for c in links.columns if c.name not in ("snapshot_id", "seq")]

# -- rights requests and watches (migration 0005) ------------------------------------------
# Small tables written by people, not by sources: they outlive every snapshot, so they refer
# to models by id (lower-case key), never by snapshot row.

#: One rights request: a source (model or data set) and the right exercised.
rights_dossiers = Table(
    "rights_dossiers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_kind", String(16), nullable=False),
    Column("source_key", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("right", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("rights_dossiers_source", "source_kind", "source_key", "right", unique=True),
)

#: The follow-up of a dossier, one row per change of state of one publisher (the newest row
#: is the current state; the others are its dated history).
rights_followups = Table(
    "rights_followups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dossier_id", Integer, ForeignKey("rights_dossiers.id"), nullable=False),
    Column("publisher", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ground", Text),
    Column("note", Text),
    Column("at", DateTime, nullable=False),
    Index("rights_followups_dossier", "dossier_id", "publisher"),
)

#: Models and data sets someone follows; ``known`` is the JSON list of the descendants (lower
#: case) seen at the last check, so the next check reports only new ones.
watches = Table(
    "watches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("key", Text, nullable=False),
    Column("node_id", Text, nullable=False),
    Column("added_at", DateTime, nullable=False),
    Column("checked_at", DateTime),
    Column("known", Text),
    Index("watches_node", "kind", "key", unique=True),
)
