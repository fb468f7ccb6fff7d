"""A real `filiation serve --workers 2` under the events of a deployment: a new snapshot
ingested by another process, the database server restarted, a read-only store, a full disk.

Every test is bounded in time (each wait has a deadline) and talks to the server over HTTP.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import filiation
from tests.backends import PostgresCluster, Stores, only_postgresql, only_sqlite, run_env
from tests.serving import serving

ROOT = "meta-llama/Llama-3.1-8B-Instruct"
NEW_CHILD = "test-org/added-by-a-new-snapshot"
WORKERS = ["--workers", "2", "--refresh", "0.2"]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the filiation command line in another process."""
    return subprocess.run(
        [sys.executable, "-m", "filiation.cli", *args],
        capture_output=True,
        text=True,
        env=run_env(HF_HUB_OFFLINE="1"),
        timeout=timeout,
        check=False,
    )


def get(base: str, path: str, **headers: str) -> httpx.Response:
    """One request on a connection of its own, so that any worker may take it."""
    return httpx.get(
        base + path, timeout=10, trust_env=False, headers={"Connection": "close", **headers}
    )


def health_by_worker(base: str, want: dict[int, list[int]] | None, timeout: float = 60) -> dict:
    """Ask /api/health in bursts of parallel requests until two workers have answered (and,
    with ``want``, until every worker of ``want`` answers with ``want``'s snapshots)."""
    from concurrent.futures import ThreadPoolExecutor

    seen: dict[int, list[int]] = {}
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(8) as pool:
        while time.monotonic() < deadline:
            for r in pool.map(lambda _: get(base, "/api/health"), range(8)):
                assert r.status_code == 200, r.text
                seen[r.json()["worker"]] = r.json()["snapshots"]
            if want is None and len(seen) >= 2:
                return seen
            if want is not None and all(seen.get(pid) == snaps for pid, snaps in want.items()):
                return seen
            time.sleep(0.05)
    pytest.fail(f"the workers did not answer as expected in {timeout} s: {seen} (want {want})")


def test_every_worker_answers_from_a_snapshot_ingested_while_it_runs(
    stores: Stores, sample_db: Any, tmp_path: Path
) -> None:
    db = stores.copy(sample_db, tmp_path)
    edges = tmp_path / "edges.csv"
    edges.write_text(f"parent_id,child_id,relation\n{ROOT},{NEW_CHILD},finetune\n")
    with serving(db, tmp_path / "serve.log", options=WORKERS) as base:
        before = health_by_worker(base, None)
        assert len(before) == 2, before  # two processes answer
        old_snaps = next(iter(before.values()))
        assert all(s == old_snaps for s in before.values())
        old_children = get(base, f"/api/models/{ROOT}").json()["children"]
        assert get(base, f"/api/models/{NEW_CHILD}").status_code == 404

        # Readers keep asking while another process ingests the new snapshot.
        answers: list[tuple[int, Any]] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                r = get(base, f"/api/models/{ROOT}")
                answers.append((r.status_code, r.json().get("children")))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for t in readers:
            t.start()
        try:
            done = cli("--quiet", "--db", str(db), "ingest", "edges", str(edges), "--name", "new")
            assert done.returncode == 0, done.stderr
            new_snaps = [s["id"] for s in filiation.open(db).snapshots() if s["current"]]
            assert len(new_snaps) == len(old_snaps) + 1
            # Every worker moves to the new snapshot, without a restart.
            health_by_worker(base, dict.fromkeys(before, new_snaps))
        finally:
            stop.set()
            for t in readers:
                t.join(30)
        # No request failed, and each saw one whole snapshot: the old family or the new one.
        assert answers and {status for status, _ in answers} == {200}
        assert {children for _, children in answers} <= {old_children, old_children + 1}
        for _ in range(10):
            assert get(base, f"/api/models/{ROOT}").json()["children"] == old_children + 1
            new = get(base, f"/api/models/{NEW_CHILD}")
            assert new.status_code == 200 and new.json()["parents"][0]["id"] == ROOT
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log


def test_connections_are_spread_over_the_workers_and_survive_one_dying(
    stores: Stores, sample_db: Any, tmp_path: Path
) -> None:
    """Keep-alive connections opened at once land on both workers (each listens on a socket
    of its own: on a shared one, the first to wake took nearly all of them); when a worker
    dies, new connections are answered by the other at once and uvicorn replaces it."""
    import http.client
    import json
    import os
    import signal

    def workers_of(n: int) -> list[int]:
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(n)]
        for c in conns:
            c.connect()  # all established before the first request
        pids = []
        for c in conns:
            c.request("GET", "/api/health")
            r = c.getresponse()
            assert r.status == 200
            pids.append(json.loads(r.read())["worker"])
        for c in conns:
            c.close()
        return pids

    db = stores.copy(sample_db, tmp_path)
    with serving(db, tmp_path / "serve.log", options=WORKERS) as base:
        port = int(base.rsplit(":", 1)[1])
        first = health_by_worker(base, None)
        assert len(first) == 2
        pids = workers_of(32)
        counts = {pid: pids.count(pid) for pid in first}
        assert sum(counts.values()) == 32
        # Spread by a hash of each connection's address: a worker under 6 of 32 has a
        # chance below 1 in 2,000 if both listen
        assert min(counts.values()) >= 6, counts
        dead = next(iter(first))
        os.kill(dead, signal.SIGKILL)
        time.sleep(0.2)
        after = workers_of(16)  # every one answered (none hangs on the dead worker's socket)
        assert dead not in after
        replaced = health_by_worker(base, None)  # two workers again
        assert dead not in replaced and len(replaced) == 2


