"""Where an ingest spends its time and memory, step by step (Linux only).

    python benchmarks/ingest_steps.py STORE DUMP

Ingests DUMP into STORE (a path or a database URL; give an empty one) through
``Genealogy.ingest_hub_stats`` and prints, for each step the progress hook
(``Genealogy.reporting``) announces, its wall time, the peak RSS during the step (``VmHWM``,
reset at each step through ``/proc/self/clear_refs``), the memory Arrow's allocator holds at
its end and the process's anonymous memory at its end. The writer process is not counted
(it stays small); ``/usr/bin/time -v`` gives the whole ingest's figure.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from filiation.service.genealogy import Genealogy


def _status() -> dict[str, int]:
    """Memory figures of this process, in MB."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon"):
                out[key] = int(value.split()[0]) // 1024
    return out


def main(store: str, dump: str) -> None:
    start = time.perf_counter()
    current = ["reading, parsing and storing rows", start]
    peaks: list[int] = []

    def step(message: str) -> None:
        now = time.perf_counter()
        mem = _status()
        peaks.append(mem["VmHWM"])
        print(
            f"{current[0]:<34} {now - current[1]:6.2f} s  peak {mem['VmHWM']:5d} MB  "
            f"Arrow {pa.total_allocated_bytes() >> 20:5d} MB  anon {mem['RssAnon']:5d} MB",
            flush=True,
        )
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM: the next line is the next step's own peak
        current[:] = [message, now]

    genealogy = Genealogy(store, load_bundled=False)
    with genealogy.reporting(step):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        report = genealogy.ingest_hub_stats(dump)
        step("")
    print(
        f"{report.nodes:,} nodes, {report.links:,} links in {time.perf_counter() - start:.1f} s;"
        f" peak {max(peaks)} MB"
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
