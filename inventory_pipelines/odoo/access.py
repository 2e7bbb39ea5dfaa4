"""The least Odoo rights the integration user needs, and a check of them at start-up.

Every model and operation the product calls is listed in :data:`REQUIRED` with what needs
it (DESIGN.md section 8: read on stock and products, create on sale orders; following an
order into Odoo also takes writing the order and its transfers). :func:`missing_rights`
asks Odoo itself, as the configured user, with the model method Odoo offers for it:
``check_access_rights(operation, raise_exception=False)`` up to 17, ``has_access(operation)``
from 18 (where ``check_access_rights`` is deprecated). :func:`check_rights` turns what is
missing into one error a person can act on, naming each right.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from inventory_pipelines.odoo.client import OdooClient
from inventory_pipelines.odoo.errors import OdooAccessError

__all__ = ["REQUIRED", "OdooRightsError", "Right", "check_rights", "missing_rights"]


@dataclass(frozen=True)
class Right:
    """One access right: `operation` (read, create, write, unlink) on `model`; `purpose` says
    what needs it, `group` the standard Odoo group that grants it; `module`: needed only where
    that Odoo module is installed (without it the feature that needs the right is off)."""

    model: str
    operation: str
    purpose: str
    group: str
    module: str | None = None

    def __str__(self) -> str:
        return f"{self.operation} on {self.model}"


_INVENTORY = "Inventory / User"
_SALES = "Sales / User: Own Documents Only"
_EMPLOYEE = "Internal User"

#: what the product reads and writes in Odoo, and why (nothing else is ever called)
REQUIRED: tuple[Right, ...] = (
    Right("product.product", "read", "the stock snapshot and the change sensor", _INVENTORY),
    Right("product.template", "read", "the change sensor: products edited", _INVENTORY),
    Right("product.category", "read", "the stock snapshot: categories of the rules", _INVENTORY),
    Right("uom.uom", "read", "the stock snapshot: units of measure", _INVENTORY),
    Right("stock.warehouse", "read", "the stock snapshot and order ingestion", _INVENTORY),
    Right("stock.location", "read", "the stock snapshot", _INVENTORY),
    Right("stock.quant", "read", "the stock snapshot, the change sensor and the push", _INVENTORY),
    Right("stock.move", "read", "the change sensor and the sales velocity", _INVENTORY),
    Right("res.partner", "read", "order ingestion: the customer of an order", _EMPLOYEE),
    Right("sale.order", "read", "order ingestion: an order already in Odoo", _SALES),
    Right("sale.order", "create", "order ingestion: the channels' orders", _SALES),
    Right("sale.order", "write", "order ingestion: confirming, cancelling", _SALES),
    Right("stock.picking", "read", "order ingestion: deliveries and returns", _INVENTORY),
    Right("stock.picking", "write", "order ingestion: marking, validating returns", _INVENTORY),
    Right("stock.return.picking", "create", "order ingestion: returns", _INVENTORY),
    Right("stock.picking.type", "read", "incoming purchases: the receiving warehouse", _INVENTORY),
    Right("product.supplierinfo", "read", "vendor feeds: vendor codes to SKUs", _EMPLOYEE),
    Right("ir.model.data", "read", "drop-ship orders: finding the drop-ship route", _EMPLOYEE),
    Right("stock.route", "read", "drop-ship orders: the drop-ship route", _INVENTORY),
    Right("purchase.order", "read", "incoming purchases", _INVENTORY, "purchase"),
    Right("purchase.order.line", "read", "incoming purchases", _INVENTORY, "purchase"),
)

_PARALLEL = 8  # the checks go out together: one round trip, not fifteen


class OdooRightsError(OdooAccessError):
    """The integration user lacks rights the product needs; the message names each one."""


def _has(client: OdooClient, right: Right) -> bool:
    if client.version.major >= 18:
        return bool(client.call(right.model, "has_access", [[], right.operation]))
    return bool(
        client.call(
            right.model, "check_access_rights", [right.operation], {"raise_exception": False}
        )
    )


def missing_rights(client: OdooClient, required: tuple[Right, ...] = REQUIRED) -> list[Right]:
    """The rights in `required` that Odoo says the client's user does not have, in order.

    Raises the client's errors when Odoo cannot be asked (down, bad credentials).
    """
    _ = client.version, client.uid  # detected and authenticated once, before the fan-out
    optional = sorted({right.model for right in required if right.module})
    if optional:  # a module not installed: its models are absent and their rights moot
        present = {
            row["model"]
            for row in client.call(
                "ir.model", "search_read", [[("model", "in", optional)]], {"fields": ["model"]}
            )
        }
        required = tuple(r for r in required if not r.module or r.model in present)
    with ThreadPoolExecutor(max_workers=_PARALLEL, thread_name_prefix="odoo-rights") as pool:
        answers = list(pool.map(lambda right: _has(client, right), required))
    return [right for right, has in zip(required, answers, strict=True) if not has]


def rights_message(login: str, missing: list[Right]) -> str:
    """One line naming every missing right, what needs it and how to grant it."""
    named = "; ".join(f"{right} ({right.purpose})" for right in missing)
    groups = sorted({right.group for right in missing})
    return (
        f"Odoo user {login!r} lacks {named}: ask an Odoo administrator to give it "
        f"{' and '.join(groups)} (Settings > Users), or exactly these rights "
        "(README, Security)"
    )


def check_rights(client: OdooClient, required: tuple[Right, ...] = REQUIRED) -> None:
    """Raise :class:`OdooRightsError` naming every right in `required` the user lacks."""
    missing = missing_rights(client, required)
    if missing:
        raise OdooRightsError(rights_message(client.config.login, missing))
