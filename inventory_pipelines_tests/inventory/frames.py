"""Small snapshot frames built by hand, for the pure canonical tests."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from inventory_pipelines.odoo import LOCATIONS_SCHEMA, PRODUCTS_SCHEMA, QUANTS_SCHEMA

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
        "category": None,
        "storable": True,
        "active": True,
        "write_date": AS_OF,
    }
    full = [{**defaults, **r} for r in rows]
    return pl.DataFrame(full, schema=PRODUCTS_SCHEMA)


def locations(rows: list[dict]) -> pl.DataFrame:
    """An `odoo/locations` frame before role assignment."""
    defaults = {"name": "", "parent_id": None, "warehouse_id": None, "active": True}
    full = [{**defaults, **r} for r in rows]
    return pl.DataFrame(full, schema=LOCATIONS_SCHEMA)


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
        schema=QUANTS_SCHEMA,
    )
