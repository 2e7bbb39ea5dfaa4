"""Supply beyond the shelf: `supply/vendor_stock` per drop-ship vendor, `supply/threepl_stock`
per 3PL warehouse with a feed, their quarantines, and `reconciliation/threepl_drift`.

Each vendor (or 3PL) partition reads its feed through `supply/feeds.py` (conditional fetch, the
last good parse kept in the ledger and on the data plane), cleans and maps it with the pure
steps of `supply/`, and writes the stock and the quarantine. A feed that cannot be read never
fails the run: its last good parse is used while it is fresh, else the vendor counts zero,
and each row says why. The numbers of each materialization: ``rows``, ``quarantined``,
``stale`` (1: nothing fresh from the feed), ``units`` (what may be sold) and ``fetch_status``
(200, 304, an HTTP error, 404 no file, 0 not reached).

Supply quarantine rows do not join `inventory/quarantine`: that table is one output of the
canonical step, rewritten (or upserted per SKU) by each snapshot, and a vendor's partition
cannot write into it without racing it. They have its columns (plus ``feed``, ``code`` and
``raw``), so one `UNION ALL` in DuckDB reads them together.
"""

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from inventory_pipelines import settings
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.checks import (
    SCHEMA_CHECK,
    preview,
    schema_check_result,
    schema_check_spec,
)
from inventory_pipelines.defs.io_manager import SORT_BY, ParquetIOManager
from inventory_pipelines.defs.resources import LedgerResource, RulesResource
from inventory_pipelines.defs.shared import (
    CANONICAL,
    POLICY,
    PRODUCTS,
    SUPPLY_QUARANTINE,
    THREEPL_DRIFT,
    THREEPL_QUARANTINE,
    THREEPL_STOCK,
    VENDOR_STOCK,
    threepl_partitions,
    vendor_partitions,
)
from inventory_pipelines.ledger import dirty
from inventory_pipelines.reconciliation.threepl import ThreeplDriftSchema, threepl_drift
from inventory_pipelines.rules.warehouses import StockSource
from inventory_pipelines.supply.feeds import read_feed, threepl_feed, vendor_feed
from inventory_pipelines.supply.model import FeedRead
from inventory_pipelines.supply.schemas import (
    SupplyQuarantineSchema,
    ThreeplStockSchema,
    VendorStockSchema,
)
from inventory_pipelines.supply.threepl import THREEPL_STOCK_SCHEMA, threepl_stock
from inventory_pipelines.supply.vendors import vendor_stock

QUARANTINE_ORDER = ["record_id", "reason", "code"]
#: Odoo's product.supplierinfo as the snapshot writes it (defs/odoo/supply.py): read whole from
#: the data plane, never for a SKU subset (a vendor's feed is mapped against all its codes)
SUPPLIERINFO = ("odoo", "supplierinfo")


def feed_environment() -> Mapping[str, str]:
    """Where a feed's credential variable is looked up at run time: the process environment
    (in the local environment, over the variables the running sandbox recorded, as the
    channels' connectors do). Never run config: no secret passes through Dagster."""
    return settings.local_env() if settings.environment() == "local" else os.environ


def threepl_rules_version() -> str:
    """A digest of the 3PL warehouses' entries of warehouses.yml: the 3PL assets go stale
    when a feed changes, not when a hold location's pattern does."""
    declared = [
        w.model_dump(mode="json") for w in POLICY.warehouses.warehouses if w.feed is not None
    ]
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()[:16]


