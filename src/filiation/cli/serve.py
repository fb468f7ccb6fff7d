"""``filiation serve``: the web explorer and the JSON API under uvicorn, on a socket bound
here (a busy port is one clear line; ``--port 0`` says which port it got)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from filiation.cli.common import ENV_DB, ensure_index, err, open_genealogy, state
from filiation.errors import InvalidArgumentError

if TYPE_CHECKING:
    import socket

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8000,
    db: Annotated[
        str | None, typer.Option("--db", help="Store to serve (default: the global --db).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes answering requests; they share one memory-mapped index.",
        ),
    ] = 1,
    refresh: Annotated[
        float,
        typer.Option(
            "--refresh",
            min=0.0,
            help="Seconds between checks for a new snapshot (ingested by another process); "
            "each process then maps its index without a restart.",
        ),
    ] = 1.0,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses (or *) of reverse proxies whose X-Forwarded-For "
            "and X-Forwarded-Proto headers are trusted, so that behind a TLS proxy the "
            "registry's session cookie is marked Secure (default: $FORWARDED_ALLOW_IPS, else "
            "none: without a proxy, a local client could claim any address).",
        ),
    ] = None,
) -> None:
    """Serve the web explorer and the JSON API with uvicorn (API documentation at /docs)."""
    g = open_genealogy(db)
    # Built (or the bundled sample loaded) once, here, before any worker starts.
    ensure_index(g)
    sock = bind(host, port, reuse_port=workers > 1 and _REUSE_PORT)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    err.print(
        f"filiation on http://{shown}:{bound_port}/ (web explorer), API on "
        f"http://{shown}:{bound_port}/api, documentation on "
        f"http://{shown}:{bound_port}/docs"
        + (f", {workers} workers" if workers > 1 else "")
        + " (Ctrl-C to stop)",
        markup=False,
    )
    options: dict[str, Any] = {
        "log_level": "warning" if state.quiet else "info",
        "access_log": not state.quiet,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
    }
    # Forwarded headers only from proxies the operator names: uvicorn would otherwise trust
    # 127.0.0.1, and any local client could claim any address to the login throttle.
    proxies = forwarded_allow_ips or os.environ.get("FORWARDED_ALLOW_IPS")
    options["proxy_headers"] = bool(proxies)
    if proxies:
        options["forwarded_allow_ips"] = proxies
    with sock:
        if workers == 1:
            import uvicorn

            from filiation.api import app as api_app

            config = uvicorn.Config(api_app.create_app(g, refresh=refresh), **options)
            uvicorn.Server(config).run(sockets=[sock])
            return
        url = g.store.url
        del g  # this process only supervises
        _supervise(sock, url, workers, refresh, options)


#: Linux spreads the connections to a port over the listening sockets bound to it with
#: ``SO_REUSEPORT`` (elsewhere the option exists but does not balance).
_REUSE_PORT = sys.platform.startswith("linux")


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` here rather than in uvicorn: a busy port is one clear
    line. The workers share it, or with ``reuse_port`` it holds the port while each worker
    listens on a socket of its own (:func:`_socket_per_worker`)."""
    import socket

    sock: socket.socket | None = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise InvalidArgumentError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    return sock


def _supervise(
    sock: socket.socket, url: str, workers: int, refresh: float, options: dict[str, Any]
) -> None:
    """Run ``workers`` processes answering on ``sock``. They are new processes (spawned, not
    forked: nothing of this one's connections or threads is inherited) and find the store
    and settings in their environment; the URL may hold a password: the environment is
    readable by this user only. On Linux each worker listens on a socket of its own
    (:func:`_socket_per_worker`), elsewhere they share ``sock``."""
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from filiation.api import app as api_app

    os.environ[ENV_DB] = url
    os.environ[api_app.ENV_REFRESH] = repr(refresh)
    sock.set_inheritable(True)
    config = uvicorn.Config(
        "filiation.api.app:app_from_env", factory=True, workers=workers, **options
    )
    if _REUSE_PORT and sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
        _socket_per_worker()(config, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()


def _socket_per_worker() -> type[Any]:
    """The supervisor that gives each worker a socket of its own, defined when serving needs
    it (uvicorn is imported only then)."""
    import socket

    from uvicorn.supervisors import Multiprocess

    class SocketPerWorker(Multiprocess):
        """uvicorn's supervisor, each worker listening on a socket of its own bound to the
        port with ``SO_REUSEPORT``, so that the kernel spreads connections evenly over the
        workers. On one shared socket, whichever worker wakes first accepts every pending
        connection: a burst of keep-alive clients (a proxy's pool, a load test) stays on one
        worker while the other idles (62 of 64 connections measured, benchmarks/README.md).

        uvicorn reads ``sockets`` once for each worker it starts (at start, on a restart or
        a replacement); each read makes a new socket. The supervisor closes its copy at its
        next round (every 0.5 s), once the worker has its own: a worker that dies then takes
        its socket with it, and the kernel sends its share to the others."""

        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            self._held = sockets[0]  # bound, never listening: it keeps the port
            self._handed: list[socket.socket] = []
            super().__init__(config, sockets)

        @property  # type: ignore[override]
        def sockets(self) -> list[socket.socket]:
            held = self._held
            own = socket.socket(held.family, held.type, held.proto)
            own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            own.bind(held.getsockname())
            own.set_inheritable(True)
            self._handed.append(own)
            return [own]

        @sockets.setter
        def sockets(self, value: list[socket.socket]) -> None:
            pass  # the held socket is given to __init__; workers get theirs from the getter

        def keep_subprocess_alive(self) -> None:
            while self._handed:
                self._handed.pop().close()
            super().keep_subprocess_alive()

    return SocketPerWorker
