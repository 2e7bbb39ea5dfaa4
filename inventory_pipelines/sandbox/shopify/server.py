"""The Shopify sandbox server: a Starlette app on uvicorn, in a thread or in its own process.

Usage from tests::

    with ShopifySandbox(skus=200, seed=7) as shop:    # port 0 = a free port
        shop.url, shop.access_token, shop.credentials()
        shop.state          # the models layer (no HTTP): sell, quantity, bucket
        shop.faults         # latency, error rate, outage, fail_next
        shop.request_count  # Admin API requests received; shop.reset_request_count()
        shop.throttled_count

From a shell (the first stdout line is the credentials JSON)::

    python -m inventory_pipelines.sandbox.shopify --port 8080 --skus 2000 --seed 0
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
from ..webhooks import DEFAULT_SHOPIFY_WEBHOOK_SECRET, WebhookSender
from . import responses
from .faults import FaultInjectionMiddleware, Faults
from .models import DEFAULT_ACCESS_TOKEN, DEFAULT_SHOP, Order, ShopState, build_shop

DEFAULT_SKUS = 200
DEFAULT_API_VERSION = "2026-04"
API_PREFIX = "/admin/api/"


def is_api_path(path: str) -> bool:
    """Whether a path is an Admin API endpoint (faulted and counted) rather than a control one."""
    return path.startswith(API_PREFIX)


def build_app(backend: responses.Backend) -> FaultInjectionMiddleware:
    """The ASGI app: the URL table of the emulator wrapped in fault injection."""

    bind = binder(backend)

    routes = [
        Route(
            "/admin/api/{version}/graphql.json",
            bind(responses.graphql_endpoint),
            methods=["POST"],
        ),
        Route("/sandbox/{action:path}", bind(responses.control), methods=["GET", "POST"]),
    ]
    return FaultInjectionMiddleware(Starlette(routes=routes), backend.faults, is_api_path)


class ShopifySandbox(BackgroundServer):
    """An emulated Shopify Admin GraphQL API with a demo catalog, served on the loopback."""

    SERVER_NAME = "shopify-sandbox"
    HTTP = "httptools"

    def __init__(
        self,
        skus: int = DEFAULT_SKUS,
        seed: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        locations: int = 2,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        maximum_available: float = 1000.0,
        restore_rate: float = 100.0,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.skus = skus
        self.seed = seed
        self.locations = locations
        self.access_token = access_token
        self.api_version = api_version
        self._throttle = (maximum_available, restore_rate)
        self.faults = Faults(seed)
        self.webhooks = WebhookSender(DEFAULT_SHOPIFY_WEBHOOK_SECRET, seed)
        self._state = self._build_state()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    def _build_state(self) -> ShopState:
        state = build_shop(
            self.skus,
            self.seed,
            self.locations,
            access_token=self.access_token,
            maximum_available=self._throttle[0],
            restore_rate=self._throttle[1],
        )
        state.order_listeners.append(self._send_order_webhook)
        return state

    def _send_order_webhook(self, order: Order) -> None:
        """``orders/create`` with the REST order resource, signed with the app's secret."""
        payload = {
            "id": order.id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order.id}",
            "name": order.name,
            "email": f"buyer{order.id % 1000}@example.com",
            "created_at": order.created_at,
            "updated_at": order.updated_at,
            "cancelled_at": order.cancelled_at,
            "fulfillment_status": None,
            "financial_status": "paid",
            "currency": "EUR",
            "line_items": [
                {"id": order.id * 10 + n, "sku": sku, "quantity": quantity, "price": "10.00"}
                for n, (sku, _, quantity) in enumerate(order.lines)
            ],
        }

        def headers(body: bytes, signed: str, delivery: str) -> dict[str, str]:
            return {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": signed,
                "X-Shopify-Shop-Domain": DEFAULT_SHOP,
                "X-Shopify-Webhook-Id": delivery,
                "X-Shopify-Event-Id": f"event-{order.id}",
                "X-Shopify-Triggered-At": order.created_at,
                "X-Shopify-API-Version": self.api_version,
            }

        self.webhooks.deliver(payload, headers, f"orders-create-{order.id}")

    # -- identity -------------------------------------------------------------------------------

    @property
    def state(self) -> ShopState:
        """The models layer: catalog, levels, orders, cost bucket; no HTTP."""
        return self._state

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started (the connector's ``shop_url``)."""
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def graphql_url(self) -> str:
        """The GraphQL endpoint for :attr:`api_version`."""
        return f"{self.url}{API_PREFIX}{self.api_version}/graphql.json"

    def credentials(self) -> dict[str, Any]:
        """``{"url", "shop", "access_token", "api_version", "graphql_url"}`` (the CLI prints it)."""
        return {
            "url": self.url,
            "shop": DEFAULT_SHOP,
            "access_token": self.access_token,
            "api_version": self.api_version,
            "graphql_url": self.graphql_url,
        }

    # -- counters and data ------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """Admin API requests received (failed and throttled ones included) since the last reset."""
        return self.faults.request_count

    def reset_request_count(self) -> int:
        """Zero the API request counter; returns the previous count."""
        return self.faults.reset_request_count()

    @property
    def throttled_count(self) -> int:
        """Requests answered ``THROTTLED`` (the bucket lacked their cost)."""
        return self._state.throttled_count

    def reset(self, skus: int | None = None, seed: int | None = None) -> None:
        """Regenerate the demo data (optionally with another size or seed)."""
        if skus is not None:
            self.skus = int(skus)
        if seed is not None:
            self.seed = int(seed)
        self._state = self._build_state()

    # -- lifecycle --------------------------------------------------------------------------------

    def app(self) -> Any:
        """The ASGI app, bound to this sandbox."""
        return build_app(self)

    def stop(self) -> None:
        """Stop serving, then stop delivering webhooks."""
        super().stop()
        self.webhooks.drain(5.0)


def serve(
    port: int = 8080,
    skus: int = DEFAULT_SKUS,
    seed: int = 0,
    host: str = "127.0.0.1",
    *,
    announce: Callable[[dict[str, Any]], None] | None = print_credentials,
    **options: Any,
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM (blocking).

    Once the port accepts connections, ``announce`` receives :meth:`ShopifySandbox.credentials`;
    by default it is printed as the first stdout line (JSON, flushed). ``options`` go to
    :class:`ShopifySandbox` (``locations``, ``access_token``, ``maximum_available``...).
    """
    sandbox = ShopifySandbox(skus, seed, port, host, **options)
    run_until_signalled(sandbox, announce)
