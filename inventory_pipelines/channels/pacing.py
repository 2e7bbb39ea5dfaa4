"""Client-side pacing: a token bucket per channel operation, driven by the channel's signals.

Every HTTP connector paces itself below the limit the channel declares, so a long publish
meets almost no 429; when one comes anyway (another app shares the quota, the host's limit
is lower than configured), the pace halves and recovers step by step on success.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["DEFAULT_MARGIN", "Pacer"]

#: the share of the declared rate a pacer uses: requests reach the channel later than they
#: leave, with jitter, and a bucket paced exactly like the channel's would meet an empty one
#: there now and then
DEFAULT_MARGIN = 0.95


class Pacer:
    """A local token bucket for one operation, slowed down by 429s and recovering on success.

    Tokens may go into debt: :meth:`acquire` takes one and sleeps off the debt, so pacing
    holds whatever the sleep function does. It keeps one token of headroom (``burst - 1``)
    and refills at ``margin`` times the rate (:data:`DEFAULT_MARGIN`).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self.nominal_rate = float(rate)
        self.margin = float(margin)
        self.rate = float(rate)
        self.burst = max(1, int(burst) - 1)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()  # several batches may be in flight on one connector

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(
            float(self.burst), self._tokens + (now - self._stamp) * self.rate * self.margin
        )
        self._stamp = now

    def acquire(self) -> None:
        """Take one token, sleeping until it is due (outside the lock: others queue behind)."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            wait = -self._tokens / (self.rate * self.margin) if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)

    def throttled(self) -> None:
        """The channel said 429: halve the rate (down to 1/16 of nominal) and empty the bucket."""
        with self._lock:
            self.rate = max(self.nominal_rate / 16, self.rate / 2)
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    def observe_limit(self, rate: float) -> None:
        """The channel's own ``x-amzn-RateLimit-Limit``: it becomes the nominal rate."""
        if rate > 0:
            with self._lock:
                self.nominal_rate = rate
                self.rate = min(self.rate, rate)

    def succeeded(self) -> None:
        """An answer that was not a 429: recover a twentieth of the nominal rate."""
        with self._lock:
            self.rate = min(self.nominal_rate, self.rate + self.nominal_rate / 20)
