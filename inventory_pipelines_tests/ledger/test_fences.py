"""The ledger's side of the fences: epochs, sales since, drops no order explains yet."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from inventory_pipelines.ledger import audit, fences, inbox
from inventory_pipelines.ledger.audit import utcnow
from inventory_pipelines_tests.ledger.test_inbox import event


def test_an_epoch_lasts_until_the_shares_change_and_each_rebase_is_audited(
    conn: sa.Connection,
) -> None:
    first = fences.current_epoch(conn, '{"a": 50}')
    assert fences.current_epoch(conn, '{"a": 50}') == first
    second = fences.current_epoch(conn, '{"a": 60}', now=first + dt.timedelta(seconds=5))
    assert second > first
    assert fences.current_epoch(conn, '{"a": 60}') == second
    rebased = audit.history(conn, action="fences.rebased")
    assert [e.after["signature"] for e in rebased] == ['{"a": 50}', '{"a": 60}']


def test_sales_since_count_each_channels_accepted_units_and_not_released_ones(
    conn: sa.Connection,
) -> None:
    epoch = fences.current_epoch(conn, "{}")
    inbox.receive(
        conn,
        [
            event("1", pending={"A": 3}),
            event("2", pending={"A": 1, "B": 2}),
            event("3", channel="pos", pending={"A": 4}),
        ],
    )
    inbox.release_pending(conn, "shopify", "2")  # cancelled before Odoo reserved it
    assert fences.sales_since(conn, epoch) == {("shopify", "A", None): 3, ("pos", "A", None): 4}


def test_sales_say_where_odoo_reserved_them_once_the_snapshot_holds_the_reservation(
    conn: sa.Connection,
) -> None:
    # the fence base of a channel adds back only the sales that took from its own pool: those
    # still pending (counted against every pool) and those reserved in its own warehouses
    epoch = fences.current_epoch(conn, "{}")
    inbox.receive(
        conn,
        [event("1", pending={"A": 3}), event("2", pending={"A": 2}), event("3", pending={"A": 1})],
    )
    before = utcnow()
    inbox.mark_reserved(conn, "shopify", "1", warehouse="WEST")
    inbox.mark_reserved(conn, "shopify", "2")  # an order found in Odoo, its warehouse unknown
    after = utcnow()
    # a snapshot taken before the reservations: every unit is pending
    assert fences.sales_since(conn, epoch, before) == {("shopify", "A", None): 6}
    assert fences.sales_since(conn, epoch, after) == {
        ("shopify", "A", "WEST"): 3,
        ("shopify", "A", None): 3,
    }
    _, sold, _ = fences.allocation_inputs(conn, "{}", after)
    assert sold == {("shopify", "A", "WEST"): 3, ("shopify", "A", None): 3}


def test_a_drop_counts_until_orders_explain_it_and_a_read_back_then_poll_settles_it(
    conn: sa.Connection,
) -> None:
    epoch = fences.current_epoch(conn, "{}")
    fences.record_drops(conn, [{"channel": "shopify", "sku": "A", "listing_id": "L1", "units": 3}])
    assert fences.unexplained_drops(conn, epoch) == {("shopify", "A"): 3}
    inbox.receive(conn, [event("1", pending={"A": 1})])  # one of the three is heard of
    assert fences.unexplained_drops(conn, epoch) == {("shopify", "A"): 2}
    pending, sold, _ = fences.allocation_inputs(conn, "{}", None)
    assert pending == {"A": 3} and sold == {("shopify", "A", None): 3}  # 1 heard + 2 not yet

    # a poll without a read-back before it explains nothing
    assert not fences.explain_drops_after_poll(conn, "shopify", utcnow())
    fences.note_read_back(conn, "shopify", utcnow())
    polled = utcnow()
    assert fences.explain_drops_after_poll(conn, "shopify", polled)
    assert fences.unexplained_drops(conn, epoch) == {}
    assert not fences.explain_drops_after_poll(conn, "shopify", utcnow())  # once per read-back

    # a drop seen after the reset counts again
    fences.record_drops(conn, [{"channel": "shopify", "sku": "A", "listing_id": "L1", "units": 2}])
    assert fences.unexplained_drops(conn, epoch) == {("shopify", "A"): 2}


def test_after_a_poll_only_the_sales_heard_once_it_ended_explain_a_drop(
    conn: sa.Connection,
) -> None:
    """The read-back showed the listing after a sale the poll then brought in (heard during
    the poll): that sale is in what the read-back showed, so a later drop (an unheard sale)
    is not explained by it, and the stale target comes down by that drop."""
    epoch = fences.current_epoch(conn, "{}", now=utcnow() - dt.timedelta(minutes=1))
    fences.note_read_back(conn, "shopify", utcnow())
    polled = utcnow()
    inbox.receive(conn, [event("1", pending={"A": 1})])  # the poll's order, made before it
    assert fences.explain_drops_after_poll(conn, "shopify", polled)
    read_at = utcnow()
    drop = {"channel": "shopify", "sku": "A", "listing_id": "L1", "units": 1}
    assert fences.unheard_rise(conn, "shopify", {"A": 1}, read_at) == {"A": 1}
    fences.record_drops(conn, [drop])
    assert fences.unexplained_drops(conn, epoch) == {("shopify", "A"): 1}
    inbox.receive(conn, [event("2", pending={"A": 1})])  # heard after the poll: it explains
    assert fences.unexplained_drops(conn, epoch) == {}


def test_only_a_change_of_shares_leaves_channels_unsettled_until_marked(
    conn: sa.Connection,
) -> None:
    assert fences.latest_epoch(conn) is None and fences.unsettled(conn, None) == []
    fences.current_epoch(conn, '{"a": 50, "b": 40}')
    first = fences.latest_epoch(conn)
    assert first is not None and not first.replaced
    assert (
        fences.unsettled(conn, first) == []
    )  # the first shares: nothing was published under others
    fences.current_epoch(conn, '{"a": 60, "b": 30}')
    changed = fences.latest_epoch(conn)
    assert changed is not None and changed.replaced and changed.channels == {"a", "b"}
    assert fences.unsettled(conn, changed) == ["a", "b"]
    fences.mark_settled(conn, "b", changed)
    assert fences.unsettled(conn, changed) == ["a"]
    fences.current_epoch(conn, '{"a": 50, "b": 40}')  # changed back: settled anew
    assert fences.unsettled(conn, fences.latest_epoch(conn)) == ["a", "b"]
    fences.current_epoch(conn, "not a signature of ours")
    assert fences.unsettled(conn, fences.latest_epoch(conn)) == []
