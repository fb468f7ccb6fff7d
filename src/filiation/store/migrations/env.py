"""Alembic's entry point for filiation's migrations.

They run on the connection :func:`filiation.store.migrations.upgrade` hands over (inside the
transaction the store holds), never on a URL of their own: ``Store(url)`` or
``python -m filiation.store.migrate --db URL`` run them.
"""

from __future__ import annotations

from alembic import context

from filiation.store import schema

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "filiation's migrations run through filiation itself: "
        "python -m filiation.store.migrate --db URL"
    )
context.configure(connection=connection, target_metadata=schema.metadata)
with context.begin_transaction():
    context.run_migrations()
