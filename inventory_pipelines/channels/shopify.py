"""Shopify connector: the Admin GraphQL API behind :class:`ChannelConnector`.

- Listings: product variants with their SKU, barcode and inventory item, and the
  ``available`` quantity at one location (the shop's first location unless configured).
  ``Listing.listing_id`` is the inventory item gid.
- Publishing: one ``inventorySetQuantities`` per batch (at most 250 items), name
  ``available``, ``changeFromQuantity`` from ``QuantityUpdate.expected`` (null skips the
  check) and ``@idempotent(key:)``, both mandatory from API 2026-04. Shopify applies a
  mutation atomically: one stale item fails the whole batch, so stale items come back STALE
  (with the quantity Shopify shows, read back at once) and the others FAILED (retryable).
- Pacing: Shopify's cost bucket. The last ``throttleStatus`` is kept; before a request the
  connector estimates the points restored since then and sleeps until the expected cost
  fits. A ``THROTTLED`` answer (HTTP 200 or 429) waits for the points and retries; a 429 with
  ``Retry-After`` honours it; 5xx, timeouts and dropped connections are retried with
  jittered exponential backoff, then :class:`ChannelUnavailableError`. 401/403 raise
  :class:`ChannelAuthError`. Retries and the client are the shared ones of
  :mod:`~inventory_pipelines.channels.http`; the cost bucket plugs into them here. The access
  token is sent as ``X-Shopify-Access-Token`` and never appears in ``repr``, logs or errors.
- Configuration: :data:`SPEC` (``URL``, ``ACCESS_TOKEN``, ``API_VERSION``).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from inventory_pipelines.channels.base import (
    ChannelConnector,
    ChannelError,
    ChannelLimits,
    ChannelOrder,
    ChannelSpec,
    ChannelThrottledError,
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
from inventory_pipelines.channels.http import (
    ChannelHTTP,
    HTTPCounters,
    RetrySettings,
    Secret,
    Throttled,
)
from inventory_pipelines.channels.payloads import (
    PayloadError,
    ShopifyCustomer,
    ShopifyOrder,
    ShopifyOrderNode,
    ShopifyRefund,
    read,
    require_units,
)
from inventory_pipelines.channels.signing import header, instant, verify_base64_hmac

DEFAULT_API_VERSION = "2026-04"
MAX_BATCH = 250
#: Standard plan defaults, used until the first answer reports the real bucket
DEFAULT_MAXIMUM_AVAILABLE = 1000.0
DEFAULT_RESTORE_RATE = 100.0
MUTATION_COST = 10.0

LOCATIONS_QUERY = """
query Locations($first: Int!) {
  locations(first: $first) { edges { node { id name } } }
}
"""

ORDERS_QUERY = """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query) {
    edges {
      node {
        id name createdAt updatedAt cancelledAt
        lineItems(first: 50) { nodes { sku quantity } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
#: orders a page: 50 line items each keeps a page's cost under the 1,000-point ceiling
ORDERS_PAGE = 15
#: polling re-reads this much before its cursor: Shopify stamps updates with commit lag
ORDERS_OVERLAP_S = 300

LISTINGS_QUERY = """
query Listings($first: Int!, $after: String, $locationId: ID!) {
  productVariants(first: $first, after: $after) {
    edges {
      node {
        id
        sku
        barcode
        displayName
        inventoryItem {
          id
          inventoryLevel(locationId: $locationId) {
            quantities(names: ["available"]) { name quantity }
          }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

LEVELS_QUERY = """
query Levels($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"""

SET_QUANTITIES_MUTATION = """
mutation SetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup {
      id
      reason
      changes { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { code field message }
  }
}
"""

#: userError codes that a later attempt may not hit (everything else is permanent)
_RETRYABLE_CODES = frozenset({"IDEMPOTENCY_CONCURRENT_REQUEST"})
_STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})


@dataclass
class ThrottleStatus:
    """The last ``throttleStatus`` Shopify reported, and when (connector clock)."""

    maximum_available: float
    currently_available: float
    restore_rate: float
    observed_at: float

    def available_at(self, now: float) -> float:
        """Points in the bucket at ``now``, assuming nothing else spent them."""
        restored = max(0.0, now - self.observed_at) * self.restore_rate
        return min(self.maximum_available, self.currently_available + restored)


class _CostBucketPacing:
    """The cost bucket as the retry loop's pacing: each attempt first waits for its points.
    Throttling is read from the cost status in the answers, not counted here."""

    def __init__(self, acquire: Callable[[], None]) -> None:
        self.acquire = acquire

    def throttled(self) -> None:
        """Nothing to slow down: the answer's throttle status is already observed."""

    def succeeded(self) -> None:
        """Nothing to recover: the answer's throttle status is already observed."""


class QueryTooCostlyError(ChannelThrottledError):
    """A query costs more than the bucket can ever hold (or than one query may): waiting will
    not help, a smaller page will."""


class ShopifyConnector(HTTPCounters, ChannelConnector):
    """Shopify Admin GraphQL: listings at one location, compare-and-set publishing."""

    kind = "shopify"

    def __init__(
        self,
        shop_url: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        location_id: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 100,
        max_attempts: int = 5,
        max_throttled_attempts: int = 10,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        reason: str = "correction",
        rng: random.Random | None = None,
        webhook_secret: str | None = None,
        concurrency: int = 2,
    ) -> None:
        """``shop_url``: ``https://<shop>.myshopify.com`` (or a sandbox's ``http://`` url);
        ``location_id``: a Location gid (None: the shop's first location)."""
        if not shop_url.startswith(("http://", "https://")):
            shop_url = f"https://{shop_url}"
        self.shop_url = shop_url.rstrip("/")
        self.api_version = api_version
        self._webhook_secret = Secret(webhook_secret) if webhook_secret else None
        self.concurrency = max(1, int(concurrency))
        self.endpoint = f"{self.shop_url}/admin/api/{api_version}/graphql.json"
        self.page_size = max(1, min(int(page_size), MAX_BATCH))
        self.max_attempts = max(1, int(max_attempts))
        self.max_throttled_attempts = max(1, int(max_throttled_attempts))
        self.reason = reason
        self._access_token = Secret(access_token)
        self._location_id = location_id
        self._sleep = sleep
        self._clock = clock
        self._http = ChannelHTTP(
            "shopify",
            timeout_s=timeout_s,
            transport=transport,
            sleep=sleep,
            rng=rng,
            retry=RetrySettings(
                max_attempts=self.max_attempts,
                base_delay_s=backoff_s,
                max_delay_s=max_backoff_s,
                # THROTTLED answers and 429s alike; the bucket's own wait, however long
                max_throttle_waits=self.max_throttled_attempts - 1,
                max_retry_after_s=math.inf,
            ),
        )
        self._throttle: ThrottleStatus | None = None
        self._pacing = threading.Lock()  # batches in flight share one picture of the bucket
        self._outstanding = 0.0  # points reserved by requests sent and not answered yet
        self._local = threading.local()
        self._expected_cost: dict[str, float] = {}
        #: seconds spent waiting for the cost bucket before sending (pacing, not retries)
        self.paced_seconds = 0.0

    def __repr__(self) -> str:
        return (
            f"ShopifyConnector(shop_url={self.shop_url!r}, api_version={self.api_version!r}, "
            f"location_id={self._location_id!r})"
        )

    # -- interface --------------------------------------------------------------------------------

    def limits(self) -> ChannelLimits:
        """250 items per mutation; the sustained rate is the restore rate over a mutation's cost."""
        status = self._throttle
        restore = status.restore_rate if status else DEFAULT_RESTORE_RATE
        maximum = status.maximum_available if status else DEFAULT_MAXIMUM_AVAILABLE
        cost = self._expected_cost.get("publish", MUTATION_COST)
        return ChannelLimits(
            max_batch=MAX_BATCH,
            requests_per_s=restore / cost,
            burst=max(1, int(maximum // cost)),
            compare_and_set=True,
            concurrency=self.concurrency,
        )

    @property
    def location_id(self) -> str:
        """The Location gid quantities are read and set at (looked up once when not given)."""
        if self._location_id is None:
            data = self._execute("locations", LOCATIONS_QUERY, {"first": 1}, 3.0)
            edges = data["locations"]["edges"]
            if not edges:
                raise ChannelError("shopify: the shop has no location")
            self._location_id = str(edges[0]["node"]["id"])
        return self._location_id

    @property
    def throttle_status(self) -> ThrottleStatus | None:
        """The last cost bucket status Shopify reported (None before the first answer)."""
        return self._throttle

    def read_listings(self) -> Iterator[list[Listing]]:
        """Every variant with its inventory item and ``available`` at the location, by page."""
        location = self.location_id
        after: str | None = None
        size = self.page_size
        if self._throttle is not None:  # a page must fit in the bucket: 2 + 4 points a variant
            size = max(1, min(size, int((self._throttle.maximum_available - 2) // 4)))
        while True:
            try:
                data = self._execute(
                    f"listings:{size}",
                    LISTINGS_QUERY,
                    {"first": size, "after": after, "locationId": location},
                    2.0 + 4.0 * size,
                )
            except QueryTooCostlyError:
                if size == 1:
                    raise
                size = max(1, size // 2)
                continue
            connection = data["productVariants"]
            yield [self._listing(edge["node"], location) for edge in connection["edges"]]
            page = connection["pageInfo"]
            if not page["hasNextPage"] or not page["endCursor"]:
                return
            after = page["endCursor"]

    def publish(
        self, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult]:
        """One ``inventorySetQuantities`` for the batch; results in the order of ``updates``."""
        if not updates:
            return []
        if len(updates) > MAX_BATCH:
            raise ValueError(f"shopify: at most {MAX_BATCH} updates per batch, not {len(updates)}")
        location = self.location_id
        variables = {
            "key": idempotency_key,
            "input": {
                "name": "available",
                "reason": self.reason,
                "referenceDocumentUri": f"inventory-pipelines://publish/{idempotency_key}",
                "quantities": [
                    {
                        "inventoryItemId": update.listing_id,
                        "locationId": location,
                        "quantity": int(update.quantity),
                        "changeFromQuantity": update.expected,
                    }
                    for update in updates
                ],
            },
        }
        data = self._execute("publish", SET_QUANTITIES_MUTATION, variables, MUTATION_COST)
        payload = data.get("inventorySetQuantities")
        if payload is None:
            raise ChannelError("shopify: inventorySetQuantities returned no payload")
        errors = payload.get("userErrors") or []
        if not errors:
            return self._acknowledged(updates, payload.get("inventoryAdjustmentGroup"))
        return self._not_applied(updates, errors)

    def read_orders(self, cursor: str | None) -> OrdersPage:
        """Orders updated since `cursor` (an ISO time, re-read with an overlap window: the
        inbox drops what it already has), as ``created`` events and, for cancelled orders,
        ``cancelled`` events too. The next cursor is the latest ``updatedAt`` seen."""
        query = None
        if cursor:
            since = datetime.fromisoformat(cursor.replace("Z", "+00:00"))
            since -= timedelta(seconds=ORDERS_OVERLAP_S)
            query = f"updated_at:>'{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        events: list[ChannelOrder] = []
        unreadable: list[UnreadableOrder] = []
        latest = cursor
        after: str | None = None
        while True:
            data = self._execute(
                "orders",
                ORDERS_QUERY,
                {"first": ORDERS_PAGE, "after": after, "query": query},
                2.0 + ORDERS_PAGE * 52.0,
            )
            connection = data["orders"]
            for edge in connection["edges"]:
                node = edge["node"]
                try:
                    events.extend(graphql_order_events(node))
                except PayloadError as exc:
                    unreadable.append(UnreadableOrder(str(exc), node, exc.external_id))
                stamp = node.get("updatedAt") if isinstance(node, Mapping) else None
                if isinstance(stamp, str) and (latest is None or stamp > latest):
                    latest = stamp
            page = connection["pageInfo"]
            if not page["hasNextPage"] or not page["endCursor"]:
                return OrdersPage(tuple(events), latest, tuple(unreadable))
            after = page["endCursor"]

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """The webhook's HMAC against this connector's ``webhook_secret``."""
        secret = self._webhook_secret.reveal() if self._webhook_secret else ""
        return verify_webhook(secret, headers, body)

    def endpoints(self) -> tuple[str, ...]:
        """The shop's Admin GraphQL endpoint."""
        return (self.endpoint,)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    # -- results ----------------------------------------------------------------------------------

    @staticmethod
    def _listing(node: Mapping[str, Any], location: str) -> Listing:
        item = node.get("inventoryItem") or {}
        level = item.get("inventoryLevel")
        listing_id = str(item.get("id"))
        quantity = shown_quantity(_available(level), "shopify", listing_id)
        return Listing(
            listing_id=listing_id,
            sku=node.get("sku") or None,
            barcode=node.get("barcode") or None,
            quantity=quantity,
            title=node.get("displayName") or "",
            extra={
                "location_id": location,
                "variant_id": node.get("id"),
                "stocked": level is not None,
            },
        )

    def _acknowledged(
        self, updates: Sequence[QuantityUpdate], group: Mapping[str, Any] | None
    ) -> list[UpdateResult]:
        after: dict[str, int] = {}
        for change in (group or {}).get("changes") or []:
            if change.get("name") == "available" and change.get("quantityAfterChange") is not None:
                after[str((change.get("item") or {}).get("id"))] = int(
                    change["quantityAfterChange"]
                )
        request_id = (group or {}).get("id")
        return [
            UpdateResult(
                update.listing_id,
                UpdateStatus.ACKNOWLEDGED,
                quantity=after.get(update.listing_id, update.quantity),
                request_id=request_id,
            )
            for update in updates
        ]

    def _not_applied(
        self, updates: Sequence[QuantityUpdate], errors: Sequence[Mapping[str, Any]]
    ) -> list[UpdateResult]:
        by_index: dict[int, Mapping[str, Any]] = {}
        general: list[Mapping[str, Any]] = []
        for error in errors:
            index = _quantity_index(error.get("field"))
            if index is not None and 0 <= index < len(updates):
                by_index.setdefault(index, error)
            else:
                general.append(error)
        stale = [i for i, e in by_index.items() if e.get("code") in _STALE_CODES]
        actual = self._read_available([updates[i].listing_id for i in stale]) if stale else {}
        if general:
            code = str(general[0].get("code"))
            blame = f"{code}: {general[0].get('message', '')}"
        elif stale:
            blame = "batch had a stale item"
        else:
            blame = "batch had a rejected item"
        results = []
        for index, update in enumerate(updates):
            error = by_index.get(index)
            if error is not None:
                code = str(error.get("code"))
                message = f"{code}: {error.get('message', '')}"
                if code in _STALE_CODES:
                    status = UpdateStatus.STALE
                    quantity = actual.get(update.listing_id)
                elif code in _RETRYABLE_CODES:
                    status, quantity = UpdateStatus.FAILED, None
                else:
                    status, quantity = UpdateStatus.REJECTED, None
                results.append(UpdateResult(update.listing_id, status, quantity, message))
            elif general and str(general[0].get("code")) not in _RETRYABLE_CODES:
                results.append(UpdateResult(update.listing_id, UpdateStatus.REJECTED, None, blame))
            else:
                results.append(
                    UpdateResult(
                        update.listing_id, UpdateStatus.FAILED, None, f"not applied: {blame}"
                    )
                )
        return results

    def _read_available(self, listing_ids: Sequence[str]) -> dict[str, int | None]:
        """The ``available`` quantity Shopify shows now for inventory items at the location."""
        location = self.location_id
        found: dict[str, int | None] = {}
        for start in range(0, len(listing_ids), MAX_BATCH):
            ids = list(listing_ids[start : start + MAX_BATCH])
            # the cost grows with the ids asked for: learn it per batch size
            data = self._execute(
                f"levels:{len(ids)}",
                LEVELS_QUERY,
                {"ids": ids, "locationId": location},
                3.0 * len(ids),
            )
            for node in data.get("nodes") or []:
                if node and node.get("id"):
                    listing_id = str(node["id"])
                    shown = _available(node.get("inventoryLevel"))
                    found[listing_id] = shown_quantity(shown, "shopify", listing_id)
        return found

    # -- transport, pacing, retries ---------------------------------------------------------------

    def _pace(self, cost: float) -> None:
        """Wait until the bucket holds `cost`, and count it spent at once: a request sent
        concurrently then waits for its own points instead of spending the same ones."""
        with self._pacing:
            status = self._throttle
            if status is None or status.restore_rate <= 0:
                self._local.reserved = 0.0
                return
            needed = min(cost, status.maximum_available)
            self._outstanding += needed
            self._local.reserved = needed
            now = self._clock()
            shortfall = needed - status.available_at(now)
            wait = shortfall / status.restore_rate if shortfall > 0 else 0.0
            self._throttle = ThrottleStatus(
                status.maximum_available,
                status.available_at(now) - needed,
                status.restore_rate,
                now,
            )
            self.paced_seconds += wait
        if wait:
            self._sleep(wait)

    def _settle(self) -> None:
        """This thread's request is answered (or failed): its points are no longer in flight."""
        with self._pacing:
            reserved = getattr(self._local, "reserved", 0.0)
            self._outstanding = max(0.0, self._outstanding - reserved)
            self._local.reserved = 0.0

    def _observe(self, cost: Mapping[str, Any] | None, kind: str) -> None:
        if not cost:
            return
        status = cost.get("throttleStatus") or {}
        with contextlib.suppress(KeyError, TypeError, ValueError), self._pacing:
            # Shopify counted this request; the others in flight it may not have seen yet
            others = max(0.0, self._outstanding - getattr(self._local, "reserved", 0.0))
            self._throttle = ThrottleStatus(
                float(status["maximumAvailable"]),
                float(status["currentlyAvailable"]) - others,
                float(status["restoreRate"]),
                self._clock(),
            )
        self._settle()
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float) and requested > 0:
            self._expected_cost[kind] = float(requested)

    def _execute(
        self, kind: str, query: str, variables: Mapping[str, Any], estimate: float
    ) -> dict[str, Any]:
        """POST one GraphQL request with pacing and retries; its ``data`` or an error."""
        payload = {"query": query, "variables": dict(variables)}

        def prepare() -> httpx.Request:
            headers = {
                "X-Shopify-Access-Token": self._access_token.reveal(),
                "Accept": "application/json",
            }
            return self._http.build_request("POST", self.endpoint, json=payload, headers=headers)

        def before_attempt() -> None:
            self._settle()  # an earlier attempt of this call that got no cost back
            self._pace(self._expected_cost.get(kind, estimate))

        try:
            return self._http.call(
                prepare,
                kind,
                lambda response: self._answer(kind, response),
                pacer=_CostBucketPacing(before_attempt),
                wait_hint=lambda response: self._wait_after_429(response, kind),
            )
        finally:
            self._settle()

    def _answer(self, kind: str, response: httpx.Response) -> dict[str, Any]:
        """The ``data`` of an answer below 500; raises :class:`Throttled` for THROTTLED."""
        if response.status_code >= 400:
            raise ChannelError(f"shopify: HTTP {response.status_code} from the Admin API")
        try:
            body = response.json()
        except ValueError as exc:
            raise ChannelError("shopify: the Admin API answered with invalid JSON") from exc
        cost = (body.get("extensions") or {}).get("cost")
        self._observe(cost, kind)
        errors = body.get("errors")
        codes = {
            (e.get("extensions") or {}).get("code") for e in errors or () if isinstance(e, dict)
        }
        if "MAX_COST_EXCEEDED" in codes:
            raise QueryTooCostlyError("shopify: the query exceeds the single query max cost")
        if "THROTTLED" in codes:
            requested = float((cost or {}).get("requestedQueryCost") or 0)
            if self._throttle is not None and requested > self._throttle.maximum_available:
                raise QueryTooCostlyError(
                    f"shopify: a query of cost {requested:g} can never fit a bucket of "
                    f"{self._throttle.maximum_available:g}"
                )
            raise Throttled(self._throttled_wait(cost))
        data = body.get("data")
        # a partial answer is only usable when every root field came back
        if errors and (not isinstance(data, dict) or any(v is None for v in data.values())):
            items = errors if isinstance(errors, list) else [{"message": errors}]
            messages = "; ".join(str(e.get("message", e)) for e in items[:3])
            raise ChannelError(f"shopify: GraphQL error: {messages}")
        if not isinstance(data, dict):
            raise ChannelError("shopify: the Admin API answered without data")
        return data

    def _wait_after_429(self, response: httpx.Response, kind: str) -> float | None:
        """For a 429 without Retry-After: what the body's cost status implies (None: backoff)."""
        try:
            cost = (response.json().get("extensions") or {}).get("cost")
        except (ValueError, AttributeError):
            cost = None
        if cost:
            self._observe(cost, kind)
            return self._throttled_wait(cost)
        return None

    def _throttled_wait(self, cost: Mapping[str, Any] | None) -> float:
        status = (cost or {}).get("throttleStatus") or {}
        requested = float((cost or {}).get("requestedQueryCost") or MUTATION_COST)
        try:
            available = float(status["currentlyAvailable"])
            restore = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return self._http.backoff(1)
        if restore <= 0:
            return self._http.backoff(1)
        return max(0.0, requested - available) / restore + 0.01


def _available(level: Mapping[str, Any] | None) -> Any:
    """The "available" quantity of an inventory level, as Shopify sent it (None: no level)."""
    if not level:
        return None
    for entry in level.get("quantities") or []:
        if entry.get("name") == "available":
            return entry.get("quantity")
    return None


def _quantity_index(field: Sequence[str] | None) -> int | None:
    """The item index of a userError ``field`` like ``["input", "quantities", "3", ...]``."""
    if not field:
        return None
    parts = list(field)
    if "quantities" in parts:
        position = parts.index("quantities") + 1
        if position < len(parts) and str(parts[position]).isdigit():
            return int(parts[position])
    return None


# -- webhooks -------------------------------------------------------------------------------------

#: topics that carry order events, and the kind of event each one is
WEBHOOK_TOPICS = {
    "orders/create": "created",
    "orders/cancelled": "cancelled",
    "refunds/create": "returned",
}


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body with the app's
    secret; compared in constant time. A missing header or an empty secret is a no."""
    return verify_base64_hmac(secret, body, header(headers, "x-shopify-hmac-sha256"))


def _fulfillment(status: str | None) -> str:
    return {"fulfilled": "fulfilled", "partial": "partial"}.get(str(status), "unfulfilled")


def order_event(resource: Any, kind: str) -> ChannelOrder:
    """A REST order resource (a webhook's body) as a created or cancelled event.

    Raises :class:`PayloadError` when the resource is not one :class:`ShopifyOrder` reads.
    """
    order = read(ShopifyOrder, resource, f"shopify order {kind}")
    if kind != "cancelled":
        require_units(f"shopify order {kind}", order.id, [x.quantity for x in order.line_items])
    customer = order.customer or ShopifyCustomer()
    name = " ".join(x for x in (customer.first_name, customer.last_name) if x).strip()
    stamp = order.cancelled_at if kind == "cancelled" else order.created_at
    return ChannelOrder(
        external_id=order.id,
        event=kind,
        kind=kind,
        lines=tuple(
            OrderLine(listing_id=None, sku=item.sku, quantity=item.quantity, price=item.price)
            for item in order.line_items
        ),
        updated_at=stamp or order.updated_at or "",
        number=order.name or order.order_number,
        customer_email=order.email or customer.email,
        customer_name=name or None,
        fulfillment=_fulfillment(order.fulfillment_status),
        currency=order.currency,
    )


def refund_event(resource: Any) -> ChannelOrder:
    """A refund resource as a return event: the refunded line items, restocked or not.

    Raises :class:`PayloadError` when the resource is not one :class:`ShopifyRefund` reads.
    """
    refund = read(ShopifyRefund, resource, "shopify refund")
    lines = [x.quantity for x in refund.refund_line_items]
    require_units("shopify refund", refund.order_id, lines)
    return ChannelOrder(
        external_id=refund.order_id,
        event=f"refund:{refund.id}",
        kind="returned",
        lines=tuple(
            OrderLine(listing_id=None, sku=item.line_item.sku, quantity=item.quantity)
            for item in refund.refund_line_items
        ),
        updated_at=refund.created_at or "",
        fulfillment="fulfilled",
    )


def graphql_order_events(data: Any) -> list[ChannelOrder]:
    """An ``Order`` node of the GraphQL API as its events (created; cancelled if it is).

    Raises :class:`PayloadError` when the node is not one :class:`ShopifyOrderNode` reads.
    """
    node = read(ShopifyOrderNode, data, "shopify order")
    external_id = node.external_id
    if not external_id.strip():
        raise PayloadError("shopify order", ["id: the order id is empty"])
    require_units("shopify order", external_id, [x.quantity for x in node.lineItems.nodes])
    lines = tuple(
        OrderLine(listing_id=None, sku=item.sku, quantity=item.quantity)
        for item in node.lineItems.nodes
    )
    created = ChannelOrder(
        external_id=external_id,
        event="created",
        kind="created",
        lines=lines,
        updated_at=node.createdAt or "",
        number=node.name,
    )
    if not node.cancelledAt:
        return [created]
    cancelled = ChannelOrder(
        external_id=external_id,
        event="cancelled",
        kind="cancelled",
        lines=lines,
        updated_at=node.cancelledAt,
        number=node.name,
    )
    return [created, cancelled]


def parse_webhook(headers: Mapping[str, str], body: bytes) -> list[ChannelOrder]:
    """The order events of a (verified) webhook; an unknown topic carries none.

    Raises :class:`WebhookError` for a body that is not JSON, and :class:`PayloadError`
    (one) for a resource its topic's model refuses.
    """
    topic = header(headers, "x-shopify-topic") or ""
    kind = WEBHOOK_TOPICS.get(topic)
    if kind is None:
        return []
    try:
        resource = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookError(f"shopify {topic}: the body is not JSON") from exc
    if kind == "returned":
        return [refund_event(resource)]
    return [order_event(resource, kind)]


def webhook_delivery_id(headers: Mapping[str, str]) -> str | None:
    """``X-Shopify-Webhook-Id``: unique per delivery (a redelivery keeps it)."""
    return header(headers, "x-shopify-webhook-id")


#: the field of each topic's resource that stamps its event, inside what the HMAC covers
_EVENT_STAMP = {
    "orders/create": "created_at",
    "orders/cancelled": "cancelled_at",
    "refunds/create": "created_at",
}


def webhook_sent_at(headers: Mapping[str, str], body: bytes) -> datetime | None:
    """When the delivery's event happened: the older of the event's own stamp in the signed
    body and ``X-Shopify-Triggered-At``. Shopify retries with the original body and trigger
    time, so neither gets younger on a retry; the header is outside the HMAC, so it may make
    a delivery older but a forged one cannot make a replay look fresh."""
    stamps = [instant(header(headers, "x-shopify-triggered-at"))]
    field = _EVENT_STAMP.get(header(headers, "x-shopify-topic") or "")
    if field is not None:
        with contextlib.suppress(orjson.JSONDecodeError):
            resource = orjson.loads(body)
            if isinstance(resource, dict):
                stamps.append(instant(resource.get(field)))
    known = [stamp for stamp in stamps if stamp is not None]
    return min(known) if known else None


# -- configuration --------------------------------------------------------------------------------


def from_settings(settings: Mapping[str, str]) -> ShopifyConnector:
    """The connector from a channel's settings: ``URL`` (https://<shop>.myshopify.com),
    ``ACCESS_TOKEN``, ``API_VERSION`` (optional)."""
    return ShopifyConnector(
        settings["URL"],
        settings["ACCESS_TOKEN"],
        api_version=settings.get("API_VERSION", DEFAULT_API_VERSION),
    )


def sandbox_settings(credentials: Mapping[str, object]) -> dict[str, object]:
    """The settings that point a channel at the Shopify sandbox, from its credentials."""
    return {
        "URL": credentials["url"],
        "ACCESS_TOKEN": credentials["access_token"],
        "API_VERSION": credentials.get("api_version", DEFAULT_API_VERSION),
    }


SPEC = ChannelSpec(
    kind="shopify",
    required=("URL", "ACCESS_TOKEN"),
    connect=from_settings,
    sandbox_settings=sandbox_settings,
    webhooks=WebhookKind(
        verify_webhook, parse_webhook, webhook_delivery_id, sent_at=webhook_sent_at
    ),
)