def feed_figures(read: FeedRead, stock: pl.DataFrame, quarantine: pl.DataFrame) -> dict:
    """The numbers and facts of one feed's materialization (module docstring)."""
    from_feed = stock.filter(pl.col("feed_quantity") > 0) if stock.height else stock
    figures: dict[str, object] = {
        "rows": stock.height,
        "quarantined": quarantine.height,
        "stale": 0
        if stock.height and bool(stock["fresh"].any()) and read.parsed is not None
        else 1,
        "stale_rows": int((~stock["fresh"]).sum()) if stock.height else 0,
        "units": float(stock["quantity"].sum()) if stock.height else 0.0,
        "fetch_status": read.status,
        "from_cache": read.from_cache,
        "source": read.source,
        "skus_with_stock": from_feed.height,
    }
    if read.feed_as_of is not None:
        figures["feed_as_of"] = dg.MetadataValue.timestamp(read.feed_as_of)
    if read.problem is not None:
        figures["problem"] = read.problem.describe()
    if quarantine.height:
        figures["by_reason"] = dg.MetadataValue.json(
            dict(quarantine.group_by("reason").len().sort("reason").iter_rows())
        )
    return figures


@dg.multi_asset(
    outs={
        "vendor_stock": dg.AssetOut(
            key=VENDOR_STOCK,
            metadata={SORT_BY: ["sku"]},
            kinds={"polars", "parquet"},
            description="Per drop-ship vendor and SKU: what its feed says (feed_quantity) and "
            "what may be sold (quantity: after the vendor's buffer, 0 when the feed is stale "
            "or unusable), fresh, as_of, lead_time_days, the feed's source and, for a 0, the "
            "reason. Every SKU the vendor's supplierinfo lists has a row.",
        ),
        "quarantine": dg.AssetOut(
            key=SUPPLY_QUARANTINE,
            metadata={SORT_BY: QUARANTINE_ORDER},
            kinds={"polars", "parquet"},
            description="Every vendor feed row left out (unknown, ambiguous or duplicate "
            "code, negative or unparsable quantity, a cut-off last line, bytes the encoding "
            "cannot decode) and every feed that could not be read, with the row as read and "
            "the reason; the columns of inventory/quarantine plus feed, code and raw.",
        ),
    },
    partitions_def=vendor_partitions,
    deps=[dg.AssetKey(list(SUPPLIERINFO))],
    group_name="supply",
    code_version=f"rules-{POLICY.version_of('vendors.yml')}",
    check_specs=[
        schema_check_spec(VENDOR_STOCK, VendorStockSchema),
        schema_check_spec(SUPPLY_QUARANTINE, SupplyQuarantineSchema),
    ],
)
def vendor_stock_asset(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    rules: RulesResource,
    io_manager: dg.ResourceParam[ParquetIOManager],
):
    """Read one vendor's feed, map its codes through Odoo's supplierinfo, judge its age."""
    vendor = rules.policy().vendors.get(context.partition_key)
    store = TableStore(io_manager.base_dir)
    if not store.exists(SUPPLIERINFO):
        raise dg.Failure(
            f"vendor {vendor.code}: odoo/supplierinfo has not been read yet, so no vendor code "
            "can be mapped to a SKU. Run refresh_inventory (or wait for the nightly "
            "reconcile_all), then this partition again; meanwhile the vendor sells nothing."
        )
    supplierinfo = store.read(SUPPLIERINFO)
    now = datetime.now(UTC)
    with ledger.engine() as engine:
        read = read_feed(
            vendor_feed(vendor.code),
            vendor.feed,
            engine=engine,
            store=store,
            now=now,
            environ=feed_environment(),
        )
    stock, quarantine = vendor_stock(read, supplierinfo, vendor, now=now)
    source = f"vendor {vendor.code}"
    changed = _mark_changed(ledger, store, VENDOR_STOCK, context.partition_key, stock, source)
    yield from _feed_outputs(
        context, source, read, changed, ("vendor_stock", stock), ("quarantine", quarantine)
    )


