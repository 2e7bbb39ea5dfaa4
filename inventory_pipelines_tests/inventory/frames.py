"""Small snapshot frames built by hand, for the pure canonical tests."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

AS_OF = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def products(rows: list[dict]) -> pl.DataFrame:
    """An `odoo/products` frame; omitted columns take the values of a plain storable product."""
    defaults = {
        "barcode": None,
        "name": "",
        "template_id": 1,
        "uom_id": 1,
        "uom": "Units",
        "base_uom": "Units",
        "factor": 1.0,
        "storable": True,
        "active": True,
        "write_date": AS_OF,
    }
    full = [{**defaults, **r} for r in rows]
    return pl.DataFrame(
        full,
        schema={
            "product_id": pl.Int64,
            "sku": pl.Utf8,
            "barcode": pl.Utf8,
            "name": pl.Utf8,
            "template_id": pl.Int64,
            "uom_id": pl.Int64,
            "uom": pl.Utf8,
            "base_uom": pl.Utf8,
            "factor": pl.Float64,
            "storable": pl.Boolean,
            "active": pl.Boolean,
            "write_date": pl.Datetime("us", "UTC"),
        },
    )


def locations(rows: list[dict]) -> pl.DataFrame:
    """An `odoo/locations` frame before role assignment."""
    defaults = {"name": "", "parent_id": None, "warehouse_id": None, "active": True}
    full = [{**defaults, **r} for r in rows]
    return pl.DataFrame(
        full,
        schema={
            "location_id": pl.Int64,
            "name": pl.Utf8,
            "complete_name": pl.Utf8,
            "usage": pl.Utf8,
            "parent_id": pl.Int64,
            "warehouse_id": pl.Int64,
            "warehouse_code": pl.Utf8,
            "active": pl.Boolean,
        },
    )


def quants(rows: list[tuple]) -> pl.DataFrame:
    """An `odoo/stock_quants` frame from (quant_id, product_id, location_id, qty, reserved)."""
    return pl.DataFrame(
        [
            {
                "quant_id": q,
                "product_id": p,
                "location_id": loc,
                "lot_id": None,
                "quantity": qty,
                "reserved_quantity": res,
                "write_date": AS_OF,
            }
            for q, p, loc, qty, res in rows
        ],
        schema={
            "quant_id": pl.Int64,
            "product_id": pl.Int64,
            "location_id": pl.Int64,
            "lot_id": pl.Int64,
            "quantity": pl.Float64,
            "reserved_quantity": pl.Float64,
            "write_date": pl.Datetime("us", "UTC"),
        },
    )
