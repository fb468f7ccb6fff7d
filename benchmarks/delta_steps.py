"""One delta step by step: the CPU and wall time of each step an edge-list ingest reports.

Opens the store and loads its index (not timed), then reads the edge list and ingests it as
``Genealogy.ingest_edges`` does, with ``Genealogy.reporting`` noting the process's CPU time
(user and system: the figure other jobs on the machine inflate least) and the wall time at
each step. A line is the time spent *until* the step it names began: the first, reading the
edge list (imports on the way included); "indexing the change", everything before the patch
(the snapshot handed to the store, the other snapshots' rows about the touched ids).

    python benchmarks/delta_steps.py --db /tmp/delta-bench/store.sqlite --edges delta.csv

Edge lists like ``delta.py``'s: ``python benchmarks/delta.py`` writes them (``write_edges``),
or any ``parent,child,relation`` file. Each run adds (or replaces) the source
``edges:<name>`` of the store: run it on a copy.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--edges", required=True, type=Path)
    ap.add_argument("--name", help="the source's name (default: the file's stem)")
    args = ap.parse_args(argv)

    import filiation
    from filiation.sources import edge_csv

    g = filiation.open(args.db, load_bundled=False)
    _ = g.index
    steps: list[tuple[float, float, str]] = []
    last = [time.process_time(), time.perf_counter()]

    def step(message: str) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        steps.append((cpu - last[0], wall - last[1], message))
        last[:] = [cpu, wall]

    cpu0, wall0 = last
    with g.reporting(step):
        records = edge_csv.read(args.edges, name=args.name)
        step("(the ingest starts)")
        report = g.ingest(records)
        step("(done)")
    print("| CPU (s) | wall (s) | until |\n|---:|---:|---|")
    for cpu, wall, message in steps:
        print(f"| {cpu:.3f} | {wall:.3f} | {message} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"\n{report.links:,} links: {time.process_time() - cpu0:.2f} s CPU, "
        f"{time.perf_counter() - wall0:.2f} s wall, peak RSS {peak:,} MB; "
        f"pandas loaded: {'pandas' in sys.modules}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
