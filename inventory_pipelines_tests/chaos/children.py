"""What a chaos trial's child process runs: a publish round, or an order ingestion pass, with
the kill points installed (`killpoints.py`).

The fork server preloads this module (and with it the product's publishing, ledger, channel
and Odoo modules), so a child starts in milliseconds; the kill points are installed in the
child only. Everything a child needs comes in its arguments (a forked child does not see the
environment the test set after the fork server started).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inventory_pipelines.channels.base import ChannelConnector
from inventory_pipelines.channels.factory import connector_from_env
from inventory_pipelines.defs.shared import POLICY
from inventory_pipelines.ledger import create_engine
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.orders.ingest import Ingestor, channel_setups
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines_tests.chaos.killpoints import (
    INGEST_POINTS,
    PUBLISH_POINTS,
    KillPoint,
    KillSwitch,
)

#: {channel: {listing id: (sku, quantity)}}
Targets = Mapping[str, Mapping[str, tuple[str, int]]]
SETUPS = channel_setups(POLICY)
#: a child that neither dies nor finishes in this time has hung: the trial fails
CHILD_TIMEOUT_S = 120.0


def fork_context() -> Any:
    """The fork server, preloaded with this module."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def run_child(target: Any, args: tuple[Any, ...], timer_s: float | None = None) -> int:
    """Run `target(*args)` in a forked child and return its exit code (-9: killed). With
    `timer_s`, the parent kills it with SIGKILL after that many seconds if still running."""
    child = fork_context().Process(target=target, args=args)
    child.start()
    if timer_s is not None:
        child.join(timer_s)
        if child.is_alive():
            child.kill()
    child.join(CHILD_TIMEOUT_S)
    if child.is_alive():
        child.kill()
        child.join()
        raise TimeoutError(f"{target.__name__} hung for {CHILD_TIMEOUT_S:.0f} s")
    assert child.exitcode is not None
    return child.exitcode


def switch_for(kill: str | None, trace: str | None) -> KillSwitch:
    """The kill switch of a child: its kill point (None: run to the end), its census file."""
    return KillSwitch(KillPoint.parse(kill) if kill else None, Path(trace) if trace else None)


def connector(channel: str, env: Mapping[str, str]) -> ChannelConnector:
    """The channel's connector, configured from `env` as the product configures it."""
    return connector_from_env(channel, POLICY.channels.get(channel).kind.value, env)


def read_back(conn: ChannelConnector) -> dict[str, int | None]:
    """Listing id -> the quantity the channel shows."""
    return {x.listing_id: x.quantity for page in conn.read_listings() for x in page}


def publish(
    env: Mapping[str, str],
    ledger_url: str,
    targets: Targets,
    round_id: str,
    full: bool,
    kill: str | None = None,
    trace: str | None = None,
) -> None:
    """One publish round to every channel of `targets`: `full` reads every channel back first
    (a full run: the graph's read-back), else plans against the ledger alone (a fast run)."""
    switch = switch_for(kill, trace)
    switch.install(PUBLISH_POINTS)
    engine = create_engine(ledger_url)
    plans = []
    try:
        for channel, wanted in targets.items():
            conn = connector(channel, env)
            shown: dict[str, int | None] = {}
            shown_at = None
            if full:
                shown_at = datetime.now(UTC)
                shown = read_back(conn)
            plans.append(
                ChannelPlan(
                    channel,
                    conn,
                    {listing: (sku, int(q)) for listing, (sku, q) in wanted.items()},
                    shown,  # type: ignore[arg-type]  # None: a listing without a tracked quantity
                    shown_at,
                    units_per_item=POLICY.channels.get(channel).uom.units,
                )
            )
        publish_round(engine, plans, round_id)
        switch.finish()
    finally:
        for plan in plans:
            plan.connector.close()
        engine.dispose()


def odoo_config(creds: Mapping[str, Any], **options: Any) -> OdooConfig:
    """The Odoo client's configuration for the emulator's printed credentials."""
    return OdooConfig(
        url=creds["url"], db=creds["db"], login=creds["login"], secret=creds["api_key"], **options
    )


def ingest(
    creds: Mapping[str, Any],
    ledger_url: str,
    worker: str,
    batch: int,
    kill: str | None = None,
    trace: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> None:
    """One ingestion pass over the inbox (every channel), as worker `worker`; `options` set
    the Odoo client's timeouts and retries."""
    switch = switch_for(kill, trace)
    switch.install(INGEST_POINTS)
    engine = create_engine(ledger_url)
    try:
        with OdooClient(
            odoo_config(creds, **{"backoff_initial_s": 0.05, **(options or {})})
        ) as client:
            Ingestor(engine, client, SETUPS, worker=worker).run(batch=batch)
        switch.finish()
    finally:
        engine.dispose()
