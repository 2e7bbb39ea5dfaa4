"""Orders: ingestion throughput into Odoo, and the time from an order to the other channel.

`order_ingest_per_s`: the Odoo emulator runs in its own process with 2,000 SKUs. 1,000 orders
of 1 to 3 lines wait in the ledger's inbox; ingestion workers (threads, each with its own Odoo
client and ledger connection) claim, look up, create and confirm them. Figure: orders per
second, for 1 and for 4 workers; every order is checked to be in Odoo exactly once.

`order_to_channels_p95_s`: single orders on the Shopify emulator, one after the other; each
reaches the webhook receiver by the emulator's signed webhook (sent at once), the inbox, the
pending ledger, an allocation of its SKU and a publish round; the clock stops when the
WooCommerce emulator shows the lower quantity. This is the loop's own latency: in Dagster the
sensor's interval (15 s minimum) and the run launch come on top, and a real channel's webhook
lag before it.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from inventory_pipelines.channels.base import ChannelOrder, OrderLine
from inventory_pipelines.ledger import create_engine, inbox, migrate
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.orders.ingest import Ingestor, channel_setups
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.bench.measure import emit, figure
from inventory_pipelines_tests.orders.storm import run_storm


def config(creds: dict) -> OdooConfig:
    return OdooConfig(
        url=creds["url"], db=creds["db"], login=creds["login"], secret=creds["api_key"]
    )


def run(creds: dict, orders: int, workers: int, prefix: str, skus: list[str], tmp: Path) -> dict:
    """Ingest `orders` fresh orders with `workers` threads; figures and a duplicate check."""
    url = f"sqlite:///{tmp / f'ledger-{prefix}.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    rng = random.Random(7)
    events = [
        ChannelOrder(
            external_id=f"{prefix}{n:05d}",
            event="created",
            kind="created",
            lines=tuple(
                OrderLine(None, sku, 1, "9.90") for sku in rng.sample(skus, rng.randint(1, 3))
            ),
            updated_at="2026-11-27T10:00:00Z",
            number=f"#{prefix}{n}",
        )
        for n in range(orders)
    ]
    with engine.connect() as conn:
        inbox.receive(conn, [inbox_event("shopify", e, "webhook") for e in events])
    setups = channel_setups(load_policy())
    start = threading.Barrier(workers + 1)

    def work(name: str) -> None:
        local = create_engine(url)
        with OdooClient(config(creds)) as client:
            client.uid  # noqa: B018 - log in before the clock starts
            start.wait()
            Ingestor(local, client, setups, worker=name).run(batch=20)
        local.dispose()

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    with OdooClient(config(creds)) as client:
        refs = client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=like", f"shopify/{prefix}%"]]],
            {"fields": ["client_order_ref"]},
        )
    counts = Counter(r["client_order_ref"] for r in refs)
    engine.dispose()
    if len(counts) != orders or max(counts.values()) != 1:
        raise SystemExit(
            f"{prefix}: {len(counts)} orders in Odoo, duplicates {counts.most_common(1)}"
        )
    return {
        "orders": orders,
        "workers": workers,
        "wall_s": round(wall, 2),
        "orders_per_s": round(orders / wall, 1),
    }


def main() -> None:
    """Measure with 1 and 4 workers; emit the better as the figure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=100)
    args, _ = parser.parse_known_args()
    odoo = subprocess.Popen(
        [sys.executable, "-m", "inventory_pipelines.sandbox.odoo", "--port", "0", "--skus", "2000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        creds = json.loads(odoo.stdout.readline())
        with OdooClient(config(creds)) as client:
            frame = read_products(client)
        skus = sorted(
            r["sku"]
            for r in frame.iter_rows(named=True)
            if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
        )
        tmp = Path(tempfile.mkdtemp(prefix="bench-orders-"))
        runs = [run(creds, args.orders, w, f"b{w}", skus, tmp) for w in (1, 4)]
    finally:
        odoo.terminate()
        odoo.wait(30)
    best = max(runs, key=lambda r: r["orders_per_s"])
    probe = run_storm(
        tmp, mode="shared", seconds=0, probes=args.probes, webhook_lag_s=0.0, pool=200, skus=6
    )
    latencies = sorted(probe.order_to_other_channel_s)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    emit(
        {
            "order_ingest_per_s": figure(
                best["orders_per_s"],
                "orders/s",
                workers=best["workers"],
                runs=runs,
                note="claim, look up client_order_ref, create, confirm (Odoo reserves); "
                "emulated Odoo in its own process; every order checked to be in Odoo once",
            ),
            "order_to_channels_p95_s": figure(
                round(p95, 3),
                "s",
                samples=len(latencies),
                p50_s=round(latencies[len(latencies) // 2], 3),
                max_s=round(latencies[-1], 3),
                note="Shopify order -> signed webhook -> inbox -> pending -> allocation -> "
                "WooCommerce shows less; without the Dagster sensor interval",
            ),
        }
    )


if __name__ == "__main__":
    main()
