"""Fixtures for the supply tests: the vendor feed emulator, a ledger, a data plane, and the
supplierinfo frame of one vendor (the shape `odoo/supply.py::read_supplierinfo` returns)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.ledger import create_engine, migrate
from inventory_pipelines.rules.vendors import Vendor
from inventory_pipelines.sandbox.vendor_feed import VendorFeedSandbox
from inventory_pipelines_tests.s3 import moto_s3_endpoint, s3_data_uri

__all__ = ["moto_s3_endpoint", "s3_data_uri"]

PARTNER = "Acme Drop-Ship"
#: the vendor's codes and our SKUs (supplierinfo), and what its feed says by default
CATALOG = [(f"AC-{n:03d}", f"SKU-{n:03d}", n) for n in range(1, 21)]
ROWS = [(code, float(n * 3)) for code, _, n in CATALOG]


def supplierinfo_frame(rows=CATALOG, partner: str = PARTNER) -> pl.DataFrame:
    """Supplierinfo rows of `partner` for (code, sku, product_id) triples."""
    return pl.DataFrame(
        [
            {
                "supplierinfo_id": i,
                "vendor_id": 7,
                "vendor": partner,
                "vendor_code": code,
                "sku": sku,
                "product_id": product,
                "min_qty": 0.0,
                "delay_days": 2,
                "sequence": 1,
            }
            for i, (code, sku, product) in enumerate(rows, start=1)
        ],
        schema={
            "supplierinfo_id": pl.Int64,
            "vendor_id": pl.Int64,
            "vendor": pl.Utf8,
            "vendor_code": pl.Utf8,
            "sku": pl.Utf8,
            "product_id": pl.Int64,
            "min_qty": pl.Float64,
            "delay_days": pl.Int64,
            "sequence": pl.Int64,
        },
    )


def vendor_rule(feed: dict, **settings: object) -> Vendor:
    """A vendor `acme` of `PARTNER` reading `feed`."""
    return Vendor.model_validate(
        {"code": "acme", "odoo_partner": PARTNER, "feed": feed, **settings}
    )


def now() -> datetime:
    """The time a test judges freshness at."""
    return datetime.now(UTC)


@pytest.fixture
def supplierinfo() -> pl.DataFrame:
    """The vendor's supplierinfo: codes AC-001..AC-020 for SKU-001..SKU-020."""
    return supplierinfo_frame()


@pytest.fixture
def vendors() -> Iterator[VendorFeedSandbox]:
    """The vendor feed emulator serving `acme` (ROWS)."""
    with VendorFeedSandbox() as sandbox:
        sandbox.state.add_feed("acme", ROWS)
        yield sandbox


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite ledger (the PostgreSQL half is in test_feed_ledger.py)."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> TableStore:
    """A data plane in a local folder."""
    return TableStore(tmp_path / "tables")
