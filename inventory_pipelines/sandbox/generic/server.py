"""The generic channel sandbox server: a Starlette app on uvicorn, in a thread or a process.

Usage from tests::

    with GenericChannelSandbox(listings=120, seed=7, max_batch=500) as portal:
        portal.url, portal.secret
        portal.state          # the models layer (no HTTP)
        portal.faults         # latency, error rate, outage, fail_next, rate limit
        portal.request_count  # API requests received; portal.reset_request_count()

From a shell (the first stdout line is the credentials JSON)::

    python -m inventory_pipelines.sandbox.generic --port 8083 --listings 500 --seed 0

The protocol is documented in :mod:`inventory_pipelines.sandbox.generic.responses`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from inventory_pipelines.sandbox.serving import (
    BackgroundServer,
    binder,
    print_credentials,
    run_until_signalled,
)
from inventory_pipelines.sandbox.woocommerce.faults import (
    FaultInjectionMiddleware,
    Faults,
    error_body,
)

from . import responses
from .models import DEFAULT_LISTINGS, DEFAULT_MAX_BATCH, DEFAULT_SECRET, GenericState


def is_api_path(path: str) -> bool:
    """Whether a path is a channel endpoint (counted, throttled, faulted)."""
    return not path.startswith("/sandbox/")


def build_app(backend: responses.Backend) -> FaultInjectionMiddleware:
    """The ASGI app: the URL table of the emulator wrapped in fault injection."""

    bind = binder(backend)

    routes = [
        Route("/listings", bind(responses.listings), methods=["GET"]),
        Route("/stock", bind(responses.stock), methods=["POST"]),
        Route("/sandbox/{action:path}", bind(responses.control), methods=["GET", "POST"]),
        Route("/{rest:path}", bind(responses.no_route), methods=["GET", "POST", "PUT"]),
    ]
    return FaultInjectionMiddleware(
        Starlette(routes=routes),
        backend.faults,
        is_api_path,
        error_body=error_body,
        throttle_body=responses.throttle_body,
    )


class GenericChannelSandbox(BackgroundServer):
    """An emulated POS system / B2B portal speaking the signed HTTP protocol, on the loopback."""

    SERVER_NAME = "generic-sandbox"

    def __init__(
        self,
        listings: int = DEFAULT_LISTINGS,
        seed: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        secret: str = DEFAULT_SECRET,
        max_batch: int = DEFAULT_MAX_BATCH,
        rate_limit: float | None = None,
        burst: int | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.listings = listings
        self.seed = seed
        self._secret = secret
        self.max_batch = max_batch
        self.faults = Faults(seed)
        if rate_limit:
            self.faults.set_rate_limit(rate_limit, burst)
        self._state = GenericState(listings, seed, secret=secret, max_batch=max_batch)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: Any = None
        self.port: int | None = None

    def __repr__(self) -> str:
        return (
            f"GenericChannelSandbox(listings={self.listings}, seed={self.seed}, port={self.port})"
        )

    @property
    def state(self) -> GenericState:
        """The models layer: listings, idempotency memory; no HTTP."""
        return self._state

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def secret(self) -> str:
        """The shared signing secret."""
        return self._secret

    def credentials(self) -> dict[str, Any]:
        """``{"url", "secret", "max_batch"}`` (what the CLI prints)."""
        return {"url": self.url, "secret": self._secret, "max_batch": self._state.max_batch}

    @property
    def request_count(self) -> int:
        """API requests received (throttled and failed ones included) since the last reset."""
        return self.faults.request_count

    @property
    def throttled_count(self) -> int:
        """API requests answered 429 since the last reset."""
        return self.faults.throttled_count

    def reset_request_count(self) -> int:
        """Zero the request counters; returns the previous count."""
        return self.faults.reset_request_count()

    def reset(self, listings: int | None = None, seed: int | None = None) -> None:
        """Regenerate the listings (optionally with another size or seed)."""
        if listings is not None:
            self.listings = int(listings)
        if seed is not None:
            self.seed = int(seed)
        self._state = GenericState(
            self.listings, self.seed, secret=self._secret, max_batch=self._state.max_batch
        )

    def app(self) -> Any:
        """The ASGI app, bound to this sandbox."""
        return build_app(self)


def serve(
    port: int = 8083,
    listings: int = DEFAULT_LISTINGS,
    seed: int = 0,
    host: str = "127.0.0.1",
    *,
    announce: Callable[[dict[str, Any]], None] | None = print_credentials,
    **options: Any,
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM (blocking); ``announce`` gets the credentials.

    ``options`` may set ``secret``, ``max_batch``, ``rate_limit``, ``burst``.
    """
    run_until_signalled(GenericChannelSandbox(listings, seed, port, host, **options), announce)
