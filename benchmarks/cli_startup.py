"""How fast a fresh ``filiation`` process answers: wall time and what it imports.

Each command runs in new processes on a store holding the bundled sample (made, and its index
built, by a warm-up run that is not counted), as a user typing it would: ``--version``,
``--help``, ``show ID`` and ``search TEXT``. For each, the median wall time of ``--runs``
processes, the time Python spends importing (``-X importtime``, the sum of the top-level
imports), the median CPU time (user + system, steadier than wall time when other processes
share the machine), and which heavy libraries the process loaded.

    python benchmarks/cli_startup.py                      # this checkout's src/
    python benchmarks/cli_startup.py --src /tmp/before/src --runs 15

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
COMMANDS: dict[str, list[str]] = {
    "--version": ["--version"],
    "--help": ["--help"],
    f"show {MODEL}": ["show", MODEL],
    "search llama": ["search", "llama"],
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
    """Total import time (s) and the slowest top-level imports, from ``-X importtime``."""
    top: list[tuple[float, str]] = []
    for line in stderr.splitlines():
        m = IMPORT_LINE.match(line)
        if m and len(m.group(3)) == 1:  # one space: imported by the program itself
            top.append((int(m.group(2)) / 1e6, m.group(4)))
    return sum(t for t, _ in top), sorted(top, reverse=True)[:4]


def loaded(stderr: str) -> str:
    for line in reversed(stderr.splitlines()):
        if line.startswith("LOADED "):
            return line[len("LOADED ") :] or "—"
    return "?"


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
    args = ap.parse_args()
    sources = [s.resolve() for s in args.src or [SRC]]
    with tempfile.TemporaryDirectory(prefix="filiation-startup-") as tmp:
        dbs = [Path(tmp) / f"bundled-{i}.sqlite" for i in range(len(sources))]
        for src, db in zip(sources, dbs, strict=True):
            # Warm-up: loads the bundled sample into a new store and builds its index.
            run_once(src, db, ["show", MODEL], importtime=False)
            run_once(src, db, ["show", MODEL], importtime=False)
        rows: list[list[str]] = [[] for _ in sources]
        for label, cmd in COMMANDS.items():
            walls: list[list[float]] = [[] for _ in sources]
            cpus: list[list[float]] = [[] for _ in sources]
            for _ in range(args.runs):
                for k, (src, db) in enumerate(zip(sources, dbs, strict=True)):
                    wall, cpu, _ = run_once(src, db, cmd, importtime=False)
                    walls[k].append(wall)
                    cpus[k].append(cpu)
            for k, (src, db) in enumerate(zip(sources, dbs, strict=True)):
                _, _, stderr = run_once(src, db, cmd, importtime=True)
                total, slowest = import_profile(stderr)
                worst = ", ".join(f"{name} {t * 1000:.0f}" for t, name in slowest)
                rows[k].append(
                    f"| `{label}` | {statistics.median(walls[k]):.3f} s | {min(walls[k]):.3f} s "
                    f"| {statistics.median(cpus[k]):.3f} s "
                    f"| {total:.3f} s | {worst} | {loaded(stderr)} |"
                )
    for src, lines in zip(sources, rows, strict=True):
        print(f"source: {src} ({args.runs} fresh processes a command)")
        print()
        print(
            "| command | median wall | min wall | median CPU | imports | slowest imports (ms) "
            "| loaded |"
        )
        print("|---|---:|---:|---:|---:|---|---|")
        print("\n".join(lines))
        print()


if __name__ == "__main__":
    main()
