"""From a channel's order event to the inbox event the ledger stores, and into the inbox.

Both intake routes (the poller, the webhook receiver) read a channel's payloads through the
channel's typed models (`channels.payloads`) and call `take_in`. What a model refuses (an
order id that is not one, a fraction of a unit, a quantity no shelf holds) never becomes an
event: the receiver answers 4xx and stores nothing; the poller hands it over as an
`UnreadableOrder`, parked in the dead-letter queue with the order as the channel sent it
(credentials masked). Events that can be processed are stored in the inbox; one that cannot
(`problems`: a channel quantity that makes no whole number of base units, or more than
`MAX_QUANTITY`) is parked with its reason, and the others go on. One bad record never stops
a channel's intake: the poller's cursor moves past it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from inventory_pipelines.channels.base import ChannelOrder, UnreadableOrder
from inventory_pipelines.ledger import audit, inbox
from inventory_pipelines.ledger.db import write_transaction
from inventory_pipelines.ledger.inbox import InboxEvent

#: The most units one order line may carry, in the channel's unit and in base units: what
#: the ledger's integer columns and Odoo's hold (2^31 - 1). A channel that reports more sent
#: something no shelf holds (2^63 was seen); it is parked, not stored.
MAX_QUANTITY = inbox.MAX_UNITS


def problems(order: ChannelOrder, units_per_item: float = 1.0) -> list[str]:
    """Why `order` cannot be processed as the channel sent it (empty: it can).

    Orders and returns need each line's quantity to be a whole number of units from 1 to
    `MAX_QUANTITY`, in the channel's unit and in base units; a cancellation's lines are not
    read. Missing SKUs, unknown products and customers are ingestion's to judge (it parks
    them with the reason), not intake's.
    """
    found: list[str] = []
    if not str(order.external_id or "").strip():
        found.append("the event has no order id")
    if not str(order.event or "").strip():
        found.append("the event has no name")
    if order.kind == "cancelled":
        return found
    for n, line in enumerate(order.lines, 1):
        what = f"line {n} ({line.sku or 'no SKU'})"
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            found.append(f"{what}: quantity {quantity!r} is not a whole number")
        elif quantity < 1:
            found.append(f"{what}: quantity {quantity} is not positive")
        elif quantity > MAX_QUANTITY or round(quantity * units_per_item) > MAX_QUANTITY:
            found.append(f"{what}: quantity {quantity} is above {MAX_QUANTITY} units")
    return found


def pending_units(order: ChannelOrder, units_per_item: float = 1.0) -> dict[str, int]:
    """Base units per SKU that a `created` event takes off the shelf (lines without a SKU
    are left to ingestion, which parks the order with its reason)."""
    if order.kind != "created":
        return {}
    units: dict[str, int] = {}
    for line in order.lines:
        if line.sku and line.quantity > 0:
            units[line.sku] = units.get(line.sku, 0) + round(line.quantity * units_per_item)
    return units


def inbox_event(
    channel: str,
    order: ChannelOrder,
    route: str,
    *,
    delivery_id: str | None = None,
    units_per_item: float = 1.0,
) -> InboxEvent:
    """The inbox event of one channel order event, by one route."""
    return InboxEvent(
        channel=channel,
        external_id=order.external_id,
        event=order.event,
        kind=order.kind,
        route=route,
        payload=order.as_payload(),
        delivery_id=delivery_id,
        pending=pending_units(order, units_per_item) if not problems(order, units_per_item) else {},
    )


@dataclass(frozen=True)
class Intake:
    """What one `take_in` did: rows stored, deliveries dropped as duplicates (an event the
    inbox has, or one parked before), and the dead letters of events parked now."""

    stored: int
    duplicates: int
    parked: tuple[int, ...]
    stored_ids: tuple[int, ...]

    def as_dict(self) -> dict[str, int]:
        """Plain figures."""
        return {"stored": self.stored, "duplicates": self.duplicates, "parked": len(self.parked)}


def take_in(
    conn: Connection,
    channel: str,
    orders: Iterable[ChannelOrder],
    route: str,
    *,
    delivery_id: str | None = None,
    units_per_item: float = 1.0,
    unreadable: Iterable[UnreadableOrder] = (),
) -> Intake:
    """Store a channel's order events in the inbox and park those that cannot be processed,
    and the `unreadable` orders a poll read, in one transaction (see the module docstring)."""
    good: list[InboxEvent] = []
    bad: list[tuple[InboxEvent, str, list[list[Any]]]] = []
    for order in orders:
        event = inbox_event(
            channel, order, route, delivery_id=delivery_id, units_per_item=units_per_item
        )
        found = problems(order, units_per_item) or inbox.problems(event)
        if found:
            # the same event by the other route carries other details (number, e-mail...):
            # its lines are what make it the same order, and what make it unprocessable
            lines = [[line.sku, line.quantity] for line in order.lines]
            bad.append((event, "; ".join(found), lines))
        else:
            good.append(event)
    with write_transaction(conn):
        received = inbox.receive(conn, good)
        parked = [inbox.park_event(conn, event, why, lines) for event, why, lines in bad]
        parked += [_park_unreadable(conn, channel, order, route) for order in unreadable]
    return _intake(received, parked)


def _park_unreadable(
    conn: Connection, channel: str, order: UnreadableOrder, route: str
) -> inbox.Parked:
    """An order the channel's model refuses, parked as the channel sent it but masked: every
    entry whose key names a credential (``payment_token``, ``api_key``...), at any depth, is
    left out (`audit.masked`), so a dead letter never holds a credential and a raw order
    carrying one cannot fail the intake (the dead-letter queue refuses such keys, and with
    them the whole page); the rest of the order is kept as sent. Its identity (only a hash of
    it is stored) is the order as sent: the same order read again unchanged (a re-poll within
    the overlap window) is a duplicate of its letter.

    (`inbox.park_event`, for events the model read, parks our own `ChannelOrder.as_payload()`,
    whose keys are fixed and name no credential: it needs no mask.)"""
    name = order.external_id or f"{route}:unidentified"
    return inbox.park_unstored(
        conn,
        channel=channel,
        payload={
            "route": route,
            "external_id": order.external_id,
            "order": audit.masked(order.payload),
        },
        reason=f"the channel's order cannot be read: {order.reason}",
        correlation_id=f"{channel}:{name}",
        identity=order.payload,
    )


def _intake(received: inbox.Received, parked: Sequence[inbox.Parked]) -> Intake:
    return Intake(
        stored=received.stored,
        duplicates=received.duplicates + sum(not p.new for p in parked),
        parked=tuple(p.dead_letter_id for p in parked if p.new),
        stored_ids=received.stored_ids,
    )
