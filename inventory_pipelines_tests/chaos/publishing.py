"""The publishing side of the chaos suite: the channels' emulators, the targets of a round,
a clean run to compare with, and the invariants checked after a trial.

A scenario: every channel of the shipped rules on its emulator (a few listings each; the
generic portals cut into batches of 4, so a round has many batches), a first round that the
ledger acknowledged (`r0`), then the round under test (`r1`: new targets, lower, equal,
higher, zero) and, after a fault, a recovery round with the same targets. A clean run is
the same scenario with no fault.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from inventory_pipelines.channels.factory import env_prefix, sandbox_env
from inventory_pipelines.defs.shared import POLICY
from inventory_pipelines.ledger import create_engine, dlq, fences, leases, migrate, state
from inventory_pipelines.ledger.schema import outbox as outbox_table
from inventory_pipelines_tests.chaos import children
from inventory_pipelines_tests.chaos.killpoints import census
from inventory_pipelines_tests.chaos.report import Recorder
from inventory_pipelines_tests.emulators import channel_emulator
from inventory_pipelines_tests.pg import migrated_ledger

LISTINGS = 12
#: Amazon takes one patch per request at 5/s: a few of its listings keep a round short
AMAZON_TARGETS = 5
GENERIC_BATCH = "4"
#: rows in these states were settled: acknowledged, or replaced by a newer plan, or answered
SETTLED = {"acknowledged", "superseded", "stale"}
DEAD = {"dead", "rejected"}
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

Quantities = dict[str, dict[str, int | None]]


@contextlib.contextmanager
def channel_stack(seed: int = 9) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """Every channel's emulator, fresh, and the variables that point connectors at them."""
    emulators = {
        c.name: channel_emulator(c.kind.value, LISTINGS, seed) for c in POLICY.channels.channels
    }
    started = []
    env: dict[str, str] = {}
    try:
        for name, emulator in emulators.items():
            emulator.start()
            started.append(emulator)
            kind = POLICY.channels.get(name).kind.value
            env |= sandbox_env(name, kind, emulator.credentials())
            if kind == "generic":
                env[env_prefix(name) + "MAX_BATCH"] = GENERIC_BATCH
        yield emulators, env
    finally:
        for emulator in started:
            emulator.stop()


class LedgerFactory:
    """Fresh migrated ledgers for one test: SQLite files copied from one migrated once, or
    PostgreSQL databases copied from the session's migrated template."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp_path = tmp_path
        self._template: Path | None = None
        self._count = 0

    @contextlib.contextmanager
    def fresh(self, backend: str) -> Iterator[str]:
        """A migrated, empty ledger on `backend` (its URL)."""
        self._count += 1
        if backend == "postgresql":
            folder = self.tmp_path / f"pg{self._count}"
            folder.mkdir()
            with migrated_ledger(self.request, backend, folder) as url:
                yield url
            return
        if self._template is None:
            self._template = self.tmp_path / "template.sqlite"
            migrate(f"sqlite:///{self._template}")
        path = self.tmp_path / f"ledger{self._count}.sqlite"
        shutil.copy(self._template, path)
        yield f"sqlite:///{path}"
        path.unlink(missing_ok=True)


def read_quantities(env: Mapping[str, str]) -> Quantities:
    """What every channel shows, listing by listing."""
    quantities = {}
    for channel in POLICY.channels.names():
        with children.connector(channel, env) as conn:
            quantities[channel] = children.read_back(conn)
    return quantities


def make_targets(
    shown: Quantities, skus: Mapping[tuple[str, str], str], seed: int
) -> dict[str, dict[str, tuple[str, int]]]:
    """Targets for each channel's listings with a SKU and a quantity, drawn from `seed`:
    lower, equal, higher, zero."""
    rng = random.Random(seed)
    targets: dict[str, dict[str, tuple[str, int]]] = {}
    for channel, listings in shown.items():
        chosen = sorted(k for k, q in listings.items() if q is not None and skus.get((channel, k)))
        if POLICY.channels.get(channel).kind.value == "amazon":
            chosen = chosen[:AMAZON_TARGETS]
        targets[channel] = {
            listing: (
                skus[(channel, listing)],
                max(0, int(listings[listing] or 0) + rng.choice([-5, 0, 7, -300, 3])),
            )
            for listing in chosen
        }
    return targets


def read_skus(env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(channel, listing id) -> SKU, for every listing with one."""
    skus = {}
    for channel in POLICY.channels.names():
        with children.connector(channel, env) as conn:
            for page in conn.read_listings():
                skus.update({(channel, x.listing_id): x.sku for x in page if x.sku})
    return skus


