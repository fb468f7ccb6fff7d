"""The two back ends the suite runs on: SQLite files, and a throw-away PostgreSQL cluster.

``PostgresCluster`` starts a private cluster for the session (``initdb`` as the ``postgres``
user when the suite runs as root, a free local port, its unix socket in the cluster's
temporary folder) and stops it at the end. ``Stores`` hands out fresh stores of one back
end: file paths for SQLite, database URLs (a role with a password, over TCP) for PostgreSQL,
one new database per store.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from filiation.store.store import _url

BACKENDS = ("sqlite", "postgresql")

#: Run a test on one back end only (it overrides the ``backend`` fixture's two values).
only_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
only_postgresql = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

ROLE = "filiation"


def pg_bindir() -> Path:
    """Where PostgreSQL's server programs are: ``$FILIATION_PG_BIN``, else Debian's
    ``/usr/lib/postgresql/<version>/bin`` (newest first), else ``initdb`` on the PATH."""
    candidates: list[Path] = []
    if os.environ.get("FILIATION_PG_BIN"):
        candidates.append(Path(os.environ["FILIATION_PG_BIN"]))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    pytest.fail(
        "PostgreSQL's server is not installed (no initdb under /usr/lib/postgresql/*/bin): "
        "the suite runs on SQLite and PostgreSQL; `bash scripts/test.sh` installs it "
        "(apt-get install postgresql), or set FILIATION_PG_BIN"
    )


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """A private PostgreSQL cluster in a temporary folder, for one test session."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="filiation-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.password = "pw-" + secrets.token_hex(8)
        self._user: str | None = None
        if os.geteuid() == 0:  # initdb refuses to run as root
            self._user = "postgres"
            try:
                shutil.chown(self.root, user=self._user)
            except LookupError:
                self.cleanup()
                pytest.fail(
                    "running as root, PostgreSQL needs the 'postgres' user to run as; "
                    "install the postgresql package (it creates it)"
                )
        self._names = itertools.count(1)

    # -- running the server ---------------------------------------------------------------
    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            user=self._user,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        init = self._run(
            self.bindir / "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "--no-locale",
            "-E",
            "UTF8",
        )
        if init.returncode != 0:
            self.cleanup()
            pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        started = None
        for _ in range(3):  # another process may take the free port first
            self.port = _free_port()
            started = self._pg_ctl_start()
            if started.returncode == 0 or "already in use" not in self.log_tail():
                break
        if started is None or started.returncode != 0:
            detail = (started.stdout + started.stderr) if started is not None else ""
            tail = self.log_tail()
            self.stop()
            pytest.fail(f"PostgreSQL did not start: {detail}\n{tail}")
        self.admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            # a throw-away cluster: durability is not under test, speed is welcome;
            # autovacuum off keeps table sizes (what a killed ingest wrote) as they are
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c autovacuum=off -c max_connections=200"
        )
        return self._run(
            self.bindir / "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def shut_down(self) -> None:
        """Stop the server (its sessions are ended), keeping the cluster: :meth:`restart`."""
        done = self._run(self.bindir / "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        if done.returncode != 0:
            pytest.fail(f"PostgreSQL did not stop: {done.stdout}{done.stderr}")

    def restart(self) -> None:
        """Start the server again after :meth:`shut_down`, on the same port."""
        done = self._pg_ctl_start()
        if done.returncode != 0:
            pytest.fail(f"PostgreSQL did not start again: {done.stdout}{done.stderr}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server at once (nothing in it is worth a shutdown checkpoint) and remove
        the cluster."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                self.bindir / "pg_ctl",
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
                timeout=60,
            )
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------
    def admin(self, *statements: str) -> list[tuple[Any, ...]]:
        """Run statements as the superuser, through the unix socket; the last one's rows."""
        import psycopg

        rows: list[tuple[Any, ...]] = []
        with psycopg.connect(
            host=str(self.root),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            for statement in statements:
                cur = conn.execute(statement)
                rows = cur.fetchall() if cur.description else []
        return rows

    def url(self, database: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{ROLE}:{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self, hint: str = "db", template: str | None = None) -> str:
        """A new database owned by the test role (a copy of ``template``); its URL."""
        name = f"{re.sub(r'[^a-z0-9_]', '_', hint.lower())[:40]}_{next(self._names)}"
        statement = f'CREATE DATABASE "{name}" OWNER {ROLE} TEMPLATE "{template or "template0"}"'
        deadline = time.monotonic() + 10
        while True:
            if template:
                # A database is copied only while nobody is connected to it: end the idle
                # sessions that stores keep in their pools (they reconnect when next used).
                self.admin(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{template}' AND pid <> pg_backend_pid()"
                )
            try:
                self.admin(statement)
                break
            except Exception as exc:  # a session may still be closing
                if "being accessed by other users" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return self.url(name)


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


class Stores:
    """Fresh stores of one back end, and SQL on them for checks the API does not offer."""

    def __init__(
        self, backend: str, factory: pytest.TempPathFactory, pg: PostgresCluster | None
    ) -> None:
        self.backend = backend
        self.factory = factory
        self.pg = pg

    @property
    def is_pg(self) -> bool:
        return self.backend == "postgresql"

    def new(self, name: str = "store", folder: Path | None = None) -> Any:
        """A new, empty store: a file path (SQLite) or a database URL (PostgreSQL)."""
        if self.pg is not None:
            return self.pg.create_database(name)
        folder = folder if folder is not None else self.factory.mktemp(name)
        return folder / f"{name}.sqlite"

    def copy(self, source: Any, folder: Path, name: str = "store") -> Any:
        """An independent copy of a store (its files; or a database made from it)."""
        if self.pg is not None:
            return self.pg.create_database(name, template=database_of(str(source)))
        target = folder / f"{name}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(source) + suffix)
            if src.exists():
                shutil.copyfile(src, Path(str(target) + suffix))
        return target

    def rows(self, db: Any, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run one statement on the store (committed); its rows, if any."""
        url, _ = _url(db)
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(sql), params)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def assert_writable(self, db: Any) -> None:
        """Another writer can lock the tables at once: no transaction was left open."""
        if not self.is_pg:
            with closing(sqlite3.connect(db, timeout=2)) as conn:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    pytest.fail(f"the store is still locked for writing: {exc}")
                conn.rollback()
            return
        import psycopg

        # The server notices a dead client at once; give its backend a moment to go.
        deadline = time.monotonic() + 10
        with psycopg.connect(str(db)) as conn:
            while True:
                try:
                    conn.execute(
                        "LOCK TABLE snapshots, nodes, links IN ACCESS EXCLUSIVE MODE NOWAIT"
                    )
                    conn.rollback()
                    return
                except psycopg.errors.LockNotAvailable as exc:
                    conn.rollback()
                    if time.monotonic() > deadline:
                        pytest.fail(f"the store is still locked for writing: {exc}")
                    time.sleep(0.05)

    def table_size(self, db: Any, table: str) -> int:
        """Bytes the table takes on disk (PostgreSQL keeps an aborted ingest's rows there
        until a vacuum, which the test cluster never runs by itself)."""
        assert self.is_pg
        return int(self.rows(db, f"SELECT pg_relation_size('{table}')")[0][0])


def run_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess running the filiation under test."""
    import filiation

    src = str(Path(filiation.__file__).resolve().parents[1])
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    return env
