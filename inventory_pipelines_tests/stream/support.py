"""What the stream's tests share: the Odoo sandbox with its clock held, a ledger, a data plane
folder and a real Dagster instance, with the change sensor evaluated on them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.resources import LedgerResource, OdooResource
from inventory_pipelines.defs.shared import (
    CHANNEL_STOCK,
    LOCATIONS,
    POLICY,
    PRODUCT_IDENTITY,
    SKU_VELOCITY,
)
from inventory_pipelines.defs.stream.sensors import odoo_change_sensor
from inventory_pipelines.sandbox.odoo import OdooSandbox

#: the emulator's clock in these tests (the demo data is stamped before it)
T0 = datetime(2026, 6, 1, 10, 0, 0)


def write_refresh_inputs(tables: Path) -> None:
    """Empty stand-ins for what a first full refresh leaves and a SKU refresh reads (so the
    stream's runs are not held back for want of it); tables already there are kept."""
    store = TableStore(tables)
    empty = [
        (LOCATIONS, {"location_id": pl.Int64, "role": pl.Utf8}),
        (SKU_VELOCITY, {"sku": pl.Utf8, "velocity_tier": pl.Utf8}),
    ]
    for key, schema in empty:
        if not store.exists(key):
            store.write(key, pl.DataFrame(schema=schema))
    for key in (PRODUCT_IDENTITY, CHANNEL_STOCK):
        for channel in POLICY.channels.names():
            store.write(key, pl.DataFrame(schema={"sku": pl.Utf8}), channel)


class Stream:
    """An Odoo sandbox, the ledger and the data plane, and the sensor evaluated on them."""

    def __init__(self, odoo: OdooSandbox, ledger_url: str, tables: Path, instance) -> None:
        self.odoo = odoo
        self.ledger_url = ledger_url
        self.tables = tables
        self.instance = instance
        self.cursor: str | None = None
        self.at(0)

    def at(self, seconds: int) -> None:
        """Hold Odoo's clock at T0 + `seconds`: what happens now is stamped so."""
        self.odoo.state.set_clock(T0 + timedelta(seconds=seconds))

    def resources(self) -> dict[str, object]:
        odoo = self.odoo
        return {
            "odoo": OdooResource(url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key),
            "ledger": LedgerResource(url=self.ledger_url),
        }

    def evaluate(self, cursor: str | None = None):
        """Evaluate the sensor from `cursor` (default: where the last evaluation left it)."""
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor if cursor is None else cursor,
            resources=self.resources(),
        )
        result = odoo_change_sensor(context)
        if isinstance(result, dg.SensorResult) and result.cursor is not None:
            self.cursor = result.cursor
        return result

    def calls(self, cursor: str | None = None):
        """Evaluate and count the Odoo requests the evaluation made."""
        self.odoo.reset_request_count()
        result = self.evaluate(cursor)
        return result, self.odoo.request_count
