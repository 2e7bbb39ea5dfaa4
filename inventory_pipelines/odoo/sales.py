"""Sale orders and their transfers in Odoo (16 to 19): what order ingestion writes and reads.

`OdooSales` wraps an `OdooClient` with the calls that take a channel order into Odoo: find
one by its customer reference, create, confirm and cancel it, follow its deliveries, and make
a return through Odoo's return wizard. The differences between versions stay here: the sale
line's unit field (``product_uom`` up to 18, ``product_uom_id`` on 19) and the wizard's button
(``create_returns`` up to 17, ``action_create_returns`` from 18).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inventory_pipelines.odoo.client import OdooClient
from inventory_pipelines.odoo.snapshot import read_products

__all__ = ["CANCELLED", "CONFIRMED", "DRAFT", "OdooSales", "SaleLine", "SaleOrder"]

log = logging.getLogger(__name__)

#: sale order states (``sale.order.state``)
DRAFT = "draft"
CONFIRMED = "sale"
CANCELLED = "cancel"

# Cancel a confirmed order outright instead of answering with Odoo's cancel wizard.
_NO_CANCEL_WARNING = {"disable_cancel_warning": True}
#: quantities are floats in Odoo: a cover short by less than this is a cover
_EPSILON = 1e-9


@dataclass(frozen=True)
class SaleOrder:
    """A sale order as ingestion sees it: its id, state and transfers."""

    id: int
    state: str
    picking_ids: tuple[int, ...] = ()
    warehouse_id: int | None = None


@dataclass(frozen=True)
class SaleLine:
    """One line of a sale order to create, its quantity in the product's unit `uom_id`."""

    product_id: int
    quantity: float
    name: str
    uom_id: int | None = None
    price_unit: float | None = None
    # a route for this line (the drop-ship route: the vendor ships it, Odoo raises the
    # purchase order on confirmation); None: the warehouse's own routes
    route_id: int | None = None


