"""Verdicts of ``filiation verify``: weight evidence from the Hub on a link.

``verifications`` keeps one row per verification of a (child, parent) link: where the
evidence came from (``source``, e.g. ``weights:hub``), the verdict (confirmed, rejected,
inconclusive), the test's statistic, the details as JSON text (the statistic's name and
threshold, the tensors read, the relation found), the bytes read from the Hub and when.
Suspects are links of a snapshot, which are replaced at each ``infer``: the verdicts live
apart, keyed by the two ids, so they survive a new snapshot. A new table that older
filiations ignore: the schema version stays 1.
"""

import sqlalchemy as sa
from alembic import op

from filiation.store.migrations.columns import node_ref, serial_id

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "verifications",
        serial_id(),
        sa.Column("source", sa.String(64), nullable=False),
        *node_ref("child_", kind=False),
        *node_ref("parent_", kind=False),
        sa.Column("relation", sa.String(32)),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("statistic", sa.Float),
        sa.Column("detail", sa.Text),
        sa.Column("bytes_read", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("verifications_child", "verifications", ["child_key", "parent_key"])


def downgrade() -> None:
    op.drop_index("verifications_child", "verifications")
    op.drop_table("verifications")
