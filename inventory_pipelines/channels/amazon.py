"""Amazon connector: SP-API Listings and Feeds behind :class:`ChannelConnector`.

- Credentials: Login with Amazon's refresh-token grant gives an access token, cached until
  shortly before ``expires_in`` and fetched again once when an SP-API call answers 403; it is
  sent as ``x-amz-access-token`` (no SigV4 since 2023-10). The refresh token, the client
  secret and the access token never appear in ``repr``, logs or errors.
- Listings: ``searchListingsItems`` pages (20 a page) with summaries and fulfillment
  availability; ``Listing.listing_id`` is the seller SKU, ``quantity`` the ``DEFAULT``
  (merchant-fulfilled) quantity, ``None`` when the listing has none.
- Publishing: below ``bulk_threshold`` items, one ``patchListingsItem`` per SKU (replace
  ``/attributes/fulfillment_availability``), paced by a local token bucket at Amazon's 5/s
  (burst 5) that halves its rate on each 429, recovers on success and adopts the rate
  Amazon reports in ``x-amzn-RateLimit-Limit``. At or above it, one
  ``JSON_LISTINGS_FEED`` (at most 25,000 messages): create a document, upload it, create the
  feed, poll ``getFeed`` with a growing interval until DONE, FATAL or CANCELLED, then read the
  processing report: messages with an ERROR issue come back REJECTED, the others
  ACKNOWLEDGED (``request_id`` is the feed id). A feed that does not end DONE leaves every
  item FAILED (retryable). Message ids are derived from the idempotency key, so a resend
  carries the same ids and Amazon's reports (and the sandbox) can recognise it.
- Errors: 5xx, timeouts and dropped connections are retried with jittered exponential backoff
  (``max_retries``), then :class:`ChannelUnavailableError`; 429s are retried (honouring
  ``Retry-After`` when given) up to ``max_throttle_retries``, then
  :class:`ChannelThrottledError` (the shared loop of :mod:`~inventory_pipelines.channels.http`,
  with this module's pacers and its ``x-amzn-RateLimit-Limit`` plugged in); refused
  credentials raise :class:`ChannelAuthError`.
- No compare-and-set: Amazon has none, so a sale during a round trip is the residual window
  the safety buffer covers (DESIGN.md section 7).
- Configuration: :data:`SPEC` (``URL``, ``SELLER_ID``, ``MARKETPLACE_ID``, ``CLIENT_ID``,
  ``CLIENT_SECRET``, ``REFRESH_TOKEN``, ``TOKEN_URL``).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from inventory_pipelines.channels.base import (
    ChannelAuthError,
    ChannelConnector,
    ChannelError,
    ChannelJobUnknownError,
    ChannelLimits,
    ChannelOrder,
    ChannelSpec,
    ChannelUnavailableError,
    Listing,
    OrderLine,
    OrdersPage,
    QuantityUpdate,
    UnreadableOrder,
    UpdateResult,
    UpdateStatus,
    shown_quantity,
)
from inventory_pipelines.channels.http import ChannelHTTP, HTTPCounters, RetrySettings, Secret
from inventory_pipelines.channels.pacing import Pacer
from inventory_pipelines.channels.payloads import (
    AmazonOrder,
    AmazonOrderItem,
    PayloadError,
    read,
    require_units,
)

log = logging.getLogger(__name__)

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
LISTINGS_API = "/listings/2021-08-01"
FEEDS_API = "/feeds/2021-06-30"
ORDERS_API = "/orders/v0/orders"
#: polling re-reads this much before its cursor (LastUpdateDate lags behind the change)
ORDERS_OVERLAP_S = 300
#: statuses whose units a seller must ship (Pending: unpaid, units held by Amazon: not yet ours)
_SHIPPABLE = {"Unshipped", "PartiallyShipped", "Shipped"}
FEED_TYPE = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
FEED_MAX_MESSAGES = 25_000
FULFILLMENT_PATH = "/attributes/fulfillment_availability"
DEFAULT_BULK_THRESHOLD = 1000  # 200 s of patches at 5/s: past that a feed is faster
TOKEN_REFRESH_MARGIN_S = 60.0
SEARCH_PAGE_SIZE = 20
FEED_TERMINAL = frozenset({"DONE", "FATAL", "CANCELLED"})
#: operation -> (requests per second, burst), Amazon's documented quotas (pacing targets)
RATES: dict[str, tuple[float, int]] = {
    "getListingsItem": (5.0, 5),
    "patchListingsItem": (5.0, 5),
    "searchListingsItems": (5.0, 5),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
}
_MESSAGE_ID_SPAN = 100_000  # > FEED_MAX_MESSAGES: ids of one key never overlap another's


def message_id_base(idempotency_key: str) -> int:
    """The first feed messageId minus one for a key (same key, same ids; below 2**53)."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10**9 * _MESSAGE_ID_SPAN


