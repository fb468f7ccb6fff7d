"""How fast a fresh ``filiation`` process answers: wall time and what it imports.

Each command runs in new processes on a store holding the bundled sample (made, and its index
built, by a warm-up run that is not counted), or on ``--db STORE`` (an existing store, only
read), as a user typing it would: ``--version``, ``--help``, ``show ID``, ``search TEXT`` and
``descendants ID`` with its table. For each, the median wall time of ``--runs`` processes, the
time Python spends importing (``-X importtime``, the sum of the top-level imports), the median
CPU time (user + system, steadier than wall time when other processes share the machine), the
top offenders of ``-X importtime`` (self time summed per top-level package), which heavy
libraries the process loaded, and the machine's load average at the start and the end.

    python benchmarks/cli_startup.py                      # this checkout's src/
    python benchmarks/cli_startup.py --src /tmp/before/src --runs 15
    python benchmarks/cli_startup.py --db /tmp/copy/store.sqlite --model ID --family ID

``measure`` is what ``benchmarks/run.py`` calls for its cold CLI rows.

``--src`` measures another source tree (for example an older commit unpacked with
``git archive``), so that before and after are measured the same way on the same machine.
The command is started as ``python -c "from filiation.cli import main; main()"`` (the
console script does the same), with ``PYTHONPATH`` set to ``--src``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
#: A family of a few hundred models in the bundled sample (its descendants' table).
FAMILY = "meta-llama/Llama-3.1-8B"


def commands(model: str = MODEL, family: str = FAMILY, text: str = "llama") -> dict[str, list[str]]:
    """The commands measured, by label."""
    return {
        "--version": ["--version"],
        "--help": ["--help"],
        f"show {model}": ["show", model],
        f"search {text}": ["search", text],
        f"descendants {family}": ["descendants", family],
    }


#: Libraries a command should load only when it uses them (issue 17).
HEAVY = (
    "numpy",
    "pyarrow",
    "pandas",
    "pydantic",
    "sqlalchemy",
    "rich",
    "fastapi",
    "uvicorn",
    "torch",
    "transformers",
    "huggingface_hub",
    "jinja2",
    "scipy",
)
# The process writes the heavy modules it loaded to stderr as it exits.
RUNNER = """
import atexit, sys
def _loaded():
    names = [m for m in {heavy!r} if m in sys.modules]
    sys.stderr.write("\\nLOADED " + ",".join(names) + "\\n")
