"""A generic signed HTTP channel (POS systems, B2B portals), and the HTTP retry loop.

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

:class:`ChannelHTTP` is the retry loop the HTTP connectors share: bounded, jittered backoff on
5xx, timeouts and dropped connections, then :class:`ChannelUnavailableError`; 429 honours
``Retry-After`` (bounded) then :class:`ChannelThrottledError`; 401/403 is
:class:`ChannelAuthError`. Errors and logs never carry credentials or URLs with query strings.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from .base import (
    ChannelAuthError,
    ChannelConnector,
    ChannelError,
    ChannelLimits,
    ChannelThrottledError,
    ChannelUnavailableError,
    Listing,
    QuantityUpdate,
    UpdateResult,
    UpdateStatus,
)
from .pacing import Pacer

__all__ = [
    "ChannelHTTP",
    "GenericChannelConnector",
    "RetrySettings",
    "Secret",
    "parse_retry_after",
    "sign_body",
]

_logger = logging.getLogger(__name__)


class Secret:
    """A credential that shows as ``***`` in ``repr``, ``str`` and ``vars()`` dumps."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for signing or sending; never for messages."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class RetrySettings:
    """How hard an HTTP connector tries before giving up (every bound is explicit)."""

    max_attempts: int = 4  # attempts per request on 5xx, timeouts and dropped connections
    base_delay_s: float = 0.5  # first backoff; doubles per failed attempt, with jitter
    max_delay_s: float = 8.0
    max_throttle_waits: int = 5  # 429s honoured per request before ChannelThrottledError
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited for but raised


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date; ``None`` when absent or invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class ChannelHTTP:
    """An httpx client with bounded retries, shared by the HTTP channel connectors.

    ``prepare`` builds a fresh request per attempt (a new OAuth nonce, a new timestamp), so a
    retry is signed again. With a ``pacer``, every attempt waits for its token first, a 429
    slows the pacer down and any other answer lets it recover. Counters: ``api_calls``
    (requests sent), ``throttled`` (429s received), ``retries`` (attempts after a 5xx or
    transport failure).
    """

    def __init__(
        self,
        name: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetrySettings | None = None,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.name = name
        self.pacer = pacer
        self.retry = retry or RetrySettings()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(timeout=timeout_s, transport=transport)
        self.api_calls = 0
        self.throttled = 0
        self.retries = 0
        self._counting = threading.Lock()

    def backoff(self, failures: int) -> float:
        """The jittered delay after ``failures`` consecutive failures (equal jitter)."""
        delay = min(self.retry.max_delay_s, self.retry.base_delay_s * 2 ** (failures - 1))
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def send(self, prepare: Callable[[], httpx.Request], what: str) -> httpx.Response:
        """Send with retries; return the first answer that is neither 429, 5xx nor 401/403."""
        failures = throttles = 0
        while True:
            if self.pacer is not None:
                self.pacer.acquire()
            with self._counting:
                self.api_calls += 1
            try:
                response = self._client.send(prepare())
            except httpx.TransportError as exc:  # timeouts, refused and dropped connections
                failure = type(exc).__name__
            else:
                status = response.status_code
                if self.pacer is not None:
                    if status == 429:
                        self.pacer.throttled()
                    else:
                        self.pacer.succeeded()
                if status == 429:
                    with self._counting:
                        self.throttled += 1
                    throttles += 1
                    hint = parse_retry_after(response.headers.get("retry-after"))
                    if throttles > self.retry.max_throttle_waits or (
                        hint is not None and hint > self.retry.max_retry_after_s
                    ):
                        raise ChannelThrottledError(
                            f"{self.name}: {what} throttled {throttles} times (HTTP 429)", hint
                        )
                    wait = hint if hint is not None else self.backoff(throttles)
                    _logger.info("%s: %s throttled, waiting %.2f s", self.name, what, wait)
                    self._sleep(wait)
                    continue
                if status in (401, 403):
                    raise ChannelAuthError(
                        f"{self.name}: {what} refused, HTTP {status} ({error_code(response)})"
                    )
                if status < 500:
                    return response
                failure = f"HTTP {status}"
            failures += 1
            if failures >= self.retry.max_attempts:
                raise ChannelUnavailableError(
                    f"{self.name}: {what} failed {failures} times, last: {failure}"
                )
            self.retries += 1
            wait = self.backoff(failures)
            _logger.info("%s: %s failed (%s), retry in %.2f s", self.name, what, failure, wait)
            self._sleep(wait)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def error_code(response: httpx.Response) -> str:
    """The error code of a JSON error body (``code`` or ``error``), else the status phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        code = body.get("code") or body.get("error")
        if isinstance(code, str):
            return code
    return response.reason_phrase


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


class GenericChannelConnector(ChannelConnector):
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
        self._http = ChannelHTTP(
            "generic",
            timeout_s=timeout_s,
            transport=transport,
            sleep=sleep,
            retry=retry,
            pacer=Pacer(requests_per_s, burst, sleep=sleep) if requests_per_s > 0 else None,
        )

    def __repr__(self) -> str:
        return f"GenericChannelConnector(base_url={self.base_url!r}, max_batch={self.max_batch})"

    @property
    def api_calls(self) -> int:
        """Requests sent, retries included."""
        return self._http.api_calls

    @property
    def throttled(self) -> int:
        """429 answers received."""
        return self._http.throttled

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
                    quantity=item.get("quantity"),
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

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
