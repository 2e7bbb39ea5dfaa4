"""The state of the emulated Amazon seller account: listings, tokens, quotas, feeds, orders.

No HTTP here (moto's split): :mod:`.responses` parses requests, calls :class:`AmazonState`
and renders its answers or its errors (:class:`SpApiError`, :class:`LwaError`).

Facts tests can rely on (same ``skus`` and ``seed``, same catalog):

- SKUs ``SKU-000001`` ... ``SKU-<skus>`` (the Odoo sandbox's format); about 5% of the numbers
  are not listed on Amazon (:attr:`AmazonState.missing_skus`), about 2% of the listings have
  no seller-fulfilled quantity (``quantity`` None), the rest a quantity in 0..250.
- Access tokens live ``token_ttl_s`` seconds of the state clock; :meth:`AmazonState.advance`
  moves that clock (token expiry, time-driven feeds, orders) without sleeping.
- Quotas are token buckets per operation on the real monotonic clock (``rate_scale``
  multiplies every rate, so tests can speed them up; bursts are kept).
- Feeds advance IN_QUEUE -> IN_PROGRESS -> DONE: one step per ``getFeed`` poll
  (``feed_mode="polls"``), one step per ``feed_step_s`` of the state clock (``"time"``: polled
  or not, as Amazon does; any request, or a look at the quantities, catches feeds up), or
  only through :meth:`AmazonState.advance_feeds` (``"manual"``). A feed is processed when it
  reaches DONE.

Unverified against Amazon, chosen conservatively and documented here: the listings issue
codes are the emulator's own (``INVALID_VALUE``, ``INVALID_PATCH``, ``NOT_FOUND``,
``INVALID_MESSAGE``), with Amazon's shape ``{code, message, severity, attributeNames}``; a
feed over 25,000 messages, with a wrong header or not JSON ends FATAL with a report carrying
one ``FEED_REJECTED`` issue.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

DEFAULT_SKUS = 200
DEFAULT_SELLER_ID = "A2SANDBOXSELLER"
DEFAULT_MARKETPLACE_ID = "ATVPDKIKX0DER"  # amazon.com
DEFAULT_CLIENT_ID = "amzn1.application-oa2-client.sandbox0001"
DEFAULT_CLIENT_SECRET = "amzn1.oa2-cs.v1.sandbox-client-secret-0001"
DEFAULT_REFRESH_TOKEN = "Atzr|sandbox-refresh-token-0001"
DEFAULT_TOKEN_TTL_S = 3600
LISTINGS_FEED_MAX_MESSAGES = 25_000
FULFILLMENT_PATH = "/attributes/fulfillment_availability"
DEMO_EPOCH = datetime(2025, 1, 1, tzinfo=UTC).timestamp()

#: operation -> (requests per second, burst), as Amazon documents them
DEFAULT_RATES: dict[str, tuple[float, int]] = {
    "getListingsItem": (5.0, 5),
    "patchListingsItem": (5.0, 5),
    "searchListingsItems": (5.0, 5),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "cancelFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
}
#: at most this many feeds of one type per window (seconds of the state clock)
DEFAULT_FEED_WINDOW: tuple[int, float] = (5, 300.0)
FEED_STATUSES = ("IN_QUEUE", "IN_PROGRESS", "DONE")
FEED_MODES = ("polls", "time", "manual")
ORDER_STATUSES = (
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "Canceled",
    "Unfulfillable",
    "InvoiceUnconfirmed",
    "PendingAvailability",
)
ORDERS_PAGE_SIZE = 100


class SpApiError(Exception):
    """An SP-API error: rendered as ``status`` with ``{"errors": [{code, message, details}]}``."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The SP-API error body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"errors": [error]}


class QuotaExceeded(SpApiError):
    """Amazon's 429 for an operation whose token bucket is empty."""

    def __init__(self) -> None:
        super().__init__(
            429, "QuotaExceeded", "You exceeded your quota for the requested resource."
        )


