"""From a channel's order event to the inbox event the ledger stores."""

from __future__ import annotations

from inventory_pipelines.channels.base import ChannelOrder
from inventory_pipelines.ledger.inbox import InboxEvent


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
        pending=pending_units(order, units_per_item),
    )
