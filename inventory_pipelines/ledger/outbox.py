"""The outbox of channel publishes (DESIGN.md section 7).

A publish round is written here before anything is sent, one row per (channel, listing),
and each row walks `pending -> sent -> acknowledged | stale | rejected | failed`; a failed
row is planned again until it runs out of attempts and goes `dead` (dead-lettered). The
publisher's loop, per channel:

    enqueue_round(conn, channel, round_id, updates)
    for batch in pending_batches(conn, channel, max_batch):
        mark_sent(conn, batch.batch_key)
        results = connector.publish(updates_of(batch), idempotency_key=batch.batch_key)
        record_results(conn, batch.batch_key, [(r.listing_id, r.status, ...) for r in results])
        # or, if the request itself failed: retry_or_dead_letter(conn, batch.batch_key, ...)

Ordering: zero-outs first, then decreases, then increases; a batch never mixes directions
or rounds. An increase is held back while a zero-out or decrease of its SKU, on any channel
and from any round, is still waiting or in flight, so the sum of what channels display
never runs ahead of what can be sold; a dead-lettered decrease holds nothing (the operator
sees it, and the next round plans its listing again from what the channel shows).

Batch keys (the channel's idempotency key) are a hash of the rows a batch holds (ids,
attempt and generation counts), stored on the rows when planned: a re-plan after a crash
returns the same rows under the same key, so resending is harmless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from inventory_pipelines.ledger import audit, dlq, state
from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import DIRECTIONS, channel_jobs, outbox

DEFAULT_MAX_ATTEMPTS = 5
RESULT_STATUSES = ("acknowledged", "stale", "rejected", "failed")
# Rows a planner may (re)send: never sent, sent without a recorded answer, or failed per item.
_PLANNABLE = ("pending", "sent", "failed")
# A zero-out or decrease in one of these states holds back the increases of its SKU.
_HOLDING = ("pending", "sent", "failed")
_INSERT_CHUNK = 500
IN_FLIGHT_SUPERSEDED = "superseded in flight: no answer recorded"
"""`last_error` of a row superseded while `sent`: the channel may have applied it. Rows
superseded while pending or failed were answered not applied (an error, a failed item)."""

ResultTuple = tuple[str, str, int | None, str | None, str | None]
"""(listing_id, status, quantity or None, error or None, request_id or None)."""


class OutboxError(ValueError):
    """A batch that is not in flight, or results that do not match it."""


@dataclass(frozen=True)
class BatchItem:
    """One update of a batch: set `listing_id` to `quantity` (only if it shows `expected`)."""

    outbox_id: int
    listing_id: str
    sku: str
    quantity: int
    expected: int | None
    correlation_id: str | None


@dataclass(frozen=True)
class Batch:
    """Updates sent in one request under one idempotency key; one direction, one round."""

    batch_key: str
    channel: str
    round_id: str
    direction: str
    attempts: int
    items: tuple[BatchItem, ...]


def direction_of(quantity: int, previous: int | None) -> str:
    """'zero' for 0, 'decrease' below `previous`, else 'increase' (also when unknown)."""
    if quantity == 0:
        return "zero"
    if previous is not None and quantity < previous:
        return "decrease"
    return "increase"


def batch_key(channel: str, round_id: str, direction: str, rows: Iterable[Any]) -> str:
    """The idempotency key of a batch: a hash of its rows' ids, attempts and generations."""
    parts = [channel, round_id, direction]
    parts += [f"{r.id}:{r.attempts}:{r.generation}" for r in sorted(rows, key=lambda r: r.id)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def enqueue_round(
    conn: Connection,
    channel: str,
    round_id: str,
    updates: Sequence[Mapping[str, Any]],
    *,
    correlation_id: str | None = None,
    planned: Sequence[str] = (),
) -> int:
    """Write a round's updates for `channel` as pending rows; return how many were new.

    Each update has `listing_id`, `sku`, `quantity` and optionally `expected` (compare-and-
    set), `direction` and `correlation_id`. Without a direction it is derived from the
    quantity against `expected`, else against the last acknowledged quantity. Enqueuing the
    same round twice adds nothing. Older rows of the same listings that wait, or that a dead
    run left in flight, are marked superseded (see `_supersede`): only the newest quantity
    goes out.
    `planned` names further listings the round decided on without an update (the channel
    shows the target already): their older waiting rows are superseded too, so nothing
    planned from an older belief is sent after a newer plan.
    """
    if planned:
        with write_transaction(conn):
            _supersede(conn, channel, [str(x) for x in planned], before_id=None)
    if not updates:
        return 0
    listing_ids = [str(u["listing_id"]) for u in updates]
    if len(set(listing_ids)) != len(listing_ids):
        raise OutboxError(f"round {round_id!r} lists a listing twice for {channel!r}")
    now = audit.utcnow()
    with write_transaction(conn):
        # the acknowledgements only decide the direction of updates that carry neither
        derive = any(not u.get("direction") and u.get("expected") is None for u in updates)
        acknowledged = state.last_acknowledged(conn, channel) if derive else {}
        rows = []
        for update in updates:
            quantity = int(update["quantity"])
            if quantity < 0:
                raise OutboxError(f"{update['listing_id']}: negative quantity {quantity}")
            expected = update.get("expected")
            direction = update.get("direction") or direction_of(
                quantity,
                expected if expected is not None else acknowledged.get(str(update["listing_id"])),
            )
            if direction not in DIRECTIONS:
                raise OutboxError(f"{update['listing_id']}: unknown direction {direction!r}")
            rows.append(
                {
                    "channel": channel,
                    "round_id": round_id,
                    "listing_id": str(update["listing_id"]),
                    "sku": str(update["sku"]),
                    "quantity": quantity,
                    "expected": None if expected is None else int(expected),
                    "direction": direction,
                    "status": "pending",
                    "attempts": 0,
                    "generation": 0,
                    "correlation_id": update.get("correlation_id", correlation_id),
                    "created_at": now,
                }
            )
        insert = postgresql.insert if is_postgresql(conn) else sqlite.insert
        statement = (
            insert(outbox)
            .on_conflict_do_nothing(
                index_elements=[outbox.c.channel, outbox.c.round_id, outbox.c.listing_id]
            )
            .returning(outbox.c.id, outbox.c.listing_id)
        )
        # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs
        inserted: list[Row[Any]] = conn.execute(statement, rows).all()
        # Only rows this call added supersede, and only older ones: re-enqueuing an old
        # round must not cancel a newer one.
        if inserted:
            first_new = min(r.id for r in inserted)
            _supersede(conn, channel, [r.listing_id for r in inserted], before_id=first_new)
        return len(inserted)


def _supersede(
    conn: Connection, channel: str, listing_ids: Sequence[str], before_id: int | None
) -> None:
    """Mark the older rows of `listing_ids` that wait or were left in flight superseded.

    A row left `sent` by a run that died is superseded too: the newer plan was made against
    what the channel shows (its read-back, or the last acknowledgement with compare-and-set),
    and resending the old quantity after it would undo it. Rows of a batch the channel is still
    processing (an open job: an Amazon feed) are left to be settled. A planned batch that loses
    rows is dissolved: its remaining rows are planned again under a new generation, so an
    idempotency key never stands for two different requests.
    """
    # A full round names every listing of the channel, and few of them have a row waiting:
    # only those are worth the chunked updates (one indexed read finds them).
    older = [
        outbox.c.channel == channel,
        outbox.c.status.in_(("pending", "failed", "sent")),
    ]
    if before_id is not None:
        older.append(outbox.c.id < before_id)
    waiting = set(conn.execute(sa.select(outbox.c.listing_id).where(*older).distinct()).scalars())
    listing_ids = [x for x in listing_ids if x in waiting]
    processing = sa.select(channel_jobs.c.batch_key).where(
        channel_jobs.c.channel == channel, channel_jobs.c.status == "open"
    )
    touched: set[str] = set()
    for start in range(0, len(listing_ids), _INSERT_CHUNK):
        where = [
            outbox.c.channel == channel,
            outbox.c.listing_id.in_(listing_ids[start : start + _INSERT_CHUNK]),
            outbox.c.status.in_(("pending", "failed", "sent")),
            sa.or_(outbox.c.batch_key.is_(None), outbox.c.batch_key.not_in(processing)),
        ]
        if before_id is not None:
            where.append(outbox.c.id < before_id)
        keys = conn.execute(sa.select(outbox.c.batch_key).where(*where).distinct()).scalars()
        touched.update(key for key in keys if key is not None)
        # a row in flight may have landed: marked so (see `unanswered_before`)
        in_flight = sa.case(
            (outbox.c.status == "sent", IN_FLIGHT_SUPERSEDED), else_=outbox.c.last_error
        )
        conn.execute(
            outbox.update().where(*where).values(status="superseded", last_error=in_flight)
        )
    keys = sorted(touched)
    for start in range(0, len(keys), _INSERT_CHUNK):
        conn.execute(
            outbox.update()
            .where(
                outbox.c.batch_key.in_(keys[start : start + _INSERT_CHUNK]),
                outbox.c.status.in_(("pending", "failed", "sent")),
            )
            .values(status="pending", batch_key=None, generation=outbox.c.generation + 1)
        )


def held_skus(conn: Connection) -> set[str]:
    """SKUs with a zero-out or decrease still waiting or in flight on any channel.

    An increase of such a SKU waits (on every channel): the sum of what channels show must
    never run ahead of what can be sold. The hold is per SKU, so a decrease that keeps
    failing holds back only its own SKU's increases, and only until it is dead-lettered.
    """
    query = (
        sa.select(outbox.c.sku)
        .where(
            outbox.c.direction.in_(("zero", "decrease")),
            outbox.c.status.in_(_HOLDING),
        )
        .distinct()
    )
    return set(conn.execute(query).scalars())


def pending_batches(
    conn: Connection,
    channel: str,
    max_batch: int,
    *,
    hold_increases: bool = True,
    resend_sent_after: dt.timedelta = dt.timedelta(0),
) -> list[Batch]:
    """Plan the channel's unsent work into batches of at most `max_batch`, in publish order.

    Rows already planned keep their batch and key; rows sent without a recorded answer
    (a crash) come back under their key once `resend_sent_after` has passed since sending.
    On PostgreSQL the rows are claimed with `FOR UPDATE SKIP LOCKED`, so two planners never
    key the same rows differently; a planned batch goes out whole or waits (another
    publisher holding some of its rows, or an increase of it held, keeps all of it back).
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    columns = [
        outbox.c[name]
        for name in (
            "id",
            "round_id",
            "listing_id",
            "sku",
            "quantity",
            "expected",
            "direction",
            "status",
            "attempts",
            "generation",
            "correlation_id",
            "batch_key",
            "sent_at",
        )
    ]
    # A batch a channel is still processing (an Amazon feed) is never sent again: its
    # outcome is read first (ledger/jobs.py), so an old quantity cannot land after a new one.
    processing = sa.select(channel_jobs.c.batch_key).where(
        channel_jobs.c.channel == channel, channel_jobs.c.status == "open"
    )
    query = (
        sa.select(*columns)
        .where(
            outbox.c.channel == channel,
            outbox.c.status.in_(_PLANNABLE),
            sa.or_(outbox.c.batch_key.is_(None), outbox.c.batch_key.not_in(processing)),
        )
        .order_by(outbox.c.id)
    )
    with write_transaction(conn):
        if is_postgresql(conn):
            query = query.with_for_update(skip_locked=True)
        rows = list(conn.execute(query))
        cutoff = audit.utcnow() - resend_sent_after
        rows = [r for r in rows if r.status != "sent" or r.sent_at is None or r.sent_at <= cutoff]
        if hold_increases and any(r.direction == "increase" for r in rows):
            held = held_skus(conn)
            rows = [r for r in rows if not (r.direction == "increase" and r.sku in held)]

        groups: dict[str, list[Row[Any]]] = {}
        for row in rows:
            if row.batch_key is not None:
                groups.setdefault(row.batch_key, []).append(row)
        _drop_partial_batches(conn, groups)
        unplanned = [r for r in rows if r.batch_key is None]
        unplanned.sort(key=lambda r: (r.round_id, DIRECTIONS.index(r.direction), r.id))
        for _, same in groupby(unplanned, key=lambda r: (r.round_id, r.direction)):
            same_rows = list(same)
            for start in range(0, len(same_rows), max_batch):
                chunk = same_rows[start : start + max_batch]
                key = batch_key(channel, chunk[0].round_id, chunk[0].direction, chunk)
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_([r.id for r in chunk]))
                    .values(batch_key=key)
                )
                groups[key] = chunk

    round_order = {r.round_id: r.id for r in sorted(rows, key=lambda r: r.id, reverse=True)}
    batches = [
        Batch(
            batch_key=key,
            channel=channel,
            round_id=chunk[0].round_id,
            direction=chunk[0].direction,
            attempts=max(r.attempts for r in chunk),
            items=tuple(
                BatchItem(
                    outbox_id=r.id,
                    listing_id=r.listing_id,
                    sku=r.sku,
                    quantity=r.quantity,
                    expected=r.expected,
                    correlation_id=r.correlation_id,
                )
                for r in sorted(chunk, key=lambda r: r.id)
            ),
        )
        for key, chunk in groups.items()
    ]
    batches.sort(
        key=lambda b: (
            round_order[b.round_id],
            DIRECTIONS.index(b.direction),
            b.items[0].outbox_id,
        )
    )
    return batches


def _drop_partial_batches(conn: Connection, groups: dict[str, list[Row[Any]]]) -> None:
    """Drop from `groups` each planned batch of which this planner holds only some rows.

    A batch goes out whole under its key or waits: a row of it can be missing here because
    another publisher holds it locked (sending or recording that batch: `SKIP LOCKED` passed
    it over), because it waits to be resent, or because an increase of its SKU is held.
    Sending the rest under the same idempotency key would make the channel answer the part
    with the whole's answer (or the reverse), and record the missing rows as unanswered.
    """
    if not groups:
        return
    keys = list(groups)
    counts: dict[str, int] = {}
    for start in range(0, len(keys), _INSERT_CHUNK):
        chunk = keys[start : start + _INSERT_CHUNK]
        query = (
            sa.select(outbox.c.batch_key, sa.func.count())
            .where(outbox.c.batch_key.in_(chunk), outbox.c.status.in_(_PLANNABLE))
            .group_by(outbox.c.batch_key)
        )
        counts.update((key, int(n)) for key, n in conn.execute(query))
    for key in keys:
        if counts.get(key, 0) != len(groups[key]):
            del groups[key]


def mark_sent(conn: Connection, batch_key: str) -> int:
    """Mark a batch's rows sent (one more attempt); return how many (0: nothing to send).

    Rows whose item failed come back here under their new key (`pending_batches` planned
    them again): they are sent like pending ones.
    """
    with write_transaction(conn):
        # Lock the rows in id order first, as every other writer of a batch does: an UPDATE
        # alone takes them in scan order, and two publishers racing for one batch could then
        # each hold a row the other waits for (a deadlock on PostgreSQL).
        query = (
            sa.select(outbox.c.id)
            .where(outbox.c.batch_key == batch_key, outbox.c.status.in_(_PLANNABLE))
            .order_by(outbox.c.id)
        )
        if is_postgresql(conn):
            query = query.with_for_update()
        ids = list(conn.execute(query).scalars())
        if not ids:
            return 0
        result = conn.execute(
            outbox.update()
            .where(outbox.c.id.in_(ids), outbox.c.status.in_(_PLANNABLE))
            .values(status="sent", attempts=outbox.c.attempts + 1, sent_at=audit.utcnow())
        )
        return int(result.rowcount)


def _in_flight(conn: Connection, batch_key: str) -> list[Row[Any]]:
    query = (
        sa.select(outbox)
        .where(outbox.c.batch_key == batch_key, outbox.c.status.in_(("pending", "sent")))
        .order_by(outbox.c.id)
    )
    if is_postgresql(conn):
        query = query.with_for_update()
    rows = list(conn.execute(query))
    if not rows:
        raise OutboxError(f"no batch {batch_key!r} in flight")
    return rows


def _set_many(conn: Connection, changes: Sequence[Mapping[str, Any]]) -> None:
    """Set status, acknowledged_at, last_error and batch_key of many rows in one executemany."""
    if not changes:
        return
    statement = (
        outbox.update()
        .where(outbox.c.id == sa.bindparam("row_id"))
        .values(
            status=sa.bindparam("new_status"),
            acknowledged_at=sa.bindparam("new_acknowledged_at"),
            last_error=sa.bindparam("new_error"),
            batch_key=sa.bindparam("new_batch_key"),
        )
    )
    conn.execute(statement, list(changes))


def _dead_letter(
    conn: Connection, rows: Sequence[Row[Any]], errors: Mapping[int, str], summary: str
) -> int:
    first = rows[0]
    return dlq.add(
        conn,
        channel=first.channel,
        kind="publish",
        payload={
            "batch_key": first.batch_key,
            "round_id": first.round_id,
            "outbox_ids": [r.id for r in rows],
            "items": [
                {
                    "listing_id": r.listing_id,
                    "sku": r.sku,
                    "quantity": r.quantity,
                    "expected": r.expected,
                    "error": errors.get(r.id),
                }
                for r in rows
            ],
        },
        error=summary,
        correlation_id=first.correlation_id,
    )


def record_results(
    conn: Connection,
    batch_key: str,
    results: Sequence[ResultTuple],
    *,
    actor: str = "publisher",
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> dict[str, int]:
    """Record the channel's answer to a batch in one transaction; return counts per status.

    Acknowledged rows upsert the published state and write an audit row (before/after);
    stale rows record the quantity the channel reported the same way; rejected rows and
    failed rows out of attempts are dead-lettered; other failed rows are planned again. A
    row the channel did not answer for counts as failed. Any error (an unknown listing, an
    unknown status) rolls the whole answer back.
    """
    counts = dict.fromkeys((*RESULT_STATUSES, "dead"), 0)
    with write_transaction(conn):
        rows = _in_flight(conn, batch_key)
        by_listing = {r.listing_id: r for r in rows}
        answered: set[str] = set()
        rejected: list[Row[Any]] = []
        dead: list[Row[Any]] = []
        errors: dict[int, str] = {}
        changes: list[dict[str, Any]] = []
        published: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        now = audit.utcnow()
        answers = list(results)
        named = {answer[0] for answer in answers}
        answers += [
            (r.listing_id, "failed", None, "no result from the channel", None)
            for r in rows
            if r.listing_id not in named
        ]
        channel = rows[0].channel
        before = state.get_many(conn, channel, list(by_listing))

        def change(row: Row[Any], status: str, error: str | None, **extra: Any) -> None:
            changes.append(
                {
                    "row_id": row.id,
                    "new_status": status,
                    "new_acknowledged_at": extra.get("acknowledged_at"),
                    "new_error": error,
                    "new_batch_key": extra.get("batch_key", row.batch_key),
                }
            )

        for listing_id, status, quantity, error, request_id in answers:
            row = by_listing.get(listing_id)
            if row is None:
                raise OutboxError(f"batch {batch_key!r} has no listing {listing_id!r}")
            if listing_id in answered:
                raise OutboxError(f"batch {batch_key!r}: two results for {listing_id!r}")
            answered.add(listing_id)
            status = str(status)
            if status not in RESULT_STATUSES:
                raise OutboxError(f"{listing_id}: unknown result status {status!r}")
            if status in ("acknowledged", "stale"):
                shown = row.quantity if quantity is None and status == "acknowledged" else quantity
                if status == "acknowledged":
                    change(row, status, error, acknowledged_at=now)
                else:
                    change(row, status, error or f"shows {shown}")
                if shown is not None:
                    previous = before.get(listing_id)
                    published.append(
                        {
                            "channel": channel,
                            "listing_id": listing_id,
                            "sku": row.sku,
                            "quantity": int(shown),
                            "acknowledged_at": now,
                            "request_id": request_id,
                        }
                    )
                    entries.append(
                        {
                            "actor": actor,
                            "source": channel,
                            "action": f"publish.{status}",
                            "entity": f"published_state/{channel}/{listing_id}",
                            "before": None
                            if previous is None
                            else {"quantity": previous.quantity, "request_id": previous.request_id},
                            "after": {
                                "quantity": int(shown),
                                "request_id": request_id,
                                "sent": row.quantity,
                                "batch_key": batch_key,
                                "round_id": row.round_id,
                            },
                            "correlation_id": row.correlation_id,
                            "at": now,
                        }
                    )
            elif status == "rejected":
                errors[row.id] = error or "rejected"
                change(row, "rejected", errors[row.id])
                rejected.append(row)
            elif row.attempts >= max_attempts:
                errors[row.id] = error or "failed"
                change(row, "dead", errors[row.id])
                dead.append(row)
                status = "dead"
            else:
                change(row, "failed", error, batch_key=None)
            counts[status] += 1
        _set_many(conn, changes)
        state.upsert_many(conn, published)
        audit.record_many(conn, entries)
        if rejected:
            _dead_letter(conn, rejected, errors, f"{len(rejected)} update(s) rejected")
        if dead:
            _dead_letter(conn, dead, errors, f"{len(dead)} update(s) failed {max_attempts} times")
    return counts


def retry_or_dead_letter(
    conn: Connection, batch_key: str, error: str, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> str:
    """After a failed request: back to 'pending' under the same key, or 'dead' when out of tries.

    Returns the new status. A dead batch becomes one dead letter holding all its rows.
    """
    with write_transaction(conn):
        rows = _in_flight(conn, batch_key)
        status = "dead" if max(r.attempts for r in rows) >= max_attempts else "pending"
        conn.execute(
            outbox.update()
            .where(outbox.c.id.in_([r.id for r in rows]))
            .values(status=status, last_error=error)
        )
        if status == "dead":
            errors = {r.id: error for r in rows}
            _dead_letter(conn, rows, errors, f"batch failed {max_attempts} times: {error}")
    return status


def batch_items(conn: Connection, batch_key: str) -> list[BatchItem]:
    """The items of a batch still in flight, in the order they were sent."""
    with read_transaction(conn):
        rows = conn.execute(
            sa.select(outbox)
            .where(outbox.c.batch_key == batch_key, outbox.c.status.in_(("pending", "sent")))
            .order_by(outbox.c.id)
        ).all()
    return [
        BatchItem(r.id, r.listing_id, r.sku, r.quantity, r.expected, r.correlation_id) for r in rows
    ]


def withdraw_batch(conn: Connection, batch_key: str, reason: str) -> int:
    """A batch the channel will never apply (its job was cancelled): its rows are superseded,
    and their listings are planned again from what the channel shows."""
    with write_transaction(conn):
        result = conn.execute(
            outbox.update()
            .where(outbox.c.batch_key == batch_key, outbox.c.status.in_(("pending", "sent")))
            .values(status="superseded", last_error=reason)
        )
        return int(result.rowcount)


def rows_of_round(conn: Connection, round_id: str, channel: str | None = None) -> list[Row[Any]]:
    """Every outbox row of a round (of one channel or all), for inspection and tests."""
    query = sa.select(outbox).where(outbox.c.round_id == round_id)
    if channel is not None:
        query = query.where(outbox.c.channel == channel)
    with read_transaction(conn):
        return list(conn.execute(query.order_by(outbox.c.id)))


def unanswered_before(
    conn: Connection, channel: str, rows: Mapping[str, int]
) -> dict[str, set[int]]:
    """Per listing, the quantities of updates sent to the channel before its outbox row
    `rows[listing]` and after the last answer recorded for it, whose own answer never came
    (their run died with them in flight, and a newer plan superseded them): the channel may
    show any of them, having applied it.

    An update answered not applied (a failed request put back to pending, a failed item) and
    superseded afterwards is not among them: a channel showing its quantity shows a sale.
    A request that timed out is answered so too: if it landed, a sale is counted that was
    none (fewer units offered until the read-back settles it), never the other way round."""
    if not rows:
        return {}
    found: dict[str, set[int]] = {}
    listing_ids = sorted(rows)
    with read_transaction(conn):
        for start in range(0, len(listing_ids), _INSERT_CHUNK):
            query = (
                sa.select(
                    outbox.c.id,
                    outbox.c.listing_id,
                    outbox.c.status,
                    outbox.c.quantity,
                    outbox.c.last_error,
                )
                .where(
                    outbox.c.channel == channel,
                    outbox.c.listing_id.in_(listing_ids[start : start + _INSERT_CHUNK]),
                    outbox.c.status.in_(("acknowledged", "stale", "superseded")),
                    outbox.c.id < max(rows.values()),
                )
                .order_by(outbox.c.id.desc())
            )
            answered: set[str] = set()
            for row_id, listing_id, status, quantity, last_error in conn.execute(query):
                if listing_id in answered or row_id >= rows[listing_id]:
                    continue
                if status != "superseded":
                    answered.add(listing_id)
                elif last_error == IN_FLIGHT_SUPERSEDED:
                    found.setdefault(listing_id, set()).add(int(quantity))
    return found


def count_waiting(conn: Connection, channel: str, *, increases: bool = True) -> int:
    """Rows of a channel still to be sent or answered (pending, sent, failed); with
    `increases=False`, only the zero-outs and decreases among them."""
    query = sa.select(sa.func.count()).where(
        outbox.c.channel == channel, outbox.c.status.in_(_PLANNABLE)
    )
    if not increases:
        query = query.where(outbox.c.direction != "increase")
    with read_transaction(conn):
        return int(conn.execute(query).scalar_one())


def counts_by_status(conn: Connection, channel: str) -> dict[str, int]:
    """How many outbox rows of a channel are in each status."""
    query = (
        sa.select(outbox.c.status, sa.func.count())
        .where(outbox.c.channel == channel)
        .group_by(outbox.c.status)
    )
    with read_transaction(conn):
        return {status: int(n) for status, n in conn.execute(query)}


@dataclass(frozen=True)
class Waiting:
    """An outbox row still to be sent or answered, and why it waits."""

    id: int
    listing_id: str
    sku: str
    quantity: int
    direction: str
    status: str
    attempts: int
    last_error: str | None
    held_by: str | None  # for a held increase: the channel whose decrease of the SKU waits


def waiting(conn: Connection, channel: str, *, limit: int = 5) -> list[Waiting]:
    """The oldest `limit` rows of `channel` still waiting, each with why (for an operator)."""
    query = (
        sa.select(outbox)
        .where(outbox.c.channel == channel, outbox.c.status.in_(_PLANNABLE))
        .order_by(outbox.c.id)
        .limit(limit)
    )
    with read_transaction(conn):
        rows = list(conn.execute(query))
        held: dict[str, str] = {}
        increases = sorted({r.sku for r in rows if r.direction == "increase"})
        if increases:
            holders = sa.select(outbox.c.sku, outbox.c.channel).where(
                outbox.c.sku.in_(increases),
                outbox.c.direction.in_(("zero", "decrease")),
                outbox.c.status.in_(_HOLDING),
            )
            held = {sku: holder for sku, holder in conn.execute(holders)}
    return [
        Waiting(
            id=r.id,
            listing_id=r.listing_id,
            sku=r.sku,
            quantity=r.quantity,
            direction=r.direction,
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
            held_by=held.get(r.sku) if r.direction == "increase" else None,
        )
        for r in rows
    ]
