"""Snapshots stored as a few compressed Arrow parts instead of one SQL row per node or link.

``snapshot_parts`` holds, per snapshot and table (``rows_of``: ``nodes`` or ``links``), the
rows as zstd-compressed Arrow IPC streams, numbered in the order the source produced them.
Storing the full Hub (4.3 million rows) one row at a time was the slowest step of an ingest
(issue 17). Snapshots written before this migration keep their rows in ``nodes`` and
``links``, which are still read for them: nothing is converted. An older filiation would
see the newer snapshots as empty, so the schema version becomes 2 (it refuses the store).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "snapshot_parts",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id"), primary_key=True),
        sa.Column("rows_of", sa.String(16), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.execute("UPDATE filiation_meta SET value = '2' WHERE name = 'schema_version'")


def downgrade() -> None:
    """Back to one row per node and link: every part becomes rows again (the node rows with
    ``extra``, which were written both ways, are replaced by the parts' copy)."""
    import pyarrow as pa

    conn = op.get_bind()
    parts = sa.Table("snapshot_parts", sa.MetaData(), autoload_with=conn)
    snaps = [s for (s,) in conn.execute(sa.select(parts.c.snapshot_id).distinct())]
    tables = {
        name: sa.Table(name, sa.MetaData(), autoload_with=conn) for name in ("nodes", "links")
    }
    for snap in snaps:
        conn.execute(tables["nodes"].delete().where(tables["nodes"].c.snapshot_id == snap))
        for name, table in tables.items():
            seq = 0
            query = (
                sa.select(parts.c.data)
                .where(parts.c.snapshot_id == snap, parts.c.rows_of == name)
                .order_by(parts.c.part)
            )
            for (data,) in conn.execute(query).all():
                rows = pa.ipc.open_stream(pa.py_buffer(data)).read_all().to_pylist()
                for row in rows:
                    row["snapshot_id"] = snap
                    row["seq"] = seq
                    seq += 1
                if rows:
                    conn.execute(table.insert(), rows)
    op.execute("UPDATE filiation_meta SET value = '1' WHERE name = 'schema_version'")
    op.drop_table("snapshot_parts")
