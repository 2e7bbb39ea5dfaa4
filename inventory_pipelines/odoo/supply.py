"""Supply beyond the shelf, read from Odoo: vendors' codes for our products, purchase orders
still to arrive, and the drop-ship route.

- :func:`read_supplierinfo`: ``product.supplierinfo`` as a mapping from a vendor's product code
  to our SKU (a price on a template of one variant maps to that variant; on a template of
  several, to no SKU).
- :func:`read_incoming`: the units of confirmed purchase orders not yet received, per line,
  in the product's base unit, with the warehouse they are bound for and the state of the
  receipt that brings them.
- :func:`drop_ship_route_id`: the route of ``stock_dropshipping`` that sale order lines take
  to be shipped by the vendor (its ``route_id``), or None where the module is not installed.

Versions differ in the purchase line's unit field (``product_uom`` up to 18,
``product_uom_id`` on 19) and in what a confirmed order is (``purchase``, and ``done`` for a
locked one up to 18; 19 locks with a flag). Frames follow `snapshot`: fixed schemas, Odoo's
``False`` as null, datetimes in UTC, batched reads with a stable order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from inventory_pipelines.odoo.client import Domain, OdooClient
from inventory_pipelines.odoo.errors import OdooAccessError
from inventory_pipelines.odoo.snapshot import (
    IN_CHUNK,
    UTC_DATETIME,
    _chunks,
    _frame,
    _many2one,
    _parse_datetime,
    _read_uoms,
)

__all__ = [
    "DROP_SHIP_ROUTE_NAME",
    "DROP_SHIP_XMLID",
    "INCOMING_SCHEMA",
    "SUPPLIERINFO_SCHEMA",
    "ambiguous_vendor_codes",
    "drop_ship_route_id",
    "read_incoming",
    "read_supplierinfo",
    "read_unreserved_demand",
]

log = logging.getLogger(__name__)

SUPPLIERINFO_SCHEMA = pl.Schema(
    {
        "supplierinfo_id": pl.Int64,
        "vendor_id": pl.Int64,
        "vendor": pl.Utf8,
        "vendor_code": pl.Utf8,
        "sku": pl.Utf8,
        "product_id": pl.Int64,
        "min_qty": pl.Float64,
        "delay_days": pl.Int64,
        "sequence": pl.Int64,
    }
)

INCOMING_SCHEMA = pl.Schema(
    {
        "purchase_order": pl.Utf8,
        "line_id": pl.Int64,
        "vendor_id": pl.Int64,
        "vendor": pl.Utf8,
        "product_id": pl.Int64,
        "sku": pl.Utf8,
        "warehouse": pl.Utf8,
        "quantity": pl.Float64,
        "received": pl.Float64,
        "uom": pl.Utf8,
        "date_planned": UTC_DATETIME,
        "receipt_state": pl.Utf8,
    }
)

UNRESERVED_DEMAND_SCHEMA = pl.Schema(
    {"sku": pl.Utf8, "warehouse": pl.Utf8, "quantity": pl.Float64, "moves": pl.Int64}
)

#: ``module.name`` of the drop-ship route in ``ir.model.data`` (stock_dropshipping's data)
DROP_SHIP_XMLID = ("stock_dropshipping", "route_drop_shipping")
#: the route's name as the module creates it (untranslated), for a database without the xml id
DROP_SHIP_ROUTE_NAME = "Dropship"

_WITH_ARCHIVED = {"active_test": False}
# Names are translatable: ask for the module's own (English) one.
_ENGLISH = {"lang": "en_US"}
# Moves that will still bring units: not done, not cancelled.
_CLOSED_MOVE_STATES = ["done", "cancel"]


# -- vendors' product codes -----------------------------------------------------------------------


def read_supplierinfo(client: OdooClient, skus: Sequence[str] | None = None) -> pl.DataFrame:
    """Vendor prices as a map from the vendor's product code to our SKU.

    One row per ``product.supplierinfo``: `vendor_id` and `vendor` (the partner's name),
    `vendor_code` (``product_code``; null when the vendor gave none), `sku` and `product_id`
    (the variant it is for: its own, or the only variant of its template; null for a price on
    a template of several variants), `min_qty` (in the vendor's unit), `delay_days` (the lead
    time), `sequence` (the vendor's rank for the product: lower first).

    With `skus`, only the rows that map to one of them.
    """
    wire = {
        "id": pl.Int64,
        "partner_id": pl.Int64,
        "product_tmpl_id": pl.Int64,
        "product_id": pl.Int64,
        "product_code": pl.Utf8,
        "min_qty": pl.Float64,
        "delay": pl.Int64,
        "sequence": pl.Int64,
    }
    fields = list(wire)
    if skus is None:
        records = client.search_read_all("product.supplierinfo", [], fields)
    else:
        wanted = _variants(client, "default_code", list(dict.fromkeys(skus)))
        product_ids = wanted["product_id"].to_list()
        template_ids = wanted["template_id"].drop_nulls().unique().to_list()
        records = _unique_by_id(
            [
                *_read_in(client, "product.supplierinfo", "product_id", product_ids, fields),
                *_read_in(
                    client,
                    "product.supplierinfo",
                    "product_tmpl_id",
                    template_ids,
                    fields,
                    [["product_id", "=", False]],
                ),
            ]
        )
    if not records:
        return SUPPLIERINFO_SCHEMA.to_frame()
    rows = _frame(records, wire).select(
        pl.col("id").alias("supplierinfo_id"),
        _many2one("partner_id").alias("vendor_id"),
        _many2one("product_tmpl_id").alias("template_id"),
        _many2one("product_id"),
        pl.col("product_code").alias("vendor_code"),
        "min_qty",
        pl.col("delay").alias("delay_days"),
        "sequence",
    )
    variants = pl.concat(
        [
            _variants(client, "id", rows["product_id"].drop_nulls().unique().to_list()),
            _variants(
                client,
                "product_tmpl_id",
                rows.filter(pl.col("product_id").is_null())["template_id"]
                .drop_nulls()
                .unique()
                .to_list(),
            ),
        ]
    ).unique("product_id", keep="first")
    vendors = _names(client, "res.partner", rows["vendor_id"].drop_nulls().unique().to_list())
    frame = (
        rows.join(_only_variants(variants), on="template_id", how="left")
        .with_columns(pl.coalesce("product_id", "only_variant").alias("product_id"))
        .join(variants.select("product_id", "sku"), on="product_id", how="left")
        .join(vendors.rename({"id": "vendor_id", "name": "vendor"}), on="vendor_id", how="left")
        .select(SUPPLIERINFO_SCHEMA.names())
        .cast(SUPPLIERINFO_SCHEMA)
        .sort("supplierinfo_id")
    )
    if skus is not None:
        frame = frame.filter(pl.col("sku").is_in(list(skus)))
    return frame


def ambiguous_vendor_codes(supplierinfo: pl.DataFrame) -> pl.DataFrame:
    """(vendor_id, vendor, vendor_code, skus) for each code a vendor gives to more than one of
    our SKUs: a feed line with that code cannot be mapped (the same code on several rows of
    one SKU, price breaks by quantity, is not ambiguous)."""
    return (
        supplierinfo.filter(pl.col("vendor_code").is_not_null() & pl.col("sku").is_not_null())
        .group_by("vendor_id", "vendor_code")
        .agg(pl.col("vendor").first(), pl.col("sku").unique().sort().alias("skus"))
        .filter(pl.col("skus").list.len() > 1)
        .select("vendor_id", "vendor", "vendor_code", "skus")
        .sort("vendor_id", "vendor_code")
    )


def _only_variants(variants: pl.DataFrame) -> pl.DataFrame:
    """template_id -> its variant when it has exactly one (active ones count first: archived
    variants of a template that has an active one are history)."""
    if variants.is_empty():
        return pl.DataFrame(schema={"template_id": pl.Int64, "only_variant": pl.Int64})
    candidates = variants.filter(pl.col("active") | ~pl.col("active").any().over("template_id"))
    return (
        candidates.group_by("template_id")
        .agg(pl.col("product_id").first().alias("only_variant"), pl.len().alias("n"))
        .filter(pl.col("n") == 1)
        .select("template_id", "only_variant")
    )


# -- purchase orders still to arrive --------------------------------------------------------------


def read_incoming(client: OdooClient, skus: Sequence[str] | None = None) -> pl.DataFrame:
    """Units of confirmed purchase orders still to arrive in a warehouse, one row per line.

    A line is there when its order is confirmed (``purchase``; also ``done``, locked, up to 18)
    and a receipt move of it is still open: `quantity` is what it ordered less what was
    received (``product_qty - qty_received``), converted from the line's unit to the product's
    base unit (`uom`), and `received` what has come already (same unit). `warehouse` is the
    code of the warehouse of the order's operation type; `date_planned` the line's expected
    arrival (UTC); `receipt_state` the state of the open receipt bringing it (``assigned``:
    ready to receive; after a partial receipt, its backorder's).

    Left out: cancelled, unconfirmed and fully received lines; lines whose rest was cancelled
    at reception (no open move: nothing more is coming); drop-ship orders (their units go to
    the customer, not to a warehouse); products that are not storable. Empty, with a warning,
    where the ``purchase`` module is not installed. With `skus`, only their lines.
    """
    if not _has_model(client, "purchase.order.line"):
        log.warning("Odoo has no purchase.order.line (purchase is not installed): no incoming")
        return INCOMING_SCHEMA.to_frame()
    major = client.version.major
    domain: list[Any] = [
        ["purchase_line_id", "!=", False],
        ["state", "not in", _CLOSED_MOVE_STATES],
    ]
    if skus is None:
        moves = client.search_read_all("stock.move", domain, ["purchase_line_id", "picking_id"])
    else:
        products = _variants(client, "default_code", list(dict.fromkeys(skus)))
        moves = _read_in(
            client,
            "stock.move",
            "product_id",
            products["product_id"].to_list(),
            ["purchase_line_id", "picking_id"],
            domain,
        )
    if not moves:
        return INCOMING_SCHEMA.to_frame()
    open_moves = _frame(
        moves, {"id": pl.Int64, "purchase_line_id": pl.Int64, "picking_id": pl.Int64}
    )
    uom_field = "product_uom_id" if major >= 19 else "product_uom"
    line_wire = {
        "id": pl.Int64,
        "order_id": pl.Int64,
        "product_id": pl.Int64,
        "product_qty": pl.Float64,
        "qty_received": pl.Float64,
        uom_field: pl.Int64,
        "date_planned": pl.Utf8,
    }
    confirmed = ["purchase"] if major >= 19 else ["purchase", "done"]
    lines = _frame(
        _read_in(
            client,
            "purchase.order.line",
            "id",
            open_moves["purchase_line_id"].unique().to_list(),
            list(line_wire),
            [["order_id.state", "in", confirmed]],
        ),
        line_wire,
    )
    if lines.is_empty():
        return INCOMING_SCHEMA.to_frame()
    order_wire = {
        "id": pl.Int64,
        "name": pl.Utf8,
        "partner_id": pl.Int64,
        "picking_type_id": pl.Int64,
    }
    orders = _frame(
        _read_in(
            client, "purchase.order", "id", lines["order_id"].unique().to_list(), list(order_wire)
        ),
        order_wire,
    ).select(
        pl.col("id").alias("order_id"),
        pl.col("name").alias("purchase_order"),
        _many2one("partner_id").alias("vendor_id"),
        _many2one("picking_type_id"),
    )
    destinations = _warehouse_of_types(
        client, orders["picking_type_id"].drop_nulls().unique().to_list()
    )
    receipts = _receipt_states(client, open_moves)
    products = _storable_products(client, lines["product_id"].unique().to_list(), major)
    uoms = _read_uoms(client, major).select("uom_id", pl.col("base_uom").alias("uom"), "factor")
    vendors = _names(client, "res.partner", orders["vendor_id"].drop_nulls().unique().to_list())
    return (
        lines.select(
            pl.col("id").alias("line_id"),
            "order_id",
            "product_id",
            (pl.col("product_qty") - pl.col("qty_received")).clip(lower_bound=0).alias("remaining"),
            pl.col("qty_received").clip(lower_bound=0).alias("already"),
            _many2one(uom_field).alias("uom_id"),
            _parse_datetime(pl.col("date_planned")).alias("date_planned"),
        )
        .join(orders, on="order_id", how="inner")
        .join(destinations, on="picking_type_id", how="inner")  # drop-ship: no warehouse
        .join(products, on="product_id", how="inner")  # storable only
        .join(receipts, on="line_id", how="left")
        .join(uoms, on="uom_id", how="left")
        .join(vendors.rename({"id": "vendor_id", "name": "vendor"}), on="vendor_id", how="left")
        .with_columns(
            quantity=pl.col("remaining") * pl.col("factor").fill_null(1.0),
            received=pl.col("already") * pl.col("factor").fill_null(1.0),
        )
        .filter(pl.col("quantity") > 0)
        .select(INCOMING_SCHEMA.names())
        .cast(INCOMING_SCHEMA)
        .sort("line_id")
    )


# Deliveries confirmed and not done: their units are sold, whether reserved or not.
_OPEN_DELIVERY_STATES = ["waiting", "confirmed", "partially_available", "assigned"]


def read_unreserved_demand(client: OdooClient, skus: Sequence[str] | None = None) -> pl.DataFrame:
    """Units Odoo has sold out of a warehouse but not reserved: per (sku, warehouse), the open
    deliveries' demand less what they reserved, in the product's base unit.

    A sale confirmed while the shelf is empty (sold ahead from a purchase still on its way, or
    a phone order beyond stock) waits in Odoo with nothing reserved: the snapshot's `reserved`
    does not hold it, so it is read here and counted as pending until Odoo reserves it (the
    receipt arrives). Moves from an internal location to a customer location, in any state but
    done and cancelled; the reserved part is `quantity` (17+) or `reserved_availability` (16).
    Drop-ship moves (vendor to customer) are not from a warehouse and are left out.
    """
    major = client.version.major
    reserved = "quantity" if major >= 17 else "reserved_availability"
    uom_field = "product_uom"
    wire = {
        "id": pl.Int64,
        "product_id": pl.Int64,
        "location_id": pl.Int64,
        "product_uom_qty": pl.Float64,
        reserved: pl.Float64,
        uom_field: pl.Int64,
    }
    domain: list[Any] = [
        ["state", "in", _OPEN_DELIVERY_STATES],
        ["location_id.usage", "=", "internal"],
        ["location_dest_id.usage", "=", "customer"],
    ]
    if skus is None:
        moves = client.search_read_all("stock.move", domain, list(wire))
    else:
        products = _variants(client, "default_code", list(dict.fromkeys(skus)))
        moves = _read_in(
            client, "stock.move", "product_id", products["product_id"].to_list(), list(wire),
            domain,
        )  # fmt: skip
    if not moves:
        return UNRESERVED_DEMAND_SCHEMA.to_frame()
    frame = _frame(moves, wire).select(
        _many2one("product_id").alias("product_id"),
        _many2one("location_id").alias("location_id"),
        (pl.col("product_uom_qty").fill_null(0.0) - pl.col(reserved).fill_null(0.0))
        .clip(lower_bound=0.0)
        .alias("open"),
        _many2one(uom_field).alias("uom_id"),
    )
    frame = frame.filter(pl.col("open") > 0)
    if frame.is_empty():
        return UNRESERVED_DEMAND_SCHEMA.to_frame()
    variants = _variants(client, "id", frame["product_id"].unique().to_list())
    locations = _frame(
        _read_in(client, "stock.location", "id", frame["location_id"].unique().to_list(),
                 ["warehouse_id"], context=_WITH_ARCHIVED),
        {"id": pl.Int64, "warehouse_id": pl.Int64},
    ).select(pl.col("id").alias("location_id"), _many2one("warehouse_id"))  # fmt: skip
    warehouses = _frame(
        client.search_read_all("stock.warehouse", [], ["id", "code"], context=_WITH_ARCHIVED),
        {"id": pl.Int64, "code": pl.Utf8},
    ).select(pl.col("id").alias("warehouse_id"), pl.col("code").alias("warehouse"))
    uoms = _read_uoms(client, major).select("uom_id", "factor")
    return (
        frame.join(variants.select("product_id", "sku"), on="product_id", how="inner")
        .join(locations, on="location_id", how="left")
        .join(warehouses, on="warehouse_id", how="left")
        .join(uoms, on="uom_id", how="left")
        .filter(pl.col("sku").is_not_null() & pl.col("warehouse").is_not_null())
        .group_by("sku", "warehouse")
        .agg(
            (pl.col("open") * pl.col("factor").fill_null(1.0)).sum().alias("quantity"),
            pl.len().cast(pl.Int64).alias("moves"),
        )
        .select(UNRESERVED_DEMAND_SCHEMA.names())
        .cast(UNRESERVED_DEMAND_SCHEMA)
        .sort("sku", "warehouse")
    )


def _warehouse_of_types(client: OdooClient, type_ids: list[int]) -> pl.DataFrame:
    """picking_type_id -> warehouse code, for the operation types bound to a warehouse."""
    types = _frame(
        _read_in(
            client,
            "stock.picking.type",
            "id",
            type_ids,
            ["warehouse_id"],
            context=_WITH_ARCHIVED,
        ),
        {"id": pl.Int64, "warehouse_id": pl.Int64},
    ).select(pl.col("id").alias("picking_type_id"), _many2one("warehouse_id"))
    warehouses = _frame(
        _read_in(
            client,
            "stock.warehouse",
            "id",
            types["warehouse_id"].drop_nulls().unique().to_list(),
            ["code"],
            context=_WITH_ARCHIVED,
        ),
        {"id": pl.Int64, "code": pl.Utf8},
    ).select(pl.col("id").alias("warehouse_id"), pl.col("code").alias("warehouse"))
    return types.join(warehouses, on="warehouse_id", how="inner").select(
        "picking_type_id", "warehouse"
    )


def _receipt_states(client: OdooClient, open_moves: pl.DataFrame) -> pl.DataFrame:
    """line_id -> the state of the open receipt bringing it (the earliest, if several)."""
    moves = open_moves.select(
        pl.col("purchase_line_id").alias("line_id"), _many2one("picking_id").alias("picking_id")
    ).filter(pl.col("picking_id").is_not_null())
    pickings = _frame(
        _read_in(client, "stock.picking", "id", moves["picking_id"].unique().to_list(), ["state"]),
        {"id": pl.Int64, "state": pl.Utf8},
    ).select(pl.col("id").alias("picking_id"), pl.col("state").alias("receipt_state"))
    return (
        moves.join(pickings, on="picking_id", how="inner")
        .sort("picking_id")
        .group_by("line_id", maintain_order=True)
        .agg(pl.col("receipt_state").first())
    )


def _storable_products(client: OdooClient, product_ids: list[int], major: int) -> pl.DataFrame:
    """product_id -> sku, for the storable products among `product_ids` (archived included)."""
    # `type == 'product'` up to 17, the boolean `is_storable` from 18 (as `read_products`).
    storable_field, storable_type = (
        ("is_storable", pl.Boolean) if major >= 18 else ("type", pl.Utf8)
    )
    wire = {"id": pl.Int64, "default_code": pl.Utf8, storable_field: storable_type}
    products = _frame(
        _read_in(client, "product.product", "id", product_ids, list(wire), context=_WITH_ARCHIVED),
        wire,
    )
    storable = pl.col(storable_field)
    return products.filter(
        storable.fill_null(False) if major >= 18 else storable == "product"
    ).select(pl.col("id").alias("product_id"), pl.col("default_code").alias("sku"))


# -- the drop-ship route --------------------------------------------------------------------------


def drop_ship_route_id(client: OdooClient) -> int | None:
    """The id of the drop-ship route, or None when ``stock_dropshipping`` is not installed.

    By its xml id (``stock_dropshipping.route_drop_shipping`` in ``ir.model.data``), or, where
    the user may not read external ids, by the route's name ("Dropship", untranslated). An
    archived route counts as absent: sale lines on it would not be drop-shipped.
    """
    module, name = DROP_SHIP_XMLID
    try:
        data = client.search_read_all(
            "ir.model.data",
            [["module", "=", module], ["name", "=", name], ["model", "=", "stock.route"]],
            ["res_id"],
        )
    except OdooAccessError:
        log.info("may not read ir.model.data: looking the drop-ship route up by its name")
        data = None
    if data is not None:
        ids = [int(r["res_id"]) for r in data if r.get("res_id")]
        if not ids:
            return None
        found = client.search_read_all("stock.route", [["id", "in", ids]], ["id"])
        return int(found[0]["id"]) if found else None
    found = client.search_read_all(
        "stock.route", [["name", "=", DROP_SHIP_ROUTE_NAME]], ["id"], context=_ENGLISH
    )
    return int(found[0]["id"]) if found else None


# -- shared reads ---------------------------------------------------------------------------------


def _has_model(client: OdooClient, model: str) -> bool:
    return client.search_count("ir.model", [["model", "=", model]]) > 0


def _read_in(
    client: OdooClient,
    model: str,
    field: str,
    values: Iterable[Any],
    fields: Sequence[str],
    domain: Domain = (),
    *,
    context: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Records whose `field` is one of `values` (and that match `domain`), in `IN_CHUNK`
    batches, each paged by id."""
    unique = list(dict.fromkeys(values))
    return [
        record
        for chunk in _chunks(unique, IN_CHUNK)
        for record in client.search_read_all(
            model, [[field, "in", chunk], *domain], fields, context=context
        )
    ]


def _unique_by_id(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({record["id"]: record for record in records}.values())


def _variants(client: OdooClient, field: str, values: list[Any]) -> pl.DataFrame:
    """product_id, sku, template_id, active of the variants whose `field` is in `values`
    (archived included)."""
    wire = {
        "id": pl.Int64,
        "default_code": pl.Utf8,
        "product_tmpl_id": pl.Int64,
        "active": pl.Boolean,
    }
    records = _read_in(client, "product.product", field, values, list(wire), context=_WITH_ARCHIVED)
    return _frame(records, wire).select(
        pl.col("id").alias("product_id"),
        pl.col("default_code").alias("sku"),
        _many2one("product_tmpl_id").alias("template_id"),
        "active",
    )


def _names(client: OdooClient, model: str, ids: list[int]) -> pl.DataFrame:
    """id, name of records (archived included)."""
    return _frame(
        _read_in(client, model, "id", ids, ["name"], context=_WITH_ARCHIVED),
        {"id": pl.Int64, "name": pl.Utf8},
    )
