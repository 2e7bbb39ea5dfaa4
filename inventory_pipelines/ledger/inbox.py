"""The order inbox, the order-to-Odoo mapping and the pending units (DESIGN.md sections 3, 7).

Both intake routes (polling a channel, a webhook) write here before anything else happens,
one row per (channel, external order id, event): a second delivery of the same event, by
either route, only counts a duplicate on the row that is already there. Processing then
claims rows with a lease, so two workers never hold the same row, and a worker that died
holding one lets it go when the lease runs out:

    receive(conn, [InboxEvent(...)])             # webhook receiver, poller
    for row in claim(conn, worker="w1"):         # ingestion
        ... look in Odoo for client_order_ref, create and confirm when absent ...
        complete(conn, row.id, result)           # or park(conn, row.id, reason)

An event that cannot be stored as a row (no order id, a quantity the ledger's integer columns
cannot hold, a payload that is not JSON: `problems`) is parked instead of stored
(`park_event`): an order dead letter without inbox row, so one bad record never stops its
channel's intake. `replay_parked` puts a row parked at ingestion back for ingestion.

Pending units: when a channel accepts an order, its units are sold but not yet reserved in
Odoo. They are written with the `created` event and the allocation subtracts them until
Odoo's reservation is in the stock snapshot it computes from: a unit counts as pending while
it is neither released (cancelled) nor reserved at or before the snapshot's time. So a unit
is subtracted once, either here or through Odoo's `reserved`, never both and never neither.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit, dlq
from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import (
    ORDER_EVENT_KINDS,
    ORDER_ROUTES,
    dead_letters,
    order_inbox,
    order_map,
    pending_units,
    poll_cursors,
)

DEFAULT_LEASE = dt.timedelta(minutes=5)
#: The most units one pending row (and one order line) may hold: the ledger's `Integer`
#: columns are 32-bit on PostgreSQL, as Odoo's integer fields are.
MAX_UNITS = 2**31 - 1
_ID_LENGTH = order_inbox.c.external_id.type.length
_EVENT_LENGTH = order_inbox.c.event.type.length
_DELIVERY_LENGTH = order_inbox.c.delivery_id.type.length
_SKU_LENGTH = pending_units.c.sku.type.length
_CORRELATION_LENGTH = dead_letters.c.correlation_id.type.length


class InboxError(ValueError):
    """An event the inbox refuses (unknown kind or route, missing identity)."""


@dataclass(frozen=True)
class InboxEvent:
    """One delivery of an order event, by one route."""

    channel: str
    external_id: str  # the channel's order id
    event: str  # unique per order and event: "created", "cancelled", "refund:<id>"...
    kind: str  # created, cancelled, returned
    route: str  # poll, webhook
    payload: Mapping[str, Any]  # the normalized order (JSON values only, no credentials)
    delivery_id: str | None = None  # the channel's delivery id (webhooks)
    pending: Mapping[str, int] | None = None  # sku -> units sold and not yet in Odoo


@dataclass(frozen=True)
class InboxRow:
    """A stored event, as a worker sees it."""

    id: int
    channel: str
    external_id: str
    event: str
    kind: str
    route: str
    delivery_id: str | None
    payload: Any
    status: str
    attempts: int
    duplicates: int
    received_at: dt.datetime
    claimed_by: str | None
    result: Any
    error: str | None


@dataclass(frozen=True)
class Received:
    """What one `receive` call did: rows stored, and deliveries dropped as duplicates."""

    stored: int
    duplicates: int
    stored_ids: tuple[int, ...]


@dataclass(frozen=True)
class Parked:
    """An event kept as an order dead letter instead of an inbox row."""

    dead_letter_id: int
    new: bool  # False: the same event was parked before (a redelivery, a re-poll)


def problems(event: InboxEvent) -> list[str]:
    """Why `event` cannot be stored as an inbox row (empty: it can).

    Unknown kinds and routes are the caller's bug, not the channel's: `receive` refuses them
    (`InboxError`) instead of parking them.
    """
    found: list[str] = []
    if not event.channel or not event.external_id or not event.event:
        found.append("an inbox event needs channel, external id and event")
    for name, value, limit in (
        ("external id", event.external_id, _ID_LENGTH),
        ("event", event.event, _EVENT_LENGTH),
        ("delivery id", event.delivery_id, _DELIVERY_LENGTH),
    ):
        if value is not None and limit is not None and len(value) > limit:
            found.append(f"{name} longer than {limit} characters")
    for sku, units in (event.pending or {}).items():
        if not sku or (_SKU_LENGTH is not None and len(sku) > _SKU_LENGTH):
            found.append(f"pending SKU {sku!r} is empty or too long")
        if isinstance(units, bool) or not isinstance(units, int) or not 0 <= units <= MAX_UNITS:
            found.append(f"SKU {sku}: {units!r} pending units (expected 0 to {MAX_UNITS})")
    try:
        orjson.dumps(dict(event.payload))
    except (orjson.JSONEncodeError, TypeError) as exc:
        found.append(f"payload is not JSON: {exc}")
    return found


def _validate(event: InboxEvent) -> None:
    if event.kind not in ORDER_EVENT_KINDS:
        raise InboxError(f"{event.channel}/{event.external_id}: unknown kind {event.kind!r}")
    if event.route not in ORDER_ROUTES:
        raise InboxError(f"{event.channel}/{event.external_id}: unknown route {event.route!r}")
    found = problems(event)
    if found:
        raise InboxError(f"{event.channel}/{event.external_id}: {'; '.join(found)}: {event!r}")
    audit.ensure_no_secrets(event.payload, "inbox payload")


def receive(conn: Connection, events: Sequence[InboxEvent]) -> Received:
    """Store each event once; count every other delivery of it as a duplicate, in one transaction.

    A `created` event also writes its pending units. Safe under concurrent deliveries of the
    same event: the unique key decides which one stores, the others count as duplicates.
    """
    for event in events:
        _validate(event)
    if not events:
        return Received(0, 0, ())
    now = audit.utcnow()
    insert = (postgresql.insert if is_postgresql(conn) else sqlite.insert)(order_inbox)
    statement = insert.on_conflict_do_nothing(
        index_elements=[order_inbox.c.channel, order_inbox.c.external_id, order_inbox.c.event]
    ).returning(
        order_inbox.c.id, order_inbox.c.channel, order_inbox.c.external_id, order_inbox.c.event
    )
    stored_ids: list[int] = []
    duplicates = 0
    with write_transaction(conn):
        seen: set[tuple[str, str, str]] = set()
        for event in events:
            key = (event.channel, event.external_id, event.event)
            if key in seen:  # the same event twice in one call: store once, count the other
                duplicates += 1
                conn.execute(_count_duplicate(key))
                continue
            seen.add(key)
            row = conn.execute(
                statement,
                {
                    "channel": event.channel,
                    "external_id": event.external_id,
                    "event": event.event,
                    "kind": event.kind,
                    "route": event.route,
                    "delivery_id": event.delivery_id,
                    "payload": dict(event.payload),
                    "status": "new",
                    "attempts": 0,
                    "duplicates": 0,
                    "received_at": now,
                },
            ).first()
            if row is None:
                duplicates += 1
                conn.execute(_count_duplicate(key))
                continue
            stored_ids.append(int(row.id))
            if event.kind == "created" and event.pending:
                _add_pending(conn, event, now)
    return Received(len(stored_ids), duplicates, tuple(stored_ids))


def _count_duplicate(key: tuple[str, str, str]) -> sa.Update:
    channel, external_id, event = key
    return (
        order_inbox.update()
        .where(
            order_inbox.c.channel == channel,
            order_inbox.c.external_id == external_id,
            order_inbox.c.event == event,
        )
        .values(duplicates=order_inbox.c.duplicates + 1)
    )


def _add_pending(conn: Connection, event: InboxEvent, now: dt.datetime) -> None:
    insert = (postgresql.insert if is_postgresql(conn) else sqlite.insert)(pending_units)
    rows = [
        {
            "channel": event.channel,
            "external_id": event.external_id,
            "sku": sku,
            "quantity": int(quantity),
            "accepted_at": now,
        }
        for sku, quantity in (event.pending or {}).items()
        if int(quantity) > 0
    ]
    if rows:
        conn.execute(
            insert.on_conflict_do_nothing(
                index_elements=[
                    pending_units.c.channel,
                    pending_units.c.external_id,
                    pending_units.c.sku,
                ]
            ),
            rows,
        )


def _row(row: Any) -> InboxRow:
    return InboxRow(
        id=int(row.id),
        channel=row.channel,
        external_id=row.external_id,
        event=row.event,
        kind=row.kind,
        route=row.route,
        delivery_id=row.delivery_id,
        payload=row.payload,
        status=row.status,
        attempts=int(row.attempts),
        duplicates=int(row.duplicates),
        received_at=row.received_at,
        claimed_by=row.claimed_by,
        result=row.result,
        error=row.error,
    )


def claim(
    conn: Connection,
    worker: str,
    *,
    channel: str | None = None,
    ids: Iterable[int] | None = None,
    kinds: Iterable[str] | None = None,
    limit: int = 100,
    lease: dt.timedelta = DEFAULT_LEASE,
) -> list[InboxRow]:
    """Claim up to `limit` rows to process: new ones, claimed ones whose lease ran out, and
    those `worker` itself claimed before (a restarted worker resumes its own rows at once).

    Oldest first; within an order, `created` before its cancellation or return. Each claim
    counts one attempt. Rows claimed here are held by `worker` until `complete`, `park`,
    `release` or the end of the lease. A worker name must belong to one live process at a
    time (a Dagster run, a host and pid...).
    """
    now = audit.utcnow()
    expired = now - lease
    kind_order = sa.case(
        {kind: n for n, kind in enumerate(ORDER_EVENT_KINDS)}, value=order_inbox.c.kind
    )
    query = (
        sa.select(order_inbox.c.id)
        .where(
            sa.or_(
                order_inbox.c.status == "new",
                sa.and_(
                    order_inbox.c.status == "claimed",
                    sa.or_(order_inbox.c.claimed_at < expired, order_inbox.c.claimed_by == worker),
                ),
            )
        )
        .order_by(kind_order, order_inbox.c.id)
        .limit(limit)
    )
    if channel is not None:
        query = query.where(order_inbox.c.channel == channel)
    if ids is not None:
        query = query.where(order_inbox.c.id.in_(list(ids)))
    if kinds is not None:
        query = query.where(order_inbox.c.kind.in_(list(kinds)))
    with write_transaction(conn):
        if is_postgresql(conn):
            query = query.with_for_update(skip_locked=True)
        chosen = list(conn.execute(query).scalars())
        if not chosen:
            return []
        conn.execute(
            order_inbox.update()
            .where(order_inbox.c.id.in_(chosen))
            .values(
                status="claimed",
                claimed_at=now,
                claimed_by=worker,
                attempts=order_inbox.c.attempts + 1,
            )
        )
        rows = conn.execute(
            sa.select(order_inbox).where(order_inbox.c.id.in_(chosen)).order_by(order_inbox.c.id)
        )
        claimed = [_row(r) for r in rows]
    position = {row_id: n for n, row_id in enumerate(chosen)}
    return sorted(claimed, key=lambda r: position[r.id])


def _finish(
    conn: Connection,
    row_id: int,
    worker: str | None,
    status: str,
    *,
    result: Any = None,
    error: str | None = None,
) -> bool:
    query = order_inbox.update().where(
        order_inbox.c.id == row_id, order_inbox.c.status == "claimed"
    )
    if worker is not None:
        query = query.where(order_inbox.c.claimed_by == worker)
    values: dict[str, Any] = {"status": status, "error": error}
    if status != "new":
        values.update(processed_at=audit.utcnow(), result=result)
    else:
        values.update(claimed_at=None, claimed_by=None)
    return conn.execute(query.values(**values)).rowcount == 1


def complete(
    conn: Connection,
    row_id: int,
    result: Mapping[str, Any],
    *,
    worker: str | None = None,
    status: str = "done",
) -> bool:
    """Mark a claimed row processed (`done`, `ignored` or `review`) with its result.

    Returns False when the row is no longer claimed (by `worker`, when given): its lease ran
    out and another worker took it over; the caller's work then stands, and is found again
    by the other worker's look-up in Odoo.
    """
    if status not in ("done", "ignored", "review"):
        raise InboxError(f"complete() takes done, ignored or review, not {status!r}")
    with write_transaction(conn):
        return _finish(conn, row_id, worker, status, result=dict(result))


def release(conn: Connection, row_id: int, error: str, *, worker: str | None = None) -> bool:
    """Give a claimed row back (a transient failure: Odoo down); it is claimed again later."""
    with write_transaction(conn):
        return _finish(conn, row_id, worker, "new", error=error)


def park(conn: Connection, row_id: int, reason: str, *, worker: str | None = None) -> int | None:
    """Park a row that cannot be processed as is: status `parked` and a dead letter (kind
    `order`) with its payload and reason; its pending units are released. Returns the dead
    letter's id (None when the row was no longer held)."""
    with write_transaction(conn):
        row = conn.execute(sa.select(order_inbox).where(order_inbox.c.id == row_id)).one()
        if not _finish(conn, row_id, worker, "parked", error=reason):
            return None
        if row.kind == "created":
            release_pending(conn, row.channel, row.external_id)
        return dlq.add(
            conn,
            channel=row.channel,
            kind="order",
            payload={
                "inbox_id": row_id,
                "external_id": row.external_id,
                "event": row.event,
                "order": row.payload,
            },
            error=reason,
            correlation_id=f"{row.channel}:{row.external_id}"[:_CORRELATION_LENGTH],
        )


