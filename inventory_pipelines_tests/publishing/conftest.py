"""A ledger (on SQLite and on PostgreSQL) and the generic channel sandbox for publishing tests."""

from __future__ import annotations

import random

import pytest

from inventory_pipelines.channels.generic import GenericChannelConnector
from inventory_pipelines.ledger import create_engine
from inventory_pipelines.sandbox.generic import GenericChannelSandbox


@pytest.fixture
def ledger(migrated_ledger_url):
    """An engine on a migrated ledger: every publishing test runs on SQLite and on PostgreSQL."""
    engine = create_engine(migrated_ledger_url)
    yield engine
    engine.dispose()


@pytest.fixture
def portal():
    with GenericChannelSandbox(listings=60, seed=3, port=0, max_batch=20) as sandbox:
        yield sandbox


@pytest.fixture
def connector(portal):
    with GenericChannelConnector(
        portal.url, portal.secret, max_batch=20, sleep=lambda s: None
    ) as conn:
        yield conn


def targets_for(portal, seed: int = 1) -> dict[str, tuple[str, int]]:
    """A target quantity for every listing with a SKU: some lower, some higher, some equal."""
    rng = random.Random(seed)
    out = {}
    for listing in portal.state.listings.values():
        if listing.sku is None:
            continue
        out[listing.listing_id] = (
            listing.sku,
            max(0, listing.quantity + rng.choice([-5, 0, 7, -300])),
        )
    return out


def shown(portal) -> dict[str, int]:
    return {x.listing_id: x.quantity for x in portal.state.listings.values()}
