#!/usr/bin/env python3
"""The filiation benchmark, in one command.

    python benchmarks/run.py [--sizes 300000,3100000] [--workdir /tmp/filiation-bench]

For each size: generate (or reuse) a synthetic hub-stats dump (benchmarks/synthetic.py);
measure filiation's ingest (CLI subprocess under /usr/bin/time -v: wall time and peak RSS),
its time to first answer (fresh CLI and Python processes), then p50/p95 latencies of the
lineage questions through the Python API, and the same questions on networkx and on SQLite
recursive CTEs (benchmarks/baselines.py); then, in the same run, the cold CLI
(benchmarks/cli_startup.py: ``--version``, ``show``, ``search``, ``descendants`` of a family of
a few hundred models, fresh processes), deltas of 1,000 and 100,000 links until a running
server answers with them (benchmarks/delta.py), and the JSON API's p95 at 32 and 64 clients
while a 1,000-link delta is applied (benchmarks/load.py, wrk). Prints a table and writes it as
Markdown to ``<workdir>/results-<size>.md``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baselines  # noqa: E402
import cli_startup  # noqa: E402
import delta  # noqa: E402
import synthetic  # noqa: E402

TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
REL2 = ["finetune", "adapter"]

# metric key -> (label, stat, target in the metric's unit, unit)
TARGETS = {
    # issue 17: full ingest <= 30 s and <= 2 GB at 3.1 M models; a cold `show` <= 0.35 s
    "ingest_s": ("ingest (s)", None, 30.0, "s"),
    # CPU time of the ingest and its writer process: steadier than wall time when other
    # processes share the machine (no target: the wall time is the one that counts)
    "ingest_cpu": ("ingest CPU time, user + system, all its processes (s)", None, None, "s"),
    "ingest_rss": ("ingest peak memory (MB)", None, 2048.0, "MB"),
    "first_cli": ("first answer, fresh CLI `show --json` (s, median of 3)", None, 0.35, "s"),
    "first_api": (
        "first answer, fresh `python -c` open+descendants (s, median of 3)",
        None,
        1.5,
        "s",
    ),
    "desc_all": ("descendants of largest family, all relations", "p50", 15.0, "ms"),
    "desc_rel2": ("descendants, finetune+adapter only", "p50", 10.0, "ms"),
    "children50": ("top 50 children by downloads", "p50", 3.0, "ms"),
    "anc_deep": ("ancestors of the deepest model", "p50", None, "ms"),
    "lineage_p50": ("full lineage of a random model", "p50", 0.2, "ms"),
    "lineage_p95": ("full lineage of a random model", "p95", 1.0, "ms"),
    "lineage_linked": ("full lineage of a random model with a parent", "p50", None, "ms"),
    "lineage_linked_p95": ("full lineage of a random model with a parent", "p95", None, "ms"),
    "search_p50": ("search (query mix)", "p50", None, "ms"),
    "search_p95": ("search (query mix)", "p95", 20.0, "ms"),
    "families": ("families of the most prolific author (author page)", "p50", 100.0, "ms"),
    # issue 17: a CLI that answers at once (fresh processes, median of --cli-runs)
    "cli_version": ("cold CLI `--version` (s, median)", None, 0.15, "s"),
    "cli_show": ("cold CLI `show ID` (s, median)", None, 0.35, "s"),
    "cli_search": ("cold CLI `search TEXT` (s, median)", None, 0.35, "s"),
    "cli_descendants": (
        "cold CLI `descendants` of a family of 300-400 models, with its table (s, median)",
        None,
        0.5,
        "s",
    ),
    # issue 17: small changes cost little (benchmarks/delta.py)
    "delta_1000_visible": (
        "1,000-link delta: until a running server answers with it (s)",
        None,
        1.0,
        "s",
    ),
    "delta_1000_mb": (
        "1,000-link delta: ingest's peak RSS above the open index (MB)",
        None,
        200.0,
        "MB",
    ),
    "delta_100000_visible": (
        "100,000-link delta: until a running server answers with it (s)",
        None,
        5.0,
        "s",
    ),
    # issue 17: the JSON API during a delta (benchmarks/load.py, serve --workers 2, wrk)
    "api_a32": ("API p95 at 32 clients, no ingest (ms, worst kind)", None, None, "ms"),
    "api_b32": (
        "API p95 at 32 clients during a 1,000-link delta (ms, worst kind)",
        None,
        25.0,
        "ms",
    ),
    "api_b64": (
        "API p95 at 64 clients during a 1,000-link delta (ms, worst kind)",
        None,
        60.0,
        "ms",
    ),
    "api_errors": ("API failed requests during the deltas", None, 0.0, "n"),
    "small_ingest_cold": (
        "ingest of a 2-link edge list beside the dump, no snapshot copies (s)",
        None,
        None,
        "s",
    ),
    "small_ingest": (
        "the same, with the snapshot copies (`refresh` and the like) (s)",
        None,
        None,
        "s",
    ),
}


def size_label(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}".rstrip("0").rstrip(".") + "M"
    if n >= 1_000:
        return f"{n / 1e3:.0f}k"
    return str(n)


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    try:
        import networkx

        nxv = networkx.__version__
    except ImportError:
        nxv = "missing"
    try:
        from importlib.metadata import version

        fv = version("filiation")
    except Exception:
        fv = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
        "networkx": nxv,
        "sqlite": sqlite3.sqlite_version,
        "filiation": fv,
    }


# ----------------------------------------------------------------- subprocesses
def run_measured(cmd: list[str], timeout: float = 900) -> dict:
    """Run cmd; wall time, exit code, output, and peak RSS of the child (MB)."""
    full = [TIME_BIN, "-v", *cmd] if TIME_BIN else list(cmd)
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=fo, stderr=fe, text=True)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except ChildProcessError:
            p.wait(timeout)
            status, ru = p.returncode, None
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status) if ru is not None else status
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    rss = cpu = None
    if TIME_BIN:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        rss = int(m.group(1)) / 1024 if m else None
        times = re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", err)
        cpu = sum(float(t) for t in times) if len(times) == 2 else None
        cut = err.find("\tCommand being timed:")
        if cut >= 0:
            err = err[:cut]
    elif ru is not None:
        rss = ru.ru_maxrss / 1024  # Linux: kilobytes
        cpu = ru.ru_utime + ru.ru_stime
    return {
        "cmd": cmd,
        "wall": wall,
        "rc": p.returncode,
        "rss_mb": rss,
        "cpu_s": cpu,
        "stdout": out,
        "stderr": err,
    }


def filiation_cmd() -> list[str]:
    exe = shutil.which("filiation")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from filiation.cli import main; sys.exit(main())"]


# ----------------------------------------------------------------- timing
class Timer:
    def __init__(self, budget: float):
        self.budget = budget

    def run(
        self, fn, items: list, passes: int, warmup: list | None = None, min_samples: int = 3
    ) -> tuple[list[int], list]:
        """Time fn(item) for each item, `passes` times; stop early when over budget.

        Returns the samples (ns) and the results of the first pass (for result sizes)."""
        for it in warmup or []:
            fn(it)
        samples: list[int] = []
        first_pass: list = []
        deadline = time.perf_counter() + self.budget
        for p in range(passes):
            for it in items:
                t0 = time.perf_counter_ns()
                r = fn(it)
                samples.append(time.perf_counter_ns() - t0)
                if p == 0:
                    first_pass.append(r)
                if time.perf_counter() > deadline and len(samples) >= min_samples:
                    return samples, first_pass
        return samples, first_pass


def pct(samples: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q)) / 1e6  # ms


# ----------------------------------------------------------------- workloads
def build_queries(parquet: Path, meta: dict, seed: int, n_lineage: int, n_search: int) -> dict:
    rng = np.random.default_rng(seed + 7)
    t = pq.read_table(parquet, columns=["id", "author", "downloads", "baseModels"])
    ids = t.column("id").combine_chunks()
    n = len(ids)
    dl = t.column("downloads").to_numpy()
    n_lineage = min(n_lineage, max(1, n - 100))
    pick = rng.choice(n, size=min(n, n_lineage + 100), replace=False)
    rand_ids = pc.take(ids, pa.array(pick)).to_pylist()
    linked_rows = np.flatnonzero(t.column("baseModels").is_valid().to_numpy(zero_copy_only=False))
    lpick = rng.choice(linked_rows, size=min(len(linked_rows), n_lineage + 100), replace=False)
    linked_ids = pc.take(ids, pa.array(lpick)).to_pylist()
    # search mix: 35 % prefixes of popular ids, 35 % substrings of random ids,
    # 20 % author names, 10 % strings matching nothing
    top = np.argsort(-dl)[:200]
    popular = pc.take(ids, pa.array(top)).to_pylist()
    n_pre, n_sub, n_auth = int(0.35 * n_search), int(0.35 * n_search), int(0.20 * n_search)
    n_none = n_search - n_pre - n_sub - n_auth
    queries: list[tuple[str, str]] = []
    for _ in range(n_pre):
        s = popular[int(rng.integers(0, len(popular)))]
        k = int(rng.integers(3, len(s) + 1))
        queries.append(("prefix of a popular id", s[:k]))
    sub_src = pc.take(ids, pa.array(rng.choice(n, size=n_sub))).to_pylist()
    for s in sub_src:
        name = s.split("/", 1)[-1]
        k = int(rng.integers(4, 11))
        if len(name) <= k:
            queries.append(("substring of a random id", name))
        else:
            a = int(rng.integers(0, len(name) - k + 1))
            queries.append(("substring of a random id", name[a : a + k]))
    authors = pc.take(
        t.column("author").combine_chunks(), pa.array(rng.choice(n, size=n_auth))
    ).to_pylist()
    for a in authors:
        queries.append(("author name", a or "unknown"))
    letters = np.array(list("bcdfghjklmnpqrstvwxz"))
    for _ in range(n_none):
        queries.append(
            (
                "matches nothing",
                "".join(rng.choice(letters, 7)) + "-" + "".join(rng.choice(letters, 5)),
            )
        )
    # the author with most models: its page counts the families of all of them
    counts = pc.value_counts(t.column("author").combine_chunks().drop_null())
    prolific = counts.field("values")[int(np.argmax(counts.field("counts").to_numpy()))].as_py()
    order = rng.permutation(len(queries))  # so that a budget-cut prefix stays representative
    queries = [queries[i] for i in order]
    return {
        "root": meta["largest_family_root"],
        "deepest": meta["deepest_model"],
        "lineage_ids": rand_ids[:n_lineage],
        "lineage_warmup": rand_ids[n_lineage:],
        "linked_ids": linked_ids[:n_lineage],
        "linked_warmup": linked_ids[n_lineage:],
        "queries": queries,
        "prolific": prolific,
        "mix": {
            k: sum(1 for q in queries if q[0] == k) for k in dict.fromkeys(q[0] for q in queries)
        },
    }


def measure_queries(
    sysname: str,
    api: dict,
    q: dict,
    timer: Timer,
    passes: dict,
    results: dict,
    sizes: dict,
    errors: list,
) -> None:
    """api: name -> callable. Fills results[metric][sysname] (ms) and sizes[metric][sysname]."""

    def size_one(results):
        return len(results[0])

    def size_mean(results):
        return f"{np.mean([len(r) for r in results]):.1f} avg"

    def record(metric_keys, fn, items, n_passes, warmup, size_of=size_one, min_samples=3):
        try:
            samples, first = timer.run(fn, items, n_passes, warmup, min_samples)
        except Exception as e:  # report, do not hide
            errors.append(
                f"{sysname}: {metric_keys[0]}: {type(e).__name__}: {e}\n"
                + traceback.format_exc(limit=3)
            )
            return
        for mk in metric_keys:
            stat = TARGETS[mk][1]
            results.setdefault(mk, {})[sysname] = (
                pct(samples, 50 if stat == "p50" else 95),
                len(samples),
            )
            try:
                sizes.setdefault(mk, {})[sysname] = size_of(first)
            except Exception:
                sizes.setdefault(mk, {})[sysname] = "?"

    root, deepest = q["root"], q["deepest"]
    say(f"  {sysname}: descendants of {root}")
    record(["desc_all"], lambda r: api["descendants"](r), [root], passes["single"], [root, root])
    record(["desc_rel2"], lambda r: api["descendants"](r, REL2), [root], passes["single"], [root])
    record(["children50"], lambda r: api["children"](r, 50), [root], passes["small"], [root] * 3)
    say(f"  {sysname}: ancestors of {deepest}")
    record(["anc_deep"], lambda r: api["ancestors"](r), [deepest], passes["small"], [deepest] * 3)
    say(f"  {sysname}: lineage of {len(q['lineage_ids'])} random models")
    record(
        ["lineage_p50", "lineage_p95"],
        api["lineage"],
        q["lineage_ids"],
        passes["lineage"],
        q["lineage_warmup"],
        size_of=size_mean,
        min_samples=50,
    )
    record(
        ["lineage_linked", "lineage_linked_p95"],
        api["lineage"],
        q["linked_ids"],
        passes["lineage"],
        q["linked_warmup"],
        size_of=size_mean,
        min_samples=50,
    )
    if "families" in api:  # filiation only: the baselines have no notion of families
        au = q["prolific"]
        say(f"  {sysname}: families of {au}")
        record(
            ["families"],
            lambda x: api["families"](x).families,
            [au],
            passes["single"],
            [au],
        )
    say(f"  {sysname}: search, {len(q['queries'])} queries")
    texts = [t for _, t in q["queries"]]
    record(
        ["search_p50", "search_p95"],
        lambda s: api["search"](s, 20),
        texts,
        passes["search"],
        texts[:5],
        size_of=size_mean,
        min_samples=10,
    )


# ----------------------------------------------------------------- one size
def ensure_dump(n: int, workdir: Path, seed: int, regen: bool) -> tuple[Path, dict, float | None]:
    parquet = workdir / f"hub-{size_label(n)}.parquet"
    meta_path = Path(str(parquet) + ".meta.json")
    sha = synthetic.generator_sha()
    if not regen and parquet.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if (
            meta.get("models") == n
            and meta.get("seed") == seed
            and meta.get("generator_sha256") == sha
        ):
            say(f"reusing {parquet}")
            return parquet, meta, None
    say(f"generating {parquet} ({n:,} models)")
    r = run_measured(
        [
            sys.executable,
            str(HERE / "synthetic.py"),
            "--models",
            str(n),
            "--out",
            str(parquet),
            "--seed",
            str(seed),
        ]
    )
    if r["rc"] != 0:
        raise SystemExit(f"synthetic.py failed:\n{r['stderr']}")
    return parquet, json.loads(meta_path.read_text()), r["wall"]


def filiation_available() -> tuple[bool, str]:
    try:
        import filiation

        filiation.open  # noqa: B018
        return True, ""
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"


def filiation_code_stamp() -> str | None:
    """Fingerprint of the installed filiation sources (to detect edits during a run)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("filiation")
        if spec is None or not spec.origin:
            return None
        root = Path(spec.origin).parent
        files = sorted(root.rglob("*.py"))
        return str(hash(tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)))
    except Exception:
        return None


