"""A worker killed at random points during ingestion loses nothing and duplicates nothing.

Odoo runs in its own process; each worker is forked by a fork server that imported the
ingestion modules once (so a worker starts in milliseconds) and killed with SIGKILL after a
random delay: no cleanup, no exception handler, as when a machine dies. A new worker with
the same name then resumes, and each trial checks Odoo and the ledger. On PostgreSQL a kill
inside a transaction leaves the server to roll it back and free its locks.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import httpx

from inventory_pipelines.ledger import create_engine, inbox
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.orders.ingest import Ingestor, channel_setups, client_order_ref
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.orders.test_ingest import order

#: trials per ledger: PostgreSQL repeats the SQLite run at half the count, enough for a kill
#: to land inside a transaction (the server must roll it back and free its row locks)
TRIALS = {"sqlite": 20, "postgresql": 10}
ORDERS_PER_TRIAL = 6
SETUPS = channel_setups(load_policy())


def odoo_config(creds: dict) -> OdooConfig:
    return OdooConfig(
        url=creds["url"], db=creds["db"], login=creds["login"], secret=creds["api_key"]
    )


def run_worker(creds: dict, ledger_url: str, ready) -> None:
    """The forked worker: own engine, own Odoo client; one row per claim."""
    engine = create_engine(ledger_url)
    with OdooClient(odoo_config(creds)) as client:
        client.uid  # noqa: B018 - connect before saying ready
        ready.send("ready")
        ready.close()
        Ingestor(engine, client, SETUPS, worker="ingest-1").run(batch=1)


def test_workers_killed_at_random_points_leave_each_order_in_odoo_exactly_once(
    migrated_ledger_url: str,
) -> None:
    rng = random.Random(20261127)
    fork = multiprocessing.get_context("forkserver")
    fork.set_forkserver_preload(["inventory_pipelines_tests.orders.test_kill"])
    url = migrated_ledger_url
    engine = create_engine(url)
    trials = TRIALS[engine.dialect.name]
    odoo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inventory_pipelines.sandbox.odoo",
            "--port",
            "0",
            "--skus",
            "60",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    killed_mid_run = 0
    try:
        creds = json.loads(odoo.stdout.readline())
        # every Odoo call takes 20 ms: a kill lands between two calls of one order's ingestion
        httpx.post(f"{creds['url']}/sandbox/faults", json={"latency": 0.02}).raise_for_status()
        with OdooClient(odoo_config(creds)) as client:
            frame = read_products(client)
        skus = sorted(
            r["sku"]
            for r in frame.iter_rows(named=True)
            if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
        )
        for trial in range(trials):
            orders = [
                order(f"k{trial:02d}{n}", [(skus[(trial * 7 + n) % len(skus)], 1)])
                for n in range(ORDERS_PER_TRIAL)
            ]
            with engine.connect() as conn:
                inbox.receive(conn, [inbox_event("shopify", o, "webhook") for o in orders])
            ready, tell = fork.Pipe(duplex=False)
            victim = fork.Process(target=run_worker, args=(creds, url, tell))
            victim.start()
            assert ready.poll(60) and ready.recv() == "ready"
            time.sleep(rng.uniform(0.0, 0.5))
            if victim.pid is not None and victim.is_alive():
                os.kill(victim.pid, signal.SIGKILL)
            victim.join()
            with engine.connect() as conn:
                killed_mid_run += any(r.status != "done" for r in inbox.rows(conn))
            _, tell = fork.Pipe(duplex=False)
            survivor = fork.Process(target=run_worker, args=(creds, url, tell))
            survivor.start()
            survivor.join(120)
            assert survivor.exitcode == 0
            with OdooClient(odoo_config(creds)) as client:
                created = client.call(
                    "sale.order",
                    "search_read",
                    [[["client_order_ref", "=like", f"shopify/k{trial:02d}%"]]],
                    {"fields": ["client_order_ref", "state"]},
                )
            per_ref = Counter(o["client_order_ref"] for o in created)
            expected = {client_order_ref("shopify", o.external_id): 1 for o in orders}
            assert per_ref == expected, f"trial {trial}: {per_ref}"
            assert {o["state"] for o in created} == {"sale"}
            with engine.connect() as conn:
                assert {r.status for r in inbox.rows(conn)} == {"done"}
    finally:
        odoo.terminate()
        odoo.wait(30)
        engine.dispose()
    # the kills must have hit ingestion in flight, not only before or after it
    assert killed_mid_run >= trials // 2, killed_mid_run
