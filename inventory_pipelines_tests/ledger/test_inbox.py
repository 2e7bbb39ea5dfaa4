"""The order inbox stores each event once, whatever route and however often it arrives."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import create_engine, dlq, inbox
from inventory_pipelines.ledger.audit import SecretInPayloadError, utcnow
from inventory_pipelines.ledger.inbox import InboxError, InboxEvent


def event(
    external_id: str = "1001",
    name: str = "created",
    route: str = "webhook",
    channel: str = "shopify",
    pending: dict[str, int] | None = None,
    delivery: str | None = None,
) -> InboxEvent:
    kind = "returned" if name.startswith("refund") else name
    return InboxEvent(
        channel=channel,
        external_id=external_id,
        event=name,
        kind=kind,
        route=route,
        payload={"id": external_id, "lines": [{"sku": "SKU-000001", "quantity": 2}]},
        delivery_id=delivery,
        pending=pending
        if pending is not None
        else ({"SKU-000001": 2} if kind == "created" else None),
    )


def test_a_second_delivery_by_either_route_is_counted_and_dropped(conn: sa.Connection) -> None:
    first = inbox.receive(conn, [event(route="webhook", delivery="d1")])
    again = inbox.receive(conn, [event(route="webhook", delivery="d2")])
    polled = inbox.receive(conn, [event(route="poll")])
    assert (first.stored, first.duplicates) == (1, 0)
    assert (again.stored, again.duplicates) == (0, 1)
    assert (polled.stored, polled.duplicates) == (0, 1)
    [row] = inbox.rows(conn)
    assert (row.route, row.duplicates, row.status) == ("webhook", 2, "new")
    assert inbox.counts(conn) == {"new": 1, "duplicates": 2}
    assert inbox.pending_by_sku(conn, None) == {"SKU-000001": 2}  # written once


def test_events_of_one_order_are_distinct_and_twice_in_one_call_is_one(
    conn: sa.Connection,
) -> None:
    got = inbox.receive(
        conn,
        [event(), event(name="cancelled"), event(name="refund:77"), event(name="cancelled")],
    )
    assert (got.stored, got.duplicates) == (3, 1)
    assert sorted(r.event for r in inbox.rows(conn)) == ["cancelled", "created", "refund:77"]


def test_bad_events_are_refused_and_store_nothing(conn: sa.Connection) -> None:
    with pytest.raises(InboxError, match="unknown kind"):
        inbox.receive(conn, [InboxEvent("shopify", "1", "x", "shipped", "poll", {})])
    with pytest.raises(InboxError, match="unknown route"):
        inbox.receive(conn, [InboxEvent("shopify", "1", "created", "created", "email", {})])
    with pytest.raises(InboxError, match="needs channel"):
        inbox.receive(conn, [InboxEvent("shopify", "", "created", "created", "poll", {})])
    with pytest.raises(SecretInPayloadError):
        inbox.receive(
            conn, [InboxEvent("shopify", "1", "created", "created", "poll", {"api_key": "x"})]
        )
    assert inbox.rows(conn) == []


def test_concurrent_deliveries_store_each_event_exactly_once(
    ledger_url: str, engine: Engine
) -> None:
    """Six deliveries of 40 orders from six threads at once, by both routes."""
    orders = [str(5000 + n) for n in range(40)]
    start = threading.Barrier(6)
    errors: list[BaseException] = []
    totals: list[inbox.Received] = []

    def deliver(worker: int) -> None:
        engine = create_engine(ledger_url)
        try:
            start.wait()
            for external_id in orders if worker % 2 else reversed(orders):
                route = "webhook" if worker < 4 else "poll"
                with engine.connect() as conn:
                    totals.append(inbox.receive(conn, [event(external_id, route=route)]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(t.stored for t in totals) == 40
    assert sum(t.duplicates for t in totals) == 200
    with engine.connect() as conn:  # the fixture's engine migrated the ledger
        rows = inbox.rows(conn)
        assert sorted(r.external_id for r in rows) == orders
        assert all(r.duplicates == 5 for r in rows)
        assert inbox.pending_by_sku(conn, None) == {"SKU-000001": 80}


def test_claims_never_overlap_and_an_expired_lease_is_taken_over(engine: Engine) -> None:
    with engine.connect() as conn:
        inbox.receive(conn, [event(str(n)) for n in range(10)])
        first = inbox.claim(conn, "w1", limit=6)
        second = inbox.claim(conn, "w2", limit=6)
        assert len(first) == 6 and len(second) == 4
        assert not {r.id for r in first} & {r.id for r in second}
        assert inbox.claim(conn, "w3") == []
        # w1 died: after its lease anyone may take its rows over, counting one more attempt
        taken = inbox.claim(conn, "w3", lease=dt.timedelta(0))
        assert {r.id for r in taken} == {r.id for r in first} | {r.id for r in second}
        assert {r.attempts for r in taken} == {2}
        # the late worker's completion is refused: the row is w3's now
        assert not inbox.complete(conn, first[0].id, {"sale_order_id": 1}, worker="w1")
        assert inbox.complete(conn, first[0].id, {"sale_order_id": 1}, worker="w3")
        assert inbox.get(conn, first[0].id).status == "done"


def test_an_order_is_claimed_before_its_cancellation(conn: sa.Connection) -> None:
    inbox.receive(conn, [event("7", name="cancelled")])
    inbox.receive(conn, [event("7")])
    assert [r.event for r in inbox.claim(conn, "w")] == ["created", "cancelled"]


def test_release_gives_a_row_back_and_park_dead_letters_it(conn: sa.Connection) -> None:
    inbox.receive(conn, [event("1"), event("2")])
    one, two = inbox.claim(conn, "w")
    assert inbox.release(conn, one.id, "odoo unavailable", worker="w")
    assert inbox.get(conn, one.id).status == "new"
    letter = inbox.park(conn, two.id, "unknown SKU SKU-999999", worker="w")
    assert letter is not None
    assert inbox.get(conn, two.id).status == "parked"
    [dead] = dlq.list_open(conn, "shopify")
    assert dead.kind == "order" and dead.error == "unknown SKU SKU-999999"
    assert dead.payload["external_id"] == "2"
    # the parked order's units are no longer pending; the released one's still are
    assert inbox.pending_by_sku(conn, None) == {"SKU-000001": 2}


def test_pending_units_count_until_a_snapshot_holds_the_reservation(conn: sa.Connection) -> None:
    inbox.receive(conn, [event("1", pending={"A": 3, "B": 1}), event("2", pending={"A": 2})])
    before = utcnow()
    assert inbox.pending_by_sku(conn, before) == {"A": 5, "B": 1}
    assert inbox.mark_reserved(conn, "shopify", "1") == 2
    reserved_at = utcnow()
    # a snapshot older than the reservation does not hold it: still pending
    assert inbox.pending_by_sku(conn, before) == {"A": 5, "B": 1}
    # a snapshot taken after it does: Odoo's `reserved` counts it, pending must not
    assert inbox.pending_by_sku(conn, reserved_at + dt.timedelta(seconds=1)) == {"A": 2}
    assert inbox.release_pending(conn, "shopify", "2") == 1
    assert inbox.pending_by_sku(conn, reserved_at + dt.timedelta(seconds=1)) == {}
    # a reserved order is not released by a later cancellation: Odoo releases it
    assert inbox.release_pending(conn, "shopify", "1") == 0


def test_the_mapping_records_what_each_order_became(conn: sa.Connection) -> None:
    inbox.record_mapping(conn, "shopify", "1", "shopify:1", None, None)
    inbox.record_mapping(conn, "shopify", "1", "shopify:1", 42, "sale")
    mapped = inbox.mapping(conn, "shopify", "1")
    assert mapped is not None and (mapped.odoo_order_id, mapped.odoo_state) == (42, "sale")
    assert inbox.mapping(conn, "shopify", "2") is None
    with pytest.raises(sa.exc.IntegrityError):
        inbox.record_mapping(conn, "woocommerce", "9", "shopify:1", 43, "sale")


def test_a_polling_cursor_is_kept_per_channel(conn: sa.Connection) -> None:
    assert inbox.get_cursor(conn, "shopify") is None
    inbox.set_cursor(conn, "shopify", "2026-11-27T10:00:00Z")
    inbox.set_cursor(conn, "shopify", "2026-11-27T11:00:00Z")
    inbox.set_cursor(conn, "amazon", "2026-11-01T00:00:00Z")
    assert inbox.get_cursor(conn, "shopify") == "2026-11-27T11:00:00Z"
    assert inbox.get_cursor(conn, "amazon") == "2026-11-01T00:00:00Z"


def test_pending_units_beyond_the_integer_column_are_refused_not_overflowed(
    conn: sa.Connection,
) -> None:
    with pytest.raises(InboxError, match="pending units"):
        inbox.receive(conn, [event("1", pending={"SKU-000001": 2**63})])
    assert inbox.rows(conn) == []
    assert inbox.problems(event("1", pending={"SKU-000001": inbox.MAX_UNITS})) == []


def test_an_event_parked_before_the_inbox_gets_one_letter_however_often_it_comes(
    conn: sa.Connection,
) -> None:
    bad = InboxEvent(
        "woocommerce",
        "1002",
        "created",
        "created",
        "poll",
        {"external_id": "1002", "lines": [{"sku": "SKU-000001", "quantity": 2**63}]},
    )
    first = inbox.park_event(conn, bad, "quantity 9223372036854775808 is above 2147483647")
    again = inbox.park_event(conn, dataclasses.replace(bad, route="webhook", delivery_id="d9"), "x")
    assert first.new and not again.new and again.dead_letter_id == first.dead_letter_id
    letter = dlq.get(conn, first.dead_letter_id)
    assert (letter.kind, letter.status, letter.correlation_id) == (
        "order",
        "open",
        "woocommerce:1002",
    )
    assert letter.payload["inbox_id"] is None
    assert letter.payload["order"]["lines"][0]["quantity"] == 2**63
    # still one letter once it is settled: a re-poll of the same event is a duplicate
    dlq.discard(conn, letter.id, actor="ops", reason="test order")
    assert not inbox.park_event(conn, bad, "x").new
    # the order edited on the channel, still bad: a new event, a new letter
    edited = dataclasses.replace(
        bad, payload={**bad.payload, "lines": [{"sku": "SKU-000001", "quantity": 2**62}]}
    )
    assert inbox.park_event(conn, edited, "x").new
    assert inbox.rows(conn) == [] and inbox.pending_by_sku(conn, None) == {}
    beyond = dataclasses.replace(bad, payload={"lines": [{"quantity": 2**70}]})
    parked = inbox.park_event(conn, beyond, "x")  # beyond 64 bits: kept as text
    assert dlq.get(conn, parked.dead_letter_id).payload["order"]["lines"][0]["quantity"] == str(
        2**70
    )


def test_a_parked_row_is_replayed_back_to_new_with_its_pending_units(
    conn: sa.Connection,
) -> None:
    inbox.receive(conn, [event("1")])
    [row] = inbox.claim(conn, "w")
    letter_id = inbox.park(conn, row.id, "unknown SKU SKU-000001", worker="w")
    assert letter_id is not None and inbox.pending_by_sku(conn, None) == {}
    assert inbox.replay_parked(conn, letter_id, actor="ops") == row.id
    replayed = inbox.get(conn, row.id)
    assert (replayed.status, replayed.attempts, replayed.error) == ("new", 0, None)
    assert inbox.pending_by_sku(conn, None) == {"SKU-000001": 2}
    assert dlq.get(conn, letter_id).status == "replayed"
    [entry] = dlq.history(conn, letter_id)
    assert (entry.actor, entry.action) == ("ops", "dead_letter.replayed")
    with pytest.raises(dlq.DeadLetterError, match="not open"):
        inbox.replay_parked(conn, letter_id, actor="ops")


def test_a_letter_without_inbox_row_or_whose_row_moved_on_says_why_it_cannot_replay(
    conn: sa.Connection,
) -> None:
    unstored = inbox.park_event(
        conn, InboxEvent("shopify", "7", "created", "created", "webhook", {"lines": []}), "bad"
    )
    with pytest.raises(dlq.DeadLetterError, match="never reached the inbox"):
        inbox.replay_parked(conn, unstored.dead_letter_id, actor="ops")
    inbox.receive(conn, [event("8")])
    [row] = inbox.claim(conn, "w")
    letter_id = inbox.park(conn, row.id, "no customer", worker="w")
    assert letter_id is not None
    conn.execute(sa.text("UPDATE order_inbox SET status = 'done' WHERE id = :id"), {"id": row.id})
    conn.commit()
    with pytest.raises(dlq.DeadLetterError, match="is done, not parked"):
        inbox.replay_parked(conn, letter_id, actor="ops")
    assert dlq.get(conn, letter_id).status == "open"
    view = dlq.describe(conn, dlq.get(conn, letter_id))
    assert view["replayable"] is False and "done, not parked" in view["not_replayable"]
