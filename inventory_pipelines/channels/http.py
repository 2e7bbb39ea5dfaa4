"""The HTTP plumbing every channel connector shares.

- :class:`Secret`: a credential that shows as ``***`` wherever it is printed, and
  :func:`redact_query_parameters` for the credentials that must travel in a URL (httpx logs
  whole URLs).
- :func:`parse_retry_after`: ``Retry-After`` in both its forms (RFC 9110 section 10.2.3).
- :class:`ChannelHTTP`: an httpx client with timeouts and the retry loop: bounded, jittered
  exponential backoff on timeouts, dropped connections and 5xx, then
  :class:`ChannelUnavailableError`; 429 honours ``Retry-After`` (bounded) then
  :class:`ChannelThrottledError`; 401/403 is :class:`ChannelAuthError`. It counts
  ``api_calls``, ``throttled`` and ``retries``, paces every attempt when given a pacer, and
  takes the sleep as a parameter so that tests need not wait; :class:`HTTPCounters` shows
  the counters on the connector.

Each channel keeps its own signals in its module and plugs them in here: its pacing (a
:class:`~inventory_pipelines.channels.pacing.Pacer`, Shopify's cost bucket), a reader that
raises :class:`Throttled` for a "slow down" inside a successful answer (Shopify's
``THROTTLED``), and a wait hint for a 429 without ``Retry-After``. Errors and logs never
carry credentials or URLs with query strings.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol, TypeVar

import httpx

from .base import ChannelAuthError, ChannelThrottledError, ChannelUnavailableError
from .pacing import Pacer

__all__ = [
    "ChannelHTTP",
    "HTTPCounters",
    "Pacing",
    "RedactQueryParameters",
    "RetrySettings",
    "Secret",
    "Throttled",
    "error_code",
    "parse_retry_after",
    "redact_query_parameters",
]

_logger = logging.getLogger(__name__)

T = TypeVar("T")

#: answers that mean the credentials were refused
AUTH_STATUSES = frozenset({401, 403})
#: failures after which the request certainly never reached the channel
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Secret:
    """A credential that shows as ``***`` in ``repr``, ``str``, f-strings, logs and errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for signing or sending; never for messages."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class RedactQueryParameters(logging.Filter):
    """Masks the values of the named query parameters in log records."""

    def __init__(self, *names: str) -> None:
        super().__init__()
        self.names = frozenset(names)
        alternatives = "|".join(re.escape(name) for name in sorted(self.names))
        self._pattern = re.compile(rf"((?:{alternatives})=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message when it carries one of the parameters; keep it."""
        message = record.getMessage()
        if any(f"{name}=" in message for name in self.names):
            record.msg = self._pattern.sub(r"\1***", message)
            record.args = None
        return True


def redact_query_parameters(*names: str, logger: str = "httpx") -> None:
    """Mask these query parameters in what `logger` logs (httpx logs request URLs at INFO);
    installing the same names twice adds no second filter."""
    target = logging.getLogger(logger)
    if not any(
        isinstance(f, RedactQueryParameters) and f.names >= set(names) for f in target.filters
    ):
        target.addFilter(RedactQueryParameters(*names))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP-date (a date in the past
    is 0); ``None`` when absent or unreadable. ``now`` is the wall clock (``time.time()``)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # asctime and "-0000" dates: HTTP-dates are always GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


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


@dataclass(frozen=True)
class RetrySettings:
    """How hard a connector tries before giving up (every bound is explicit)."""

    max_attempts: int = 4  # attempts per request on 5xx, timeouts and dropped connections
    base_delay_s: float = 0.5  # first backoff; doubles per failed attempt, with jitter
    max_delay_s: float = 8.0
    max_throttle_waits: int = 5  # throttled answers waited out per request, then raised
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited for but raised


class Pacing(Protocol):
    """What paces a connector's attempts (a :class:`~.pacing.Pacer`, a cost bucket)."""

    def acquire(self) -> None:
        """Wait until the next attempt may go."""

    def throttled(self) -> None:
        """The channel said slow down."""

    def succeeded(self) -> None:
        """The channel answered without throttling."""


class Throttled(Exception):
    """Raised by an answer reader for a "slow down" inside an answer that is not a 429;
    ``wait`` seconds before the next attempt (``None``: the backoff)."""

    def __init__(self, wait: float | None = None) -> None:
        super().__init__("throttled")
        self.wait = wait


def _accept(response: httpx.Response) -> httpx.Response:
    return response


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"connection failed ({type(exc).__name__})"


class ChannelHTTP:
    """An httpx client with timeouts and bounded retries, shared by the channel connectors.

    ``prepare`` builds a fresh request per attempt (a new OAuth nonce, timestamp or token),
    so a retry is signed again. Counters: ``api_calls`` (requests sent), ``throttled``
    (throttled answers), ``retries`` (attempts after a 5xx or transport failure). Answers
    with a status in ``refused`` (401/403 by default) raise :class:`ChannelAuthError`.
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
        pacer: Pacing | None = None,
        refused: Collection[int] = AUTH_STATUSES,
    ) -> None:
        self.name = name
        self.pacer = pacer
        self.retry = retry or RetrySettings()
        self.refused = frozenset(refused)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), transport=transport)
        self.api_calls = 0
        self.throttled = 0
        self.retries = 0
        self._counting = threading.Lock()  # several batches may be in flight on one connector

    @classmethod
    def paced(
        cls,
        name: str,
        requests_per_s: float,
        burst: int,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetrySettings | None = None,
    ) -> ChannelHTTP:
        """A client whose attempts a :class:`~.pacing.Pacer` keeps at a configured rate
        (unpaced when ``requests_per_s`` is 0)."""
        pacer = Pacer(requests_per_s, burst, sleep=sleep) if requests_per_s > 0 else None
        return cls(
            name, timeout_s=timeout_s, transport=transport, sleep=sleep, retry=retry, pacer=pacer
        )

    def build_request(self, method: str, url: str, **options: Any) -> httpx.Request:
        """A request with the client's defaults merged in (``httpx.Client.build_request``)."""
        return self._client.build_request(method, url, **options)

    def backoff(self, failures: int) -> float:
        """The jittered delay after ``failures`` consecutive failures (equal jitter)."""
        delay = min(self.retry.max_delay_s, self.retry.base_delay_s * 2 ** (failures - 1))
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def send(
        self,
        prepare: Callable[[], httpx.Request],
        what: str,
        *,
        pacer: Pacing | None = None,
        wait_hint: Callable[[httpx.Response], float | None] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries; the first answer that is neither 429, 5xx nor refused."""
        return self.call(
            prepare, what, _accept, pacer=pacer, wait_hint=wait_hint, idempotent=idempotent
        )

    def call(
        self,
        prepare: Callable[[], httpx.Request],
        what: str,
        read: Callable[[httpx.Response], T],
        *,
        pacer: Pacing | None = None,
        wait_hint: Callable[[httpx.Response], float | None] | None = None,
        idempotent: bool = True,
    ) -> T:
        """Send with retries and return what ``read`` makes of the first answer below 500
        that is neither 429 nor refused; ``read`` may raise :class:`Throttled` to wait and
        try again.

        ``pacer`` replaces the client's own for this call. ``wait_hint`` gives the wait for a
        429 without ``Retry-After`` (``None``: the backoff). A request that is not
        ``idempotent`` is retried only when it certainly did not reach the channel (it could
        not connect) or the channel refused it with a 429.
        """
        pacing = pacer if pacer is not None else self.pacer
        failures = throttles = 0
        while True:
            if pacing is not None:
                pacing.acquire()
            request = prepare()
            with self._counting:
                self.api_calls += 1
            try:
                response = self._client.send(request)
            except httpx.TransportError as exc:  # timeouts, refused and dropped connections
                failure = _describe(exc)
                retry_safe = idempotent or isinstance(exc, _NOT_SENT)
            else:
                status = response.status_code
                if status == 429:
                    wait = parse_retry_after(response.headers.get("retry-after"))
                    if wait is None and wait_hint is not None:
                        wait = wait_hint(response)
                    throttles = self._wait_out(what, throttles, wait, pacing)
                    continue
                if pacing is not None:
                    pacing.succeeded()
                if status in self.refused:
                    raise ChannelAuthError(
                        f"{self.name}: {what} refused, HTTP {status} ({error_code(response)})"
                    )
                if status < 500:
                    try:
                        return read(response)
                    except Throttled as signal:
                        throttles = self._wait_out(what, throttles, signal.wait, pacing)
                        continue
                failure = f"HTTP {status}"
                retry_safe = idempotent
            failures += 1
            if not retry_safe:
                raise ChannelUnavailableError(
                    f"{self.name}: {what} {failure}; not retried, the channel may have acted on it"
                )
            if failures >= self.retry.max_attempts:
                raise ChannelUnavailableError(
                    f"{self.name}: {what} unavailable after {failures} attempts ({failure})"
                )
            with self._counting:
                self.retries += 1
            wait = self.backoff(failures)
            _logger.warning("%s: %s %s, retrying in %.2f s", self.name, what, failure, wait)
            self._sleep(wait)

    def _wait_out(
        self, what: str, throttles: int, wait: float | None, pacing: Pacing | None
    ) -> int:
        """Count one throttled answer and sleep it off, or raise past the bounds."""
        throttles += 1
        with self._counting:
            self.throttled += 1
        if pacing is not None:
            pacing.throttled()
        if throttles > self.retry.max_throttle_waits or (
            wait is not None and wait > self.retry.max_retry_after_s
        ):
            raise ChannelThrottledError(
                f"{self.name}: {what} still throttled after {throttles} attempts", wait
            )
        delay = wait if wait is not None else self.backoff(throttles)
        _logger.info("%s: %s throttled, waiting %.2f s", self.name, what, delay)
        self._sleep(delay)
        return throttles

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class HTTPCounters:
    """``api_calls`` and ``throttled`` for a connector that sends through ``self._http``."""

    _http: ChannelHTTP

    @property
    def api_calls(self) -> int:
        """Requests sent, retries (and token requests) included."""
        return self._http.api_calls

    @property
    def throttled(self) -> int:
        """Throttled answers received: 429s, and the channel's own (Shopify's THROTTLED)."""
        return self._http.throttled
