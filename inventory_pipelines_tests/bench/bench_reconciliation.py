"""The full reconciliation (`reconcile_all`) of 100,000 SKUs on every channel, on the emulators.

The sandbox `inventory-sync sandbox up --skus 100000` starts (`sandbox.stack.start_stack`: Odoo 17
with 100,000 SKUs and one emulator per channel of `channels.yml`, each with a catalog of that
size: Shopify, WooCommerce, Amazon, and the generic portal twice, for `pos` and `b2b`), and the job
`reconcile_all` runs in this process (`execute_in_process`, every channel partition in one run,
as the nightly schedule launches it) against them, with a SQLite ledger and a Parquet data plane
in a temporary folder. Two runs:

1. **cold**: the first run on an empty data plane and ledger. The emulators' seeded quantities
   are not what the allocation gives, so nearly every listing of every channel is published.
2. **nightly** (the figure `full_reconciliation_100k_seconds`): the steady state. Before it,
   `--reconcile-drift-percent` (1%) of the SKUs get a receipt in Odoo and the same share of
   every channel's listings is edited on the channel (set to 777), so the run has drift to
   measure and correct, as a night after a day of business would.

Peak memory: this process's resident set (the run is in process), sampled every 0.2 s during
each run, and the emulators' own resident sets at the end (they stand for Odoo and the
channels, not for the pipeline).

**Channel limits.** With the emulators' shipped limits, reading 100,000 listings back is bound
by the channels' rate limits, not by the pipeline: Shopify's Standard plan bucket (1,000 points,
100 points/s) pays about 4 points a variant through paginated GraphQL, about 4,000 s for the
catalog; Amazon's `searchListingsItems` (20 listings a page, 5 requests/s) 1,000 s; WooCommerce
at the connector's default 5 requests/s, 100 a page, 200 s. By default (`--reconcile-limits
lifted`) those limits are lifted (Shopify's bucket, Amazon's quotas x1000, WooCommerce's and the
portals' `REQUESTS_PER_S`), so the figure measures the pipeline's own cost; the API calls of
each channel are counted by the emulators and the least time the shipped limits allow for the
read-back is reported beside it, with the projected run under those limits. `--reconcile-limits
shipped` measures that for real (over an hour at 100,000 SKUs). Amazon's feeds keep the
emulator's processing time (30 s a step) and the connector's 30 s polling either way.

Run: `make bench BENCH_ARGS="reconciliation"`, or `.venv/bin/python -m
inventory_pipelines_tests.bench.bench_reconciliation --skus 100000 [--reconcile-limits shipped]
[--reconcile-drift-percent 1] [--reconcile-keep]`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from inventory_pipelines_tests.bench.measure import emit, figure, peak_rss_mib

DRIFT_EDIT_QUANTITY = 777
# the shipped limits the projection uses (see the module docstring)
SHOPIFY_BUCKET, SHOPIFY_RESTORE = 1000.0, 100.0
AMAZON_SEARCH_RATE, AMAZON_SEARCH_BURST, AMAZON_PAGE = 5.0, 5, 20
WOO_RATE, WOO_BURST, WOO_PAGE = 5.0, 10, 100  # the connector's defaults
PORTAL_RATE, PORTAL_BURST, PORTAL_PAGE = 10.0, 20, 500  # the connector's defaults


def _log(message: str) -> None:
    import sys

    print(f"[reconcile {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class RssSampler:
    """The peak resident set of this process while it runs (psutil, every 0.2 s)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def peak_mib(self) -> float:
        return round(self.peak / 2**20, 1)


def start(skus: int, seed: int, limits: str) -> tuple[Any, dict[str, str], float]:
    """The sandbox at `skus` and the variables that point the project at it."""
    from inventory_pipelines.channels.factory import env_prefix, sandbox_env
    from inventory_pipelines.defs.shared import POLICY
    from inventory_pipelines.sandbox.stack import start_stack

    kinds = [(c.name, c.kind.value) for c in POLICY.channels.channels]
    started = time.perf_counter()
    stack = start_stack(kinds, port_base=0, skus=skus, seed=seed, odoo_version=17)
    boot_s = time.perf_counter() - started
    env = {
        "ODOO_URL": stack.odoo["url"],
        "ODOO_DB": stack.odoo["db"],
        "ODOO_LOGIN": stack.odoo["login"],
        "ODOO_API_KEY": stack.odoo["api_key"],
    }
    for name, creds in stack.channels.items():
        env.update(sandbox_env(name, creds["kind"], creds))
    if limits == "lifted":
        for name, creds in stack.channels.items():
            url = creds["url"].rstrip("/")
            if creds["kind"] == "shopify":
                control(
                    url,
                    "throttle",
                    {"maximum_available": 1e9, "restore_rate": 1e9, "currently_available": 1e9},
                )
            elif creds["kind"] == "amazon":
                control(url, "quotas", {"rate_scale": 1000})
            else:  # the connector paces itself: its own limit, lifted
                env[env_prefix(name) + "REQUESTS_PER_S"] = "100000"
                env[env_prefix(name) + "BURST"] = "100000"
    return stack, env, boot_s


