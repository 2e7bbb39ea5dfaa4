"""Publishing killed with SIGKILL at any point converges to what a clean run leaves.

Each trial: fresh channel emulators and a fresh ledger, a first round acknowledged, then the
round under test in a child process that dies at a kill point its seed picks among those a
clean run passes (`killpoints.py`: outbox written, batch marked sent, applied by the channel
and not yet recorded, mid-record, mid-batch...) or, for one trial in five, at a moment drawn
from the clean run's duration. Then a recovery round with the same targets, every other
trial a full run (every channel read back) and a fast run (the ledger's belief alone), and
the invariants (`publishing.check_invariants`).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from inventory_pipelines_tests.chaos import children, report
from inventory_pipelines_tests.chaos.killpoints import choose
from inventory_pipelines_tests.chaos.publishing import (
    Baseline,
    LedgerFactory,
    channel_stack,
    check_invariants,
    clean_run,
    scenario,
)

SEED = 20261202
TRIALS = {
    "sqlite": int(os.environ.get("INVENTORY_CHAOS_KILLS", 50)),
    "postgresql": int(os.environ.get("INVENTORY_CHAOS_PG_KILLS", 10)),
}
INPUTS = 5  # distinct scenarios, each with its clean run
TIMER_SHARE = 0.2
SUITE = "kill-publishing"


@pytest.mark.timeout(1800)  # many trials in one test: the default limit is per test
def test_publishing_killed_at_random_points_ends_as_a_clean_run(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    ledgers = LedgerFactory(request, tmp_path)
    baselines: dict[int, Baseline] = {}
    schedule = [b for b, n in TRIALS.items() for _ in range(n)]
    for number, backend in enumerate(schedule):
        rng = random.Random(SEED + number)
        seed = SEED + number % INPUTS
        if seed not in baselines:
            baselines[seed] = clean_run(ledgers, seed, tmp_path)
        baseline = baselines[seed]
        full = number % 2 == 0
        if rng.random() < TIMER_SHARE:
            kill, timer = None, rng.uniform(0.0, baseline.seconds)
            where = f"at {timer:.2f} s of {baseline.seconds:.2f} s"
        else:
            point = choose(baseline.trace, number, rng)
            kill, timer, where = str(point), None, str(point)
        trial = report.Trial(
            SUITE,
            f"p{number:02d}",
            seed,
            backend,
            f"SIGKILL; recovery: {'full run' if full else 'fast run'}",
            where,
        )
        with (
            report.Recorder(trial) as rec,
            channel_stack() as (_, env),
            ledgers.fresh(backend) as url,
        ):
            plan = scenario(env, seed)
            first = children.run_child(children.publish, (env, url, plan.first, "r0", True))
            assert first == 0, f"the first round exited {first}"
            code = children.run_child(
                children.publish, (env, url, plan.second, "r1", True, kill), timer
            )
            rec.note("killed" if code == -9 else f"ran to the end (exit {code})")
            rec.check("the child died or finished", code in (0, -9), f"exit {code}")
            recovered = children.run_child(children.publish, (env, url, plan.second, "r2", full))
            rec.check("the recovery run succeeded", recovered == 0, f"exit {recovered}")
            check_invariants(rec, url, env, baseline.quantities)
    failed = report.failures(SUITE)
    assert not failed, "\n".join(f"{t.trial} {t.where}: {t.detail}" for t in failed)