def small_ingest(
    db: Path, root: str, workdir: Path, fil_cmd: list[str], results: dict, notes: list, errors: list
) -> None:
    """A small ingest beside the dump (what `refresh ID`, an edge list or a scan does): the
    index is rebuilt from every current snapshot, once with the dump read back from the store
    and once from its Arrow copy beside the index (store/snapshot_cache.py). On a copy of
    the store, which stays as it was."""
    tmp = Path(tempfile.mkdtemp(prefix="small-ingest-", dir=workdir))
    try:
        copy = tmp / "filiation.db"
        shutil.copyfile(db, copy)
        edges = tmp / "edges.csv"
        edges.write_text(
            f"parent,child,relation\n{root},acme/in-house-ft,finetune\n"
            f"{root},acme/in-house-q4,quantized\n"
        )
        cmd = [*fil_cmd, "--db", str(copy), "ingest", "edges", str(edges)]
        for key in ("small_ingest_cold", "small_ingest"):
            # the first run finds no copy (the store was copied without its index folder)
            r = run_measured(cmd)
            if r["rc"] != 0:
                errors.append(f"small ingest failed (rc={r['rc']}): {' '.join(cmd)}")
                return
            results[key] = {"filiation": (r["wall"], 1)}
            notes.append(f"{key}: {r['wall']:.1f} s wall, peak {r['rss_mb']:.0f} MB")
            say(f"  {key} {r['wall']:.1f}s, peak {r['rss_mb']:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def store_copy(db: Path, workdir: Path) -> Path:
    """A copy of the store and of its published index, for what writes (deltas, the API's
    phase B): the store measured stays as it was, and the copy needs no index build."""
    tmp = Path(tempfile.mkdtemp(prefix="store-copy-", dir=workdir))
    copy = tmp / db.name
    shutil.copyfile(db, copy)
    index = db.with_name(db.name + ".index")
    if index.is_dir():
        shutil.copytree(index, copy.with_name(copy.name + ".index"))
    return copy


def family_of(db: Path, low: int = 300, high: int = 400) -> str | None:
    """The best known model with ``low``-``high`` descendants (the cold CLI's lineage)."""
    import filiation

    g = filiation.open(str(db), load_bundled=False)
    a = g.index.a
    counts = np.asarray(a.descendants)
    models = np.asarray(a.kind) == 0
    hits = np.flatnonzero(models & (counts >= low) & (counts <= high))
    return a.id_of(int(hits[0])) if len(hits) else None  # nodes are numbered by renown


def cold_cli(db: Path, model: str, family: str, runs: int, results: dict, notes: list) -> None:
    """``--version``, ``--help``, ``show``, ``search`` and ``descendants`` in fresh processes on
    the store (only read), as benchmarks/cli_startup.py measures them."""
    cmds = cli_startup.commands(model, family)
    src = cli_startup.SRC
    cli_startup.run_once(src, db, ["show", model], importtime=False)  # page cache, facts
    rows = cli_startup.measure([src], [db], cmds, runs)[0]
    keys = ["cli_version", None, "cli_show", "cli_search", "cli_descendants"]
    for key, row in zip(keys, rows, strict=True):
        if key is not None:
            results[key] = {"filiation": (row["median_wall"], runs)}
        say(f"  cold CLI {row['command']}: {row['median_wall']:.3f} s")
    notes.append(
        f"cold CLI ({runs} fresh processes a command; the import profile from one more under "
        "`-X importtime`):\n\n" + "\n".join("  " + x for x in cli_startup.table(rows)) + "\n"
    )


def deltas(copy: Path, links: list[int], seed: int, results: dict, notes: list) -> None:
    """Edge lists of ``links`` links ingested beside the dump, until a running server answers
    with them (benchmarks/delta.py's ``measure``), on the copy of the store."""
    for n in links:
        r = delta.measure(str(copy), n, copy.parent, seed)
        if f"delta_{n}_visible" in TARGETS:
            results[f"delta_{n}_visible"] = {"filiation": (r["visible_s"], 1)}
        if f"delta_{n}_mb" in TARGETS:
            results[f"delta_{n}_mb"] = {"filiation": (r["extra_mb"], 1)}
        notes.append(
            f"delta of {n:,} links: ingest {r['ingest_s']} s, visible to a server "
            f"{r['visible_s']} s, peak RSS above the open index {r['extra_mb']} MB (of which "
            f"allocated {r['anon_mb']} MB)"
        )
        say(f"  delta {n:,}: {r}")


def api_during_delta(copy: Path, n: int, args, results: dict, notes: list, errors: list) -> None:
    """``filiation serve --workers 2`` under wrk: 32 clients without ingest, then 32 and 64
    while a 1,000-link delta is applied (benchmarks/load.py's ``run``), on the copy."""
    import load

    argv = ["--size", str(n), "--workdir", str(args.workdir), "--db", str(copy)]
    argv += ["--seed", str(args.seed), "--seconds", str(args.api_seconds), "--clients", "32"]
    argv += ["--during", "delta", "--delta-links", "1000", "--ingest-clients", "32,64"]
    largs = load.parse(argv)
    report = load.run(largs)

    def worst(phase: dict) -> float:
        return max(x["p95_us"] for x in phase.values()) / 1e3

    results["api_a32"] = {"filiation": (worst(report["a"]), 1)}
    failed = 0
    for b in report.get("b", []):
        results[f"api_b{b['clients']}"] = {"filiation": (worst(b["results"]), 1)}
        failed += sum(x["errors"] for x in b["results"].values())
    results["api_errors"] = {"filiation": (float(failed), 1)}
    if failed:
        errors.append(f"the API failed {failed} requests during the deltas")
    text = load.render(report, largs)
    lines = [  # its section titles as bold lines, its command line (load.py's own) left out
        "**" + x[3:] + "**" if x.startswith("## ") else x
        for x in text.splitlines()[2:]
        if x.strip() and not x.startswith("Command:")
    ]
    notes.append("API under load (benchmarks/load.py):\n\n" + "\n".join("  " + x for x in lines))


def issue17(db: Path, n: int, meta: dict, args, results: dict, notes: list, errors: list) -> None:
    """The cold CLI on the store, then deltas and the API during deltas on a copy of it."""
    model = next(iter(meta.get("popular_ids") or []), meta["largest_family_root"])
    try:
        family = family_of(db) or meta["largest_family_root"]
        say(f"cold CLI: show {model}, descendants {family}")
        cold_cli(db, model, family, args.cli_runs, results, notes)
    except Exception as e:
        errors.append(f"cold CLI: {type(e).__name__}: {e}\n" + traceback.format_exc(limit=4))
    if not args.delta_links and args.skip_api:
        return
    copy = store_copy(db, args.workdir)
    try:
        if args.delta_links:
            try:
                deltas(copy, args.delta_links, args.seed, results, notes)
            except Exception as e:
                errors.append(f"deltas: {type(e).__name__}: {e}\n" + traceback.format_exc(limit=4))
        if not args.skip_api:
            if shutil.which("wrk") is None:
                errors.append("wrk is not installed (bash benchmarks/setup-load.sh): no API rows")
            else:
                try:
                    api_during_delta(copy, n, args, results, notes, errors)
                except (Exception, SystemExit) as e:
                    errors.append(
                        f"API under load: {type(e).__name__}: {e}\n" + traceback.format_exc(limit=4)
                    )
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)


