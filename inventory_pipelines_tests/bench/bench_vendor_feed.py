"""A vendor feed of 1,000,000 rows parsed, mapped and checked: wall time and peak memory.

The feed is a CSV body (``code,quantity,updated_at``, UTF-8) as the fetch hands it over, with
the dirt real feeds carry in realistic shares: 0.5% codes the supplierinfo does not know,
0.1% negative and 0.1% unparsable quantities, 0.05% codes listed twice, 1% rows older than the
freshness limit, and a last line cut off. The supplierinfo maps every other code (plus 5% of
the vendor's SKUs the feed does not list). Timed per run: `parse_feed` (decode, CSV to
frames, truncation), `vendor_stock` (cleaning, freshness, mapping, buffer, the absent SKUs)
and the pandera checks of `supply/vendor_stock` and its quarantine. No HTTP: the fetch of 30
MB on the loopback is not what this measures.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from inventory_pipelines.rules.vendors import Vendor
from inventory_pipelines.supply.model import FeedRead
from inventory_pipelines.supply.parse import parse_feed
from inventory_pipelines.supply.schemas import SupplyQuarantineSchema, VendorStockSchema
from inventory_pipelines.supply.vendors import vendor_stock
from inventory_pipelines_tests.bench.measure import emit, figure, peak_rss_mib

PARTNER = "Bench Drop-Ship Co"
VENDOR = Vendor.model_validate(
    {
        "code": "bench",
        "odoo_partner": PARTNER,
        "feed": {
            "kind": "http",
            "url": "http://127.0.0.1:8095/feeds/bench.csv",
            "columns": {"updated_at": "updated_at"},
        },
        "freshness_hours": 24,
        "buffer": {"percent": 5},
        "lead_time_days": 2,
    }
)


def synthetic_feed(rows: int, now: datetime, seed: int = 7) -> tuple[bytes, pl.DataFrame]:
    """(the feed's CSV body, the vendor's supplierinfo), generated column-wise."""
    rng = np.random.default_rng(seed)
    roll = rng.random(rows)
    fresh_at = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old_at = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    roll_in = pl.col("roll").is_between
    feed = pl.DataFrame(
        {
            "id": np.arange(1, rows + 1, dtype=np.int64),
            "quantity": rng.integers(0, 500, rows),
            "roll": roll,
        }
    ).select(
        code=pl.when(pl.col("roll") < 0.005)
        .then(pl.format("ZZ-{}", pl.col("id")))
        .otherwise(pl.format("V-{}", pl.col("id").cast(pl.Utf8).str.zfill(7))),
        quantity=pl.when(roll_in(0.005, 0.006, closed="left"))
        .then((-pl.col("quantity") - 1).cast(pl.Utf8))
        .when(roll_in(0.006, 0.007, closed="left"))
        .then(pl.format("{}x", pl.col("quantity")))
        .otherwise(pl.col("quantity").cast(pl.Utf8)),
        updated_at=pl.when(roll_in(0.007, 0.017, closed="left"))
        .then(pl.lit(old_at))
        .otherwise(pl.lit(fresh_at)),
    )
    duplicates = feed.sample(fraction=0.0005, seed=seed).with_columns(quantity=pl.lit("1"))
    feed = pl.concat([feed, duplicates]).sample(fraction=1.0, shuffle=True, seed=seed)
    body = feed.write_csv().encode()
    body = body[: len(body) - 5]  # the last line cut off in transfer
    catalog = rows + rows // 20
    supplierinfo = pl.DataFrame({"id": np.arange(1, catalog + 1, dtype=np.int64)}).select(
        supplierinfo_id="id",
        vendor_id=pl.lit(7, pl.Int64),
        vendor=pl.lit(PARTNER),
        vendor_code=pl.format("V-{}", pl.col("id").cast(pl.Utf8).str.zfill(7)),
        sku=pl.format("SKU-{}", pl.col("id").cast(pl.Utf8).str.zfill(7)),
        product_id="id",
        min_qty=pl.lit(0.0),
        delay_days=pl.lit(3, pl.Int64),
        sequence=pl.lit(1, pl.Int64),
    )
    return body, supplierinfo


def run_once(body: bytes, supplierinfo: pl.DataFrame, now: datetime) -> dict[str, float]:
    """Parse, map and check once; the seconds of each step and the counts."""
    started = time.perf_counter()
    parsed = parse_feed(body, format=VENDOR.feed.format, columns=VENDOR.feed.columns)
    parsed_at = time.perf_counter()
    read = FeedRead("vendor:bench", "http://127.0.0.1:8095/feeds/bench.csv", parsed, 200, now, now)
    stock, quarantine = vendor_stock(read, supplierinfo, VENDOR, now=now)
    mapped_at = time.perf_counter()
    VendorStockSchema.validate(stock, lazy=True)
    SupplyQuarantineSchema.validate(quarantine, lazy=True)
    done = time.perf_counter()
    return {
        "total": done - started,
        "parse": parsed_at - started,
        "map": mapped_at - parsed_at,
        "check": done - mapped_at,
        "rows": parsed.height,
        "stock_rows": stock.height,
        "quarantined": quarantine.height,
        "stale_rows": int((~stock["fresh"]).sum()),
    }


def main() -> None:
    """Generate the feed, then time parse + map + check on it (median of 3)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args, _ = parser.parse_known_args()
    now = datetime.now(UTC)
    body, supplierinfo = synthetic_feed(args.rows, now)
    rss_inputs = peak_rss_mib()
    runs = [run_once(body, supplierinfo, now) for _ in range(3)]
    median = {k: statistics.median(r[k] for r in runs) for k in ("total", "parse", "map", "check")}
    last = runs[-1]
    emit(
        {
            "vendor_feed_1m_seconds": figure(
                round(median["total"], 3),
                "s",
                "< 10",
                feed_rows=last["rows"],
                feed_mib=round(len(body) / 2**20, 1),
                stock_rows=last["stock_rows"],
                quarantined=last["quarantined"],
                stale_rows=last["stale_rows"],
                parse_s=round(median["parse"], 3),
                map_s=round(median["map"], 3),
                check_s=round(median["check"], 3),
                runs_s=[round(r["total"], 3) for r in runs],
                statistic="median of 3",
            ),
            "vendor_feed_1m_peak_rss_mib": figure(
                round(peak_rss_mib(), 1),
                "MiB",
                "< 3072",
                inputs_rss_mib=round(rss_inputs, 1),
                note="peak RSS of the process: the generated feed and supplierinfo plus the work",
            ),
        }
    )


if __name__ == "__main__":
    main()