@dataclass
class Scenario:
    """One input: the targets of the acknowledged round and of the round under test."""

    seed: int
    first: dict[str, dict[str, tuple[str, int]]]
    second: dict[str, dict[str, tuple[str, int]]]


def scenario(env: Mapping[str, str], seed: int) -> Scenario:
    """The scenario of input `seed` on a fresh stack."""
    skus = read_skus(env)
    shown = read_quantities(env)
    first = make_targets(shown, skus, seed)
    after_first = {c: {k: q for k, (_, q) in t.items()} for c, t in first.items()}
    second = make_targets(after_first, skus, seed * 7919 + 1)
    return Scenario(seed, first, second)


@dataclass
class Baseline:
    """A clean run of a scenario: the kill points it passed, its time, what channels show."""

    trace: list[str]
    seconds: float
    quantities: Quantities


def clean_run(ledgers: LedgerFactory, seed: int, tmp_path: Path) -> Baseline:
    """The scenario of `seed` run with no fault, its second round counted by kill point."""
    trace = tmp_path / f"census-{seed}.json"
    with channel_stack() as (_, env), ledgers.fresh("sqlite") as url:
        plan = scenario(env, seed)
        assert children.run_child(children.publish, (env, url, plan.first, "r0", True)) == 0
        started = time.monotonic()
        args = (env, url, plan.second, "r1", True, None, str(trace))
        assert children.run_child(children.publish, args) == 0
        seconds = time.monotonic() - started
        return Baseline(census(trace), seconds, read_quantities(env))


def check_invariants(rec: Recorder, url: str, env: Mapping[str, str], clean: Quantities) -> None:
    """Nothing lost, nothing duplicated, the channels as a clean run left them."""
    shown = read_quantities(env)
    differ = {
        f"{c}/{k}: {shown[c].get(k)} != {q}"
        for c, listings in clean.items()
        for k, q in listings.items()
        if shown[c].get(k) != q
    }
    rec.check("channels equal a clean run", not differ, ", ".join(sorted(differ)[:5]))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = list(conn.execute(sa.select(outbox_table)))
            letters = dlq.list_open(conn)
            believed = {c: state.last_acknowledged(conn, c) for c in clean}
            drops = fences.unexplained_drops(conn, EPOCH)
            held = [lease for c in clean if (lease := leases.holder_of(conn, c)) is not None]
        lettered = {i for letter in letters for i in letter.payload.get("outbox_ids", ())}
        open_rows = [r for r in rows if r.status not in SETTLED | DEAD]
        rec.check(
            "every outbox row settled",
            not open_rows,
            ", ".join(f"{r.channel}/{r.listing_id} {r.status}" for r in open_rows[:5]),
        )
        unlettered = [r for r in rows if r.status in DEAD and r.id not in lettered]
        rec.check(
            "every dead row dead-lettered with a reason",
            not unlettered and all(letter.error for letter in letters),
            ", ".join(f"{r.channel}/{r.listing_id}" for r in unlettered[:5]),
        )
        wrong = {
            f"{c}/{k}: ledger {believed[c].get(k)}, channel {shown[c].get(k)}"
            for c, listings in believed.items()
            for k in listings
            if listings[k] != shown[c].get(k)
        }
        rec.check("ledger believes what channels show", not wrong, ", ".join(sorted(wrong)[:5]))
        rec.check("no phantom sales recorded", not drops, str(drops))
        rec.check("no lease left held", not held, str(held))
    finally:
        engine.dispose()
