"""A killed ingest leaves no temporary files behind once another ingest runs (issue 16,
item 8): the copy of a snapshot being staged beside the index
(``<store>.index/snapshots/staged-<pid>-*.arrow.tmp``, 24 MB per kill at 300,000 rows)
belongs to a process that no longer exists, so the next ingest deletes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import filiation
from filiation.store import snapshot_cache


def test_temp_files_of_a_killed_ingest_are_deleted_by_the_next(
    tmp_path: Path, hub_sample: Path
) -> None:
    db = tmp_path / "store.db"
    g = filiation.open(db, load_bundled=False)
    staged = g.store.index_dir() / snapshot_cache.FOLDER
    code = (
        "import filiation, sys\n"
        "filiation.open(sys.argv[1], load_bundled=False).ingest_hub_stats(sys.argv[2])\n"
    )
    env = {**os.environ, "PYTHONPATH": "src"}
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), str(hub_sample)], env=env)
    left: list[Path] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            left = list(staged.glob("staged-*.tmp")) if staged.is_dir() else []
            if left:
                os.kill(proc.pid, signal.SIGKILL)  # killed while its copy is staged
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    assert left, "the ingest finished before its staged copy could be seen"
    assert proc.returncode == -signal.SIGKILL
    assert list(staged.glob("staged-*.tmp")), "the killed ingest left its temporary files"

    # The next ingest, a small one, deletes them (they are minutes, not an hour, old).
    edges = tmp_path / "edges.csv"
    edges.write_text("parent,child,relation\nmeta-llama/Llama-3.1-8B,acme/ft,finetune\n")
    filiation.open(db, load_bundled=False).ingest_edges(edges)
    assert not list(staged.glob("*.tmp"))


def test_temp_files_of_a_running_writer_are_kept(tmp_path: Path) -> None:
    """Another process's ingest in progress keeps its files (its pid is alive)."""
    base = tmp_path / snapshot_cache.FOLDER
    base.mkdir()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        mine = base / f"staged-{alive.pid}-1.nodes.arrow.tmp"
        mine.write_bytes(b"x")
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        gone = base / f"staged-{dead.stdout.strip()}-1.nodes.arrow.tmp"
        gone.write_bytes(b"x")
        snapshot_cache.prune(tmp_path, [])
        assert mine.exists() and not gone.exists()
    finally:
        alive.kill()
        alive.wait()