@dg.multi_asset(
    outs={
        "threepl_stock": dg.AssetOut(
            key=THREEPL_STOCK,
            metadata={SORT_BY: ["sku"]},
            kinds={"polars", "parquet"},
            description="Per 3PL warehouse (a warehouse with a feed in warehouses.yml) and SKU: "
            "what its 3PL's feed says, in base units (3PLs speak our SKUs), fresh, as_of; "
            "quantity is 0 when the feed is stale. What it does to the warehouse's stock "
            "follows its stock_source (odoo, feed, both).",
        ),
        "threepl_quarantine": dg.AssetOut(
            key=THREEPL_QUARANTINE,
            metadata={SORT_BY: QUARANTINE_ORDER},
            kinds={"polars", "parquet"},
            description="Every 3PL feed row left out (a SKU Odoo does not have, duplicates, "
            "negative or unparsable quantities, a cut-off line...) with the row and the reason.",
        ),
    },
    ins={"products": dg.AssetIn(key=PRODUCTS)},
    partitions_def=threepl_partitions,
    group_name="supply",
    code_version=f"rules-{threepl_rules_version()}",
    check_specs=[
        schema_check_spec(THREEPL_STOCK, ThreeplStockSchema),
        schema_check_spec(THREEPL_QUARANTINE, SupplyQuarantineSchema),
    ],
)
def threepl_stock_asset(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    rules: RulesResource,
    io_manager: dg.ResourceParam[ParquetIOManager],
    products: pl.DataFrame,
):
    """Read one 3PL warehouse's feed and match its SKUs to Odoo's products."""
    warehouse = rules.policy().warehouses.get(context.partition_key)
    if warehouse.feed is None:
        raise dg.Failure(
            f"warehouse {warehouse.code} has no feed in warehouses.yml: it is no 3PL partition"
        )
    now = datetime.now(UTC)
    with ledger.engine() as engine:
        read = read_feed(
            threepl_feed(warehouse.code),
            warehouse.feed,
            engine=engine,
            store=TableStore(io_manager.base_dir),
            now=now,
            environ=feed_environment(),
        )
    stock, quarantine = threepl_stock(read, products, warehouse, now=now)
    source = f"3PL {warehouse.code}"
    changed = (
        _mark_changed(
            ledger,
            TableStore(io_manager.base_dir),
            THREEPL_STOCK,
            context.partition_key,
            stock,
            source,
        )
        if warehouse.stock_source is not StockSource.ODOO
        else 0  # compared with Odoo only: no channel quantity depends on it
    )
    yield from _feed_outputs(
        context, source, read, changed, ("threepl_stock", stock), ("threepl_quarantine", quarantine)
    )


@dg.asset(
    key=THREEPL_DRIFT,
    group_name="reconciliation",
    ins={"canonical_inventory": dg.AssetIn(key=CANONICAL)},
    deps=[dg.AssetDep(dg.AssetKey(THREEPL_STOCK), partition_mapping=dg.AllPartitionMapping())],
    kinds={"polars", "parquet"},
    metadata={SORT_BY: ["warehouse", "sku"]},
    check_specs=[
        dg.AssetCheckSpec(
            SCHEMA_CHECK,
            asset=dg.AssetKey(THREEPL_DRIFT),
            blocking=False,
            description=f"ThreeplDriftSchema: {(ThreeplDriftSchema.__doc__ or '').strip()}",
        )
    ],
    description="Per 3PL warehouse and SKU where they differ: Odoo's on-hand "
    "(inventory/canonical_inventory) against the 3PL's own count (supply/threepl_stock), "
    "the difference (3PL less Odoo) and the cause threepl_mismatch. Only warehouses whose "
    "feed is fresh are compared.",
)
def threepl_drift_asset(
    context: dg.AssetExecutionContext,
    rules: RulesResource,
    io_manager: dg.ResourceParam[ParquetIOManager],
    canonical_inventory: pl.DataFrame,
):
    """Compare each 3PL warehouse's two books, where its feed is fresh."""
    store = TableStore(io_manager.base_dir)
    codes = rules.policy().warehouses.with_feed()
    present = [c for c in store.partitions(THREEPL_STOCK) if c in codes]
    frames = [store.read(THREEPL_STOCK, code) for code in present]
    threepl = (
        pl.concat(frames, how="vertical_relaxed")
        if frames
        else pl.DataFrame(schema=THREEPL_STOCK_SCHEMA)
    )
    fresh = threepl.filter(pl.col("fresh")) if threepl.height else threepl
    compared = [c for c in codes if c in set(fresh["warehouse"].to_list())]
    not_compared = {
        code: "its feed was never read" if code not in present else "its feed is stale or empty"
        for code in codes
        if code not in compared
    }
    frame = threepl_drift(canonical_inventory, threepl, compared, now=datetime.now(UTC))
    by_warehouse = {
        code: {
            "drift_skus": frame.filter(pl.col("warehouse") == code).height,
            "drift_units": float(
                frame.filter(pl.col("warehouse") == code)["difference"].abs().sum()
            ),
        }
        for code in compared
    }
    yield dg.Output(
        frame,
        metadata={
            "drift_skus": frame.height,
            "drift_units": float(frame["difference"].abs().sum()) if frame.height else 0.0,
            "warehouses_compared": len(compared),
            "warehouses": dg.MetadataValue.json(by_warehouse),
            "not_compared": dg.MetadataValue.json(not_compared),
            "preview": preview(frame),
        },
    )
    result = schema_check_result(THREEPL_DRIFT, ThreeplDriftSchema, frame)
    yield dg.AssetCheckResult(
        check_name=result.check_name,
        asset_key=result.asset_key,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=result.metadata,
    )


