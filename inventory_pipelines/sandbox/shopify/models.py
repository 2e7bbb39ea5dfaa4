"""The emulated shop's state and rules: catalog, inventory levels, orders, cost bucket, keys.

No HTTP and no GraphQL here (that is :mod:`.responses`); every method is thread-safe under
:attr:`ShopState.lock`, so tests may sell or inspect while the server thread answers.

Demo data, deterministic for a ``(skus, seed, locations)`` triple:

- Locations ``Shop location`` and, with ``locations=2`` (default), ``Warehouse``.
- SKU numbers ``1..skus`` in the Odoo sandbox's format (``SKU-000001``), with the same
  EAN-13 barcodes (``ean13(200000000000 + n)``) so the two catalogs match; ~5% of the numbers
  are missing from the shop, ~3% of the variants have no barcode, and ~3% extra variants have
  no SKU at all (unmapped). ~15% of the products have 2-4 variants (``S``, ``M``, ``L``,
  ``XL``).
- Every inventory item is stocked at the first location; ~70% also at the second.
  ``available`` is 0-100 (~5% at 0); ~10% of the levels have committed units, so
  ``on_hand = available + committed``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

DEFAULT_ACCESS_TOKEN = "shpat_sandbox_0123456789abcdef0123456789abcdef"
DEFAULT_SHOP = "sandbox-shop.myshopify.com"
#: the first API version where ``changeFromQuantity`` and ``@idempotent`` are mandatory
CHANGE_FROM_VERSION = "2026-04"
#: the quantity names ``inventorySetQuantities`` accepts
SETTABLE_NAMES = ("available", "on_hand")
#: the names a level can be read with
READABLE_NAMES = ("available", "on_hand", "committed")
MAX_INPUT_SIZE = 250
MAX_QUANTITY = 1_000_000_000

LOCATION_BASE = 60_000_000_000
PRODUCT_BASE = 8_000_000_000
VARIANT_BASE = 44_000_000_000
ITEM_BASE = 46_000_000_000
ORDER_BASE = 5_000_000_000
ADJUSTMENT_BASE = 90_000_000_000
SIZES = ("S", "M", "L", "XL")


def gid(kind: str, number: int) -> str:
    """A Shopify global id: ``gid://shopify/<Kind>/<number>``."""
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str, kind: str) -> int | None:
    """The number of a ``gid://shopify/<kind>/<n>``, or None when it is not one."""
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    tail = value[len(prefix) :].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def ean13(number: int) -> str:
    """An EAN-13 string from a 12-digit payload (check digit computed like a real one)."""
    payload = f"{number:012d}"[-12:]
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(payload))
    return payload + str((10 - total % 10) % 10)


def api_version_at_least(version: str, minimum: str) -> bool:
    """Whether ``version`` (``YYYY-MM`` or ``unstable``) is ``minimum`` or later."""
    return version == "unstable" or version >= minimum


@dataclass
class Location:
    """A place stock is kept (``gid://shopify/Location/<id>``)."""

    id: int
    name: str
    is_active: bool = True


@dataclass
class Variant:
    """A product variant; its stock is carried by one inventory item."""

    id: int
    product_id: int
    product_title: str
    title: str
    sku: str | None
    barcode: str | None
    inventory_item_id: int

    @property
    def display_name(self) -> str:
        """``Product - Variant`` as the admin shows it."""
        if self.title == "Default Title":
            return self.product_title
        return f"{self.product_title} - {self.title}"


@dataclass
class Level:
    """An inventory item's quantities at one location (``on_hand = available + committed``)."""

    available: int
    committed: int = 0
    updated_at: str = ""

    @property
    def on_hand(self) -> int:
        """Units physically present: available plus committed to unfulfilled orders."""
        return self.available + self.committed

    def quantity(self, name: str) -> int:
        """The quantity by its Shopify name."""
        if name == "available":
            return self.available
        if name == "committed":
            return self.committed
        if name == "on_hand":
            return self.on_hand
        return 0


@dataclass
class Order:
    """A placed order (what ``sell`` creates): lines of (sku, inventory item id, quantity)."""

    id: int
    name: str
    created_at: str
    updated_at: str
    lines: list[tuple[str | None, int, int]]
    location_id: int
    cancelled_at: str | None = None


