"""`make run` closes the loop: a stock change in Odoo reaches every channel, no one clicking.

`inventory-sync dev` (what `make run` runs) with a throwaway Dagster instance, data plane and
ledger: Odoo 17 and one emulator per channel, the webhook receiver wired to them, `dagster dev`
(webserver and daemon) with every sensor and schedule on by default. The test only waits: for
the change sensor's bootstrap run to publish every channel, then, after an inventory
adjustment made through Odoo's external API (the Apply button), for every channel emulator to
show what the allocation gives for the SKU.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from inventory_pipelines.channels.factory import connector_from_env
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.shared import (
    CANONICAL,
    CHANNEL_ALLOCATION,
    POLICY,
    PRODUCT_IDENTITY,
    PUBLISHED,
)
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.settings import REPO_ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
CHANNELS = POLICY.channels.names()


def _free_block(size: int) -> int:
    """The first of `size` consecutive free loopback ports."""
    for base in range(21000, 60000, 97):
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(what: str, check: Callable[[], Any], timeout: float, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n--- make run's log ---\n{tail}")


def test_make_run_takes_a_stock_change_in_odoo_to_every_channel_with_no_one_clicking(
    tmp_path: Path,
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    tables = tmp_path / "tables"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ODOO_", "INVENTORY_CHANNEL_", "DAGSTER_"))
    }
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "INVENTORY_ENV": "local",
            "INVENTORY_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
            "INVENTORY_DATA_DIR": str(tables),
        }
    )
    base = _free_block(len(CHANNELS) + 1)
    ui, hooks = _free_port(), _free_port()
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        dev = subprocess.Popen(
            [str(BIN / "inventory-sync"), "dev", "--port-base", str(base), "--skus", "40",
             "--ui-port", str(ui), "--webhook-port", str(hooks)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        recorded = tmp_path / "sandbox-env.json"
        _wait("the sandbox's variables", recorded.exists, 60, log)
        sandbox = json.loads(recorded.read_text())
        store = TableStore(tables)

        # 1. nothing was ever published: the change sensor's bootstrap run does it
        _wait(
            "the bootstrap run's publish of every channel",
            lambda: all(store.exists(PUBLISHED, name) for name in CHANNELS),
            420,
            log,
        )
        sku = _a_sku_every_channel_lists(store)
        config = OdooConfig(
            url=sandbox["ODOO_URL"],
            db=sandbox["ODOO_DB"],
            login=sandbox["ODOO_LOGIN"],
            secret=sandbox["ODOO_API_KEY"],
        )
        with OdooClient(config) as client:
            # 2. an inventory adjustment in Odoo: MAIN/Stock counted 40 units higher, applied
            quants = client.call(
                "stock.quant",
                "search_read",
                [[["product_id.default_code", "=", sku], ["location_id.usage", "=", "internal"]]],
                {"fields": ["quantity", "location_id", "lot_id"]},
            )
            [quant, *_] = [q for q in quants if q["location_id"][1].startswith("MAIN/")]
            before = sum(q["quantity"] for q in quants if q["location_id"][1].startswith("MAIN/"))
            target = before + 40  # MAIN's on-hand once the count is applied
            counted = quant["quantity"] + 40
            client.call("stock.quant", "write", [[quant["id"]], {"inventory_quantity": counted}])
            client.call("stock.quant", "action_apply_inventory", [[quant["id"]]])

        # 3. every channel shows the allocation of the new stock, with no run launched by hand
        def settled() -> dict[str, int] | None:
            canonical = store.read(CANONICAL).filter(
                (pl.col("sku") == sku) & (pl.col("warehouse") == "MAIN")
            )
            if canonical.is_empty() or canonical["on_hand"][0] != target:
                return None
            shown = _shown(sandbox, store, sku)
            expected = _expected(store, sku)
            return shown if shown == expected else None

        shown = _wait("every channel showing the new stock's allocation", settled, 240, log)
        assert set(shown) == set(CHANNELS)
        assert any(quantity > 0 for quantity in shown.values())
    finally:
        os.killpg(dev.pid, signal.SIGINT)
        try:
            dev.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait(30)


def _a_sku_every_channel_lists(store: TableStore) -> str:
    listed = None
    for name in CHANNELS:
        skus = set(store.read(PRODUCT_IDENTITY, name)["sku"].drop_nulls().to_list())
        listed = skus if listed is None else listed & skus
    canonical = store.read(CANONICAL).filter(
        (pl.col("warehouse") == "MAIN") & (pl.col("on_hand") > 0)
    )
    candidates = sorted(set(canonical["sku"].to_list()) & (listed or set()))
    assert candidates, "no SKU in MAIN that every channel lists"
    return candidates[0]


def _expected(store: TableStore, sku: str) -> dict[str, int]:
    return {
        name: int(
            store.read(CHANNEL_ALLOCATION, name).filter(pl.col("sku") == sku)["publishable"][0]
        )
        for name in CHANNELS
    }


def _shown(sandbox: dict[str, str], store: TableStore, sku: str) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name in CHANNELS:
        listing = store.read(PRODUCT_IDENTITY, name).filter(pl.col("sku") == sku)["listing_id"][0]
        kind = POLICY.channels.get(name).kind.value
        with connector_from_env(name, kind, sandbox, loopback_only=True) as connector:
            quantities = {
                x.listing_id: x.quantity for page in connector.read_listings() for x in page
            }
        out[name] = quantities.get(listing)
    return out
