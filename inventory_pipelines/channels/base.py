"""The one interface every channel connector implements (DESIGN.md section 5).

A connector reads listings and their quantities, publishes a batch of quantities, reads
orders since a cursor, verifies a webhook, and declares its limits. Nothing channel-specific
lives outside its own module; the publisher (ledger + Dagster) only sees this interface.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class ChannelLimits:
    """What the channel allows, so the publisher can plan batches and pace requests."""

    max_batch: int  # items per publish request (Shopify 250, WooCommerce 100, Amazon 1 patch)
    requests_per_s: float  # sustained rate the channel documents
    burst: int  # requests allowed at once before the rate applies
    compare_and_set: bool  # whether a publish can carry the quantity it expects to replace
    bulk_batch: int | None = None  # items per bulk submission (Amazon feeds: 25,000)
    bulk_threshold: int | None = None  # from this many waiting updates on, plan bulk batches


@dataclass(frozen=True)
class Listing:
    """One sellable listing on a channel, as its catalog shows it."""

    listing_id: str  # the channel's id for the stock-carrying item (inventory item, variant, SKU)
    sku: str | None
    barcode: str | None
    quantity: int | None  # what the channel shows now (None when unknown)
    title: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # channel-specific ids (location...)


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


@dataclass(frozen=True)
class ChannelOrder:
    """An order, cancellation or return as read from a channel (orders slice)."""

    external_id: str
    event: str  # created, cancelled, refunded, returned
    lines: tuple[tuple[str, str | None, float], ...]  # (listing_id, sku, quantity)
    updated_at: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrdersPage:
    """Orders since a cursor, and the cursor to ask from next time."""

    orders: tuple[ChannelOrder, ...]
    cursor: str | None


class ChannelError(Exception):
    """Base of connector errors; messages never carry credentials."""


class ChannelUnavailableError(ChannelError):
    """The channel is down, timed out, or answered 5xx after the connector's retries."""


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

    def read_orders(self, cursor: str | None) -> OrdersPage:
        """Orders updated since `cursor` (the orders slice implements it per channel)."""
        raise NotImplementedError(f"{self.kind}: reading orders comes with the orders slice")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook's signature is valid (constant-time compare)."""
        raise NotImplementedError(f"{self.kind}: webhooks come with the orders slice")

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> ChannelConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
