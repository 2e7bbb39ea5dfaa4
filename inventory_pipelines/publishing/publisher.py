"""Publishing a round of channel quantities exactly once (DESIGN.md section 7).

The outbox is written before anything is sent and acknowledged after, in the ledger; each batch
carries its idempotency key, so after a crash the same batch goes out again under the same key
and the channel ignores the repeat. Only quantities that differ from the last acknowledged one
are sent. Zero-outs go first, then decreases, and no increase of a round is sent to any channel
until every decrease of that round is acknowledged. A stale compare-and-set (the channel sold
units we have not ingested) is never overwritten: the target is lowered by what was sold and
sent again against the quantity the channel now shows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

import polars as pl
from sqlalchemy import Engine

from inventory_pipelines.channels.base import (
    ChannelConnector,
    ChannelError,
    ChannelThrottledError,
    QuantityUpdate,
    UpdateResult,
    UpdateStatus,
)
from inventory_pipelines.ledger import audit, outbox, state

# A batch whose request failed is retried this many times (with backoff) before it is
# dead-lettered and the channel's partition fails.
MAX_ATTEMPTS = 4
# Stale compares re-planned at most this many times in one round, per listing.
MAX_REPLANS = 3


@dataclass
class ChannelPlan:
    """What one channel should show: listing id -> (sku, quantity), and its connector."""

    channel: str
    connector: ChannelConnector
    targets: dict[str, tuple[str, int]]
    shown: Mapping[str, int] = field(default_factory=dict)  # catalog read, for unknown listings


@dataclass
class ChannelSummary:
    """What a publish did on one channel: the figures of the materialization metadata."""

    channel: str
    sent: int = 0
    unchanged: int = 0
    acknowledged: int = 0
    stale: int = 0
    replanned: int = 0
    failed: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    throttled: int = 0
    api_calls: int = 0
    batches: int = 0
    pending_left: int = 0
    ack_latency_s: list[float] = field(default_factory=list)
    prepare_s: float = 0.0  # from the round's start to this channel's first request
    send_s: float = 0.0  # from the first request to the end of the round
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        """Plain figures (latency as p50 / max seconds)."""
        latencies = sorted(self.ack_latency_s)
        return {
            "sent": self.sent,
            "unchanged": self.unchanged,
            "acknowledged": self.acknowledged,
            "stale": self.stale,
            "replanned": self.replanned,
            "failed": self.failed + self.rejected + self.dead_lettered,
            "dead_lettered": self.dead_lettered,
            "throttled": self.throttled,
            "api_calls": self.api_calls,
            "batches": self.batches,
            "pending_left": self.pending_left,
            "ack_latency_p50_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
            "ack_latency_max_s": round(latencies[-1], 3) if latencies else None,
            "prepare_s": round(self.prepare_s, 3),
            "send_s": round(self.send_s, 3),
        }


def plan_targets(allocation: pl.DataFrame, mapping: pl.DataFrame) -> dict[str, tuple[str, int]]:
    """Listing id -> (sku, publishable) for every mapped SKU of the channel's allocation."""
    joined = allocation.select("sku", "publishable").join(
        mapping.select("sku", "listing_id"), on="sku", how="inner"
    )
    return {
        listing: (sku, int(quantity))
        for sku, quantity, listing in joined.select("sku", "publishable", "listing_id").iter_rows()
    }