#: each supply output's key and pandera schema, by output name
_OUTPUTS = {
    "vendor_stock": (VENDOR_STOCK, VendorStockSchema),
    "quarantine": (SUPPLY_QUARANTINE, SupplyQuarantineSchema),
    "threepl_stock": (THREEPL_STOCK, ThreeplStockSchema),
    "threepl_quarantine": (THREEPL_QUARANTINE, SupplyQuarantineSchema),
}


def _feed_outputs(
    context: dg.AssetExecutionContext,
    source: str,
    read: FeedRead,
    changed: int,
    stock: tuple[str, pl.DataFrame],
    quarantine: tuple[str, pl.DataFrame],
):
    """What a feed's run yields: its stock (with the feed's figures) and its quarantine, then
    the schema check of each; a feed problem logged first."""
    if read.problem is not None:
        context.log.warning(f"{source}: {read.problem.describe()}")
    (stock_name, stock_frame), (quarantine_name, quarantine_frame) = stock, quarantine
    yield dg.Output(
        stock_frame,
        output_name=stock_name,
        metadata={
            **feed_figures(read, stock_frame, quarantine_frame),
            "skus_changed": changed,
            "preview": preview(stock_frame),
        },
    )
    yield dg.Output(
        quarantine_frame,
        output_name=quarantine_name,
        metadata={"rows": quarantine_frame.height, "preview": preview(quarantine_frame)},
    )
    for name, frame in (stock, quarantine):
        key, schema = _OUTPUTS[name]
        yield schema_check_result(key, schema, frame)


def _mark_changed(
    ledger: LedgerResource,
    store: TableStore,
    key: Sequence[str],
    partition: str,
    stock: pl.DataFrame,
    source: str,
) -> int:
    """Mark dirty, for the next batch (`batch_sync`, every 15 minutes), the SKUs whose sellable
    quantity this feed changes against what its partition held (a SKU it no longer lists
    included): a vendor at 0 since 09:00 reaches the channels then, not at the nightly run.
    Returns how many were marked."""
    new = stock.select("sku", pl.col("quantity").alias("_new"))
    old = (
        store.read(key, partition).select("sku", pl.col("quantity").alias("_old"))
        if store.exists(key, partition)
        else pl.DataFrame(schema={"sku": pl.Utf8, "_old": pl.Float64})
    )
    moved = (
        old.join(new, on="sku", how="full", coalesce=True)
        .filter(pl.col("_old").fill_null(0.0) != pl.col("_new").fill_null(0.0))
        .get_column("sku")
        .drop_nulls()
        .to_list()
    )
    if moved:
        with ledger.engine() as engine, engine.connect() as conn:
            dirty.mark(conn, dict.fromkeys(moved, f"{source} feed changed"))
    return len(moved)


@dg.definitions
def defs() -> dg.Definitions:
    """The supply assets and the 3PL drift."""
    return dg.Definitions(assets=[vendor_stock_asset, threepl_stock_asset, threepl_drift_asset])