def json_safe(value: Any) -> Any:
    """`value` as JSON the ledger can store: integers beyond 64 bits (a channel's absurd
    quantity) and values JSON has no type for become strings."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    return str(value)


def park_unstored(
    conn: Connection,
    *,
    channel: str,
    payload: Mapping[str, Any],
    reason: str,
    correlation_id: str,
    identity: Any,
) -> Parked:
    """Park what a channel sent that cannot become an inbox row: an open order dead letter
    with `payload` (made JSON-safe, marked ``inbox_id: None``) and `reason`.

    `identity` (JSON) is what makes two deliveries the same: the same identity again, by
    either route and whatever became of the first letter, is a duplicate and gets no second
    letter (a re-poll within the overlap window, a redelivery, the other route).
    """
    body = json_safe({**payload, "inbox_id": None})
    fingerprint = hashlib.sha256(
        orjson.dumps(json_safe(identity), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    body["fingerprint"] = fingerprint
    correlation_id = correlation_id[:_CORRELATION_LENGTH]
    with write_transaction(conn):
        if is_postgresql(conn):  # serialize concurrent deliveries of the same content
            key = int.from_bytes(bytes.fromhex(fingerprint[:16]), "big", signed=True)
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        earlier = conn.execute(
            sa.select(dead_letters.c.id, dead_letters.c.payload).where(
                dead_letters.c.kind == "order",
                dead_letters.c.channel == channel,
                dead_letters.c.correlation_id == correlation_id,
            )
        ).all()
        for letter_id, stored in earlier:
            if isinstance(stored, Mapping) and stored.get("fingerprint") == fingerprint:
                return Parked(int(letter_id), new=False)
        letter_id = dlq.add(
            conn,
            channel=channel,
            kind="order",
            payload=body,
            error=reason,
            correlation_id=correlation_id,
        )
    return Parked(letter_id, new=True)


def park_event(conn: Connection, event: InboxEvent, reason: str, identity: Any = None) -> Parked:
    """Park an event that cannot be processed as the channel sent it (see `park_unstored`):
    it gets no inbox row and no pending units; its payload is the channel's event. Its
    identity is the order, the event and `identity` (by default the whole payload; the
    caller passes what does not depend on the route that brought it)."""
    return park_unstored(
        conn,
        channel=event.channel,
        payload={
            "external_id": event.external_id,
            "event": event.event,
            "kind": event.kind,
            "route": event.route,
            "delivery_id": event.delivery_id,
            "order": dict(event.payload),
        },
        reason=reason,
        correlation_id=f"{event.channel}:{event.external_id}",
        identity=[
            event.external_id,
            event.event,
            event.kind,
            dict(event.payload) if identity is None else identity,
        ],
    )


def replay_parked(conn: Connection, dead_letter_id: int, *, actor: str) -> int:
    """Put the parked inbox row of an order dead letter back for ingestion; its inbox id.

    The row is `new` again (attempts from 0) and the units of a parked order count as pending
    again; the letter is closed as replayed, audited. Raises `DeadLetterError` saying why when
    it cannot: not an open order letter, an event that never reached the inbox (parked as the
    channel sent it: only a corrected event from the channel can go in), or a row that is no
    longer parked.
    """
    with write_transaction(conn):
        letter = dlq.get(conn, dead_letter_id)
        if letter.kind != "order":
            raise dlq.DeadLetterError(
                f"dead letter {dead_letter_id} is a {letter.kind}, not an order"
            )
        if letter.status != "open":
            raise dlq.DeadLetterError(f"dead letter {dead_letter_id} is {letter.status}, not open")
        row_id = letter.payload.get("inbox_id") if isinstance(letter.payload, Mapping) else None
        if row_id is None:
            raise dlq.DeadLetterError(
                f"dead letter {dead_letter_id} cannot be replayed: the event was parked as the "
                f"channel sent it and never reached the inbox ({letter.error}). A corrected "
                "event from the channel goes in on its own; this letter can only be discarded."
            )
        query = sa.select(order_inbox).where(order_inbox.c.id == int(row_id))
        if is_postgresql(conn):
            query = query.with_for_update()
        row = conn.execute(query).one_or_none()
        if row is None:
            raise dlq.DeadLetterError(
                f"dead letter {dead_letter_id} cannot be replayed: inbox row {row_id} is gone"
            )
        if row.status != "parked":
            raise dlq.DeadLetterError(
                f"dead letter {dead_letter_id} cannot be replayed: inbox row {row_id} is "
                f"{row.status}, not parked"
            )
        conn.execute(
            order_inbox.update()
            .where(order_inbox.c.id == row.id)
            .values(
                status="new",
                attempts=0,
                error=None,
                result=None,
                claimed_at=None,
                claimed_by=None,
                processed_at=None,
            )
        )
        if row.kind == "created":
            conn.execute(
                pending_units.update()
                .where(
                    pending_units.c.channel == row.channel,
                    pending_units.c.external_id == row.external_id,
                    pending_units.c.reserved_at.is_(None),
                    pending_units.c.released_at.is_not(None),
                )
                .values(released_at=None)
            )
        dlq.mark_replayed(
            conn, dead_letter_id, actor=actor, reason=f"inbox row {row.id} back to new"
        )
    return int(row.id)


def get(conn: Connection, row_id: int) -> InboxRow:
    """One inbox row."""
    with read_transaction(conn):
        return _row(conn.execute(sa.select(order_inbox).where(order_inbox.c.id == row_id)).one())


def find(conn: Connection, channel: str, external_id: str, event: str) -> InboxRow | None:
    """The stored row of one event of one order, if any."""
    query = sa.select(order_inbox).where(
        order_inbox.c.channel == channel,
        order_inbox.c.external_id == external_id,
        order_inbox.c.event == event,
    )
    with read_transaction(conn):
        row = conn.execute(query).one_or_none()
    return None if row is None else _row(row)


def rows(
    conn: Connection,
    *,
    channel: str | None = None,
    status: str | None = None,
    since_id: int = 0,
    limit: int | None = None,
) -> list[InboxRow]:
    """Inbox rows in id order, filtered by channel and status, after `since_id`."""
    query = sa.select(order_inbox).where(order_inbox.c.id > since_id).order_by(order_inbox.c.id)
    if channel is not None:
        query = query.where(order_inbox.c.channel == channel)
    if status is not None:
        query = query.where(order_inbox.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    with read_transaction(conn):
        return [_row(r) for r in conn.execute(query)]


def counts(conn: Connection, channel: str | None = None) -> dict[str, int]:
    """Rows per status, plus `duplicates`: deliveries dropped because the event was stored."""
    query = sa.select(
        order_inbox.c.status,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(order_inbox.c.duplicates), 0),
    ).group_by(order_inbox.c.status)
    if channel is not None:
        query = query.where(order_inbox.c.channel == channel)
    out: dict[str, int] = {"duplicates": 0}
    with read_transaction(conn):
        for status, number, duplicates in conn.execute(query):
            out[status] = int(number)
            out["duplicates"] += int(duplicates)
    return out


# -- order-to-Odoo mapping ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderMapping:
    """What a channel order became in Odoo."""

    channel: str
    external_id: str
    client_order_ref: str
    odoo_order_id: int | None
    odoo_state: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def record_mapping(
    conn: Connection,
    channel: str,
    external_id: str,
    client_order_ref: str,
    odoo_order_id: int | None,
    odoo_state: str | None,
) -> None:
    """Insert or update the order's Odoo id and state."""
    now = audit.utcnow()
    insert = (postgresql.insert if is_postgresql(conn) else sqlite.insert)(order_map)
    statement = insert.values(
        channel=channel,
        external_id=external_id,
        client_order_ref=client_order_ref,
        odoo_order_id=odoo_order_id,
        odoo_state=odoo_state,
        created_at=now,
        updated_at=now,
    ).on_conflict_do_update(
        index_elements=[order_map.c.channel, order_map.c.external_id],
        set_={
            "odoo_order_id": insert.excluded.odoo_order_id,
            "odoo_state": insert.excluded.odoo_state,
            "updated_at": insert.excluded.updated_at,
        },
    )
    with write_transaction(conn):
        conn.execute(statement)


