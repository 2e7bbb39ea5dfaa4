"""From a stock change in Odoo to every channel showing it: the sensor path and the push path.

The embedded default, as `make run` starts it: `inventory-sync dev` (Odoo 17 and one emulator
per channel of `channels.yml`, 2,000 SKUs, the webhook receiver, `dagster dev` with its daemon
and every sensor and schedule on), in a throwaway Dagster home, data plane and ledger. Once the
change sensor's bootstrap `reconcile_all` run has published every channel, the bench makes
`--latency-changes` stock changes one after the other, each an inventory adjustment applied
through Odoo's external API (as the Apply button does: `inventory_quantity` written on the
SKU's MAIN and EAST stock quants, then `action_apply_inventory` on both, in one call), on a
different SKU each time (SKUs every channel lists, with stock in both warehouses, alternately
`--latency-delta` units up and down), and a random pause of 0 to 5 s between changes so that
the changes fall at every phase of the sensor's and the run queue's ticks and never coalesce.

Latency of one change: from the first call of the adjustment to the moment every channel
emulator shows the quantity the allocation gives for the SKU (`inventory/channel_allocation`'s
`publishable`, read once the runs that took the change are over). The emulators are polled
every `--latency-poll-s` through their control API (`/sandbox/...`: the same state their
public API serves, and never counted or rate limited, so polling costs the channels' budgets
nothing). At the end every measured SKU is read once more through its channel's connector
(`connector_from_env` with the sandbox's recorded variables) to check that the control API
showed what the channel's own API shows.

Two configurations, each a stack of its own:

- **sensor**: no Odoo automation rule (`INVENTORY_ODOO_WEBHOOK_TOKEN` is set, so `dev` makes
  none), and a copy of the rules whose `automation.yml` routes every changed SKU to the fast
  path (`low_stock_at_or_below` above any stock): what is measured is the change sensor's
  `refresh_changed_skus` run, handed to the receiver as under `make run`
  (`INVENTORY_RECEIVER_URL`, `push.runs_in: receiver`).
- **sensor-queue** (not run by default): the same without the receiver's push path
  (`push.enabled: false`), so the sensor requests its runs from the run queue, each launched
  in a new process: what the handover saves.
- **push**: the shipped rules, the automation rule `dev` creates: Odoo posts each saved quant to
  the receiver, which submits a `refresh_changed_skus` run. The sensor still runs (with the
  shipped routing, these SKUs are not critical: it marks them dirty for the batch); the latency
  is to every channel whichever run delivered, and each change records the trigger
  (`inventory/trigger`) of the run that did.

The Dagster home is new and empty, so `dev` writes its dagster.yaml as it does for `make run`
(`--latency-dagster-yaml FILE` uses FILE instead; `/dev/null` gives Dagster's defaults);
telemetry is off (`DAGSTER_DISABLE_TELEMETRY`).

For each change the run that delivered is broken down from its Dagster events: `detect_s`
(change -> run enqueued: the sensor's tick, or the push's commit wait, read-back and submit),
`queue_s` (enqueued -> the launcher's RUN_STARTING), `launch_s` (-> RUN_START: a new process
that imports Dagster and loads the code location; for a run the receiver executes itself, which
is neither queued nor launched, detect ends when the run is created and launch_s is its plan),
`to_first_step_s`, `steps_s` (first step
start -> publish step end, and each step), and `after_publish_s` (channels showing it, relative
to the publish step's end: negative, the step ends after its acknowledgements are written).
Medians and 95th percentiles of each are reported, with the change sensor's tick intervals as
the daemon logged them and the 1-minute load average after each change.

Run: `make bench BENCH_ARGS="stream_latency"`, or `.venv/bin/python -m
inventory_pipelines_tests.bench.bench_stream_latency --latency-changes 50 --latency-paths
sensor,push [--latency-raw records.json] [--latency-keep]`. About 25 minutes a path on 2 cores
(the bootstrap run is 7 of them: Shopify's read-back at its bucket's pace, an Amazon feed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import yaml

from inventory_pipelines_tests.bench.measure import emit, figure, peak_rss_mib

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACTIVE = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


# -- the stack ------------------------------------------------------------------------------------


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_block(size: int) -> int:
    for base in range(23000, 60000, 97):
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log(message: str) -> None:
    print(f"[latency {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def sensor_rules(folder: Path, *, receiver: bool) -> Path:
    """A copy of the shipped rules where every changed SKU is critical; with `receiver` false,
    the receiver has no push path, so the sensor cannot hand its SKUs over and queues runs."""
    rules = folder / "rules"
    shutil.copytree(REPO_ROOT / "dbt_like_rules", rules)
    path = rules / "automation.yml"
    automation = yaml.safe_load(path.read_text())
    automation["change_sensor"]["fast_path"]["low_stock_at_or_below"] = 1_000_000_000
    if not receiver:
        automation["push"] = {**(automation.get("push") or {}), "enabled": False}
    path.write_text(yaml.safe_dump(automation, sort_keys=False))
    return rules


@dataclass
class Stack:
    """A running `inventory-sync dev` and where it keeps things."""

    folder: Path
    process: subprocess.Popen
    log: Path
    home: Path
    tables: Path
    sandbox: dict[str, str] = field(default_factory=dict)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        except ProcessLookupError:
            pass


def start_stack(folder: Path, path: str, skus: int, dagster_yaml: str | None) -> Stack:
    """`inventory-sync dev` for `path` (sensor or push) in `folder`: a new Dagster home, whose
    dagster.yaml `dev` writes as for `make run` (or `dagster_yaml`'s content when given)."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    if dagster_yaml is not None:
        (home / "dagster.yaml").write_text(Path(dagster_yaml).read_text())
    tables = folder / "tables"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ODOO_", "INVENTORY_", "DAGSTER_"))
    }
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "DAGSTER_DISABLE_TELEMETRY": "yes",
            "INVENTORY_ENV": "local",
            "INVENTORY_LEDGER_URL": f"sqlite:///{folder / 'ledger.sqlite'}",
            "INVENTORY_DATA_DIR": str(tables),
        }
    )
    if path in ("sensor", "sensor-queue"):
        env["INVENTORY_RULES_DIR"] = str(sensor_rules(folder, receiver=path == "sensor"))
        env["INVENTORY_ODOO_WEBHOOK_TOKEN"] = secrets.token_hex(24)  # dev makes no Odoo rule
    channels = len(_channels())
    base = _free_block(channels + 1)
    log = folder / "make-run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "inventory-sync"), "dev", "--port-base", str(base), "--skus", str(skus),
             "--ui-port", str(_free_port()), "--webhook-port", str(_free_port())],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Stack(folder, process, log, home, tables)


