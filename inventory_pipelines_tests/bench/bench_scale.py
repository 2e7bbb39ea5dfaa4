"""The full reconciliation at catalog scale, stage by stage: 1,000,000 SKUs x 3 warehouses x 5
channels by default (`--skus`), with the time and the peak memory of each stage.

A generator (`synthetic.snapshot_frames`, plus the channels' listings and the ledger) writes the
inputs to Parquet and SQLite in a temporary folder; then each stage runs the product's own code
in a fresh process of its own (`--scale-step`), reading its inputs from the folder and writing
what the next stage reads. A stage's figure (`scale_<size>_<stage>_seconds`) is the wall time
of the steps listed in its `measured`, not reading or writing the bench's Parquet files; beside
it are each step's time, the process's CPU time over the same steps (`cpu_s`, every thread) and
the load average before and after (`load_1m`): on a shared machine the wall time moves with the
others' work, the CPU time much less. Peak memory (`scale_<size>_<stage>_peak_rss_mib`) is the
stage's process's resident high-water mark (`getrusage`), so no stage's peak hides another's; it
includes the interpreter, the imports and the inputs (`baseline_rss_mib` after the imports,
`inputs_rss_mib` after reading the inputs). The total is the sum of the stages' figures.

The stages, in the order the nightly `reconcile_all` runs them (drift before the publish, as
its causes are read from the ledger as the channels left it):

1. **snapshot**: `odoo/snapshot.py` reads products, locations and quants with the real
   `OdooClient` over JSON-RPC (keyset pages of `--scale-page-size`, orjson decoding, one frame
   per page) from `odoo_pages.py`, a server on loopback that answers each page from bytes it
   encoded before listening, as `odoo/*` assets do (roles assigned, quants tagged with their
   SKU), and checks that the quants read are the generated ones. Odoo's own time (SQL,
   serialization) is not in the figure; the server's memory is reported beside it, not in it.
2. **canonical**: `compute_canonical` over the generated snapshot (the frames the snapshot
   stage read).
3. **allocation**: what `inventory/channel_allocation` computes for the 5 channels: the ledger's
   pending units and fence sales (`ledger_inputs`), the overrides that apply, `allocate`, the
   ring-fence check and the pandera schema check of the 5M rows.
4. **drift**: what `reconciliation/drift` computes: the ledger's facts (`ledger_facts`: every
   listing's last acknowledgement, the sales, the dead letters, the drops), `expected_per_listing`,
   `drift`, the audit rows of the correctable drift (`record_drift`) and `summarize`.
5. **planning**: what `inventory/published_channel_state` does before its first request: the
   acknowledgements before the round, each channel's plan (`plan_targets`, the read-back), then
   the publisher's delta planning against the ledger (`settle_jobs`, `enqueue`: the outbox
   writes, the read-backs learned and the channel edits audited).

The ledger is SQLite (WAL) in the folder. Before the drift and planning stages it holds, for every
listing of the 5 channels, a last acknowledgement from a day before; the read-back (taken a minute
before) shows it, but `--scale-changed-percent` of the listings are acknowledged at another
quantity than the allocation now gives (stock moved since the last publish) and
`--scale-edited-percent` were edited on the channel (they show 777). 2% of the SKUs have an open
order of 1 to 3 units on one channel, accepted in the last day (pending units and sales). Each
channel also shows 0.1% listings no product matches, and 0.5% of its SKUs have no listing. The
read-back does not take the channels' own orders off what they show, so a changed listing with an
order is judged a channel edit.

Not in the figures: Dagster (the run, the IO manager's Parquet writes and the asset's metadata),
reading the channels back (`bench_reconciliation.py` measures it on the emulators), mapping
listings to SKUs (`product_identity`), the drift history, sending the updates and recording the
acknowledgements (`bench_publish.py`).

Run: `make bench BENCH_ARGS="scale"`, or `.venv/bin/python -m
inventory_pipelines_tests.bench.bench_scale --skus 100000 [--scale-keep]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from inventory_pipelines_tests.bench.measure import emit, figure, peak_rss_mib

MODULE = "inventory_pipelines_tests.bench.bench_scale"
STAGES = ("snapshot", "canonical", "allocation", "drift", "planning")
DRIFT_EDIT_QUANTITY = 777
UNMATCHED_LISTINGS = 0.001
UNLISTED_SKUS = 0.005
ORDERED_SKUS = 0.02


def _log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def size_label(skus: int) -> str:
    """1m for 1,000,000, 100k for 100,000: the size in the figures' names."""
    if skus % 1_000_000 == 0:
        return f"{skus // 1_000_000}m"
    if skus % 1_000 == 0:
        return f"{skus // 1_000}k"
    return str(skus)


