"""Publishing through the ledger against a real channel emulator (the generic signed channel)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest

from inventory_pipelines.ledger import audit, circuits, dlq, outbox
from inventory_pipelines.ledger.schema import channel_circuits
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines_tests.pg import url_of
from inventory_pipelines_tests.publishing.conftest import shown, targets_for


def channel_quantities(portal, targets) -> dict[str, int]:
    return {listing: portal.state.listings[listing].quantity for listing in targets}


def test_a_round_reaches_the_targets_sending_only_what_differs(ledger, portal, connector):
    targets = targets_for(portal)
    before = shown(portal)
    plan = ChannelPlan("pos", connector, dict(targets), shown=before)
    summary = publish_round(ledger, [plan], "round-1", sleep=lambda s: None)["pos"]
    assert channel_quantities(portal, targets) == {k: q for k, (_, q) in targets.items()}
    differing = sum(1 for k, (_, q) in targets.items() if before[k] != q)
    assert summary.sent == differing and summary.unchanged == len(targets) - differing
    assert summary.acknowledged == differing and summary.pending_left == 0


def test_a_second_publish_with_no_stock_change_makes_zero_channel_calls(ledger, portal, connector):
    targets = targets_for(portal)
    publish_round(ledger, [ChannelPlan("pos", connector, dict(targets), shown(portal))], "r1")
    portal.reset_request_count()
    summary = publish_round(ledger, [ChannelPlan("pos", connector, dict(targets))], "r2")["pos"]
    assert summary.sent == 0 and summary.api_calls == 0
    assert portal.request_count == 0


def test_zero_outs_and_decreases_are_acknowledged_before_any_increase(ledger, portal, connector):
    targets = targets_for(portal)
    publish_round(ledger, [ChannelPlan("pos", connector, dict(targets), shown(portal))], "r1")
    with ledger.connect() as conn:
        rows = [r for r in outbox.rows_of_round(conn, "r1") if r.status == "acknowledged"]
    increases = [r.sent_at for r in rows if r.direction == "increase"]
    others = [r.acknowledged_at for r in rows if r.direction != "increase"]
    assert increases and others
    assert max(others) <= min(increases)


def test_a_stale_compare_is_re_planned_not_overwritten(ledger, portal, connector):
    targets = targets_for(portal)
    publish_round(ledger, [ChannelPlan("pos", connector, dict(targets), shown(portal))], "r1")
    listing, (sku, quantity) = next((k, v) for k, v in targets.items() if v[1] >= 10)
    portal.state.sell(listing, 3)  # a sale at the till the ledger does not know about
    new_targets = dict(targets)
    new_targets[listing] = (sku, quantity + 5)
    summary = publish_round(ledger, [ChannelPlan("pos", connector, new_targets)], "r2")["pos"]
    assert summary.stale == 1 and summary.replanned == 1
    # the 3 sold units stay sold: the target is lowered by them, not overwritten
    assert portal.state.listings[listing].quantity == quantity + 5 - 3


def _cool_down_passes(ledger, channel: str) -> None:
    """The circuit's cool-down ends (as if its retry time had come)."""
    with ledger.begin() as conn:
        conn.execute(
            channel_circuits.update()
            .where(channel_circuits.c.channel == channel)
            .values(retry_at=datetime(2000, 1, 1, tzinfo=UTC))
        )


def test_updates_wait_through_an_outage_and_all_arrive_after_recovery(ledger, portal, connector):
    """A channel down: its circuit opens after three failed requests in a row, nothing is
    dead-lettered, and no run calls it again until the cool-down ends; then the first
    publisher's probe closes it and every waiting update arrives."""
    targets = targets_for(portal)
    portal.faults.set_outage(True)
    first = publish_round(
        ledger,
        [ChannelPlan("pos", connector, dict(targets), shown(portal))],
        "r1",
        sleep=lambda s: None,
    )["pos"]
    assert first.acknowledged == 0 and first.dead_lettered == 0 and first.pending_left > 0
    assert first.circuit is not None and first.circuit.state == "open"
    assert first.circuit.failures == circuits.FAILURES_TO_OPEN
    assert first.as_dict()["circuit_open"] == 1
    with ledger.connect() as conn:
        assert dlq.list_open(conn, "pos") == []
        assert circuits.get(conn, "pos").state == "open"

    portal.faults.set_outage(False)
    portal.reset_request_count()
    during = publish_round(ledger, [ChannelPlan("pos", connector, dict(targets))], "r2")["pos"]
    assert portal.request_count == 0  # the cool-down: nobody calls it
    assert during.sent == 0 and during.pending_left > 0 and during.circuit.state == "open"

    _cool_down_passes(ledger, "pos")
    second = publish_round(ledger, [ChannelPlan("pos", connector, dict(targets))], "r3")["pos"]
    assert second.pending_left == 0 and second.circuit is None
    assert channel_quantities(portal, targets) == {k: q for k, (_, q) in targets.items()}
    with ledger.connect() as conn:
        assert circuits.get(conn, "pos").clean
        actions = [e.action for e in audit.history(conn, entity="channel/pos")]
    assert actions.count("circuit.opened") == 1 and actions.count("circuit.closed") == 1


