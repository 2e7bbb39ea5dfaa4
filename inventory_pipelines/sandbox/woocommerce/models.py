"""The WooCommerce emulator's state: products, variations, stock, orders, keys; no HTTP.

A deterministic catalog per seed: simple products and variable products with 2 to 4
variations. SKUs follow the Odoo sandbox's format (``SKU-000001``...) and numbering, and
barcodes its EAN-13 scheme, so the two sandboxes map onto each other. About 4% of the
stock-carrying items have no SKU and about 3% carry a channel-only SKU (``WC-000001``) that
no ERP knows. Most barcodes sit in the ``global_unique_id`` field (WooCommerce 9.2+); about
one in ten only in a ``_barcode`` meta field, as plugins store them.

Stock follows WooCommerce core: ``stock_status`` is derived from ``stock_quantity`` and
``backorders`` when ``manage_stock`` is on (``instock`` above zero, else ``onbackorder`` when
backorders are allowed, else ``outofstock``); a variable product's status is derived from
its variations.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_CONSUMER_KEY = "ck_sandbox_0000000000000000000000000000000000000000"
DEFAULT_CONSUMER_SECRET = "cs_sandbox_0000000000000000000000000000000000000000"
DEFAULT_PRODUCTS = 60
#: WooCommerce's limit on items per batch request (create + update + delete)
BATCH_LIMIT = 100
BACKORDERS = ("no", "notify", "yes")
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
)
#: statuses whose stock has been given back
RESTOCKED = ("cancelled", "refunded", "failed", "trash")
#: OAuth timestamps further than this from now are refused (WooCommerce core: 15 minutes)
OAUTH_WINDOW_S = 15 * 60


class WooError(Exception):
    """A WooCommerce REST error: ``{code, message, data: {status}}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        """The JSON error body WooCommerce answers with."""
        return {"code": self.code, "message": self.message, "data": {"status": self.status}}


def ean13(number: int) -> str:
    """The EAN-13 for a 12-digit number (check digit appended)."""
    digits = f"{number:012d}"[-12:]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def format_date(moment: datetime) -> str:
    """WooCommerce's date format (``2026-01-31T12:00:00``, no zone; ``_gmt`` fields are UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_date(text: str) -> datetime:
    """Parse an ISO 8601 date; a date without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Item:
    """A product or a variation (``parent_id`` set): what carries SKU and stock."""

    id: int
    name: str
    type: str  # simple, variable, variation
    sku: str = ""
    global_unique_id: str = ""
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    manage_stock: bool = True
    stock_quantity: int | None = 0
    backorders: str = "no"
    manual_stock_status: str = "instock"  # used when stock is not managed
    regular_price: str = "10.00"
    parent_id: int = 0
    variation_ids: list[int] = field(default_factory=list)
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))
    date_modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class OrderLine:
    """One line of an order."""

    id: int
    product_id: int
    variation_id: int
    sku: str
    quantity: int
    name: str


@dataclass
class Order:
    """A minimal order: status, dates, lines, and the ``meta_data`` plugins leave on it."""

    id: int
    status: str
    lines: list[OrderLine]
    date_created: datetime
    date_modified: datetime
    meta_data: list[dict[str, Any]] = field(default_factory=list)


