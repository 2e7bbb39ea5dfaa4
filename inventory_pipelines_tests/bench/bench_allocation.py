"""Allocation for 1,000,000 SKUs x 5 channels, and the same rules as a plain-Python row loop."""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from inventory_pipelines.allocation.engine import allocate
from inventory_pipelines.inventory.canonical import compute_canonical
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.bench.measure import emit, figure, peak_rss_mib
from inventory_pipelines_tests.bench.rowloop import allocate_rows
from inventory_pipelines_tests.bench.synthetic import snapshot_frames


def main() -> None:
    """Time the engine (3 runs) and the row loop (1 run) on the same canonical inventory."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=1_000_000)
    args, _ = parser.parse_known_args()
    now = datetime.now(UTC)
    policy = load_policy()
    products, locations, quants = snapshot_frames(args.skus)
    canonical, _ = compute_canonical(products, locations, quants, now)
    del quants
    rng = np.random.default_rng(3)
    skus = products.filter(pl.col("sku").is_not_null()).select("sku")
    skus = skus.with_columns(velocity_tier=pl.Series(rng.choice(["A", "B", "C"], skus.height)))
    pending = skus.sample(fraction=0.02, seed=1).select("sku", pending=pl.lit(3.0))
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = allocate(canonical, policy, now, pending=pending, skus=skus)
        timings.append(time.perf_counter() - started)
    engine_s = statistics.median(timings)
    rss = peak_rss_mib()

    rows_canonical = canonical.select("sku", "warehouse", "available").to_dicts()
    rows_skus = skus.to_dicts()
    rows_pending = dict(pending.iter_rows())
    started = time.perf_counter()
    rows = allocate_rows(rows_canonical, policy, now, rows_pending, rows_skus)
    rowloop_s = time.perf_counter() - started
    assert len(rows) == result.height
    emit(
        {
            "allocation_1m_x5_seconds": figure(
                round(engine_s, 3),
                "s",
                "< 5",
                skus=skus.height,
                channels=len(policy.channels.channels),
                rows=result.height,
                runs_s=[round(t, 3) for t in timings],
                statistic="median of 3",
            ),
            "allocation_1m_x5_peak_rss_mib": figure(
                round(rss, 1),
                "MiB",
                "< 3072",
                note="peak RSS of the process after the engine runs (inputs included), "
                "before the row loop",
            ),
            "allocation_rowloop_seconds": figure(round(rowloop_s, 2), "s", rows=len(rows)),
            "allocation_speedup_vs_rowloop": figure(
                round(rowloop_s / engine_s, 1), "x", note="row-loop time / engine median time"
            ),
        }
    )


if __name__ == "__main__":
    main()
