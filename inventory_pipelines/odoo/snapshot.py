"""Read products, locations and quants from Odoo into Polars frames with fixed schemas.

The frames hide the differences between Odoo 16 and 19 (how storable products and units of
measure are modelled) and Odoo's habit of sending `False` for an empty value: an empty
many2one or text becomes null. Datetimes are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import polars as pl

from inventory_pipelines.odoo.client import OdooClient
from inventory_pipelines.odoo.errors import OdooAccessError

__all__ = [
    "LOCATIONS_SCHEMA",
    "PRODUCTS_SCHEMA",
    "QUANTS_SCHEMA",
    "read_locations",
    "read_products",
    "read_quants",
]

UTC_DATETIME = pl.Datetime("us", "UTC")

PRODUCTS_SCHEMA = pl.Schema(
    {
        "product_id": pl.Int64,
        "sku": pl.Utf8,
        "barcode": pl.Utf8,
        "name": pl.Utf8,
        "template_id": pl.Int64,
        "uom_id": pl.Int64,
        "uom": pl.Utf8,
        "base_uom": pl.Utf8,
        "factor": pl.Float64,
        "category": pl.Utf8,
        "storable": pl.Boolean,
        "active": pl.Boolean,
        "write_date": UTC_DATETIME,
    }
)

LOCATIONS_SCHEMA = pl.Schema(
    {
        "location_id": pl.Int64,
        "name": pl.Utf8,
        "complete_name": pl.Utf8,
        "usage": pl.Utf8,
        "parent_id": pl.Int64,
        "warehouse_id": pl.Int64,
        "warehouse_code": pl.Utf8,
        "active": pl.Boolean,
    }
)

QUANTS_SCHEMA = pl.Schema(
    {
        "quant_id": pl.Int64,
        "product_id": pl.Int64,
        "location_id": pl.Int64,
        "lot_id": pl.Int64,
        "quantity": pl.Float64,
        "reserved_quantity": pl.Float64,
        "write_date": UTC_DATETIME,
    }
)

# Archived products and locations can still hold stock, so every read includes them.
_WITH_ARCHIVED = {"active_test": False}

# Usages whose quants count as stock we own (DESIGN.md section 3).
_STOCK_USAGES = ["internal", "transit"]

# Ids per `in` clause: keeps request bodies and the server's SQL of a sane size.
IN_CHUNK = 5_000

_ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"


def read_products(client: OdooClient, skus: Sequence[str] | None = None) -> pl.DataFrame:
    """Products (archived included) with their UoM, reference UoM and storability.

    With `skus`, only the products whose `default_code` is one of them. `factor` converts a
    quantity in the product's UoM to its reference UoM (`base_uom`) by multiplication.
    """
    major = client.version.major
    # Storable products: template `type == 'product'` up to 17, boolean `is_storable` from 18
    # (both read through product.product, which delegates template fields).
    storable_field, storable_type = (
        ("is_storable", pl.Boolean) if major >= 18 else ("type", pl.Utf8)
    )
    wire = {
        "id": pl.Int64,
        "default_code": pl.Utf8,
        "barcode": pl.Utf8,
        "name": pl.Utf8,
        "product_tmpl_id": pl.Int64,
        "uom_id": pl.Int64,
        "categ_id": pl.Int64,
        "active": pl.Boolean,
        "write_date": pl.Utf8,
        storable_field: storable_type,
    }
    if skus is None:
        records = client.search_read_all("product.product", [], list(wire), context=_WITH_ARCHIVED)
    else:
        records = [
            record
            for chunk in _chunks(list(dict.fromkeys(skus)), IN_CHUNK)
            for record in client.search_read_all(
                "product.product",
                [["default_code", "in", chunk]],
                list(wire),
                context=_WITH_ARCHIVED,
            )
        ]
    storable = pl.col(storable_field)
    code = pl.col("default_code")
    products = _frame(records, wire).select(
        pl.col("id").alias("product_id"),
        # a code of blanks (an import's empty cell) is no SKU: quarantined as missing_sku,
        # never a SKU "" that no channel can carry
        pl.when(code.str.strip_chars() != "").then(code).alias("sku"),
        "barcode",
        "name",
        _many2one("product_tmpl_id").alias("template_id"),
        _many2one("uom_id"),
        _many2one("categ_id"),
        (storable == "product" if major < 18 else storable.fill_null(False)).alias("storable"),
        "active",
        _parse_datetime(pl.col("write_date")),
    )
    categories = _frame(
        client.search_read_all("product.category", [], ["id", "complete_name"]),
        {"id": pl.Int64, "complete_name": pl.Utf8},
    ).select(pl.col("id").alias("categ_id"), pl.col("complete_name").alias("category"))
    return (
        products.join(_read_uoms(client, major), on="uom_id", how="left", maintain_order="left")
        .join(categories, on="categ_id", how="left", maintain_order="left")
        .select(PRODUCTS_SCHEMA.names())
        .cast(PRODUCTS_SCHEMA)
    )


def read_locations(client: OdooClient) -> pl.DataFrame:
    """Stock locations (archived included) with the code of their warehouse."""
    wire = {
        "id": pl.Int64,
        "name": pl.Utf8,
        "complete_name": pl.Utf8,
        "usage": pl.Utf8,
        "location_id": pl.Int64,
        "warehouse_id": pl.Int64,
        "active": pl.Boolean,
    }
    records = client.search_read_all("stock.location", [], list(wire), context=_WITH_ARCHIVED)
    warehouses = client.search_read_all(
        "stock.warehouse", [], ["id", "code"], context=_WITH_ARCHIVED
    )
    codes = _frame(warehouses, {"id": pl.Int64, "code": pl.Utf8}).select(
        pl.col("id").alias("warehouse_id"), pl.col("code").alias("warehouse_code")
    )
    return (
        _frame(records, wire)
        .select(
            pl.col("id").alias("location_id"),
            "name",
            "complete_name",
            "usage",
            _many2one("location_id").alias("parent_id"),
            _many2one("warehouse_id"),
            "active",
        )
        .join(codes, on="warehouse_id", how="left", maintain_order="left")
        .select(LOCATIONS_SCHEMA.names())
        .cast(LOCATIONS_SCHEMA)
    )


def read_quants(client: OdooClient, product_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Quants in internal and transit locations, optionally of some products only.

    The hot path: each page becomes a frame in one `pl.from_dicts` call with an explicit
    schema, and Odoo's `False` for an empty lot is fixed by an expression, not per row.
    """
    domain = [["location_id.usage", "in", _STOCK_USAGES]]
    fields = list(_QUANT_WIRE_SCHEMA)
    if product_ids is None:
        pages: Iterable[list[dict[str, Any]]] = client.search_read_pages(
            "stock.quant", domain, fields
        )
    else:
        ids = list(dict.fromkeys(int(i) for i in product_ids))
        pages = (
            page
            for chunk in _chunks(ids, IN_CHUNK)
            for page in client.search_read_pages(
                "stock.quant", [["product_id", "in", chunk], *domain], fields
            )
        )
    frames = [pl.from_dicts(page, schema=_QUANT_WIRE_SCHEMA) for page in pages]
    if not frames:
        return QUANTS_SCHEMA.to_frame()
    return (
        pl.concat(frames, rechunk=True)
        .select(
            pl.col("id").alias("quant_id"),
            "product_id",
            "location_id",
            _many2one("lot_id"),
            "quantity",
            "reserved_quantity",
            _parse_datetime(pl.col("write_date")),
        )
        .cast(QUANTS_SCHEMA)
    )


