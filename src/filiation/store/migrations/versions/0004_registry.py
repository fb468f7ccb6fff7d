"""The registry: an organisation's AI systems and models, users, tokens and history.

Tables of ``schema.py``'s registry section. The history table is append-only: triggers
refuse ``UPDATE`` and ``DELETE`` on it, on SQLite and PostgreSQL alike.
"""

import sqlalchemy as sa
from alembic import op

from filiation.store.migrations.columns import record_dates, record_name, serial_id

revision = "0004"
down_revision = "0003"

PG_FUNCTION = """
CREATE FUNCTION registry_history_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'registry_history is append-only';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "registry_users",
        serial_id(),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("disabled_at", sa.DateTime),
    )
    op.create_table(
        "registry_tokens",
        serial_id(),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("registry_users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_table(
        "registry_models",
        *record_name(),
        sa.Column("description", sa.Text),
        sa.Column("learning_type", sa.String(32)),
        sa.Column("provider", sa.Text),
        sa.Column("version", sa.Text),
        sa.Column("model_card_url", sa.Text),
        sa.Column("repository_url", sa.Text),
        sa.Column("open_weights", sa.Boolean, nullable=False),
        sa.Column("weights_url", sa.Text),
        sa.Column("updated_on", sa.DateTime),
        sa.Column("training_datasets", sa.Text, nullable=False),
        sa.Column("personal_data", sa.Boolean, nullable=False),
        sa.Column("hub_id", sa.Text),
        sa.Column("derived_from", sa.Integer, sa.ForeignKey("registry_models.id")),
        sa.Column("derived_relation", sa.String(32)),
        *record_dates(),
    )
    op.create_table(
        "registry_systems",
        *record_name(),
        sa.Column("purpose", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *record_dates(),
    )
    op.create_table(
        "registry_uses",
        sa.Column("system_id", sa.Integer, sa.ForeignKey("registry_systems.id"), primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registry_models.id"), primary_key=True),
        sa.Column("usage", sa.Text, nullable=False),
        sa.Column("removed_at", sa.DateTime),
    )
    op.create_table(
        "registry_datasets",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("personal_data", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "registry_history",
        serial_id(),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("record_kind", sa.String(16), nullable=False),
        sa.Column("record_key", sa.String(300), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )
    op.create_index("registry_history_record", "registry_history", ["record_kind", "record_key"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER registry_history_append_only BEFORE UPDATE OR DELETE "
            "ON registry_history FOR EACH ROW EXECUTE FUNCTION registry_history_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER registry_history_no_{event.lower()} BEFORE {event} "
                "ON registry_history BEGIN SELECT RAISE(ABORT, "
                "'registry_history is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS registry_history_append_only ON registry_history")
        op.execute("DROP FUNCTION IF EXISTS registry_history_append_only()")
    for table in (
        "registry_history",
        "registry_datasets",
        "registry_uses",
        "registry_systems",
        "registry_models",
        "registry_tokens",
        "registry_users",
    ):
        op.drop_table(table)
