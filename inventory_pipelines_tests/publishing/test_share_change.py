"""After the fence shares change, no channel's increase goes out before every fenced channel
has published its whole catalog under the new shares (or is in the same round)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from inventory_pipelines.channels.generic import GenericChannelConnector
from inventory_pipelines.ledger import fences, outbox
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines_tests.publishing.conftest import shown

OLD = json.dumps({"b2b": {"percent": 50}, "pos": {"percent": 50}})
NEW = json.dumps({"b2b": {"percent": 30}, "pos": {"percent": 70}})


@pytest.fixture
def other() -> Iterator[GenericChannelSandbox]:
    with GenericChannelSandbox(listings=30, seed=5, port=0, max_batch=20) as sandbox:
        yield sandbox


@pytest.fixture
def other_connector(other: GenericChannelSandbox) -> Iterator[GenericChannelConnector]:
    with GenericChannelConnector(
        other.url, other.secret, max_batch=20, sleep=lambda s: None
    ) as conn:
        yield conn


def _epoch(ledger, signature: str) -> fences.Epoch:
    with ledger.connect() as conn:
        fences.current_epoch(conn, signature)
        epoch = fences.latest_epoch(conn)
    assert epoch is not None
    return epoch


def _as_shown(portal) -> dict[str, tuple[str, int]]:
    """A target per listing with a SKU: what the portal shows."""
    return {x.listing_id: (x.sku, x.quantity) for x in portal.state.listings.values() if x.sku}


def _raise_one_lower_one(portal) -> tuple[dict[str, tuple[str, int]], str, str]:
    """Targets equal to what the portal shows but one listing up and one down."""
    listings = [x for x in portal.state.listings.values() if x.sku and x.quantity >= 5]
    up, down = listings[0], listings[1]
    targets = _as_shown(portal)
    targets[up.listing_id] = (up.sku, up.quantity + 4)
    targets[down.listing_id] = (down.sku, down.quantity - 3)
    return targets, up.listing_id, down.listing_id


def _whole(portal, name, connector, epoch: fences.Epoch | None, whole: bool = True):
    targets = _as_shown(portal)
    return ChannelPlan(
        name,
        connector,
        targets,
        shown(portal),
        whole=whole,
        fence_epoch=None if epoch is None else epoch.started_at,
    )


def test_a_channel_alone_sends_its_decreases_but_holds_its_increases_after_a_share_change(
    ledger, portal, connector
):
    _epoch(ledger, OLD)
    _epoch(ledger, NEW)
    targets, up, down = _raise_one_lower_one(portal)
    before = shown(portal)
    summary = publish_round(
        ledger, [ChannelPlan("pos", connector, dict(targets), before)], "alone"
    )["pos"]
    after = shown(portal)
    assert after[down] == targets[down][1]  # the decrease went out
    assert after[up] == before[up]  # b2b may still offer its old half: no increase
    assert summary.increases_held == 1 and summary.held_for == ["b2b"]
    assert summary.pending_left == 0
    with ledger.connect() as conn:
        assert {r.listing_id for r in outbox.rows_of_round(conn, "alone")} == {down}
        assert fences.unsettled(conn, fences.latest_epoch(conn)) == ["b2b", "pos"]


def test_a_whole_catalog_under_the_new_shares_settles_a_channel_and_frees_the_increases(
    ledger, portal, connector, other, other_connector
):
    _epoch(ledger, OLD)
    epoch = _epoch(ledger, NEW)
    # a run over a SKU subset, and a whole catalog allocated under the old shares: neither
    # says b2b shows no more than its new share
    partial = _whole(other, "b2b", other_connector, epoch, whole=False)
    publish_round(ledger, [partial], "b2b-partial")
    stale = _whole(other, "b2b", other_connector, _epoch_before(epoch))
    publish_round(ledger, [stale], "b2b-old-shares")
    with ledger.connect() as conn:
        assert fences.unsettled(conn, epoch) == ["b2b", "pos"]
    publish_round(ledger, [_whole(other, "b2b", other_connector, epoch)], "b2b-whole")
    with ledger.connect() as conn:
        assert fences.unsettled(conn, epoch) == ["pos"]
    targets, up, _ = _raise_one_lower_one(portal)
    summary = publish_round(
        ledger, [ChannelPlan("pos", connector, dict(targets), shown(portal))], "pos-alone"
    )["pos"]
    assert summary.increases_held == 0 and summary.held_for == []
    assert shown(portal)[up] == targets[up][1]


def _epoch_before(epoch: fences.Epoch) -> fences.Epoch:
    return dataclasses.replace(
        epoch, id=epoch.id - 1, started_at=epoch.started_at - timedelta(minutes=5), replaced=False
    )


def test_a_channel_with_a_decrease_still_waiting_is_not_settled(
    ledger, portal, connector, other, other_connector
):
    _epoch(ledger, OLD)
    epoch = _epoch(ledger, NEW)
    plan = _whole(other, "b2b", other_connector, epoch)
    listing = next(x for x in other.state.listings.values() if x.sku and x.quantity >= 2)
    plan.targets[listing.listing_id] = (listing.sku, listing.quantity - 2)
    other.faults.set_outage(True)  # the decrease cannot be sent: it waits in the outbox
    publish_round(ledger, [plan], "b2b-down", sleep=lambda s: None, max_passes=2)
    with ledger.connect() as conn:
        assert outbox.count_waiting(conn, "b2b", increases=False) == 1
        assert "b2b" in fences.unsettled(conn, epoch)


def test_a_round_of_every_fenced_channel_holds_nothing(
    ledger, portal, connector, other, other_connector
):
    # the round itself sends every channel's decreases before any increase
    _epoch(ledger, OLD)
    _epoch(ledger, NEW)
    targets, up, _ = _raise_one_lower_one(portal)
    plans = [
        ChannelPlan("pos", connector, dict(targets), shown(portal)),
        _whole(other, "b2b", other_connector, None, whole=False),
    ]
    summaries = publish_round(ledger, plans, "both")
    assert summaries["pos"].increases_held == 0
    assert shown(portal)[up] == targets[up][1]


def test_the_first_shares_hold_nothing(ledger, portal, connector):
    # nothing was published under other shares before the first epoch
    _epoch(ledger, NEW)
    targets, up, _ = _raise_one_lower_one(portal)
    summary = publish_round(
        ledger, [ChannelPlan("pos", connector, dict(targets), shown(portal))], "first"
    )["pos"]
    assert summary.increases_held == 0
    assert shown(portal)[up] == targets[up][1]
