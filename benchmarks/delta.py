"""How fast a small change reaches a running server: an edge list of N links ingested beside
a big store's dump is applied as a delta over the published index (``lineage/delta/``).

A "server" process opens the store, loads its index and checks for a newer one every 20 ms,
as ``IndexCache.refresh`` does for ``filiation serve``; it notes when it first answers with a
link of the new edge list. An ingest process (``Genealogy.ingest_edges``) reports its peak
memory above what it held once the index was open. Time to visible = from the start of the
ingest call to the server's first answer with the new link; the ingest's CPU time (user and
system, of its own process) says what the change costs when other jobs share the machine.

    python benchmarks/delta.py --db /tmp/delta-bench/store.sqlite --links 1000 100000

The store must exist (``filiation --db ... ingest hub-stats dump.parquet``); each run adds or
adds a source ``edges:bench-delta-<seed>-<links>`` (a new edge list beside the dump:
new models under existing parents).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

SERVER = """
import sys, time, json
import filiation
g = filiation.open(sys.argv[1], load_bundled=False)
_ = g.index
print("ready", flush=True)
probe = sys.argv[2]
while True:
    g.refresh()
    try:
        found = g.ancestors(probe).to_dict()["nodes"]
    except Exception:
        found = []
    if found:
        print(json.dumps({"seen": time.time()}), flush=True)
        break
    time.sleep(0.02)
"""


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class AnonPeak:
    """The peak of the process's anonymous memory (``RssAnon``), sampled every 10 ms: the
    memory an ingest allocates, without the index pages it maps from the page cache (which
    every process shares and the kernel may drop)."""

    def __init__(self) -> None:
        import threading

        self.peak = rss_mb("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb("RssAnon"))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def ingest(db: str, csv: str, name: str) -> None:
    """In a child process: open the store and its index, then ingest the edge list."""
    import filiation

    g = filiation.open(db, load_bundled=False)
    _ = g.index
    before, anon_before = rss_mb(), rss_mb("RssAnon")
    sampler = AnonPeak()
    start = time.time()
    cpu = time.process_time()
    g.ingest_edges(csv, name=name)
    done = time.time()
    cpu = time.process_time() - cpu
    anon_peak = sampler.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "start": start,
                "done": done,
                "cpu": cpu,
                "rss_before": before,
                "peak": peak,
                "anon_extra": anon_peak - anon_before,
            }
        )
    )


def write_edges(db: str, n: int, path: Path, seed: int) -> str:
    """``n`` links: new models under existing parents (a model may get several parents)."""
    import numpy as np

    import filiation

    g = filiation.open(db, load_bundled=False)
    a = g.index.a
    rng = random.Random(seed)
    models = int((np.asarray(a.kind) == 0).sum())
    parents = a.ids_of(np.array(sorted(rng.sample(range(min(models, 500_000)), min(n, 50_000)))))
    tag = f"{seed}-{n}"
    rows = ["parent,child,relation"]
    for i in range(n):
        rows.append(f"{rng.choice(parents)},bench-delta/m-{tag}-{i // 2},finetune")
    path.write_text("\n".join(rows) + "\n")
    return f"bench-delta/m-{tag}-0"


def measure(db: str, n: int, work: Path, seed: int) -> dict:
    csv = work / f"delta-{seed}-{n}.csv"
    probe = write_edges(db, n, csv, seed)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, db, probe], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        out = subprocess.run(
            [sys.executable, __file__, "--child", db, str(csv)],
            capture_output=True,
            text=True,
            check=True,
        )
        child = json.loads(out.stdout.strip().splitlines()[-1])
        seen = json.loads(server.stdout.readline())["seen"]
    finally:
        server.kill()
        server.wait()
    return {
        "links": n,
        "ingest_s": round(child["done"] - child["start"], 2),
        "cpu_s": round(child["cpu"], 2),
        "visible_s": round(seen - child["start"], 2),
        "extra_mb": round(child["peak"] - child["rss_before"], 1),
        "anon_mb": round(child["anon_extra"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="/tmp/delta-bench/store.sqlite")
    ap.add_argument("--links", type=int, nargs="+", default=[1000, 100_000])
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        ingest(args.child[0], args.child[1], f"bench-{Path(args.child[1]).stem}")
        return 0
    work = Path(args.db).parent
    print(
        "| links | ingest (s) | of which CPU (s) | visible to a server (s) "
        "| peak RSS above the open index (MB) | of which allocated (RssAnon, MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.links:
        r = measure(args.db, n, work, args.seed)
        print(
            f"| {n:,} | {r['ingest_s']} | {r['cpu_s']} | {r['visible_s']} | {r['extra_mb']} "
            f"| {r['anon_mb']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