_QUANT_WIRE_SCHEMA = {
    "id": pl.Int64,
    "product_id": pl.Int64,
    "location_id": pl.Int64,
    "lot_id": pl.Int64,
    "quantity": pl.Float64,
    "reserved_quantity": pl.Float64,
    "write_date": pl.Utf8,
}


def _read_uoms(client: OdooClient, major: int) -> pl.DataFrame:
    """One row per UoM: its name, its reference UoM's name and the factor to it.

    Up to 18, units belong to a category whose `uom_type == 'reference'` unit is the base, and
    1 reference unit = `factor` of this unit, so the factor to the base is 1 / factor. On 19
    there are no categories: units form a tree by `relative_uom_id` whose root is the base,
    and the stored `factor` says 1 of this unit = `factor` reference units.
    """
    if major >= 19:
        fields = ["id", "name", "factor", "relative_uom_id"]
    else:
        fields = ["id", "name", "factor", "category_id", "uom_type"]
    try:
        records = client.search_read_all("uom.uom", [], fields, context=_WITH_ARCHIVED)
    except OdooAccessError:
        # A user who may not read UoMs still gets products, with the UoM columns null.
        records = []
    names = {r["id"]: _or_none(r.get("name")) for r in records}
    rows = []
    if major >= 19:
        parents = {r["id"]: r.get("relative_uom_id") or None for r in records}
        for r in records:
            root = _root(r["id"], parents)
            factor = r.get("factor") or None
            rows.append((r["id"], names[r["id"]], names.get(root), factor))
    else:
        references: dict[Any, int] = {}
        for r in sorted(records, key=lambda r: r["id"]):
            if r.get("uom_type") == "reference":
                references.setdefault(r.get("category_id"), r["id"])
        for r in records:
            base = references.get(r.get("category_id"))
            factor = r.get("factor") or None
            rows.append(
                (
                    r["id"],
                    names[r["id"]],
                    names.get(base) if base else None,
                    1.0 / factor if factor and base else None,
                )
            )
    return pl.DataFrame(
        rows,
        schema={"uom_id": pl.Int64, "uom": pl.Utf8, "base_uom": pl.Utf8, "factor": pl.Float64},
        orient="row",
    )


def _root(uom_id: int, parents: Mapping[int, int | None]) -> int | None:
    """The root of `uom_id`'s `relative_uom_id` chain, or None if the chain is broken."""
    seen = set()
    current = uom_id
    while (parent := parents.get(current)) is not None:
        if parent in seen or parent not in parents:
            return None
        seen.add(current)
        current = parent
    return current if current in parents else None


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _or_none(value: Any) -> Any:
    return None if value is False else value


def _frame(records: list[dict[str, Any]], wire: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Records as a frame of the given wire types; Odoo's False in text becomes null."""
    text = [name for name, dtype in wire.items() if dtype == pl.Utf8]
    others = {name: dtype for name, dtype in wire.items() if name not in text}
    # Per row on purpose for text: a Utf8 column would turn Odoo's False into "false". The
    # tables built this way (products, locations) are small next to the quants.
    return pl.from_dicts(records, schema=others).with_columns(
        pl.Series(name, [_or_none(r.get(name)) for r in records], dtype=pl.Utf8) for name in text
    )


def _many2one(name: str) -> pl.Expr:
    # An empty many2one arrives as False, which an Int64 column holds as 0: ids start at 1,
    # so 0 can only mean "none".
    column = pl.col(name)
    return pl.when(column > 0).then(column).alias(name)


def _parse_datetime(column: pl.Expr) -> pl.Expr:
    # Odoo sends naive "YYYY-MM-DD HH:MM:SS" strings that are UTC.
    return column.str.to_datetime(_ODOO_DATETIME, time_unit="us", time_zone="UTC")
