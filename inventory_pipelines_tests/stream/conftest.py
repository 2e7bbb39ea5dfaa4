"""The stream against the Odoo sandbox: a fresh emulator per test (see `support.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from inventory_pipelines.ledger import migrate
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.stream.support import Stream, write_refresh_inputs


@pytest.fixture
def stream(tmp_path: Path, monkeypatch) -> Iterator[Stream]:
    tables = tmp_path / "tables"
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tables))
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(ledger_url)
    # as after a first full refresh (else the sensor asks for the bootstrap run: see the test
    # of a fresh machine)
    write_refresh_inputs(tables)
    with OdooSandbox(version=17, skus=40, seed=8, port=0) as odoo:
        yield Stream(odoo, ledger_url, tables, dg.DagsterInstance.ephemeral())
