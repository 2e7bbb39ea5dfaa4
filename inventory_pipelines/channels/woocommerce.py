"""WooCommerce (REST v3): read products and variations, publish stock in batches.

Listing ids: ``product:<id>`` for a simple product, ``variation:<parent>:<id>`` for a
variation (variable parents carry no stock of their own and are not listings). The barcode
is the ``global_unique_id`` field (WooCommerce 9.2+) when set, else the first meta field
whose key is one of ``barcode_meta_keys`` (where barcode plugins store it).

Publishing sets ``manage_stock: true`` and ``stock_quantity`` through ``POST
/products/batch`` and one ``POST /products/{parent}/variations/batch`` per parent, at most
100 items per call; an ``error`` object in the batch answer makes that item REJECTED, a
success ACKNOWLEDGED with the quantity the store answered.

WooCommerce has neither compare-and-set nor idempotency keys: a resend sets the same absolute
value again, which is harmless, and the idempotency key only serves for logs and as the
``request_id`` of the results (``<key>:<n>`` per call) for correlation. Without
compare-and-set a sale during the round trip can be overwritten; the channel's safety buffer
covers that window (DESIGN.md section 7).

Authentication: ``basic`` (HTTP Basic, for HTTPS stores), ``query`` (``consumer_key`` and
``consumer_secret`` query parameters, for servers that strip the Authorization header) or
``oauth`` (OAuth 1.0a one-legged HMAC-SHA256 query signing, what WooCommerce requires over
plain HTTP). With ``query`` the key and secret travel in the URL, with ``oauth`` the key:
httpx logs URLs at INFO level, so this module masks ``consumer_key``, ``consumer_secret`` and
``oauth_consumer_key`` in what the ``httpx`` logger writes.

Retries, throttling and the secret are the shared ones of
:mod:`~inventory_pipelines.channels.http`, paced by a :class:`~.pacing.Pacer`. Configuration
(:data:`SPEC`): ``URL``, ``CONSUMER_KEY``, ``CONSUMER_SECRET``; optionally ``AUTH`` (basic,
oauth, query), ``REQUESTS_PER_S`` and ``BURST`` (the host's limit: WooCommerce documents none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import quote

import httpx
import orjson

from .base import (
    ChannelConnector,
    ChannelError,
    ChannelLimits,
    ChannelOrder,
    ChannelSpec,
    ChannelThrottledError,
    ChannelUnavailableError,
    Listing,
    OrderLine,
    OrdersPage,
    QuantityUpdate,
    UnreadableOrder,
    UpdateResult,
    UpdateStatus,
    WebhookError,
    WebhookKind,
    shown_quantity,
)
from .http import (
    ChannelHTTP,
    HTTPCounters,
    RetrySettings,
    Secret,
    error_code,
    redact_query_parameters,
)
from .payloads import PayloadError, WooBilling, WooOrder, read, require_units
from .signing import header, instant, verify_base64_hmac

__all__ = ["BATCH_LIMIT", "SPEC", "WooCommerceConnector", "oauth_sign"]

_logger = logging.getLogger(__name__)

#: WooCommerce's limit on items per batch call (create + update + delete)
BATCH_LIMIT = 100
#: polling re-reads this much before its cursor (``date_modified`` is the request's time)
ORDERS_OVERLAP_S = 300
_UNPAID = {"pending", "failed", "checkout-draft"}
AuthMode = Literal["basic", "oauth", "query"]
DEFAULT_BARCODE_META_KEYS = ("_barcode", "barcode", "_ean", "ean", "_gtin", "gtin", "_gtin13")


redact_query_parameters("consumer_key", "consumer_secret", "oauth_consumer_key")


def _rawurlencode(value: str) -> str:
    return quote(value, safe="~")


def oauth_sign(
    method: str,
    url: str,
    params: Mapping[str, str],
    consumer_secret: str,
    algorithm: Literal["HMAC-SHA1", "HMAC-SHA256"] = "HMAC-SHA256",
) -> str:
    """The OAuth 1.0a signature WooCommerce checks (``WC_REST_Authentication``).

    ``url`` is the request URL without its query; ``params`` are every query parameter,
    the ``oauth_*`` ones included (``oauth_signature`` excluded).
    """
    pairs = [
        _rawurlencode(f"{_rawurlencode(key)}={_rawurlencode(str(params[key]))}")
        for key in sorted(params, key=lambda k: k.encode())
        if key != "oauth_signature"
    ]
    text = f"{method.upper()}&{_rawurlencode(url)}&{'%26'.join(pairs)}"
    digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
    signed = hmac.new(f"{consumer_secret}&".encode(), text.encode(), digest).digest()
    return base64.b64encode(signed).decode()


def parse_listing_id(listing_id: str) -> tuple[int, int | None] | None:
    """``product:<id>`` -> ``(id, None)``; ``variation:<parent>:<id>`` -> ``(parent, id)``."""
    parts = listing_id.split(":")
    try:
        if len(parts) == 2 and parts[0] == "product":
            return int(parts[1]), None
        if len(parts) == 3 and parts[0] == "variation":
            return int(parts[1]), int(parts[2])
    except ValueError:
        return None
    return None


class WooCommerceConnector(HTTPCounters, ChannelConnector):
    """A WooCommerce store through its REST API (see the module docstring)."""

    kind = "woocommerce"

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        api_version: str = "wc/v3",
        auth: AuthMode = "basic",
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        requests_per_s: float = 5.0,
        burst: int = 10,
        per_page: int = 100,
        concurrency: int = 2,
        barcode_meta_keys: Sequence[str] = DEFAULT_BARCODE_META_KEYS,
        retry: RetrySettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if auth not in ("basic", "oauth", "query"):
            raise ValueError(f"auth must be basic, oauth or query, not {auth!r}")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.auth = auth
        self._key = consumer_key
        self._secret = Secret(consumer_secret)
        self.requests_per_s = requests_per_s
        self.burst = burst
        self.per_page = min(100, max(1, per_page))
        self.concurrency = max(1, int(concurrency))
        self.barcode_meta_keys = tuple(barcode_meta_keys)
        self._clock = clock
        self._http = ChannelHTTP.paced(
            "woocommerce",
            requests_per_s,
            burst,
            timeout_s=timeout_s,
            transport=transport,
            sleep=sleep,
            retry=retry,
        )

    def __repr__(self) -> str:
        return (
            f"WooCommerceConnector(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"auth={self.auth!r})"
        )

    @property
    def api_root(self) -> str:
        """``<base_url>/wp-json/<api_version>``."""
        return f"{self.base_url}/wp-json/{self.api_version}"

    def limits(self) -> ChannelLimits:
        """100 items per batch; no compare-and-set.

        WooCommerce core documents no REST rate limit; the host (or its WAF) sets one, so
        ``requests_per_s``/``burst`` are configuration, conservative by default.
        """
        return ChannelLimits(
            max_batch=BATCH_LIMIT,
            requests_per_s=self.requests_per_s,
            burst=self.burst,
            compare_and_set=False,
            concurrency=self.concurrency,
        )

    # -- HTTP ------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Callable[[], httpx.Request]:
        """A request factory: each attempt is authenticated (and OAuth-signed) afresh."""
        url = f"{self.api_root}/{path}"
        content = orjson.dumps(body) if body is not None else None

        def prepare() -> httpx.Request:
            query = {k: str(v) for k, v in (params or {}).items()}
            headers = {"Accept": "application/json"}
            if content is not None:
                headers["Content-Type"] = "application/json; charset=utf-8"
            if self.auth == "basic":
                credentials = f"{self._key}:{self._secret.reveal()}"
                token = base64.b64encode(credentials.encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            elif self.auth == "query":
                query.update(consumer_key=self._key, consumer_secret=self._secret.reveal())
            else:
                query.update(
                    oauth_consumer_key=self._key,
                    oauth_timestamp=str(int(self._clock())),
                    oauth_nonce=secrets.token_hex(16),
                    oauth_signature_method="HMAC-SHA256",
                )
                query["oauth_signature"] = oauth_sign(method, url, query, self._secret.reveal())
            return httpx.Request(method, url, params=query, headers=headers, content=content)

        return prepare

    def _get(self, path: str, params: Mapping[str, Any]) -> httpx.Response:
        response = self._http.send(self._request("GET", path, params), f"GET {path}")
        if response.status_code != 200:
            raise ChannelError(
                f"woocommerce: GET {path} answered HTTP {response.status_code} "
                f"({error_code(response)})"
            )
        return response

    def _pages(self, path: str) -> Iterator[list[dict[str, Any]]]:
        """Every page of a collection, in id order (stable while the catalog changes)."""
        page = 1
        while True:
            params = {"page": page, "per_page": self.per_page, "orderby": "id", "order": "asc"}
            response = self._get(path, params)
            rows = response.json()
            if rows:
                yield rows
            total_pages = int(response.headers.get("x-wp-totalpages", "0") or 0)
            if not rows or page >= total_pages:
                return
            page += 1

    # -- reading ---------------------------------------------------------------------------------

    def _barcode(self, row: Mapping[str, Any]) -> str | None:
        if row.get("global_unique_id"):
            return str(row["global_unique_id"])
        for meta in row.get("meta_data") or ():
            if meta.get("key") in self.barcode_meta_keys and meta.get("value"):
                return str(meta["value"])
        return None

    def _listing(self, row: Mapping[str, Any], listing_id: str, extra: dict[str, Any]) -> Listing:
        managed = bool(row.get("manage_stock"))
        quantity = row.get("stock_quantity") if managed else None
        return Listing(
            listing_id=listing_id,
            sku=row.get("sku") or None,
            barcode=self._barcode(row),
            quantity=shown_quantity(quantity, "woocommerce", listing_id),
            title=str(row.get("name") or row.get("description") or ""),
            extra={
                **extra,
                "manage_stock": managed,
                "stock_status": row.get("stock_status"),
                "backorders": row.get("backorders"),
            },
        )

    def read_listings(self) -> Iterator[list[Listing]]:
        """Simple products and the variations of variable products, a products page at a time."""
        for rows in self._pages("products"):
            listings: list[Listing] = []
            for row in rows:
                if row.get("type") == "simple":
                    listings.append(
                        self._listing(row, f"product:{row['id']}", {"product_id": row["id"]})
                    )
                elif row.get("type") == "variable":
                    for variations in self._pages(f"products/{row['id']}/variations"):
                        listings.extend(
                            self._listing(
                                v,
                                f"variation:{row['id']}:{v['id']}",
                                {"product_id": row["id"], "variation_id": v["id"]},
                            )
                            for v in variations
                        )
            yield listings

    # -- publishing ------------------------------------------------------------------------------

    def publish(
        self, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult]:
        """Set the quantities, in batch calls of at most 100 items (products, then per parent).

        Results come back in the order of ``updates``. A malformed listing id is REJECTED.
        When the store is unavailable or throttles beyond the bounds before any call went
        through, the error is raised; after that, the items not yet sent are FAILED.
        """
        results: dict[int, UpdateResult] = {}
        groups: dict[str, list[tuple[int, int, QuantityUpdate]]] = {}
        for position, update in enumerate(updates):
            ids = parse_listing_id(update.listing_id)
            if ids is None:
                results[position] = UpdateResult(
                    update.listing_id, UpdateStatus.REJECTED, error="not a WooCommerce listing id"
                )
                continue
            parent, variation = ids
            path = "products/batch" if variation is None else f"products/{parent}/variations/batch"
            groups.setdefault(path, []).append(
                (position, parent if variation is None else variation, update)
            )
        calls = [
            (path, items[i : i + BATCH_LIMIT])
            for path, items in groups.items()
            for i in range(0, len(items), BATCH_LIMIT)
        ]
        sent = 0
        for number, (path, chunk) in enumerate(calls):
            request_id = f"{idempotency_key}:{number}"
            try:
                results.update(self._publish_call(path, chunk, request_id))
                sent += 1
            except (ChannelUnavailableError, ChannelThrottledError) as exc:
                if sent == 0:
                    raise
                for _, left in calls[number:]:
                    for position, _, update in left:
                        results[position] = UpdateResult(
                            update.listing_id, UpdateStatus.FAILED, error=str(exc)
                        )
                break
        _logger.info(
            "woocommerce: publish %s: %d updates in %d calls",
            idempotency_key,
            len(updates),
            len(calls),
        )
        return [results[position] for position in range(len(updates))]

    def _publish_call(
        self, path: str, chunk: Sequence[tuple[int, int, QuantityUpdate]], request_id: str
    ) -> dict[int, UpdateResult]:
        body = {
            "update": [
                {"id": item_id, "manage_stock": True, "stock_quantity": update.quantity}
                for _, item_id, update in chunk
            ]
        }
        response = self._http.send(
            self._request("POST", path, body=body), f"POST {path} ({request_id})"
        )
        if response.status_code != 200:
            error = f"HTTP {response.status_code} ({error_code(response)})"
            _logger.warning("woocommerce: %s %s refused: %s", path, request_id, error)
            return {
                position: UpdateResult(
                    update.listing_id, UpdateStatus.REJECTED, error=error, request_id=request_id
                )
                for position, _, update in chunk
            }
        answers = response.json().get("update") or []
        results: dict[int, UpdateResult] = {}
        for index, (position, item_id, update) in enumerate(chunk):
            answer = answers[index] if index < len(answers) else None
            if not isinstance(answer, dict) or answer.get("id") not in (item_id, 0, None):
                answer = next(
                    (a for a in answers if isinstance(a, dict) and a.get("id") == item_id), None
                )
            if answer is None:
                results[position] = UpdateResult(
                    update.listing_id,
                    UpdateStatus.FAILED,
                    error="no answer for this item",
                    request_id=request_id,
                )
            elif "error" in answer:
                error = answer["error"] or {}
                results[position] = UpdateResult(
                    update.listing_id,
                    UpdateStatus.REJECTED,
                    error=f"{error.get('code')}: {error.get('message')}",
                    request_id=request_id,
                )
            else:
                results[position] = UpdateResult(
                    update.listing_id,
                    UpdateStatus.ACKNOWLEDGED,
                    quantity=answer.get("stock_quantity"),
                    request_id=request_id,
                )
        return results

    def read_orders(self, cursor: str | None) -> OrdersPage:
        """Orders modified since `cursor` (``modified_after``, less an overlap window; the
        inbox drops what it has) as events: every order a ``created`` event, and a
        ``cancelled`` or ``returned`` (``refunded``) one when its status says so. Orders
        still ``pending``, ``failed`` or ``checkout-draft`` are not paid: no stock left the
        shelf for them yet, they wait for their next change. The next cursor is the latest
        ``date_modified_gmt`` seen."""
        params: dict[str, Any] = {"status": "any", "orderby": "id", "order": "asc"}
        if cursor:
            since = datetime.fromisoformat(cursor) - timedelta(seconds=ORDERS_OVERLAP_S)
            params["modified_after"] = since.strftime("%Y-%m-%dT%H:%M:%S")
        events: list[ChannelOrder] = []
        unreadable: list[UnreadableOrder] = []
        latest = cursor
        page = 1
        while True:
            query = {**params, "page": page, "per_page": self.per_page}
            response = self._get("orders", query)
            for resource in response.json():
                if isinstance(resource, Mapping):
                    stamp = resource.get("date_modified_gmt") or resource.get("date_modified")
                    if isinstance(stamp, str) and (latest is None or stamp > latest):
                        latest = stamp
                try:
                    events.extend(self._order_events(resource))
                except PayloadError as exc:
                    unreadable.append(UnreadableOrder(str(exc), resource, exc.external_id))
            total_pages = int(response.headers.get("x-wp-totalpages", "0") or 0)
            if page >= total_pages:
                return OrdersPage(tuple(events), latest, tuple(unreadable))
            page += 1

    @staticmethod
    def _order_events(resource: Any) -> list[ChannelOrder]:
        """A polled order's events: every paid order a ``created`` event, and a
        ``cancelled`` or ``returned`` one when its status says so. An unpaid order is not
        read: it comes again when it changes. A status that is not a string (a list, an
        object: unhashable) is no unpaid status: the model reads it as none."""
        status = resource.get("status") if isinstance(resource, Mapping) else None
        if isinstance(status, str) and status in _UNPAID:
            return []
        order = read_order(resource)
        events = [order_event(order, "created")]
        if order.status in ("cancelled", "trash"):
            events.append(order_event(order, "cancelled"))
        elif order.status == "refunded":
            events.append(order_event(order, "returned"))
        return events

    def endpoints(self) -> tuple[str, ...]:
        """The store's REST API root."""
        return (self.api_root,)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


