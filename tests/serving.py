"""A real `filiation serve` in a subprocess on a free loopback port, for tests over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.backends import run_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    db: Path | str,
    log: Path,
    timeout: float = 30,
    *,
    options: Sequence[str] = (),
    python: str = sys.executable,
) -> Iterator[str]:
    """Start the server on ``db`` (with more ``serve`` options, e.g. ``--workers 2``), wait
    (bounded) until it answers, yield its base URL, stop it. ``python``: the interpreter
    whose filiation serves (another environment's, e.g. a wheel's)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [python, "-m", "filiation.cli", "--quiet", "serve"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--db", str(db), *options]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            # The filiation under test (the checkout's src/), not whichever is installed.
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=run_env(HF_HUB_OFFLINE="1"),
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("filiation serve did not start:\n" + log.read_text())
            time.sleep(0.05)
        yield base
        if proc.poll() is not None:
            pytest.fail("filiation serve stopped:\n" + log.read_text())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
