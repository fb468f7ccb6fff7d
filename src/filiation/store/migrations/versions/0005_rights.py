"""Rights requests (dossiers and their follow-up per publisher) and the watch list.

These tables hold what people record (a letter sent, an answer, a refusal and its ground; the
models they follow), not what sources say: snapshots come and go, these rows stay. Older
filiations ignore tables they do not know, so the schema version stays 1.
"""

import sqlalchemy as sa
from alembic import op

from filiation.store.migrations.columns import node_ref, serial_id

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "rights_dossiers",
        serial_id(),
        *node_ref("source_"),
        sa.Column("right", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index(
        "rights_dossiers_source",
        "rights_dossiers",
        ["source_kind", "source_key", "right"],
        unique=True,
    )
    op.create_table(
        "rights_followups",
        serial_id(),
        sa.Column("dossier_id", sa.Integer, sa.ForeignKey("rights_dossiers.id"), nullable=False),
        sa.Column("publisher", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ground", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("rights_followups_dossier", "rights_followups", ["dossier_id", "publisher"])
    op.create_table(
        "watches",
        serial_id(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("node_id", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("checked_at", sa.DateTime),
        sa.Column("known", sa.Text),
    )
    op.create_index("watches_node", "watches", ["kind", "key"], unique=True)


def downgrade() -> None:
    op.drop_index("watches_node", "watches")
    op.drop_table("watches")
    op.drop_index("rights_followups_dossier", "rights_followups")
    op.drop_table("rights_followups")
    op.drop_index("rights_dossiers_source", "rights_dossiers")
    op.drop_table("rights_dossiers")
