"""The WooCommerce sandbox server: a Starlette app on uvicorn, in a thread or its own process.

Usage from tests::

    with WooCommerceSandbox(products=60, seed=7) as woo:   # port 0 = a free port
        woo.url, woo.consumer_key, woo.consumer_secret
        woo.state          # the models layer (no HTTP)
        woo.faults         # latency, error rate, outage, fail_next, rate limit
        woo.request_count  # API requests received; woo.reset_request_count()

From a shell (the first stdout line is the credentials JSON)::

    python -m inventory_pipelines.sandbox.woocommerce --port 8081 --products 500 --seed 0
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
from ..webhooks import DEFAULT_WOOCOMMERCE_WEBHOOK_SECRET, WebhookSender
from . import responses
from .faults import FaultInjectionMiddleware, Faults, error_body
from .models import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_PRODUCTS,
    Order,
    WooState,
)

API = responses.API_PREFIX
EDIT = ["POST", "PUT", "PATCH"]


def is_api_path(path: str) -> bool:
    """Whether a path is a WooCommerce endpoint (counted, throttled, faulted)."""
    return path.startswith("/wp-json/")


def build_app(backend: responses.Backend) -> FaultInjectionMiddleware:
    """The ASGI app: the URL table of the emulator wrapped in fault injection."""

    bind = binder(backend)

    routes = [
        Route(f"{API}/products", bind(responses.list_products), methods=["GET"]),
        Route(f"{API}/products/batch", bind(responses.batch_products), methods=EDIT),
        Route(f"{API}/products/{{id}}", bind(responses.product), methods=["GET", "PUT", "PATCH"]),
        Route(
            f"{API}/products/{{id}}/variations",
            bind(responses.list_variations),
            methods=["GET"],
        ),
        Route(
            f"{API}/products/{{id}}/variations/batch",
            bind(responses.batch_variations),
            methods=EDIT,
        ),
        Route(
            f"{API}/products/{{id}}/variations/{{variation_id}}",
            bind(responses.variation),
            methods=["GET", "PUT", "PATCH"],
        ),
        Route(f"{API}/orders", bind(responses.list_orders), methods=["GET"]),
        Route(f"{API}/orders/{{id}}", bind(responses.order), methods=["GET"]),
        Route("/wp-json/{rest:path}", bind(responses.no_route), methods=["GET", *EDIT, "DELETE"]),
        Route("/sandbox/{action:path}", bind(responses.control), methods=["GET", "POST"]),
    ]
    return FaultInjectionMiddleware(
        Starlette(routes=routes),
        backend.faults,
        is_api_path,
        error_body=error_body,
        throttle_body=responses.throttle_body,
    )


class WooCommerceSandbox(BackgroundServer):
    """An emulated WooCommerce store (REST v3) with a seeded catalog, served on the loopback."""

    SERVER_NAME = "woocommerce-sandbox"

    def __init__(
        self,
        products: int = DEFAULT_PRODUCTS,
        seed: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        consumer_key: str = DEFAULT_CONSUMER_KEY,
        consumer_secret: str = DEFAULT_CONSUMER_SECRET,
        rate_limit: float | None = None,
        burst: int | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.products = products
        self.seed = seed
        self._keys = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
        self.faults = Faults(seed)
        if rate_limit:
            self.faults.set_rate_limit(rate_limit, burst)
        self.webhooks = WebhookSender(DEFAULT_WOOCOMMERCE_WEBHOOK_SECRET, seed)
        self._state = self._build_state()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    def __repr__(self) -> str:
        return f"WooCommerceSandbox(products={self.products}, seed={self.seed}, port={self.port})"

    @property
    def state(self) -> WooState:
        """The models layer: catalog, stock, orders; no HTTP."""
        return self._state

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the store's home URL) once started."""
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``<url>/wp-json/wc/v3``."""
        return f"{self.url}{API}"

    @property
    def consumer_key(self) -> str:
        """The REST API consumer key."""
        return self._keys["consumer_key"]

    @property
    def consumer_secret(self) -> str:
        """The REST API consumer secret."""
        return self._keys["consumer_secret"]

    def credentials(self) -> dict[str, Any]:
        """``{"url", "consumer_key", "consumer_secret"}`` (what the CLI prints)."""
        return {"url": self.url, **self._keys}

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

    def reset(self, products: int | None = None, seed: int | None = None) -> None:
        """Regenerate the catalog (optionally with another size or seed)."""
        if products is not None:
            self.products = int(products)
        if seed is not None:
            self.seed = int(seed)
        self._state = self._build_state()

    def _build_state(self) -> WooState:
        state = WooState(self.products, self.seed, **self._keys)
        state.order_listeners.append(self._send_order_webhook)
        return state

    def _send_order_webhook(self, order: Order) -> None:
        """``order.created`` with the REST order resource, signed with the webhook's secret."""
        from .responses import render_order

        payload = {
            **render_order(order),
            "number": str(order.id),
            "currency": "EUR",
            "billing": {"email": f"buyer{order.id % 1000}@example.com", "first_name": "Sandbox"},
        }

        def headers(body: bytes, signed: str, delivery: str) -> dict[str, str]:
            return {
                "Content-Type": "application/json",
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Resource": "order",
                "X-WC-Webhook-Event": "created",
                "X-WC-Webhook-Signature": signed,
                "X-WC-Webhook-ID": "1",
                "X-WC-Webhook-Delivery-ID": delivery,
                "X-WC-Webhook-Source": f"http://{self.host}:{self.port}/",
            }

        self.webhooks.deliver(payload, headers, str(order.id))

    def app(self) -> Any:
        """The ASGI app, bound to this sandbox."""
        return build_app(self)

    def stop(self) -> None:
        """Stop serving, then stop delivering webhooks."""
        super().stop()
        self.webhooks.drain(5.0)


def serve(
    port: int = 8081,
    products: int = DEFAULT_PRODUCTS,
    seed: int = 0,
    host: str = "127.0.0.1",
    *,
    announce: Callable[[dict[str, Any]], None] | None = print_credentials,
    **options: Any,
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM (blocking); ``announce`` gets the credentials.

    ``options`` may set ``consumer_key``, ``consumer_secret``, ``rate_limit``, ``burst``.
    """
    run_until_signalled(WooCommerceSandbox(products, seed, port, host, **options), announce)
