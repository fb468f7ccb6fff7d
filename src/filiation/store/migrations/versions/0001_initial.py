"""The initial schema: snapshots, nodes, links and filiation_meta.

Equal to the tables filiation created before it used migrations (a store of that time is
stamped with this revision when it is first opened).
"""

import sqlalchemy as sa
from alembic import op

from filiation.store.migrations.columns import node_ref, serial_id

revision = "0001"
down_revision = None


def upgrade() -> None:
    meta = op.create_table(
        "filiation_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "snapshots",
        serial_id(),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("taken_at", sa.DateTime),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("report", sa.Text),
    )
    # No primary key on purpose (see schema.py).
    op.create_table(
        "nodes",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id"), nullable=False),
        *node_ref(),
        sa.Column("author", sa.Text),
        sa.Column("created_at", sa.DateTime),
        sa.Column("last_modified", sa.DateTime),
        sa.Column("pipeline_tag", sa.Text),
        sa.Column("library_name", sa.Text),
        sa.Column("license", sa.Text),
        sa.Column("downloads", sa.BigInteger),
        sa.Column("downloads_all_time", sa.BigInteger),
        sa.Column("likes", sa.BigInteger),
        sa.Column("trending_score", sa.Float),
        sa.Column("parameters", sa.BigInteger),
        sa.Column("extra", sa.Text),
    )
    op.create_index("nodes_snapshot", "nodes", ["snapshot_id"])
    op.create_index(
        "nodes_extra",
        "nodes",
        ["snapshot_id", "kind", "key"],
        sqlite_where=sa.text("extra IS NOT NULL"),
        postgresql_where=sa.text("extra IS NOT NULL"),
    )
    op.create_table(
        "links",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id"), nullable=False),
        *node_ref("child_"),
        *node_ref("parent_"),
        sa.Column("relation", sa.String(32), nullable=False),
        sa.Column("declared", sa.Boolean, nullable=False),
        sa.Column("evidence", sa.Text),
    )
    op.create_index("links_snapshot", "links", ["snapshot_id"])
    op.bulk_insert(meta, [{"name": "schema_version", "value": "1"}])


def downgrade() -> None:
    op.drop_table("links")
    op.drop_table("nodes")
    op.drop_table("snapshots")
    op.drop_table("filiation_meta")
