"""Columns that many tables of the migrations declare alike.

A migration must keep its effect once applied, so these helpers never change: a table that
needs other columns declares them itself (or a new helper is added here).
"""

from __future__ import annotations

import sqlalchemy as sa


def serial_id() -> sa.Column:
    """The numbered primary key ``id`` of a table of records."""
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def node_ref(prefix: str = "", *, kind: bool = True) -> list[sa.Column]:
    """The columns naming a node of the genealogy: its kind, its key (the lower-cased id,
    unique per kind) and its id as written; ``child_``, ``parent_``, ``source_``... before
    each name when a row names more than one node or a node of another table."""
    names = ["kind", "key", "id"] if kind else ["key", "id"]
    types = {"kind": sa.String(16), "key": sa.Text, "id": sa.Text}
    return [sa.Column(prefix + n, types[n], nullable=False) for n in names]


def record_name() -> list[sa.Column]:
    """A registry record's ``id``, its ``key`` (the normalised name, unique) and its ``name``."""
    return [
        serial_id(),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
    ]


def record_dates() -> list[sa.Column]:
    """When a registry record was created and, once it is, retired."""
    return [
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("retired_at", sa.DateTime),
    ]