def ledger_url(folder: Path) -> str:
    """The SQLite ledger of the run's folder."""
    return f"sqlite:///{folder / 'ledger.sqlite'}"


def _sqlite_time(at: datetime) -> str:
    """A timestamp as SQLAlchemy stores a `UtcDateTime` in SQLite (naive UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def listing_ids(kind: str, name: str, index: pl.Expr, sku: pl.Expr) -> pl.Expr:
    """Listing ids shaped like each kind of channel's."""
    if kind == "shopify":
        return pl.format("gid://shopify/InventoryItem/{}", index + 44_000_000_000)
    if kind == "woocommerce":
        return pl.format("{}:0", index + 100)
    if kind == "amazon":
        return sku  # the seller SKU
    return pl.format("{}-{}", pl.lit(name), index)


# ---- the generator ------------------------------------------------------------------------


def generate(folder: Path, skus: int, seed: int) -> dict[str, Any]:
    """The snapshot, the SKUs' velocity tiers, each channel's listings and the ledger's orders."""
    from inventory_pipelines.inventory.identity import MAPPING_SCHEMA, sellable_skus
    from inventory_pipelines.ledger import migrate
    from inventory_pipelines.rules import load_policy
    from inventory_pipelines_tests.bench.synthetic import snapshot_frames

    rng = np.random.default_rng(seed)
    products, locations, quants = snapshot_frames(skus, seed=seed)
    products.write_parquet(folder / "odoo_products.parquet")
    locations.write_parquet(folder / "odoo_locations.parquet")
    quants.write_parquet(folder / "odoo_quants.parquet")
    sellable = sellable_skus(products).select("sku").sort("sku")
    sellable.with_columns(
        velocity_tier=pl.Series(rng.choice(["A", "B", "C"], sellable.height, p=[0.1, 0.3, 0.6]))
    ).write_parquet(folder / "velocity.parquet")
    policy = load_policy()
    mappings = []
    for channel in policy.channels.channels:
        listed = sellable.filter(pl.Series(rng.random(sellable.height) >= UNLISTED_SKUS))
        mappings.append(
            listed.with_row_index("i").select(
                channel=pl.lit(channel.name),
                sku="sku",
                listing_id=listing_ids(
                    channel.kind.value, channel.name, pl.col("i").cast(pl.Int64), pl.col("sku")
                ),
                matched_by=pl.lit("sku"),
                pack_size=pl.lit(None, dtype=pl.Int64),
            )
        )
    mapping = pl.concat(mappings).cast(MAPPING_SCHEMA)
    mapping.write_parquet(folder / "mapping.parquet")

    url = ledger_url(folder)
    migrate(url)
    now = datetime.now(UTC)
    ordered = sellable.sample(fraction=ORDERED_SKUS, seed=seed)
    names = policy.channels.names()
    orders = ordered.with_row_index("i").select(
        channel=pl.Series(rng.choice(names, ordered.height)),
        external_id=pl.format("order-{}", "i"),
        sku="sku",
        quantity=pl.Series(rng.integers(1, 4, ordered.height)),
        accepted_at=pl.Series(
            [
                _sqlite_time(now - timedelta(minutes=int(m)))
                for m in rng.integers(1, 1440, ordered.height)
            ]
        ),
    )
    with sqlite3.connect(folder / "ledger.sqlite") as db:
        db.executemany(
            "INSERT INTO pending_units (channel, external_id, sku, quantity, accepted_at, "
            "dropship_quantity) VALUES (?, ?, ?, ?, ?, 0)",
            orders.iter_rows(),
        )
    return {
        "products": products.height,
        "quants": quants.height,
        "sellable_skus": sellable.height,
        "listings": mapping.height,
        "open_orders": orders.height,
    }


