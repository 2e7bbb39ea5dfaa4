"""Simulated time: a virtual clock, and the product's parallel sends run as lanes of it.

Nothing in a simulation sleeps. Every wait the product makes (a connector's pacing, a
`Retry-After`, the publisher's backoff) is given :meth:`VirtualClock.sleep`, which moves the
clock; every request a connector sends moves it by the request's round trip. The ledger's
timestamps (`ledger.audit.utcnow`) read the same clock while a simulation runs, so the
fences, the pending ledger, leases and circuit breakers see simulated time too.

`publish_round` sends to the channels in parallel threads, and a virtual clock shared by
threads would make a run depend on how the threads were scheduled. While a simulation runs,
its thread pools are replaced by :class:`LaneExecutor`: the tasks of one `map` run one after
the other, each in its own *lane* that starts at the instant the `map` began, and the clock
then stands at the latest lane's end. That is what parallel channels do in real time (each
channel's sends take their own time; the round goes on when the slowest is done), with one
deterministic order of execution. Each channel's sales are only applied by its own lane (see
`world.py`), so lanes do not see each other's future.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from inventory_pipelines.ledger import audit
from inventory_pipelines.publishing import publisher

#: the simulated day starts here (any fixed moment would do; runs must not depend on today)
EPOCH = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)


class VirtualClock:
    """Seconds since the simulation began; moved by the simulation, never by the wall clock."""

    def __init__(self, epoch: dt.datetime = EPOCH) -> None:
        self.epoch = epoch
        self.now = 0.0

    def monotonic(self) -> float:
        """The clock as a connector's `clock` (seconds, monotonic within a lane)."""
        return self.now

    def wall(self) -> float:
        """The clock as POSIX seconds (a connector's wall `clock`)."""
        return self.epoch.timestamp() + self.now

    def sleep(self, seconds: float) -> None:
        """A wait: the clock jumps, nothing sleeps."""
        if seconds > 0:
            self.now += seconds

    advance = sleep

    def at(self, seconds: float) -> dt.datetime:
        """The datetime `seconds` after the epoch."""
        return self.epoch + dt.timedelta(seconds=seconds)

    def datetime(self) -> dt.datetime:
        """Now as an aware UTC datetime (what the ledger stamps)."""
        return self.at(self.now)


class LaneExecutor:
    """A stand-in for `ThreadPoolExecutor` whose `map` runs each task in a lane of simulated
    time that starts when the `map` starts; the clock ends at the latest lane's end."""

    clock: VirtualClock  # set by `simulated_time`

    def __init__(self, max_workers: int | None = None, thread_name_prefix: str = "") -> None:
        self.max_workers = max_workers

    def __enter__(self) -> LaneExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        """Run `fn` over the arguments, one lane each; results in order."""
        start = self.clock.now
        ends = []
        results = []
        for args in zip(*iterables, strict=False):
            self.clock.now = start
            results.append(fn(*args))
            ends.append(self.clock.now)
        self.clock.now = max(ends, default=start)
        return iter(results)


@contextmanager
def simulated_time(clock: VirtualClock) -> Iterator[VirtualClock]:
    """While inside: the ledger's clock is `clock` and the publisher's pools run as lanes."""
    lanes = type("Lanes", (LaneExecutor,), {"clock": clock})
    with (
        mock.patch.object(audit, "utcnow", clock.datetime),
        mock.patch.object(publisher, "ThreadPoolExecutor", lanes),
    ):
        yield clock