def enqueue(
    engine: Engine, plan: ChannelPlan, round_id: str, summary: ChannelSummary, cas: bool
) -> None:
    """Write the round's deltas to the outbox (delta-only: equal quantities are not sent)."""
    with engine.connect() as conn:
        acknowledged = state.last_acknowledged(conn, plan.channel)
        updates = []
        already_shown = []
        for listing_id, (sku, quantity) in plan.targets.items():
            previous = acknowledged.get(listing_id, plan.shown.get(listing_id))
            if previous == quantity:
                summary.unchanged += 1
                if listing_id not in acknowledged:
                    already_shown.append((listing_id, sku, quantity))
                continue
            updates.append(
                {
                    "listing_id": listing_id,
                    "sku": sku,
                    "quantity": quantity,
                    "expected": previous if cas else None,
                    "direction": outbox.direction_of(quantity, previous),
                }
            )
        if already_shown:
            # The catalog read shows the target already: that is as good as an acknowledgement,
            # and remembering it keeps the next round from sending it.
            now = audit.utcnow()
            state.upsert_many(
                conn,
                [
                    {
                        "channel": plan.channel,
                        "listing_id": listing_id,
                        "sku": sku,
                        "quantity": quantity,
                        "acknowledged_at": now,
                        "request_id": "catalog-read",
                    }
                    for listing_id, sku, quantity in already_shown
                ],
            )
        outbox.enqueue_round(conn, plan.channel, round_id, updates, correlation_id=round_id)


def _send(
    engine: Engine,
    connector: ChannelConnector,
    batch: outbox.Batch,
    summary: ChannelSummary,
    sleep: Callable[[float], None],
) -> list[UpdateResult] | None:
    """Send one batch; None when the request failed (then retried or dead-lettered)."""
    with engine.connect() as conn:
        if outbox.mark_sent(conn, batch.batch_key) == 0:
            return None
    updates = [QuantityUpdate(i.listing_id, i.sku, i.quantity, i.expected) for i in batch.items]
    started = time.monotonic()
    try:
        results = connector.publish(updates, batch.batch_key)
    except ChannelError as exc:
        with engine.connect() as conn:
            status = outbox.retry_or_dead_letter(
                conn, batch.batch_key, f"{type(exc).__name__}: {exc}", MAX_ATTEMPTS
            )
        with summary.lock:
            summary.throttled += isinstance(exc, ChannelThrottledError)
            summary.dead_lettered += len(batch.items) if status == "dead" else 0
        if status != "dead":
            sleep(min(8.0, 0.5 * 2**batch.attempts))
        return None
    elapsed = time.monotonic() - started
    with engine.connect() as conn:
        counts = outbox.record_results(
            conn,
            batch.batch_key,
            [(r.listing_id, r.status.value, r.quantity, r.error, r.request_id) for r in results],
            max_attempts=MAX_ATTEMPTS,
        )
    acknowledged = sum(r.status is UpdateStatus.ACKNOWLEDGED for r in results)
    with summary.lock:
        summary.batches += 1
        summary.sent += len(updates)
        summary.ack_latency_s += [elapsed] * acknowledged
        summary.acknowledged += counts.get("acknowledged", 0)
        summary.stale += counts.get("stale", 0)
        summary.rejected += counts.get("rejected", 0)
        summary.failed += counts.get("failed", 0)
        summary.dead_lettered += counts.get("dead", 0)
    return results


def _replan_stale(
    engine: Engine,
    plan: ChannelPlan,
    batch: outbox.Batch,
    results: Iterable[UpdateResult],
    round_id: str,
    replans: dict[str, int],
    summary: ChannelSummary,
) -> None:
    """Lower each stale target by what the channel sold meanwhile; send it against what it shows.

    Overwriting would resurrect sold units: the channel's lower number is the truth until the
    order is ingested and the allocation recomputed.
    """
    sent = {i.listing_id: i for i in batch.items}
    updates = []
    for result in results:
        if result.status is not UpdateStatus.STALE or result.quantity is None:
            continue
        item = sent[result.listing_id]
        if replans.get(item.listing_id, 0) >= MAX_REPLANS:
            continue
        replans[item.listing_id] = replans.get(item.listing_id, 0) + 1
        believed = item.expected if item.expected is not None else result.quantity
        sold = max(0, believed - result.quantity)
        target = max(0, item.quantity - sold)
        plan.targets[item.listing_id] = (item.sku, target)
        if target == result.quantity:
            continue  # the channel already shows the right number
        updates.append(
            {
                "listing_id": item.listing_id,
                "sku": item.sku,
                "quantity": target,
                "expected": result.quantity,
                "direction": outbox.direction_of(target, result.quantity),
            }
        )
    if updates:
        summary.replanned += len(updates)
        sub_round = f"{round_id}:replan:{max(replans.values())}"
        with engine.connect() as conn:
            outbox.enqueue_round(conn, plan.channel, sub_round, updates, correlation_id=round_id)