def mapping(conn: Connection, channel: str, external_id: str) -> OrderMapping | None:
    """The Odoo side of one channel order, if it was ingested."""
    query = sa.select(order_map).where(
        order_map.c.channel == channel, order_map.c.external_id == external_id
    )
    with read_transaction(conn):
        row = conn.execute(query).one_or_none()
    return None if row is None else OrderMapping(**row._mapping)


def mappings(conn: Connection, channel: str | None = None) -> list[OrderMapping]:
    """Every ingested order (of one channel), oldest first."""
    query = sa.select(order_map).order_by(order_map.c.created_at, order_map.c.external_id)
    if channel is not None:
        query = query.where(order_map.c.channel == channel)
    with read_transaction(conn):
        return [OrderMapping(**row._mapping) for row in conn.execute(query)]


# -- pending units --------------------------------------------------------------------------------


def mark_reserved(
    conn: Connection,
    channel: str,
    external_id: str,
    at: dt.datetime | None = None,
    *,
    warehouse: str | None = None,
) -> int:
    """Odoo reserved the order's units (confirmed) in `warehouse` (its code; None: not known):
    they stop counting once a snapshot taken after `at` holds the reservation. Returns the rows
    marked."""
    with write_transaction(conn):
        result = conn.execute(
            pending_units.update()
            .where(
                pending_units.c.channel == channel,
                pending_units.c.external_id == external_id,
                pending_units.c.reserved_at.is_(None),
            )
            .values(reserved_at=at or audit.utcnow(), warehouse=warehouse)
        )
        return int(result.rowcount)


