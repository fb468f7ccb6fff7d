"""Where an ingest spends its time and memory, step by step (Linux only).

    python benchmarks/ingest_steps.py STORE DUMP
    python benchmarks/ingest_steps.py --postgresql DUMP

Ingests DUMP into STORE (a path or a database URL; give an empty one) through
``Genealogy.ingest_hub_stats`` and prints, for each step the progress hook
(``Genealogy.reporting``) announces, its wall time, the CPU time this process spent in it
(user + system, every thread: the parsing, the thread encoding the snapshot's parts, the
index build), the peak RSS during the step (``VmHWM``, reset at each step through
``/proc/self/clear_refs``), the memory Arrow's allocator holds at its end and the process's
anonymous memory at its end; then the CPU time of the writer process. ``/usr/bin/time -v``
gives the whole ingest's figure.

``--postgresql`` ingests into an empty database of a throw-away PostgreSQL cluster
(``tests/backends.py``: the server's binaries installed, run as root through the
``postgres`` user), stopped and deleted at the end; the server's own CPU time is not counted.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from filiation.service.genealogy import Genealogy

ROOT = Path(__file__).resolve().parents[1]


def _status() -> dict[str, int]:
    """Memory figures of this process, in MB."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon"):
                out[key] = int(value.split()[0]) // 1024
    return out


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main(store: str, dump: str) -> None:
    start = time.perf_counter()
    before = _cpu(), _cpu(resource.RUSAGE_CHILDREN)  # (the cluster's initdb, if any)
    current = ["reading, parsing and storing rows", start, before[0]]
    peaks: list[int] = []

    def step(message: str) -> None:
        now, cpu = time.perf_counter(), _cpu()
        mem = _status()
        peaks.append(mem["VmHWM"])
        print(
            f"{current[0]:<34} {now - current[1]:6.2f} s  CPU {cpu - current[2]:6.2f} s  "
            f"peak {mem['VmHWM']:5d} MB  Arrow {pa.total_allocated_bytes() >> 20:5d} MB  "
            f"anon {mem['RssAnon']:5d} MB",
            flush=True,
        )
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM: the next line is the next step's own peak
        current[:] = [message, now, cpu]

    genealogy = Genealogy(store, load_bundled=False)
    with genealogy.reporting(step):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        report = genealogy.ingest_hub_stats(dump)
        step("")
    print(
        f"{report.nodes:,} nodes, {report.links:,} links in {time.perf_counter() - start:.1f} s;"
        f" peak {max(peaks)} MB; CPU {_cpu() - before[0]:.1f} s, writer process"
        f" {_cpu(resource.RUSAGE_CHILDREN) - before[1]:.1f} s"
    )


def on_postgresql(dump: str) -> None:
    """``main`` on an empty database of a throw-away cluster."""
    sys.path.insert(0, str(ROOT))
    from tests.backends import PostgresCluster

    cluster = PostgresCluster()
    try:
        cluster.start()
        main(cluster.create_database("ingest"), dump)
    finally:
        cluster.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    if sys.argv[1] == "--postgresql":
        on_postgresql(sys.argv[2])
    else:
        main(sys.argv[1], sys.argv[2])
