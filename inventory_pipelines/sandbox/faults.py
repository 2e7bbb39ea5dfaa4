"""Fault injection shared by the HTTP emulators: latency, random errors, outages, scripted
failures, an optional token-bucket rate limit and the API request counter.

Faults apply only to the API paths a client talks to (each emulator decides which), never to
the ``/sandbox`` control endpoints, so a test can always switch them off again. Every API
request is counted, throttled or failed ones included. Order per request: count, rate limit
(429 with ``Retry-After``), latency, then failure (a status or a dropped connection).

Each emulator keeps its own error format: the middleware renders an injected status with the
``error_body`` it is given. Emulator-specific extras are switched on per subclass:
:attr:`Faults.RATE_LIMITED` (WooCommerce's token bucket and throttled counter) and
:attr:`Faults.SENDS_RETRY_AFTER` (Shopify's ``Retry-After`` on an injected 429).
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
#: renders an injected failure status: ``(body, content type, extra headers)``
ErrorBody = Callable[[int], tuple[bytes, bytes, Headers]]
#: renders the body of a rate-limit 429 from its ``Retry-After`` seconds
ThrottleBody = Callable[[int], bytes]

#: the outage modes: answer 503, or drop the connection without an answer
OUTAGE_MODES = ("503", "close")
CLOSE = "close"
TEXT_PLAIN = b"text/plain; charset=utf-8"
CONNECTION_CLOSE = (b"connection", b"close")


@dataclass(frozen=True)
class Decision:
    """What to do with one API request: throttle, or wait ``latency`` then fail or pass."""

    latency: float
    failure: int | str | None
    #: ``Retry-After`` seconds for an injected 429 (``None``: send no such header)
    retry_after: float | None = None
    #: set when the rate limit refuses the request: the ``Retry-After`` seconds
    throttled: int | None = None


class TokenBucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` stored; ``None`` is off."""

    def __init__(
        self,
        rate: float | None = None,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.configure(rate, burst)

    def configure(self, rate: float | None, burst: int | None = None) -> None:
        """Set the rate (``None`` or 0 disables the limit) and the bucket size; refills it."""
        self.rate = float(rate) if rate else None
        self.burst = max(1, int(burst if burst is not None else math.ceil(self.rate or 1)))
        self._tokens = float(self.burst)
        self._stamp = self._clock()

    def take(self) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        if self.rate is None:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class Faults:
    """Thread-safe fault settings, the optional rate limit and the API request counter."""

    #: whether ``rate_limit``/``burst`` are configurable and reported (with ``throttled_count``)
    RATE_LIMITED = False
    #: whether an injected 429 carries ``Retry-After`` (:attr:`retry_after`), reported too
    SENDS_RETRY_AFTER = False

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._latency = 0.0
        self._error_rate = 0.0
        self._error_statuses: tuple[int, ...] = (500, 503)
        self._outage: str | None = None
        self._scripted: list[int | str] = []
        self._requests = 0
        self._retry_after = 1.0
        self._throttled = 0
        self.bucket = TokenBucket()

    # -- settings (also assignable: ``faults.latency = 0.5``, ``faults.outage = True``) --------

    @property
    def latency(self) -> float:
        """Seconds added before every API request is handled."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.set_latency(seconds)

    @property
    def error_rate(self) -> float:
        """Probability that an API request is answered with one of :attr:`error_statuses`."""
        return self._error_rate

    @error_rate.setter
    def error_rate(self, probability: float) -> None:
        self.set_error_rate(probability, self._error_statuses)

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """The statuses random errors draw from (default 500 and 503)."""
        return self._error_statuses

    @error_statuses.setter
    def error_statuses(self, statuses: tuple[int, ...] | list[int]) -> None:
        self.set_error_rate(self._error_rate, statuses)

    @property
    def outage(self) -> str | None:
        """``None``, ``"503"`` (every API request answered 503) or ``"close"`` (dropped)."""
        return self._outage

    @outage.setter
    def outage(self, mode: bool | str | None) -> None:
        self.set_outage(mode)

    @property
    def retry_after(self) -> float:
        """The ``Retry-After`` seconds sent with an injected 429 (if :attr:`SENDS_RETRY_AFTER`)."""
        return self._retry_after

    @retry_after.setter
    def retry_after(self, seconds: float) -> None:
        with self._lock:
            self._retry_after = max(0.0, float(seconds))

    @property
    def rate_limit(self) -> float | None:
        """Requests per second allowed (``None``: unlimited)."""
        return self.bucket.rate

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by ``seconds``."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def set_error_rate(
        self, probability: float, statuses: tuple[int, ...] | list[int] = (500, 503)
    ) -> None:
        """Answer each API request with one of ``statuses`` with this probability."""
        with self._lock:
            self._error_rate = min(1.0, max(0.0, float(probability)))
            self._error_statuses = tuple(int(s) for s in statuses) or (500,)

    def set_outage(self, mode: bool | str | None = True) -> None:
        """Start an outage (``True``/``"503"``: every API request gets 503; ``"close"``:
        connections are dropped unanswered) or end it (``False``/``None``)."""
        with self._lock:
            if mode in (False, None, "", "off"):
                self._outage = None
            elif mode is True or str(mode) == "503":
                self._outage = "503"
            elif mode == CLOSE:
                self._outage = CLOSE
            else:
                raise ValueError(f"outage mode must be one of {OUTAGE_MODES}, not {mode!r}")

    def set_rate_limit(self, requests_per_s: float | None, burst: int | None = None) -> None:
        """Throttle API requests with a token bucket (``None`` switches it off)."""
        with self._lock:
            self.bucket.configure(requests_per_s, burst)

    def fail_next(self, count: int = 1, status: int | str = 503) -> None:
        """Fail the next ``count`` API requests with ``status`` (or ``"close"``)."""
        if status != CLOSE:
            status = int(status)
        with self._lock:
            self._scripted.extend([status] * int(count))

    def configure(self, **settings: Any) -> None:
        """Apply a partial settings dict (the JSON body of ``POST /sandbox/faults``)."""
        if "latency" in settings:
            self.set_latency(settings["latency"])
        if "error_rate" in settings or "error_statuses" in settings:
            self.set_error_rate(
                settings.get("error_rate", self.error_rate),
                settings.get("error_statuses", self.error_statuses),
            )
        if "outage" in settings:
            self.set_outage(settings["outage"])
        if "fail_next" in settings:
            spec = settings["fail_next"]
            if isinstance(spec, dict):
                self.fail_next(spec.get("count", 1), spec.get("status", 503))
            else:
                self.fail_next(int(spec))
        if self.RATE_LIMITED and "rate_limit" in settings:
            self.set_rate_limit(settings["rate_limit"], settings.get("burst"))
        if self.SENDS_RETRY_AFTER and "retry_after" in settings:
            self.retry_after = settings["retry_after"]

    def reset(self) -> None:
        """No latency, errors, outage, rate limit or script (the counters are kept)."""
        with self._lock:
            self._latency = 0.0
            self._error_rate = 0.0
            self._error_statuses = (500, 503)
            self._outage = None
            self._scripted.clear()
            self._retry_after = 1.0
            self.bucket.configure(None)

    def snapshot(self) -> dict[str, Any]:
        """The current settings, as ``GET /sandbox/faults`` returns them."""
        with self._lock:
            settings: dict[str, Any] = {
                "latency": self._latency,
                "error_rate": self._error_rate,
                "error_statuses": list(self._error_statuses),
                "outage": self._outage,
            }
            if self.RATE_LIMITED:
                settings.update(rate_limit=self.bucket.rate, burst=self.bucket.burst)
            settings.update(fail_next=list(self._scripted), request_count=self._requests)
            if self.RATE_LIMITED:
                settings["throttled_count"] = self._throttled
            if self.SENDS_RETRY_AFTER:
                settings["retry_after"] = self._retry_after
            return settings

    # -- counting and deciding ------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """API requests received since the last reset, throttled and failed ones included."""
        with self._lock:
            return self._requests

    @property
    def throttled_count(self) -> int:
        """API requests answered 429 by the rate limit since the last counter reset."""
        with self._lock:
            return self._throttled

    def reset_request_count(self) -> int:
        """Zero the counters; returns the request count it had."""
        with self._lock:
            previous, self._requests, self._throttled = self._requests, 0, 0
            return previous

    def decide(self) -> Decision:
        """Count one API request and decide its fate."""
        with self._lock:
            self._requests += 1
            wait = self.bucket.take()
            if wait > 0:
                self._throttled += 1
                return Decision(0.0, 429, throttled=max(1, math.ceil(wait)))
            failure: int | str | None = None
            if self._outage is not None:
                failure = 503 if self._outage == "503" else CLOSE
            elif self._scripted:
                failure = self._scripted.pop(0)
            elif self._error_rate and self._rng.random() < self._error_rate:
                failure = self._rng.choice(self._error_statuses)
            retry_after = self._retry_after if self.SENDS_RETRY_AFTER else None
            return Decision(self._latency, failure, retry_after)


def status_text(status: int) -> bytes:
    """``"503 Service Unavailable\\n"``: the plain-text body of an injected status."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"{status} {phrase}\n".encode()


def text_error_body(status: int) -> tuple[bytes, bytes, Headers]:
    """The default error rendering: the status line as plain text, ``Connection: close``."""
    return status_text(status), TEXT_PLAIN, [CONNECTION_CLOSE]


def json_throttle_body(retry_after: int) -> bytes:
    """The default body of a rate-limit 429."""
    return b'{"message":"Too Many Requests"}'


class FaultInjectionMiddleware:
    """ASGI middleware applying :class:`Faults` to requests whose path is an API path."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults,
        is_api_path: Callable[[str], bool],
        error_body: ErrorBody = text_error_body,
        throttle_body: ThrottleBody = json_throttle_body,
    ) -> None:
        self.app = app
        self.faults = faults
        self.is_api_path = is_api_path
        self.error_body = error_body
        self.throttle_body = throttle_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count, throttle, delay and maybe fail an API request; pass everything else."""
        if scope["type"] != "http" or not self.is_api_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        decision = self.faults.decide()
        if decision.throttled is not None:
            body = self.throttle_body(decision.throttled)
            retry_after = (b"retry-after", str(decision.throttled).encode())
            await _send(send, 429, body, b"application/json; charset=utf-8", [retry_after])
            return
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.failure is None:
            await self.app(scope, receive, send)
        elif decision.failure == CLOSE:
            await _drop_connection(send)
        else:
            status = int(decision.failure)
            body, content_type, headers = self.error_body(status)
            if status == 429 and decision.retry_after is not None:
                headers = [*headers, (b"retry-after", f"{decision.retry_after:g}".encode())]
            await _send(send, status, body, content_type, headers)


async def _send(send: Send, status: int, body: bytes, content_type: bytes, extra: Headers) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(send: Send) -> None:
    """Close the TCP connection without a byte of response, as a crashed proxy would."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.abort()
        # let uvicorn see the disconnect before it considers answering with a 500
        for _ in range(3):
            await asyncio.sleep(0)
        return
    # not uvicorn's own send: promise a body and break off before sending it
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"1024")],
        }
    )
    raise ConnectionAbortedError("sandbox outage: connection dropped")