def control(url: str, action: str, body: dict | None = None, method: str = "POST") -> Any:
    if method == "GET":
        return httpx.get(f"{url}/sandbox/{action}", timeout=60).json()
    return httpx.post(f"{url}/sandbox/{action}", json=body or {}, timeout=60).json()


def request_counts(stack: Any) -> dict[str, int]:
    out = {}
    for name, creds in stack.channels.items():
        answer = control(creds["url"].rstrip("/"), "requests", method="GET")
        out[name] = int(answer.get("count", 0))
    return out


def reset_counts(stack: Any) -> None:
    for creds in stack.channels.values():
        control(creds["url"].rstrip("/"), "requests/reset")


def shopify_page_cost(creds: dict[str, Any], size: int = 100) -> float:
    """The actual cost Shopify's emulator charges for a page of `size` variants as the
    connector reads them."""
    from inventory_pipelines.channels.shopify import LISTINGS_QUERY

    url = creds["url"].rstrip("/")
    version = creds.get("api_version", "2026-04")
    answer = httpx.post(
        f"{url}/admin/api/{version}/graphql.json",
        headers={"X-Shopify-Access-Token": creds["access_token"]},
        json={
            "query": "query { locations(first: 1) { edges { node { id } } } }",
        },
        timeout=60,
    ).json()
    location = answer["data"]["locations"]["edges"][0]["node"]["id"]
    answer = httpx.post(
        f"{url}/admin/api/{version}/graphql.json",
        headers={"X-Shopify-Access-Token": creds["access_token"]},
        json={"query": LISTINGS_QUERY, "variables": {"first": size, "locationId": location}},
        timeout=60,
    ).json()
    return float(answer["extensions"]["cost"]["actualQueryCost"])


def run_once(job: Any, instance: Any, stack: Any, label: str) -> dict[str, Any]:
    """One `reconcile_all` over every channel; wall time, peak memory, steps, figures."""
    from dagster import DagsterEventType as T

    from inventory_pipelines.defs.shared import POLICY, PUBLISHED, channel_range_tags

    reset_counts(stack)
    _log(f"{label}: reconcile_all")
    cpu_before = psutil.Process().cpu_times()
    load_before = os.getloadavg()[0]
    with RssSampler() as rss:
        started = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            tags=channel_range_tags(POLICY.channels.names()),
            raise_on_error=False,
        )
        wall = time.perf_counter() - started
    cpu_after = psutil.Process().cpu_times()
    failures = [
        f"{e.step_key}: {e.step_failure_data.error.message.strip()[:300]}"
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data and e.step_failure_data.error
    ]
    steps: dict[str, list[float]] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == T.STEP_START:
            steps.setdefault(event.step_key, [entry.timestamp, entry.timestamp])[0] = (
                entry.timestamp
            )
        elif event.event_type in (T.STEP_SUCCESS, T.STEP_FAILURE):
            steps.setdefault(event.step_key, [entry.timestamp, entry.timestamp])[1] = (
                entry.timestamp
            )
    published: dict[str, Any] = {}
    drift: dict[str, Any] = {}
    listings: int | None = None
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.path
        metadata = materialization.metadata
        if key == list(PUBLISHED) and "channels" in metadata:
            published = {
                name: {
                    k: v
                    for k, v in figures.items()
                    if k in ("sent", "unchanged", "channel_edits", "failed", "api_calls")
                }
                for name, figures in metadata["channels"].value.items()
            }
        elif key == ["reconciliation", "drift"]:
            partition = materialization.partition
            drift[partition or "?"] = {
                k: metadata[k].value for k in ("listings_compared", "drift_skus") if k in metadata
            }
        elif key == ["reconciliation", "channel_stock"] and "listings" in metadata:
            listings = metadata["listings"].value
    out = {
        "success": result.success,
        "failures": failures,
        "wall_s": round(wall, 1),
        "peak_rss_mib": rss.peak_mib,
        "cpu_s": round(
            (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system), 1
        ),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
        "steps_s": {k: round(end - begin, 1) for k, (begin, end) in sorted(steps.items())},
        "published": published,
        "drift": drift,
        "listings_read": listings,
        "api_calls": request_counts(stack),
    }
    _log(f"{label}: {out['wall_s']} s, peak {out['peak_rss_mib']} MiB, success {result.success}")
    return out