class LwaError(Exception):
    """A Login with Amazon token error: ``{"error", "error_description"}`` with ``status``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, Any]:
        """The LWA error body."""
        return {"error": self.error, "error_description": self.description}


def iso(timestamp: float) -> str:
    """``2025-01-01T00:00:00Z`` for a POSIX timestamp."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """A POSIX timestamp from an ISO 8601 date-time (``Z`` or an offset; naive means UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _encode_token(payload: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode_token(token: str, what: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception as exc:
        raise SpApiError(400, "InvalidInput", f"Invalid {what}.") from exc
    if not isinstance(value, dict):
        raise SpApiError(400, "InvalidInput", f"Invalid {what}.")
    return value


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens per second, at most ``burst`` stored."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        """Take one token if there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class Quotas:
    """One token bucket per SP-API operation; operations without a rate are not limited."""

    def __init__(
        self,
        rates: Mapping[str, tuple[float, int]] | None = None,
        rate_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_scale = float(rate_scale)
        self.rates = {**DEFAULT_RATES, **(rates or {})}
        self._clock = clock
        self._buckets = {
            op: TokenBucket(rate * self.rate_scale, burst, clock)
            for op, (rate, burst) in self.rates.items()
        }
        self.enabled = True

    def configure(self, rate_scale: float | None = None, enabled: bool | None = None) -> None:
        """Scale every quota afresh (buckets refilled) and/or switch the quotas on or off."""
        if rate_scale is not None:
            self.rate_scale = float(rate_scale)
            self._buckets = {
                op: TokenBucket(rate * self.rate_scale, burst, self._clock)
                for op, (rate, burst) in self.rates.items()
            }
        if enabled is not None:
            self.enabled = bool(enabled)

    def limit(self, operation: str) -> float | None:
        """The sustained rate of an operation (``x-amzn-RateLimit-Limit``), if it has one."""
        rate = self.rates.get(operation)
        return rate[0] * self.rate_scale if rate else None

    def take(self, operation: str) -> None:
        """Spend one request of ``operation``'s quota or raise :class:`QuotaExceeded`."""
        bucket = self._buckets.get(operation)
        if self.enabled and bucket is not None and not bucket.try_take():
            raise QuotaExceeded()

    def snapshot(self) -> dict[str, Any]:
        """Rates and bursts in effect."""
        return {
            "enabled": self.enabled,
            "rate_scale": self.rate_scale,
            "rates": {op: [b.rate, b.burst] for op, b in self._buckets.items()},
        }


@dataclass
class ListingItem:
    """One seller listing (a SKU) in the marketplace."""

    sku: str
    asin: str
    item_name: str
    product_type: str
    quantity: int | None
    created: float
    last_updated: float
    status: tuple[str, ...] = ("BUYABLE", "DISCOVERABLE")
    attributes: dict[str, Any] = field(default_factory=dict)

    def summary(self, marketplace_id: str) -> dict[str, Any]:
        """The ``summaries`` entry of the listing."""
        return {
            "marketplaceId": marketplace_id,
            "asin": self.asin,
            "productType": self.product_type,
            "conditionType": "new_new",
            "status": list(self.status),
            "itemName": self.item_name,
            "createdDate": iso(self.created),
            "lastUpdatedDate": iso(self.last_updated),
        }

    def fulfillment_availability(self) -> list[dict[str, Any]]:
        """The ``fulfillmentAvailability`` entry (empty when the quantity is unknown)."""
        if self.quantity is None:
            return []
        return [{"fulfillmentChannelCode": "DEFAULT", "quantity": self.quantity}]

    def render(self, marketplace_id: str, included: Iterable[str]) -> dict[str, Any]:
        """The listing as getListingsItem and searchListingsItems return it."""
        included = set(included)
        out: dict[str, Any] = {"sku": self.sku}
        if "summaries" in included:
            out["summaries"] = [self.summary(marketplace_id)]
        if "attributes" in included:
            out["attributes"] = self.attributes
        if "fulfillmentAvailability" in included:
            out["fulfillmentAvailability"] = self.fulfillment_availability()
        if "issues" in included:
            out["issues"] = []
        return out


@dataclass
class FeedDocument:
    """An uploaded feed or a processing report, stored where its URL points."""

    document_id: str
    content_type: str
    content: bytes | None = None


@dataclass
class Feed:
    """A submitted feed and where it is in its processing."""

    feed_id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    created: float
    status: str = "IN_QUEUE"
    step_started: float = 0.0
    processing_start: float | None = None
    processing_end: float | None = None
    result_document_id: str | None = None

    def render(self) -> dict[str, Any]:
        """The feed as getFeed returns it."""
        out: dict[str, Any] = {
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": self.marketplace_ids,
            "createdTime": iso(self.created),
            "processingStatus": self.status,
        }
        if self.processing_start is not None:
            out["processingStartTime"] = iso(self.processing_start)
        if self.processing_end is not None:
            out["processingEndTime"] = iso(self.processing_end)
        if self.result_document_id is not None:
            out["resultFeedDocumentId"] = self.result_document_id
        return out


@dataclass
class Order:
    """A marketplace order with its items ``(sku, asin, quantity)``."""

    order_id: str
    purchase_date: float
    last_update: float
    status: str
    marketplace_id: str
    items: list[tuple[str, str, int]]

    def render(self) -> dict[str, Any]:
        """The order as getOrders returns it."""
        count = sum(q for _, _, q in self.items)
        shipped = count if self.status == "Shipped" else 0
        return {
            "AmazonOrderId": self.order_id,
            "PurchaseDate": iso(self.purchase_date),
            "LastUpdateDate": iso(self.last_update),
            "OrderStatus": self.status,
            "FulfillmentChannel": "MFN",
            "SalesChannel": "Amazon.com",
            "MarketplaceId": self.marketplace_id,
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": count - shipped,
        }


_NOUNS = ("Lamp", "Kettle", "Hammer", "Backpack", "Bottle", "Cable", "Chair", "Drill", "Mug")
_ADJECTIVES = ("Steel", "Compact", "Classic", "Premium", "Eco", "Outdoor", "Mini", "Smart")


class AmazonState:
    """One seller account in one marketplace, with its credentials, quotas and queues."""

    def __init__(
        self,
        skus: int = DEFAULT_SKUS,
        seed: int = 0,
        *,
        seller_id: str = DEFAULT_SELLER_ID,
        marketplace_id: str = DEFAULT_MARKETPLACE_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        rate_scale: float = 1.0,
        rates: Mapping[str, tuple[float, int]] | None = None,
        feed_mode: str = "polls",
        feed_step_s: float = 30.0,
        feed_window: tuple[int, float] | None = DEFAULT_FEED_WINDOW,
        orders: int | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if feed_mode not in FEED_MODES:
            raise ValueError(f"feed_mode must be one of {FEED_MODES}, not {feed_mode!r}")
        self.skus = int(skus)
        self.seed = int(seed)
        self.seller_id = seller_id
        self.marketplace_id = marketplace_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.token_ttl_s = float(token_ttl_s)
        self.feed_mode = feed_mode
        self.feed_step_s = float(feed_step_s)
        self.feed_window = feed_window
        self.quotas = Quotas(rates, rate_scale)
        self._wall_clock = wall_clock
        self._offset = 0.0
        self._lock = threading.RLock()
        self._rng = random.Random(f"amazon-ids-{seed}")
        self._tokens: dict[str, float] = {}
        self.listings: dict[str, ListingItem] = {}
        self.missing_skus: list[str] = []
        self.documents: dict[str, FeedDocument] = {}
        self.feeds: dict[str, Feed] = {}
        self.orders: dict[str, Order] = {}
        self.tokens_issued = 0
        self.patches_applied = 0
        self.messages_seen: set[int] = set()
        self.messages_resent = 0
        self._build_catalog()
        self._build_orders(self.skus // 10 if orders is None else int(orders))

    # -- clock --------------------------------------------------------------------------------

    def now(self) -> float:
        """The state clock (POSIX seconds): the wall clock plus what :meth:`advance` added."""
        return self._wall_clock() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the state clock forward (tokens expire, time-driven feeds progress)."""
        with self._lock:
            self._offset += float(seconds)
            return self.now()

    # -- demo data ------------------------------------------------------------------------------

    def _build_catalog(self) -> None:
        self._sku_order: list[str] = []  # the listings' SKUs in order (pages are cut from it)
        rng = random.Random(self.seed)
        for number in range(1, self.skus + 1):
            sku = f"SKU-{number:06d}"
            if rng.random() < 0.05:
                self.missing_skus.append(sku)
                continue
            quantity = None if rng.random() < 0.02 else rng.randint(0, 250)
            created = DEMO_EPOCH - rng.uniform(1, 365) * 86400
            self.listings[sku] = ListingItem(
                sku=sku,
                asin=f"B0{rng.randrange(36**8):08X}"[:10],
                item_name=f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {number}",
                product_type="PRODUCT",
                quantity=quantity,
                created=created,
                last_updated=created,
            )

    def _build_orders(self, count: int) -> None:
        rng = random.Random(f"orders-{self.seed}")
        skus = sorted(self.listings)
        for _ in range(count if skus else 0):
            purchase = DEMO_EPOCH - rng.uniform(0, 30) * 86400
            lines = [
                (sku, self.listings[sku].asin, rng.randint(1, 3))
                for sku in rng.sample(skus, min(len(skus), rng.randint(1, 3)))
            ]
            status = rng.choice(("Shipped", "Shipped", "Unshipped", "Canceled", "Pending"))
            order = Order(
                self._order_id(rng),
                purchase,
                purchase + rng.uniform(0, 3600),
                status,
                self.marketplace_id,
                lines,
            )
            self.orders[order.order_id] = order

    @staticmethod
    def _order_id(rng: random.Random) -> str:
        return f"{rng.randrange(100, 999)}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"

    def _new_id(self, digits: int = 11) -> str:
        return str(self._rng.randrange(10 ** (digits - 1), 10**digits))

    # -- Login with Amazon ------------------------------------------------------------------------

    def issue_token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The refresh-token grant: a new access token, or :class:`LwaError`."""
        grant = form.get("grant_type")
        if grant != "refresh_token":
            raise LwaError(400, "unsupported_grant_type", "The grant type is not supported.")
        if not form.get("client_id") or not form.get("client_secret"):
            raise LwaError(400, "invalid_request", "The request is missing a required parameter.")
        if form["client_id"] != self.client_id or form["client_secret"] != self.client_secret:
            raise LwaError(401, "invalid_client", "Client authentication failed")
        if form.get("refresh_token") != self.refresh_token:
            raise LwaError(
                400,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token",
            )
        with self._lock:
            token = f"Atza|sandbox-{self._rng.getrandbits(128):032x}"
            self._tokens[token] = self.now() + self.token_ttl_s
            self.tokens_issued += 1
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(self.token_ttl_s),
        }

    def check_access_token(self, token: str | None) -> None:
        """Raise the SP-API 403 unless ``token`` is a live access token."""
        expiry = self._tokens.get(token or "")
        if expiry is None:
            raise SpApiError(403, "Unauthorized", "Access to requested resource is denied.")
        if self.now() >= expiry:
            raise SpApiError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided has expired.",
            )

    def expire_tokens(self) -> int:
        """Expire every access token now; returns how many there were."""
        with self._lock:
            count = len(self._tokens)
            now = self.now()
            self._tokens = dict.fromkeys(self._tokens, now)
            return count

    # -- listings ------------------------------------------------------------------------------

    def _check_seller(self, seller_id: str, marketplace_ids: Iterable[str]) -> None:
        if seller_id != self.seller_id:
            raise SpApiError(403, "Unauthorized", "Access to requested resource is denied.")
        ids = list(marketplace_ids)
        if not ids:
            raise SpApiError(400, "InvalidInput", "Missing required 'marketplaceIds'.")
        if any(m != self.marketplace_id for m in ids):
            raise SpApiError(400, "InvalidInput", "Invalid 'marketplaceIds' provided.")

    def get_listing(
        self, seller_id: str, sku: str, marketplace_ids: list[str], included: Iterable[str]
    ) -> dict[str, Any]:
        """getListingsItem."""
        self._progress_due_feeds()
        self._check_seller(seller_id, marketplace_ids)
        item = self.listings.get(sku)
        if item is None:
            raise SpApiError(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace.")
        return item.render(self.marketplace_id, included)

    def search_listings(
        self,
        seller_id: str,
        marketplace_ids: list[str],
        included: Iterable[str],
        page_size: int = 10,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        """searchListingsItems over the whole catalog, in SKU order."""
        self._progress_due_feeds()
        self._check_seller(seller_id, marketplace_ids)
        if not 1 <= page_size <= 20:
            raise SpApiError(400, "InvalidInput", "'pageSize' must be between 1 and 20.")
        start = int(_decode_token(page_token, "pageToken").get("o", 0)) if page_token else 0
        with self._lock:
            if len(self._sku_order) != len(self.listings):
                self._sku_order = sorted(self.listings)
            skus = self._sku_order
            page = [
                self.listings[s].render(self.marketplace_id, included)
                for s in skus[start : start + page_size]
            ]
        out: dict[str, Any] = {"numberOfResults": len(skus), "pagination": {}, "items": page}
        if start + page_size < len(skus):
            out["pagination"]["nextToken"] = _encode_token({"o": start + page_size})
        if start > 0:
            out["pagination"]["previousToken"] = _encode_token({"o": max(0, start - page_size)})
        return out

    def patch_listing(
        self, seller_id: str, sku: str, marketplace_ids: list[str], body: Any
    ) -> dict[str, Any]:
        """patchListingsItem: ACCEPTED (applied) or INVALID (with issues, nothing applied)."""
        self._progress_due_feeds()
        self._check_seller(seller_id, marketplace_ids)
        if not isinstance(body, dict):
            raise SpApiError(400, "InvalidInput", "The request body is not a JSON object.")
        if not isinstance(body.get("productType"), str) or not body["productType"]:
            raise SpApiError(400, "InvalidInput", "Missing required 'productType'.")
        if not isinstance(body.get("patches"), list) or not body["patches"]:
            raise SpApiError(400, "InvalidInput", "Missing required 'patches'.")
        with self._lock:
            item = self.listings.get(sku)
            if item is None:
                raise SpApiError(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace.")
            issues = validate_patches(body["patches"])
            if not issues:
                self._apply(item, body["patches"])
        return {
            "sku": sku,
            "status": "INVALID" if issues else "ACCEPTED",
            "submissionId": f"{self._rng.getrandbits(128):032x}",
            "issues": issues,
        }

    def _apply(self, item: ListingItem, patches: list[dict[str, Any]]) -> None:
        for patch in patches:
            name = patch["path"].removeprefix("/attributes/")
            if patch["path"] == FULFILLMENT_PATH:
                for entry in patch["value"]:
                    if entry.get("fulfillment_channel_code", "DEFAULT") == "DEFAULT":
                        item.quantity = int(entry["quantity"])
            if patch["op"] == "delete":
                item.attributes.pop(name, None)
            else:
                item.attributes[name] = patch["value"]
        item.last_updated = self.now()
        self.patches_applied += 1

    def set_quantity(self, sku: str, quantity: int | None) -> None:
        """Set a listing's quantity directly (as a sale or Seller Central would)."""
        with self._lock:
            if sku not in self.listings:
                raise KeyError(sku)
            self.listings[sku].quantity = quantity
            self.listings[sku].last_updated = self.now()

    def quantities(self) -> dict[str, int | None]:
        """SKU -> quantity for the whole catalog."""
        self._progress_due_feeds()
        with self._lock:
            return {sku: item.quantity for sku, item in self.listings.items()}

    # -- feeds ---------------------------------------------------------------------------------

    def create_document(self, body: Any) -> str:
        """createFeedDocument: a document id to upload to."""
        if not isinstance(body, dict) or not isinstance(body.get("contentType"), str):
            raise SpApiError(400, "InvalidInput", "Missing required 'contentType'.")
        with self._lock:
            doc_id = f"amzn1.tortuga.4.na.{self._rng.getrandbits(96):024x}"
            self.documents[doc_id] = FeedDocument(doc_id, body["contentType"])
        return doc_id

    def upload_document(self, doc_id: str, content: bytes) -> None:
        """The PUT to a document's URL."""
        with self._lock:
            document = self.documents.get(doc_id)
            if document is None:
                raise SpApiError(404, "NoSuchKey", "The specified key does not exist.")
            document.content = content

    def document(self, doc_id: str) -> FeedDocument:
        """A stored document (getFeedDocument and the download URL)."""
        document = self.documents.get(doc_id)
        if document is None:
            raise SpApiError(404, "NotFound", f"Feed document {doc_id} not found.")
        return document

    def create_feed(self, body: Any) -> str:
        """createFeed: queue a feed (checks its input document and the per-type window)."""
        if not isinstance(body, dict):
            raise SpApiError(400, "InvalidInput", "The request body is not a JSON object.")
        feed_type = body.get("feedType")
        marketplace_ids = body.get("marketplaceIds")
        doc_id = body.get("inputFeedDocumentId")
        if not isinstance(feed_type, str) or not feed_type:
            raise SpApiError(400, "InvalidInput", "Missing required 'feedType'.")
        if not isinstance(marketplace_ids, list) or not marketplace_ids:
            raise SpApiError(400, "InvalidInput", "Missing required 'marketplaceIds'.")
        if any(m != self.marketplace_id for m in marketplace_ids):
            raise SpApiError(400, "InvalidInput", "Invalid 'marketplaceIds' provided.")
        if not isinstance(doc_id, str) or doc_id not in self.documents:
            raise SpApiError(400, "InvalidInput", "Invalid 'inputFeedDocumentId'.")
        with self._lock:
            now = self.now()
            if self.feed_window is not None:
                limit, window = self.feed_window
                recent = [
                    f
                    for f in self.feeds.values()
                    if f.feed_type == feed_type and now - f.created < window
                ]
                if len(recent) >= limit:
                    raise QuotaExceeded()
            feed = Feed(
                self._new_id(), feed_type, list(marketplace_ids), doc_id, now, step_started=now
            )
            self.feeds[feed.feed_id] = feed
        return feed.feed_id

    def _feed(self, feed_id: str) -> Feed:
        feed = self.feeds.get(feed_id)
        if feed is None:
            raise SpApiError(404, "NotFound", f"Feed {feed_id} not found.")
        return feed

    def _progress_due_feeds(self) -> None:
        """In ``time`` mode, take every feed as far as the state clock says, polled or not:
        Amazon processes a submitted feed whether or not anyone asks about it."""
        if self.feed_mode != "time":
            return
        with self._lock:
            for feed in self.feeds.values():
                while feed.status in FEED_STATUSES[:2] and (
                    self.now() - feed.step_started >= self.feed_step_s
                ):
                    self._step(feed, feed.step_started + self.feed_step_s)

    def get_feed(self, feed_id: str) -> dict[str, Any]:
        """getFeed; in ``polls`` mode the feed takes one step after each poll."""
        with self._lock:
            feed = self._feed(feed_id)
            self._progress_due_feeds()
            rendered = feed.render()
            if self.feed_mode == "polls":
                self._step(feed, self.now())
            return rendered

    def cancel_feed(self, feed_id: str) -> None:
        """cancelFeed: only a feed still IN_QUEUE can be cancelled."""
        with self._lock:
            feed = self._feed(feed_id)
            if feed.status != "IN_QUEUE":
                raise SpApiError(400, "InvalidInput", f"Feed {feed_id} can not be cancelled.")
            feed.status = "CANCELLED"

    def advance_feeds(self, feed_id: str | None = None, to: str = "DONE") -> list[dict[str, Any]]:
        """Move one feed (or every unfinished one) forward up to status ``to``."""
        if to not in FEED_STATUSES:
            raise ValueError(f"'to' must be one of {FEED_STATUSES}")
        with self._lock:
            feeds = [self._feed(feed_id)] if feed_id else list(self.feeds.values())
            for feed in feeds:
                while feed.status in FEED_STATUSES and FEED_STATUSES.index(
                    feed.status
                ) < FEED_STATUSES.index(to):
                    self._step(feed, self.now())
            return [feed.render() for feed in feeds]

    def _step(self, feed: Feed, at: float) -> None:
        if feed.status == "IN_QUEUE":
            feed.status = "IN_PROGRESS"
            feed.processing_start = at
        elif feed.status == "IN_PROGRESS":
            feed.status = self._process(feed)
            feed.processing_end = at
        else:
            return
        feed.step_started = at

    def _process(self, feed: Feed) -> str:
        """Process a feed's document, store its report; returns DONE or FATAL."""
        report_header = {"sellerId": self.seller_id, "version": "2.0", "feedId": feed.feed_id}
        content = self.documents[feed.input_document_id].content
        try:
            if feed.feed_type != "JSON_LISTINGS_FEED":
                raise _FeedRejected(f"Feed type {feed.feed_type} is not supported by the sandbox.")
            if content is None:
                raise _FeedRejected("The feed document was never uploaded.")
            report = self._process_listings_feed(content, report_header)
            status = "DONE"
        except _FeedRejected as rejected:
            status = "FATAL"
            report = {
                "header": report_header,
                "issues": [
                    {"code": "FEED_REJECTED", "severity": "ERROR", "message": str(rejected)}
                ],
                "summary": {
                    "errors": 1,
                    "warnings": 0,
                    "messagesProcessed": 0,
                    "messagesAccepted": 0,
                    "messagesInvalid": 0,
                },
            }
        doc_id = f"amzn1.tortuga.4.na.{self._rng.getrandbits(96):024x}"
        self.documents[doc_id] = FeedDocument(doc_id, "application/json", orjson.dumps(report))
        feed.result_document_id = doc_id
        return status

    def _process_listings_feed(
        self, content: bytes, report_header: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            feed = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise _FeedRejected("The feed is not valid JSON.") from exc
        header = feed.get("header") if isinstance(feed, dict) else None
        messages = feed.get("messages") if isinstance(feed, dict) else None
        if not isinstance(header, dict) or header.get("sellerId") != self.seller_id:
            raise _FeedRejected("The header's sellerId does not match the seller.")
        if header.get("version") != "2.0":
            raise _FeedRejected("The header's version must be '2.0'.")
        if not isinstance(messages, list) or not messages:
            raise _FeedRejected("The feed has no messages.")
        if len(messages) > LISTINGS_FEED_MAX_MESSAGES:
            raise _FeedRejected(
                f"The feed has {len(messages)} messages; at most "
                f"{LISTINGS_FEED_MAX_MESSAGES} are allowed."
            )
        issues: list[dict[str, Any]] = []
        invalid = 0
        seen: set[Any] = set()
        for message in messages:
            message_issues = self._feed_message(message, seen)
            if message_issues:
                invalid += 1
                issues.extend(message_issues)
        return {
            "header": report_header,
            "issues": issues,
            "summary": {
                "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
                "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
                "messagesProcessed": len(messages),
                "messagesAccepted": len(messages) - invalid,
                "messagesInvalid": invalid,
            },
        }

    def _feed_message(self, message: Any, seen: set[Any]) -> list[dict[str, Any]]:
        """Validate and apply one message; returns its issues (with its messageId)."""
        message_id = message.get("messageId") if isinstance(message, dict) else None

        def issue(code: str, text: str) -> list[dict[str, Any]]:
            return [{"messageId": message_id, "code": code, "severity": "ERROR", "message": text}]

        if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id < 1:
            return issue("INVALID_MESSAGE", "'messageId' must be a positive integer.")
        if message_id in seen:
            return issue("INVALID_MESSAGE", f"Duplicate messageId {message_id}.")
        seen.add(message_id)
        if message_id in self.messages_seen:
            self.messages_resent += 1
        self.messages_seen.add(message_id)
        sku = message.get("sku")
        if not isinstance(sku, str) or not sku:
            return issue("INVALID_MESSAGE", "'sku' is required.")
        if message.get("operationType") != "PATCH":
            return issue("INVALID_MESSAGE", "The sandbox supports operationType PATCH only.")
        if not isinstance(message.get("productType"), str) or not message["productType"]:
            return issue("INVALID_MESSAGE", "'productType' is required for PATCH.")
        patches = message.get("patches")
        if not isinstance(patches, list) or not patches:
            return issue("INVALID_MESSAGE", "'patches' is required for PATCH.")
        item = self.listings.get(sku)
        if item is None:
            return issue("NOT_FOUND", f"SKU '{sku}' not found in marketplace.")
        problems = validate_patches(patches)
        if problems:
            return [{"messageId": message_id, **p} for p in problems]
        self._apply(item, patches)
        return []

    # -- orders --------------------------------------------------------------------------------

    def sell(self, sku: str, quantity: int = 1, status: str = "Unshipped") -> dict[str, Any]:
        """A buyer orders ``quantity`` of ``sku``: quantity drops, an order is made."""
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown order status {status!r}")
        with self._lock:
            item = self.listings.get(sku)
            if item is None:
                raise KeyError(sku)
            available = item.quantity or 0
            if quantity < 1 or quantity > available:
                raise ValueError(f"{sku}: cannot sell {quantity}, {available} available")
            item.quantity = available - quantity
            now = self.now()
            item.last_updated = now
            order = Order(
                self._order_id(self._rng),
                now,
                now,
                status,
                self.marketplace_id,
                [(sku, item.asin, quantity)],
            )
            self.orders[order.order_id] = order
            return order.render()

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        """The buyer cancels: the order is Canceled and its quantities come back."""
        with self._lock:
            order = self.orders.get(order_id)
            if order is None:
                raise KeyError(order_id)
            if order.status != "Canceled":
                order.status = "Canceled"
                order.last_update = self.now()
                for sku, _, quantity in order.items:
                    item = self.listings.get(sku)
                    if item is not None and item.quantity is not None:
                        item.quantity += quantity
            return order.render()

    def get_orders(self, params: Mapping[str, str]) -> dict[str, Any]:
        """getOrders: ``CreatedAfter`` or ``LastUpdatedAfter`` (or ``NextToken``), 100 a page."""
        if params.get("NextToken"):
            query = _decode_token(params["NextToken"], "NextToken")
        else:
            if not params.get("MarketplaceIds"):
                raise SpApiError(400, "InvalidInput", "Missing required 'MarketplaceIds'.")
            created = params.get("CreatedAfter")
            updated = params.get("LastUpdatedAfter")
            if bool(created) == bool(updated):
                raise SpApiError(
                    400,
                    "InvalidInput",
                    "Exactly one of 'CreatedAfter' and 'LastUpdatedAfter' is required.",
                )
            try:
                since = parse_iso(created or updated or "")
            except ValueError as exc:
                raise SpApiError(400, "InvalidInput", "Invalid date-time.") from exc
            statuses = [s for s in params.get("OrderStatuses", "").split(",") if s]
            query = {"f": "c" if created else "u", "s": since, "st": statuses, "o": 0}
        size = min(ORDERS_PAGE_SIZE, int(params.get("MaxResultsPerPage", ORDERS_PAGE_SIZE)))
        key = (lambda o: o.purchase_date) if query["f"] == "c" else (lambda o: o.last_update)
        with self._lock:
            matching = sorted(
                (
                    o
                    for o in self.orders.values()
                    if key(o) > query["s"] and (not query["st"] or o.status in query["st"])
                ),
                key=lambda o: (key(o), o.order_id),
            )
        start = int(query["o"])
        payload: dict[str, Any] = {
            "Orders": [o.render() for o in matching[start : start + size]],
        }
        if start + size < len(matching):
            payload["NextToken"] = _encode_token({**query, "o": start + size})
        payload["LastUpdatedBefore" if query["f"] == "u" else "CreatedBefore"] = iso(self.now())
        return {"payload": payload}

    def get_order_items(self, order_id: str) -> dict[str, Any]:
        """getOrderItems."""
        order = self.orders.get(order_id)
        if order is None:
            raise SpApiError(404, "InvalidInput", f"Invalid AmazonOrderId: {order_id}")
        items = [
            {
                "ASIN": asin,
                "SellerSKU": sku,
                "OrderItemId": f"{order_id.replace('-', '')}{n}",
                "QuantityOrdered": quantity,
                "QuantityShipped": quantity if order.status == "Shipped" else 0,
                "Title": self.listings[sku].item_name if sku in self.listings else sku,
            }
            for n, (sku, asin, quantity) in enumerate(order.items)
        ]
        return {"payload": {"AmazonOrderId": order_id, "OrderItems": items}}

    # -- summary -------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts and settings, as ``GET /sandbox/state`` shows them."""
        with self._lock:
            statuses: dict[str, int] = {}
            for feed in self.feeds.values():
                statuses[feed.status] = statuses.get(feed.status, 0) + 1
            return {
                "seller_id": self.seller_id,
                "marketplace_id": self.marketplace_id,
                "skus": self.skus,
                "seed": self.seed,
                "listings": len(self.listings),
                "missing_skus": len(self.missing_skus),
                "orders": len(self.orders),
                "feeds": statuses,
                "feed_mode": self.feed_mode,
                "tokens_issued": self.tokens_issued,
                "patches_applied": self.patches_applied,
                "messages_resent": self.messages_resent,
                "quotas": self.quotas.snapshot(),
                "now": iso(self.now()),
            }


class _FeedRejected(Exception):
    """The whole feed is rejected (processing status FATAL)."""


def validate_patches(patches: list[Any]) -> list[dict[str, Any]]:
    """The issues of a listings patch set (empty when it can be applied)."""
    issues: list[dict[str, Any]] = []

    def issue(code: str, message: str, attribute: str | None = None) -> None:
        entry: dict[str, Any] = {"code": code, "message": message, "severity": "ERROR"}
        if attribute:
            entry["attributeNames"] = [attribute]
        issues.append(entry)

    for patch in patches:
        if not isinstance(patch, dict):
            issue("INVALID_PATCH", "A patch must be an object.")
            continue
        op, path, value = patch.get("op"), patch.get("path"), patch.get("value")
        if op not in ("add", "replace", "merge", "delete"):
            issue("INVALID_PATCH", f"Unsupported patch operation {op!r}.")
            continue
        if not isinstance(path, str) or not path.startswith("/attributes/"):
            issue("INVALID_PATCH", f"Invalid patch path {path!r}.")
            continue
        if path != FULFILLMENT_PATH or op == "delete":
            continue
        attribute = "fulfillment_availability"
        if not isinstance(value, list) or not value:
            issue("INVALID_VALUE", f"'{attribute}' must be a non-empty array.", attribute)
            continue
        for entry in value:
            quantity = entry.get("quantity") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not entry.get("fulfillment_channel_code"):
                issue("INVALID_VALUE", "'fulfillment_channel_code' is required.", attribute)
            elif not isinstance(quantity, int) or isinstance(quantity, bool):
                issue("INVALID_VALUE", "'quantity' must be an integer.", attribute)
            elif quantity < 0:
                issue(
                    "INVALID_VALUE",
                    f"The value '{quantity}' for 'quantity' must be greater than or equal to 0.",
                    attribute,
                )
    return issues
