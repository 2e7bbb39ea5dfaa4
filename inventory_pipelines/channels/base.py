"""The one interface every channel connector implements (DESIGN.md section 5).

A connector reads listings and their quantities, publishes a batch of quantities, reads
orders since a cursor, verifies a webhook, and declares its limits. Nothing channel-specific
lives outside its own module; the publisher (ledger + Dagster) only sees this interface.
"""

from __future__ import annotations

import abc
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelLimits:
    """What the channel allows, so the publisher can plan batches and pace requests."""

    max_batch: int  # items per publish request (Shopify 250, WooCommerce 100, Amazon 1 patch)
    requests_per_s: float  # sustained rate the channel documents
    burst: int  # requests allowed at once before the rate applies
    compare_and_set: bool  # whether a publish can carry the quantity it expects to replace
    bulk_batch: int | None = None  # items per bulk submission (Amazon feeds: 25,000)
    bulk_threshold: int | None = None  # from this many waiting updates on, plan bulk batches
    concurrency: int = 1  # batches in flight at once (the pacing still holds the rate)


@dataclass(frozen=True)
class Listing:
    """One sellable listing on a channel, as its catalog shows it."""

    listing_id: str  # the channel's id for the stock-carrying item (inventory item, variant, SKU)
    sku: str | None
    barcode: str | None
    quantity: int | None  # what the channel shows now (None when unknown)
    title: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # channel-specific ids (location...)


_WHOLE_TEXT = re.compile(r"[+-]?\d{1,18}")


def shown_quantity(value: Any, kind: str, listing_id: str) -> int | None:
    """The quantity a listing shows, as a whole number; None when it shows none, or something
    that is no whole number (text, a fraction, a list, past 64 bits), then logged naming the
    listing: one listing read as unknown, never the channel's whole catalog unreadable."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str) and _WHOLE_TEXT.fullmatch(value.strip()):
        return int(value)
    log.warning(
        "%s listing %s shows quantity %.40r, not a whole number: read as unknown",
        kind,
        listing_id,
        value,
    )
    return None


@dataclass(frozen=True)
class QuantityUpdate:
    """Set `listing_id` to `quantity`; with compare-and-set, only if it still shows `expected`."""

    listing_id: str
    sku: str
    quantity: int
    expected: int | None = None


class UpdateStatus(StrEnum):
    """How the channel answered one update."""

    ACKNOWLEDGED = "acknowledged"  # the channel now shows `quantity`
    STALE = "stale"  # compare-and-set failed: the channel showed something else (sold?)
    REJECTED = "rejected"  # a permanent error for this item (unknown listing, invalid value)
    FAILED = "failed"  # a transient error for this item: retry later


@dataclass(frozen=True)
class UpdateResult:
    """The channel's answer for one update."""

    listing_id: str
    status: UpdateStatus
    quantity: int | None = None  # acknowledged quantity, or the actual one when stale
    error: str | None = None
    request_id: str | None = None


ORDER_KINDS = ("created", "cancelled", "returned")
FULFILLMENT_STATES = ("unfulfilled", "partial", "fulfilled")


@dataclass(frozen=True)
class OrderLine:
    """One line of a channel order (or of a return): the listing, its SKU, channel units."""

    listing_id: str | None
    sku: str | None
    quantity: int
    price: str | None = None  # as the channel wrote it (a decimal string), for the Odoo line


