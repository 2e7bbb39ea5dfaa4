"""Kill points: named places in publishing and in order ingestion where a chaos trial's child
process kills itself with SIGKILL, as when a machine dies (no cleanup, no handler runs).

A kill point is a call the child makes, before or after it, and which occurrence of it:
`after:channel.publish#3` dies right after the third batch the channel applied, before the
ledger hears of it. The child wraps each instrumented function (the product's own modules
are not changed) and counts the calls across its threads. A census run (no kill) records
the sequence of points a clean run passes, from which a trial's seed picks one.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inventory_pipelines.channels.amazon import AmazonConnector
from inventory_pipelines.channels.generic import GenericChannelConnector
from inventory_pipelines.channels.shopify import ShopifyConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.ledger import circuits, fences, inbox, outbox, state
from inventory_pipelines.odoo.sales import OdooSales

PHASES = ("before", "after")

#: publishing: outbox written, batch marked sent, the channel's answer, the ledger's record
PUBLISH_POINTS: dict[str, tuple[Any, str]] = {
    "outbox.enqueue_round": (outbox, "enqueue_round"),
    "outbox.mark_sent": (outbox, "mark_sent"),
    "outbox.record_results": (outbox, "record_results"),
    "state.upsert_many": (state, "upsert_many"),
    "fences.record_drops": (fences, "record_drops"),
    "circuits.record_success": (circuits, "record_success"),
    **{
        f"channel.publish[{cls.__name__}]": (cls, "publish")
        for cls in (
            GenericChannelConnector,
            ShopifyConnector,
            WooCommerceConnector,
            AmazonConnector,
        )
    },
}

#: ingestion: the claim, every Odoo write and look-up, every ledger mark after it
INGEST_POINTS: dict[str, tuple[Any, str]] = {
    "inbox.claim": (inbox, "claim"),
    "odoo.find_order_by_ref": (OdooSales, "find_order_by_ref"),
    "odoo.create_order": (OdooSales, "create_order"),
    "inbox.record_mapping": (inbox, "record_mapping"),
    "odoo.confirm_order": (OdooSales, "confirm_order"),
    "inbox.mark_reserved": (inbox, "mark_reserved"),
    "odoo.cancel_order": (OdooSales, "cancel_order"),
    "inbox.release_pending": (inbox, "release_pending"),
    "inbox.complete": (inbox, "complete"),
    "inbox.release": (inbox, "release"),
}


@dataclass(frozen=True)
class KillPoint:
    """Die `phase` (before/after) the `occurrence`-th call of the point `name`."""

    phase: str
    name: str
    occurrence: int

    def __str__(self) -> str:
        return f"{self.phase}:{self.name}#{self.occurrence}"

    @classmethod
    def parse(cls, text: str) -> KillPoint:
        """Back from `str()`."""
        phase, rest = text.split(":", 1)
        name, occurrence = rest.rsplit("#", 1)
        return cls(phase, name, int(occurrence))


class KillSwitch:
    """Counts the calls of instrumented points; SIGKILLs this process at its kill point."""

    def __init__(self, kill_at: KillPoint | None = None, trace: Path | None = None) -> None:
        self.kill_at = kill_at
        self.trace_path = trace
        self.trace: list[str] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def hit(self, phase: str, name: str) -> None:
        """One pass of a point: recorded, and the end of the process when it is the one."""
        with self._lock:
            self._counts[(phase, name)] += 1
            self.trace.append(f"{phase}:{name}")
            target = self.kill_at
            if (
                target is not None
                and (target.phase, target.name) == (phase, name)
                and self._counts[(phase, name)] == target.occurrence
            ):
                os.kill(os.getpid(), signal.SIGKILL)

    def install(self, points: Mapping[str, tuple[Any, str]]) -> None:
        """Wrap each point's function (module attribute or class method) in this process."""
        for name, (owner, attribute) in points.items():
            setattr(owner, attribute, self._wrapped(name, getattr(owner, attribute)))

    def _wrapped(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(real)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.hit("before", name)
            result = real(*args, **kwargs)
            self.hit("after", name)
            return result

        return wrapper

    def finish(self) -> None:
        """Write the trace of a run that was not killed (the census), if asked for."""
        if self.trace_path is not None:
            self.trace_path.write_text(json.dumps(self.trace))


def census(trace: Path) -> list[str]:
    """The points a clean run passed, in order (`phase:name`)."""
    return list(json.loads(trace.read_text()))


def choose(trace: list[str], trial: int, rng: Any) -> KillPoint:
    """A kill point among those a clean run passed: the trial cycles through the distinct
    points (so every one is struck), the seed picks which occurrence of it."""
    distinct = sorted(set(trace))
    phase, name = distinct[trial % len(distinct)].split(":", 1)
    occurrences = trace.count(f"{phase}:{name}")
    return KillPoint(phase, name, rng.randint(1, occurrences))