class WooState:
    """The store's catalog, stock, orders and REST keys (thread-safe; no HTTP)."""

    def __init__(
        self,
        products: int = DEFAULT_PRODUCTS,
        seed: int = 0,
        *,
        consumer_key: str = DEFAULT_CONSUMER_KEY,
        consumer_secret: str = DEFAULT_CONSUMER_SECRET,
    ) -> None:
        self.lock = threading.RLock()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.seed = seed
        self.items: dict[int, Item] = {}
        self.orders: dict[int, Order] = {}
        #: called with each new order, outside the lock (the server sends webhooks from it)
        self.order_listeners: list[Callable[[Order], None]] = []
        self._next_id = 10
        self._next_order = 1000
        self._next_line = 1
        self._nonces: dict[str, float] = {}
        self.clock_offset = timedelta()
        self._build(products, seed)

    # -- catalog ---------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def now(self) -> datetime:
        """The store's clock (real UTC time plus a settable offset)."""
        return datetime.now(UTC) + self.clock_offset

    def _build(self, products: int, seed: int) -> None:
        rng = random.Random(seed)
        counter = 0
        channel_only = 0
        created = datetime(2026, 1, 1, tzinfo=UTC)

        def stock_item(item: Item) -> None:
            nonlocal counter, channel_only
            roll = rng.random()
            if roll < 0.04:
                item.sku = ""
            elif roll < 0.07:
                channel_only += 1
                item.sku = f"WC-{channel_only:06d}"
            else:
                counter += 1
                item.sku = f"SKU-{counter:06d}"
                barcode = ean13(200000000000 + counter)
                if rng.random() < 0.1:
                    item.meta_data.append(
                        {"id": self._new_id(), "key": "_barcode", "value": barcode}
                    )
                else:
                    item.global_unique_id = barcode
            item.manage_stock = rng.random() >= 0.05
            # a fifth of the items run low, so zero-outs and backorders show up
            quantity = rng.choice([0, 0, 1, 2, 5]) if rng.random() < 0.2 else rng.randint(0, 200)
            item.stock_quantity = quantity if item.manage_stock else None
            item.backorders = rng.choices(BACKORDERS, weights=(85, 10, 5))[0]
            item.date_created = item.date_modified = created

        for number in range(1, products + 1):
            if rng.random() < 0.3:
                parent = Item(self._new_id(), f"Variable product {number}", "variable")
                parent.manage_stock = False
                parent.stock_quantity = None
                parent.date_created = parent.date_modified = created
                self.items[parent.id] = parent
                for size in ("S", "M", "L", "XL")[: rng.randint(2, 4)]:
                    variation = Item(
                        self._new_id(), f"Variable product {number} - {size}", "variation"
                    )
                    variation.parent_id = parent.id
                    stock_item(variation)
                    self.items[variation.id] = variation
                    parent.variation_ids.append(variation.id)
            else:
                item = Item(self._new_id(), f"Simple product {number}", "simple")
                stock_item(item)
                self.items[item.id] = item

    # -- reading ---------------------------------------------------------------------------------

    def stock_status(self, item: Item) -> str:
        """The derived ``stock_status`` (variable products: from their variations)."""
        if item.type == "variable":
            children = [self.items[i] for i in item.variation_ids if i in self.items]
            statuses = {self.stock_status(c) for c in children}
            for status in STOCK_STATUSES:
                if status in statuses:
                    return status
            return "outofstock"
        if not item.manage_stock:
            return item.manual_stock_status
        if (item.stock_quantity or 0) > 0:
            return "instock"
        return "onbackorder" if item.backorders != "no" else "outofstock"

    def products(self) -> list[Item]:
        """Products (not variations), in id order."""
        with self.lock:
            return [i for i in self.items.values() if i.type != "variation"]

    def product(self, product_id: int, status: int = 404) -> Item:
        """One product, or ``woocommerce_rest_product_invalid_id`` with ``status``."""
        item = self.items.get(product_id)
        if item is None or item.type == "variation":
            raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", status)
        return item

    def variations(self, product_id: int) -> list[Item]:
        """A product's variations, in id order."""
        with self.lock:
            parent = self.product(product_id)
            return [self.items[i] for i in parent.variation_ids if i in self.items]

    def variation(self, product_id: int, variation_id: int, status: int = 404) -> Item:
        """One variation of a product, or ``woocommerce_rest_product_variation_invalid_id``."""
        item = self.items.get(variation_id)
        if item is None or item.type != "variation" or item.parent_id != product_id:
            raise WooError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", status)
        return item

    def find_sku(self, sku: str) -> Item | None:
        """The product or variation with this SKU."""
        with self.lock:
            return next((i for i in self.items.values() if sku and i.sku == sku), None)

    # -- writing ---------------------------------------------------------------------------------

    def apply_fields(self, item: Item, data: Mapping[str, Any]) -> None:
        """Write the writable fields of a REST body onto an item (unknown fields ignored)."""
        if "sku" in data:
            sku = str(data["sku"] or "")
            other = self.find_sku(sku)
            if sku and other is not None and other.id != item.id:
                raise WooError("product_invalid_sku", "Invalid or duplicated SKU.", 400)
        if "stock_quantity" in data and data["stock_quantity"] is not None:
            value = data["stock_quantity"]
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise WooError("rest_invalid_param", "Invalid parameter(s): stock_quantity", 400)
            try:
                int(value)
            except ValueError as exc:
                raise WooError(
                    "rest_invalid_param", "Invalid parameter(s): stock_quantity", 400
                ) from exc
        if "backorders" in data and data["backorders"] not in BACKORDERS:
            raise WooError("rest_invalid_param", "Invalid parameter(s): backorders", 400)
        if "stock_status" in data and data["stock_status"] not in STOCK_STATUSES:
            raise WooError("rest_invalid_param", "Invalid parameter(s): stock_status", 400)
        if "name" in data:
            item.name = str(data["name"])
        if "sku" in data:
            item.sku = str(data["sku"] or "")
        if "global_unique_id" in data:
            item.global_unique_id = str(data["global_unique_id"] or "")
        if "regular_price" in data:
            item.regular_price = str(data["regular_price"])
        if "meta_data" in data:
            for meta in data["meta_data"] or []:
                existing = next((m for m in item.meta_data if m["key"] == meta.get("key")), None)
                if existing is not None:
                    existing["value"] = meta.get("value")
                else:
                    item.meta_data.append(
                        {"id": self._new_id(), "key": meta.get("key"), "value": meta.get("value")}
                    )
        if "manage_stock" in data:
            item.manage_stock = bool(data["manage_stock"])
        if "backorders" in data:
            item.backorders = data["backorders"]
        if "stock_status" in data:
            item.manual_stock_status = data["stock_status"]
        if item.type == "variable":
            # WooCommerce keeps stock on the variations of a variable product here
            item.stock_quantity = None
        elif item.manage_stock:
            if data.get("stock_quantity") is not None:
                item.stock_quantity = int(data["stock_quantity"])
            elif item.stock_quantity is None:
                item.stock_quantity = 0
        else:
            item.stock_quantity = None
        item.date_modified = self.now()

    def create(self, data: Mapping[str, Any], parent_id: int = 0) -> Item:
        """Create a product (or a variation of ``parent_id``)."""
        with self.lock:
            kind = "variation" if parent_id else str(data.get("type") or "simple")
            if kind not in ("simple", "variable", "variation"):
                raise WooError("rest_invalid_param", "Invalid parameter(s): type", 400)
            parent = self.product(parent_id) if parent_id else None
            item = Item(self._new_id(), str(data.get("name") or "Product"), kind)
            item.manage_stock = False
            item.stock_quantity = None
            item.date_created = self.now()
            item.parent_id = parent_id
            self.apply_fields(item, data)
            self.items[item.id] = item
            if parent is not None:
                parent.variation_ids.append(item.id)
            return item

    def update(self, item_id: int, data: Mapping[str, Any], parent_id: int = 0) -> Item:
        """Update a product (or a variation of ``parent_id``); an unknown id is a 400."""
        with self.lock:
            item = (
                self.variation(parent_id, item_id, 400) if parent_id else self.product(item_id, 400)
            )
            self.apply_fields(item, data)
            return item

    def delete(self, item_id: int, parent_id: int = 0) -> Item:
        """Delete a product and its variations (or one variation of ``parent_id``)."""
        with self.lock:
            item = self.variation(parent_id, item_id) if parent_id else self.product(item_id)
            for child in item.variation_ids:
                self.items.pop(child, None)
            self.items.pop(item.id)
            if parent_id:
                self.items[parent_id].variation_ids.remove(item_id)
            return item

    def set_stock(self, item_id: int, quantity: int) -> Item:
        """Set an item's stock directly (a shop manager's edit in the admin)."""
        with self.lock:
            item = self.items[item_id]
            item.manage_stock = True
            item.stock_quantity = int(quantity)
            item.date_modified = self.now()
            return item

    # -- orders ----------------------------------------------------------------------------------

    def sell(
        self,
        item_id: int,
        quantity: int = 1,
        status: str = "processing",
        meta_data: list[dict[str, Any]] | None = None,
    ) -> Order:
        """Place an order for ``quantity`` of a product or variation; stock goes down.
        ``meta_data`` (``[{"key", "value"}]``) is what plugins store on an order."""
        with self.lock:
            item = self.items.get(item_id)
            if item is None or item.type == "variable":
                raise WooError("woocommerce_rest_invalid_product_id", "Invalid product ID.", 400)
            if item.manage_stock:
                item.stock_quantity = (item.stock_quantity or 0) - int(quantity)
                item.date_modified = self.now()
            now = self.now()
            self._next_order += 1
            self._next_line += 1
            line = OrderLine(
                self._next_line,
                item.parent_id or item.id,
                item.id if item.parent_id else 0,
                item.sku,
                int(quantity),
                item.name,
            )
            order = Order(self._next_order, status, [line], now, now, list(meta_data or []))
            self.orders[order.id] = order
        for listener in list(self.order_listeners):
            listener(order)
        return order

    def set_order_status(self, order_id: int, status: str) -> Order:
        """Move an order to ``status``; cancelling or refunding gives its stock back."""
        with self.lock:
            if status not in ORDER_STATUSES:
                raise WooError("rest_invalid_param", "Invalid parameter(s): status", 400)
            order = self.orders.get(order_id)
            if order is None:
                raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            if status in RESTOCKED and order.status not in RESTOCKED:
                for line in order.lines:
                    item = self.items.get(line.variation_id or line.product_id)
                    if item is not None and item.manage_stock:
                        item.stock_quantity = (item.stock_quantity or 0) + line.quantity
                        item.date_modified = self.now()
            order.status = status
            order.date_modified = self.now()
            return order

    def list_orders(
        self, statuses: Iterable[str] | None = None, modified_after: datetime | None = None
    ) -> list[Order]:
        """Orders filtered by status and last modification, oldest first."""
        with self.lock:
            wanted = set(statuses or ())
            return [
                o
                for o in sorted(self.orders.values(), key=lambda o: (o.date_modified, o.id))
                if (not wanted or o.status in wanted)
                and (modified_after is None or o.date_modified > modified_after)
            ]

    # -- keys ------------------------------------------------------------------------------------

    def check_nonce(self, nonce: str, timestamp: int) -> None:
        """Refuse an OAuth timestamp out of the window, or a nonce seen before (replay)."""
        now = self.now().timestamp()
        if abs(now - timestamp) > OAUTH_WINDOW_S:
            raise WooError("woocommerce_rest_authentication_error", "Invalid timestamp.", 401)
        with self.lock:
            for seen, stamp in list(self._nonces.items()):
                if stamp < now - OAUTH_WINDOW_S:
                    del self._nonces[seen]
            if nonce in self._nonces:
                raise WooError(
                    "woocommerce_rest_authentication_error",
                    "Invalid nonce - nonce has already been used.",
                    401,
                )
            self._nonces[nonce] = now

    def summary(self) -> dict[str, Any]:
        """Counts for ``GET /sandbox/state``."""
        with self.lock:
            kinds: dict[str, int] = {}
            for item in self.items.values():
                kinds[item.type] = kinds.get(item.type, 0) + 1
            return {
                "products": sum(v for k, v in kinds.items() if k != "variation"),
                "variations": kinds.get("variation", 0),
                "by_type": kinds,
                "orders": len(self.orders),
                "now": format_date(self.now()),
            }