@dataclass(frozen=True)
class UserError:
    """A mutation userError: ``{code, field, message}``."""

    code: str
    field: tuple[str, ...] | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The GraphQL shape."""
        return {
            "code": self.code,
            "field": list(self.field) if self.field is not None else None,
            "message": self.message,
        }


class InputTooLargeError(ValueError):
    """An input array above :data:`MAX_INPUT_SIZE` (a top-level GraphQL error)."""


@dataclass(frozen=True)
class AdjustmentGroup:
    """What one applied ``inventorySetQuantities`` changed."""

    id: int
    reason: str
    reference_document_uri: str | None
    created_at: str
    changes: tuple[dict[str, Any], ...]  # {name, delta, quantityAfterChange, item, location}


@dataclass(frozen=True)
class SetQuantitiesResult:
    """The outcome of ``inventorySetQuantities``: a group when applied, else userErrors."""

    group: AdjustmentGroup | None
    user_errors: tuple[UserError, ...]


class CostBucket:
    """Shopify's leaky bucket of query cost points (Standard plan: 1000, restoring 100/s)."""

    def __init__(
        self,
        maximum_available: float = 1000.0,
        restore_rate: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.maximum_available = float(maximum_available)
        self.restore_rate = float(restore_rate)
        self._available = self.maximum_available
        self._at = clock()

    def _restore(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._at)
        self._available = min(self.maximum_available, self._available + elapsed * self.restore_rate)
        self._at = now

    @property
    def currently_available(self) -> float:
        """Points available now."""
        self._restore()
        return self._available

    def try_consume(self, cost: float) -> bool:
        """Take ``cost`` points if the bucket holds them; False (nothing taken) otherwise."""
        self._restore()
        if self._available < cost:
            return False
        self._available -= cost
        return True

    def refund(self, points: float) -> None:
        """Give back points (requested minus actual cost)."""
        self._restore()
        self._available = min(self.maximum_available, self._available + max(0.0, points))

    def configure(
        self,
        maximum_available: float | None = None,
        restore_rate: float | None = None,
        currently_available: float | None = None,
    ) -> None:
        """Change the bucket (size, restore rate, or its current fill)."""
        self._restore()
        if maximum_available is not None:
            self.maximum_available = float(maximum_available)
            self._available = min(self._available, self.maximum_available)
        if restore_rate is not None:
            self.restore_rate = float(restore_rate)
        if currently_available is not None:
            self._available = min(self.maximum_available, max(0.0, float(currently_available)))

    def status(self) -> dict[str, float | int]:
        """``throttleStatus``: ``{maximumAvailable, currentlyAvailable, restoreRate}``."""
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": int(self.currently_available),
            "restoreRate": self.restore_rate,
        }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ShopState:
    """One shop: locations, variants, inventory levels, orders, cost bucket, idempotency."""

    def __init__(
        self,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        shop: str = DEFAULT_SHOP,
        *,
        maximum_available: float = 1000.0,
        restore_rate: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.lock = threading.RLock()
        self.access_token = access_token
        self.shop = shop
        self.now = now
        self.bucket = CostBucket(maximum_available, restore_rate, clock)
        self.locations: dict[int, Location] = {}
        self.variants: dict[int, Variant] = {}
        self.variant_by_item: dict[int, int] = {}
        self.variant_by_sku: dict[str, int] = {}
        self.levels: dict[tuple[int, int], Level] = {}
        self.orders: dict[int, Order] = {}
        #: called with each new order, outside the lock (the server sends webhooks from it)
        self.order_listeners: list[Callable[[Order], None]] = []
        self.idempotency: dict[str, tuple[bytes, Any]] = {}
        self.throttled_count = 0
        #: the HTTP status of a THROTTLED answer: 200 (Shopify's GraphQL docs) or 429 (the
        #: spec leaves it unverified; a client must handle both)
        self.throttled_status_code = 200
        self.applied_mutations = 0
        self._next_order = 1
        self._next_adjustment = 1

    # -- reading ------------------------------------------------------------------------------

    def now_iso(self) -> str:
        """The shop clock as an ISO-8601 UTC timestamp."""
        return _iso(self.now())

    def location_ids(self) -> list[int]:
        """Location ids in creation order (the first is the default location)."""
        with self.lock:
            return list(self.locations)

    def variant_for_sku(self, sku: str) -> Variant | None:
        """The variant carrying ``sku`` (None when the shop does not sell it)."""
        with self.lock:
            variant_id = self.variant_by_sku.get(sku)
            return self.variants[variant_id] if variant_id is not None else None

    def item_levels(self, item_id: int) -> list[tuple[int, Level]]:
        """``(location id, level)`` for every location stocking the item."""
        with self.lock:
            return [
                (location_id, self.levels[(item_id, location_id)])
                for location_id in self.locations
                if (item_id, location_id) in self.levels
            ]

    def _resolve_item(self, sku_or_item: str | int) -> int:
        if isinstance(sku_or_item, int):
            item_id: int | None = sku_or_item
        elif sku_or_item.startswith("gid://"):
            item_id = parse_gid(sku_or_item, "InventoryItem")
        else:
            variant = self.variant_for_sku(sku_or_item)
            item_id = variant.inventory_item_id if variant else None
        if item_id is None or item_id not in self.variant_by_item:
            raise KeyError(f"no inventory item for {sku_or_item!r}")
        return item_id

    def quantity(
        self, sku_or_item: str | int, name: str = "available", location_id: int | None = None
    ) -> int:
        """A level's quantity by SKU, item id or item gid (default: first location)."""
        with self.lock:
            item_id = self._resolve_item(sku_or_item)
            location = location_id if location_id is not None else self.location_ids()[0]
            return self.levels[(item_id, location)].quantity(name)

    # -- changing, outside the API (tests, the scenario driver) ---------------------------------

    def add_variant(self, variant: Variant) -> None:
        """Register a variant and its inventory item (no levels: stock it with ``levels``)."""
        with self.lock:
            self.variants[variant.id] = variant
            self.variant_by_item[variant.inventory_item_id] = variant.id
            if variant.sku:
                self.variant_by_sku.setdefault(variant.sku, variant.id)

    def sell(
        self, sku_or_item: str | int, quantity: int = 1, location_id: int | None = None
    ) -> Order:
        """Place an order: ``available`` drops and ``committed`` rises (``on_hand`` unchanged)."""
        with self.lock:
            item_id = self._resolve_item(sku_or_item)
            location = location_id if location_id is not None else self.location_ids()[0]
            level = self.levels.get((item_id, location))
            if level is None:
                raise KeyError(f"item {item_id} is not stocked at location {location}")
            stamp = self.now_iso()
            level.available -= int(quantity)
            level.committed += int(quantity)
            level.updated_at = stamp
            number = self._next_order
            self._next_order += 1
            variant = self.variants[self.variant_by_item[item_id]]
            order = Order(
                id=ORDER_BASE + number,
                name=f"#{1000 + number}",
                created_at=stamp,
                updated_at=stamp,
                lines=[(variant.sku, item_id, int(quantity))],
                location_id=location,
            )
            self.orders[order.id] = order
        for listener in list(self.order_listeners):
            listener(order)
        return order

    def set_quantity_silently(
        self,
        sku_or_item: str | int,
        available: int,
        location_id: int | None = None,
    ) -> None:
        """Overwrite ``available`` without an order or an adjustment (drift for reconciliation)."""
        with self.lock:
            item_id = self._resolve_item(sku_or_item)
            location = location_id if location_id is not None else self.location_ids()[0]
            self.levels[(item_id, location)].available = int(available)

    # -- the inventorySetQuantities mutation ----------------------------------------------------

    def set_quantities(
        self,
        api_version: str,
        name: str,
        reason: str,
        reference_document_uri: str | None,
        quantities: list[Mapping[str, Any]],
        *,
        ignore_compare_quantity: bool = False,
    ) -> SetQuantitiesResult:
        """Validate every item, then apply all of them or none (atomic per mutation).

        From ``2026-04`` each item carries ``changeFromQuantity`` (None skips the check) and a
        mismatch is ``CHANGE_FROM_QUANTITY_STALE``; before, ``compareQuantity`` is checked
        unless ``ignoreCompareQuantity`` and a mismatch is ``COMPARE_QUANTITY_STALE``.
        """
        if len(quantities) > MAX_INPUT_SIZE:
            raise InputTooLargeError(
                f"The input array size of {len(quantities)} is greater than the maximum "
                f"allowed of {MAX_INPUT_SIZE}."
            )
        modern = api_version_at_least(api_version, CHANGE_FROM_VERSION)
        errors: list[UserError] = []
        if name not in SETTABLE_NAMES:
            errors.append(
                UserError(
                    "INVALID_NAME",
                    ("input", "name"),
                    f"The quantity name must be one of {', '.join(SETTABLE_NAMES)}.",
                )
            )
        with self.lock:
            seen: set[tuple[int, int]] = set()
            planned: list[tuple[int, int, int]] = []
            for index, entry in enumerate(quantities):
                path = ("input", "quantities", str(index))
                error = self._check_item(entry, path, name, modern, ignore_compare_quantity, seen)
                if isinstance(error, UserError):
                    errors.append(error)
                elif error is not None:
                    planned.append(error)
            if errors:
                return SetQuantitiesResult(None, tuple(errors))
            return SetQuantitiesResult(
                self._apply(name, reason, reference_document_uri, planned), ()
            )

    def _check_item(
        self,
        entry: Mapping[str, Any],
        path: tuple[str, ...],
        name: str,
        modern: bool,
        ignore_compare: bool,
        seen: set[tuple[int, int]],
    ) -> UserError | tuple[int, int, int] | None:
        item_id = parse_gid(entry.get("inventoryItemId", ""), "InventoryItem")
        if item_id is None or item_id not in self.variant_by_item:
            return UserError(
                "INVALID_INVENTORY_ITEM",
                (*path, "inventoryItemId"),
                "The specified inventory item could not be found.",
            )
        location_id = parse_gid(entry.get("locationId", ""), "Location")
        if location_id is None or location_id not in self.locations:
            return UserError(
                "INVALID_LOCATION",
                (*path, "locationId"),
                "The specified location could not be found.",
            )
        level = self.levels.get((item_id, location_id))
        if level is None:
            return UserError(
                "ITEM_NOT_STOCKED_AT_LOCATION",
                (*path, "locationId"),
                "The specified inventory item is not stocked at the location.",
            )
        quantity = int(entry["quantity"])
        if quantity < 0:
            return UserError(
                "INVALID_QUANTITY_NEGATIVE",
                (*path, "quantity"),
                "The quantity can't be negative.",
            )
        if quantity > MAX_QUANTITY:
            return UserError(
                "INVALID_QUANTITY_TOO_HIGH",
                (*path, "quantity"),
                f"The quantity can't be higher than {MAX_QUANTITY:,}.",
            )
        if (item_id, location_id) in seen:
            return UserError(
                "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                (*path, "inventoryItemId"),
                "The combination of inventoryItemId and locationId must be unique.",
            )
        seen.add((item_id, location_id))
        current = level.quantity(name)
        if modern:
            expected = entry.get("changeFromQuantity")
            if expected is not None and int(expected) != current:
                return UserError(
                    "CHANGE_FROM_QUANTITY_STALE",
                    (*path, "changeFromQuantity"),
                    "The quantity has changed since it was last read: "
                    "changeFromQuantity does not match the current quantity.",
                )
        elif not ignore_compare:
            expected = entry.get("compareQuantity")
            if expected is not None and int(expected) != current:
                return UserError(
                    "COMPARE_QUANTITY_STALE",
                    (*path, "compareQuantity"),
                    "The compareQuantity argument no longer matches the persisted quantity.",
                )
        return (item_id, location_id, quantity)

    def _apply(
        self,
        name: str,
        reason: str,
        reference_document_uri: str | None,
        planned: Iterable[tuple[int, int, int]],
    ) -> AdjustmentGroup | None:
        stamp = self.now_iso()
        changes: list[dict[str, Any]] = []
        for item_id, location_id, quantity in planned:
            level = self.levels[(item_id, location_id)]
            delta = quantity - level.quantity(name)
            if delta == 0:
                continue
            # setting one name moves the other by the same delta, as in Shopify
            level.available += delta
            level.updated_at = stamp
            for changed in ("available", "on_hand"):
                changes.append(
                    {
                        "name": changed,
                        "delta": delta,
                        "quantityAfterChange": level.quantity(changed),
                        "item_id": item_id,
                        "location_id": location_id,
                    }
                )
        self.applied_mutations += 1
        if not changes:
            return None
        number = self._next_adjustment
        self._next_adjustment += 1
        return AdjustmentGroup(
            ADJUSTMENT_BASE + number, reason, reference_document_uri, stamp, tuple(changes)
        )

    # -- idempotency ------------------------------------------------------------------------------

    def idempotent(
        self, key: str, arguments: Mapping[str, Any], run: Callable[[], Any]
    ) -> tuple[bool, Any]:
        """Run once per key: ``(True, result)`` first (or replay), ``(False, None)`` on a key
        reused with other arguments."""
        fingerprint = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
        with self.lock:
            known = self.idempotency.get(key)
            if known is not None:
                return (known[0] == fingerprint, known[1] if known[0] == fingerprint else None)
            result = run()
            self.idempotency[key] = (fingerprint, result)
            return True, result

    # -- summary --------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts for ``GET /sandbox/state``."""
        with self.lock:
            return {
                "shop": self.shop,
                "locations": [
                    {"id": gid("Location", loc.id), "name": loc.name}
                    for loc in self.locations.values()
                ],
                "variants": len(self.variants),
                "variants_without_sku": sum(1 for v in self.variants.values() if not v.sku),
                "levels": len(self.levels),
                "orders": len(self.orders),
                "applied_mutations": self.applied_mutations,
                "idempotency_keys": len(self.idempotency),
                "throttled_count": self.throttled_count,
                "throttle_status": self.bucket.status(),
            }


@dataclass
class _Draft:
    variants: list[Variant] = field(default_factory=list)


def build_shop(
    skus: int = 200,
    seed: int = 0,
    locations: int = 2,
    *,
    access_token: str = DEFAULT_ACCESS_TOKEN,
    maximum_available: float = 1000.0,
    restore_rate: float = 100.0,
    clock: Callable[[], float] = time.monotonic,
) -> ShopState:
    """A shop loaded with the deterministic demo catalog (see the module docstring)."""
    if locations not in (1, 2):
        raise ValueError("locations must be 1 or 2")
    rng = random.Random(seed)
    state = ShopState(
        access_token,
        maximum_available=maximum_available,
        restore_rate=restore_rate,
        clock=clock,
    )
    for index, name in enumerate(("Shop location", "Warehouse")[:locations]):
        state.locations[LOCATION_BASE + index + 1] = Location(LOCATION_BASE + index + 1, name)
    location_ids = list(state.locations)
    draft = _Draft()
    product_number = 0
    number = 1

    def add_variant(product: int, product_title: str, title: str, sku_number: int | None) -> None:
        index = len(draft.variants) + 1
        sku = f"SKU-{sku_number:06d}" if sku_number is not None else None
        barcode = None
        if sku_number is not None and rng.random() >= 0.03:
            barcode = ean13(200_000_000_000 + sku_number)
        draft.variants.append(
            Variant(
                VARIANT_BASE + index,
                PRODUCT_BASE + product,
                product_title,
                title,
                sku,
                barcode,
                ITEM_BASE + index,
            )
        )

    while number <= skus:
        product_number += 1
        title = f"Product {product_number:05d}"
        if rng.random() < 0.03:
            add_variant(product_number, title, "Default Title", None)
            continue
        sizes = SIZES[: rng.randint(2, 4)] if rng.random() < 0.15 else ("Default Title",)
        for size in sizes:
            if number > skus:
                break
            if rng.random() >= 0.05:  # ~5% of the SKU numbers are not sold on the shop
                add_variant(product_number, title, size, number)
            number += 1
    for variant in draft.variants:
        state.add_variant(variant)
        for position, location_id in enumerate(location_ids):
            if position > 0 and rng.random() >= 0.7:
                continue
            available = 0 if rng.random() < 0.05 else rng.randint(1, 100)
            committed = rng.randint(1, 3) if rng.random() < 0.1 else 0
            state.levels[(variant.inventory_item_id, location_id)] = Level(
                available, committed, "2025-01-01T00:00:00Z"
            )
    return state
