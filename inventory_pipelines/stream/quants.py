"""Reading hinted quants back from Odoo: their quantity, product and SKU, as committed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from inventory_pipelines.odoo import OdooClient


@dataclass(frozen=True)
class QuantSeen:
    """A quant as Odoo's committed data shows it."""

    quant_id: int
    quantity: float
    product_id: int | None
    #: the product's internal reference; None when it has none (nothing to refresh then)
    sku: str | None
    reserved_quantity: float = 0.0


class QuantReader(Protocol):
    """Where the push path reads quants and SKUs back."""

    def quants(self, quant_ids: Iterable[int]) -> dict[int, QuantSeen]:
        """The quants that exist (as committed), by id; missing ones are left out."""
        ...

    def skus(self, product_ids: Iterable[int]) -> dict[int, str | None]:
        """The internal reference of each product that exists (archived ones too)."""
        ...


class OdooQuantReader:
    """A :class:`QuantReader` over the Odoo client: two ``search_read`` calls per batch (per
    ``CHUNK`` ids)."""

    CHUNK = 1000

    def __init__(self, client: OdooClient) -> None:
        self.client = client

    def quants(self, quant_ids: Iterable[int]) -> dict[int, QuantSeen]:
        """The quants that exist, with their product's SKU."""
        rows = self._read(
            "stock.quant", quant_ids, ["product_id", "quantity", "reserved_quantity"], None
        )
        skus = self.skus(r["product_id"] for r in rows if r["product_id"])
        return {
            r["id"]: QuantSeen(
                quant_id=r["id"],
                quantity=float(r["quantity"] or 0.0),
                product_id=r["product_id"] or None,
                sku=skus.get(r["product_id"]) if r["product_id"] else None,
                reserved_quantity=float(r["reserved_quantity"] or 0.0),
            )
            for r in rows
        }

    def skus(self, product_ids: Iterable[int]) -> dict[int, str | None]:
        """Product id -> internal reference (``default_code``), archived products included."""
        rows = self._read("product.product", product_ids, ["default_code"], {"active_test": False})
        return {r["id"]: (r["default_code"] or None) for r in rows}

    def _read(
        self, model: str, ids: Iterable[int], fields: list[str], context: dict | None
    ) -> list[dict]:
        wanted = sorted(set(ids))
        kwargs: dict = {"fields": fields, "load": None}
        if context:
            kwargs["context"] = context
        rows: list[dict] = []
        for i in range(0, len(wanted), self.CHUNK):
            chunk = wanted[i : i + self.CHUNK]
            rows += self.client.call(model, "search_read", [[["id", "in", chunk]]], kwargs)
        return rows

    def sends_after_commit(self) -> bool:
        """Whether this Odoo sends its webhooks after the commit (19 and later)."""
        return self.client.version.major >= 19
