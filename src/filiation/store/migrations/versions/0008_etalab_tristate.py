"""Registered models may leave "open" and "personal data" unstated, and keep unknown columns.

An inventory that leaves ``modele_entraine_ouvert`` or ``donnees_personnelles_entrainement``
blank does not say "no". ``registry_models.unstated`` names the yes/no fields whose answer is
not stated (``open_weights,personal_data``); their boolean columns then hold false, which is
what older filiations read. (Making the columns nullable would make SQLite copy the table,
which the other registry tables reference: adding a column changes nothing for them.)
``extra`` keeps, as JSON text, the columns of an imported inventory that filiation does not
know, so that an export gives them back. Older filiations ignore both: the schema version
stays 1.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("registry_models") as batch:
        batch.add_column(sa.Column("unstated", sa.Text))
        batch.add_column(sa.Column("extra", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("registry_models") as batch:
        batch.drop_column("extra")
        batch.drop_column("unstated")