def release_pending(conn: Connection, channel: str, external_id: str) -> int:
    """The order will not reach Odoo (cancelled first, parked): its units stop counting now."""
    with write_transaction(conn):
        result = conn.execute(
            pending_units.update()
            .where(
                pending_units.c.channel == channel,
                pending_units.c.external_id == external_id,
                pending_units.c.released_at.is_(None),
                pending_units.c.reserved_at.is_(None),
            )
            .values(released_at=audit.utcnow())
        )
        return int(result.rowcount)


def set_dropship(conn: Connection, channel: str, external_id: str, units: Mapping[str, int]) -> int:
    """Of the order's pending units, `units` per SKU go on the drop-ship route (every other SKU
    of the order: none); they count against the vendors' stock from now on. Called before the
    order is created in Odoo, so a retry after a crash finds the split it was created with.
    Returns the rows updated; a SKU the order has no open row for, or more units than the row
    holds, is refused (ValueError) and nothing is changed."""
    keys = (pending_units.c.channel == channel, pending_units.c.external_id == external_id)
    with write_transaction(conn):
        held = {
            sku: quantity
            for sku, quantity in conn.execute(
                sa.select(pending_units.c.sku, pending_units.c.quantity).where(
                    *keys, pending_units.c.released_at.is_(None)
                )
            )
        }
        wrong = [
            f"{sku}: {n} drop-ship units of {held.get(sku, 0)} pending"
            for sku, n in units.items()
            if n < 0 or n > held.get(sku, 0)
        ]
        if wrong:
            raise ValueError(f"order {channel}/{external_id}: " + "; ".join(wrong))
        updated = 0
        for sku in held:
            result = conn.execute(
                pending_units.update()
                .where(*keys, pending_units.c.sku == sku)
                .values(dropship_quantity=int(units.get(sku, 0)))
            )
            updated += int(result.rowcount)
        return updated


