"""Snapshot of 100,000 SKUs x 3 warehouses from the Odoo emulator over JSON-RPC: quants per second.

The emulator runs in its own process (as a real Odoo would), so the client's parsing and the
server's work overlap on the two cores, as they do in production.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from inventory_pipelines.odoo import OdooClient, OdooConfig, read_products, read_quants
from inventory_pipelines_tests.bench.measure import emit, figure, peak_rss_mib


def main() -> None:
    """Start the emulator, then time the quant snapshot (median of 3) and the product read."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--version", default="17")
    parser.add_argument("--page-size", type=int, default=20_000)
    args, _ = parser.parse_known_args()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "inventory_pipelines.sandbox.odoo",
            "--port", "0", "--version", args.version, "--skus", str(args.skus), "--seed", "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        started = time.perf_counter()
        creds = json.loads(server.stdout.readline())
        boot_s = time.perf_counter() - started
        config = OdooConfig(
            url=creds["url"],
            db=creds["db"],
            login=creds["login"],
            secret=creds["api_key"],
            protocol="jsonrpc",
            page_size=args.page_size,
            timeout_s=120,
        )
        with OdooClient(config) as client:
            started = time.perf_counter()
            products = read_products(client)
            products_s = time.perf_counter() - started
            timings, rows = [], 0
            for _ in range(3):
                started = time.perf_counter()
                quants = read_quants(client)
                timings.append(time.perf_counter() - started)
                rows = quants.height
        median = statistics.median(timings)
        emit(
            {
                "odoo_snapshot_quants_per_s": figure(
                    round(rows / median),
                    "quants/s",
                    ">= 50000",
                    quants=rows,
                    skus=args.skus,
                    protocol="jsonrpc",
                    page_size=args.page_size,
                    runs_s=[round(t, 3) for t in timings],
                    statistic="median of 3",
                    client_peak_rss_mib=round(peak_rss_mib(), 1),
                    emulator_boot_s=round(boot_s, 1),
                ),
                "odoo_snapshot_products_per_s": figure(
                    round(products.height / products_s), "products/s", products=products.height
                ),
            }
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