def _error_text(response: httpx.Response) -> str:
    """``CODE: message`` from an SP-API or LWA error body (never request headers)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return f"{first.get('code', response.status_code)}: {first.get('message', '')}"
        if "error" in body:
            return str(body["error"])
    return f"HTTP {response.status_code}"


def _issues_text(issues: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{i.get('code', '?')}: {i.get('message', '')}"
        for i in issues
        if i.get("severity", "ERROR") == "ERROR"
    )


class AmazonConnector(HTTPCounters, ChannelConnector):
    """One seller account in one marketplace, over SP-API Listings (patches) and Feeds."""

    kind = "amazon"
    api_version = "listings-2021-08-01"

    def __init__(
        self,
        endpoint: str,
        seller_id: str,
        marketplace_id: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        token_url: str | None = None,
        product_type: str = "PRODUCT",
        bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rate_scale: float = 1.0,
        max_retries: int = 4,
        max_throttle_retries: int = 8,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        feed_poll_s: float = 30.0,
        feed_poll_max_s: float = 120.0,
        feed_timeout_s: float = 3600.0,
    ) -> None:
        """``token_url`` defaults to ``{endpoint}/auth/o2/token`` (the sandbox serves both);
        against Amazon pass :data:`LWA_TOKEN_URL`. ``rate_scale`` multiplies every pacing
        rate (tests against a sped-up sandbox)."""
        self.endpoint = endpoint.rstrip("/")
        self.seller_id = seller_id
        self.marketplace_id = marketplace_id
        self.token_url = token_url or f"{self.endpoint}/auth/o2/token"
        self.product_type = product_type
        self.bulk_threshold = int(bulk_threshold)
        self.feed_poll_s = float(feed_poll_s)
        self.feed_poll_max_s = float(feed_poll_max_s)
        self.feed_timeout_s = float(feed_timeout_s)
        self.rate_scale = float(rate_scale)
        self._client_id = client_id
        self._client_secret = Secret(client_secret)
        self._refresh_token = Secret(refresh_token)
        self._access_token: Secret | None = None
        self._token_expires = 0.0
        self._sleep = sleep
        self._clock = clock
        self._http = ChannelHTTP(
            "amazon",
            timeout_s=timeout_s,
            transport=transport,
            sleep=sleep,
            retry=RetrySettings(
                max_attempts=int(max_retries) + 1,
                base_delay_s=float(backoff_base_s),
                max_delay_s=float(backoff_cap_s),
                max_throttle_waits=int(max_throttle_retries),
                max_retry_after_s=math.inf,
            ),
            refused=(),  # a signed call refreshes its token once on a 403 (see _call)
        )
        self._pacers = {
            op: Pacer(rate * self.rate_scale, burst, clock, sleep)
            for op, (rate, burst) in RATES.items()
        }
        self.feeds = 0
        self.patches = 0

    def __repr__(self) -> str:
        return (
            f"AmazonConnector(endpoint={self.endpoint!r}, seller_id={self.seller_id!r}, "
            f"marketplace_id={self.marketplace_id!r})"
        )

    # -- interface ----------------------------------------------------------------------------

    def limits(self) -> ChannelLimits:
        """One patch per request at 5/s (burst 5); feeds carry up to 25,000 items."""
        rate, burst = RATES["patchListingsItem"]
        return ChannelLimits(
            max_batch=1,
            requests_per_s=rate * self.rate_scale,
            burst=burst,
            compare_and_set=False,
            bulk_batch=FEED_MAX_MESSAGES,
            bulk_threshold=self.bulk_threshold,
        )

    def counters(self) -> dict[str, int]:
        """``api_calls``, ``throttled`` (429s received), ``feeds`` created, ``patches`` sent."""
        return {
            "api_calls": self.api_calls,
            "throttled": self.throttled,
            "feeds": self.feeds,
            "patches": self.patches,
        }

    def read_listings(self) -> Iterator[list[Listing]]:
        """The seller's listings in the marketplace, 20 a page (searchListingsItems)."""
        url = f"{self.endpoint}{LISTINGS_API}/items/{quote(self.seller_id, safe='')}"
        page_token: str | None = None
        while True:
            params: dict[str, Any] = {
                "marketplaceIds": self.marketplace_id,
                "includedData": "summaries,fulfillmentAvailability",
                "pageSize": SEARCH_PAGE_SIZE,
            }
            if page_token:
                params["pageToken"] = page_token
            response = self._call("searchListingsItems", "GET", url, params=params)
            body = self._expect(response, "searchListingsItems", 200)
            yield [self._listing(item) for item in body.get("items", [])]
            page_token = (body.get("pagination") or {}).get("nextToken")
            if not page_token:
                return

    def publish(
        self, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult]:
        """Patches one by one below ``bulk_threshold`` items, one feed at or above it.

        ``QuantityUpdate.listing_id`` is the seller SKU; ``expected`` is ignored (no
        compare-and-set on Amazon). At most 25,000 updates per call. When the channel fails
        mid-batch the error is raised and the earlier patches stay applied: each patch
        replaces the quantity, so resending the whole batch with the same key is harmless.
        Not thread-safe: one connector per worker.
        """
        if not updates:
            return []
        if len(updates) > FEED_MAX_MESSAGES:
            raise ValueError(f"at most {FEED_MAX_MESSAGES} updates per publish, not {len(updates)}")
        if len(updates) >= self.bulk_threshold:
            return self._publish_feed(updates, idempotency_key)
        return [self._patch(update) for update in updates]

    def read_orders(self, cursor: str | None) -> OrdersPage:
        """getOrders by ``LastUpdatedAfter`` (the cursor, less an overlap window; 30 days back
        the first time) then getOrderItems per order, paced by their quotas (1 getOrders a
        minute, burst 20: polling Amazon is slow by design, and the inbox keeps what it got).

        ``Unshipped``/``PartiallyShipped``/``Shipped`` orders are ``created`` events (with
        the fulfilment state), ``Canceled`` ones ``cancelled`` events; ``Pending`` orders are
        not ours to ship yet and wait for their next update.
        """
        if cursor:
            since = datetime.fromisoformat(cursor.replace("Z", "+00:00"))
            since -= timedelta(seconds=ORDERS_OVERLAP_S)
        else:
            since = datetime.now(UTC) - timedelta(days=30)
        params: dict[str, Any] = {
            "MarketplaceIds": self.marketplace_id,
            "LastUpdatedAfter": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        events: list[ChannelOrder] = []
        unreadable: list[UnreadableOrder] = []
        latest = cursor
        url = f"{self.endpoint}{ORDERS_API}"
        while True:
            body = self._expect(
                self._call("getOrders", "GET", url, params=params), "getOrders", 200
            )
            payload = body.get("payload") or {}
            for resource in payload.get("Orders") or []:
                try:
                    event = self._order_event(resource)
                except PayloadError as exc:
                    unreadable.append(UnreadableOrder(str(exc), resource, exc.external_id))
                    event = None
                if event is not None:
                    events.append(event)
                stamp = resource.get("LastUpdateDate") if isinstance(resource, Mapping) else None
                if isinstance(stamp, str) and (latest is None or stamp > latest):
                    latest = stamp
            token = payload.get("NextToken")
            if not token:
                return OrdersPage(tuple(events), latest, tuple(unreadable))
            params = {"MarketplaceIds": self.marketplace_id, "NextToken": token}

    def _order_event(self, resource: Any) -> ChannelOrder | None:
        """An order (read by :class:`AmazonOrder`) and its items (getOrderItems, each read by
        :class:`AmazonOrderItem`) as its event; None for an order not ours to ship yet.
        Raises :class:`PayloadError` for an order or item its model refuses."""
        order = read(AmazonOrder, resource, "amazon order")
        status = order.OrderStatus or ""
        if status == "Canceled":
            kind = "cancelled"
        elif status in _SHIPPABLE:
            kind = "created"
        else:
            return None
        url = f"{self.endpoint}{ORDERS_API}/{quote(order.AmazonOrderId, safe='')}/orderItems"
        answer = self._expect(self._call("getOrderItems", "GET", url), "getOrderItems", 200)
        found = (answer.get("payload") or {}).get("OrderItems") or []
        items = [
            read(AmazonOrderItem, item, "amazon order item", order.AmazonOrderId) for item in found
        ]
        if kind == "created":
            require_units("amazon order", order.AmazonOrderId, [x.QuantityOrdered for x in items])
        lines = tuple(
            OrderLine(
                listing_id=item.SellerSKU,
                sku=item.SellerSKU,
                quantity=item.QuantityOrdered,
                price=item.ItemPrice.Amount if item.ItemPrice else None,
            )
            for item in items
        )
        shipped = order.NumberOfItemsShipped
        fulfillment = (
            "fulfilled" if status == "Shipped" else "partial" if shipped else "unfulfilled"
        )
        return ChannelOrder(
            external_id=order.AmazonOrderId,
            event=kind,
            kind=kind,
            lines=lines,
            updated_at=order.LastUpdateDate or "",
            number=order.AmazonOrderId,
            fulfillment=fulfillment,
        )

    def endpoints(self) -> tuple[str, ...]:
        """The SP-API endpoint and Login with Amazon's token endpoint (the feed documents'
        upload and download URLs are the ones the endpoint hands out)."""
        return (self.endpoint, self.token_url)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    # -- patches ------------------------------------------------------------------------------

    def _patches(self, quantity: int) -> list[dict[str, Any]]:
        return [
            {
                "op": "replace",
                "path": FULFILLMENT_PATH,
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }
        ]

    def _patch(self, update: QuantityUpdate) -> UpdateResult:
        sku = update.listing_id
        url = (
            f"{self.endpoint}{LISTINGS_API}/items/"
            f"{quote(self.seller_id, safe='')}/{quote(sku, safe='')}"
        )
        body = {"productType": self.product_type, "patches": self._patches(update.quantity)}
        response = self._call(
            "patchListingsItem",
            "PATCH",
            url,
            params={"marketplaceIds": self.marketplace_id},
            json_body=body,
        )
        self.patches += 1
        if response.status_code == 200:
            answer = response.json()
            submission = answer.get("submissionId")
            if answer.get("status") == "ACCEPTED":
                return UpdateResult(
                    sku, UpdateStatus.ACKNOWLEDGED, update.quantity, request_id=submission
                )
            issues = answer.get("issues") or []
            return UpdateResult(
                sku,
                UpdateStatus.REJECTED,
                error=_issues_text(issues) or f"status {answer.get('status')}",
                request_id=submission,
            )
        return UpdateResult(sku, UpdateStatus.REJECTED, error=_error_text(response))

    # -- feeds --------------------------------------------------------------------------------

    def _feed_document(self, updates: Sequence[QuantityUpdate], base: int) -> bytes:
        messages = [
            {
                "messageId": base + n + 1,
                "sku": update.listing_id,
                "operationType": "PATCH",
                "productType": self.product_type,
                "patches": self._patches(update.quantity),
            }
            for n, update in enumerate(updates)
        ]
        header = {"sellerId": self.seller_id, "version": "2.0", "issueLocale": "en_US"}
        return orjson.dumps({"header": header, "messages": messages})

    def _publish_feed(
        self, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult]:
        base = message_id_base(idempotency_key)
        response = self._call(
            "createFeedDocument",
            "POST",
            f"{self.endpoint}{FEEDS_API}/documents",
            json_body={"contentType": FEED_CONTENT_TYPE},
        )
        document = self._expect(response, "createFeedDocument", 200, 201)
        upload = self._call(
            "uploadFeedDocument",
            "PUT",
            document["url"],
            content=self._feed_document(updates, base),
            headers={"content-type": FEED_CONTENT_TYPE},
            signed=False,
        )
        self._expect(upload, "uploadFeedDocument", 200, 201, 204, parse=False)
        response = self._call(
            "createFeed",
            "POST",
            f"{self.endpoint}{FEEDS_API}/feeds",
            json_body={
                "feedType": FEED_TYPE,
                "marketplaceIds": [self.marketplace_id],
                "inputFeedDocumentId": document["feedDocumentId"],
            },
        )
        feed_id = str(self._expect(response, "createFeed", 202, 200)["feedId"])
        self.feeds += 1
        log.info("amazon feed %s submitted with %d messages", feed_id, len(updates))
        if self.on_job_submitted is not None:
            self.on_job_submitted(idempotency_key, feed_id)
        return self._feed_results(feed_id, self._wait_for_feed(feed_id), updates, base)

    def job_outcome(
        self, job_id: str, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult] | None:
        """A feed submitted earlier (maybe by a process that died): its per-update outcome once
        Amazon has processed it (waiting up to ``feed_timeout_s``), None while it is not."""
        url = f"{self.endpoint}{FEEDS_API}/feeds/{quote(job_id, safe='')}"
        if self._call("getFeed", "GET", url).status_code == 404:
            raise ChannelJobUnknownError(f"amazon feed {job_id} is unknown to Amazon")
        try:
            feed = self._wait_for_feed(job_id)
        except ChannelUnavailableError:
            return None
        return self._feed_results(job_id, feed, updates, message_id_base(idempotency_key))

    def cancel_job(self, job_id: str) -> bool:
        """cancelFeed: Amazon withdraws a feed only while it is still IN_QUEUE."""
        url = f"{self.endpoint}{FEEDS_API}/feeds/{quote(job_id, safe='')}"
        response = self._call("cancelFeed", "DELETE", url)
        if response.status_code == 404:
            raise ChannelJobUnknownError(f"amazon feed {job_id} is unknown to Amazon")
        return response.status_code in (200, 204)

    def _feed_results(
        self,
        feed_id: str,
        feed: Mapping[str, Any],
        updates: Sequence[QuantityUpdate],
        base: int,
    ) -> list[UpdateResult]:
        """Per update: acknowledged, rejected (its message has an ERROR issue), or failed
        when the feed as a whole did not end DONE."""
        status = feed.get("processingStatus")
        report_id = feed.get("resultFeedDocumentId")
        report = self._read_document(str(report_id)) if report_id else {}
        if status != "DONE":
            reason = _issues_text(report.get("issues") or []) or "no report"
            return [
                UpdateResult(
                    u.listing_id,
                    UpdateStatus.FAILED,
                    error=f"feed {feed_id} ended {status}: {reason}",
                    request_id=feed_id,
                )
                for u in updates
            ]
        errors: dict[int, list[Mapping[str, Any]]] = {}
        for issue in report.get("issues") or []:
            message_id = issue.get("messageId")
            if issue.get("severity", "ERROR") == "ERROR" and isinstance(message_id, int):
                errors.setdefault(message_id, []).append(issue)
        results = []
        for n, update in enumerate(updates):
            issues = errors.get(base + n + 1)
            if issues:
                results.append(
                    UpdateResult(
                        update.listing_id,
                        UpdateStatus.REJECTED,
                        error=_issues_text(issues),
                        request_id=feed_id,
                    )
                )
            else:
                results.append(
                    UpdateResult(
                        update.listing_id,
                        UpdateStatus.ACKNOWLEDGED,
                        update.quantity,
                        request_id=feed_id,
                    )
                )
        return results

    def _wait_for_feed(self, feed_id: str) -> dict[str, Any]:
        """Poll getFeed with a growing interval until the feed ends (or the timeout)."""
        url = f"{self.endpoint}{FEEDS_API}/feeds/{quote(feed_id, safe='')}"
        deadline = self._clock() + self.feed_timeout_s
        delay = self.feed_poll_s
        while True:
            feed = self._expect(self._call("getFeed", "GET", url), "getFeed", 200)
            status = feed.get("processingStatus")
            if status in FEED_TERMINAL:
                return feed
            if self._clock() >= deadline:
                raise ChannelUnavailableError(
                    f"amazon feed {feed_id} still {status} after {self.feed_timeout_s:g} s"
                )
            self._sleep(delay)
            delay = min(self.feed_poll_max_s, delay * 1.5)

    def _read_document(self, document_id: str) -> dict[str, Any]:
        """A feed document's content (the processing report), decompressed and parsed."""
        url = f"{self.endpoint}{FEEDS_API}/documents/{quote(document_id, safe='')}"
        info = self._expect(self._call("getFeedDocument", "GET", url), "getFeedDocument", 200)
        download = self._call("downloadFeedDocument", "GET", info["url"], signed=False)
        self._expect(download, "downloadFeedDocument", 200, parse=False)
        content = download.content
        if info.get("compressionAlgorithm") == "GZIP":
            content = gzip.decompress(content)
        report = orjson.loads(content)
        return report if isinstance(report, dict) else {}

    # -- listings -----------------------------------------------------------------------------

    def _listing(self, item: Mapping[str, Any]) -> Listing:
        summaries = item.get("summaries") or []
        summary = next(
            (s for s in summaries if s.get("marketplaceId") == self.marketplace_id),
            summaries[0] if summaries else {},
        )
        sku = str(item["sku"])
        quantity = next(
            (
                shown_quantity(f["quantity"], "amazon", sku)
                for f in item.get("fulfillmentAvailability") or []
                if f.get("fulfillmentChannelCode") == "DEFAULT" and f.get("quantity") is not None
            ),
            None,
        )
        return Listing(
            listing_id=sku,
            sku=sku,
            barcode=None,
            quantity=quantity,
            title=str(summary.get("itemName") or ""),
            extra={
                "asin": summary.get("asin"),
                "product_type": summary.get("productType"),
                "status": tuple(summary.get("status") or ()),
                "marketplace_id": self.marketplace_id,
            },
        )

    # -- HTTP ---------------------------------------------------------------------------------

    def _token(self) -> str:
        """The cached access token, fetched again shortly before it expires."""
        if self._access_token is not None and self._clock() < self._token_expires:
            return self._access_token.reveal()
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.reveal(),
            "client_id": self._client_id,
            "client_secret": self._client_secret.reveal(),
        }
        response = self._call("lwaToken", "POST", self.token_url, form=form, signed=False)
        if response.status_code in (400, 401, 403):
            raise ChannelAuthError(f"amazon LWA refused the credentials ({_error_text(response)})")
        body = self._expect(response, "lwaToken", 200)
        expires_in = float(body.get("expires_in", 3600))
        self._access_token = Secret(str(body["access_token"]))
        self._token_expires = (
            self._clock() + expires_in - min(TOKEN_REFRESH_MARGIN_S, expires_in / 10)
        )
        log.debug("amazon access token refreshed (expires in %.0f s)", expires_in)
        return self._access_token.reveal()

    def _call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        """One operation with pacing, retries, throttling and one token refresh on 403.

        Returns any answer below 500 other than 429 (and 403 after the refresh); the caller
        reads it.
        """
        pacer = self._pacers.get(operation)
        body = orjson.dumps(json_body) if json_body is not None else content

        def prepare() -> httpx.Request:
            request_headers = dict(headers or {})
            if signed:
                request_headers["x-amz-access-token"] = self._token()
            if json_body is not None:
                request_headers["content-type"] = "application/json"
            return self._http.build_request(
                method, url, params=params, data=form, content=body, headers=request_headers
            )

        def read(response: httpx.Response) -> httpx.Response:
            log.debug("amazon %s %s -> %d", method, operation, response.status_code)
            limit = _rate_limit(response)
            if pacer is not None and limit is not None:
                pacer.observe_limit(limit)
            return response

        response = self._http.call(prepare, operation, read, pacer=pacer)
        if response.status_code == 403 and signed:
            self._access_token = None  # revoked or expired early: fetch a new one, once
            response = self._http.call(prepare, operation, read, pacer=pacer)
        if response.status_code in (401, 403) and signed:
            raise ChannelAuthError(f"amazon {operation}: {_error_text(response)}")
        return response

    def _expect(
        self, response: httpx.Response, operation: str, *statuses: int, parse: bool = True
    ) -> dict[str, Any]:
        """The JSON body of an expected answer; anything else raises :class:`ChannelError`."""
        if response.status_code not in statuses:
            raise ChannelError(
                f"amazon {operation}: HTTP {response.status_code} {_error_text(response)}"
            )
        if not parse:
            return {}
        body = response.json()
        return body if isinstance(body, dict) else {}