atexit.register(_loaded)
from filiation.cli import main
main()
"""
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _env(src: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILIATION_")}
    env.update(
        PYTHONPATH=str(src),
        FILIATION_DB=str(db),
        HF_HUB_OFFLINE="1",
        COLUMNS="120",
        PYTHONDONTWRITEBYTECODE="",
    )
    return env


def run_once(src: Path, db: Path, args: list[str], importtime: bool) -> tuple[float, float, str]:
    """Wall time and CPU time (user + system: less sensitive than wall time to other
    processes on a busy machine) of one fresh process, and its standard error."""
    cmd = [sys.executable]
    if importtime:
        cmd += ["-X", "importtime"]
    cmd += ["-c", RUNNER.format(heavy=HEAVY), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=_env(src, db), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, done.stderr


def import_profile(stderr: str) -> tuple[float, list[tuple[float, str]]]:
    """Total import time (s) and the top offenders from ``-X importtime``: each top-level
    package's own import time (self time of all its modules, whoever imported them), so that
    a library is charged once however it was reached."""
    total = 0.0
    per_package: dict[str, float] = {}
    for line in stderr.splitlines():
        m = IMPORT_LINE.match(line)
        if not m:
            continue
        if len(m.group(3)) == 1:  # one space: imported by the program itself
            total += int(m.group(2)) / 1e6
        package = m.group(4).split(".")[0]
        per_package[package] = per_package.get(package, 0.0) + int(m.group(1)) / 1e6
    top = sorted(((t, name) for name, t in per_package.items()), reverse=True)[:6]
    return total, top


def loaded(stderr: str) -> str:
    for line in reversed(stderr.splitlines()):
        if line.startswith("LOADED "):
            return line[len("LOADED ") :] or "—"
    return "?"


def measure(
    sources: list[Path], dbs: list[Path], cmds: dict[str, list[str]], runs: int
) -> list[list[dict[str, object]]]:
    """Each command of ``cmds`` in ``runs`` fresh processes per source tree (their runs
    alternating), then once under ``-X importtime``: one row per command and tree."""
    rows: list[list[dict[str, object]]] = [[] for _ in sources]
    for label, cmd in cmds.items():
        walls: list[list[float]] = [[] for _ in sources]
        cpus: list[list[float]] = [[] for _ in sources]
        for _ in range(runs):
            for k, (src, db) in enumerate(zip(sources, dbs, strict=True)):
                wall, cpu, _ = run_once(src, db, cmd, importtime=False)
                walls[k].append(wall)
                cpus[k].append(cpu)
        for k, (src, db) in enumerate(zip(sources, dbs, strict=True)):
            _, _, stderr = run_once(src, db, cmd, importtime=True)
            total, offenders = import_profile(stderr)
            rows[k].append(
                {
                    "command": label,
                    "median_wall": statistics.median(walls[k]),
                    "min_wall": min(walls[k]),
                    "median_cpu": statistics.median(cpus[k]),
                    "imports": total,
                    "offenders": ", ".join(f"{name} {t * 1000:.0f}" for t, name in offenders),
                    "loaded": loaded(stderr),
                }
            )
    return rows


def table(rows: list[dict[str, object]]) -> list[str]:
    """Markdown lines of :func:`measure`'s rows for one source tree."""
    lines = [
        "| command | median wall | min wall | median CPU | imports | top import offenders, "
        "self time per package (ms) | loaded |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['command']}` | {r['median_wall']:.3f} s | {r['min_wall']:.3f} s "
            f"| {r['median_cpu']:.3f} s | {r['imports']:.3f} s | {r['offenders']} "
            f"| {r['loaded']} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--src",
        type=Path,
        action="append",
        help="a source tree to measure (repeat to compare: their runs alternate, so that a "
        "busy machine slows them alike); default: this checkout's src/",
    )
    ap.add_argument("--runs", type=int, default=9, help="fresh processes per command and tree")
    ap.add_argument(
        "--db",
        type=Path,
        help="an existing store (only read); default: a new store of the bundled sample",
    )
    ap.add_argument("--model", default=MODEL, help="the id `show` asks for")
    ap.add_argument("--family", default=FAMILY, help="the id `descendants` asks for")
    args = ap.parse_args()
    sources = [s.resolve() for s in args.src or [SRC]]
    cmds = commands(args.model, args.family)
    with tempfile.TemporaryDirectory(prefix="filiation-startup-") as tmp:
        if args.db is not None:
            dbs = [args.db] * len(sources)
        else:
            dbs = [Path(tmp) / f"bundled-{i}.sqlite" for i in range(len(sources))]
        for src, db in zip(sources, dbs, strict=True):
            # Warm-up: loads the bundled sample into a new store and builds its index (and
            # the facts show's checks read, cached beside it); fills the page cache.
            run_once(src, db, ["show", args.model], importtime=False)
            run_once(src, db, ["show", args.model], importtime=False)
        load_before = os.getloadavg()[0]
        rows = measure(sources, dbs, cmds, args.runs)
        load_after = os.getloadavg()[0]
    # Other processes on the machine slow wall times most: say how busy it was.
    print(f"load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end")
    print()
    for src, lines in zip(sources, rows, strict=True):
        print(f"source: {src} ({args.runs} fresh processes a command)")
        print()
        print("\n".join(table(lines)))
        print()


if __name__ == "__main__":
    main()