def run_size(n: int, args) -> str:
    workdir: Path = args.workdir
    label = size_label(n)
    stamp = filiation_code_stamp()
    parquet, meta, gen_wall = ensure_dump(n, workdir, args.seed, args.regen)
    root, deepest = meta["largest_family_root"], meta["deepest_model"]
    say(
        f"root={root} (expected descendants {meta['largest_family_descendants']:,}, "
        f"{meta['largest_family_descendants_baseModels_only']:,} via baseModels), "
        f"deepest={deepest} ({meta['deepest_chain_links']} links)"
    )
    q = build_queries(parquet, meta, args.seed, args.lineage_models, args.search_queries)
    timer = Timer(args.budget)
    results: dict = {}
    sizes: dict = {}
    errors: list[str] = []
    notes: list[str] = []
    passes = {"single": args.reps, "small": args.reps * 4, "lineage": 3, "search": 3}

    ok, why = filiation_available()
    fil_cmd = filiation_cmd()
    if not ok:
        errors.append(f"filiation not importable ({why}); only the baselines were measured")
    elif not args.skip_filiation:
        fdir = workdir / f"filiation-{label}"
        db = args.store or fdir / "filiation.db"
        reuse = (args.reuse_store or args.store is not None) and db.exists()
        if reuse:
            say(f"reusing {db} (no ingest measured)")
            notes.append(f"filiation store reused from a previous run ({db}): ingest not measured")
            r = {"rc": 0, "wall": None, "rss_mb": None}
        else:
            if fdir.exists():
                shutil.rmtree(fdir)
            fdir.mkdir(parents=True)
            cmd = [*fil_cmd, "--db", str(db), "ingest", "hub-stats", str(parquet)]
            say("filiation ingest: " + " ".join(cmd))
            r = run_measured(cmd)
        if r["rc"] != 0:
            errors.append(f"ingest failed (rc={r['rc']}): {' '.join(cmd)}\n{r['stderr'][-3000:]}")
        else:
            if not reuse:
                results["ingest_s"] = {"filiation": (r["wall"], 1)}
                results["ingest_rss"] = {"filiation": (r["rss_mb"], 1)}
                if r.get("cpu_s") is not None:
                    results["ingest_cpu"] = {"filiation": (r["cpu_s"], 1)}
                size = sum(f.stat().st_size for f in fdir.rglob("*") if f.is_file())
                notes.append(f"filiation store after ingest: {size / 2**20:,.0f} MB in {fdir}")
                say(f"  ingest {r['wall']:.1f}s, peak {r['rss_mb']:.0f} MB")
            # time to first answer, fresh processes (page cache warm after ingest)
            cmd = [*fil_cmd, "--db", str(db), "show", root, "--json"]
            walls = []
            for _ in range(3):
                r = run_measured(cmd)
                if r["rc"] != 0:
                    errors.append(
                        f"show failed (rc={r['rc']}): {' '.join(cmd)}\n{r['stderr'][-3000:]}"
                    )
                    break
                walls.append(r["wall"])
            if walls:
                results["first_cli"] = {"filiation": (statistics.median(walls), len(walls))}
                notes.append("first answer CLI runs (s): " + ", ".join(f"{w:.2f}" for w in walls))
            code = (
                f"import filiation; g=filiation.open({str(db)!r}); "
                f"print(len(g.descendants({root!r})))"
            )
            cmd = [sys.executable, "-c", code]
            walls = []
            for _ in range(3):
                r = run_measured(cmd)
                if r["rc"] != 0:
                    errors.append(
                        f"python API first answer failed (rc={r['rc']}): "
                        f'{sys.executable} -c "{code}"\n{r["stderr"][-3000:]}'
                    )
                    break
                walls.append(r["wall"])
            if walls:
                results["first_api"] = {"filiation": (statistics.median(walls), len(walls))}
                notes.append(
                    "first answer python runs (s): "
                    + ", ".join(f"{w:.2f}" for w in walls)
                    + f"; result size {r['stdout'].strip()}"
                )
            if not args.skip_small_ingest:
                small_ingest(db, root, workdir, fil_cmd, results, notes, errors)
            issue17(db, n, meta, args, results, notes, errors)
            # in-process API
            try:
                import filiation

                rss0 = baselines.rss_mb()
                t0 = time.perf_counter()
                g = filiation.open(str(db))
                first = len(g.descendants(root))
                t1 = time.perf_counter()
                notes.append(
                    f"filiation in-process open + first descendants: {t1 - t0:.2f}s "
                    f"({first:,} nodes), RSS +{baselines.rss_mb() - rss0:,.0f} MB"
                )
                api = {
                    "descendants": lambda r, rel=None: g.descendants(r, relations=rel),
                    "ancestors": lambda r: g.ancestors(r),
                    "children": lambda r, lim: g.children(r, limit=lim),
                    "lineage": lambda r: g.lineage(r),
                    "search": lambda s, lim: g.search(s, limit=lim),
                    "families": lambda au: g.families(au),
                }
                measure_queries("filiation", api, q, timer, passes, results, sizes, errors)
            except Exception as e:
                errors.append(
                    f"filiation API: {type(e).__name__}: {e}\n" + traceback.format_exc(limit=4)
                )

    if not args.skip_baselines:
        bl = [sys.executable, str(HERE / "baselines.py")]
        say("networkx: build in a child process (time + peak memory)")
        r = run_measured([*bl, "build-networkx", str(parquet)])
        if r["rc"] == 0:
            results.setdefault("ingest_s", {})["networkx"] = (r["wall"], 1)
            results.setdefault("ingest_rss", {})["networkx"] = (r["rss_mb"], 1)
        else:
            errors.append(f"networkx build failed: {r['stderr'][-2000:]}")
        say("networkx: building the graph in-process for the queries")
        nxb = baselines.NetworkXBaseline(parquet)
        t0 = time.perf_counter()
        nxb.descendants(root)
        results.setdefault("first_api", {})["networkx"] = (
            nxb.build_seconds + time.perf_counter() - t0,
            1,
        )
        notes.append(
            f"networkx graph: {nxb.nodes:,} nodes, {nxb.edges:,} edges, built in "
            f"{nxb.build_seconds:.1f}s (RSS +{nxb.build_rss_mb:,.0f} MB); its 'first "
            "answer' = parquet load + graph build + one query, in-process"
        )
        api = {
            "descendants": nxb.descendants,
            "ancestors": nxb.ancestors,
            "children": nxb.children,
            "search": nxb.search,
            "lineage": lambda r: [*nxb.ancestors(r), *nxb.descendants(r)],
        }
        measure_queries("networkx", api, q, timer, passes, results, sizes, errors)
        nxb.close()
        del nxb, api

        say("SQLite: building edges/models tables in a child process")
        sdb = workdir / f"baseline-{label}.sqlite"
        r = run_measured([*bl, "build-sqlite", str(parquet), str(sdb)])
        if r["rc"] != 0:
            raise SystemExit(f"SQLite baseline build failed: {r['stderr'][-2000:]}")
        results.setdefault("ingest_s", {})["SQLite CTE"] = (r["wall"], 1)
        results.setdefault("ingest_rss", {})["SQLite CTE"] = (r["rss_mb"], 1)
        sq = baselines.SqliteBaseline(None, sdb)
        notes.append(
            f"SQLite baseline: {sq.db_bytes / 2**20:,.0f} MB database (tables "
            "models(id PK, downloads), edges(parent, child, relation) + 2 indexes); "
            f"recursive CTEs with UNION and a depth cap of {baselines.MAX_DEPTH}"
        )
        cmd = [sys.executable, str(HERE / "baselines.py"), "sqlite-descendants", str(sdb), root]
        walls = [run_measured(cmd)["wall"] for _ in range(3)]
        results.setdefault("first_api", {})["SQLite CTE"] = (statistics.median(walls), 3)
        api = {
            "descendants": sq.descendants,
            "ancestors": sq.ancestors,
            "children": sq.children,
            "search": sq.search,
            "lineage": lambda r: [*sq.ancestors(r), *sq.descendants(r)],
        }
        measure_queries("SQLite CTE", api, q, timer, passes, results, sizes, errors)
        sq.close()

    if stamp != filiation_code_stamp():
        errors.append(
            "filiation's source files changed during this run: figures may mix "
            "two versions of the code (and include an index rebuild); run again"
        )
    peak = self_peak_mb()
    md = render(n, label, parquet, meta, gen_wall, q, results, sizes, notes, errors, peak, args)
    out = workdir / f"results-{label}.md"
    out.write_text(md)
    print(md, flush=True)
    say(f"wrote {out}")
    return md


