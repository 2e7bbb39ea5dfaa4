"""Publishing 100,000 changed SKUs per channel through the ledger, against each emulator.

Each emulator runs in its own process with its documented (or, where a channel documents none,
a stated) rate limit. The catalog is read first with the limit lifted (reading is not what is
measured), then one publish round of a changed quantity for every listing goes through the
outbox, the connector and its pacing. Figures per channel: API calls, throttled responses, wall
time, and the rate ceiling: the least time the channel's limits allow for those calls. The
ratio ceiling / wall is 1.0 when publishing is as fast as the channel lets anyone publish.

WooCommerce and the generic portal document no rate limit; the figures use 100 requests/s
(burst 20) and 10 requests/s (burst 10), standing for a host's WAF and a portal's limit.
Amazon has no ceiling ratio: its figure is feeds against single patches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from inventory_pipelines.channels.amazon import AmazonConnector
from inventory_pipelines.channels.generic import GenericChannelConnector
from inventory_pipelines.channels.shopify import ShopifyConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.ledger import create_engine, migrate
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines_tests.bench.measure import emit, figure

SHOPIFY_BUCKET, SHOPIFY_RESTORE, SHOPIFY_MUTATION_COST = 1000.0, 100.0, 10.0  # Standard plan
# WooCommerce and POS portals document no limit; these stand for a host's WAF / a portal's.
WOO_RATE, WOO_BURST = 100.0, 20
PORTAL_RATE, PORTAL_BURST = 10.0, 10
AMAZON_PATCH_RATE, AMAZON_PATCH_BURST = 5.0, 5


def launch(module: str, *args: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True
    )
    return proc, json.loads(proc.stdout.readline())


def control(url: str, action: str, body: dict | None = None) -> dict:
    return httpx.post(f"{url}/sandbox/{action}", json=body or {}, timeout=60).json()


def listings_of(connector, limit: int) -> dict[str, tuple[str, int]]:
    """The first `limit` stocked listings with a SKU, in catalog order."""
    out = {}
    for page in connector.read_listings():
        for listing in page:
            if listing.sku and listing.quantity is not None:
                out[listing.listing_id] = (listing.sku, listing.quantity)
                if len(out) == limit:
                    return out
    return out


def publish(channel: str, connector, catalog: dict[str, tuple[str, int]], ledger_dir: Path):
    """One round changing every listing's quantity (half down, half up); returns (s, summary)."""
    url = f"sqlite:///{ledger_dir / f'{channel}.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    targets = {
        listing: (sku, max(0, shown - 1) if i % 2 else shown + 3)
        for i, (listing, (sku, shown)) in enumerate(catalog.items())
    }
    shown = {listing: q for listing, (_, q) in catalog.items()}
    plan = ChannelPlan(channel, connector, targets, shown)
    return publish_round(engine, [plan], f"bench-{channel}")[channel]


def figures(catalog: dict, summary, calls: int, throttled: int, ceiling_s: float) -> dict:
    """One channel's figures; the ceiling ratio over the sending phase and the whole round."""
    whole = summary.prepare_s + summary.send_s
    return {
        "updates": len(catalog),
        "api_calls": calls,
        "throttled": throttled,
        "acknowledged": summary.acknowledged,
        "ceiling_s": ceiling_s,
        "prepare_s": summary.prepare_s,
        "send_s": summary.send_s,
        "ceiling_ratio": ceiling_s / summary.send_s if summary.send_s else 0.0,
        "round_ceiling_ratio": ceiling_s / whole if whole else 0.0,
        "throttled_ratio": throttled / max(1, calls),
    }