def inject_drift(stack: Any, folder: Path, percent: float, seed: int) -> dict[str, int]:
    """Receipts in Odoo for `percent` of the SKUs, and `percent` of every channel's listings
    set to another quantity on the channel (as a person editing them there would)."""
    from inventory_pipelines.channels.base import QuantityUpdate
    from inventory_pipelines.channels.factory import connector_from_env
    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.defs.shared import CANONICAL, PRODUCT_IDENTITY

    rng = random.Random(seed)
    store = TableStore(folder / "tables")
    skus = sorted(set(store.read(CANONICAL)["sku"].drop_nulls()))
    chosen = rng.sample(skus, max(1, int(len(skus) * percent / 100)))
    counts = {"odoo_receipts": 0, "odoo_refused": 0}
    odoo = stack.odoo["url"].rstrip("/")
    with httpx.Client(timeout=60) as http:
        for sku in chosen:
            answer = http.post(
                f"{odoo}/sandbox/stock/move",
                json={"product": sku, "location": "MAIN/Stock", "qty": rng.randint(5, 30)},
            )
            counts["odoo_receipts" if answer.status_code == 200 else "odoo_refused"] += 1
        for name, creds in stack.channels.items():
            kind, url = creds["kind"], creds["url"].rstrip("/")
            identity = store.read(PRODUCT_IDENTITY, name).drop_nulls(["sku", "listing_id"])
            rows = list(identity.select("listing_id", "sku").iter_rows())
            edits = rng.sample(rows, max(1, int(len(rows) * percent / 100)))
            if kind == "shopify":
                with connector_from_env(name, kind, dict(os.environ), loopback_only=True) as conn:
                    updates = [
                        QuantityUpdate(str(lid), sku, DRIFT_EDIT_QUANTITY) for lid, sku in edits
                    ]
                    for start in range(0, len(updates), 250):
                        conn.publish(updates[start : start + 250], f"bench-edit-{start}")
            else:
                for listing, _sku in edits:
                    if kind == "woocommerce":
                        body = {"id": int(str(listing).rsplit(":", 1)[-1])}
                        action = "stock"
                    elif kind == "generic":
                        body, action = {"listing_id": str(listing)}, "stock"
                    else:
                        body, action = {"sku": str(listing)}, "quantity"
                    http.post(
                        f"{url}/sandbox/{action}", json={**body, "quantity": DRIFT_EDIT_QUANTITY}
                    )
            counts[f"{name}_edits"] = len(edits)
    return counts


def floors(stack: Any, run: dict[str, Any], page_cost: float) -> dict[str, float]:
    """The least time the shipped limits allow for each channel's calls in this run (an
    estimate: read-back, orders and publish of the channel back to back at its limit).

    Shopify: the read-back's pages at their measured cost plus 10 points a mutation, less the
    bucket, at 100 points/s. Amazon: `searchListingsItems` pages at 5/s (burst 5) and single
    patches at 5/s (feeds: their processing time is in the measured run already). WooCommerce
    and the portals: every call the emulator counted, at the connector's default pace.
    """
    out: dict[str, float] = {}
    for name, creds in stack.channels.items():
        listings = run["per_channel_listings"].get(name, 0)
        calls = run["api_calls"].get(name, 0)
        sent = (run["published"].get(name) or {}).get("sent") or 0
        publish_calls = (run["published"].get(name) or {}).get("api_calls") or 0
        kind = creds["kind"]
        if kind == "shopify":
            points = math.ceil(listings / 100) * page_cost + publish_calls * 10
            out[name] = max(0.0, points - SHOPIFY_BUCKET) / SHOPIFY_RESTORE
        elif kind == "amazon":
            pages = math.ceil(listings / AMAZON_PAGE)
            patches = sent if sent < 1000 else 0
            out[name] = max(0.0, pages - AMAZON_SEARCH_BURST) / AMAZON_SEARCH_RATE + patches / 5
        elif kind == "woocommerce":
            out[name] = max(0.0, calls - WOO_BURST) / WOO_RATE
        else:
            out[name] = max(0.0, calls - PORTAL_BURST) / PORTAL_RATE
    return {k: round(v, 1) for k, v in out.items()}


