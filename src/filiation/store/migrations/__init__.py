"""The store's versioned schema: Alembic migrations, run by :class:`filiation.store.Store`.

Every store (a SQLite file or a PostgreSQL database) is created and upgraded by these
migrations; ``Store`` runs ``upgrade head`` when it opens a store that is not at
:data:`HEAD`. A new migration goes in ``versions/`` (``NNNN_what.py``, ``down_revision`` the
previous head), changes :mod:`filiation.store.schema` the same way, bumps ``HEAD`` and
(when older filiations cannot read it) :data:`SCHEMA_VERSION`; ``tests/test_migrations.py``
checks that the migrations and the tables in ``schema.py`` agree on both back ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

#: The newest revision; a store at this revision needs no migration (checked without
#: loading Alembic, which keeps opening a store fast).
HEAD = "0009"

#: Bumped only by a migration that older filiations cannot read (they refuse such a store);
#: the Alembic revision (:data:`HEAD`) follows every change. Here rather than in
#: :mod:`filiation.store.schema` so that opening a store checks it without SQLAlchemy.
SCHEMA_VERSION = 2

#: The revision equal to the schema filiation created before it used migrations.
BASELINE = "0001"

LOCATION = Path(__file__).resolve().parent


def config(connection: Connection) -> Config:
    """An Alembic configuration that runs the packaged migrations on ``connection``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION))
    cfg.attributes["connection"] = connection
    return cfg


def known(revision: str) -> bool:
    """Whether this filiation has the migration ``revision`` (else a newer one wrote it)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory(str(LOCATION)).get_revision(revision) is not None
    except CommandError:
        return False


def upgrade(connection: Connection, *, stamp_baseline: bool = False) -> None:
    """Bring the store on ``connection`` to :data:`HEAD`, inside the caller's transaction.

    ``stamp_baseline`` records that the store already has the baseline schema (a store
    written before filiation used migrations) before upgrading from there.
    """
    from alembic import command

    cfg = config(connection)
    if stamp_baseline:
        command.stamp(cfg, BASELINE)
    command.upgrade(cfg, "head")