# -- webhooks -------------------------------------------------------------------------------------

_PING = re.compile(rb"^webhook_id=\d+$")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's delivery-URL check when a webhook is saved: ``webhook_id=<n>``, unsigned
    and without a topic. It must be answered 2xx or the store refuses the webhook; it
    carries no order."""
    return header(headers, "x-wc-webhook-topic") is None and bool(_PING.match(body.strip()))


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """``X-WC-Webhook-Signature`` is the base64 HMAC-SHA256 of the raw body with the
    webhook's secret; compared in constant time. A missing header or empty secret is a no."""
    return verify_base64_hmac(secret, body, header(headers, "x-wc-webhook-signature"))


def _kind(status: str | None, topic: str) -> str | None:
    if topic == "order.created":
        return "created"
    if topic in ("order.updated", "order.deleted"):
        if status in ("cancelled", "trash") or topic == "order.deleted":
            return "cancelled"
        if status == "refunded":
            return "returned"
        return None
    return None


def read_order(resource: Any) -> WooOrder:
    """An order resource through its model (:class:`PayloadError` if it refuses it)."""
    return read(WooOrder, resource, "woocommerce order")


def order_event(order: WooOrder, kind: str) -> ChannelOrder:
    """An order resource (read by :func:`read_order`) as an order event.

    WooCommerce's ``refunded`` status is a full refund: the return holds every line.
    Raises :class:`PayloadError` for an order or return with a line of no unit.
    """
    if kind != "cancelled":
        require_units(f"woocommerce order {kind}", order.id, [x.quantity for x in order.line_items])
    billing = order.billing or WooBilling()
    name = " ".join(x for x in (billing.first_name, billing.last_name) if x).strip()
    lines = tuple(
        OrderLine(
            listing_id=(
                f"variation:{item.product_id}:{item.variation_id}"
                if item.variation_id
                else f"product:{item.product_id}"
                if item.product_id
                else None
            ),
            sku=item.sku,
            quantity=item.quantity,
            price=item.price,
        )
        for item in order.line_items
    )
    stamps = {
        "created": order.date_created_gmt or order.date_created,
        "cancelled": order.date_modified_gmt or order.date_modified,
        "returned": order.date_modified_gmt or order.date_modified,
    }
    return ChannelOrder(
        external_id=order.id,
        event="refunded" if kind == "returned" else kind,
        kind=kind,
        lines=lines,
        updated_at=stamps[kind] or "",
        number=order.number,
        customer_email=billing.email,
        customer_name=name or None,
        fulfillment="fulfilled" if order.status in ("completed", "refunded") else "unfulfilled",
        currency=order.currency,
    )


