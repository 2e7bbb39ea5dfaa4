"""Serving an emulator: uvicorn in a background thread, or a process until a signal.

Every emulator shares this: bind (port 0 picks a free one), serve in a daemon thread, wait until
it accepts connections, stop cleanly; and, as a process, announce its credentials as the first
stdout line and serve until SIGINT/SIGTERM.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import uvicorn


def start_server(
    app: Any,
    host: str,
    port: int,
    name: str,
    timeout: float = 30.0,
    *,
    http: str = "auto",
) -> tuple[uvicorn.Server, threading.Thread, socket.socket]:
    """Bind ``host:port`` (0: a free port) and serve ``app`` with uvicorn in a daemon thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted sockets: without it, uvicorn's separate header and body writes meet
    # Nagle's algorithm and delayed ACKs, and every request takes about 40 ms on the loopback.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="asyncio",
        http=http,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError(f"{name}: the server failed to start")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: the server did not start in time")
        time.sleep(0.01)
    return server, thread, sock


def stop_server(
    server: uvicorn.Server | None, thread: threading.Thread | None, sock: socket.socket | None
) -> None:
    """Ask uvicorn to exit, wait for its thread, close the socket."""
    if server is not None:
        server.should_exit = True
    if thread is not None:
        thread.join(timeout=15)
    if sock is not None:
        sock.close()


def print_credentials(credentials: dict[str, Any]) -> None:
    """Print the credentials as one JSON line on stdout, flushed (for a parent process)."""
    sys.stdout.write(orjson.dumps(credentials).decode() + "\n")
    sys.stdout.flush()


def run_until_signalled(
    sandbox: Any, announce: Callable[[dict[str, Any]], None] | None = print_credentials
) -> None:
    """Start ``sandbox``, announce its credentials, serve until SIGINT/SIGTERM, stop it."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sandbox.start()
        if announce is not None:
            announce(sandbox.credentials())
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class BackgroundServer:
    """Start/stop and context-manager plumbing for an emulator served in a background thread.

    A subclass sets ``host``, ``requested_port`` and ``port`` (None until started), names its
    thread with ``SERVER_NAME``, and builds its ASGI app in ``app()``.
    """

    SERVER_NAME = "sandbox"
    HTTP = "auto"  # uvicorn's HTTP implementation

    host: str
    requested_port: int
    port: int | None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _socket: socket.socket | None = None

    def app(self) -> Any:
        """The ASGI app to serve."""
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Any:
        """Serve in a background thread; returns once the port accepts connections."""
        if self._thread is not None:
            return self
        self._server, self._thread, self._socket = start_server(
            self.app(), self.host, self.requested_port, self.SERVER_NAME, timeout, http=self.HTTP
        )
        self.port = self._socket.getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        stop_server(self._server, self._thread, self._socket)
        self._server, self._thread, self._socket = None, None, None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def binder(backend: Any) -> Callable[[Callable[..., Any]], Callable[[Any], Any]]:
    """`bind(handler)` for an emulator's URL table: a Starlette endpoint calling
    `handler(request, backend)` (the handlers take the state they serve explicitly)."""

    def bind(handler: Callable[..., Any]) -> Callable[[Any], Any]:
        async def endpoint(request: Any) -> Any:
            return await handler(request, backend)

        return endpoint

    return bind
