"""The store's schema comes from versioned Alembic migrations, on both back ends.

A new store is migrated to the newest revision and has exactly the tables of
``filiation.store.schema``; a store written before filiation used migrations is stamped with
the baseline revision and upgraded, its snapshots intact; the first migration is the schema
of that time, statement for statement.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

import filiation
from filiation.store import migrations, schema
from filiation.store.store import Store, _url
from tests.backends import Stores, only_postgresql, only_sqlite

#: What ``schema.metadata.create_all`` made of the tables before migrations (filiation 0.1.0,
#: read back from ``sqlite_master``); migration 0001 must create exactly this.
SCHEMA_BEFORE_MIGRATIONS = [
    "CREATE TABLE filiation_meta (\n\tname VARCHAR(64) NOT NULL, \n\tvalue TEXT NOT NULL, \n\t"
    "PRIMARY KEY (name)\n)",
    "CREATE TABLE snapshots (\n\tid INTEGER NOT NULL, \n\tsource VARCHAR(64) NOT NULL, \n\t"
    "label TEXT NOT NULL, \n\ttaken_at DATETIME, \n\tstarted_at DATETIME NOT NULL, \n\t"
    "finished_at DATETIME, \n\tstatus VARCHAR(16) NOT NULL, \n\treport TEXT, \n\t"
    "PRIMARY KEY (id)\n)",
    "CREATE TABLE nodes (\n\tsnapshot_id INTEGER NOT NULL, \n\tkind VARCHAR(16) NOT NULL, "
    '\n\t"key" TEXT NOT NULL, '
    "\n\tid TEXT NOT NULL, \n\tauthor TEXT, \n\tcreated_at DATETIME, \n\t"
    "last_modified DATETIME, \n\tpipeline_tag TEXT, \n\tlibrary_name TEXT, \n\tlicense TEXT, \n\t"
    "downloads BIGINT, \n\tdownloads_all_time BIGINT, \n\tlikes BIGINT, \n\ttrending_score FLOAT, "
    "\n\tparameters BIGINT, \n\textra TEXT, \n\tFOREIGN KEY(snapshot_id) REFERENCES snapshots (id)"
    "\n)",
    'CREATE INDEX nodes_extra ON nodes (snapshot_id, kind, "key") WHERE extra IS NOT NULL',
    "CREATE INDEX nodes_snapshot ON nodes (snapshot_id)",
    "CREATE TABLE links (\n\tsnapshot_id INTEGER NOT NULL, \n\tchild_kind VARCHAR(16) NOT NULL, "
    "\n\tchild_key TEXT NOT NULL, \n\tchild_id TEXT NOT NULL, \n\tparent_kind VARCHAR(16) NOT NULL,"
    " \n\tparent_key TEXT NOT NULL, \n\tparent_id TEXT NOT NULL, \n\trelation VARCHAR(32) NOT NULL,"
    " \n\tdeclared BOOLEAN NOT NULL, \n\tevidence TEXT, \n\tFOREIGN KEY(snapshot_id) REFERENCES "
    "snapshots (id)\n)",
    "CREATE INDEX links_snapshot ON links (snapshot_id)",
]


def _engine(db: Any) -> Any:
    return create_engine(_url(db)[0], poolclass=NullPool)


def _revision(stores: Stores, db: Any) -> str:
    return str(stores.rows(db, "SELECT version_num FROM alembic_version")[0][0])


def _as_before_migrations(stores: Stores, db: Any) -> None:
    """Turn a new store into one filiation wrote before it used migrations."""
    engine = _engine(db)
    with engine.begin() as conn:
        migrations.upgrade(conn)  # to the newest revision, then back to the baseline
        from alembic import command

        command.downgrade(migrations.config(conn), migrations.BASELINE)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("DELETE FROM filiation_meta WHERE name = 'store_id'")
    engine.dispose()


def test_head_is_the_newest_migration() -> None:
    """``HEAD`` (checked on every open without loading Alembic) is the scripts' head."""
    scripts = ScriptDirectory(str(migrations.LOCATION))
    assert scripts.get_heads() == [migrations.HEAD]
    assert scripts.get_base() == migrations.BASELINE
    assert migrations.known(migrations.HEAD) and not migrations.known("9999")


def test_new_store_has_the_schema_of_schema_py(stores: Stores, fresh_db: Any) -> None:
    filiation.open(fresh_db, load_bundled=False).snapshots()
    assert _revision(stores, fresh_db) == migrations.HEAD
    engine = _engine(fresh_db)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    engine.dispose()
    if stores.is_pg:  # migration 0003: no per-row foreign key check on PostgreSQL
        added = sorted((d[0], d[1].parent.name) for d in diff)
        assert added == [("add_fk", "links"), ("add_fk", "nodes")], diff
    else:
        assert diff == []
    meta = dict(stores.rows(fresh_db, "SELECT name, value FROM filiation_meta"))
    assert meta["schema_version"] == str(schema.SCHEMA_VERSION) and len(meta["store_id"]) == 32


@only_sqlite
def test_first_migration_is_the_schema_before_migrations(stores: Stores, tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    path = tmp_path / "baseline.sqlite"
    engine = _engine(path)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrations.config(conn), migrations.BASELINE)
    engine.dispose()
    with closing(sqlite3.connect(path)) as conn:
        made = [
            sql
            for (name, sql) in conn.execute("SELECT name, sql FROM sqlite_master WHERE sql != ''")
            if name != "alembic_version"
        ]
    assert sorted(made) == sorted(SCHEMA_BEFORE_MIGRATIONS)


def test_store_from_before_migrations_is_upgraded_in_place(
    stores: Stores, fresh_db: Any, hub_sample: Path
) -> None:
    g = filiation.open(fresh_db, load_bundled=False)
    first = g.ingest_hub_stats(hub_sample)
    before = g.stats()
    _as_before_migrations(stores, fresh_db)
    tables = {t for (t,) in stores.rows(fresh_db, _tables_sql(stores))}
    assert "alembic_version" not in tables and {"nodes", "links", "snapshots"} <= tables

    reopened = filiation.open(fresh_db, load_bundled=False)
    assert _revision(stores, fresh_db) == migrations.HEAD
    assert reopened.stats() == before  # the snapshot is still there and current
    second = reopened.ingest_hub_stats(hub_sample)
    assert second.snapshot_id > first.snapshot_id
    assert [s["current"] for s in reopened.snapshots()] == [False, True]


def _tables_sql(stores: Stores) -> str:
    if stores.is_pg:
        return "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    return "SELECT name FROM sqlite_master WHERE type = 'table'"


def test_stores_opened_at_once_are_migrated_once(stores: Stores, fresh_db: Any) -> None:
    """Processes (here threads) opening a new store together do not race its migrations."""
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Store(fresh_db)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert _revision(stores, fresh_db) == migrations.HEAD
    assert (
        len(stores.rows(fresh_db, "SELECT value FROM filiation_meta WHERE name = 'store_id'")) == 1
    )


@only_postgresql
def test_opening_a_current_store_does_not_write(stores: Stores, fresh_db: Any) -> None:
    """A store at the newest revision is only read when it is opened: a role that may only
    read (a reporting replica, say) opens it and answers."""
    Store(fresh_db)
    assert stores.pg is not None
    role = stores.rows(fresh_db, "SELECT current_user")[0][0]
    stores.pg.admin(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    try:
        assert Store(fresh_db).snapshots() == []
    finally:
        stores.pg.admin(f"ALTER ROLE {role} RESET default_transaction_read_only")