def order_pending(conn: Connection, channel: str, external_id: str) -> dict[str, tuple[int, int]]:
    """SKU -> (units, of which on the drop-ship route) of the order's pending rows not released."""
    query = sa.select(
        pending_units.c.sku, pending_units.c.quantity, pending_units.c.dropship_quantity
    ).where(
        pending_units.c.channel == channel,
        pending_units.c.external_id == external_id,
        pending_units.c.released_at.is_(None),
    )
    with read_transaction(conn):
        return {sku: (int(q), int(d)) for sku, q, d in conn.execute(query)}


#: SKUs per IN (...) query
_IN_CHUNK = 500


def pending_dropship_rows(
    conn: Connection, skus: Sequence[str] | None = None
) -> list[tuple[str, int, dt.datetime | None]]:
    """(sku, units, reserved_at) of the open pending rows with units on the drop-ship route
    (of `skus` only, when given): what the allocation counts against the vendors' stock until
    their feeds show it."""
    query = sa.select(
        pending_units.c.sku, pending_units.c.dropship_quantity, pending_units.c.reserved_at
    ).where(pending_units.c.released_at.is_(None), pending_units.c.dropship_quantity > 0)
    with read_transaction(conn):
        if skus is None:
            return [(sku, int(units), at) for sku, units, at in conn.execute(query)]
        wanted = sorted(set(skus))
        return [
            (sku, int(units), at)
            for start in range(0, len(wanted), _IN_CHUNK)
            for sku, units, at in conn.execute(
                query.where(pending_units.c.sku.in_(wanted[start : start + _IN_CHUNK]))
            )
        ]