# ----------------------------------------------------------------- report
def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "MB":
        return f"{v:,.0f} MB"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "n":
        return f"{v:,.0f}"
    if v < 0.1:
        return f"{v * 1000:.1f} µs"
    if v < 10:
        return f"{v:.2f} ms"
    return f"{v:,.1f} ms"


def ratio(b: float | None, f: float | None) -> str:
    if b is None or not f or b != b:
        return "—"
    r = b / f
    return f"{r:,.1f}x" if r >= 10 else f"{r:.2g}x"


def render(n, label, parquet, meta, gen_wall, q, results, sizes, notes, errors, peak, args) -> str:
    systems = ["networkx", "SQLite CTE"]
    lines = [f"# filiation benchmark — {n:,} models ({label})", ""]
    m = machine()
    lines.append(
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, {m['os']}; "
        f"Python {m['python']}, pyarrow {m['pyarrow']}, numpy {m['numpy']}, "
        f"networkx {m['networkx']}, SQLite {m['sqlite']}, filiation {m['filiation']}."
    )
    c = meta["counts"]
    lines.append(
        f"Dump: `{parquet}` ({meta['parquet_bytes'] / 2**20:,.0f} MB, seed "
        f"{meta['seed']}{'' if gen_wall is None else f', generated in {gen_wall:.0f} s'}"
        f"): {c['links_total']:,} links ({c['links_in_baseModels']:,} in baseModels), "
        f"{c['models_with_parent']:,} models with a parent, "
        f"{c['models_with_several_parents']:,} with several."
    )
    lines.append(
        f"Largest family: `{meta['largest_family_root']}` — "
        f"{meta['largest_family_descendants']:,} descendants "
        f"({meta['largest_family_descendants_baseModels_only']:,} through baseModels "
        f"alone); deepest model: `{meta['deepest_model']}` "
        f"({meta['deepest_chain_links']} links, "
        f"{meta['deepest_model_ancestors']} ancestors)."
    )
    mix = ", ".join(f"{v} {k}" for k, v in q["mix"].items())
    lines.append(
        f"Search mix ({len(q['queries'])} queries, limit 20): {mix}. "
        f"Lineage: {len(q['lineage_ids'])} uniformly random models (and "
        f"{len(q['linked_ids'])} random models that have a parent)."
    )
    lines.append(
        f"Latencies: time.perf_counter_ns per call after warm-up; filiation "
        f"{args.reps}x/{args.reps * 4}x for single queries, 3 passes for lists; "
        f"each system/question capped at ~{args.budget:.0f} s (n = samples taken). "
        "Ratio = baseline / filiation (higher = filiation faster). "
        "Baselines' ingest rows are their graph/table build from the parquet, in a "
        "child process under /usr/bin/time like filiation's ingest."
    )
    lines.append("")
    head = ["measure", "filiation"]
    for s in systems:
        head += [s, "ratio"]
    head += ["target (3.1M)", "result", "result size (fil / nx / sql)"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for key, (lab, stat, target, unit) in TARGETS.items():
        row = results.get(key, {})
        if not row and target is None:
            continue
        f = row.get("filiation")
        fv = f[0] if f else None
        label_ = lab + (f" {stat}" if stat else "")
        cells = [label_, fmt(fv, unit) + (f" (n={f[1]})" if f and f[1] > 3 else "")]
        for s in systems:
            b = row.get(s)
            bv = b[0] if b else None
            cells.append(fmt(bv, unit) + (f" (n={b[1]})" if b and b[1] > 3 else ""))
            cells.append(ratio(bv, fv))
        if target is None:
            cells += ["—", ""]
        else:
            cells.append("≤ " + fmt(target, unit))
            cells.append("—" if fv is None else ("PASS" if fv <= target else "MISS"))
        sz = sizes.get(key, {})
        cells.append(" / ".join(str(sz.get(s, "—")) for s in ["filiation", *systems]) if sz else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Peak memory of the benchmark process (filiation in-process + networkx graph + "
        f"SQLite): {peak:,.0f} MB."
    )
    lines.append("")
    lines.append(
        "Result sizes: descendants/ancestors = nodes found (root excluded); lineage = "
        "ancestors + descendants, mean over the models; children = hits returned; "
        "search = mean hits per query. "
        "filiation also reads parents named only in tags or in cardData, so its "
        "counts can exceed the baselines' (baseModels only)."
    )
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"- {x}" for x in notes]
    if errors:
        lines.append("")
        lines.append("Errors:")
        for e in errors:
            lines.append("```")
            lines.append(e.rstrip())
            lines.append("```")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="filiation benchmark vs networkx and SQLite CTEs")
    ap.add_argument(
        "--sizes",
        default="300000,3100000",
        help="comma-separated model counts (default 300000,3100000)",
    )
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/filiation-bench"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--regen", action="store_true", help="regenerate the synthetic dumps")
    ap.add_argument("--reps", type=int, default=50, help="repetitions of single queries")
    ap.add_argument(
        "--budget", type=float, default=20.0, help="max seconds per system and question"
    )
    ap.add_argument("--lineage-models", type=int, default=1000)
    ap.add_argument("--search-queries", type=int, default=200)
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--skip-filiation", action="store_true")
    ap.add_argument(
        "--reuse-store",
        action="store_true",
        help="query the filiation store a previous run left in the workdir instead of "
        "ingesting again (ingest is then not measured)",
    )
    ap.add_argument(
        "--store",
        type=Path,
        help="an existing filiation store of the same dump to query instead of ingesting (as "
        "--reuse-store; only read: deltas and the API's phase B work on a copy)",
    )
    ap.add_argument("--cli-runs", type=int, default=7, help="fresh processes per CLI command")
    ap.add_argument(
        "--delta-links",
        type=lambda v: [int(x) for x in v.split(",") if x.strip()],
        default=[1000, 100_000],
        help="sizes of the deltas measured, comma-separated (empty: none)",
    )
    ap.add_argument("--api-seconds", type=int, default=30, help="length of the API's phase A")
    ap.add_argument("--skip-api", action="store_true", help="no API load rows (needs wrk)")
    ap.add_argument(
        "--skip-small-ingest",
        action="store_true",
        help="skip the 2-link edge list ingested with a full index rebuild",
    )
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    if TIME_BIN is None:
        print(
            "note: /usr/bin/time is missing; peak memory of children comes from "
            "os.wait4 rusage instead",
            file=sys.stderr,
        )
    sizes = [int(float(x)) for x in args.sizes.split(",") if x.strip()]
    if len(sizes) > 1:
        # one fresh process per size: a long-lived process would keep the filiation code it
        # imported first, and peak-memory figures would accumulate across sizes
        rc = 0
        raw = list(sys.argv[1:] if argv is None else argv)
        rest = []
        skip = False
        for i, a in enumerate(raw):
            if skip:
                skip = False
                continue
            if a == "--sizes":
                skip = True
                continue
            if a.startswith("--sizes="):
                continue
            rest.append(raw[i])
        for n in sizes:
            rc |= subprocess.call([sys.executable, __file__, "--sizes", str(n), *rest])
        return rc
    for n in sizes:
        t0 = time.perf_counter()
        run_size(n, args)
        say(f"size {n:,} done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
