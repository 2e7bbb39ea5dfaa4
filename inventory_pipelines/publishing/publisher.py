"""Publishing a round of channel quantities exactly once (DESIGN.md section 7).

The outbox is written before anything is sent and acknowledged after, in the ledger; each batch
carries its idempotency key, so after a crash the same batch goes out again under the same key
and the channel ignores the repeat. Each channel's plan is made against what it shows: its
read-back where that is newer than the ledger's last acknowledgement (an edit made on the
channel is corrected, and audited), else the acknowledgement; only quantities that differ from
it are sent. Zero-outs go first, then decreases, and no increase of a round is sent to any channel
until every decrease of that round is acknowledged. A stale compare-and-set (the channel sold
units we have not ingested) is never overwritten: the target is lowered by what was sold and
sent again against the quantity the channel now shows.

Every path that publishes (a Dagster run, `inventory-sync sync`, a fast run in the webhook
receiver, an emergency stop) goes through `publish_round`, which holds each channel's publish
lease in the ledger for the round (`ledger/leases.py`: one publisher per channel at a time,
across processes and machines) and respects each channel's circuit breaker there
(`ledger/circuits.py`: a channel that keeps failing is left alone until its cool-down ends,
and what waits for it stays in the outbox).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from inventory_pipelines.channels.base import (
    ChannelAuthError,
    ChannelConnector,
    ChannelError,
    ChannelJobUnknownError,
    ChannelThrottledError,
    ChannelUnavailableError,
    QuantityUpdate,
    UpdateResult,
    UpdateStatus,
)
from inventory_pipelines.ledger import audit, circuits, fences, jobs, leases, outbox, state

log = logging.getLogger(__name__)

# A batch whose request failed is retried this many times (with backoff) before it is
# dead-lettered and the channel's partition fails.
MAX_ATTEMPTS = 4
# Stale compares re-planned at most this many times in one round, per listing.
MAX_REPLANS = 3


@dataclass
class ChannelPlan:
    """What one channel should show (listing id -> (sku, quantity)), and its connector.

    `shown` is the channel's read-back (listing id -> quantity it shows) taken at `shown_at`:
    where it is newer than the ledger's last acknowledgement it is what the channel shows, and
    the plan is made against it (an edit made on the channel is corrected). Without
    `shown_at` the read-back only stands in for listings the ledger has never heard of.
    """

    channel: str
    connector: ChannelConnector
    targets: dict[str, tuple[str, int]]
    shown: Mapping[str, int] = field(default_factory=dict)
    shown_at: datetime | None = None
    #: base units in one channel unit (a pack channel's `uom.units`): quantities here are in
    #: channel units, the ledger's sales and drops in base units
    units_per_item: float = 1.0
    #: when the allocation read the ledger's pending units, sales and drops the targets were
    #: computed from: a stale target is lowered by what the allocation would count more had it
    #: known the drop (`fences.unheard_rise`); None: by the whole drop
    ledger_read_at: datetime | None = None
    #: the oldest fence epoch (its start) the targets were allocated under (None: not known)
    fence_epoch: datetime | None = None
    #: the targets are the channel's whole catalog (not a run over a SKU subset): a round that
    #: leaves none of its decreases waiting settles the channel under new fence shares
    whole: bool = False

    def to_channel_units(self, base_units: int) -> int:
        """Base units as whole channel units (the channel sells whole ones)."""
        return round(base_units / self.units_per_item)

    def to_base_units(self, channel_units: int) -> int:
        """Channel units as base units."""
        return round(channel_units * self.units_per_item)


@dataclass
class ChannelSummary:
    """What a publish did on one channel: the figures of the materialization metadata."""

    channel: str
    sent: int = 0
    unchanged: int = 0
    channel_edits: int = 0
    acknowledged: int = 0
    stale: int = 0
    replanned: int = 0
    failed: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    jobs_settled: int = 0
    jobs_open: int = 0
    throttled: int = 0
    api_calls: int = 0
    batches: int = 0
    pending_left: int = 0
    #: increases this round did not plan, and the fenced channels that hold them (they have not
    #: published their whole catalog since the shares changed: see `fences.unsettled`)
    increases_held: int = 0
    held_for: list[str] = field(default_factory=list)
    ack_latency_s: list[float] = field(default_factory=list)
    prepare_s: float = 0.0  # from the round's start to this channel's first request
    send_s: float = 0.0  # from the first request to the end of the round
    #: the channel's circuit when the round left it open (None: closed, or never checked)
    circuit: circuits.Circuit | None = None
    circuit_clean: bool = True  # closed with no failure counted: a success resets nothing
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        """Plain figures (latency as p50 / max seconds)."""
        latencies = sorted(self.ack_latency_s)
        return {
            "sent": self.sent,
            "unchanged": self.unchanged,
            "channel_edits": self.channel_edits,
            "acknowledged": self.acknowledged,
            "stale": self.stale,
            "replanned": self.replanned,
            "failed": self.failed + self.rejected + self.dead_lettered,
            "dead_lettered": self.dead_lettered,
            "jobs_settled": self.jobs_settled,
            "jobs_open": self.jobs_open,
            "throttled": self.throttled,
            "api_calls": self.api_calls,
            "batches": self.batches,
            "pending_left": self.pending_left,
            "increases_held": self.increases_held,
            "ack_latency_p50_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
            "ack_latency_max_s": round(latencies[-1], 3) if latencies else None,
            "prepare_s": round(self.prepare_s, 3),
            "send_s": round(self.send_s, 3),
            "circuit_open": int(self.circuit is not None and self.circuit.state != "closed"),
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


def _believed(
    plan: ChannelPlan, acknowledged: Mapping[str, tuple[int, datetime]]
) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """What the channel shows per listing, and the edits made on the channel behind our back.

    The newer of the read-back and the last acknowledgement wins: the ledger's belief never
    outranks the channel's own later answer. An edit is a listing whose read-back, newer than
    its acknowledgement, differs from it: listing id -> (acknowledged, shown).
    """
    believed = {listing: quantity for listing, (quantity, _) in acknowledged.items()}
    edits: dict[str, tuple[int, int]] = {}
    for listing_id, quantity in plan.shown.items():
        if quantity is None:
            continue  # the channel does not track this listing's quantity: nothing to learn
        known = acknowledged.get(listing_id)
        if known is None:
            believed[listing_id] = int(quantity)
        elif plan.shown_at is not None and plan.shown_at >= known[1]:
            believed[listing_id] = int(quantity)
            if int(quantity) != known[0]:
                edits[listing_id] = (known[0], int(quantity))
    return believed, edits


def _not_explained_by_sales(
    conn: Connection,
    plan: ChannelPlan,
    acknowledged: Mapping[str, tuple[int, datetime]],
    edits: Mapping[str, tuple[int, int]],
) -> dict[str, tuple[int, int]]:
    """The edits that the channel's own orders since our acknowledgement do not explain: a
    listing that shows what we set less what it sold since is not an edit, just sales."""
    if not edits:
        return {}
    skus = {listing: plan.targets[listing][0] for listing in edits if listing in plan.targets}
    since: dict[str, datetime] = {}
    for listing, sku in skus.items():
        at = acknowledged[listing][1]
        since[sku] = min(at, since.get(sku, at))
    sold = fences.sold_after(conn, plan.channel, since)  # base units
    return {
        listing: (before, shown)
        for listing, (before, shown) in edits.items()
        if listing not in skus
        or shown != before - plan.to_channel_units(sold.get(skus[listing], 0))
    }


def _sold_since_acknowledged(
    conn: Connection,
    plan: ChannelPlan,
    acknowledged: Mapping[str, tuple[int, datetime]],
    believed: Mapping[str, int],
) -> set[str]:
    """The listings whose target (above 0) equals what we believe the channel shows, of a SKU
    the ledger heard a sale of on the channel after that belief was formed (our
    acknowledgement, or a newer read-back)."""
    since: dict[str, datetime] = {}
    for listing, (_, quantity) in plan.targets.items():
        if quantity <= 0 or believed.get(listing) != quantity or listing not in acknowledged:
            continue
        at = acknowledged[listing][1]
        if plan.shown_at is not None and plan.shown.get(listing) is not None:
            at = max(at, plan.shown_at)  # a read-back (an edit's included) newer than it
        since[listing] = at
    if not since:
        return set()
    skus = {plan.targets[listing][0] for listing in since}
    heard = fences.last_sale_heard(conn, plan.channel, skus if len(skus) <= 500 else None)
    return {
        listing
        for listing, at in since.items()
        if (sku := plan.targets[listing][0]) in heard and heard[sku] > at
    }


def enqueue(
    engine: Engine,
    plan: ChannelPlan,
    round_id: str,
    summary: ChannelSummary,
    cas: bool,
    *,
    hold_increases: bool = False,
) -> None:
    """Write the round's deltas to the outbox, planned against what the channel shows.

    Delta only: a target equal to what the channel shows is not sent. Listings the read-back
    shows differently from the ledger's belief are recorded as channel-side edits (audit log,
    both quantities) and the ledger's belief is corrected before anything is planned.

    A listing that sold since our last acknowledgement shows less than it, so on a channel
    that takes absolute quantities a target equal to the acknowledgement is sent again (unless
    0): it is the allocation's figure, which counts the sale, and sending it is as safe as
    sending any changed target. Not with compare-and-set: sending it against the
    acknowledgement and re-planning on the stale answer oversold a unit in about one order
    storm in four (the cause is not found); such a listing waits for its next change.

    With `hold_increases` (fenced channels outside the round still show their old shares) no
    increase is planned: it is counted in the summary, and its listing's older waiting rows
    are superseded as for a listing left as it is; a later round plans it again.
    """
    with engine.connect() as conn:
        acknowledged = state.acknowledged_with_time(conn, plan.channel)
        believed, changed = _believed(plan, acknowledged)
        edits = _not_explained_by_sales(conn, plan, acknowledged, changed)
        sold_since = set() if cas else _sold_since_acknowledged(conn, plan, acknowledged, believed)
        updates, held = [], []
        for listing_id, (sku, quantity) in plan.targets.items():
            previous = believed.get(listing_id)
            if previous == quantity and listing_id not in sold_since:
                summary.unchanged += 1
                continue
            direction = outbox.direction_of(quantity, previous)
            if hold_increases and direction == "increase":
                held.append(listing_id)
                continue
            updates.append(
                {
                    "listing_id": listing_id,
                    "sku": sku,
                    "quantity": quantity,
                    "expected": previous if cas else None,
                    "direction": direction,
                }
            )
        summary.increases_held += len(held)
        # What the read-back shows and the ledger did not know (or knew differently) is as
        # good as an acknowledgement for the listings this round leaves as they are: remember
        # it, so the next round compares against it (an update's answer records the rest).
        sending = {u["listing_id"] for u in updates}
        learned = [
            (listing_id, plan.targets[listing_id][0], quantity)
            for listing_id, quantity in plan.shown.items()
            if quantity is not None
            and listing_id in plan.targets
            and listing_id not in sending
            and (listing_id not in acknowledged or listing_id in changed)
        ]
        _remember_read_back(conn, plan, learned, edits, round_id)
        summary.channel_edits += len(edits)
        outbox.enqueue_round(
            conn,
            plan.channel,
            round_id,
            updates,
            correlation_id=round_id,
            planned=[x for x in plan.targets if believed.get(x) == plan.targets[x][1]] + held,
        )


def _remember_read_back(
    conn: Connection,
    plan: ChannelPlan,
    learned: Sequence[tuple[str, str, int]],
    edits: Mapping[str, tuple[int, int]],
    round_id: str,
) -> None:
    """Record what the read-back taught: the published state of the listings left as they are,
    and an audit row per edit (corrected by this round or not)."""
    if not learned and not edits:
        return
    now = audit.utcnow()
    read_at = plan.shown_at.isoformat() if plan.shown_at else None
    state.upsert_many(
        conn,
        [
            {
                "channel": plan.channel,
                "listing_id": listing_id,
                "sku": sku,
                "quantity": int(quantity),
                "acknowledged_at": plan.shown_at or now,
                "request_id": "read-back",
            }
            for listing_id, sku, quantity in learned
        ],
    )
    audit.record_many(
        conn,
        [
            {
                "actor": "publisher",
                "source": plan.channel,
                "action": "publish.channel_edit",
                "entity": f"published_state/{plan.channel}/{listing_id}",
                "before": {"quantity": edits[listing_id][0]},
                "after": {
                    "quantity": edits[listing_id][1],
                    "read_at": read_at,
                    "target": plan.targets.get(listing_id, (None, None))[1],
                },
                "correlation_id": round_id,
                "at": now,
            }
            for listing_id in edits
        ],
    )


def _send(
    engine: Engine,
    connector: ChannelConnector,
    batch: outbox.Batch,
    summary: ChannelSummary,
    sleep: Callable[[float], None],
    held: leases.Leases,
) -> list[UpdateResult] | None:
    """Send one batch; None when the request failed (then retried or dead-lettered) or was not
    sent (the channel's circuit opened meanwhile)."""
    if summary.circuit is not None:
        return None  # the circuit opened on another batch of this group: this one waits
    held.renew(batch.channel)
    with engine.connect() as conn:
        if outbox.mark_sent(conn, batch.batch_key) == 0:
            return None
    updates = [QuantityUpdate(i.listing_id, i.sku, i.quantity, i.expected) for i in batch.items]
    started = time.monotonic()
    try:
        results = connector.publish(updates, batch.batch_key)
    except ChannelError as exc:
        error = f"{type(exc).__name__}: {exc}"
        circuit = None
        with engine.connect() as conn:
            status = outbox.retry_or_dead_letter(conn, batch.batch_key, error, MAX_ATTEMPTS)
            if isinstance(exc, ChannelUnavailableError | ChannelAuthError):
                circuit = circuits.record_failure(conn, batch.channel, error)
        with summary.lock:
            summary.throttled += isinstance(exc, ChannelThrottledError)
            summary.dead_lettered += len(batch.items) if status == "dead" else 0
            if circuit is not None:
                summary.circuit_clean = False
                if not circuit.allows:
                    summary.circuit = circuit
        if circuit is not None and not circuit.allows:
            log.warning("%s: circuit opened, nothing more is sent: %s", batch.channel,
                        circuit.describe())  # fmt: skip
        elif status != "dead":
            sleep(min(8.0, 0.5 * 2**batch.attempts))
        return None
    elapsed = time.monotonic() - started
    if not summary.circuit_clean:
        with engine.connect() as conn:
            circuits.record_success(conn, batch.channel)
        with summary.lock:
            summary.circuit_clean = True
    with engine.connect() as conn:
        try:
            counts = outbox.record_results(
                conn, batch.batch_key, _answers(results), max_attempts=MAX_ATTEMPTS
            )
        except outbox.OutboxError:
            # superseded while in flight (a newer plan for its listings, from another run):
            # the newer rows are what counts, and they are sent against what the channel shows
            return None
        jobs.settle_batch(conn, batch.channel, batch.batch_key, _outcome(counts))
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


def _answers(results: Iterable[UpdateResult]) -> list[outbox.ResultTuple]:
    return [(r.listing_id, r.status.value, r.quantity, r.error, r.request_id) for r in results]


def _outcome(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def _track_jobs(engine: Engine, channel: str) -> Callable[[str, str], None]:
    """The connector's `on_job_submitted`: record each accepted job in the ledger at once."""

    def submitted(batch_key: str, job_id: str) -> None:
        with engine.connect() as conn:
            jobs.record(conn, channel, batch_key, job_id)

    return submitted


def settle_jobs(engine: Engine, plan: ChannelPlan, summary: ChannelSummary) -> set[str]:
    """Settle the channel's open jobs (feeds a crashed run left at the channel) before anything
    newer is planned for their listings; return the listings of jobs still unfinished.

    A job the channel has not started is withdrawn (its listings are planned again from what the
    channel shows); one it has started or finished is awaited and its outcome recorded, as if
    the crashed run had read it. Until that outcome is known, its listings are left out of the
    round: a newer quantity sent now could be overwritten when the job is processed. A job the
    channel does not know (gone from its records) will never be processed: it is withdrawn. A
    job that cannot be asked about now (the channel fails) stays open and is asked next round;
    the rest of the channel goes on.
    """
    with engine.connect() as conn:
        open_jobs = jobs.open_jobs(conn, plan.channel)
    unfinished: set[str] = set()
    for job in open_jobs:
        try:
            settled = _settle_job(engine, plan, job)
        except ChannelJobUnknownError as exc:
            with engine.connect() as conn:
                outbox.withdraw_batch(conn, job.batch_key, f"job {job.job_id} unknown: {exc}")
                jobs.settle(conn, plan.channel, job.job_id, f"unknown: {exc}", status="cancelled")
            settled = True
        except ChannelError as exc:
            log.warning("%s: job %s not settled this round: %s", plan.channel, job.job_id, exc)
            settled = False
        if settled:
            summary.jobs_settled += 1
        else:
            unfinished.update(job.listing_ids)
            summary.jobs_open += 1
    return unfinished


def _settle_job(engine: Engine, plan: ChannelPlan, job: jobs.OpenJob) -> bool:
    """Withdraw a job or record its outcome; False while the channel is still processing it."""
    if plan.connector.cancel_job(job.job_id):
        with engine.connect() as conn:
            reason = f"job {job.job_id} cancelled"
            withdrawn = outbox.withdraw_batch(conn, job.batch_key, reason)
            jobs.settle(
                conn, plan.channel, job.job_id, f"{withdrawn} withdrawn", status="cancelled"
            )
        return True
    with engine.connect() as conn:
        items = outbox.batch_items(conn, job.batch_key)
    updates = [QuantityUpdate(i.listing_id, i.sku, i.quantity, i.expected) for i in items]
    results = plan.connector.job_outcome(job.job_id, updates, job.batch_key)
    if results is None:
        return False
    with engine.connect() as conn:
        if items:
            counts = outbox.record_results(
                conn, job.batch_key, _answers(results), max_attempts=MAX_ATTEMPTS
            )
            outcome = _outcome(counts)
        else:
            # its rows were answered otherwise (dead-lettered): the job is over all the same,
            # and the next full publish plans its listings from what the channel shows
            outcome = "processed; its rows were answered already"
        jobs.settle(conn, plan.channel, job.job_id, outcome)
    return True


def _unheard_rise(
    engine: Engine, plan: ChannelPlan, stale: Sequence[tuple[outbox.BatchItem, UpdateResult]]
) -> dict[str, int] | None:
    """SKU -> base units a stale answer adds to what the allocation counts as the channel's
    unheard sales, against the ledger as the targets were computed (`fences.unheard_rise`);
    None when unknown (no `ledger_read_at`, fences based anew or drops reset since, or two
    listings of one SKU answered stale): the whole drop comes off then."""
    if plan.ledger_read_at is None or not stale:
        return None
    drops: dict[str, int] = {}
    for item, result in stale:
        if item.sku in drops:
            return None
        believed = item.expected if item.expected is not None else result.quantity
        drops[item.sku] = plan.to_base_units(max(0, believed - result.quantity))
    with engine.connect() as conn:
        return fences.unheard_rise(conn, plan.channel, drops, plan.ledger_read_at)


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
    drops = []
    results = list(results)
    own: dict[str, set[int]] = {}
    if any(r.status is UpdateStatus.STALE for r in results):
        with engine.connect() as conn:
            own = outbox.unanswered_before(
                conn, plan.channel, {i.listing_id: i.outbox_id for i in batch.items}
            )
    stale = []
    for result in results:
        if result.status is not UpdateStatus.STALE or result.quantity is None:
            continue
        item = sent[result.listing_id]
        if result.quantity in own.get(item.listing_id, ()):
            # the channel shows what an update of ours set, sent by a run that died before
            # its answer: no sale, our own update landed; the compare goes against it now
            item = dataclasses.replace(item, expected=result.quantity)
        stale.append((item, result))
    rise = _unheard_rise(engine, plan, stale)
    for item, result in stale:
        if item.expected is not None and item.expected > result.quantity:
            # the channel sold these units (or lost them) since we believed it: until orders
            # explain them, the allocation counts them as this channel's sales (base units,
            # as the orders' pending units are)
            drops.append(
                {
                    "channel": plan.channel,
                    "sku": item.sku,
                    "listing_id": item.listing_id,
                    "units": plan.to_base_units(item.expected - result.quantity),
                    "correlation_id": round_id,
                }
            )
        if replans.get(item.listing_id, 0) >= MAX_REPLANS:
            continue
        replans[item.listing_id] = replans.get(item.listing_id, 0) + 1
        believed = item.expected if item.expected is not None else result.quantity
        sold = max(0, believed - result.quantity)
        if rise is not None:
            # of the units sold, those the target does not already count as sold
            sold = min(sold, math.ceil(rise.get(item.sku, 0) / plan.units_per_item - 1e-9))
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
    if drops:
        with engine.connect() as conn:
            fences.record_drops(conn, drops)
    if updates:
        summary.replanned += len(updates)
        # a listing's n-th re-plan goes into sub-round n: never a round that has it already
        by_count: dict[int, list[dict[str, object]]] = {}
        for update in updates:
            by_count.setdefault(replans[str(update["listing_id"])], []).append(update)
        with engine.connect() as conn:
            for count, same in sorted(by_count.items()):
                sub_round = f"{round_id}:replan:{count}"
                outbox.enqueue_round(conn, plan.channel, sub_round, same, correlation_id=round_id)


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
    holder: str | None = None,
    lease_wait: dt.timedelta = leases.WAIT,
) -> dict[str, ChannelSummary]:
    """Publish one round to every channel in `plans` and return a summary per channel.

    Two phases, each with the channels in parallel: first every channel's zero-outs and
    decreases, retried until acknowledged or dead-lettered; then, once all of them are
    answered, the increases. So no channel is sent an increase before every decrease of the
    round is acknowledged (or dead-lettered: a decrease that cannot be sent holds nothing
    beyond its retries, and the ledger keeps its own SKU's increases held while it waits).
    Work left in the outbox by an earlier round is sent too, under its own keys. With
    `increases=False` the increases wait in the outbox for the next round.

    After a change of the fence shares, a round that leaves out a fenced channel that has not
    yet published its whole catalog under the new shares plans no increase at all (each
    summary counts them in `increases_held` and names the channels in `held_for`): that
    channel may still offer its old share. A round that publishes a channel's whole catalog
    from an allocation under the new shares, and leaves none of its decreases waiting,
    settles it (`fences.unsettled`).

    The round holds each channel's publish lease (`holder` names this publisher in `status`;
    one is made up when not given) and waits up to `lease_wait` for a lease another publisher
    holds (then `leases.ChannelBusyError`). A channel whose circuit is open is not called: its
    work waits in the outbox and its summary says until when.
    """
    holder = holder or leases.new_holder()

    def waiting(channel: str, lease: leases.Lease) -> None:
        log.info("%s: waiting for the publish lease %s holds", channel, lease.holder)

    with leases.holding(
        engine, [p.channel for p in plans], holder, wait=lease_wait, waiting=waiting
    ) as held:
        return _publish_round(engine, plans, round_id, held, sleep, max_passes, increases)


def _publish_round(
    engine: Engine,
    plans: Sequence[ChannelPlan],
    round_id: str,
    held: leases.Leases,
    sleep: Callable[[float], None],
    max_passes: int,
    increases: bool,
) -> dict[str, ChannelSummary]:
    started = time.monotonic()
    first_send: dict[str, float] = {}
    summaries = {p.channel: ChannelSummary(p.channel) for p in plans}
    calls_before = {p.channel: getattr(p.connector, "api_calls", 0) for p in plans}
    throttled_before = {p.channel: getattr(p.connector, "throttled", 0) for p in plans}
    with engine.connect() as conn:
        epoch = fences.latest_epoch(conn)
        unsettled = fences.unsettled(conn, epoch)
    # fenced channels outside the round that may still show their old shares hold every
    # increase of the round (its own channels' decreases go first, as always)
    held_for = sorted(set(unsettled) - {p.channel for p in plans})
    if held_for:
        log.warning(
            "increases held: %s not published since the fence shares changed; publish every "
            "channel (Materialize all, or `inventory-sync sync`)",
            ", ".join(held_for),
        )
        increases = False
    for plan in plans:
        plan.connector.on_job_submitted = _track_jobs(engine, plan.channel)
        unfinished = settle_jobs(engine, plan, summaries[plan.channel])
        for listing_id in unfinished:
            plan.targets.pop(listing_id, None)
        cas = plan.connector.limits().compare_and_set
        summaries[plan.channel].held_for = held_for
        enqueue(engine, plan, round_id, summaries[plan.channel], cas, hold_increases=bool(held_for))
    replans: dict[str, dict[str, int]] = {p.channel: {} for p in plans}

    def drain(plan: ChannelPlan, with_increases: bool) -> None:
        """Send the channel's waiting batches (of the phase's directions) until none is left."""
        summary = summaries[plan.channel]
        workers = max(1, plan.connector.limits().concurrency)
        with ThreadPoolExecutor(workers, thread_name_prefix=f"publish-{plan.channel}") as pool:
            for _ in range(max_passes):
                if summary.circuit is not None:
                    return
                held.renew(plan.channel)
                limit = _batch_size(engine, plan.connector, plan.channel)
                with engine.connect() as conn:
                    batches = outbox.pending_batches(conn, plan.channel, limit)
                sendable = [b for b in batches if with_increases or b.direction != "increase"]
                if not sendable:
                    return
                with engine.connect() as conn:
                    circuit = circuits.check(conn, plan.channel)
                with summary.lock:
                    summary.circuit_clean = circuit.clean
                    if not circuit.allows:
                        summary.circuit = circuit
                if not circuit.allows:
                    log.warning("%s: not called, %s", plan.channel, circuit.describe())
                    return
                first_send.setdefault(plan.channel, time.monotonic())
                # batches of one round and direction are independent: several may be in flight
                # (the connector's pacing keeps the rate); the next group waits for this one
                for _, group in groupby(sendable, key=lambda b: (b.round_id, b.direction)):
                    batch_group = list(group)

                    def send(batch: outbox.Batch) -> list[UpdateResult] | None:
                        return _send(engine, plan.connector, batch, summary, sleep, held)

                    answers = list(pool.map(send, batch_group))
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

    phases = [False, True] if increases else [False]
    if plans:
        with ThreadPoolExecutor(len(plans), thread_name_prefix="publish-round") as channels:
            for with_increases in phases:
                # every channel finishes the phase before the next one starts
                list(channels.map(drain, plans, [with_increases] * len(plans)))
    finished = time.monotonic()
    with engine.connect() as conn:
        for plan in plans:
            summary = summaries[plan.channel]
            began = first_send.get(plan.channel, finished)
            summary.prepare_s, summary.send_s = began - started, finished - began
            summary.pending_left = outbox.count_waiting(conn, plan.channel, increases=increases)
            if (
                epoch is not None
                and plan.channel in unsettled
                and plan.whole
                and plan.fence_epoch == epoch.started_at
                and not outbox.count_waiting(conn, plan.channel, increases=False)
            ):
                fences.mark_settled(conn, plan.channel, epoch)
            summary.api_calls = getattr(plan.connector, "api_calls", 0) - calls_before[plan.channel]
            summary.throttled = max(
                summary.throttled,
                getattr(plan.connector, "throttled", 0) - throttled_before[plan.channel],
            )
    return summaries
