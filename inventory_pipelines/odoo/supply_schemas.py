"""Pandera (Polars) schemas of the supply tables read from Odoo: the blocking checks."""

from __future__ import annotations

import pandera.polars as pa


class SupplierInfoSchema(pa.DataFrameModel):
    """`odoo/supplierinfo`: one row per product.supplierinfo, a vendor's code for a SKU."""

    supplierinfo_id: int = pa.Field(unique=True)
    vendor_id: int
    vendor: str = pa.Field(nullable=True)
    vendor_code: str = pa.Field(nullable=True)
    sku: str = pa.Field(nullable=True)
    product_id: int = pa.Field(nullable=True)
    min_qty: float = pa.Field(ge=0)
    delay_days: int = pa.Field(ge=0)
    sequence: int

    class Config:
        strict = False


class IncomingPurchasesSchema(pa.DataFrameModel):
    """`odoo/incoming_purchases`: one row per open line of a confirmed purchase order, the
    units still to arrive in base units, bound for a warehouse."""

    line_id: int = pa.Field(unique=True)
    purchase_order: str
    vendor_id: int
    product_id: int
    sku: str = pa.Field(nullable=True)
    warehouse: str
    quantity: float = pa.Field(gt=0)
    received: float = pa.Field(ge=0)
    uom: str = pa.Field(nullable=True)

    class Config:
        strict = False


class UnreservedDemandSchema(pa.DataFrameModel):
    """`odoo/unreserved_demand`: per (sku, warehouse), the units of open deliveries Odoo has
    not reserved (sold beyond the shelf, e.g. ahead of a purchase still on its way)."""

    sku: str = pa.Field(nullable=False)
    warehouse: str = pa.Field(nullable=False)
    quantity: float = pa.Field(gt=0)
    moves: int = pa.Field(ge=1)

    class Config:
        strict = False
        unique = ["sku", "warehouse"]