def pending_by_sku(conn: Connection, snapshot_at: dt.datetime | None) -> dict[str, int]:
    """Units per SKU accepted by a channel and not yet reserved in the snapshot taken at
    `snapshot_at` (None: no snapshot holds any reservation of ours yet). Units ordered on the
    drop-ship route are not in it: they never leave our shelves (`pending_dropship_rows`)."""
    open_rows = pending_units.c.released_at.is_(None)
    if snapshot_at is None:
        counting = open_rows
    else:
        counting = sa.and_(
            open_rows,
            sa.or_(
                pending_units.c.reserved_at.is_(None), pending_units.c.reserved_at > snapshot_at
            ),
        )
    own = pending_units.c.quantity - pending_units.c.dropship_quantity
    query = (
        sa.select(pending_units.c.sku, sa.func.sum(own))
        .where(counting)
        .group_by(pending_units.c.sku)
    )
    with read_transaction(conn):
        return {sku: int(total) for sku, total in conn.execute(query) if total}


def forget_reserved(conn: Connection, before: dt.datetime) -> int:
    """Delete pending rows reserved or released before `before` (housekeeping)."""
    with write_transaction(conn):
        result = conn.execute(
            pending_units.delete().where(
                sa.or_(pending_units.c.reserved_at < before, pending_units.c.released_at < before)
            )
        )
        return int(result.rowcount)