def prepare_ledger(
    folder: Path, changed_percent: float, edited_percent: float, seed: int
) -> dict[str, Any]:
    """Each listing's last acknowledgement (a day ago) and the channels' read-back (a minute ago),
    from the allocation: most in step with it, some changed since, some edited on the channel."""
    rng = np.random.default_rng(seed + 1)
    now = datetime.now(UTC)
    acknowledged_at, read_at = now - timedelta(days=1), now - timedelta(minutes=1)
    allocation = pl.read_parquet(
        folder / "allocation.parquet", columns=["channel", "sku", "publishable"]
    )
    mapping = pl.read_parquet(folder / "mapping.parquet", columns=["channel", "sku", "listing_id"])
    listings = mapping.join(allocation, on=["channel", "sku"], how="inner")
    n = listings.height
    draw = rng.random(n)
    changed = draw < changed_percent / 100
    edited = (draw >= changed_percent / 100) & (draw < (changed_percent + edited_percent) / 100)
    target = listings["publishable"].cast(pl.Int64).to_numpy()
    moved = np.maximum(0, target + rng.choice([-3, -2, -1, 1, 2, 3], n))
    acknowledged = np.where(changed, moved, target)
    listings = listings.with_columns(
        acknowledged=pl.Series(acknowledged), shown=pl.Series(acknowledged)
    ).with_columns(
        shown=pl.when(pl.Series(edited)).then(DRIFT_EDIT_QUANTITY).otherwise(pl.col("shown"))
    )
    with sqlite3.connect(folder / "ledger.sqlite") as db:
        db.executemany(
            "INSERT INTO published_state (channel, listing_id, sku, quantity, acknowledged_at, "
            "request_id) VALUES (?, ?, ?, ?, ?, 'bench')",
            (
                (channel, listing, sku, quantity, _sqlite_time(acknowledged_at))
                for channel, listing, sku, quantity in listings.select(
                    "channel", "listing_id", "sku", "acknowledged"
                ).iter_rows()
            ),
        )
    unmatched = []
    for channel, count in mapping.group_by("channel").len().iter_rows():
        k = max(1, int(count * UNMATCHED_LISTINGS))
        unmatched.append(
            pl.DataFrame(
                {
                    "channel": [channel] * k,
                    "listing_id": [f"{channel}-gone-{i}" for i in range(k)],
                    "sku": [f"GONE-{i:07d}" for i in range(k)],
                    "shown": [5] * k,
                },
                schema={
                    "channel": pl.Utf8,
                    "listing_id": pl.Utf8,
                    "sku": pl.Utf8,
                    "shown": pl.Int64,
                },
            )
        )
    read_back = pl.concat(
        [listings.select("channel", "listing_id", "sku", "shown"), *unmatched]
    ).select(
        "channel",
        "listing_id",
        "sku",
        barcode=pl.lit(None, dtype=pl.Utf8),
        quantity="shown",
        read_at=pl.lit(read_at).cast(pl.Datetime("us", "UTC")),
        read_error=pl.lit(None, dtype=pl.Utf8),
    )
    read_back.write_parquet(folder / "channel_stock.parquet")
    return {
        "acknowledged": n,
        "changed": int(changed.sum()),
        "edited": int(edited.sum()),
        "unmatched_listings": sum(f.height for f in unmatched),
    }


# ---- the stages ---------------------------------------------------------------------------


class Clock:
    """Named laps of one stage: wall seconds, and CPU seconds of the process (every thread)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = round(self.laps.get(name, 0.0) + wall - self._wall, 3)
        self.cpu[name] = round(self.cpu.get(name, 0.0) + cpu - self._cpu, 3)
        self._wall, self._cpu = wall, cpu

    def measured(self, names: list[str]) -> dict[str, Any]:
        """The stage's figure (the sum of the laps `names`) and its CPU time, then every lap."""
        return {
            "seconds": round(sum(self.laps[n] for n in names), 3),
            "cpu_s": round(sum(self.cpu[n] for n in names), 3),
            "measured": names,
            **self.laps,
        }


