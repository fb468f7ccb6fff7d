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

``GET /api/users/{name}/overview`` and ``/api/organizations/{name}/overview`` answer for the
names in ``users`` and ``organisations`` (404 otherwise, as the Hub does for the other kind).

It also serves files, as ``huggingface_hub`` reads them (``hf_hub_url``,
``get_hf_file_metadata``): ``HEAD``/``GET /{repo}/resolve/{revision}/{filename}`` with
``X-Repo-Commit``, ``ETag`` and ``Content-Length``, and ``Range: bytes=a-b`` answered 206 with
``Content-Range`` (416 outside the file). ``files`` maps a repo id (lower-cased) to its files
(name -> path on disk); ``bytes_served`` counts the body bytes sent, ``no_ranges`` makes the
server ignore ``Range`` (as a misbehaving mirror would), ``latency`` waits that many seconds
before each file answer (the round trip of a real Hub, for benchmarks).
"""

from __future__ import annotations

import json
import re
import threading
import time
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
    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    bytes_served: int = 0
    no_ranges: bool = False
    latency: float = 0.0
    #: Author names (lower case) the user and organisation overview calls know; others 404.
    users: set[str] = field(default_factory=set)
    organisations: set[str] = field(default_factory=set)

    def add_files(self, repo_id: str, folder: Path) -> None:
        """Serve every file of ``folder`` (not recursive) as the repository ``repo_id``."""
        self.files[repo_id.lower()] = {f.name: f for f in folder.iterdir() if f.is_file()}

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


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _resolve(hub: FakeHubAPI, path: str) -> tuple[str, Path | None] | None:
    """The repo and file a ``/{repo}/resolve/{rev}/{name}`` path names (the file None when
    the repo has no such file, the repo "" when it is not served); None if not such a path."""
    parts = unquote(path).lstrip("/").split("/")
    if len(parts) < 5 or parts[2] != "resolve":
        return None
    repo, name = f"{parts[0]}/{parts[1]}".lower(), "/".join(parts[4:])
    if repo not in hub.files:
        return "", None
    return repo, hub.files[repo].get(name)


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

        def _file(self, found: tuple[str, Path | None], head: bool) -> None:
            repo, file = found
            if hub.latency:
                time.sleep(hub.latency)
            if file is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound" if repo else "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = file.stat().st_size
            start, end, status = 0, size, 200
            asked = self.headers.get("Range")
            if asked and not hub.no_ranges:
                m = _RANGE.match(asked.strip())
                if not m or int(m.group(1)) >= size:
                    self._send(416, b"", {"Content-Range": f"bytes */{size}"})
                    return
                start = int(m.group(1))
                end = min(int(m.group(2)) + 1, size) if m.group(2) else size
                status = 206
            headers = {
                "X-Repo-Commit": "0" * 40,
                "ETag": f'"{size:x}-{int(file.stat().st_mtime):x}"',
                "Accept-Ranges": "bytes",
            }
            if status == 206:
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(end - start))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if head:
                return
            with file.open("rb") as f:
                f.seek(start)
                body = f.read(end - start)
            with hub.lock:
                hub.bytes_served += len(body)
            self.wfile.write(body)

        def do_HEAD(self) -> None:
            found = _resolve(hub, urlsplit(self.path).path)
            if found is None:
                self._send(404, b"")
                return
            self._file(found, head=True)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            found = _resolve(hub, parts.path)
            if found is not None:
                with hub.lock:
                    hub.requests.append((parts.path, {}, self.headers.get("Authorization")))
                self._file(found, head=False)
                return
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
            overview = re.fullmatch(r"/api/(users|organizations)/([^/]+)/overview", parts.path)
            if overview:
                kind, name = overview.group(1), unquote(overview.group(2))
                known = hub.users if kind == "users" else hub.organisations
                if name.lower() not in known:
                    self._json(404, {"error": "Not found"})
                else:
                    self._json(200, _overview(name, "user" if kind == "users" else "org"))
                return
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


def _overview(name: str, kind: str) -> dict[str, Any]:
    """``/api/users/{name}/overview`` (``kind`` "user") or ``/api/organizations/{name}/
    overview`` ("org") as the Hub answers them: the fields the client reads."""
    common = {
        "_id": f"{abs(hash(name)) % 16**24:024x}",
        "fullname": name.title(),
        "avatarUrl": f"https://example.invalid/{name}.png",
        "numModels": 1,
        "type": kind,
    }
    if kind == "user":
        return {**common, "user": name, "isPro": False}
    return {**common, "name": name, "isVerified": True}


class _Server(ThreadingHTTPServer):
    # Clients reading ranges in parallel open several connections at once: a backlog of 5
    # (the default) would drop some and the client would wait a second to retry.
    request_queue_size = 64


@contextmanager
def serve(hub: FakeHubAPI) -> Iterator[FakeHubAPI]:
    server = _Server(("127.0.0.1", 0), _handler(hub))
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