def bench_shopify(skus: int, ledger_dir: Path) -> dict:
    proc, creds = launch(
        "inventory_pipelines.sandbox.shopify",
        "--port",
        "0",
        "--skus",
        str(int(skus * 1.1) + 50),
        "--locations",
        "1",
    )
    try:
        control(
            creds["url"],
            "throttle",
            {"maximum_available": 1e9, "restore_rate": 1e9, "currently_available": 1e9},
        )
        with ShopifyConnector(creds["url"], creds["access_token"], page_size=250) as reader:
            catalog = listings_of(reader, skus)
        control(
            creds["url"],
            "throttle",
            {
                "maximum_available": SHOPIFY_BUCKET,
                "restore_rate": SHOPIFY_RESTORE,
                "currently_available": SHOPIFY_BUCKET,
            },
        )
        control(creds["url"], "requests/reset")
        with ShopifyConnector(creds["url"], creds["access_token"]) as connector:
            summary = publish("shopify", connector, catalog, ledger_dir)
        served = httpx.get(f"{creds['url']}/sandbox/requests").json()
        mutations = summary.batches
        ceiling = max(0.0, (mutations * SHOPIFY_MUTATION_COST - SHOPIFY_BUCKET) / SHOPIFY_RESTORE)
        throttled = served.get("throttled", summary.throttled)
        return figures(catalog, summary, summary.api_calls, throttled, ceiling)
    finally:
        proc.terminate()


def bench_rate_limited(kind: str, skus: int, ledger_dir: Path) -> dict:
    if kind == "woocommerce":
        proc, creds = launch(
            "inventory_pipelines.sandbox.woocommerce",
            "--port",
            "0",
            "--products",
            str(int(skus / 1.4) + 50),
        )
        rate, burst = WOO_RATE, WOO_BURST

        def make(r, b):
            return WooCommerceConnector(
                creds["url"],
                creds["consumer_key"],
                creds["consumer_secret"],
                requests_per_s=r,
                burst=b,
            )
    else:
        proc, creds = launch(
            "inventory_pipelines.sandbox.generic",
            "--port",
            "0",
            "--listings",
            str(int(skus * 1.1) + 50),
            "--max-batch",
            "500",
        )
        rate, burst = PORTAL_RATE, PORTAL_BURST

        def make(r, b):
            return GenericChannelConnector(
                creds["url"], creds["secret"], max_batch=500, requests_per_s=r, burst=b
            )

    try:
        with make(0, 1) as reader:  # no pacing: the store's limit is off while reading
            catalog = listings_of(reader, skus)
        control(creds["url"], "rate_limit", {"requests_per_s": rate, "burst": burst})
        control(creds["url"], "requests/reset")
        with make(rate, burst) as connector:
            summary = publish(kind, connector, catalog, ledger_dir)
        served = httpx.get(f"{creds['url']}/sandbox/requests").json()
        calls = served["count"]
        ceiling = max(0.0, (calls - burst) / rate)
        return figures(catalog, summary, calls, served.get("throttled", 0), ceiling)
    finally:
        proc.terminate()


def bench_amazon(skus: int, patches: int, ledger_dir: Path) -> dict:
    proc, creds = launch(
        "inventory_pipelines.sandbox.amazon",
        "--port",
        "0",
        "--skus",
        str(int(skus * 1.1) + 50),
        "--feed-mode",
        "polls",
    )
    try:

        def connector(**kw):
            return AmazonConnector(
                creds["endpoint"],
                creds["seller_id"],
                creds["marketplace_id"],
                creds["client_id"],
                creds["client_secret"],
                creds["refresh_token"],
                token_url=creds["token_url"],
                **kw,
            )

        # reading is not measured: quotas 1,000x (the connector adopts the limit Amazon reports)
        control(creds["url"], "quotas", {"rate_scale": 1000})
        with connector(rate_scale=1000) as reader:
            catalog = listings_of(reader, skus)
        control(creds["url"], "quotas", {"rate_scale": 1})
        control(creds["url"], "requests/reset")
        with connector(feed_poll_s=0.5, bulk_threshold=1000) as feeds:
            summary = publish("amazon", feeds, catalog, ledger_dir)
            wall = summary.prepare_s + summary.send_s
            feed_calls, feed_count = feeds.api_calls, feeds.feeds
        sample = dict(list(catalog.items())[:patches])
        with connector(bulk_threshold=10**9) as single:
            patch_summary = publish("amazon-patches", single, sample, ledger_dir)
            patch_wall = patch_summary.prepare_s + patch_summary.send_s
        return {
            "updates": len(catalog),
            "feeds_wall_s": wall,
            "feed_api_calls": feed_calls,
            "feeds": feed_count,
            "acknowledged": summary.acknowledged,
            "patch_sample": len(sample),
            "patch_sample_wall_s": patch_wall,
            "patch_api_calls_per_update": patch_summary.api_calls / max(1, len(sample)),
            "patches_estimated_s": len(catalog) * patch_wall / max(1, len(sample)),
            "patches_ceiling_s": max(0.0, (len(catalog) - AMAZON_PATCH_BURST) / AMAZON_PATCH_RATE),
        }
    finally:
        proc.terminate()