def stage_snapshot(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Products, locations and quants read with the Odoo client from `odoo_pages.py`."""
    import psutil

    from inventory_pipelines.inventory.locations import assign_location_roles
    from inventory_pipelines.odoo import OdooClient, OdooConfig
    from inventory_pipelines.odoo.snapshot import read_locations, read_products, read_quants
    from inventory_pipelines.rules import load_policy

    policy = load_policy()
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "inventory_pipelines_tests.bench.odoo_pages",
            "--dir", str(folder), "--page-size", str(args.scale_page_size),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        creds = json.loads(server.stdout.readline())
        encode_s = time.perf_counter() - started
        baseline = peak_rss_mib()
        config = OdooConfig(
            url=creds["url"],
            db=creds["db"],
            login=creds["login"],
            secret=creds["api_key"],
            protocol="jsonrpc",
            page_size=args.scale_page_size,
            timeout_s=300,
        )
        clock = Clock()
        with OdooClient(config) as client:
            client.uid  # noqa: B018 - version and login before the clock
            clock.lap("login_s")
            products = read_products(client)
            clock.lap("products_s")
            locations = assign_location_roles(read_locations(client), policy.warehouses)
            clock.lap("locations_s")
            read_at = datetime.now(UTC)
            quants = read_quants(client)
            frame = quants.join(
                products.select("product_id", "sku"), on="product_id", how="left"
            ).with_columns(read_at=pl.lit(read_at).cast(pl.Datetime("us", "UTC")))
            clock.lap("quants_s")
        server_rss = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(timeout=30)
    expected = pl.read_parquet(folder / "odoo_quants.parquet", columns=["quantity"])
    if frame.height != expected.height or frame["quantity"].sum() != expected["quantity"].sum():
        raise SystemExit("snapshot: the quants read differ from the generated ones")
    return {
        **clock.measured(["products_s", "locations_s", "quants_s"]),
        "baseline_rss_mib": round(baseline, 1),
        "products": products.height,
        "locations": locations.height,
        "quants": frame.height,
        "quants_per_s": round(frame.height / max(clock.laps["quants_s"], 1e-9)),
        "page_size": args.scale_page_size,
        "server_encode_s": round(encode_s, 1),
        "server_rss_mib": round(server_rss, 1),
        "covers": "the client's JSON-RPC pages over loopback, decoding and frames; not Odoo's "
        "own work (pages pre-encoded by odoo_pages.py)",
    }


def stage_canonical(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Canonical inventory from the snapshot."""
    from inventory_pipelines.inventory.canonical import compute_canonical

    baseline = peak_rss_mib()
    clock = Clock()
    products = pl.read_parquet(folder / "odoo_products.parquet")
    locations = pl.read_parquet(folder / "odoo_locations.parquet")
    quants = pl.read_parquet(folder / "odoo_quants.parquet")
    clock.lap("read_s")
    inputs = peak_rss_mib()
    canonical, quarantine = compute_canonical(products, locations, quants, datetime.now(UTC))
    clock.lap("compute_s")
    canonical.write_parquet(folder / "canonical.parquet")
    clock.lap("write_s")
    return {
        **clock.measured(["compute_s"]),
        "baseline_rss_mib": round(baseline, 1),
        "inputs_rss_mib": round(inputs, 1),
        "covers": "compute_canonical over the snapshot frames",
        "quants": quants.height,
        "canonical_rows": canonical.height,
        "quarantined": quarantine.height,
    }


def stage_allocation(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The allocation of every channel, with its ledger inputs and its checks."""
    from inventory_pipelines.allocation.engine import allocate
    from inventory_pipelines.defs.checks import schema_check_result
    from inventory_pipelines.defs.inventory.allocation import ledger_inputs, override_inputs
    from inventory_pipelines.defs.resources import LedgerResource
    from inventory_pipelines.defs.shared import CHANNEL_ALLOCATION
    from inventory_pipelines.inventory.identity import sellable_skus
    from inventory_pipelines.inventory.schemas import ChannelAllocationSchema, ring_fence_breaches
    from inventory_pipelines.rules import load_policy

    policy = load_policy()
    ledger = LedgerResource(url=ledger_url(folder))
    baseline = peak_rss_mib()
    clock = Clock()
    canonical = pl.read_parquet(folder / "canonical.parquet")
    products = pl.read_parquet(folder / "odoo_products.parquet")
    velocity = pl.read_parquet(folder / "velocity.parquet")
    clock.lap("read_s")
    inputs = peak_rss_mib()
    now = datetime.now(UTC)
    universe = sellable_skus(products).join(velocity, on="sku", how="left")
    pending, sales, _, _ = ledger_inputs(ledger, policy, canonical)
    applying = override_inputs(ledger, now)
    clock.lap("ledger_inputs_s")
    everything = allocate(
        canonical, policy, now, skus=universe, pending=pending, sales=sales, overrides=applying
    )
    clock.lap("engine_s")
    breaches = ring_fence_breaches(everything)
    frame = everything.with_columns(pl.col("channel").cast(pl.Utf8))
    clock.lap("ring_fence_check_s")
    check = schema_check_result(CHANNEL_ALLOCATION, ChannelAllocationSchema, frame)
    clock.lap("schema_check_s")
    frame.select("channel", "sku", "publishable").write_parquet(folder / "allocation.parquet")
    clock.lap("write_s")
    return {
        **clock.measured(["ledger_inputs_s", "engine_s", "ring_fence_check_s", "schema_check_s"]),
        "baseline_rss_mib": round(baseline, 1),
        "inputs_rss_mib": round(inputs, 1),
        "covers": "channel_allocation's body: ledger_inputs, override_inputs, allocate for "
        "every channel, ring_fence_breaches, the pandera schema check",
        "rows": frame.height,
        "channels": frame["channel"].n_unique(),
        "pending_skus": pending.height,
        "ring_fence_breaches": breaches.height,
        "schema_check_passed": check.passed,
    }


def _read_back_and_expected(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    allocation = pl.read_parquet(folder / "allocation.parquet")
    mapping = pl.read_parquet(folder / "mapping.parquet")
    read_back = pl.read_parquet(folder / "channel_stock.parquet")
    return allocation, mapping, read_back


def stage_drift(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Drift of every channel against the ledger's facts, its audit rows and its summary."""
    from inventory_pipelines.defs.reconciliation.assets import ledger_facts
    from inventory_pipelines.defs.resources import LedgerResource
    from inventory_pipelines.ledger import reconciliation as drift_audit
    from inventory_pipelines.reconciliation import drift, expected_per_listing, summarize
    from inventory_pipelines.rules import load_policy

    policy = load_policy()
    ledger = LedgerResource(url=ledger_url(folder))
    baseline = peak_rss_mib()
    clock = Clock()
    allocation, mapping, read_back = _read_back_and_expected(folder)
    clock.lap("read_s")
    inputs = peak_rss_mib()
    now = datetime.now(UTC)
    channels = policy.channels.names()
    computed_at = now - timedelta(minutes=2)  # the allocation's materialization
    expected = expected_per_listing(allocation, mapping, dict.fromkeys(channels, computed_at))
    clock.lap("expected_s")
    with ledger.engine() as engine:
        facts = ledger_facts(engine, policy, channels, expected, read_back)
        clock.lap("ledger_facts_s")
        frame = drift(expected, read_back, facts, now=now)
        clock.lap("drift_s")
        correctable = frame.filter(pl.col("cause") != "unmapped_listing")
        with engine.connect() as conn:
            audited = drift_audit.record_drift(conn, correctable.to_dicts(), "bench-scale")
        clock.lap("record_drift_s")
    summary = summarize(frame, read_back, channels)
    clock.lap("summarize_s")
    return {
        **clock.measured(
            ["expected_s", "ledger_facts_s", "drift_s", "record_drift_s", "summarize_s"]
        ),
        "baseline_rss_mib": round(baseline, 1),
        "inputs_rss_mib": round(inputs, 1),
        "covers": "reconciliation/drift's body: expected_per_listing, ledger_facts (every "
        "listing's acknowledgement, sales, dead letters, drops), drift, record_drift, summarize; "
        "not the drift history",
        "listings_compared": int(summary["listings_compared"].sum()),
        "drift_rows": frame.height,
        "by_cause": dict(frame.group_by("cause").len().sort("cause").iter_rows()),
        "audited": audited,
        "acknowledged_rows": facts.acknowledged.height if facts.acknowledged is not None else 0,
        "sales_rows": facts.sales.height if facts.sales is not None else 0,
    }


def stage_planning(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The publish round's plans and the publisher's delta planning into the outbox."""
    from inventory_pipelines.ledger import create_engine, migrate, state
    from inventory_pipelines.publishing.publisher import (
        ChannelPlan,
        ChannelSummary,
        enqueue,
        plan_targets,
        settle_jobs,
    )
    from inventory_pipelines.rules import load_policy

    policy = load_policy()
    url = ledger_url(folder)
    migrate(url)
    engine = create_engine(url)
    baseline = peak_rss_mib()
    clock = Clock()
    allocation, mapping, read_back = _read_back_and_expected(folder)
    clock.lap("read_s")
    inputs = peak_rss_mib()
    names = policy.channels.names()
    # published_channel_state: the acknowledgements before the round (for its latency figure)
    with engine.connect() as conn:
        acknowledged_before = {
            (name, listing): at
            for name in names
            for listing, (_, at) in state.acknowledged_with_time(conn, name).items()
        }
    clock.lap("acknowledged_before_s")
    plans = []
    for name in names:
        channel = policy.channels.get(name)
        stock = read_back.filter(pl.col("channel") == name)
        # the plan is made without the connector: no job is open, so nothing is asked of it
        plans.append(
            ChannelPlan(
                name,
                None,  # type: ignore[arg-type]
                plan_targets(
                    allocation.filter(pl.col("channel") == name),
                    mapping.filter(pl.col("channel") == name),
                ),
                {
                    listing: int(quantity)
                    for listing, quantity in stock.select("listing_id", "quantity").iter_rows()
                    if quantity is not None
                },
                stock["read_at"].min() if stock.height else None,
                units_per_item=float(channel.uom.units),
            )
        )
    clock.lap("plans_s")
    summaries = {}
    per_channel: dict[str, float] = {}
    for plan in plans:
        started = time.perf_counter()
        summary = ChannelSummary(plan.channel)
        for listing in settle_jobs(engine, plan, summary):
            plan.targets.pop(listing, None)
        kind = policy.channels.get(plan.channel).kind.value
        enqueue(engine, plan, "bench-scale", summary, cas=kind in ("shopify", "generic"))
        summaries[plan.channel] = summary
        per_channel[plan.channel] = round(time.perf_counter() - started, 3)
    clock.lap("enqueue_s")
    with sqlite3.connect(folder / "ledger.sqlite") as db:
        outbox_rows = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        audit_rows = db.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'publish.channel_edit'"
        ).fetchone()[0]
    engine.dispose()
    return {
        **clock.measured(["acknowledged_before_s", "plans_s", "enqueue_s"]),
        "enqueue_s_per_channel": per_channel,
        "baseline_rss_mib": round(baseline, 1),
        "inputs_rss_mib": round(inputs, 1),
        "covers": "published_channel_state up to its first request: the acknowledgements "
        "before the round, plan_targets and the read-back per channel, settle_jobs and enqueue "
        "(outbox rows, read-backs learned, edits audited); not sending nor acknowledging",
        "listings": sum(len(p.targets) for p in plans),
        "unchanged": sum(s.unchanged for s in summaries.values()),
        "channel_edits": sum(s.channel_edits for s in summaries.values()),
        "outbox_rows": outbox_rows,
        "edit_audit_rows": audit_rows,
        "acknowledged_before": len(acknowledged_before),
    }


STAGE_FUNCTIONS: dict[str, Callable[[Path, argparse.Namespace], dict[str, Any]]] = {
    "snapshot": stage_snapshot,
    "canonical": stage_canonical,
    "allocation": stage_allocation,
    "drift": stage_drift,
    "planning": stage_planning,
}


# ---- the runner ---------------------------------------------------------------------------


def _child(step: str, folder: Path, argv: list[str]) -> dict[str, Any]:
    """Run one step in a fresh interpreter; its result is the last stdout line."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", MODULE,
         "--scale-step", step, "--scale-dir", str(folder), *argv],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-20000:])
        raise SystemExit(f"scale: step {step} failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    _log(f"{step}: {time.perf_counter() - started:.1f}s wall, {json.dumps(result)[:400]}")
    return result


def run_step(step: str, folder: Path, args: argparse.Namespace) -> None:
    """The body of one child process: a setup step or a stage, with its peak RSS."""
    if step == "generate":
        started = time.perf_counter()
        result = generate(folder, args.skus, args.scale_seed)
        result["seconds"] = round(time.perf_counter() - started, 1)
    elif step == "ledger":
        started = time.perf_counter()
        result = prepare_ledger(
            folder, args.scale_changed_percent, args.scale_edited_percent, args.scale_seed
        )
        result["seconds"] = round(time.perf_counter() - started, 1)
    else:
        load = os.getloadavg()[0]
        result = STAGE_FUNCTIONS[step](folder, args)
        # the machine's other work shows in the wall time, less in the CPU time
        result["load_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Generate the inputs, run every stage in its own process, emit the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=1_000_000)
    parser.add_argument("--scale-page-size", type=int, default=20_000)
    parser.add_argument("--scale-changed-percent", type=float, default=5.0)
    parser.add_argument("--scale-edited-percent", type=float, default=1.0)
    parser.add_argument("--scale-seed", type=int, default=7)
    parser.add_argument("--scale-keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--scale-step", help=argparse.SUPPRESS)
    parser.add_argument("--scale-dir", type=Path, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.scale_step:
        run_step(args.scale_step, args.scale_dir, args)
        return

    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    argv = [
        f"--skus={args.skus}",
        f"--scale-page-size={args.scale_page_size}",
        f"--scale-changed-percent={args.scale_changed_percent}",
        f"--scale-edited-percent={args.scale_edited_percent}",
        f"--scale-seed={args.scale_seed}",
    ]
    _log(f"{args.skus:,} SKUs in {folder}")
    try:
        generated = _child("generate", folder, argv)
        results = {}
        for stage in STAGES:
            if stage == "drift":
                ledger = _child("ledger", folder, argv)
            results[stage] = _child(stage, folder, argv)
    finally:
        if not args.scale_keep:
            shutil.rmtree(folder, ignore_errors=True)
    label = size_label(args.skus)
    common = {"skus": args.skus, "warehouses": 3, "channels": 5}
    figures = {}
    for stage, result in results.items():
        details = {k: v for k, v in result.items() if k not in ("seconds", "peak_rss_mib")}
        figures[f"scale_{label}_{stage}_seconds"] = figure(result["seconds"], "s", **details)
        figures[f"scale_{label}_{stage}_peak_rss_mib"] = figure(
            result["peak_rss_mib"],
            "MiB",
            baseline_rss_mib=result.get("baseline_rss_mib"),
            inputs_rss_mib=result.get("inputs_rss_mib"),
            note="the stage's own process: interpreter, imports, inputs and the computation",
        )
    figures[f"scale_{label}_total_seconds"] = figure(
        round(sum(r["seconds"] for r in results.values()), 2),
        "s",
        stages={s: r["seconds"] for s, r in results.items()},
        cpu_s=round(sum(r["cpu_s"] for r in results.values()), 2),
        generated=generated,
        ledger=ledger,
        changed_percent=args.scale_changed_percent,
        edited_percent=args.scale_edited_percent,
        note="the sum of the stages' figures (each in its own process); setup not included",
        **common,
    )
    figures[f"scale_{label}_peak_rss_mib"] = figure(
        max(r["peak_rss_mib"] for r in results.values()),
        "MiB",
        stage=max(results, key=lambda s: results[s]["peak_rss_mib"]),
        note="the highest of the stages' peaks",
    )
    emit(figures)


if __name__ == "__main__":
    main()
