"""The store's tables: dated snapshots of nodes and links, one row per fact and source.

The store is the record of what each source said and when; it is not queried for lineage
(the in-memory index is). It keeps whole snapshots so that an ingest is one transaction and
two snapshots can be compared later. The columns many tables share (a serial id, a
node's kind/key/id, a registry record's name and dates) come from the helpers the migrations
use, :mod:`filiation.store.migrations.columns`: the tables read as the migrations made them.
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
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

# SCHEMA_VERSION lives beside HEAD, which a store's open reads without SQLAlchemy.
from filiation.store.migrations import SCHEMA_VERSION as SCHEMA_VERSION
from filiation.store.migrations.columns import node_ref, record_dates, record_name, serial_id

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
    serial_id(),
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
    *node_ref(),
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
    *node_ref("child_"),
    *node_ref("parent_"),
    Column("relation", String(32), nullable=False),
    Column("declared", Boolean, nullable=False),
    Column("evidence", Text),
    Column("seq", BigInteger),
    Index("links_snapshot", "snapshot_id"),
)

# Migration 0009: a snapshot's rows as a few zstd-compressed Arrow IPC streams ("parts", in
# order) rather than one SQL row per node or link. Storing 4.3 million rows of the full Hub
# one by one (``executemany``, about 6 µs a row) was the slowest step of an ingest; a few
# hundred blobs take a second or two, and read back as Arrow without Python objects. Only
# the node rows with source-specific fields (``extra``), which ``show`` looks up one by one,
# are also written to ``nodes``; snapshots written before 0009 keep their rows in ``nodes``
# and ``links`` and are read from there.
snapshot_parts = Table(
    "snapshot_parts",
    metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), primary_key=True),
    Column("rows_of", String(16), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("row_count", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

NODE_COLUMNS = [c.name for c in nodes.columns if c.name not in ("snapshot_id", "seq")]
LINK_COLUMNS = [c.name for c in links.columns if c.name not in ("snapshot_id", "seq")]

# -- the registry (migration 0004): an organisation's AI systems and models -------------------
# Records are never deleted: retiring sets ``retired_at``. Registered models and systems are
# named; ``key`` is the name lower-cased, unique, so that names are matched as ids are.
registry_users = Table(
    "registry_users",
    metadata,
    serial_id(),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text),
    Column("created_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),
)

# API tokens (kind "api") and web sessions (kind "session", with their CSRF token): only a
# SHA-256 digest of the secret is kept.
registry_tokens = Table(
    "registry_tokens",
    metadata,
    serial_id(),
    Column("user_id", Integer, ForeignKey("registry_users.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", Text),
    Column("digest", String(64), nullable=False, unique=True),
    Column("csrf", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Column("revoked_at", DateTime),
)

registry_models = Table(
    "registry_models",
    metadata,
    *record_name(),
    Column("description", Text),
    Column("learning_type", String(32)),
    Column("provider", Text),
    Column("version", Text),
    Column("model_card_url", Text),
    Column("repository_url", Text),
    Column("open_weights", Boolean, nullable=False),
    Column("weights_url", Text),
    Column("updated_on", DateTime),
    Column("training_datasets", Text, nullable=False),
    Column("personal_data", Boolean, nullable=False),
    Column("hub_id", Text),
    Column("derived_from", Integer, ForeignKey("registry_models.id")),
    Column("derived_relation", String(32)),
    *record_dates(),
    # Migration 0006: how the derivation is known — "declared" (a person, a training
    # callback) or "inferred" (read by filiation from a file on disk) — and what said so.
    Column("derived_provenance", String(16)),
    Column("derived_evidence", Text),
    # Migration 0008: the yes/no fields whose answer is not stated (comma-separated; their
    # columns hold false), and an imported inventory's columns filiation does not know (JSON).
    Column("unstated", Text),
    Column("extra", Text),
)

registry_systems = Table(
    "registry_systems",
    metadata,
    *record_name(),
    Column("purpose", Text),
    Column("owner", Text),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    *record_dates(),
)

# A system uses a model, with the usage description; detaching sets ``removed_at``.
registry_uses = Table(
    "registry_uses",
    metadata,
    Column("system_id", Integer, ForeignKey("registry_systems.id"), primary_key=True),
    Column("model_id", Integer, ForeignKey("registry_models.id"), primary_key=True),
    Column("usage", Text, nullable=False),
    Column("removed_at", DateTime),
)

# Data sets the organisation flagged (personal data), by id lower-cased.
registry_datasets = Table(
    "registry_datasets",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("id", Text, nullable=False),
    Column("personal_data", Boolean, nullable=False),
    Column("note", Text),
)

# Append-only (triggers refuse UPDATE and DELETE): who changed what, when, before and after.
registry_history = Table(
    "registry_history",
    metadata,
    serial_id(),
    Column("at", DateTime, nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("record_kind", String(16), nullable=False),
    Column("record_key", String(300), nullable=False),
    Column("action", String(16), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Index("registry_history_record", "record_kind", "record_key"),
)

# One training run recorded by a training callback (migration 0006): the JSON columns hold
# the data sets (list), hyper-parameters and metrics (objects) and the six steps of making a
# model (list of {step, at, details}).
registry_training_runs = Table(
    "registry_training_runs",
    metadata,
    serial_id(),
    Column("model_id", Integer, ForeignKey("registry_models.id"), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("framework", String(32), nullable=False),
    Column("base_model", Text),
    Column("datasets", Text, nullable=False),
    Column("hyper_parameters", Text, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("steps", Text, nullable=False),
    Column("output_dir", Text),
    Index("registry_training_runs_model", "model_id"),
)

# -- rights requests and watches (migration 0005) ------------------------------------------
# Small tables written by people, not by sources: they outlive every snapshot, so they refer
# to models by id (lower-case key), never by snapshot row.

#: One rights request: a source (model or data set) and the right exercised.
rights_dossiers = Table(
    "rights_dossiers",
    metadata,
    serial_id(),
    *node_ref("source_"),
    Column("right", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("rights_dossiers_source", "source_kind", "source_key", "right", unique=True),
)

#: The follow-up of a dossier, one row per change of state of one publisher (the newest row
#: is the current state; the others are its dated history).
rights_followups = Table(
    "rights_followups",
    metadata,
    serial_id(),
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
    serial_id(),
    Column("kind", String(16), nullable=False),
    Column("key", Text, nullable=False),
    Column("node_id", Text, nullable=False),
    Column("added_at", DateTime, nullable=False),
    Column("checked_at", DateTime),
    Column("known", Text),
    Index("watches_node", "kind", "key", unique=True),
)

# -- weight evidence from the Hub (migration 0007) --------------------------------------------
#: One row per ``filiation verify`` of a (child, parent) link: the verdict of the weights test
#: on tensors read from the Hub by byte ranges, its statistic, and what it cost. A suspect's
#: newest row is its current verdict; older rows are its history (a link may be re-verified
#: after the model changed).
verifications = Table(
    "verifications",
    metadata,
    serial_id(),
    Column("source", String(64), nullable=False),
    *node_ref("child_", kind=False),
    *node_ref("parent_", kind=False),
    Column("relation", String(32)),
    Column("verdict", String(16), nullable=False),
    Column("statistic", Float),
    Column("detail", Text),
    Column("bytes_read", BigInteger, nullable=False),
    Column("at", DateTime, nullable=False),
    Index("verifications_child", "child_key", "parent_key"),
)