def parse_webhook(headers: Mapping[str, str], body: bytes) -> list[ChannelOrder]:
    """The order events of a (verified) webhook: ``order.created``, and ``order.updated`` /
    ``order.deleted`` when they cancel or refund; other topics and updates carry none.

    Raises :class:`WebhookError` for a body that is not JSON, and :class:`PayloadError` for
    an order resource :class:`WooOrder` refuses.
    """
    topic = header(headers, "x-wc-webhook-topic") or ""
    if not topic.startswith("order."):
        return []
    try:
        resource = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookError(f"woocommerce {topic}: the body is not JSON") from exc
    order = read_order(resource)
    kind = _kind(order.status, topic)
    return [] if kind is None else [order_event(order, kind)]


def webhook_delivery_id(headers: Mapping[str, str]) -> str | None:
    """``X-WC-Webhook-Delivery-ID``."""
    return header(headers, "x-wc-webhook-delivery-id")


def webhook_sent_at(headers: Mapping[str, str], body: bytes) -> datetime | None:
    """When the delivered order was last modified (``date_modified_gmt``, else
    ``date_created_gmt``), from the signed body: WooCommerce sends no timestamp header and
    builds the body when it delivers, so this is the freshest instant the signature covers."""
    try:
        resource = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(resource, dict):
        return None
    return instant(resource.get("date_modified_gmt")) or instant(resource.get("date_created_gmt"))


