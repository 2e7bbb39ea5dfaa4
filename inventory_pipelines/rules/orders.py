"""`orders.yml`: how channel orders, cancellations and returns are taken into Odoo.

Per channel (``channels.<name>``, falling back to ``defaults``):

- ``customer``: which Odoo partner an order is for. ``match: email`` takes the partner with
  the order's e-mail and parks the order when there is none; ``match: partner`` books every
  order on the named partner (marketplaces that hide the buyer); ``match: email_or_partner``
  tries the e-mail, then the named partner.
- ``cancellation``: a cancellation before fulfilment always cancels the Odoo order (its
  reservation is released). Once fulfilment has started, ``after_fulfilment`` says what to do:
  ``accept`` (cancel what is not delivered yet), ``review`` (routed to a person: the inbox
  row waits in status ``review``, the Odoo order is left alone) or ``reject`` (recorded and
  ignored: the goods are on their way).
- ``returns``: ``restock: on_receipt`` (the default) creates the return transfer in Odoo and
  stock comes back when the warehouse validates it; ``immediately`` also validates it;
  ``never`` only records the return.
- ``routing``: which of the channel's own warehouses (``channels.yml``) an order ships from.
  ``priority`` (the default): the first, by priority, whose free quantity covers the whole
  order. ``spare_scarce``: of those that cover it, the one that leaves the other channels the
  most of the ordered products to sell (the scarcest channel first: a warehouse only this
  channel sells from before one another channel also needs), then by priority; an order
  no warehouse covers goes, under either, to the one covering the most units.
- ``webhooks``: ``replay_window_s`` (300 by default): the receiver refuses, and stores
  nowhere, a signed delivery whose event is older than this (README, *Security*).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerMatch(StrEnum):
    """How an order finds its Odoo partner."""

    EMAIL = "email"
    PARTNER = "partner"
    EMAIL_OR_PARTNER = "email_or_partner"


class AfterFulfilment(StrEnum):
    """What a cancellation does once fulfilment has started."""

    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


class Restock(StrEnum):
    """When a return puts units back in stock."""

    ON_RECEIPT = "on_receipt"
    IMMEDIATELY = "immediately"
    NEVER = "never"


class Routing(StrEnum):
    """Which covering warehouse an order ships from."""

    PRIORITY = "priority"
    SPARE_SCARCE = "spare_scarce"


class Customer(_Strict):
    """Which partner an order is booked on."""

    match: CustomerMatch = CustomerMatch.EMAIL_OR_PARTNER
    partner: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _partner_named(self) -> Customer:
        if self.match is not CustomerMatch.EMAIL and self.partner is None:
            raise ValueError(f"match {self.match.value!r} needs `partner` (an Odoo partner name)")
        return self


class Cancellation(_Strict):
    """What a channel's cancellation does in Odoo."""

    after_fulfilment: AfterFulfilment = AfterFulfilment.REVIEW


class Returns(_Strict):
    """What a channel's return does in Odoo."""

    restock: Restock = Restock.ON_RECEIPT


class Webhooks(_Strict):
    """How old a signed webhook delivery may be before the receiver refuses it.

    Five minutes, as Stripe and Slack allow: a delivery is normally seconds old, and what is
    refused still comes in by polling (every 5 minutes). Shopify retries a failed delivery
    with its original body for 4 hours; a longer window takes those retries, a shorter one
    narrows what a captured delivery can be replayed for.
    """

    replay_window_s: float = Field(default=300.0, gt=0, le=7 * 24 * 3600)


class OrderPolicy(_Strict):
    """One channel's order handling."""

    customer: Customer = Customer(partner="Web customers")
    cancellation: Cancellation = Cancellation()
    returns: Returns = Returns()
    routing: Routing = Routing.PRIORITY
    webhooks: Webhooks = Webhooks()


class OrderRules(_Strict):
    """The whole of `orders.yml`."""

    defaults: OrderPolicy = OrderPolicy()
    channels: dict[str, OrderPolicy] = Field(default_factory=dict)

    def for_channel(self, channel: str) -> OrderPolicy:
        """The channel's policy: each section it sets, the defaults' for the others."""
        own = self.channels.get(channel)
        if own is None:
            return self.defaults
        return self.defaults.model_copy(
            update={name: getattr(own, name) for name in own.model_fields_set}
        )