def _channels() -> list[tuple[str, str]]:
    from inventory_pipelines.defs.shared import POLICY

    return [(c.name, c.kind.value) for c in POLICY.channels.channels]


def wait(what: str, check: Callable[[], Any], timeout: float, stack: Stack, every=1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if stack.process.poll() is not None:
            raise RuntimeError(f"{what}: inventory-sync dev exited\n{stack.tail()}")
        time.sleep(every)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s\n--- dev's log ---\n{stack.tail()}")


# -- Dagster's view -------------------------------------------------------------------------------


class Runs:
    """The stack's Dagster instance, read from this process."""

    def __init__(self, home: Path) -> None:
        import dagster as dg

        self.instance = dg.DagsterInstance.from_config(str(home))

    def all(self, since: float | None = None) -> list[Any]:
        import dagster as dg

        filters = None
        if since is not None:
            filters = dg.RunsFilter(created_after=datetime.fromtimestamp(since, UTC))
        return list(self.instance.get_runs(filters=filters))

    def active(self) -> list[Any]:
        return [r for r in self.all() if r.status.value in ACTIVE]

    def covering(self, sku: str, since: float) -> list[Any]:
        """Runs created after `since` whose SKU scope holds `sku` (or is every SKU)."""
        found = []
        for run in self.all(since - 1.0):
            scope = ((run.run_config or {}).get("resources", {}).get("sku_scope") or {}).get(
                "config"
            ) or {}
            if "skus" in scope and (scope["skus"] is None or sku in scope["skus"]):
                found.append(run)
        return found

    def timeline(self, run_id: str) -> dict[str, Any]:
        """The run's milestones (epoch seconds) and its steps (key -> (start, end))."""
        from dagster import DagsterEventType as T

        marks: dict[str, float] = {}
        steps: dict[str, list[float | None]] = {}
        record = self.instance.get_run_record_by_id(run_id)
        if record is not None and record.create_timestamp is not None:
            marks["created"] = record.create_timestamp.timestamp()
        names = {
            T.RUN_ENQUEUED: "enqueued",
            T.RUN_DEQUEUED: "dequeued",
            T.RUN_STARTING: "starting",
            T.RUN_START: "started",
            T.RUN_SUCCESS: "succeeded",
            T.RUN_FAILURE: "failed",
        }
        for entry in self.instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind in names:
                marks.setdefault(names[kind], entry.timestamp)
            elif kind == T.STEP_START:
                steps.setdefault(event.step_key, [None, None])[0] = entry.timestamp
            elif kind in (T.STEP_SUCCESS, T.STEP_FAILURE):
                steps.setdefault(event.step_key, [None, None])[1] = entry.timestamp
        return {"marks": marks, "steps": steps}


# -- the channels, through their emulators' control API --------------------------------------------


class Channels:
    """What each channel emulator shows for a listing, read through its control API."""

    def __init__(self, sandbox: dict[str, str]) -> None:
        from inventory_pipelines.channels.factory import env_prefix

        self.kinds = dict(_channels())
        self.urls = {name: sandbox[env_prefix(name) + "URL"].rstrip("/") for name in self.kinds}
        self.http = httpx.Client(timeout=10)

    def shown(self, listings: dict[str, str]) -> dict[str, int | None]:
        """channel -> the quantity its listing `listings[channel]` shows now."""
        out: dict[str, int | None] = {}
        for name, kind in self.kinds.items():
            url, listing = self.urls[name], listings[name]
            if kind == "shopify":
                answer = self.http.get(
                    f"{url}/sandbox/quantity", params={"inventory_item_id": listing}
                ).json()
                out[name] = answer.get("quantity")
            elif kind == "woocommerce":
                item = int(listing.rsplit(":", 1)[-1])
                out[name] = self.http.post(f"{url}/sandbox/item", json={"id": item}).json()[
                    "stock_quantity"
                ]
            elif kind == "generic":
                answer = self.http.post(f"{url}/sandbox/listing", json={"listing_id": listing})
                out[name] = answer.json()["quantity"]
            else:  # amazon: the whole catalog's quantities by seller SKU (the listing id)
                out[name] = self.http.get(f"{url}/sandbox/quantities").json().get(listing)
        return out

    def close(self) -> None:
        self.http.close()


def through_connectors(sandbox: dict[str, str], listings: dict[str, dict[str, str]]):
    """channel -> {sku: quantity} read through each channel's connector (its public API)."""
    from inventory_pipelines.channels.factory import connector_from_env, env_prefix

    out: dict[str, dict[str, int | None]] = {}
    for name, kind in _channels():
        wanted = {listings[sku][name]: sku for sku in listings}
        # checking is not measured: the connectors' own pace is lifted (the emulators set none)
        env = {
            **sandbox,
            env_prefix(name) + "REQUESTS_PER_S": "1000",
            env_prefix(name) + "BURST": "1000",
        }
        with connector_from_env(name, kind, env, loopback_only=True) as connector:
            if kind == "shopify":  # by ids: reading the whole catalog would cost the bucket
                found = connector._read_available(list(wanted))
            else:
                found = {
                    x.listing_id: x.quantity
                    for page in connector.read_listings()
                    for x in page
                    if x.listing_id in wanted
                }
        out[name] = {sku: found.get(listing) for listing, sku in wanted.items()}
    return out


# -- choosing SKUs and changing them in Odoo ------------------------------------------------------


@dataclass
class Target:
    sku: str
    listings: dict[str, str]  # channel -> listing id
    quants: list[dict[str, Any]]  # a MAIN and an EAST stock quant (no lot)
    delta: int


def _stock_quant(quants: list[dict[str, Any]], warehouse: str) -> dict[str, Any] | None:
    for quant in sorted(quants, key=lambda q: -q["quantity"]):
        name = quant["location_id"][1]
        if quant["lot_id"] or not (
            name == f"{warehouse}/Stock" or name.startswith(f"{warehouse}/Stock/Shelf")
        ):
            continue
        return quant
    return None


def choose_targets(stack: Stack, client: Any, count: int, delta: int, seed: int) -> list[Target]:
    """`count` SKUs every channel lists (mapped by SKU), stocked in MAIN and EAST, whose
    allocation is above zero everywhere and under the POS cap: a change of `delta` units in
    each of the two warehouses moves every channel."""
    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.defs.shared import CHANNEL_ALLOCATION, POLICY, PRODUCT_IDENTITY

    store = TableStore(stack.tables)
    listings: dict[str, dict[str, str]] = {}
    ok: set[str] | None = None
    for name in POLICY.channels.names():
        identity = store.read(PRODUCT_IDENTITY, name).drop_nulls(["sku", "listing_id"])
        allocation = store.read(CHANNEL_ALLOCATION, name)
        cap = POLICY.channels.get(name).allocation.cap or 10**9
        fine = set(
            allocation.filter((pl.col("publishable") > 0) & (pl.col("publishable") < cap))["sku"]
        )
        for sku, listing in identity.select("sku", "listing_id").iter_rows():
            listings.setdefault(sku, {})[name] = str(listing)
        mapped = set(identity["sku"])
        ok = (mapped & fine) if ok is None else ok & mapped & fine
    candidates = sorted(ok or set())
    random.Random(seed).shuffle(candidates)
    targets: list[Target] = []
    for sku in candidates:
        if len(targets) == count:
            break
        quants = client.call(
            "stock.quant",
            "search_read",
            [[["product_id.default_code", "=", sku], ["location_id.usage", "=", "internal"]]],
            {"fields": ["quantity", "reserved_quantity", "location_id", "lot_id"]},
        )
        picked = [_stock_quant(quants, "MAIN"), _stock_quant(quants, "EAST")]
        if None in picked:
            continue
        down = len(targets) % 2 == 1
        if down and any(q["quantity"] - q["reserved_quantity"] < delta for q in picked):
            down = False
        targets.append(Target(sku, listings[sku], picked, -delta if down else delta))
    if len(targets) < count:
        raise RuntimeError(f"only {len(targets)} SKUs fit the bench, {count} wanted")
    return targets


def apply_change(client: Any, target: Target) -> float:
    """The inventory adjustment: counted quantities written, then applied. Returns the time
    of its first call."""
    started = time.time()
    for quant in target.quants:
        client.call(
            "stock.quant",
            "write",
            [[quant["id"]], {"inventory_quantity": quant["quantity"] + target.delta}],
        )
    client.call("stock.quant", "action_apply_inventory", [[q["id"] for q in target.quants]])
    return started


# -- one change, measured -------------------------------------------------------------------------


def expected_allocation(stack: Stack, sku: str) -> dict[str, int]:
    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.defs.shared import CHANNEL_ALLOCATION, POLICY

    store = TableStore(stack.tables)
    return {
        name: int(store.read(CHANNEL_ALLOCATION, name, skus=[sku])["publishable"][0])
        for name in POLICY.channels.names()
    }


def measure_change(
    stack: Stack,
    runs: Runs,
    channels: Channels,
    client: Any,
    target: Target,
    poll_s: float,
    timeout_s: float,
) -> dict[str, Any]:
    """Make the change, watch every channel until the runs that took it are over; the
    latency and where its time went."""
    before = channels.shown(target.listings)
    t0 = apply_change(client, target)
    samples: list[tuple[float, dict[str, int | None]]] = []
    settled_at: float | None = None
    next_runs_check = 0.0
    covering: list[Any] = []
    while True:
        now = time.time()
        samples.append((now, channels.shown(target.listings)))
        moved = all(samples[-1][1][n] != before[n] for n in before)
        if now >= next_runs_check:
            covering = runs.covering(target.sku, t0)
            next_runs_check = now + 0.5
        done = [r for r in covering if r.status.value not in ACTIVE]
        finished = covering and len(done) == len(covering)
        if finished and settled_at is None:
            settled_at = now
        # over when the runs that took the change ended and either every channel moved or
        # a few seconds passed (a channel whose allocation did not move shows no change)
        if finished and (moved or now - (settled_at or now) > 3.0):
            break
        if now - t0 > timeout_s:
            break
        time.sleep(max(0.0, poll_s - (time.time() - now)))
    samples.append((time.time(), channels.shown(target.listings)))
    expected = expected_allocation(stack, target.sku)
    final = samples[-1][1]
    reached: dict[str, float | None] = {}
    for name, want in expected.items():
        at = None
        for when, shown in samples:
            at = (when if at is None else at) if shown[name] == want else None
        reached[name] = at
    latency = None
    if final == expected:
        latency = max((at or t0) - t0 for at in reached.values())
    record: dict[str, Any] = {
        "sku": target.sku,
        "delta": target.delta,
        "latency_s": latency,
        "timed_out": latency is None,
        "channels_moved": sum(final[n] != before[n] for n in before),
        "before": before,
        "expected": expected,
        "shown": final,
        "per_channel_s": {n: (round(at - t0, 3) if at else None) for n, at in reached.items()},
        "runs": [],
    }
    # the runs that took it: which delivered and where its time went
    first_visible = t0 + (latency or 0.0)
    for run in sorted(covering, key=lambda r: r.run_id):
        line = runs.timeline(run.run_id)
        record["runs"].append(
            {
                "run_id": run.run_id,
                "trigger": (run.tags or {}).get("inventory/trigger"),
                "status": run.status.value,
                **line,
            }
        )
    record["delivered_by"] = _delivered_by(record["runs"], first_visible)
    record["breakdown"] = _breakdown(record, t0, first_visible)
    record["t0"] = t0
    return record


def _publish_end(run: dict[str, Any]) -> float | None:
    for key, (_, end) in run["steps"].items():
        if "published_channel_state" in key:
            return end
    return None


def _delivered_by(run_lines: list[dict[str, Any]], visible: float) -> dict[str, Any] | None:
    """The run whose publish ended first (the one that put the change on the channels)."""
    finished = [r for r in run_lines if r["status"] == "SUCCESS" and _publish_end(r)]
    if not finished:
        return None
    run = min(finished, key=lambda r: _publish_end(r) or 0.0)
    return {"run_id": run["run_id"], "trigger": run["trigger"]}


def _breakdown(record: dict[str, Any], t0: float, visible: float) -> dict[str, float] | None:
    delivered = record["delivered_by"]
    if delivered is None or record["latency_s"] is None:
        return None
    run = next(r for r in record["runs"] if r["run_id"] == delivered["run_id"])
    marks, steps = run["marks"], run["steps"]
    # a run executed in the receiver is neither enqueued nor launched: created, then started
    created = marks.get("enqueued") or marks.get("starting") or marks.get("created")
    # the queue hands the run to the launcher: RUN_DEQUEUED where Dagster records it, else
    # RUN_STARTING (the launcher's first event)
    dequeued = marks.get("dequeued") or marks.get("starting") or created
    started = marks.get("started")
    if created is None or started is None:
        return None
    starts = [s for s, _ in steps.values() if s]
    ends = [e for _, e in steps.values() if e]
    publish_end = _publish_end(run) or max(ends)
    out = {
        "detect_s": created - t0,
        "queue_s": dequeued - created,
        "launch_s": started - dequeued,
        "to_first_step_s": min(starts) - started,
        "steps_s": publish_end - min(starts),
        "after_publish_s": visible - publish_end,
    }
    for key, (start, end) in steps.items():
        if start and end:
            out[f"step:{key}"] = end - start
    return {k: round(v, 3) for k, v in out.items()}


# -- one configuration ----------------------------------------------------------------------------


def run_path(path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start the stack for `path`, bootstrap, measure the changes, verify, stop."""
    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.defs.shared import POLICY, PUBLISHED
    from inventory_pipelines.odoo import OdooClient, OdooConfig

    folder = Path(tempfile.mkdtemp(prefix=f"bench-latency-{path}-"))
    _log(f"{path}: inventory-sync dev in {folder}")
    started = time.monotonic()
    stack = start_stack(folder, path, args.latency_skus, args.latency_dagster_yaml)
    channels = None
    try:
        recorded = folder / "sandbox-env.json"
        wait("the sandbox's variables", recorded.exists, 180, stack)
        stack.sandbox = json.loads(recorded.read_text())
        store = TableStore(stack.tables)
        wait("the Dagster instance", (stack.home / "history").exists, 180, stack)
        runs = Runs(stack.home)

        def bootstrapped() -> bool:
            done = [
                r
                for r in runs.all()
                if (r.tags or {}).get("inventory/bootstrap") == "true"
                and r.status.value == "SUCCESS"
            ]
            return bool(done) and all(store.exists(PUBLISHED, n) for n in POLICY.channels.names())

        wait("the bootstrap run", bootstrapped, args.latency_bootstrap_timeout, stack, every=2)
        bootstrap_s = time.monotonic() - started
        _log(f"{path}: bootstrapped in {bootstrap_s:.0f} s; waiting for quiet")
        quiet_since = [time.monotonic()]

        def quiet() -> bool:
            if runs.active():
                quiet_since[0] = time.monotonic()
            return time.monotonic() - quiet_since[0] > 8

        wait("no run in flight", quiet, 600, stack)
        config = OdooConfig(
            url=stack.sandbox["ODOO_URL"],
            db=stack.sandbox["ODOO_DB"],
            login=stack.sandbox["ODOO_LOGIN"],
            secret=stack.sandbox["ODOO_API_KEY"],
        )
        channels = Channels(stack.sandbox)
        rng = random.Random(args.latency_seed)
        records = []
        load = []
        with OdooClient(config) as client:
            targets = choose_targets(
                stack, client, args.latency_changes, args.latency_delta, args.latency_seed
            )
            for index, target in enumerate(targets, 1):
                time.sleep(rng.uniform(0.0, 5.0))
                record = measure_change(
                    stack, runs, channels, client, target, args.latency_poll_s,
                    args.latency_timeout,
                )  # fmt: skip
                load.append(os.getloadavg()[0])
                records.append(record)
                latency = record["latency_s"]
                _log(
                    f"{path} {index}/{len(targets)} {target.sku} {target.delta:+d}: "
                    f"{latency if latency is None else round(latency, 2)} s, "
                    f"{record['channels_moved']} channels moved, by "
                    f"{(record['delivered_by'] or {}).get('trigger')}; {record['breakdown']}"
                )
                wait("the change's runs to end", lambda: not runs.active(), 300, stack, 0.5)
        _log(f"{path}: verifying through the connectors")
        listings = {t.sku: t.listings for t in targets}
        read = through_connectors(stack.sandbox, listings)
        verified = sum(all(read[n][r["sku"]] == r["shown"][n] for n in read) for r in records)
        instance_yaml = stack.home / "dagster.yaml"
        ticks = sensor_ticks(stack.log)
        return {
            "sensor_tick_interval_s": ticks,
            "records": records,
            "dagster_yaml": instance_yaml.read_text() if instance_yaml.exists() else "",
            "bootstrap_s": bootstrap_s,
            "verified": verified,
            "load_1m": load,
            "folder": str(folder),
        }
    finally:
        if channels is not None:
            channels.close()
        stack.stop()
        if not args.latency_keep:
            shutil.rmtree(folder, ignore_errors=True)


def sensor_ticks(log: Path) -> dict[str, float]:
    """How far apart the daemon evaluated the change sensor (its log lines, to the second)."""
    stamps = []
    for line in log.read_text(errors="replace").splitlines():
        if "Checking for new runs for sensor: odoo_change_sensor" in line:
            match = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", line)
            if match:
                stamps.append(datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").timestamp())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    if not gaps:
        return {}
    return {
        "ticks": len(stamps),
        "median": statistics.median(gaps),
        "mean": round(statistics.mean(gaps), 2),
        "share_over_7s": round(sum(g > 7 for g in gaps) / len(gaps), 3),
    }


# -- figures --------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summarize(path: str, result: dict[str, Any], timeout: float) -> dict[str, Any]:
    records = result["records"]
    latencies = [r["latency_s"] if r["latency_s"] is not None else timeout for r in records]
    breakdowns = [r["breakdown"] for r in records if r["breakdown"]]
    keys = sorted({k for b in breakdowns for k in b})
    medians = {k: round(statistics.median(b[k] for b in breakdowns if k in b), 3) for k in keys}
    p95s = {k: round(_pct([b[k] for b in breakdowns if k in b], 95), 3) for k in keys}
    triggers: dict[str, int] = {}
    for r in records:
        trigger = (r["delivered_by"] or {}).get("trigger") or "none"
        triggers[trigger] = triggers.get(trigger, 0) + 1
    return {
        "n": len(records),
        "p50": round(_pct(latencies, 50), 3),
        "p95": round(_pct(latencies, 95), 3),
        "max": round(max(latencies), 3),
        "timed_out": sum(r["timed_out"] for r in records),
        "all_channels_moved": sum(r["channels_moved"] == len(r["expected"]) for r in records),
        "verified_through_connectors": result["verified"],
        "delivered_by": triggers,
        "breakdown_median_s": medians,
        "breakdown_p95_s": p95s,
        "sensor_tick_interval_s": result["sensor_tick_interval_s"],
        "bootstrap_s": round(result["bootstrap_s"], 1),
        "dagster_yaml": result["dagster_yaml"].strip() or "none: Dagster's defaults",
        "load_1m_median": round(statistics.median(result["load_1m"]), 2),
        "latencies_s": [round(v, 3) for v in latencies],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-changes", type=int, default=50)
    parser.add_argument("--latency-skus", type=int, default=2000)
    parser.add_argument("--latency-paths", default="sensor,push")
    parser.add_argument("--latency-delta", type=int, default=40)
    parser.add_argument("--latency-poll-s", type=float, default=0.1)
    parser.add_argument("--latency-timeout", type=float, default=120.0)
    parser.add_argument("--latency-bootstrap-timeout", type=float, default=1200.0)
    parser.add_argument("--latency-seed", type=int, default=10)
    parser.add_argument(
        "--latency-dagster-yaml",
        default=None,
        help="the instance's dagster.yaml (default: the one `dev` writes; /dev/null: Dagster's "
        "defaults)",
    )
    parser.add_argument("--latency-keep", action="store_true", help="keep the temp folders")
    parser.add_argument("--latency-raw", default=None, help="write every change's record here")
    args, _ = parser.parse_known_args()
    paths = [p for p in args.latency_paths.split(",") if p]
    results = {path: run_path(path, args) for path in paths}
    if args.latency_raw:
        Path(args.latency_raw).write_text(json.dumps(results, indent=1, default=str))
    figures: dict[str, dict] = {}
    common = {
        "skus": args.latency_skus,
        "cpus": os.cpu_count(),
        "bench_peak_rss_mib": round(peak_rss_mib(), 1),
    }
    names = {
        "sensor": ("change_to_channel", "< 10"),
        "sensor-queue": ("change_to_channel_queued", None),
        "push": ("push_to_channel", "< 5"),
    }
    for path, result in results.items():
        prefix, target = names[path]
        summary = summarize(path, result, args.latency_timeout)
        details = {k: v for k, v in summary.items() if k not in ("p50", "p95")}
        figures[f"{prefix}_latency_p50_s"] = figure(
            summary["p50"], "s", n=summary["n"], path=path, **common
        )
        figures[f"{prefix}_latency_p95_s"] = figure(
            summary["p95"], "s", target or "", path=path, **details, **common
        )
    emit(figures)


if __name__ == "__main__":
    main()