def test_a_probe_that_fails_opens_the_circuit_again_for_longer(ledger, portal, connector):
    targets = targets_for(portal)
    portal.faults.set_outage(True)
    plan = ChannelPlan("pos", connector, dict(targets), shown(portal))
    publish_round(ledger, [plan], "r1", sleep=lambda s: None)
    with ledger.connect() as conn:
        first = circuits.get(conn, "pos")
    _cool_down_passes(ledger, "pos")
    portal.reset_request_count()
    probe = publish_round(ledger, [ChannelPlan("pos", connector, dict(targets))], "r2",
                          sleep=lambda s: None)["pos"]  # fmt: skip
    assert 0 < portal.request_count <= connector.limits().concurrency * 4  # one batch's tries
    assert probe.circuit is not None and probe.circuit.state == "open"
    with ledger.connect() as conn:
        again = circuits.get(conn, "pos")
        assert dlq.list_open(conn, "pos") == []
    assert again.opened == 2
    assert again.retry_at - again.opened_at > first.retry_at - first.opened_at  # doubled


CRASHING_PUBLISHER = textwrap.dedent(
    """
    import json, os, sys
    from inventory_pipelines.channels.generic import GenericChannelConnector
    from inventory_pipelines.ledger import create_engine
    from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round

    url, secret, ledger_url, targets, shown = sys.argv[1:6]
    connector = GenericChannelConnector(url, secret, max_batch=20)
    real_publish = connector.publish
    def publish_then_die(updates, key):
        real_publish(updates, key)   # the channel applied it...
        os._exit(9)                  # ...and the process dies before the ledger hears of it
    connector.publish = publish_then_die
    targets = {k: tuple(v) for k, v in json.loads(targets).items()}
    plan = ChannelPlan("pos", connector, targets, shown=json.loads(shown))
    publish_round(create_engine(ledger_url), [plan], "crash-round")
    """
)


