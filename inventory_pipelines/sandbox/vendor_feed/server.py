"""The vendor feed emulator's server: a Starlette app on uvicorn, in a thread or a process.

Usage from tests::

    with VendorFeedSandbox() as vendors:
        vendors.state.add_feed("acme", [("A-1", 10), ("A-2", 0)])
        vendors.feed_url("acme", "csv")      # http://127.0.0.1:<port>/feeds/acme.csv
        vendors.state.set_dirt("acme", negative=2, truncated=True)
        vendors.state.write_folder("acme", tmp_path / "drop")   # the same file, in a folder
        vendors.served_counts()              # {200: 3, 304: 1}
        vendors.faults                       # latency, errors, outages (the shared faults)

From a shell (the first stdout line is ``{"url", "feeds"}`` as JSON)::

    python -m inventory_pipelines.sandbox.vendor_feed --port 8095 --feed bright-dropship

The protocol is documented in :mod:`inventory_pipelines.sandbox.vendor_feed.responses`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from inventory_pipelines.sandbox.faults import FaultInjectionMiddleware, Faults
from inventory_pipelines.sandbox.serving import (
    BackgroundServer,
    binder,
    print_credentials,
    run_until_signalled,
)

from . import responses
from .models import DEFAULT_CODE_PATTERN, DEFAULT_ROWS, VendorFeedState

DEFAULT_PORT = 8095


def is_api_path(path: str) -> bool:
    """Whether a path is a feed a client reads (counted and faulted)."""
    return path.startswith("/feeds/")


def build_app(backend: responses.Backend) -> FaultInjectionMiddleware:
    """The ASGI app: the emulator's URL table wrapped in fault injection."""

    bind = binder(backend)

    routes = [
        Route("/feeds/{filename}", bind(responses.feed_file), methods=["GET", "HEAD"]),
        Route("/sandbox/{action:path}", bind(responses.control), methods=["GET", "POST"]),
        Route("/{rest:path}", bind(responses.no_route), methods=["GET", "POST", "PUT"]),
    ]
    return FaultInjectionMiddleware(Starlette(routes=routes), backend.faults, is_api_path)


class VendorFeedSandbox(BackgroundServer):
    """Vendors' and 3PLs' stock feeds served over HTTP on the loopback (and written to folders)."""

    SERVER_NAME = "vendor-feed-sandbox"

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        state: VendorFeedState | None = None,
        seed: int = 0,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.faults = Faults(seed)
        self._state = state or VendorFeedState()
        self._served: Counter[int] = Counter()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VendorFeedSandbox(feeds={self._state.names()}, port={self.port})"

    @property
    def state(self) -> VendorFeedState:
        """The feeds (the models layer; no HTTP)."""
        return self._state

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    def feed_url(self, name: str, format: str = "csv") -> str:
        """Where the feed `name` is served in `format`."""
        return f"{self.url}/feeds/{name}.{format}"

    def served(self, status: int) -> None:
        """Count one answer by status."""
        with self._lock:
            self._served[status] += 1

    def served_counts(self) -> dict[int, int]:
        """Answers to feed requests so far, by status (200, 304, 401, 404)."""
        with self._lock:
            return dict(self._served)

    def reset_counts(self) -> None:
        """Forget the answers counted so far."""
        with self._lock:
            self._served.clear()

    def credentials(self) -> dict[str, Any]:
        """``{"url", "feeds"}``: where the feeds are (what the process prints first)."""
        return {
            "url": self.url,
            "feeds": {name: self.feed_url(name) for name in self._state.names()},
        }

    def app(self) -> Any:
        """The ASGI app, bound to this sandbox."""
        return build_app(self)


def serve(
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    feeds: Sequence[str] = (),
    *,
    rows: int = DEFAULT_ROWS,
    pattern: str = DEFAULT_CODE_PATTERN,
    seed: int = 0,
    announce: Callable[[dict[str, Any]], None] | None = print_credentials,
) -> None:
    """Serve the emulator with demo `feeds` (each `NAME`, or `NAME=PATTERN` for codes of its
    own pattern) until SIGINT/SIGTERM (blocking)."""
    sandbox = VendorFeedSandbox(port, host, seed=seed)
    for i, feed in enumerate(feeds):
        name, _, own = feed.partition("=")  # NAME, or NAME=PATTERN: its codes' own pattern
        sandbox.state.add_feed(name, seed=seed + i, count=rows, pattern=own or pattern)
    run_until_signalled(sandbox, announce)
