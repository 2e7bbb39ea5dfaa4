"""Overrides against the sandbox: an approved override reaches its channel and leaves it when
its time runs out; a break-glass stop zeroes its SKUs on every channel at once.

Odoo and one emulator per channel of `channels.yml`, the code location's assets and
resources (local environment), a real ledger and data plane; what the channels show is read
back through their connectors. No Dagster webserver answers, so the CLI takes the fallbacks a
machine without one takes. One sandbox and one full refresh for the module (the tests touch
different SKUs).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from inventory_pipelines.channels.factory import connector_from_env
from inventory_pipelines.cli import main
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.overrides.refresh import refresh_skus
from inventory_pipelines.defs.overrides.sensors import override_expiry
from inventory_pipelines.defs.resources import LedgerResource, build_resources
from inventory_pipelines.defs.shared import (
    CHANNEL_ALLOCATION,
    IDENTITY_PROBLEMS,
    POLICY,
    PRODUCT_IDENTITY,
    PUBLISHED,
    QUARANTINE,
)
from inventory_pipelines.defs.shared import channel_range_tags as range_tags
from inventory_pipelines.defs.stream.jobs import CHANGED_SKUS_SELECTION
from inventory_pipelines.ledger import audit, create_engine, dirty, overrides
from inventory_pipelines_tests.emulators import running_sandbox

pytestmark = pytest.mark.slow

CHANNELS = POLICY.channels.names()
STOPPED = "SKU-00001*"  # the break-glass test's SKUs; the override test takes another
#: the override test's override lives this long: enough to see it on the channel (about 5 s
#: on 2 busy cores), then the test waits for the rest
LIFETIME_S = 12


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Sandbox:
    """The running sandbox, its ledger and data plane, after one full refresh."""

    ledger_url: str
    store: TableStore

    def assets(self) -> list:
        from inventory_pipelines.definitions import defs

        return list(defs().assets or [])

    def listings(self, channel: str) -> dict[str, str]:
        """sku -> listing id on `channel`."""
        identity = self.store.read(PRODUCT_IDENTITY, channel)
        return dict(identity.select("sku", "listing_id").iter_rows())

    def shown(self, channel: str) -> dict[str, int | None]:
        """listing id -> the quantity `channel` shows, read through its connector."""
        kind = POLICY.channels.get(channel).kind.value
        with connector_from_env(channel, kind) as connector:
            return {x.listing_id: x.quantity for page in connector.read_listings() for x in page}

    def publishable(self, channel: str) -> dict[str, int]:
        allocation = self.store.read(CHANNEL_ALLOCATION, channel)
        return dict(allocation.select("sku", "publishable").iter_rows())


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    tmp_path: Path = tmp_path_factory.mktemp("overrides-e2e")
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        running_sandbox(monkeypatch, skus=50, listings=60) as (odoo, _),
    ):
        for key, value in odoo.credentials().items():
            if key in ("url", "db", "login", "api_key"):
                monkeypatch.setenv(f"ODOO_{key.upper()}", str(value))
        monkeypatch.setenv("INVENTORY_ENV", "local")
        monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
        ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        monkeypatch.setenv("INVENTORY_LEDGER_URL", ledger_url)
        monkeypatch.setenv("INVENTORY_DAGSTER_URL", f"http://127.0.0.1:{_closed_port()}")
        monkeypatch.delenv("INVENTORY_ACTOR", raising=False)
        box = Sandbox(ledger_url, TableStore(tmp_path / "tables"))
        full = dg.materialize(  # what a SKU refresh reads, and the first publish
            box.assets(),
            selection=dg.AssetSelection.assets(PUBLISHED, QUARANTINE, IDENTITY_PROBLEMS).upstream(),
            resources=build_resources(),
            tags=range_tags(CHANNELS),
        )
        assert full.success
        yield box


def cli(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_an_approved_override_reaches_its_channel_and_leaves_it_when_it_expires(
    sandbox: Sandbox,
) -> None:
    before = sandbox.publishable("shopify")
    listings = sandbox.listings("shopify")
    sku = next(
        s
        for s, q in sorted(before.items())
        if q >= 3 and s in listings and not s.startswith("SKU-00001")
    )
    listing = listings[sku]
    until = datetime.now(UTC) + timedelta(seconds=LIFETIME_S)
    cli("override", "request", "--channel", "shopify", "--sku", sku, "--quantity", "1",
        "--until", until.isoformat(), "--reason", "photo shoot", "--actor", "alice")  # fmt: skip
    engine = create_engine(sandbox.ledger_url)
    try:
        with engine.connect() as conn:
            [override] = [o for o in overrides.listed(conn) if o.sku == sku]
        cli("override", "approve", str(override.id), "--actor", "bob")

        # no webserver: the SKU waits dirty; the batch's run is this refresh of its dirty SKUs
        with engine.connect() as conn:
            assert sku in [r.sku for r in dirty.rows(conn)]
        assert refresh_skus([sku])["success"]
        assert datetime.now(UTC) < until, f"the override ran out before the refresh: {LIFETIME_S=}"
        assert sandbox.shown("shopify")[listing] == 1
        assert sandbox.publishable("woocommerce")[sku] == sandbox.shown("woocommerce").get(
            sandbox.listings("woocommerce")[sku]
        )  # the other channels follow the rules as before
        trace = json.loads(cli("explain", "--channel", "shopify", "--sku", sku, "--json").output)
        assert trace["publishable"]["value"] == 1
        rule = trace["suppressed"]["rule"]
        assert rule.startswith(f"override #{override.id}: 1 in the channel's unit until ")
        assert "(requested by alice, approved by bob): photo shoot" in rule

        # its time runs out: the sensor records it and refreshes the SKU
        time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.5)
        result = override_expiry(
            dg.build_sensor_context(
                cursor=(until - timedelta(seconds=1)).isoformat(),
                resources={"ledger": LedgerResource(url=sandbox.ledger_url)},
            )
        )
        [request] = result.run_requests
        assert request.run_config["resources"]["sku_scope"]["config"]["skus"] == [sku]
        ran = dg.materialize(
            sandbox.assets(),
            selection=CHANGED_SKUS_SELECTION,
            resources=build_resources(),
            run_config=request.run_config,
            tags=request.tags,
        )
        assert ran.success
        assert (
            sandbox.shown("shopify")[listing] == before[sku] == sandbox.publishable("shopify")[sku]
        )
        with engine.connect() as conn:
            [expired] = audit.history(conn, entity=override.entity, action="override.expired")
        assert expired.actor == "override_expiry" and expired.after["status"] == "expired"
    finally:
        engine.dispose()


def test_a_break_glass_stop_zeroes_its_skus_on_every_channel_at_once(sandbox: Sandbox) -> None:
    matching = {
        name: {s: x for s, x in sandbox.listings(name).items() if s.startswith(STOPPED[:-1])}
        for name in CHANNELS
    }
    others = {name: sandbox.shown(name) for name in CHANNELS}
    assert any(others[n][x] for n in CHANNELS for x in matching[n].values())  # on sale now

    result = CliRunner().invoke(
        main,
        ["override", "stop", "--sku-pattern", STOPPED, "--all-channels", "--break-glass",
         "--reason", "product recall", "--actor", "alice"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "BREAK-GLASS" in result.stderr
    assert "refreshing" in result.output  # no webserver: in this process, now

    for name in CHANNELS:
        shown = sandbox.shown(name)
        assert {sku: shown[x] for sku, x in matching[name].items()} == dict.fromkeys(
            matching[name], 0
        ), name
        untouched = {x: q for x, q in others[name].items() if x not in matching[name].values()}
        assert {x: shown[x] for x in untouched} == untouched, name
    engine = create_engine(sandbox.ledger_url)
    try:
        with engine.connect() as conn:
            [entry] = audit.history(conn, action="override.break_glass")
    finally:
        engine.dispose()
    assert entry.actor == "alice" and entry.after["reason"] == "product recall"
