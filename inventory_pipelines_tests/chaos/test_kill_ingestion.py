"""Order ingestion killed with SIGKILL at any point leaves each order in Odoo exactly once,
as a clean run leaves it.

One Odoo emulator (every call 10 ms late, so a timed kill lands between two calls of one
order) serves the whole test. Each trial: a fresh ledger, the scenario's orders and
cancellations in the inbox, an ingestion worker in a child process that dies at a kill point
its seed picks among those a clean run passes (`killpoints.py`: after the claim, between
creating the Odoo order and recording it in the ledger, between confirming and marking the
units reserved, before the row is completed...) or, one trial in five, at a moment drawn
from the clean run's duration; then the same worker again (a restarted worker resumes its
own claims), and the invariants (`ingestion.check_invariants`).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.chaos import children, report
from inventory_pipelines_tests.chaos.ingestion import (
    BATCH,
    Baseline,
    check_invariants,
    clean_run,
    deliver_to,
    orders,
    outcome,
    unit_skus,
)
from inventory_pipelines_tests.chaos.killpoints import choose
from inventory_pipelines_tests.chaos.publishing import LedgerFactory

SEED = 20261203
TRIALS = {
    "sqlite": int(os.environ.get("INVENTORY_CHAOS_KILLS", 50)),
    "postgresql": int(os.environ.get("INVENTORY_CHAOS_PG_KILLS", 10)),
}
INPUTS = 5
TIMER_SHARE = 0.2
SUITE = "kill-ingestion"


@pytest.mark.timeout(1800)  # many trials in one test: the default limit is per test
def test_ingestion_killed_at_random_points_leaves_each_order_in_odoo_exactly_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    ledgers = LedgerFactory(request, tmp_path)
    with OdooSandbox(version=17, skus=60, seed=3, port=0) as odoo:
        odoo.faults.set_latency(0.01)
        creds = odoo.credentials()
        skus = unit_skus(odoo)
        baselines: dict[int, Baseline] = {}
        schedule = [b for b, n in TRIALS.items() for _ in range(n)]
        for number, backend in enumerate(schedule):
            rng = random.Random(SEED + number)
            seed = SEED + number % INPUTS
            if seed not in baselines:
                baselines[seed] = clean_run(ledgers, odoo, skus, seed, tmp_path)
            baseline = baselines[seed]
            trace, seconds = baseline.trace, baseline.seconds
            if rng.random() < TIMER_SHARE:
                kill, timer = None, rng.uniform(0.0, seconds)
                where = f"at {timer:.2f} s of {seconds:.2f} s"
            else:
                point = choose(trace, number, rng)
                kill, timer, where = str(point), None, str(point)
            tag = f"k{number:03d}"
            trial = report.Trial(SUITE, tag, seed, backend, "SIGKILL; then the worker again", where)
            with report.Recorder(trial) as rec, ledgers.fresh(backend) as url:
                placed = orders(skus, seed, tag)
                deliver_to(url, placed)
                code = children.run_child(
                    children.ingest, (creds, url, "worker-1", BATCH, kill), timer
                )
                rec.note("killed" if code == -9 else f"ran to the end (exit {code})")
                rec.check("the child died or finished", code in (0, -9), f"exit {code}")
                again = children.run_child(children.ingest, (creds, url, "worker-1", BATCH))
                rec.check("the worker's second run succeeded", again == 0, f"exit {again}")
                check_invariants(rec, outcome(odoo, url, tag), baseline.outcome, placed, tag)
    failed = report.failures(SUITE)
    assert not failed, "\n".join(f"{t.trial} {t.where}: {t.detail}" for t in failed)