# -- polling cursors ------------------------------------------------------------------------------


def get_cursor(conn: Connection, channel: str, name: str = "orders") -> str | None:
    """Where polling `channel` left off (None: never polled)."""
    query = sa.select(poll_cursors.c.cursor).where(
        poll_cursors.c.channel == channel, poll_cursors.c.name == name
    )
    with read_transaction(conn):
        return conn.execute(query).scalar_one_or_none()


def set_cursor(conn: Connection, channel: str, cursor: str | None, name: str = "orders") -> None:
    """Remember where polling `channel` left off (after its events are in the inbox)."""
    insert = (postgresql.insert if is_postgresql(conn) else sqlite.insert)(poll_cursors)
    statement = insert.values(
        channel=channel, name=name, cursor=cursor, updated_at=audit.utcnow()
    ).on_conflict_do_update(
        index_elements=[poll_cursors.c.channel, poll_cursors.c.name],
        set_={"cursor": insert.excluded.cursor, "updated_at": insert.excluded.updated_at},
    )
    with write_transaction(conn):
        conn.execute(statement)


__all__ = [
    "DEFAULT_LEASE",
    "MAX_UNITS",
    "InboxError",
    "InboxEvent",
    "InboxRow",
    "OrderMapping",
    "Parked",
    "Received",
    "claim",
    "complete",
    "counts",
    "find",
    "forget_reserved",
    "get",
    "get_cursor",
    "json_safe",
    "mapping",
    "mappings",
    "mark_reserved",
    "order_pending",
    "park",
    "park_event",
    "park_unstored",
    "pending_by_sku",
    "pending_dropship_rows",
    "problems",
    "receive",
    "record_mapping",
    "release",
    "release_pending",
    "replay_parked",
    "rows",
    "set_cursor",
    "set_dropship",
]