def per_channel_listings(folder: Path) -> dict[str, int]:
    import polars as pl

    from inventory_pipelines.defs.shared import CHANNEL_STOCK, POLICY

    out = {}
    for name in POLICY.channels.names():
        path = folder / "tables" / CHANNEL_STOCK[0] / CHANNEL_STOCK[1] / f"{name}.parquet"
        if path.exists():
            out[name] = (
                (pl.scan_parquet(path).filter(pl.col("listing_id").is_not_null()).select(pl.len()))
                .collect()
                .item()
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--reconcile-limits", choices=("lifted", "shipped"), default="lifted")
    parser.add_argument("--reconcile-drift-percent", type=float, default=1.0)
    parser.add_argument("--reconcile-seed", type=int, default=42)
    parser.add_argument("--reconcile-keep", action="store_true", help="keep the temp folder")
    args, _ = parser.parse_known_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    for key in [k for k in os.environ if k.startswith(("ODOO_", "INVENTORY_CHANNEL_"))]:
        del os.environ[key]
    os.environ.update(
        {
            "INVENTORY_ENV": "local",
            "INVENTORY_DATA_DIR": str(folder / "tables"),
            "INVENTORY_CATALOG": str(folder / "warehouse.duckdb"),
            "INVENTORY_LEDGER_URL": f"sqlite:///{folder / 'ledger.sqlite'}",
        }
    )
    _log(f"sandbox at {args.skus} SKUs in {folder}")
    stack, env, boot_s = start(args.skus, args.reconcile_seed, args.reconcile_limits)
    try:
        os.environ.update(env)
        import dagster as dg

        from inventory_pipelines.definitions import defs

        job = defs().resolve_job_def("reconcile_all")
        instance = dg.DagsterInstance.ephemeral()
        shopify = next(c for c in stack.channels.values() if c["kind"] == "shopify")
        page_cost = shopify_page_cost(shopify)
        cold = run_once(job, instance, stack, "cold")
        cold["per_channel_listings"] = per_channel_listings(folder)
        drift = inject_drift(stack, folder, args.reconcile_drift_percent, args.reconcile_seed)
        nightly = run_once(job, instance, stack, "nightly")
        nightly["per_channel_listings"] = per_channel_listings(folder)
        emulators_rss = {
            name: round(psutil.Process(p.pid).memory_info().rss / 2**20, 1)
            for name, p in zip(["odoo", *stack.channels], stack.processes, strict=True)
        }
    finally:
        stack.stop()
        if not args.reconcile_keep:
            shutil.rmtree(folder, ignore_errors=True)
    for run in (cold, nightly):
        run["channel_floor_s_at_shipped_limits"] = floors(stack, run, page_cost)
        channel_steps = sum(
            v
            for k, v in run["steps_s"].items()
            if "channel_stock" in k or "published_channel_state" in k
        )
        if args.reconcile_limits == "lifted":
            # the read-back and publish steps replaced by the slowest channel's floor
            run["projected_s_at_shipped_limits"] = round(
                run["wall_s"]
                - channel_steps
                + max(run["channel_floor_s_at_shipped_limits"].values()),
                1,
            )
    common = {
        "skus": args.skus,
        "channels": list(stack.channels),
        "channel_limits": args.reconcile_limits,
        "emulators_boot_s": round(boot_s, 1),
        "emulators_rss_mib": emulators_rss,
        "shopify_page_cost_points": page_cost,
        "cpus": os.cpu_count(),
    }
    figures = {
        "full_reconciliation_100k_seconds": figure(
            nightly["wall_s"],
            "s",
            peak_rss_mib=nightly["peak_rss_mib"],
            run="nightly: the second reconcile_all, after drift was injected",
            drift_injected=drift,
            **{k: v for k, v in nightly.items() if k not in ("wall_s", "peak_rss_mib")},
            **common,
        ),
        "full_reconciliation_100k_peak_rss_mib": figure(
            max(cold["peak_rss_mib"], nightly["peak_rss_mib"]),
            "MiB",
            nightly_mib=nightly["peak_rss_mib"],
            cold_mib=cold["peak_rss_mib"],
            bench_process_peak_rss_mib=round(peak_rss_mib(), 1),
            note="the pipeline's process (runs in process); the emulators' are beside it",
            emulators_rss_mib=emulators_rss,
        ),
        "full_reconciliation_100k_cold_seconds": figure(
            cold["wall_s"],
            "s",
            peak_rss_mib=cold["peak_rss_mib"],
            run="cold: the first reconcile_all on an empty data plane and ledger",
            **{k: v for k, v in cold.items() if k not in ("wall_s", "peak_rss_mib")},
            **common,
        ),
    }
    emit(figures)


if __name__ == "__main__":
    main()