@dataclass(frozen=True)
class ChannelOrder:
    """One order event as a channel reports it: the order, its cancellation, or a return.

    ``event`` names the event uniquely within the order and identically whichever route
    brought it (``created``, ``cancelled``, ``refund:<id>``...): with the channel and
    ``external_id`` it is the inbox's unique key. Lines of a return are the returned units.
    """

    external_id: str  # the channel's order id
    event: str
    kind: str  # created, cancelled, returned
    lines: tuple[OrderLine, ...]
    updated_at: str  # ISO 8601, as the channel stamped the event
    number: str | None = None  # the order number a person sees (#1001)
    customer_email: str | None = None
    customer_name: str | None = None
    fulfillment: str = "unfulfilled"  # unfulfilled, partial, fulfilled (at the event)
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ORDER_KINDS:
            raise ValueError(f"order {self.external_id}: unknown kind {self.kind!r}")
        if self.fulfillment not in FULFILLMENT_STATES:
            raise ValueError(f"order {self.external_id}: unknown fulfillment {self.fulfillment!r}")

    def as_payload(self) -> dict[str, Any]:
        """The event as plain JSON values (what the inbox stores)."""
        return {
            "external_id": self.external_id,
            "event": self.event,
            "kind": self.kind,
            "lines": [
                {"listing_id": x.listing_id, "sku": x.sku, "quantity": x.quantity, "price": x.price}
                for x in self.lines
            ],
            "updated_at": self.updated_at,
            "number": self.number,
            "customer_email": self.customer_email,
            "customer_name": self.customer_name,
            "fulfillment": self.fulfillment,
            "currency": self.currency,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ChannelOrder:
        """Back from :meth:`as_payload`."""
        fields = dict(payload)
        fields["lines"] = tuple(OrderLine(**line) for line in payload.get("lines", ()))
        return cls(**fields)


class WebhookError(ValueError):
    """A webhook whose body or headers cannot be read as an order event (after its signature
    was verified): refused (4xx) and stored nowhere."""


@dataclass(frozen=True)
class UnreadableOrder:
    """An order a poll read that the channel's payload model refuses (`reason` names the
    fields, not their values): parked with the order as the channel sent it, so polling
    moves past it and nothing is lost."""

    reason: str
    payload: Any  # the order as the channel sent it (JSON values)
    external_id: str | None = None  # when it could be read


@dataclass(frozen=True)
class OrdersPage:
    """Orders since a cursor, and the cursor to ask from next time; `unreadable`: the
    orders read on the way that cannot be taken in (parked by the caller)."""

    orders: tuple[ChannelOrder, ...]
    cursor: str | None
    unreadable: tuple[UnreadableOrder, ...] = ()


class ChannelError(Exception):
    """Base of connector errors; messages never carry credentials."""


class ChannelUnavailableError(ChannelError):
    """The channel is down, timed out, or answered 5xx after the connector's retries."""


class ChannelJobUnknownError(ChannelError):
    """The channel does not know a job we submitted (gone from its records): it will never be
    processed, so the updates it carried can be planned again."""


class ChannelThrottledError(ChannelError):
    """The channel refused for rate; `retry_after` seconds is its own hint, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelAuthError(ChannelError):
    """Credentials refused (bad token, expired key, missing scope)."""


class ChannelConnector(abc.ABC):
    """One channel's API behind the common interface."""

    kind: str  # shopify, woocommerce, amazon, generic
    api_version: str  # the API version the connector speaks (pinned, configurable)

    @abc.abstractmethod
    def limits(self) -> ChannelLimits:
        """The channel's documented limits."""

    @abc.abstractmethod
    def read_listings(self) -> Iterator[list[Listing]]:
        """The catalog with quantities, page by page."""

    @abc.abstractmethod
    def publish(
        self, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult]:
        """Send one batch (at most `limits().max_batch`); a resend with the same key is harmless."""

    #: Called with (idempotency key, job id) the moment the channel accepts a submission it
    #: processes later (an Amazon feed), before its outcome is awaited: the publisher records
    #: it, so that a crash in between leaves the job tracked rather than forgotten.
    on_job_submitted: Callable[[str, str], None] | None = None

    def job_outcome(
        self, job_id: str, updates: Sequence[QuantityUpdate], idempotency_key: str
    ) -> list[UpdateResult] | None:
        """The outcome of an earlier submission (`updates` sent under `idempotency_key`) once
        the channel has processed it, waiting up to the connector's own timeout; None while it
        is still unfinished. Channels that answer every publish at once have no jobs."""
        raise NotImplementedError(f"{self.kind} answers every publish at once: no jobs")

    def cancel_job(self, job_id: str) -> bool:
        """Withdraw a submission the channel has not started; whether it was withdrawn."""
        return False

    def read_orders(self, cursor: str | None) -> OrdersPage:
        """Orders updated since `cursor` (the orders slice implements it per channel)."""
        raise NotImplementedError(f"{self.kind}: reading orders comes with the orders slice")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook's signature is valid (constant-time compare); channels that send
        no webhooks (Amazon, the generic portal) say no."""
        return False

    @abc.abstractmethod
    def endpoints(self) -> tuple[str, ...]:
        """Every URL this connector sends requests to (token endpoints included), so a guard can
        check them all before anything is sent."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> ChannelConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return False


def _no_stamp(headers: Mapping[str, str], body: bytes) -> datetime | None:
    return None


@dataclass(frozen=True)
class WebhookKind:
    """How one kind of channel signs and shapes its order webhooks.

    ``sent_at`` is when the delivery's event happened, read from what the signature covers
    (a header outside it may only make a delivery older, never younger): the receiver
    refuses a delivery older than its replay window. None when the channel stamps nothing.
    """

    verify: Callable[[str, Mapping[str, str], bytes], bool]  # (secret, headers, body)
    parse: Callable[[Mapping[str, str], bytes], list[ChannelOrder]]
    delivery_id: Callable[[Mapping[str, str]], str | None]
    is_ping: Callable[[Mapping[str, str], bytes], bool] = _no_ping
    sent_at: Callable[[Mapping[str, str], bytes], datetime | None] = _no_stamp


@dataclass(frozen=True)
class ChannelSpec:
    """What configuring one kind of channel takes, declared by the channel's own module.

    ``settings`` are a channel's ``INVENTORY_CHANNEL_<NAME>_<FIELD>`` variables keyed by
    ``<FIELD>``, the empty ones left out; ``required`` are the fields that must be there.
    """

    kind: str  # shopify, woocommerce, amazon, generic
    required: tuple[str, ...]
    connect: Callable[[Mapping[str, str]], ChannelConnector]  # settings -> connector
    #: a sandbox emulator's printed credentials -> the settings that point at it
    sandbox_settings: Callable[[Mapping[str, object]], Mapping[str, object]]
    webhooks: WebhookKind | None = None  # None: the channel sends no order webhooks
