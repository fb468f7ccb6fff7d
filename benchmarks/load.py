"""Load benchmark: many concurrent clients against `filiation serve --workers N` on loopback.

Mixed read traffic as the explorer makes it (model page data, the first descendants of the
largest family, search as one types), measured by wrk (installed by
``benchmarks/setup-load.sh``), one wrk per kind of request so that each kind gets its own
latency distribution:

  A. ``--clients`` (32) concurrent connections, no ingest  -- issue 3: search and model data
     p95 <= 50 ms;
  B. ``--ingest-clients`` (64) connections while another process ingests a new snapshot of the
     same dump and every worker moves to it -- issue 4: zero failed requests, p95 <= 100 ms;
     or, with ``--during delta``, while a ``--delta-links`` (1,000) edge list written by
     ``benchmarks/delta.py`` is ingested beside the dump (applied as a delta over the index)
     -- issue 17: p95 <= 25 ms at 32 clients and <= 60 ms at 64, zero errors. Several client
     counts (``--ingest-clients 32,64``) run phase B once each, each with its own delta.

The store is created (and its first ingest timed) when it is empty: a SQLite file in
``--workdir`` by default, or ``--db`` (a SQLite file, or ``postgresql://...``; an existing
store is served as it is). The requests are drawn from the served store's own index, so the
mix is the same whichever store is given; every distinct URL is asked once before the run
and must answer 200, and a kind of request that got no 2xx answer under load stops the run
rather than giving a latency. ``--clients 32,64`` runs phase A once per count. Figures go to
stdout and to ``<workdir>/results-load-<size>[-pg].md``. Not a test: nothing is asserted.

    bash benchmarks/setup-load.sh
    python benchmarks/load.py --size 300000
    python benchmarks/load.py --size 3100000 --db postgresql://filiation@127.0.0.1/bench
    python benchmarks/load.py --size 3100000 --db /tmp/copy/store.sqlite --during delta \
        --clients 32,64 --ingest-clients 32,64 --seconds 20

``run`` is what ``benchmarks/run.py`` calls for its API rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

HERE = Path(__file__).resolve().parent
# this checkout's filiation in this process too (drawing the requests, writing a delta), as
# in the server it starts (``env``)
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

import delta  # noqa: E402
from run import ensure_dump, size_label  # noqa: E402

#: Share of the connections each kind of request gets.
MIX = {"model": 0.45, "search": 0.40, "descendants": 0.15}

WRK_SCRIPT = r"""
local paths = {}
for line in io.lines(os.getenv("LOAD_PATHS")) do paths[#paths + 1] = line end
local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  ok, missing, other = 0, 0, 0
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
function response(status, headers, body)
  if status < 300 then ok = ok + 1
  elseif status == 404 then missing = missing + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local e = summary.errors
  local s2, s4, so = 0, 0, 0
  for _, t in ipairs(threads) do
    s2 = s2 + t:get("ok"); s4 = s4 + t:get("missing"); so = so + t:get("other")
  end
  io.write(string.format(
    'LOADJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "s2xx": %d, "s404": %d, "sother": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.status, e.timeout, s2, s4, so))
end
"""


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def filiation(*args: str) -> list[str]:
    return [sys.executable, "-m", "filiation.cli", "--quiet", *args]


def env() -> dict[str, str]:
    """The processes' environment: this checkout's code, no Hub, and bytecode written and
    read as an installed package's would be (where PYTHONDONTWRITEBYTECODE is set, every
    ``filiation`` process compiled the whole package again: 0.12 s of each delta's CPU)."""
    src = str(HERE.parent / "src")
    return {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": ""}


def timed(cmd: list[str]) -> dict[str, Any]:
    """Run a command; its wall time, exit code, output and the children's peak memory."""
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env(), check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": time.monotonic() - start,
        "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "rc": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr[-2000:],
        "peak_children_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6,
    }


# -- the traffic ---------------------------------------------------------------------------------
def request_paths(db: str, seed: int) -> dict[str, list[str]]:
    """URLs for each kind of request, drawn from the served store's own index (so that a store
    given with ``--db`` gets requests for the models it holds): 2,000 model pages (half among
    the 5,000 most downloaded models), the largest family's first descendants (and its tree's
    children pages), 1,000 searches (prefixes of known ids as one types them, substrings of
    random ids, authors' names)."""
    import numpy as np

    import filiation
    from filiation.domain import NodeKind
    from filiation.lineage.build import KIND_CODES

    rng = random.Random(seed)
    a = filiation.open(db, load_bundled=False).index.a
    # the models rows describe (not parents only named by a link), as the dump's rows were
    rows = np.flatnonzero((np.asarray(a.kind) == KIND_CODES[NodeKind.MODEL]) & ~np.asarray(a.stub))
    if len(rows) < 5000:
        raise SystemExit(f"{db} holds {len(rows):,} models: too few for this benchmark")
    downloads = np.asarray(a.downloads)[rows]
    best = rows[np.argsort(-downloads, kind="stable")[:5000]].tolist()
    everyone = rows.tolist()
    models = a.ids_of(np.array(rng.sample(best, 1000) + rng.sample(everyone, 1000)))
    model_paths = [f"/api/models/{quote(m, safe='/')}" for m in models]

    # the root of the largest family: the model with the most descendants
    root_node = int(rows[np.argmax(np.asarray(a.descendants)[rows])])
    root = quote(a.id_of(root_node), safe="/")
    family = [f"/api/models/{root}/descendants?limit=100"] * 4 + [
        f"/api/models/{root}/descendants?max_depth=1&limit=50",
        f"/api/models/{root}/lineage?max_depth=1&limit=60",  # the graph view's first call
    ]
    family += [
        f"/api/models/{root}/children?" + urlencode({"limit": 25, "offset": 25 * k})
        for k in range(6)
    ]
    searches = []
    for m in a.ids_of(np.array([rng.choice(best) for _ in range(400)])):
        searches.append(m[: rng.randint(3, min(12, len(m)))])
    for m in a.ids_of(np.array(rng.sample(everyone, 400))):
        name = m.split("/")[-1]
        k = rng.randint(4, 10)
        start = rng.randint(0, max(0, len(name) - k))
        searches.append(name[start : start + k])
    authors = np.asarray(a.author)[np.array(rng.sample(everyone, 400))]
    searches += a.ids_of(authors[authors >= 0][:200])
    search_paths = ["/api/search?" + urlencode({"q": q, "limit": 10}) for q in searches]
    return {"model": model_paths, "search": search_paths, "descendants": family}


def preflight(base: str, paths: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Ask every distinct URL once and count the answers by status: a mix whose requests the
    server cannot answer (a 404 for every model drawn from another dump) measures nothing, so
    any answer but 200 stops the run here, before wrk."""
    counts: dict[str, dict[str, int]] = {}
    bad: list[str] = []
    with httpx.Client(base_url=base, trust_env=False, timeout=60) as client:
        for kind, urls in paths.items():
            tally = {"2xx": 0, "404": 0, "other": 0}
            for url in dict.fromkeys(urls):
                status = client.get(url).status_code
                key = "2xx" if status < 300 else "404" if status == 404 else "other"
                tally[key] += 1
                if key != "2xx" and len(bad) < 5:
                    bad.append(f"{status} {url}")
            counts[kind] = tally
    if bad:
        raise SystemExit(
            f"the server does not answer the request mix ({counts}); for example:\n"
            + "\n".join(bad)
        )
    return counts


def split(clients: int) -> dict[str, int]:
    counts = {k: max(1, round(clients * share)) for k, share in MIX.items()}
    counts["model"] += clients - sum(counts.values())
    return counts


class Wrk:
    """One wrk process per kind of request, all started together."""

    def __init__(self, base: str, files: dict[str, Path], clients: int, seconds: int) -> None:
        self.procs: dict[str, subprocess.Popen[str]] = {}
        for kind, n in split(clients).items():
            cmd = ["wrk", "-t1", f"-c{n}", f"-d{seconds}s", "--timeout", "10s"]
            cmd += ["-s", str(files["script"]), base]
            self.procs[kind] = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "LOAD_PATHS": str(files[kind])},
            )
        self.clients = split(clients)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # wrk stops and prints its summary

    def results(self) -> dict[str, dict[str, Any]]:
        out = {}
        for kind, proc in self.procs.items():
            text, _ = proc.communicate(timeout=60)
            line = next((x for x in text.splitlines() if x.startswith("LOADJSON ")), None)
            if line is None:
                raise SystemExit(f"wrk ({kind}) gave no summary:\n{text}")
            r = json.loads(line.removeprefix("LOADJSON "))
            r["clients"] = self.clients[kind]
            r["errors"] = sum(r[k] for k in ("connect", "read", "write", "status", "timeout"))
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            out[kind] = r
        for kind, r in out.items():
            # a latency of answers that are not the pages asked for means nothing
            if r["requests"] and r["s2xx"] == 0:
                raise SystemExit(
                    f"wrk ({kind}): no 2xx answer among {r['requests']:,} requests "
                    f"({r['s404']:,} were 404, {r['sother']:,} another status): no latency "
                    "to report"
                )
        return out


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time each process has used so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_used(since: dict[int, float], served: int) -> tuple[float, list[float]]:
    """The workers' CPU per request (ms) since ``since``, and each worker's share of it: the
    shared socket hands each keep-alive connection to one worker for good, so a worker that
    took most connections does most of the work while the other waits."""
    now = cpu_seconds(list(since))
    used = [now[pid] - since[pid] for pid in since]
    total = sum(used)
    return total * 1e3 / max(1, served), [u / total if total else 0.0 for u in used]


def workers(base: str, want: int, timeout: float = 20) -> dict[int, list[int]]:
    """Each worker's pid and the snapshots it answers from (bursts of /api/health on new
    connections, until ``want`` workers have answered or ``timeout`` seconds)."""
    seen: dict[int, list[int]] = {}
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(8) as pool, httpx.Client(trust_env=False, timeout=10) as client:

        def ask(_: int) -> dict:
            return client.get(base + "/api/health", headers={"Connection": "close"}).json()

        while time.monotonic() < deadline:
            for h in pool.map(ask, range(8)):
                seen[h["worker"]] = h["snapshots"]
            if len(seen) >= want:
                break
            time.sleep(0.1)
    return seen


# -- the run -------------------------------------------------------------------------------------
def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=300_000, help="models in the synthetic dump")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/filiation-bench"))
    ap.add_argument("--db", help="store URL (default: a SQLite file in --workdir)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--clients",
        type=lambda v: [int(x) for x in v.split(",") if x.strip()],
        default=[32],
        help="clients of phase A, comma-separated to run it once per count (32,64)",
    )
    ap.add_argument(
        "--ingest-clients",
        type=lambda v: [int(x) for x in v.split(",") if x.strip()],
        default=[64],
        help="clients of phase B, comma-separated to run it once per count (32,64)",
    )
    ap.add_argument(
        "--during",
        choices=("ingest", "delta"),
        default="ingest",
        help="what phase B runs beside the traffic: a new snapshot of the whole dump, or an "
        "edge list of --delta-links links applied as a delta (benchmarks/delta.py)",
    )
    ap.add_argument("--delta-links", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30, help="length of phase A")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-ingest-phase", action="store_true")
    ap.add_argument(
        "--ingest-nice",
        type=int,
        default=0,
        help="run phase B's ingest at this niceness, as docs/deploy.md advises for scheduled "
        "ingests on a machine that serves (0: same priority as the server)",
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    report = run(args)
    text = render(report, args)
    print(text)
    suffix = "-pg" if report["backend"] == "PostgreSQL" else ""
    (args.workdir / f"results-load-{size_label(args.size)}{suffix}.md").write_text(text)
    return 0


def _phase_b(
    base: str,
    db: str,
    parquet: Path | None,
    files: dict[str, Path],
    clients: int,
    before: dict[int, list[int]],
    args: argparse.Namespace,
    tmp: Path,
) -> dict[str, Any]:
    """``clients`` connections while a new snapshot is written (the whole dump again, or a
    delta), until every worker answers from it, plus 5 s."""
    nice = ["nice", "-n", str(args.ingest_nice)] if args.ingest_nice else []
    if args.during == "delta":
        # delta.py's own edge list (new models under existing parents), written before the
        # traffic starts
        csv = tmp / f"delta-{clients}.csv"
        delta.write_edges(db, args.delta_links, csv, args.seed + clients)
        name = f"load-delta-{args.seed}-{clients}-{int(time.time())}"
        cmd = filiation("--db", db, "ingest", "edges", str(csv), "--name", name, "--json")
    else:
        cmd = filiation("--db", db, "ingest", "hub-stats", str(parquet), "--json")
    out: dict[str, Any] = {"clients": clients, "load": os.getloadavg(), "during": args.during}
    cpu = cpu_seconds(list(before))
    b = Wrk(base, files, clients, 3600)
    time.sleep(3)
    ingest = timed([*nice, *cmd])
    ingest["nice"] = args.ingest_nice
    if ingest["rc"] != 0:
        b.stop()
        raise SystemExit(ingest["stderr"])
    done_at = time.monotonic()
    # The new snapshot, from the ingest's own report: asking `filiation snapshots` would
    # start one more process (0.3 s of CPU) in the middle of the traffic measured.
    made = json.loads(ingest.pop("stdout"))["snapshot_id"]
    switched: dict[int, list[int]] = {}
    while time.monotonic() - done_at < 120:
        switched.update(workers(base, len(before), timeout=2))
        if all(made in switched.get(pid, ()) for pid in before):
            break
    out["switch_s"] = time.monotonic() - done_at
    out["switched"] = {pid: made in switched.get(pid, ()) for pid in before}
    time.sleep(5)  # some traffic on the new snapshot too
    b.stop()
    out["results"] = b.results()
    served = sum(x["requests"] for x in out["results"].values())
    # the workers' CPU, their move to the new index included
    out["cpu_ms"], out["cpu_split"] = cpu_used(cpu, served)
    out["ingest"] = ingest
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Serve the store and drive it: phase A, then phase B at each ``--ingest-clients``."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: bash benchmarks/setup-load.sh")
    args.workdir.mkdir(parents=True, exist_ok=True)
    label = size_label(args.size)
    db = args.db or str(args.workdir / f"load-{label}" / "filiation.sqlite")
    backend = "PostgreSQL" if db.startswith("postgres") else "SQLite"
    report: dict[str, Any] = {
        "size": args.size,
        "backend": backend,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }

    # The store and its first ingest (timed), unless it holds a snapshot already.
    probe = subprocess.run(
        filiation("--db", db, "snapshots", "--json"),
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    has_snapshot = probe.returncode == 0 and any(
        s["status"] == "complete" and s["source"] == "hub-stats" and "bundled" not in s["label"]
        for s in json.loads(probe.stdout or "[]")
    )
    # The dump: to fill an empty store, or for phase B's new snapshot of it.
    parquet = None
    if not has_snapshot or (args.during == "ingest" and not args.skip_ingest_phase):
        parquet = ensure_dump(args.size, args.workdir, args.seed, False)[0]
    if not has_snapshot:
        assert parquet is not None
        say(f"ingesting {parquet} into {backend}")
        report["first_ingest"] = timed(filiation("--db", db, "ingest", "hub-stats", str(parquet)))
        if report["first_ingest"]["rc"] != 0:
            raise SystemExit(report["first_ingest"]["stderr"])
        say(f"ingest: {report['first_ingest']['wall_s']:.1f} s")

    tmp = Path(tempfile.mkdtemp(prefix="load-", dir=args.workdir))
    files = {"script": tmp / "mix.lua"}
    files["script"].write_text(WRK_SCRIPT)
    say(f"drawing the requests from {db}'s index")
    mix = request_paths(db, args.seed)
    for kind, paths in mix.items():
        files[kind] = tmp / f"{kind}.txt"
        files[kind].write_text("\n".join(paths) + "\n")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (args.workdir / f"serve-{label}.log").open("w")
    cmd = filiation("--db", db, "serve", "--port", str(port), "--workers", str(args.workers))
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env())
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start; see " + log.name)
            time.sleep(0.2)
        before = workers(base, args.workers)
        say(f"serving from {len(before)} workers: {before}")
        report["preflight"] = preflight(base, mix)
        say(f"every request of the mix answered 200: {report['preflight']}")

        say("warming up (10 s, 8 clients)")
        warm = Wrk(base, files, 8, 10)
        for p in warm.procs.values():
            p.wait()
        warm.results()

        report["load_phase_a"] = os.getloadavg()
        report["a_all"] = []
        for clients in args.clients:
            say(f"phase A: {clients} clients, {args.seconds} s, no ingest")
            cpu = cpu_seconds(list(before))
            a = Wrk(base, files, clients, args.seconds)
            for p in a.procs.values():
                p.wait()
            results = a.results()
            served = sum(x["requests"] for x in results.values())
            cpu_ms, split = cpu_used(cpu, served)
            report["a_all"].append({"results": results, "cpu_ms": cpu_ms, "cpu_split": split})
        # the first count's figures, as run.py reads them
        report["a"] = report["a_all"][0]["results"]
        report["a_cpu_ms"] = report["a_all"][0]["cpu_ms"]

        if not args.skip_ingest_phase:
            report["b"] = []
            for clients in args.ingest_clients:
                say(f"phase B: {clients} clients while a new snapshot ({args.during}) is written")
                report["b"].append(_phase_b(base, db, parquet, files, clients, before, args, tmp))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    return report


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"# Load: {r['size']:,} models, {r['backend']}, serve --workers {r['workers']}",
        "",
        f"{r['cpus']} CPUs; load average (1, 5, 15 min) before the run "
        f"{', '.join(f'{x:.2f}' for x in r['load_before'])}, before phase A "
        f"{', '.join(f'{x:.2f}' for x in r.get('load_phase_a', ()))}",
        "",
    ]
    if "first_ingest" in r:
        fi = r["first_ingest"]
        lines += [
            f"First ingest into an empty store: {fi['wall_s']:.1f} s wall, peak memory of the "
            f"ingest process {fi['peak_children_gb']:.2f} GB",
            "",
        ]
    if "preflight" in r:
        lines += [
            "Requests drawn from the served store's index, each distinct URL asked once before "
            "the run (all answered 200): "
            + ", ".join(f"{kind} {c['2xx']:,}" for kind, c in r["preflight"].items()),
            "",
        ]
    phases = [("A", x["results"], "no ingest", x) for x in r.get("a_all", [])]
    for b in r.get("b", []):
        what = "a new snapshot of the dump" if b["during"] == "ingest" else "a delta"
        phases.append(("B", b["results"], f"{what} ingested meanwhile", b))
    for title, results, what, cpu in phases:
        clients = sum(x["clients"] for x in results.values())
        lines += [
            f"## Phase {title}: {clients} concurrent clients, {what}",
            "",
            "| requests | clients | count | 2xx | 404 | req/s | p50 ms | p95 ms | p99 ms | max ms "
            "| errors |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        total_req = total_err = total_ok = total_404 = 0
        total_rps = 0.0
        for kind, x in results.items():
            total_req += x["requests"]
            total_err += x["errors"]
            total_ok += x["s2xx"]
            total_404 += x["s404"]
            total_rps += x["rps"]
            lines.append(
                f"| {kind} | {x['clients']} | {x['requests']:,} | {x['s2xx']:,} | "
                f"{x['s404']:,} | {x['rps']:.0f} | {x['p50_us'] / 1e3:.1f} | "
                f"{x['p95_us'] / 1e3:.1f} | {x['p99_us'] / 1e3:.1f} | {x['max_us'] / 1e3:.0f} | "
                f"{x['errors']} |"
            )
        lines.append(
            f"| all | {clients} | {total_req:,} | {total_ok:,} | {total_404:,} | "
            f"{total_rps:.0f} | | | | | {total_err} |"
        )
        lines.append("")
        if "cpu_ms" in cpu:
            shares = " / ".join(f"{x:.0%}" for x in sorted(cpu["cpu_split"], reverse=True))
            lines += [
                f"Workers' CPU time per request (user + system, all kinds): "
                f"{cpu['cpu_ms']:.2f} ms, shared between the workers {shares}",
                "",
            ]
    for b in r.get("b", []):
        ing = b["ingest"]
        lines += [
            f"Phase B at {b['clients']} clients: the {b['during']} (niceness "
            f"{ing.get('nice', 0)}) took {ing['wall_s']:.1f} s wall, {ing['cpu_s']:.1f} s of "
            "CPU; every worker answered "
            f"from the new snapshot {b['switch_s']:.1f} s after it ended "
            f"({sum(b['switched'].values())}/{len(b['switched'])} workers switched); load "
            f"average before it {', '.join(f'{x:.2f}' for x in b['load'])}.",
            "",
        ]
    lines += [
        "Command: `python benchmarks/load.py " + " ".join(sys.argv[1:]) + "`",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
