"""A generic signed HTTP channel (POS systems, B2B portals).

The protocol (what a POS vendor or portal implements to receive our stock)::

    GET  /listings?page=1&per_page=500
         -> {"items": [{"listing_id", "sku", "barcode", "quantity"}], "next_page": 2 | null}
    POST /stock   {"batch_id", "updates": [{"listing_id", "quantity", "expected"?}]}
         -> {"batch_id", "results": [{"listing_id", "status": ok|stale|unknown|invalid,
                                      "quantity"}]}

Every request carries ``X-Timestamp`` (unix seconds; the portal refuses more than 300 s of
skew) and ``X-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>``
(a GET signs the empty body); ``POST /stock`` carries ``Idempotency-Key`` equal to its
``batch_id``, and the portal answers a replay with its first answer, so a resend is harmless.
``expected`` makes an update a compare-and-set: ``stale`` carries the quantity the portal
actually shows.

Retries, throttling and the secret are the shared ones of
:mod:`~inventory_pipelines.channels.http`. Configuration: :data:`SPEC` (``URL``, ``SECRET``,
``MAX_BATCH``, ``REQUESTS_PER_S``, ``BURST``; all but the first two optional).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx
import orjson

from .base import (
    ChannelConnector,
    ChannelError,
    ChannelLimits,
    ChannelSpec,
    ChannelThrottledError,
    ChannelUnavailableError,
    Listing,
    QuantityUpdate,
    UpdateResult,
    UpdateStatus,
    shown_quantity,
)
from .http import ChannelHTTP, HTTPCounters, RetrySettings, Secret, error_code, parse_retry_after

# RetrySettings and parse_retry_after stay importable from here, where they used to live
__all__ = [
    "SPEC",
    "GenericChannelConnector",
    "RetrySettings",
    "parse_retry_after",
    "sign_body",
]

_logger = logging.getLogger(__name__)


def sign_body(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``: the ``X-Signature`` header value."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


#: per-item statuses of the protocol and what they mean for the publisher
_STATUS = {
    "ok": UpdateStatus.ACKNOWLEDGED,
    "stale": UpdateStatus.STALE,
    "unknown": UpdateStatus.REJECTED,
    "invalid": UpdateStatus.REJECTED,
}


class GenericChannelConnector(HTTPCounters, ChannelConnector):
    """A POS system or B2B portal behind the signed HTTP protocol (module docstring)."""

    kind = "generic"
    api_version = "v1"

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        max_batch: int = 500,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        requests_per_s: float = 10.0,
        burst: int = 20,
        per_page: int = 500,
        concurrency: int = 2,
        retry: RetrySettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = Secret(secret)
        self.max_batch = max_batch
        self.requests_per_s = requests_per_s
        self.burst = burst
        self.per_page = per_page
        self.concurrency = max(1, int(concurrency))
        self._clock = clock
        self._http = ChannelHTTP.paced(
            "generic",
            requests_per_s,
            burst,
            timeout_s=timeout_s,
            transport=transport,
            sleep=sleep,
            retry=retry,
        )

    def __repr__(self) -> str:
        return f"GenericChannelConnector(base_url={self.base_url!r}, max_batch={self.max_batch})"

    def limits(self) -> ChannelLimits:
        """The configured batch size and pace; compare-and-set is supported."""
        return ChannelLimits(
            max_batch=self.max_batch,
            requests_per_s=self.requests_per_s,
            burst=self.burst,
            compare_and_set=True,
            concurrency=self.concurrency,
        )

    def _request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Callable[[], httpx.Request]:
        """A request factory: each attempt gets a fresh timestamp."""
        signature = sign_body(self._secret.reveal(), body)

        def prepare() -> httpx.Request:
            sent = {
                "X-Timestamp": str(int(self._clock())),
                "X-Signature": signature,
                "Accept": "application/json",
                **(headers or {}),
            }
            if body:
                sent["Content-Type"] = "application/json"
            return httpx.Request(
                method, f"{self.base_url}{path}", content=body, headers=sent, params=params
            )

        return prepare

    def read_listings(self) -> Iterator[list[Listing]]:
        """Every listing, a page at a time."""
        page: int | None = 1
        while page is not None:
            params = {"page": page, "per_page": self.per_page}
            response = self._http.send(
                self._request("GET", "/listings", params=params), f"GET /listings page {page}"
            )
            if response.status_code != 200:
                raise ChannelError(
                    f"generic: GET /listings answered HTTP {response.status_code} "
                    f"({error_code(response)})"
                )
            data = response.json()
            yield [
                Listing(
                    listing_id=str(item["listing_id"]),
                    sku=item.get("sku"),
                    barcode=item.get("barcode"),
                    quantity=shown_quantity(item.get("quantity"), "generic", item["listing_id"]),
                )
                for item in data.get("items", [])
            ]
            page = data.get("next_page")

    def publish(
        self, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult]:
        """Send the updates in batches of ``max_batch`` (``<key>`` or ``<key>:<n>`` as batch id).

        The batch ids depend only on the key and the position, so resending the same updates
        with the same key replays the portal's first answers instead of writing again.
        """
        chunks = [updates[i : i + self.max_batch] for i in range(0, len(updates), self.max_batch)]
        results: list[UpdateResult] = []
        for number, chunk in enumerate(chunks):
            batch_id = idempotency_key if len(chunks) == 1 else f"{idempotency_key}:{number}"
            try:
                results.extend(self._publish_batch(chunk, batch_id))
            except (ChannelUnavailableError, ChannelThrottledError) as exc:
                if not results:
                    raise
                # earlier batches were applied: report them and leave the rest to a retry
                results.extend(
                    UpdateResult(u.listing_id, UpdateStatus.FAILED, error=str(exc))
                    for chunk_left in chunks[number:]
                    for u in chunk_left
                )
                break
        return results

    def _publish_batch(self, chunk: Sequence[QuantityUpdate], batch_id: str) -> list[UpdateResult]:
        items = []
        for update in chunk:
            item: dict[str, Any] = {"listing_id": update.listing_id, "quantity": update.quantity}
            if update.expected is not None:
                item["expected"] = update.expected
            items.append(item)
        body = orjson.dumps({"batch_id": batch_id, "updates": items})
        response = self._http.send(
            self._request("POST", "/stock", body, headers={"Idempotency-Key": batch_id}),
            f"POST /stock batch {batch_id}",
        )
        if response.status_code != 200:
            error = f"HTTP {response.status_code} ({error_code(response)})"
            _logger.warning("generic: batch %s refused: %s", batch_id, error)
            return [
                UpdateResult(u.listing_id, UpdateStatus.REJECTED, error=error, request_id=batch_id)
                for u in chunk
            ]
        answers = {str(r.get("listing_id")): r for r in response.json().get("results", [])}
        results = []
        for update in chunk:
            answer = answers.get(update.listing_id)
            if answer is None:
                results.append(
                    UpdateResult(
                        update.listing_id,
                        UpdateStatus.FAILED,
                        error="no result for this listing in the answer",
                        request_id=batch_id,
                    )
                )
                continue
            status = _STATUS.get(str(answer.get("status")), UpdateStatus.FAILED)
            results.append(
                UpdateResult(
                    update.listing_id,
                    status,
                    quantity=answer.get("quantity"),
                    error=None if status is UpdateStatus.ACKNOWLEDGED else str(answer["status"]),
                    request_id=batch_id,
                )
            )
        _logger.info(
            "generic: batch %s sent, %d updates, replayed=%s",
            batch_id,
            len(chunk),
            response.headers.get("idempotent-replayed") == "true",
        )
        return results

    def endpoints(self) -> tuple[str, ...]:
        """The portal's base URL."""
        return (self.base_url,)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def from_settings(settings: Mapping[str, str]) -> GenericChannelConnector:
    """The connector from a channel's settings: ``URL``, ``SECRET``, and optionally
    ``MAX_BATCH``, ``REQUESTS_PER_S``, ``BURST``."""
    return GenericChannelConnector(
        settings["URL"],
        settings["SECRET"],
        max_batch=int(settings.get("MAX_BATCH", "500")),
        requests_per_s=float(settings.get("REQUESTS_PER_S", "10")),
        burst=int(settings.get("BURST", "20")),
    )


def sandbox_settings(credentials: Mapping[str, object]) -> dict[str, object]:
    """The settings that point a channel at the generic channel sandbox."""
    return {
        "URL": credentials["url"],
        "SECRET": credentials["secret"],
        "MAX_BATCH": credentials.get("max_batch", 500),
    }


SPEC = ChannelSpec(
    kind="generic",
    required=("URL", "SECRET"),
    connect=from_settings,
    sandbox_settings=sandbox_settings,
)