def main() -> None:
    """Publish to every emulator and emit the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--amazon-patches", type=int, default=60)
    parser.add_argument("--channels", default="shopify,woocommerce,generic,amazon")
    args, _ = parser.parse_known_args()
    chosen = set(args.channels.split(","))
    ledger_dir = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    runs = {
        "shopify": lambda: bench_shopify(args.skus, ledger_dir),
        "woocommerce": lambda: bench_rate_limited("woocommerce", args.skus, ledger_dir),
        "generic": lambda: bench_rate_limited("generic", args.skus, ledger_dir),
    }
    channels = {name: run() for name, run in runs.items() if name in chosen}
    if "amazon" not in chosen:
        print(json.dumps(channels, indent=1))
        return
    amazon = bench_amazon(args.skus, args.amazon_patches, ledger_dir)
    worst = min(channels, key=lambda n: channels[n]["ceiling_ratio"])
    rounded = {
        n: {k: round(v, 4) if isinstance(v, float) else v for k, v in c.items()}
        for n, c in channels.items()
    }
    emit(
        {
            "publish_api_calls": figure(
                sum(c["api_calls"] for c in channels.values()) + amazon["feed_api_calls"],
                "calls",
                channels={n: c["api_calls"] for n, c in channels.items()}
                | {"amazon": amazon["feed_api_calls"]},
                updates_per_channel=args.skus,
            ),
            "publish_throttled_ratio": figure(
                round(max(c["throttled_ratio"] for c in channels.values()), 5),
                "ratio",
                "< 0.01",
                per_channel=rounded,
                statistic="worst channel",
            ),
            "publish_ceiling_ratio": figure(
                round(channels[worst]["ceiling_ratio"], 3),
                "ratio",
                ">= 0.9",
                worst_channel=worst,
                per_channel=rounded,
                note="rate-ceiling time / time from the first request to the last answer",
            ),
            "publish_round_ceiling_ratio": figure(
                round(min(c["round_ceiling_ratio"] for c in channels.values()), 3),
                "ratio",
                worst_channel=min(channels, key=lambda n: channels[n]["round_ceiling_ratio"]),
                prepare_s={n: round(c["prepare_s"], 2) for n, c in channels.items()},
                note="the same over the whole round: the ledger's outbox writes and planning "
                "before the first request included",
            ),
            "publish_amazon_feeds_seconds": figure(
                round(amazon["feeds_wall_s"], 2),
                "s",
                feeds=amazon["feeds"],
                api_calls=amazon["feed_api_calls"],
                updates=amazon["updates"],
            ),
            "publish_amazon_patches_estimated_seconds": figure(
                round(amazon["patches_estimated_s"], 1),
                "s",
                sample=amazon["patch_sample"],
                sample_wall_s=round(amazon["patch_sample_wall_s"], 2),
                ceiling_s=amazon["patches_ceiling_s"],
                note="single Listings patches at 5/s, measured on the sample and scaled",
            ),
        }
    )


if __name__ == "__main__":
    main()