@only_postgresql
def test_database_restarted_under_a_running_server(
    backend: str, hub_sample: Path, tmp_path: Path
) -> None:
    """While PostgreSQL is down, what needs it is a clear 503 (what the index answers alone
    still works); once it is back, everything answers again, without restarting filiation."""
    cluster = PostgresCluster()  # of its own: the session's cluster stays up for other tests
    cluster.start()
    try:
        db = cluster.create_database("restart")
        filiation.open(db, load_bundled=False).ingest_hub_stats(hub_sample)
        with serving(db, tmp_path / "serve.log", options=WORKERS) as base:
            assert len(health_by_worker(base, None)) == 2  # both workers are up
            model = f"/api/models/{ROOT}"
            needs_store = ("/api/stats", "/api/snapshots")  # they read the snapshots table
            for path in (model, *needs_store):
                assert get(base, path).status_code == 200

            cluster.shut_down()
            started = time.monotonic()
            for path in needs_store * 4:  # several connections: both workers
                r = get(base, path)
                assert r.status_code == 503, (path, r.status_code, r.text)
                body = r.json()
                assert body["error"] == "store_unavailable"
                assert "try again" in body["message"] and "Traceback" not in r.text
                assert cluster.password not in r.text and "127.0.0.1" not in r.text
                assert r.headers["Retry-After"].isdigit()
            # A browser asking for a page that reads the store (the dossier's follow-up) gets
            # a page, in its language, that says to try again; never the reason.
            dossier = f"/dossier?model={ROOT}&right=erasure"
            for lang, words in (("en", "Temporarily unavailable"), ("fr", "Momentanément")):
                r = get(base, f"/{lang}{dossier}", accept="text/html")
                assert r.status_code == 503, (lang, r.status_code, r.text[:300])
                assert r.headers["content-type"].startswith("text/html")
                assert words in r.text and f'href="/{lang}{dossier}' in r.text.replace("&amp;", "&")
                assert r.headers["Retry-After"].isdigit()
                assert cluster.password not in r.text and "Traceback" not in r.text
            assert time.monotonic() - started < 30  # refused at once, not after a timeout
            # What the lineage index answers alone goes on (a hub-stats store has no
            # source-specific fields for `show` to read).
            for path in (model, "/api/search?q=llama", f"{model}/descendants", "/api/health"):
                assert get(base, path).status_code == 200, path

            cluster.restart()
            for _ in range(4):
                for path in (model, *needs_store):
                    r = get(base, path)
                    assert r.status_code == 200, (path, r.text)
            assert get(base, model).json()["id"] == ROOT
            assert get(base, f"/en{dossier}", accept="text/html").status_code == 200
        log = (tmp_path / "serve.log").read_text()
        assert "Traceback" not in log, log
        assert cluster.password not in log
    finally:
        cluster.stop()


# -- a store on a file system of its own: read-only, or full ----------------------------------


@contextmanager
def small_file_system(where: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` mounted at ``where`` (needs root, as in the project's CI)."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _copy_store(store: Path, folder: Path) -> Path:
    filiation.open(store).stats()  # its index is built and cached beside it
    target = folder / store.name
    for suffix in ("", "-wal", "-shm"):
        if Path(str(store) + suffix).exists():
            shutil.copyfile(str(store) + suffix, str(target) + suffix)
    shutil.copytree(str(store) + ".index", str(target) + ".index")
    return target


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@only_sqlite
def test_read_only_store_is_served_and_refuses_an_ingest(
    backend: str, sample_db: Path, tmp_path: Path
) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text(f"parent_id,child_id,relation\n{ROOT},{NEW_CHILD},finetune\n")
    with small_file_system(tmp_path / "ro", 64 * 1024) as fs:
        store = _copy_store(sample_db, fs)
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)

        error = _one_line_error(cli("--db", str(store), "ingest", "edges", str(edges)))
        assert "read-only" in error and "writable --db" in error and "nothing was stored" in error

        with serving(store, tmp_path / "serve.log", options=WORKERS) as base:
            shown = get(base, f"/api/models/{ROOT}")
            assert shown.status_code == 200 and shown.json()["id"] == ROOT
            assert get(base, "/api/stats").status_code == 200
            assert get(base, "/api/search?q=llama").json()


@only_sqlite
def test_full_disk_gives_a_clear_error_and_keeps_the_previous_snapshot(
    backend: str, sample_db: Path, hub_sample: Path, tmp_path: Path
) -> None:
    before = filiation.open(sample_db).show(ROOT)
    filiation.open(sample_db).stats()  # the index and its snapshot copies, as copied below
    size = sum(f.stat().st_size for f in Path(str(sample_db) + ".index").rglob("*"))
    size += Path(sample_db).stat().st_size
    # Room for the store and its index, not for a second snapshot of the same size (even
    # compressed as parts: 512 KiB to spare, files rounded up to pages).
    with small_file_system(tmp_path / "full", size // 1024 + 512) as fs:
        store = _copy_store(sample_db, fs)
        error = _one_line_error(cli("--db", str(store), "ingest", "hub-stats", str(hub_sample)))
        assert "full" in error and "free space" in error and "nothing was stored" in error

        after = filiation.open(store)
        assert [s["id"] for s in after.snapshots()] == [
            s["id"] for s in filiation.open(sample_db).snapshots()
        ]
        assert after.show(ROOT) == before
        with serving(store, tmp_path / "serve.log") as base:
            assert get(base, f"/api/models/{ROOT}").json()["downloads"] == before.downloads