# -- configuration --------------------------------------------------------------------------------


def from_settings(settings: Mapping[str, str]) -> WooCommerceConnector:
    """The connector from a channel's settings: ``URL``, ``CONSUMER_KEY``,
    ``CONSUMER_SECRET``, and optionally ``AUTH``, ``REQUESTS_PER_S``, ``BURST``."""
    return WooCommerceConnector(
        settings["URL"],
        settings["CONSUMER_KEY"],
        settings["CONSUMER_SECRET"],
        auth=cast(AuthMode, settings.get("AUTH", "basic")),
        requests_per_s=float(settings.get("REQUESTS_PER_S", "5")),
        burst=int(settings.get("BURST", "10")),
    )


def sandbox_settings(credentials: Mapping[str, object]) -> dict[str, object]:
    """The settings that point a channel at the WooCommerce sandbox, from its credentials."""
    return {
        "URL": credentials["url"],
        "CONSUMER_KEY": credentials["consumer_key"],
        "CONSUMER_SECRET": credentials["consumer_secret"],
    }


SPEC = ChannelSpec(
    kind="woocommerce",
    required=("URL", "CONSUMER_KEY", "CONSUMER_SECRET"),
    connect=from_settings,
    sandbox_settings=sandbox_settings,
    webhooks=WebhookKind(
        verify_webhook, parse_webhook, webhook_delivery_id, is_ping, webhook_sent_at
    ),
)
