"""Registered models say how their origin is known; training runs are recorded.

``registry_models`` gains ``derived_provenance`` (``declared`` by a person or a training
callback, ``inferred`` by filiation from a file on disk) and ``derived_evidence`` (the file
and field, or the callback, that said so). ``registry_training_runs`` keeps each training run
recorded by the training callbacks (``filiation.training``): framework, base model, data
sets, hyper-parameters, metrics and the six steps of making a model, as JSON text. The
derivations recorded before were typed by people: they become ``declared``. Older
filiations read the models' other columns and ignore the new table, so the schema version
stays 1.
"""

import sqlalchemy as sa
from alembic import op

from filiation.store.migrations.columns import serial_id

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("registry_models") as batch:
        batch.add_column(sa.Column("derived_provenance", sa.String(16)))
        batch.add_column(sa.Column("derived_evidence", sa.Text))
    # Until now every derivation was typed by a person (a form, the CLI, an inventory CSV).
    op.execute(
        "UPDATE registry_models SET derived_provenance = 'declared' WHERE derived_from IS NOT NULL"
    )
    op.create_table(
        "registry_training_runs",
        serial_id(),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registry_models.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("framework", sa.String(32), nullable=False),
        sa.Column("base_model", sa.Text),
        sa.Column("datasets", sa.Text, nullable=False),
        sa.Column("hyper_parameters", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("steps", sa.Text, nullable=False),
        sa.Column("output_dir", sa.Text),
    )
    op.create_index("registry_training_runs_model", "registry_training_runs", ["model_id"])


def downgrade() -> None:
    op.drop_index("registry_training_runs_model", "registry_training_runs")
    op.drop_table("registry_training_runs")
    with op.batch_alter_table("registry_models") as batch:
        batch.drop_column("derived_evidence")
        batch.drop_column("derived_provenance")
