"""How a SQLite store's connections are set up, whoever opens them.

Apart from ``store.py`` so that ``transaction.py``, which writes snapshots through the
standard library's ``sqlite3`` and which ``store.py`` imports, needs nothing of ``store.py``.
"""

from __future__ import annotations

from typing import Any


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """How every connection to a SQLite store is set up (the engine's, and the standard
    library's that write snapshots): WAL, a patient lock, foreign keys."""
    cur = dbapi_conn.cursor()
    # The busy timeout first: switching a new file to WAL takes a lock other openers wait for.
    cur.execute("PRAGMA busy_timeout=30000")
    if not cur.execute("PRAGMA query_only").fetchone()[0]:
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-262144")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()