def _batch_size(engine: Engine, connector: ChannelConnector, channel: str) -> int:
    """The channel's batch size, or its bulk size when enough updates wait (Amazon feeds)."""
    limits = connector.limits()
    if limits.bulk_batch and limits.bulk_threshold is not None:
        with engine.connect() as conn:
            if outbox.count_waiting(conn, channel) >= limits.bulk_threshold:
                return limits.bulk_batch
    return limits.max_batch


def publish_round(
    engine: Engine,
    plans: Sequence[ChannelPlan],
    round_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_passes: int = 50,
    increases: bool = True,
) -> dict[str, ChannelSummary]:
    """Publish one round to every channel in `plans` and return a summary per channel.

    Work left in the outbox by an earlier crashed round is sent first, under its own keys.
    Decreases of all channels go before any increase (the ledger holds increases back). With
    `increases=False` only zero-outs and decreases are sent; the increases wait in the outbox
    for the next round: how several channels published in separate runs still send every
    decrease before any increase.
    """
    started = time.monotonic()
    first_send: dict[str, float] = {}
    summaries = {p.channel: ChannelSummary(p.channel) for p in plans}
    calls_before = {p.channel: getattr(p.connector, "api_calls", 0) for p in plans}
    throttled_before = {p.channel: getattr(p.connector, "throttled", 0) for p in plans}
    for plan in plans:
        cas = plan.connector.limits().compare_and_set
        enqueue(engine, plan, round_id, summaries[plan.channel], cas)
    replans: dict[str, dict[str, int]] = {p.channel: {} for p in plans}
    pools = {
        p.channel: ThreadPoolExecutor(workers, thread_name_prefix=f"publish-{p.channel}")
        for p in plans
        if (workers := max(1, p.connector.limits().concurrency)) > 1
    }
    try:
        for _ in range(max_passes):
            progressed = False
            for plan in plans:
                limit = _batch_size(engine, plan.connector, plan.channel)
                with engine.connect() as conn:
                    batches = outbox.pending_batches(conn, plan.channel, limit)
                sendable = [b for b in batches if increases or b.direction != "increase"]
                summary = summaries[plan.channel]
                # batches of one round and direction are independent: several may be in flight
                # (the connector's pacing keeps the rate); the next group waits for this one
                for _, group in groupby(sendable, key=lambda b: (b.round_id, b.direction)):
                    batch_group = list(group)
                    first_send.setdefault(plan.channel, time.monotonic())
                    pool = pools.get(plan.channel)

                    def send(batch: outbox.Batch, plan: ChannelPlan = plan) -> object:
                        return _send(engine, plan.connector, batch, summaries[plan.channel], sleep)

                    if pool is None or len(batch_group) == 1:
                        answers = [send(b) for b in batch_group]
                    else:
                        answers = list(pool.map(send, batch_group))
                    progressed = progressed or bool(batch_group)
                    for batch, results in zip(batch_group, answers, strict=True):
                        if results:
                            _replan_stale(
                                engine,
                                plan,
                                batch,
                                results,
                                round_id,
                                replans[plan.channel],
                                summary,
                            )
            if not progressed:
                break
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True)
    finished = time.monotonic()
    with engine.connect() as conn:
        for plan in plans:
            summary = summaries[plan.channel]
            began = first_send.get(plan.channel, finished)
            summary.prepare_s, summary.send_s = began - started, finished - began
            summary.pending_left = outbox.count_waiting(conn, plan.channel, increases=increases)
            summary.api_calls = getattr(plan.connector, "api_calls", 0) - calls_before[plan.channel]
            summary.throttled = max(
                summary.throttled,
                getattr(plan.connector, "throttled", 0) - throttled_before[plan.channel],
            )
    return summaries