def _rate_limit(response: httpx.Response) -> float | None:
    value = response.headers.get("x-amzn-RateLimit-Limit")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# -- configuration --------------------------------------------------------------------------------


def from_settings(settings: Mapping[str, str]) -> AmazonConnector:
    """The connector from a channel's settings: ``URL`` (the SP-API endpoint), ``SELLER_ID``,
    ``MARKETPLACE_ID``, ``CLIENT_ID``, ``CLIENT_SECRET``, ``REFRESH_TOKEN``, ``TOKEN_URL``
    (optional: Login with Amazon's)."""
    return AmazonConnector(
        settings["URL"],
        settings["SELLER_ID"],
        settings["MARKETPLACE_ID"],
        settings["CLIENT_ID"],
        settings["CLIENT_SECRET"],
        settings["REFRESH_TOKEN"],
        token_url=settings.get("TOKEN_URL", LWA_TOKEN_URL),
    )


_SANDBOX_FIELDS = (
    "seller_id",
    "marketplace_id",
    "client_id",
    "client_secret",
    "refresh_token",
    "token_url",
)


def sandbox_settings(credentials: Mapping[str, object]) -> dict[str, object]:
    """The settings that point a channel at the Amazon sandbox, from its credentials."""
    return {"URL": credentials["url"]} | {key.upper(): credentials[key] for key in _SANDBOX_FIELDS}


SPEC = ChannelSpec(
    kind="amazon",
    required=(
        "URL",
        "SELLER_ID",
        "MARKETPLACE_ID",
        "CLIENT_ID",
        "CLIENT_SECRET",
        "REFRESH_TOKEN",
    ),
    connect=from_settings,
    sandbox_settings=sandbox_settings,
)
