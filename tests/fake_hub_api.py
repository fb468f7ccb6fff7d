"""A local fake of the Hub's model API, serving the real sample's rows in the API's shapes.

It answers the two calls ``filiation refresh`` makes through ``huggingface_hub``:

* ``GET /api/models/{id}?expand=...`` — one model: ``{"_id", "id", "author", "baseModels":
  {"relation", "models": [{"_id", "id"}]}, "childrenModelCount", "cardData", "createdAt":
  "2024-03-01T10:22:03.000Z", ...}`` (with ``expand``, only those fields and ``_id``/``id``),
  404 ``{"error": "Repository not found"}`` with ``X-Error-Code: RepoNotFound`` otherwise;
* ``GET /api/models?filter=base_model:<relation>:<id>&expand=...`` — the children, a page of
  ``page_size`` at a time, the next page in a ``Link: <url>; rel="next"`` header.

Knobs reproduce the Hub's bad days: ``rate_limited`` answers 429 (``Retry-After: 0``) that
many times first, ``gone`` ids answer 404, ``broken`` ids answer non-JSON, ``bad_base`` ids
carry a malformed ``baseModels``, ``down`` makes every answer a 503 (``down_lists``: every
listing).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests import reference


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z") if value is not None else None


@dataclass
class FakeHubAPI:
    rows: dict[str, dict[str, Any]]
    children: dict[tuple[str, str], list[str]]
    url: str = ""
    page_size: int = 2
    rate_limited: int = 0
    gone: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    bad_base: set[str] = field(default_factory=set)
    down: bool = False
    down_lists: bool = False
    requests: list[tuple[str, dict[str, list[str]], str | None]] = field(default_factory=list)
    served_429: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def child_count(self, key: str) -> int:
        return sum(len(v) for (_, parent), v in self.children.items() if parent == key)

    def shape(self, key: str, expand: list[str]) -> dict[str, Any]:
        r = self.rows[key]
        card = json.loads(r["cardData"]) if r["cardData"] else None
        full = {
            "_id": f"{abs(hash(key)) % 16**24:024x}",
            "id": r["id"],
            "author": r["author"],
            "baseModels": "oops" if key in self.bad_base else r["baseModels"],
            "childrenModelCount": self.child_count(key),
            "cardData": card,
            "createdAt": _iso(r["createdAt"]),
            "lastModified": _iso(r["lastModified"]),
            "downloads": r["downloads"],
            "likes": r["likes"],
            "trendingScore": r["trendingScore"],
            "pipeline_tag": r["pipeline_tag"],
            "library_name": r["library_name"],
            "tags": r["tags"],
        }
        if r["baseModels"] is None:
            del full["baseModels"]
        if not expand:
            return full
        return {k: v for k, v in full.items() if k in ("_id", "id") or k in expand}


def build(hub_sample: Path) -> FakeHubAPI:
    """The sample as the Hub would serve it: children by ``baseModels`` only (the Hub's own
    field; what ``base_model:<relation>:<id>`` filters on)."""
    rows = {r["id"].lower(): r for r in reference.rows(hub_sample)}
    children: dict[tuple[str, str], list[str]] = {}
    for key, r in rows.items():
        bm = r["baseModels"]
        if bm and bm["models"]:
            for m in bm["models"]:
                if m["id"].lower() != key:
                    children.setdefault((bm["relation"], m["id"].lower()), []).append(key)
    return FakeHubAPI(rows=rows, children=children)


def _handler(hub: FakeHubAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(value).encode(), headers)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            with hub.lock:
                hub.requests.append((parts.path, query, self.headers.get("Authorization")))
                if hub.rate_limited > 0:
                    hub.rate_limited -= 1
                    hub.served_429 += 1
                    self._json(429, {"error": "Too Many Requests"}, {"Retry-After": "0"})
                    return
            if hub.down or (hub.down_lists and parts.path == "/api/models"):
                self._json(503, {"error": "Service Unavailable"}, {"Retry-After": "0"})
                return
            expand = query.get("expand", []) + query.get("expand[]", [])
            if parts.path.startswith("/api/models/"):
                key = unquote(parts.path[len("/api/models/") :]).lower()
                if key in hub.broken:
                    self._send(200, b"<html>Bad gateway</html>")
                    return
                if key not in hub.rows or key in hub.gone:
                    self._json(
                        404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
                    )
                    return
                self._json(200, hub.shape(key, expand))
                return
            if parts.path == "/api/models":
                flt = (query.get("filter") or [""])[0]
                _, rel, parent = [*flt.split(":", 2), "", ""][:3]
                keys = [k for k in hub.children.get((rel, parent.lower()), []) if k not in hub.gone]
                if parent.lower() in hub.broken:
                    self._send(200, b"{not json")
                    return
                start = int((query.get("cursor") or ["0"])[0])
                page = keys[start : start + hub.page_size]
                headers = {}
                if start + hub.page_size < len(keys):
                    nxt = (
                        f"{hub.url}/api/models?filter={quote(flt)}&cursor={start + hub.page_size}"
                        + "".join(f"&expand={quote(e)}" for e in expand)
                    )
                    headers["Link"] = f'<{nxt}>; rel="next"'
                self._json(200, [hub.shape(k, expand) for k in page], headers)
                return
            self._json(404, {"error": "Not found"})

    return Handler


@contextmanager
def serve(hub: FakeHubAPI) -> Iterator[FakeHubAPI]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-hub-api", daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
