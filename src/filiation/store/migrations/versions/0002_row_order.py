"""Rows keep their position in the snapshot (``seq``), for PostgreSQL.

PostgreSQL's tables return rows in no particular order (a bulk COPY fills free space where it
finds it), while the lineage index breaks ties by the order the source produced the rows.
The store writes each row's position on PostgreSQL and reads the rows back in that order;
SQLite keeps insertion order in its rowid and leaves the column empty. Older filiations read
such a store unchanged, so the schema version stays 1.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("nodes", sa.Column("seq", sa.BigInteger))
    op.add_column("links", sa.Column("seq", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("seq")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("seq")
