"""Supply read from Odoo: vendors' product codes and purchase orders still to arrive."""

import dagster as dg
import polars as pl

from inventory_pipelines.defs.checks import preview, schema_check_result, schema_check_spec
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, SkuScope
from inventory_pipelines.defs.resources import OdooResource
from inventory_pipelines.defs.shared import INCOMING_PURCHASES, UNRESERVED_DEMAND
from inventory_pipelines.odoo import supply
from inventory_pipelines.odoo.supply_schemas import (
    IncomingPurchasesSchema,
    SupplierInfoSchema,
    UnreservedDemandSchema,
)

SUPPLIERINFO = ["odoo", "supplierinfo"]
UNAMBIGUOUS_CODES_CHECK = "vendor_codes_unambiguous"
#: how many ambiguous codes the check names one by one
NAMED_CODES = 20


@dg.asset(
    key=SUPPLIERINFO,
    group_name="odoo",
    kinds={"odoo", "polars", "parquet"},
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["supplierinfo_id"]},
    check_specs=[
        schema_check_spec(SUPPLIERINFO, SupplierInfoSchema),
        dg.AssetCheckSpec(
            UNAMBIGUOUS_CODES_CHECK,
            asset=dg.AssetKey(SUPPLIERINFO),
            blocking=False,
            description="No vendor gives one product code to two of our SKUs (a feed line "
            "with such a code cannot be mapped, and is quarantined).",
        ),
    ],
    description="product.supplierinfo: each vendor's product code for our SKUs (vendor, "
    "vendor_code, sku, min_qty, lead time, rank). A price on a template of one variant maps to "
    "it; one on a template of several variants maps to no SKU (sku null).",
)
def supplierinfo(context: dg.AssetExecutionContext, odoo: OdooResource, sku_scope: SkuScope):
    """Read the vendor prices (those of the SKU subset in a partial refresh)."""
    with odoo.client() as client:
        frame = supply.read_supplierinfo(client, skus=sku_scope.skus)
    yield dg.Output(
        frame,
        metadata={
            "rows": frame.height,
            "vendors": frame["vendor_id"].n_unique(),
            "skus": frame["sku"].drop_nulls().n_unique(),
            "without_code": frame.filter(pl.col("vendor_code").is_null()).height,
            "without_sku": frame.filter(pl.col("sku").is_null()).height,
            "preview": preview(frame),
        },
    )
    yield schema_check_result(SUPPLIERINFO, SupplierInfoSchema, frame)
    yield _unambiguous_codes_result(frame)


def _unambiguous_codes_result(frame: pl.DataFrame) -> dg.AssetCheckResult:
    ambiguous = supply.ambiguous_vendor_codes(frame)
    metadata: dict[str, object] = {"ambiguous_codes": ambiguous.height}
    if ambiguous.height:
        named = [
            f"{row['vendor']} {row['vendor_code']!r}: {', '.join(row['skus'])}"
            for row in ambiguous.head(NAMED_CODES).iter_rows(named=True)
        ]
        if ambiguous.height > NAMED_CODES:
            named.append(f"and {ambiguous.height - NAMED_CODES} more")
        metadata["codes"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in named))
    return dg.AssetCheckResult(
        check_name=UNAMBIGUOUS_CODES_CHECK,
        asset_key=dg.AssetKey(SUPPLIERINFO),
        passed=ambiguous.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=None
        if ambiguous.is_empty()
        else "Vendor codes that name several SKUs; fix the vendor prices in Odoo "
        "(Purchase tab of the product).",
    )


@dg.asset(
    key=INCOMING_PURCHASES,
    group_name="odoo",
    kinds={"odoo", "polars", "parquet"},
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["line_id"]},
    check_specs=[schema_check_spec(INCOMING_PURCHASES, IncomingPurchasesSchema)],
    description="Confirmed purchase order lines with units still to arrive: purchase order, "
    "vendor, sku, warehouse, quantity left in base units (ordered less received), expected "
    "arrival (UTC) and the state of the receipt bringing them. Drop-ship orders go to "
    "customers and are not here.",
)
def incoming_purchases(context: dg.AssetExecutionContext, odoo: OdooResource, sku_scope: SkuScope):
    """Read the open purchase order lines (those of the SKU subset in a partial refresh)."""
    with odoo.client() as client:
        frame = supply.read_incoming(client, skus=sku_scope.skus)
    by_warehouse = (
        frame.group_by("warehouse").agg(pl.col("quantity").sum()).sort("warehouse").iter_rows()
    )
    earliest = frame["date_planned"].min()
    yield dg.Output(
        frame,
        metadata={
            "lines": frame.height,
            "units": float(frame["quantity"].sum()),
            "purchase_orders": frame["purchase_order"].n_unique(),
            "partly_received_lines": frame.filter(pl.col("received") > 0).height,
            "units_by_warehouse": dg.MetadataValue.json(dict(by_warehouse)),
            "next_arrival": earliest.isoformat() if earliest is not None else "none",
            "preview": preview(frame),
        },
    )
    yield schema_check_result(INCOMING_PURCHASES, IncomingPurchasesSchema, frame)


@dg.asset(
    key=UNRESERVED_DEMAND,
    group_name="odoo",
    kinds={"odoo", "polars", "parquet"},
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["sku", "warehouse"]},
    check_specs=[schema_check_spec(UNRESERVED_DEMAND, UnreservedDemandSchema)],
    description="Per SKU and warehouse, the units of open deliveries Odoo has not reserved: "
    "sold beyond the shelf (ahead of a purchase on its way, or beyond stock). The allocation "
    "counts them as pending until Odoo reserves them, so units sold ahead from incoming stock "
    "are not offered again.",
)
def unreserved_demand(context: dg.AssetExecutionContext, odoo: OdooResource, sku_scope: SkuScope):
    """Read the open deliveries' unreserved units (those of the SKU subset in a partial run)."""
    with odoo.client() as client:
        frame = supply.read_unreserved_demand(client, skus=sku_scope.skus)
    yield dg.Output(
        frame,
        metadata={
            "skus": frame["sku"].n_unique(),
            "units": float(frame["quantity"].sum()),
            "moves": int(frame["moves"].sum()),
            "preview": preview(frame),
        },
    )
    yield schema_check_result(UNRESERVED_DEMAND, UnreservedDemandSchema, frame)


@dg.definitions
def defs() -> dg.Definitions:
    """The supply assets read from Odoo."""
    return dg.Definitions(assets=[supplierinfo, incoming_purchases, unreserved_demand])