class OdooSales:
    """Sale orders, partners, warehouses and returns in one Odoo.

    Partners, warehouses and products are cached for the life of the object (one ingestion
    pass); orders and transfers are always read afresh.
    """

    def __init__(self, client: OdooClient) -> None:
        self.client = client
        self._partners: dict[tuple[str, str], int | None] = {}
        self._warehouses: dict[str, int | None] = {}
        self._products: dict[str, dict[str, Any] | None] = {}

    # -- what orders are made of ---------------------------------------------------------------

    def products_by_sku(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """SKU -> product row of `read_products` for the SKUs Odoo knows (archived included;
        the active product where two share a SKU)."""
        missing = [sku for sku in skus if sku not in self._products]
        if missing:
            found: dict[str, dict[str, Any]] = {}
            for row in read_products(self.client, missing).iter_rows(named=True):
                if row["sku"] and (row["sku"] not in found or row["active"]):
                    found[row["sku"]] = row
            for sku in missing:
                self._products[sku] = found.get(sku)
        return {sku: row for sku in skus if (row := self._products.get(sku)) is not None}

    def partner_by_email(self, email: str) -> int | None:
        """The oldest partner with this e-mail (case and surrounding blanks ignored), or None."""
        return self._partner("email", email.strip().lower())

    def partner_by_name(self, name: str) -> int | None:
        """The oldest partner with exactly this name, or None."""
        return self._partner("name", name)

    def _partner(self, field_name: str, value: str) -> int | None:
        key = (field_name, value)
        if key not in self._partners:
            operator = "=ilike" if field_name == "email" else "="
            ids = self.client.call(
                "res.partner",
                "search",
                [[[field_name, operator, value]]],
                {"limit": 1, "order": "id asc"},
            )
            self._partners[key] = ids[0] if ids else None
        return self._partners[key]

    def warehouse_by_code(self, code: str) -> int | None:
        """The id of the warehouse with this code, or None."""
        if code not in self._warehouses:
            ids = self.client.call("stock.warehouse", "search", [[["code", "=", code]]])
            self._warehouses[code] = ids[0] if ids else None
        return self._warehouses[code]

    def free_in(self, warehouse_id: int, products: Sequence[int]) -> dict[int, float]:
        """Each product's free quantity in one warehouse (on hand less reserved, Odoo's
        ``free_qty`` in the warehouse's context), in the product's unit: one read."""
        context_key = "warehouse_id" if self.client.version.major >= 18 else "warehouse"
        rows = self.client.call(
            "product.product",
            "read",
            [sorted(products)],
            {"fields": ["free_qty"], "context": {context_key: warehouse_id}},
        )
        return {int(r["id"]): max(0.0, float(r.get("free_qty") or 0.0)) for r in rows}

    def warehouse_with_stock(
        self, warehouse_ids: Sequence[int], needed: Mapping[int, float]
    ) -> int:
        """Of `warehouse_ids` (by priority), the first whose free quantity covers every product
        of `needed` (product id -> quantity in the product's unit); else the one covering the
        most units, the earliest of equals. One read per warehouse asked, stopping at a cover."""
        best, best_covered = warehouse_ids[0], -1.0
        for warehouse_id in warehouse_ids:
            covered = units_covered(self.free_in(warehouse_id, list(needed)), needed)
            if covered >= sum(needed.values()) - _EPSILON:
                return warehouse_id
            if covered > best_covered:
                best, best_covered = warehouse_id, covered
        return best

    # -- sale orders ---------------------------------------------------------------------------

    def find_order_by_ref(self, ref: str) -> SaleOrder | None:
        """The sale order with this ``client_order_ref`` (the oldest, if several), or None.

        Odoo does not keep the reference unique: a second order with it is logged as an error.
        """
        found = self.client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=", ref]]],
            {
                "fields": ["id", "state", "picking_ids", "warehouse_id"],
                "order": "id asc",
                "limit": 2,
            },
        )
        if len(found) > 1:
            log.error("Odoo holds two sale orders with client_order_ref %s", ref)
        if not found:
            return None
        row = found[0]
        warehouse = row.get("warehouse_id")
        return SaleOrder(
            int(row["id"]),
            row["state"],
            tuple(row.get("picking_ids") or ()),
            int(warehouse[0]) if warehouse else None,
        )

    def create_order(
        self,
        *,
        partner_id: int,
        ref: str,
        origin: str,
        lines: Sequence[SaleLine],
        warehouse_id: int | None = None,
    ) -> int:
        """Create a quotation (state draft) with customer reference `ref`; its id."""
        values: dict[str, Any] = {
            "partner_id": partner_id,
            "client_order_ref": ref,
            "origin": origin,
            "order_line": [[0, 0, self._line_values(line)] for line in lines],
        }
        if warehouse_id is not None:
            values["warehouse_id"] = warehouse_id
        return _created_id(self.client.call("sale.order", "create", [values]))

    def _line_values(self, line: SaleLine) -> dict[str, Any]:
        values: dict[str, Any] = {
            "product_id": line.product_id,
            "product_uom_qty": line.quantity,
            "name": line.name,
        }
        if line.uom_id:
            uom_field = "product_uom_id" if self.client.version.major >= 19 else "product_uom"
            values[uom_field] = line.uom_id
        if line.price_unit is not None:
            values["price_unit"] = line.price_unit
        if line.route_id is not None:
            values["route_id"] = line.route_id
        return values

    def confirm_order(self, order_id: int) -> None:
        """Confirm: Odoo creates the delivery and reserves the stock."""
        self.client.call("sale.order", "action_confirm", [[order_id]])

    def cancel_order(self, order_id: int) -> None:
        """Cancel (without the wizard): undone transfers are cancelled, reservations released."""
        self.client.call(
            "sale.order", "action_cancel", [[order_id]], {"context": _NO_CANCEL_WARNING}
        )

    def order_state(self, order_id: int) -> str | None:
        """The order's state now; None when it does not exist."""
        found = self.client.call("sale.order", "read", [[order_id]], {"fields": ["state"]})
        return found[0]["state"] if found else None

    # -- deliveries and returns ----------------------------------------------------------------

    def fulfilment_started(self, order: SaleOrder) -> bool:
        """Whether any transfer of the order is done."""
        if not order.picking_ids:
            return False
        states = self.client.call(
            "stock.picking", "read", [list(order.picking_ids)], {"fields": ["state"]}
        )
        return any(p["state"] == "done" for p in states)

    def done_delivery(self, order: SaleOrder) -> int | None:
        """The order's first done delivery (what a return comes back from), or None."""
        if not order.picking_ids:
            return None
        rows = self.client.call(
            "stock.picking", "read", [list(order.picking_ids)], {"fields": ["state", "origin"]}
        )
        done = [
            p["id"]
            for p in rows
            if p["state"] == "done" and not str(p.get("origin") or "").startswith("Return of")
        ]
        return min(done) if done else None

    def find_return(self, marker: str) -> int | None:
        """The return transfer marked with `marker` (see `return_delivery`), or None."""
        found = self.client.call(
            "stock.picking", "search", [[["origin", "=", marker]]], {"limit": 1}
        )
        return found[0] if found else None

    def return_delivery(
        self, delivery_id: int, lines: Sequence[tuple[int, float]], marker: str
    ) -> int:
        """Odoo's return wizard on a done delivery, for (product id, quantity in the product's
        unit) `lines`: the id of the receipt, not validated, its origin set to `marker`."""
        created = self.client.call(
            "stock.return.picking",
            "create",
            [
                {
                    "picking_id": delivery_id,
                    "product_return_moves": [
                        [0, 0, {"product_id": product, "quantity": quantity}]
                        for product, quantity in lines
                    ],
                }
            ],
        )
        wizard = _created_id(created)
        button = "create_returns" if self.client.version.major <= 17 else "action_create_returns"
        action = self.client.call("stock.return.picking", button, [[wizard]])
        receipt = int(action["res_id"])
        self.client.call("stock.picking", "write", [[receipt], {"origin": marker}])
        return receipt

    def transfer_done(self, picking_id: int) -> bool:
        """Whether a transfer is done."""
        [row] = self.client.call("stock.picking", "read", [[picking_id]], {"fields": ["state"]})
        return row["state"] == "done"

    def validate_transfer(self, picking_id: int) -> None:
        """Validate a transfer (a return receipt: the units are back in stock)."""
        self.client.call("stock.picking", "button_validate", [[picking_id]])


def _created_id(created: Any) -> int:
    """The id `create` answered: a bare id for one dict of values, a list where Odoo made it a
    batch."""
    return int(created[0] if isinstance(created, list) else created)


def units_covered(free: Mapping[int, float], needed: Mapping[int, float]) -> float:
    """Units of `needed` (product id -> quantity) that `free` (product id -> free quantity)
    covers."""
    return sum(min(q, free.get(p, 0.0)) for p, q in needed.items())


def covers(free: Mapping[int, float], needed: Mapping[int, float]) -> bool:
    """Whether `free` (product id -> free quantity) covers every unit of `needed`."""
    return units_covered(free, needed) >= sum(needed.values()) - _EPSILON
