"""Registered models may leave "open" and "personal data" unstated, and keep unknown columns.

An inventory that leaves ``modele_entraine_ouvert`` or ``donnees_personnelles_entrainement``
blank does not say "no": ``registry_models.open_weights`` and ``personal_data`` become
nullable (NULL is "not stated"; the values recorded before stay as they were). ``extra``
keeps, as JSON text, the columns of an imported inventory that filiation does not know, so
that an export gives them back. Older filiations read NULL as false and ignore ``extra``:
the schema version stays 1.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_models") as batch:
        batch.alter_column("open_weights", existing_type=sa.Boolean, nullable=True)
        batch.alter_column("personal_data", existing_type=sa.Boolean, nullable=True)
        batch.add_column(sa.Column("extra", sa.Text))


def downgrade() -> None:
    op.execute("UPDATE registry_models SET open_weights = false WHERE open_weights IS NULL")
    op.execute("UPDATE registry_models SET personal_data = false WHERE personal_data IS NULL")
    with op.batch_alter_table("registry_models") as batch:
        batch.drop_column("extra")
        batch.alter_column("personal_data", existing_type=sa.Boolean, nullable=False)
        batch.alter_column("open_weights", existing_type=sa.Boolean, nullable=False)
