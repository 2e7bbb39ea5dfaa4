"""Canonical inventory for 1,000,000 SKUs x 3 warehouses: wall time and peak memory."""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from inventory_pipelines.inventory.canonical import compute_canonical
from inventory_pipelines_tests.bench.measure import emit, figure, peak_rss_mib
from inventory_pipelines_tests.bench.synthetic import snapshot_frames


def main() -> None:
    """Generate the snapshot frames, then time `compute_canonical` on them (median of 3)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=1_000_000)
    args, _ = parser.parse_known_args()
    products, locations, quants = snapshot_frames(args.skus)
    rss_inputs = peak_rss_mib()
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        canonical, quarantine = compute_canonical(products, locations, quants, datetime.now(UTC))
        timings.append(time.perf_counter() - started)
    emit(
        {
            "canonical_1m_seconds": figure(
                round(statistics.median(timings), 3),
                "s",
                "< 5",
                skus=args.skus,
                quants=quants.height,
                canonical_rows=canonical.height,
                quarantined=quarantine.height,
                runs_s=[round(t, 3) for t in timings],
                statistic="median of 3",
            ),
            "canonical_1m_peak_rss_mib": figure(
                round(peak_rss_mib(), 1),
                "MiB",
                "< 3072",
                inputs_rss_mib=round(rss_inputs, 1),
                note="peak RSS of the process: the generated inputs plus the computation",
            ),
        }
    )


if __name__ == "__main__":
    main()
