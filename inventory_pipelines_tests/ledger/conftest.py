"""Run every ledger test on SQLite and on a real PostgreSQL.

`ledger_url` (from inventory_pipelines_tests/pg.py) is an empty database, once on each; the
fixtures here migrate it. Each PostgreSQL test gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import create_engine, migrate


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """An engine on a ledger migrated to head."""
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    yield engine
    engine.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[sa.Connection]:
    """A connection on the migrated ledger (not in a transaction)."""
    with engine.connect() as connection:
        yield connection
