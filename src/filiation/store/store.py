"""Open, write and read the store: a SQLite file, or a PostgreSQL database.

A snapshot is written in a single transaction: until it commits, readers (and a crash)
see only the snapshots that were there before. A snapshot's rows are stored as a few
compressed Arrow parts (``snapshot_parts``, see ``transaction.py``), which keeps millions of
rows within seconds on both back ends; snapshots written before migration 0009 are rows of
``nodes`` and ``links``, read back through ``COPY ... TO STDOUT`` on PostgreSQL (both
kinds are read as Arrow tables by :mod:`filiation.store.snapshot_rows`).
The schema is created and upgraded by the Alembic migrations in
:mod:`filiation.store.migrations`.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filiation.errors import StoreError
from filiation.store import migrations
from filiation.store.sqlite import sqlite_pragmas

# SQLAlchemy (about 0.1-0.2 s to import), pyarrow and the schema's tables are loaded when
# first used: a question asked of a SQLite store reads its few rows (the schema's revision,
# the current snapshots) through the standard library's sqlite3, so that a fresh ``show``
# loads neither (tests/test_lazy_imports.py). Writes, PostgreSQL and the rest use SQLAlchemy.
if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import URL, Connection, Engine

    from filiation.sources.records import Records
    from filiation.store.transaction import SnapshotTransaction

CHUNK = 50_000
#: The PostgreSQL advisory lock held while migrations run ("filiatio" in ASCII).
_LOCK_KEY = 0x66696C696174696F
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    source: str
    label: str
    taken_at: datetime | None
    finished_at: datetime | None
    status: str
    report: dict[str, Any]
    started_at: datetime | None = None


#: URL schemes taken to mean PostgreSQL through psycopg (version 3).
PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
#: The table of the store's own facts (its id, its schema version): ``schema.meta``.
META_TABLE = "filiation_meta"


def _sqlite_path(location: str | os.PathLike[str]) -> Path | None:
    """The file of a SQLite store (a path, or a ``sqlite:///`` URL); None for a server."""
    text_loc = os.fspath(location)
    if text_loc.startswith("sqlite:///"):
        return Path(text_loc.removeprefix("sqlite:///"))
    if "://" in text_loc:
        return None
    return Path(text_loc).expanduser()


def _url(location: str | os.PathLike[str]) -> tuple[URL, Path | None]:
    """The SQLAlchemy URL of a store and, for a SQLite file, its path.

    ``postgresql://`` and ``postgres://`` URLs are served by psycopg 3.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    path = _sqlite_path(location)
    if path is not None:
        return make_url(f"sqlite:///{path}"), path
    try:
        url = make_url(os.fspath(location))
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"not a database URL: {exc}") from None
    if url.drivername in PG_SCHEMES:
        url = url.set(drivername="postgresql+psycopg")
    return url, None


#: Every engine this process opened, so that a forked child can drop the pooled connections
#: it inherited (sharing a connection's socket with the parent corrupts both sessions).
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)  # leave the parent's connections to the parent


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _moment(value: Any) -> datetime | None:
    """A date-time column as read: a datetime from PostgreSQL, text from SQLite (the form
    SQLAlchemy writes there, ``2026-12-05 06:47:00.000000``)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value  # type: ignore[no-any-return]


class Store:
    """The durable record of every snapshot each source produced.

    A SQLite store opens without SQLAlchemy when it is at the current schema: its engine is
    made on first use (a write, a registry or rights question), and the reads every
    question starts with (:meth:`snapshots`, :meth:`snapshots_with_extra`...) go through
    :meth:`read_rows`, which uses the standard library's sqlite3 there.
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.path = _sqlite_path(location)
        #: How the standard library's sqlite3 opens the file (None: a database server).
        self._sqlite: tuple[str, bool] | None = None
        if self.path is None:
            url, _ = _url(location)
            #: The full URL, password included: handed to the writer process, never printed
            #: (:meth:`describe` is what messages show).
            self.url = url.render_as_string(hide_password=False)
            self.__dict__["engine"] = self._make_engine(url)  # checks the URL now
        else:
            self.url = f"sqlite:///{self.path}"
            if self.path.is_dir():
                raise StoreError(f"{self.path} is a folder; give the path of a database file")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {self.path}: {exc}") from exc
            self._sqlite = (str(self.path), False)
            if self.path.exists() and not (
                os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
            ):
                # A store this process may not write (read-only medium or permissions): open
                # it read-only, so that SQLite reads a WAL store without creating its -shm
                # file, and questions are answered; an ingest is refused as read-only.
                # On a read-only file system nobody can change it: SQLite then reads it
                # without any -shm or lock file.
                frozen = os.statvfs(self.path).f_flag & os.ST_RDONLY
                query = "mode=ro&immutable=1" if frozen else "mode=ro"
                self._sqlite = (f"file:{self.path}?{query}", True)
        self._store_id: str | None = None
        self._ensure_schema()

    @functools.cached_property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, made on first use for a SQLite store (at open for a
        database server, so that a bad URL is an error at once)."""
        from sqlalchemy.engine import make_url

        assert self._sqlite is not None
        where, uri = self._sqlite
        return self._make_engine(
            make_url(f"sqlite:///{where}&uri=true" if uri else f"sqlite:///{where}")
        )

    @staticmethod
    def _make_engine(url: URL) -> Engine:
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import ArgumentError
        from sqlalchemy.pool import NullPool

        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            # A server that does not answer is an error within seconds, not minutes.
            if "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = 10
            if "application_name" not in url.query:
                connect_args["application_name"] = "filiation"
            # COPY sends and receives UTF-8 bytes, whatever the server's default.
            connect_args["client_encoding"] = "utf8"
        if url.get_backend_name() == "sqlite":
            # A connection per use: nothing holds the file between questions.
            pool: dict[str, Any] = {"poolclass": NullPool}
        else:
            # A server connection costs a round of authentication: keep a few, and test each
            # before use, so that a restarted server costs one reconnection, not an error.
            pool = {"pool_size": 4, "max_overflow": 8, "pool_pre_ping": True}
        try:
            engine = create_engine(url, connect_args=connect_args, **pool)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use {url.render_as_string()}: {exc}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", sqlite_pragmas)
        _ENGINES.add(engine)
        return engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``, without making the engine of a SQLite store."""
        return "sqlite" if self._sqlite is not None else self.engine.dialect.name

    def read_rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of a read-only query (plain SQL that both back ends speak, ``:name``
        parameters). On a SQLite store through the standard library's sqlite3, a connection
        per call as the engine's pool does: a fresh process answering a question never
        loads SQLAlchemy. A store that cannot be read is a :class:`StoreError`."""
        if self._sqlite is None:
            from sqlalchemy import text

            with self.reading() as conn:
                return [tuple(row) for row in conn.execute(text(sql), params or {})]
        where, uri = self._sqlite
        try:
            con = sqlite3.connect(where, uri=uri, timeout=30, check_same_thread=False)
            try:
                return con.execute(sql, params or {}).fetchall()
            finally:
                con.close()
        except sqlite3.Error as exc:
            raise StoreError(self.explain(exc)) from exc

    def sqlite_location(self) -> tuple[str, bool]:
        """Where the standard library's sqlite3 opens this SQLite store (a path or a
        read-only URI, and whether it is a URI)."""
        assert self._sqlite is not None, "not a SQLite store"
        return self._sqlite

    # -- set-up ---------------------------------------------------------------------------
    def _schema_state(
        self, tables: set[str], run: Callable[[str], list[tuple[Any, ...]]]
    ) -> tuple[str | None, dict[str, str]]:
        """The store's Alembic revision and its ``filiation_meta`` rows, given its tables'
        names and a way to run a query.

        Refuses a database of another application and a store written by a newer filiation.
        """
        if tables and META_TABLE not in tables:
            raise StoreError(
                f"{self.describe()} is a database of another application (it has tables "
                f"{', '.join(sorted(tables)[:5])}); give filiation a "
                f"{'file' if self.path is not None else 'database'} of its own"
            )
        if not tables:
            return None, {}
        values = {
            str(name): str(value) for name, value in run(f"SELECT name, value FROM {META_TABLE}")
        }
        version = values.get("schema_version")
        if version is not None and int(version) > migrations.SCHEMA_VERSION:
            raise StoreError(
                f"{self.describe()} was written by a newer filiation (schema {version}); "
                "upgrade filiation to read it"
            )
        revision = None
        if "alembic_version" in tables:
            found = run("SELECT version_num FROM alembic_version")
            revision = str(found[0][0]) if found else None
        return revision, values

    def _engine_state(self, conn: Connection) -> tuple[str | None, dict[str, str]]:
        from sqlalchemy import inspect, text

        tables = set(inspect(conn).get_table_names())
        return self._schema_state(tables, lambda sql: list(conn.execute(text(sql)).all()))

    def _current_sqlite(self) -> bool:
        """Whether a SQLite store's file is at the current schema, read with sqlite3 (which
        then records the store's id): nothing to migrate, no engine needed to open it."""
        if self._sqlite is None or self.path is None or not self.path.exists():
            return False
        try:
            found = self.read_rows("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {str(name) for (name,) in found}
            revision, values = self._schema_state(tables, self.read_rows)
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.Error):
                return False  # the engine's path says what is wrong, as it always did
            raise
        if revision != migrations.HEAD:
            return False
        self._store_id = values.get("store_id")
        return True

    def _ensure_schema(self) -> None:
        """:meth:`_migrate`, retried a few times when SQLite answers "locked" at once.

        SQLite refuses some lock upgrades immediately instead of waiting (to avoid a
        deadlock), which happens when several processes open a brand-new store together.
        """
        if self._current_sqlite():
            return
        for attempt in range(6):
            try:
                return self._migrate()
            except StoreError as exc:
                if "locked" not in str(exc) or self.path is None or attempt == 5:
                    raise
                time.sleep(0.05 * 2**attempt)

    def _migrate(self) -> None:
        """Create or upgrade the schema (``alembic upgrade head``) unless it is current.

        A store at the newest revision is only read (a read-only file opens); otherwise the
        migrations run in one transaction that holds the store's write lock (SQLite) or an
        advisory lock (PostgreSQL), so two processes opening a new store do not race.
        """
        from sqlalchemy import text
        from sqlalchemy.exc import DatabaseError, OperationalError

        from filiation.store import schema

        try:
            with self.engine.connect() as conn:
                revision, values = self._engine_state(conn)
                if revision == migrations.HEAD and (self.path is not None or "store_id" in values):
                    self._store_id = values.get("store_id")
                    return
                conn.rollback()
                if self.engine.dialect.name == "sqlite":
                    try:
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    except OperationalError as exc:
                        if revision is None and values and "readonly" in str(exc).lower():
                            return  # a store of before migrations, read-only: usable as is
                        raise
                elif self.engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                revision, values = self._engine_state(conn)  # another process may have done it
                if revision not in (None, migrations.HEAD) and not migrations.known(revision):
                    raise StoreError(
                        f"{self.describe()} was written by a newer filiation (schema "
                        f"revision {revision}); upgrade filiation to read it"
                    )
                if revision != migrations.HEAD:
                    # A store with tables but no revision was created before filiation used
                    # migrations: its tables are the baseline revision's.
                    migrations.upgrade(conn, stamp_baseline=bool(values) and revision is None)
                if "store_id" not in values:
                    self._store_id = uuid.uuid4().hex
                    conn.execute(schema.meta.insert().values(name="store_id", value=self._store_id))
                else:
                    self._store_id = values["store_id"]
                conn.commit()
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(self.explain(exc)) from exc

    def describe(self) -> str:
        return str(self.path) if self.path is not None else self.engine.url.render_as_string()

    def explain(self, exc: Exception) -> str:
        """A database error as one line that says where and what to do (a read-only file, a
        full disk, a server down...); drivers' messages may span several lines."""
        msg = "; ".join(
            line.strip() for line in str(getattr(exc, "orig", exc)).splitlines() if line.strip()
        )
        where = self.describe()
        low = msg.lower()
        if "readonly" in low or "read-only" in low:
            return f"{where} is read-only: {msg}; use a writable --db to ingest"
        if ("disk" in low and "full" in low) or "no space left" in low:
            return f"the disk holding {where} is full: {msg}; free space and ingest again"
        if "not a database" in low or "malformed" in low:
            return f"{where} is not a filiation database or is damaged: {msg}"
        if "unable to open" in low:
            return f"cannot open {where}: {msg}; check the path and its permissions"
        if "connection" in low and ("failed" in low or "refused" in low or "timeout" in low):
            return f"cannot connect to {where}: {msg}"
        if any(
            part in low
            for part in (
                "closed the connection",
                "terminating connection",
                "shutting down",
                "starting up",
                "connection is closed",
                "consistent recovery state",
            )
        ):
            return f"lost the connection to {where} (the server is restarting or down): {msg}"
        return f"{where}: {msg}"

    def index_dir(self) -> Path:
        """Where the lineage index built from this store is cached.

        Beside a SQLite file; for a database server, in the user cache directory, in a
        folder named by a digest of the server, port, database and user (never the
        password) and of the store's own id, so that two databases never share an index,
        nor a database dropped and created again under the same name.
        """
        if self.path is not None:
            return self.path.with_name(self.path.name + ".index")
        import hashlib

        from platformdirs import user_cache_dir

        url = self.engine.url
        key = json.dumps(
            [
                url.get_backend_name(),
                url.host,
                url.port,
                url.database,
                url.username,
                sorted((k, str(v)) for k, v in url.query.items() if k != "password"),
                self._store_id,
            ]
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return Path(user_cache_dir("filiation")) / f"index-{digest}"

    # -- snapshots ------------------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a read; a server that is down or a file that cannot be read
        is a :class:`StoreError` that says so (a server answers it with a 503)."""
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StoreError(self.explain(exc)) from exc

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction, committed on the way out; a store that cannot be written is a
        :class:`StoreError` that says why. An :class:`IntegrityError` (a row that is
        already there) is left to the caller, who knows what it means."""
        from sqlalchemy.exc import DBAPIError, IntegrityError

        try:
            with self.engine.begin() as conn:
                yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StoreError(self.explain(exc)) from exc

    def snapshots(self) -> list[SnapshotInfo]:
        """Every snapshot, oldest first: a row of ``snapshots`` is a :class:`SnapshotInfo`
        field for field, its JSON report decoded."""
        rows = self.read_rows(
            "SELECT id, source, label, taken_at, finished_at, status, report, started_at "
            "FROM snapshots ORDER BY id"
        )
        return [
            SnapshotInfo(
                id=int(id_),
                source=str(source),
                label=str(label),
                taken_at=_moment(taken),
                finished_at=_moment(finished),
                status=str(status),
                report=json.loads(report) if report else {},
                started_at=_moment(started),
            )
            for id_, source, label, taken, finished, status, report, started in rows
        ]

    def current_snapshots(self) -> list[SnapshotInfo]:
        """The newest complete snapshot of each source: together they are the genealogy."""
        latest: dict[str, SnapshotInfo] = {}
        for snap in self.snapshots():
            if snap.status == "complete":
                latest[snap.source] = snap
        return sorted(latest.values(), key=lambda s: s.id)

    def is_empty(self) -> bool:
        found = self.read_rows("SELECT 1 FROM snapshots WHERE status = 'complete' LIMIT 1")
        return not found

    def begin_snapshot(
        self, source: str, label: str, taken_at: datetime | None
    ) -> SnapshotTransaction:
        """Start writing a snapshot; it becomes visible only when the transaction commits."""
        from filiation.store.transaction import SnapshotTransaction

        return SnapshotTransaction(self, source, label, taken_at, chunk_rows=CHUNK)

    def write_snapshot(self, records: Records, progress: ProgressCallback | None = None) -> int:
        """Store a source's records as its new snapshot, all or nothing."""
        import pyarrow as pa

        tx = self.begin_snapshot(records.source, records.label, records.taken_at)
        try:
            for batch_nodes in records.nodes.to_batches(max_chunksize=CHUNK):
                tx.write(pa.Table.from_batches([batch_nodes]), None)
                if progress:
                    progress(batch_nodes.num_rows)
            for batch_links in records.links.to_batches(max_chunksize=CHUNK):
                tx.write(None, pa.Table.from_batches([batch_links]))
                if progress:
                    progress(batch_links.num_rows)
            snap_id = tx.commit(records.report.as_dict())
        except BaseException:
            tx.rollback()
            raise
        records.report.snapshot_id = snap_id
        return snap_id

    def prune(self, keep: int = 2) -> list[int]:
        """Delete all but the ``keep`` newest complete snapshots of each source."""
        by_source: dict[str, list[SnapshotInfo]] = {}
        for snap in self.snapshots():
            by_source.setdefault(snap.source, []).append(snap)
        doomed: list[int] = []
        for snaps in by_source.values():
            complete = [s for s in snaps if s.status == "complete"]
            doomed += [s.id for s in complete[: max(0, len(complete) - keep)]]
            doomed += [s.id for s in snaps if s.status != "complete"]
        if not doomed:
            return []
        marks = ", ".join(f":s{i}" for i in range(len(doomed)))
        params = {f"s{i}": int(snap) for i, snap in enumerate(doomed)}
        from filiation.store.transaction import execute

        execute(
            self,
            [
                (f"DELETE FROM {table} WHERE snapshot_id IN ({marks})", params)
                for table in ("snapshot_parts", "links", "nodes")
            ]
            + [(f"DELETE FROM snapshots WHERE id IN ({marks})", params)],
        )
        return doomed

    # -- reading --------------------------------------------------------------------------
    def read_columns(
        self, table: Any, columns: list[str], arrow_schema: pa.Schema, snap: int
    ) -> pa.Table:
        """``columns`` of ``table``'s rows in snapshot ``snap``, as an Arrow table of
        ``arrow_schema`` (:func:`filiation.store.snapshot_rows.read_columns`)."""
        from filiation.store.snapshot_rows import read_columns

        return read_columns(self, table, columns, arrow_schema, snap, CHUNK)

    def read_nodes(self, snapshot_id: int) -> pa.Table:
        from filiation.sources.records import NODE_SCHEMA
        from filiation.store import schema

        return self.read_columns(schema.nodes, schema.NODE_COLUMNS, NODE_SCHEMA, snapshot_id)

    def read_links(self, snapshot_id: int) -> pa.Table:
        from filiation.sources.records import LINK_SCHEMA
        from filiation.store import schema

        return self.read_columns(schema.links, schema.LINK_COLUMNS, LINK_SCHEMA, snapshot_id)

    def ping(self) -> None:
        self.read_rows("SELECT 1")

    def snapshots_with_extra(self, snapshot_ids: list[int]) -> list[int]:
        """Those of these snapshots that hold any ``extra`` field (an index look-up each)."""
        return [
            snap
            for snap in snapshot_ids
            if self.read_rows(
                "SELECT snapshot_id FROM nodes WHERE snapshot_id = :snap AND extra IS NOT NULL "
                # in the order of the partial index nodes_extra: SQLite then reads it rather
                # than every row of the snapshot
                "ORDER BY kind, key LIMIT 1",
                {"snap": int(snap)},
            )
        ]

    def read_extra(self, snapshot_ids: list[int], kind: str, key: str) -> list[str]:
        """The ``extra`` JSON texts of one node in these snapshots (source-specific fields)."""
        if not snapshot_ids:
            return []
        snaps = {f"s{i}": int(snap) for i, snap in enumerate(snapshot_ids)}
        rows = self.read_rows(
            "SELECT extra FROM nodes WHERE snapshot_id IN ("
            + ", ".join(f":{name}" for name in snaps)
            + ") AND kind = :kind AND key = :key AND extra IS NOT NULL",
            {**snaps, "kind": kind, "key": key},
        )
        return [str(text_) for (text_,) in rows]
