"""Retries with jittered exponential backoff and a circuit breaker, independent of HTTP.

A call is one attempt-function that raises the client's typed errors; `Resilience.call` decides
whether a failure is worth another attempt, how long to wait, and whether Odoo looks down
enough that no request should be sent at all. Clock, sleep and randomness are injected so that
tests run in microseconds.
"""

from __future__ import annotations

import enum
import logging
import random as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from inventory_pipelines.odoo.errors import (
    OdooCircuitOpenError,
    OdooError,
    OdooUnavailableError,
)

__all__ = [
    "READ_METHODS",
    "BreakerState",
    "CircuitBreaker",
    "Resilience",
    "RetryPolicy",
    "is_idempotent",
]

_logger = logging.getLogger(__name__)

T = TypeVar("T")

# Methods that change nothing on the server, so sending them twice is harmless. Everything
# else (create, write, unlink, action_*, button_*, message_post, ...) is treated as a write:
# an allow-list fails safe when a caller uses a method nobody thought of.
READ_METHODS: frozenset[str] = frozenset(
    {
        "authenticate",
        "check_access",
        "check_access_rights",
        "context_get",
        "default_get",
        "fields_get",
        "formatted_read_group",
        "has_access",
        "has_group",
        "login",
        "name_get",
        "name_search",
        "read",
        "read_group",
        "search",
        "search_count",
        "search_fetch",
        "search_read",
        "version",
        "web_read",
        "web_search_read",
    }
)


def is_idempotent(method: str) -> bool:
    """Whether `method` only reads, so that it may be retried after reaching the server."""
    return method in READ_METHODS


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a call gets and how long to wait between them."""

    max_attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_initial_s < 0 or self.backoff_max_s < 0:
            raise ValueError("backoff durations must not be negative")

    def backoff_s(self, attempt: int, random: Callable[[], float]) -> float:
        """The wait after failed attempt number `attempt` (1-based): full jitter, capped.

        Full jitter (uniform between 0 and the exponential ceiling) spreads the retries of
        many workers hit by the same outage instead of sending them back in waves.
        """
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (attempt - 1))
        return ceiling * random()


class BreakerState(enum.StrEnum):
    """The states of the circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calls to a server that keeps failing, then lets one probe through to test it.

    Closed: calls go through; `failure_threshold` consecutive transient failures open it.
    Open: calls are refused until `reset_s` has passed, then it turns half-open.
    Half-open: exactly one probe call goes through; its success closes the breaker, its
    failure opens it for another `reset_s`. Thread-safe.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state, turning open into half-open once `reset_s` has passed."""
        with self._lock:
            self._refresh()
            return self._state

    def seconds_until_probe(self) -> float:
        """How long until an open breaker lets a probe through (0 when not open)."""
        with self._lock:
            if self._state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self._opened_at + self.reset_s - self._clock())

    def allow(self) -> bool:
        """Whether a call may be sent now; in half-open state this claims the single probe."""
        with self._lock:
            self._refresh()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        """The server answered (even with a business error): close the breaker."""
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                _logger.info("Odoo circuit breaker closed: the server answers again")
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._probe_in_flight = False

    def record_failure(self) -> None:
        """A transient failure: count it, and open the breaker at the threshold."""
        with self._lock:
            self._probe_in_flight = False
            self._failures += 1
            # Calls already in flight when the breaker opened must not push its reset back.
            if self._state is BreakerState.OPEN:
                return
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                _logger.warning(
                    "Odoo circuit breaker opened after %d consecutive transient failures; "
                    "no request for %.1fs",
                    self._failures,
                    self.reset_s,
                )
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()

    def release(self) -> None:
        """The call ended without telling anything about the server: free the probe slot."""
        with self._lock:
            self._probe_in_flight = False

    def _refresh(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_s:
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False


class Resilience:
    """Runs calls with retries on transient failures, behind a circuit breaker."""

    def __init__(
        self,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        *,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.policy = policy
        self.breaker = breaker
        self._sleep = sleep
        self._random = random

    def call(self, attempt_fn: Callable[[], T], *, model: str, method: str, idempotent: bool) -> T:
        """Run `attempt_fn` until it succeeds, fails for good, or the retry budget is spent.

        Only `OdooUnavailableError` is retried. A non-idempotent call is retried only when
        the failed attempt certainly never reached the server (`request_sent` is False).
        While the breaker is open, raises `OdooCircuitOpenError` without calling `attempt_fn`.
        """
        attempt = 0
        while True:
            attempt += 1
            if not self.breaker.allow():
                raise OdooCircuitOpenError(
                    "Odoo looks unavailable (circuit breaker open); next probe in "
                    f"{self.breaker.seconds_until_probe():.1f}s",
                    model=model,
                    method=method,
                )
            try:
                result = attempt_fn()
            except OdooUnavailableError as err:
                self.breaker.record_failure()
                delay = self._retry_delay(err, attempt, idempotent)
                if delay is None or self.breaker.state is BreakerState.OPEN:
                    raise
                _logger.warning(
                    "Odoo %s.%s failed on attempt %d/%d (%s: %s); retrying in %.2fs",
                    model,
                    method,
                    attempt,
                    self.policy.max_attempts,
                    type(err).__name__,
                    err.message,
                    delay,
                )
                self._sleep(delay)
            except OdooError:
                # Odoo answered, with an error of the caller's making: the server is healthy.
                self.breaker.record_success()
                raise
            except BaseException:
                self.breaker.release()
                raise
            else:
                self.breaker.record_success()
                return result

    def _retry_delay(
        self, err: OdooUnavailableError, attempt: int, idempotent: bool
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when there must be none."""
        if attempt >= self.policy.max_attempts:
            return None
        if not idempotent and err.request_sent:
            return None
        delay = self.policy.backoff_s(attempt, self._random)
        if err.retry_after is not None:
            # A server asking for more patience than our longest backoff is better left alone:
            # give the failure back to the caller (and its scheduler) rather than block.
            if err.retry_after > self.policy.backoff_max_s:
                return None
            delay = max(delay, err.retry_after)
        return delay
