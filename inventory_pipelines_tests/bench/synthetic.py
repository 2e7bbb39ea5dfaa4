"""Snapshot frames at catalog scale, generated column-wise (seconds for millions of rows)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from inventory_pipelines.inventory.locations import assign_location_roles
from inventory_pipelines.rules import load_policy

WAREHOUSES = ("MAIN", "EAST", "WEST")


def snapshot_frames(skus: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(products, locations with roles, quants) shaped as the `odoo/*` assets write them.

    Each SKU has a quant in each warehouse's stock location; 5% also in QC, 3% in transit, 5%
    split across two lots; 1% archived, 1% without SKU, 2% in dozens.
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(1, skus + 1, dtype=np.int64)
    in_dozens = rng.random(skus) < 0.02
    products = pl.DataFrame(
        {
            "product_id": ids,
            "sku": [f"SKU-{i:07d}" for i in ids],
            "barcode": None,
            "name": "",
            "template_id": ids,
            "uom_id": np.where(in_dozens, 2, 1),
            "uom": np.where(in_dozens, "Dozens", "Units"),
            "base_uom": "Units",
            "factor": np.where(in_dozens, 12.0, 1.0),
            "storable": True,
            "active": rng.random(skus) >= 0.01,
            "write_date": datetime(2026, 1, 1, tzinfo=UTC),
        }
    ).with_columns(
        sku=pl.when(pl.Series(rng.random(skus) < 0.01)).then(None).otherwise(pl.col("sku"))
    )
    rows = []
    location_id = 1
    for wh in WAREHOUSES:
        for suffix, usage in (("Stock", "internal"), ("Stock/QC", "internal")):
            rows.append((location_id, f"{wh}/{suffix}", usage, wh))
            location_id += 1
        rows.append(
            (location_id, f"Physical Locations/Inter-warehouse transit/To {wh}", "transit", None)
        )
        location_id += 1
    locations = pl.DataFrame(
        {
            "location_id": [r[0] for r in rows],
            "name": [r[1].rsplit("/", 1)[-1] for r in rows],
            "complete_name": [r[1] for r in rows],
            "usage": [r[2] for r in rows],
            "parent_id": None,
            "warehouse_id": None,
            "warehouse_code": [r[3] for r in rows],
            "active": True,
        },
        schema_overrides={
            "parent_id": pl.Int64,
            "warehouse_id": pl.Int64,
            "warehouse_code": pl.Utf8,
        },
    )
    locations = assign_location_roles(locations, load_policy().warehouses)
    parts = []
    for w in range(len(WAREHOUSES)):
        stock, qc, transit = 3 * w + 1, 3 * w + 2, 3 * w + 3
        parts.append((ids, np.full(skus, stock)))
        parts.append((ids[rng.random(skus) < 0.05], None, qc))
        parts.append((ids[rng.random(skus) < 0.03], None, transit))
        parts.append((ids[rng.random(skus) < 0.05], None, stock))  # a second lot
    product_col = np.concatenate([p[0] for p in parts])
    location_col = np.concatenate(
        [p[1] if p[1] is not None else np.full(len(p[0]), p[2]) for p in parts]
    )
    n = len(product_col)
    quantity = rng.integers(0, 200, n).astype(np.float64)
    reserved = np.floor(quantity * rng.random(n) * (rng.random(n) < 0.2))
    quants = pl.DataFrame(
        {
            "quant_id": np.arange(1, n + 1, dtype=np.int64),
            "product_id": product_col,
            "location_id": location_col.astype(np.int64),
            "lot_id": None,
            "quantity": quantity,
            "reserved_quantity": reserved,
            "write_date": datetime(2026, 1, 1, tzinfo=UTC),
        },
        schema_overrides={"lot_id": pl.Int64},
    )
    return products, locations, quants
