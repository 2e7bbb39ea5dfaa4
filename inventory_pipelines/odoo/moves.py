"""Done stock moves (the delivery history that velocity tiers are computed from)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from inventory_pipelines.odoo.client import OdooClient
from inventory_pipelines.odoo.snapshot import IN_CHUNK, UTC_DATETIME, _parse_datetime

MOVES_SCHEMA = pl.Schema(
    {
        "move_id": pl.Int64,
        "product_id": pl.Int64,
        "quantity": pl.Float64,
        "location_id": pl.Int64,
        "location_dest_id": pl.Int64,
        "state": pl.Utf8,
        "date": UTC_DATETIME,
    }
)

_FIELDS = ["product_id", "product_uom_qty", "location_id", "location_dest_id", "state", "date"]


def read_done_moves(
    client: OdooClient, since: datetime, product_ids: Sequence[int] | None = None
) -> pl.DataFrame:
    """`stock.move` rows in state done dated at or after `since`, quantities in product UoM."""
    domain: list = [["state", "=", "done"], ["date", ">=", since.strftime("%Y-%m-%d %H:%M:%S")]]
    groups = (
        [domain]
        if product_ids is None
        else [
            [*domain, ["product_id", "in", list(product_ids[i : i + IN_CHUNK])]]
            for i in range(0, len(product_ids), IN_CHUNK)
        ]
    )
    records = [
        r
        for d in groups
        for page in client.search_read_pages("stock.move", d, _FIELDS)
        for r in page
    ]
    if not records:
        return pl.DataFrame(schema=MOVES_SCHEMA)
    raw = pl.from_dicts(
        records,
        schema={
            "id": pl.Int64,
            "product_id": pl.Int64,
            "product_uom_qty": pl.Float64,
            "location_id": pl.Int64,
            "location_dest_id": pl.Int64,
            "state": pl.Utf8,
            "date": pl.Utf8,
        },
    )
    return raw.select(
        move_id="id",
        product_id="product_id",
        quantity="product_uom_qty",
        location_id="location_id",
        location_dest_id="location_dest_id",
        state="state",
        date=_parse_datetime(pl.col("date")),
    )
