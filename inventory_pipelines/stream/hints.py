"""What Odoo's webhook action sends for a saved quant, read into a :class:`QuantHint`.

Odoo's ``_run_action_webhook`` POSTs ``{"_model", "_id", "_action", "id", <chosen fields>}``
(``read(load=None)``: a many2one is a bare id). Only ``_model`` and ``_id`` are needed; the
chosen fields ``quantity``, ``reserved_quantity`` and ``product_id`` make the re-read sharper
(see :mod:`.coalescer`). A body that can never be a quant hint is refused with a 4xx, never a 5xx:
Odoo does not retry, and the change sensor sees the change anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

QUANT_MODEL = "stock.quant"
MAX_ID = 2**63 - 1


class HintError(ValueError):
    """A body that is not a quant hint; `status` is the answer (400 not JSON, 422 not a hint).

    The message names fields, never echoes more than a short excerpt of a value.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class QuantHint:
    """Odoo saved this quant (its transaction may not have committed yet)."""

    quant_id: int
    #: the quantity inside Odoo's transaction, when the rule sends the field
    quantity: float | None = None
    #: the quant's product, when the rule sends the field
    product_id: int | None = None
    #: which rule sent it: "<action name>(#<action id>)"
    action: str | None = None
    #: the reserved quantity inside Odoo's transaction, when the rule sends the field
    reserved_quantity: float | None = None


def _record_id(value: object) -> int | None:
    """A record id (a positive integer; a many2one read with names is ``[id, name]``)."""
    if isinstance(value, list) and value:
        value = value[0]
    if type(value) is int and 1 <= value <= MAX_ID:
        return value
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_hint(body: bytes) -> QuantHint:
    """Read one webhook body; `HintError` (400 or 422) when it is not a quant hint."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HintError(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HintError(400, "the body is not a JSON object")
    model = data.get("_model")
    if model != QUANT_MODEL:
        raise HintError(
            422,
            f"_model must be {QUANT_MODEL!r}, not {_short(model)}: point this URL at an "
            "automation rule on Inventory > Quants",
        )
    quant_id = _record_id(data.get("_id"))
    if quant_id is None:
        raise HintError(422, "_id must be the quant's id, a positive integer")
    quantity = _number(data, "quantity")
    reserved = _number(data, "reserved_quantity")
    product = data.get("product_id")
    product_id = _record_id(product) if product not in (None, False) else None
    if product not in (None, False) and product_id is None:
        raise HintError(422, "product_id must be the product's id, a positive integer")
    action = data.get("_action")
    return QuantHint(
        quant_id=quant_id,
        quantity=quantity,
        product_id=product_id,
        action=action[:200] if isinstance(action, str) else None,
        reserved_quantity=reserved,
    )


def _number(data: dict, name: str) -> float | None:
    """A quantity field of the hint, when the rule sends it."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HintError(422, f"{name} must be a number")
    return float(value)