def _crash(ledger, portal, targets) -> list:
    """Run a publisher that dies right after the channel applied its first batch."""
    import json

    proc = subprocess.run(
        [
            sys.executable, "-c", CRASHING_PUBLISHER, portal.url, portal.secret,
            url_of(ledger), json.dumps(targets), json.dumps(shown(portal)),
        ],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 9, proc.stderr
    with ledger.connect() as conn:
        in_flight = [r for r in outbox.rows_of_round(conn, "crash-round") if r.status == "sent"]
    assert in_flight, "the crash left a sent, unacknowledged batch"
    return in_flight


def test_a_crash_between_send_and_acknowledgement_loses_and_duplicates_nothing(
    ledger, portal, connector
):
    targets = targets_for(portal)
    in_flight = _crash(ledger, portal, targets)
    # the next round plans every listing again against what the channel shows: the batch the
    # crash left in flight is superseded, not resent after the newer plan
    read_back = ChannelPlan("pos", connector, dict(targets), shown(portal), datetime.now(UTC))
    summary = publish_round(ledger, [read_back], "resume")["pos"]
    assert summary.pending_left == 0
    assert channel_quantities(portal, targets) == {k: q for k, (_, q) in targets.items()}
    with ledger.connect() as conn:
        rows = {r.id: r.status for r in outbox.rows_of_round(conn, "crash-round")}
        resumed = outbox.rows_of_round(conn, "resume")
    assert {rows[r.id] for r in in_flight} == {"superseded"}
    assert set(rows.values()) <= {"acknowledged", "superseded"}
    # what the crashed batch had applied is shown already: only the rest is sent again
    assert {r.listing_id for r in resumed}.isdisjoint({r.listing_id for r in in_flight})


def test_a_batch_left_in_flight_is_resent_under_its_key_when_no_newer_plan_covers_it(
    ledger, portal, connector
):
    targets = targets_for(portal)
    in_flight = _crash(ledger, portal, targets)
    untouched = {r.listing_id for r in in_flight}
    others = {k: v for k, v in targets.items() if k not in untouched}
    replays_before = portal.state.replays
    summary = publish_round(ledger, [ChannelPlan("pos", connector, others)], "fast-path")["pos"]
    # the resend used the same idempotency key: the channel replayed its first answer
    assert portal.state.replays == replays_before + 1
    assert summary.pending_left == 0
    assert channel_quantities(portal, targets) == {k: q for k, (_, q) in targets.items()}


def test_an_increase_left_in_flight_never_lands_after_a_newer_decrease(ledger, portal, connector):
    """A run died with "raise to high" in flight; the next round lowers the listing: the old
    increase is not resent after it (the channel ends at the newer, lower quantity)."""
    listing = next(x for x in portal.state.listings.values() if x.sku is not None)
    with ledger.connect() as conn:
        outbox.enqueue_round(
            conn,
            "pos",
            "died",
            [{"listing_id": listing.listing_id, "sku": listing.sku,
              "quantity": listing.quantity + 40, "expected": listing.quantity}],
        )  # fmt: skip
        (batch,) = outbox.pending_batches(conn, "pos", 20)
        outbox.mark_sent(conn, batch.batch_key)  # sent; the process died before any answer
    low = {listing.listing_id: (listing.sku, 3)}
    publish_round(ledger, [ChannelPlan("pos", connector, low, shown(portal))], "newer")
    assert portal.state.listings[listing.listing_id].quantity == 3


def test_a_decreases_only_pass_holds_every_increase_for_the_next_round(ledger, portal, connector):
    targets = targets_for(portal)
    before = shown(portal)
    plan = ChannelPlan("pos", connector, dict(targets), shown=before)
    first = publish_round(ledger, [plan], "pass-1", increases=False)["pos"]
    assert first.pending_left == 0
    after_first = shown(portal)
    for listing, (_, target) in targets.items():
        if target > before[listing]:
            assert after_first[listing] == before[listing]  # no increase yet
        else:
            assert after_first[listing] == target
    publish_round(ledger, [ChannelPlan("pos", connector, dict(targets))], "pass-2")
    assert channel_quantities(portal, targets) == {k: q for k, (_, q) in targets.items()}


def test_a_pack_channels_stale_drop_and_its_sales_are_counted_in_base_units(
    ledger, portal, connector
):
    """A channel that counts packs of 6. A till sale of 3 packs that a stale compare reveals
    is 18 base units the allocation must hold (drops are weighed against the orders' pending
    units, base units); and a read-back 2 packs below our acknowledgement, with an order of 12
    base units since, is those sales, not a channel-side edit."""
    from inventory_pipelines.ledger import fences, inbox

    def order(external_id: str, sku: str, units: int) -> inbox.InboxEvent:
        return inbox.InboxEvent(
            "pos", external_id, "created", "created", "poll", {"lines": []}, pending={sku: units}
        )

    targets = targets_for(portal)
    publish_round(
        ledger,
        [ChannelPlan("pos", connector, dict(targets), shown(portal), units_per_item=6)],
        "r1",
    )
    listing, (sku, quantity) = next((k, v) for k, v in targets.items() if v[1] >= 10)
    portal.state.sell(listing, 3)
    raised = {**targets, listing: (sku, quantity + 5)}
    publish_round(ledger, [ChannelPlan("pos", connector, raised, units_per_item=6)], "r2")
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    with ledger.connect() as conn:
        assert fences.unexplained_drops(conn, epoch) == {("pos", sku): 18}
        inbox.receive(conn, [order("till-1", sku, 18)])  # the order of those 3 packs
        assert fences.unexplained_drops(conn, epoch) == {}

    other, (other_sku, _) = next((k, v) for k, v in targets.items() if v[1] >= 10 and v[0] != sku)
    portal.state.sell(other, 2)  # 2 packs of another SKU at the till, after our acknowledgement
    with ledger.connect() as conn:
        inbox.receive(conn, [order("till-2", other_sku, 12)])  # ... their order: 12 base units
    read_back = {other: portal.state.listings[other].quantity}
    plan = ChannelPlan(
        "pos", connector, raised, read_back, shown_at=datetime.now(UTC), units_per_item=6
    )
    summary = publish_round(ledger, [plan], "r3")["pos"]
    assert summary.channel_edits == 0


def test_a_fast_publish_after_a_crash_in_flight_takes_its_own_landed_update_for_no_sale(
    ledger, portal, connector
):
    """A run died after the channel applied its first batch (zero-outs) and before the ledger
    heard; the next publish plans from the ledger alone (a fast run, no read-back), so its
    compare-and-set finds the channel at our own unanswered quantity: that is no sale (no
    phantom drop for the allocation to hold), and every listing ends at its target."""
    from inventory_pipelines.ledger import fences

    before = shown(portal)
    known = {k: (sku, before[k]) for k, (sku, _) in targets_for(portal).items()}
    publish_round(ledger, [ChannelPlan("pos", connector, known, before)], "r0")
    targets = targets_for(portal)
    _crash(ledger, portal, targets)
    summary = publish_round(ledger, [ChannelPlan("pos", connector, dict(targets))], "fast")["pos"]
    assert summary.pending_left == 0
    assert channel_quantities(portal, targets) == {k: q for k, (_, q) in targets.items()}
    with ledger.connect() as conn:
        assert fences.unexplained_drops(conn, datetime(2000, 1, 1, tzinfo=UTC)) == {}


def test_a_stale_drop_comes_off_the_target_only_for_sales_the_target_did_not_count(
    ledger, portal, connector
):
    """Till sales of 3 units on each of two listings, after our acknowledgement. Listing A's
    3 were heard before the allocation read the ledger: its target already counts them, and
    the stale answer takes nothing more off it (taking the drop off again would hide 3 units
    the till still has). Listing B's: 1 heard before the read, 2 after: the target counts 1,
    and the stale answer takes the other 2 off. Planned without the read time, the whole drop
    comes off, as before."""
    from datetime import timedelta

    from inventory_pipelines.ledger import fences, inbox

    def heard(external_id: str, sku: str, units: int) -> None:
        event = inbox.InboxEvent(
            "pos", external_id, "created", "created", "webhook", {"lines": []}, pending={sku: units}
        )
        with ledger.connect() as conn:
            inbox.receive(conn, [event])

    with ledger.connect() as conn:
        fences.current_epoch(conn, "test", now=datetime.now(UTC) - timedelta(hours=1))
    targets = targets_for(portal)
    publish_round(ledger, [ChannelPlan("pos", connector, dict(targets), shown(portal))], "r1")
    rich = [(k, v) for k, v in targets.items() if v[1] >= 10]
    (a, (sku_a, qa)), (b, (sku_b, qb)), (c, (sku_c, qc)) = rich[:3]
    for listing in (a, b, c):
        portal.state.sell(listing, 3)
    heard("till-a", sku_a, 3)
    heard("till-b1", sku_b, 1)
    heard("till-c", sku_c, 3)
    read_at = datetime.now(UTC)
    heard("till-b2", sku_b, 2)  # heard after the allocation read the ledger
    raised = {
        a: (sku_a, qa + 5 - 3),
        b: (sku_b, qb + 5 - 1),
    }
    summary = publish_round(
        ledger, [ChannelPlan("pos", connector, raised, ledger_read_at=read_at)], "r2"
    )["pos"]
    assert summary.stale == 2
    assert portal.state.listings[a].quantity == qa + 5 - 3
    assert portal.state.listings[b].quantity == qb + 5 - 3
    # without the read time: the whole drop comes off a target that already counted it
    summary = publish_round(ledger, [ChannelPlan("pos", connector, {c: (sku_c, qc + 2)})], "r3")
    assert summary["pos"].stale == 1
    assert portal.state.listings[c].quantity == qc + 2 - 3


@pytest.mark.parametrize("compare_and_set", [True, False])
def test_a_listing_that_sold_since_our_acknowledgement_gets_an_unchanged_target_again(
    ledger, portal, connector, compare_and_set: bool
):
    """We set 12; the till sold 2 (heard); the allocation still says 12 (stock came in). The
    channel shows 10. Taking absolute quantities, it gets 12 again, though 12 equals our
    acknowledgement; a listing that did not sell is left alone. With compare-and-set it waits
    for its next change (see `publisher.enqueue`)."""
    from datetime import timedelta

    from inventory_pipelines.ledger import fences, inbox
    from inventory_pipelines.simulation.policies import NoCompareAndSet

    channel = connector if compare_and_set else NoCompareAndSet(connector)
    with ledger.connect() as conn:
        fences.current_epoch(conn, "test", now=datetime.now(UTC) - timedelta(hours=1))
    listings = [x for x in portal.state.listings.values() if x.sku is not None][:2]
    (sold, sku), (quiet, quiet_sku) = ((x.listing_id, x.sku) for x in listings)
    targets = {sold: (sku, 12), quiet: (quiet_sku, 7)}
    publish_round(ledger, [ChannelPlan("pos", channel, dict(targets), shown(portal))], "r1")
    portal.state.sell(sold, 2)
    event = inbox.InboxEvent(
        "pos", "till-1", "created", "created", "webhook", {"lines": []}, pending={sku: 2}
    )
    with ledger.connect() as conn:
        inbox.receive(conn, [event])
    plan = ChannelPlan("pos", channel, dict(targets), ledger_read_at=datetime.now(UTC))
    summary = publish_round(ledger, [plan], "r2")["pos"]
    assert portal.state.listings[sold].quantity == (10 if compare_and_set else 12)
    assert portal.state.listings[quiet].quantity == 7
    assert summary.unchanged == (2 if compare_and_set else 1) and summary.stale == 0
    # acknowledged again: the next round sends nothing
    again = publish_round(ledger, [ChannelPlan("pos", channel, dict(targets))], "r3")["pos"]
    assert again.sent == 0 and again.unchanged == 2
