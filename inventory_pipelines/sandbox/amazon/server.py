"""The Amazon sandbox server: LWA and SP-API on one Starlette app, in a thread or a process.

Usage from tests::

    with AmazonSandbox(skus=200, seed=7, rate_scale=20) as amazon:   # port 0 = a free port
        amazon.url            # SP-API endpoint; the LWA token URL is amazon.token_url
        amazon.credentials()  # endpoint, token_url, seller_id, marketplace_id, client_id, ...
        amazon.state          # the models layer (no HTTP): listings, feeds, orders, quotas
        amazon.faults         # latency, error rate, outage, fail_next
        amazon.request_count  # API requests received; amazon.reset_request_count()

From a shell (the first stdout line is the credentials JSON)::

    python -m inventory_pipelines.sandbox.amazon --port 8443 --skus 2000 --seed 0
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from ..serving import (
    BackgroundServer,
    binder,
    print_credentials,
    run_until_signalled,
)
from . import responses
from .faults import FaultInjectionMiddleware, Faults, error_body
from .models import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_FEED_WINDOW,
    DEFAULT_MARKETPLACE_ID,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SELLER_ID,
    DEFAULT_SKUS,
    DEFAULT_TOKEN_TTL_S,
    AmazonState,
)

CONTROL_PREFIX = "/sandbox/"


def is_api_path(path: str) -> bool:
    """Whether a path is an Amazon endpoint (faulted and counted) rather than a control one."""
    return not path.startswith(CONTROL_PREFIX)


def build_app(backend: responses.Backend) -> FaultInjectionMiddleware:
    """The ASGI app: the URL table of the emulator wrapped in fault injection."""

    bind = binder(backend)

    listings = "/listings/2021-08-01/items/{seller_id}"
    feeds = "/feeds/2021-06-30"
    routes = [
        Route("/auth/o2/token", bind(responses.token), methods=["POST"]),
        Route(listings, bind(responses.search_listings), methods=["GET"]),
        Route(f"{listings}/{{sku:path}}", bind(responses.listings_item), methods=["GET", "PATCH"]),
        Route(f"{feeds}/documents", bind(responses.create_feed_document), methods=["POST"]),
        Route(
            f"{feeds}/documents/{{document_id}}",
            bind(responses.get_feed_document),
            methods=["GET"],
        ),
        Route(f"{feeds}/feeds", bind(responses.create_feed), methods=["POST"]),
        Route(f"{feeds}/feeds/{{feed_id}}", bind(responses.feed), methods=["GET", "DELETE"]),
        Route("/documents/{document_id}", bind(responses.document), methods=["GET", "PUT"]),
        Route("/orders/v0/orders", bind(responses.orders), methods=["GET"]),
        Route(
            "/orders/v0/orders/{order_id}/orderItems",
            bind(responses.order_items),
            methods=["GET"],
        ),
        Route("/sandbox/{action:path}", bind(responses.control), methods=["GET", "POST"]),
    ]
    return FaultInjectionMiddleware(
        Starlette(routes=routes), backend.faults, is_api_path, error_body=error_body
    )


class AmazonSandbox(BackgroundServer):
    """An emulated Amazon seller account (LWA + SP-API) served over HTTP on the loopback.

    ``state_options`` go to :class:`~.models.AmazonState` (``token_ttl_s``, ``rate_scale``,
    ``rates``, ``feed_mode``, ``feed_step_s``, ``feed_window``, ``orders``, the seller and
    the LWA credentials); a reset keeps them.
    """

    SERVER_NAME = "amazon-sandbox"
    HTTP = "httptools"

    def __init__(
        self,
        skus: int = DEFAULT_SKUS,
        seed: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        seller_id: str = DEFAULT_SELLER_ID,
        marketplace_id: str = DEFAULT_MARKETPLACE_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        rate_scale: float = 1.0,
        rates: dict[str, tuple[float, int]] | None = None,
        feed_mode: str = "polls",
        feed_step_s: float = 30.0,
        feed_window: tuple[int, float] | None = DEFAULT_FEED_WINDOW,
        orders: int | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.skus = skus
        self.seed = seed
        self._options: dict[str, Any] = {
            "seller_id": seller_id,
            "marketplace_id": marketplace_id,
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
            "token_ttl_s": token_ttl_s,
            "rate_scale": rate_scale,
            "rates": rates,
            "feed_mode": feed_mode,
            "feed_step_s": feed_step_s,
            "feed_window": feed_window,
            "orders": orders,
        }
        self.faults = Faults(seed)
        self._state = AmazonState(skus, seed, **self._options)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    # -- identity -------------------------------------------------------------------------------

    @property
    def state(self) -> AmazonState:
        """The models layer: listings, tokens, quotas, feeds, orders; no HTTP."""
        return self._state

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started (the SP-API endpoint)."""
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        """The LWA token endpoint on the same server."""
        return f"{self.url}/auth/o2/token"

    def credentials(self) -> dict[str, Any]:
        """What a connector needs (what the CLI prints); it holds the sandbox's secrets."""
        state = self._state
        return {
            "url": self.url,
            "endpoint": self.url,
            "token_url": self.token_url,
            "seller_id": state.seller_id,
            "marketplace_id": state.marketplace_id,
            "client_id": state.client_id,
            "client_secret": state.client_secret,
            "refresh_token": state.refresh_token,
        }

    # -- counters and data ------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """API requests received (throttled and failed ones included) since the last reset."""
        return self.faults.request_count

    def reset_request_count(self) -> int:
        """Zero the API request counter; returns the previous count."""
        return self.faults.reset_request_count()

    def reset(self, skus: int | None = None, seed: int | None = None) -> None:
        """Regenerate the demo data (optionally with another size or seed), same options."""
        if skus is not None:
            self.skus = int(skus)
        if seed is not None:
            self.seed = int(seed)
        self._state = AmazonState(self.skus, self.seed, **self._options)

    # -- lifecycle --------------------------------------------------------------------------------

    def app(self) -> Any:
        """The ASGI app, bound to this sandbox."""
        return build_app(self)


def serve(
    port: int = 8443,
    skus: int = DEFAULT_SKUS,
    seed: int = 0,
    host: str = "127.0.0.1",
    *,
    announce: Callable[[dict[str, Any]], None] | None = print_credentials,
    **options: Any,
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM (blocking).

    Once the port accepts connections, ``announce`` receives :meth:`AmazonSandbox.credentials`;
    by default it is printed as the first stdout line (JSON, flushed). ``options`` go to
    :class:`AmazonSandbox`.
    """
    sandbox = AmazonSandbox(skus, seed, port, host, **options)
    run_until_signalled(sandbox, announce)
