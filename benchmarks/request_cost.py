"""What one request of the load mix costs in CPU, without the network: through the service
alone, then through the whole ASGI app (routing, parameters, middleware, JSON) with no server,
per kind of request. ``load.py`` measures the same mix over HTTP, where wrk and uvicorn share
the two cores; the three figures side by side tell where a request's time goes.

    python benchmarks/request_cost.py --db /tmp/copy/store.sqlite [--passes 3]

Each kind's requests are asked once before timing (warm memos, mapped pages); a pass asks
every one of them again, and the median pass is reported. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from load import request_paths  # noqa: E402


def service_calls(g: Any, paths: list[str]) -> list[Callable[[], Any]]:
    """The service call (and its JSON) behind each API path of the mix."""
    from filiation.api.nodes import _model_page
    from filiation.api.responses import json_response, record

    calls: list[Callable[[], Any]] = []
    for path in paths:
        url = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/search":
            calls.append(
                lambda q=q: json_response(
                    [h.model_dump(mode="json") for h in g.search(q["q"], limit=int(q["limit"]))]
                )
            )
            continue
        node, _, sub = unquote(url.path[len("/api/models/") :]).rpartition("/")
        if sub in ("descendants", "lineage"):
            ask = g.descendants if sub == "descendants" else g.lineage
            depth = int(q["max_depth"]) if "max_depth" in q else None
            calls.append(
                lambda ask=ask, node=node, depth=depth, limit=int(q["limit"]): json_response(
                    ask(node, max_depth=depth, limit=limit).to_dict()
                )
            )
        elif sub == "children":
            calls.append(
                lambda node=node, q=q: _model_page(
                    g, node, "children", None, int(q["limit"]), int(q["offset"]), None
                )
            )
        else:
            model = unquote(url.path[len("/api/models/") :])
            calls.append(lambda model=model: record(g.show(model)))
    return calls


def app_calls(app: Any, paths: list[str]) -> list[Callable[[], Any]]:
    """Each path asked of the ASGI app directly, as uvicorn would hand it over."""

    async def ask(path: str) -> None:
        url = urlsplit(path)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": unquote(url.path),
            "raw_path": url.path.encode(),
            "query_string": url.query.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"request_cost")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if status != [200]:
            raise SystemExit(f"{path} answered {status}")

    loop = asyncio.new_event_loop()
    return [lambda path=path: loop.run_until_complete(ask(path)) for path in paths]


def cost(calls: list[Callable[[], Any]], passes: int) -> float:
    """Median CPU milliseconds per call over ``passes`` passes (after a warm-up pass)."""
    for call in calls:
        call()
    rounds = max(1, 1000 // len(calls))  # a pass of at least ~1,000 calls
    per_call = []
    for _ in range(passes):
        start = time.process_time()
        for _ in range(rounds):
            for call in calls:
                call()
        per_call.append((time.process_time() - start) / (rounds * len(calls)))
    return statistics.median(per_call) * 1e3


def spread(calls: list[Callable[[], Any]]) -> tuple[float, float, float]:
    """Median, 99th percentile and worst CPU milliseconds of one call, each call timed
    alone (the best of three): the tail a mean hides, which on a server delays every
    request queued behind it."""
    times = []
    for call in calls:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            call()
            best = min(best, time.process_time() - start)
        times.append(best * 1e3)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)], times[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="store URL or SQLite file (a 3.1 M store)")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1, help="as load.py's, for the same mix")
    args = ap.parse_args(argv)

    from filiation.api import app as api_app
    from filiation.service import Genealogy

    mix = request_paths(args.db, args.seed)
    g = Genealogy(args.db)
    app = api_app.create_app(g)
    print(
        "| requests | distinct | service ms CPU | ASGI app ms CPU "
        "| service: median / p99 / worst of one call |"
    )
    print("|---|---|---|---|---|")
    for kind, paths in mix.items():
        calls = service_calls(g, paths)
        service = cost(calls, args.passes)
        whole = cost(app_calls(app, paths), args.passes)
        mid, p99, worst = spread(calls)
        print(
            f"| {kind} | {len(paths):,} | {service:.3f} | {whole:.3f} "
            f"| {mid:.2f} / {p99:.2f} / {worst:.2f} |"
        )
    health = cost(app_calls(app, ["/api/health"]), args.passes)
    print(f"| health (the app's floor) | 1 | | {health:.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
