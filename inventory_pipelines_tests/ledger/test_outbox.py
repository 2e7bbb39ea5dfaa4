"""The outbox: written before a send, batched in a safe order, keyed for idempotent resends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from inventory_pipelines.ledger import audit, outbox, state
from inventory_pipelines.ledger.db import begin_write, normalize_url
from inventory_pipelines.ledger.outbox import OutboxError
from inventory_pipelines.ledger.schema import outbox as outbox_table


def update(listing_id: str, quantity: int, **extra: object) -> dict[str, object]:
    return {"listing_id": listing_id, "sku": f"SKU-{listing_id}", "quantity": quantity, **extra}


def acknowledge(conn: Connection, channel: str, quantities: dict[str, int]) -> None:
    """Publish `quantities` through the outbox and acknowledge all of them."""
    outbox.enqueue_round(conn, channel, "seed", [update(k, v) for k, v in quantities.items()])
    for batch in outbox.pending_batches(conn, channel, 100, hold_increases=False):
        outbox.mark_sent(conn, batch.batch_key)
        outbox.record_results(
            conn,
            batch.batch_key,
            [(i.listing_id, "acknowledged", None, None, "req-seed") for i in batch.items],
        )


def test_enqueue_derives_direction_from_the_last_acknowledged_quantity(conn: Connection) -> None:
    acknowledge(conn, "shop", {"a": 10, "b": 10, "c": 10})
    outbox.enqueue_round(
        conn, "shop", "r1", [update("a", 0), update("b", 4), update("c", 12), update("d", 3)]
    )
    directions = {r.listing_id: r.direction for r in outbox.rows_of_round(conn, "r1")}
    assert directions == {"a": "zero", "b": "decrease", "c": "increase", "d": "increase"}


def test_expected_quantity_decides_the_direction_over_the_acknowledged_one(
    conn: Connection,
) -> None:
    acknowledge(conn, "shop", {"a": 3})
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 5, expected=8)])
    assert outbox.rows_of_round(conn, "r1")[0].direction == "decrease"


def test_enqueuing_a_round_twice_adds_nothing(conn: Connection) -> None:
    assert outbox.enqueue_round(conn, "shop", "r1", [update("a", 1), update("b", 2)]) == 2
    assert outbox.enqueue_round(conn, "shop", "r1", [update("a", 1), update("b", 2)]) == 0
    assert len(outbox.rows_of_round(conn, "r1")) == 2


def test_batches_go_zero_outs_then_decreases_then_increases(conn: Connection) -> None:
    acknowledge(conn, "shop", {f"l{i}": 10 for i in range(9)})
    updates = [update(f"l{i}", q) for i, q in enumerate([12, 5, 0, 15, 0, 3, 20, 0, 1])]
    outbox.enqueue_round(conn, "shop", "r1", updates)
    batches = outbox.pending_batches(conn, "shop", 100, hold_increases=False)
    assert [b.direction for b in batches] == ["zero", "decrease", "increase"]
    assert [i.listing_id for i in batches[0].items] == ["l2", "l4", "l7"]
    assert [i.listing_id for i in batches[1].items] == ["l1", "l5", "l8"]
    assert [i.listing_id for i in batches[2].items] == ["l0", "l3", "l6"]


def test_batches_hold_at_most_max_batch_and_never_mix_directions(conn: Connection) -> None:
    acknowledge(conn, "shop", {f"l{i}": 10 for i in range(7)})
    updates = [update(f"l{i}", 0 if i < 5 else 2) for i in range(7)]
    outbox.enqueue_round(conn, "shop", "r1", updates)
    batches = outbox.pending_batches(conn, "shop", 2)
    assert [(b.direction, len(b.items)) for b in batches] == [
        ("zero", 2),
        ("zero", 2),
        ("zero", 1),
        ("decrease", 2),
    ]
    assert len({b.batch_key for b in batches}) == 4


def test_increases_wait_until_the_rounds_decreases_are_acknowledged_on_every_channel(
    conn: Connection,
) -> None:
    acknowledge(conn, "shop", {"a": 10})
    acknowledge(conn, "woo", {"a": 10})
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 4)])
    outbox.enqueue_round(conn, "woo", "r1", [update("a", 14)])
    assert outbox.pending_batches(conn, "woo", 10) == []

    (decrease,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, decrease.batch_key)
    outbox.record_results(conn, decrease.batch_key, [("a", "acknowledged", 4, None, "r")])

    (increase,) = outbox.pending_batches(conn, "woo", 10)
    assert increase.direction == "increase"


def test_a_planned_batch_waits_whole_while_an_increase_of_it_is_held(conn: Connection) -> None:
    """Batch K (increases of a and b) was planned and sent, and its answer lost; then a
    decrease of a's SKU waits on another channel. K is resent whole under its key once the
    hold lifts, never as b alone under K's key."""
    acknowledge(conn, "shop", {"a": 10, "b": 10})
    acknowledge(conn, "woo", {"a": 1, "b": 1})
    outbox.enqueue_round(conn, "woo", "r1", [update("a", 5), update("b", 5)])
    (planned,) = outbox.pending_batches(conn, "woo", 10)
    outbox.mark_sent(conn, planned.batch_key)
    outbox.enqueue_round(conn, "shop", "r2", [update("a", 3)])
    assert outbox.pending_batches(conn, "woo", 10) == []

    (decrease,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, decrease.batch_key)
    outbox.record_results(conn, decrease.batch_key, [("a", "acknowledged", 3, None, "r")])
    (resent,) = outbox.pending_batches(conn, "woo", 10)
    assert (resent.batch_key, resent.items) == (planned.batch_key, planned.items)


def test_batch_key_survives_a_crash_after_sending(engine: Engine) -> None:
    with engine.connect() as conn:
        outbox.enqueue_round(conn, "shop", "r1", [update("a", 0), update("b", 0)])
        (planned,) = outbox.pending_batches(conn, "shop", 10)
        outbox.mark_sent(conn, planned.batch_key)
    # The process dies here, before the channel's answer is recorded.
    with engine.connect() as conn:
        (replanned,) = outbox.pending_batches(conn, "shop", 10)
    assert replanned.batch_key == planned.batch_key
    assert replanned.items == planned.items
    assert replanned.attempts == 1


def test_batch_key_is_the_same_when_the_crash_comes_before_sending(engine: Engine) -> None:
    with engine.connect() as conn:
        outbox.enqueue_round(conn, "shop", "r1", [update("a", 0)])
        first = outbox.pending_batches(conn, "shop", 10)
    with engine.connect() as conn:
        assert outbox.pending_batches(conn, "shop", 10) == first


def test_batch_keys_are_deterministic_from_the_rows(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0), update("b", 0)])
    rows = outbox.rows_of_round(conn, "r1")
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    assert batch.batch_key == outbox.batch_key("shop", "r1", "zero", reversed(rows))


def test_a_sent_batch_is_not_replanned_before_the_grace_period(conn: Connection) -> None:
    import datetime as dt

    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    grace = dt.timedelta(minutes=5)
    assert outbox.pending_batches(conn, "shop", 10, resend_sent_after=grace) == []


def test_record_results_acknowledges_and_updates_the_published_state(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0), update("b", 0)], correlation_id="c1")
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    counts = outbox.record_results(
        conn,
        batch.batch_key,
        [("a", "acknowledged", 0, None, "req-1"), ("b", "acknowledged", None, None, "req-2")],
    )
    assert counts["acknowledged"] == 2
    assert state.last_acknowledged(conn, "shop") == {"a": 0, "b": 0}
    assert state.get(conn, "shop", "a").request_id == "req-1"  # type: ignore[union-attr]
    assert {r.status for r in outbox.rows_of_round(conn, "r1")} == {"acknowledged"}
    assert len(audit.history(conn, correlation_id="c1")) == 2
    assert outbox.pending_batches(conn, "shop", 10) == []


def test_record_results_is_all_or_nothing(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0), update("b", 0)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    with pytest.raises(OutboxError, match="no listing 'zz'"):
        outbox.record_results(
            conn,
            batch.batch_key,
            [("a", "acknowledged", 0, None, "req-1"), ("zz", "acknowledged", 0, None, "req-2")],
        )
    assert state.last_acknowledged(conn, "shop") == {}
    assert audit.history(conn) == []
    assert {r.status for r in outbox.rows_of_round(conn, "r1")} == {"sent"}


def test_record_results_joins_the_callers_transaction(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    with conn.begin() as transaction:
        outbox.record_results(conn, batch.batch_key, [("a", "acknowledged", 0, None, "r")])
        transaction.rollback()
    assert state.last_acknowledged(conn, "shop") == {}
    assert outbox.rows_of_round(conn, "r1")[0].status == "sent"


def test_a_stale_compare_records_what_the_channel_shows(conn: Connection) -> None:
    acknowledge(conn, "shop", {"a": 10})
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 6, expected=10)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    counts = outbox.record_results(conn, batch.batch_key, [("a", "stale", 8, "shows 8", None)])
    assert counts["stale"] == 1
    assert outbox.rows_of_round(conn, "r1")[0].status == "stale"
    assert state.last_acknowledged(conn, "shop") == {"a": 8}


def test_failed_items_are_planned_again_under_a_new_key(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0), update("b", 0)])
    (first,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, first.batch_key)
    outbox.record_results(
        conn,
        first.batch_key,
        [("a", "acknowledged", 0, None, "r"), ("b", "failed", None, "timeout", None)],
    )
    (retry,) = outbox.pending_batches(conn, "shop", 10)
    assert [i.listing_id for i in retry.items] == ["b"]
    assert retry.batch_key != first.batch_key


def test_failed_items_planned_again_are_sent_under_their_new_key(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0), update("b", 0)])
    (first,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, first.batch_key)
    outbox.record_results(
        conn,
        first.batch_key,
        [("a", "stale", 3, "shows 3", None), ("b", "failed", None, "not applied", None)],
    )
    (retry,) = outbox.pending_batches(conn, "shop", 10)
    assert outbox.mark_sent(conn, retry.batch_key) == 1
    outbox.record_results(conn, retry.batch_key, [("b", "acknowledged", 0, None, "r")])
    assert outbox.counts_by_status(conn, "shop") == {"stale": 1, "acknowledged": 1}


def test_an_unanswered_item_counts_as_failed(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0), update("b", 0)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    counts = outbox.record_results(conn, batch.batch_key, [("a", "acknowledged", 0, None, "r")])
    assert counts["failed"] == 1
    assert outbox.counts_by_status(conn, "shop") == {"acknowledged": 1, "failed": 1}


def test_a_failed_request_is_retried_under_the_same_key(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    assert outbox.retry_or_dead_letter(conn, batch.batch_key, "503", max_attempts=3) == "pending"
    (again,) = outbox.pending_batches(conn, "shop", 10)
    assert again.batch_key == batch.batch_key


def test_a_newer_round_supersedes_unsent_rows(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 5)])
    outbox.enqueue_round(conn, "shop", "r2", [update("a", 7)])
    assert outbox.rows_of_round(conn, "r1")[0].status == "superseded"
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    assert [(i.listing_id, i.quantity) for i in batch.items] == [("a", 7)]


def test_re_enqueuing_an_older_round_does_not_supersede_a_newer_one(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 5)])
    outbox.enqueue_round(conn, "shop", "r2", [update("a", 7)])
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 5)])
    assert outbox.rows_of_round(conn, "r2")[0].status == "pending"


def test_a_round_planned_over_a_whole_catalog_supersedes_only_what_waits(
    conn: Connection,
) -> None:
    # a full round names every listing it left as the channel shows: over several chunks,
    # only the older rows that wait (or were left in flight) give way
    catalog = [f"l{i:04d}" for i in range(1_200) if i != 500]
    outbox.enqueue_round(conn, "shop", "r1", [update("l0007", 5), update("l1103", 4)])
    outbox.enqueue_round(conn, "woo", "r1", [update("l1103", 9)])
    (sent,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, sent.batch_key)
    outbox.enqueue_round(conn, "shop", "r0", [update("l0500", 2)])
    outbox.enqueue_round(conn, "shop", "r2", [update("l0500", 3)], planned=catalog)
    status = {(r.channel, r.round_id, r.listing_id): r.status for r in _all_rows(conn)}
    assert status == {
        ("shop", "r1", "l0007"): "superseded",
        ("shop", "r1", "l1103"): "superseded",
        ("shop", "r0", "l0500"): "superseded",
        ("shop", "r2", "l0500"): "pending",
        ("woo", "r1", "l1103"): "pending",  # another channel's row is not this round's
    }


def _all_rows(conn: Connection) -> list[sa.Row[object]]:
    return list(conn.execute(sa.select(outbox_table)))


def test_outbox_refuses_negative_quantities(conn: Connection) -> None:
    with pytest.raises(OutboxError):
        outbox.enqueue_round(conn, "shop", "r1", [update("a", -1)])
    assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one() == 0


def test_result_statuses_are_the_channel_interfaces(conn: Connection) -> None:
    from inventory_pipelines.channels.base import UpdateStatus

    assert {s.value for s in UpdateStatus} == set(outbox.RESULT_STATUSES)
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 0)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    result = ("a", UpdateStatus.ACKNOWLEDGED, 0, None, "req")
    assert outbox.record_results(conn, batch.batch_key, [result])["acknowledged"] == 1


def test_begin_write_groups_several_calls_in_one_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), begin_write(engine) as conn:
        outbox.enqueue_round(conn, "shop", "r1", [update("a", 0)])
        audit.record(conn, actor="ops", source="cli", action="a", entity="e")
        raise RuntimeError("abort")
    with engine.connect() as conn:
        assert outbox.rows_of_round(conn, "r1") == []
        assert audit.history(conn) == []


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def _newest_row(conn: Connection, round_id: str) -> dict[str, int]:
    return {r.listing_id: r.id for r in outbox.rows_of_round(conn, round_id)}


def test_an_update_left_in_flight_and_superseded_may_show_on_the_channel(
    conn: Connection,
) -> None:
    """A run died with `a` sent: the channel may show its quantity (our own, no sale)."""
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 4, expected=6)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    outbox.enqueue_round(conn, "shop", "r2", [update("a", 3, expected=6)])
    assert outbox.unanswered_before(conn, "shop", _newest_row(conn, "r2")) == {"a": {4}}


@pytest.mark.parametrize("answer", ["request failed", "item failed"])
def test_an_update_answered_not_applied_and_superseded_is_no_quantity_of_ours(
    conn: Connection, answer: str
) -> None:
    """Sent, answered not applied (a throttled request put back to pending, or a failed item),
    then superseded: a channel showing its quantity shows a sale, never our update landing
    (taking it for ours would offer the sold unit again: a storm oversold one unit so)."""
    outbox.enqueue_round(conn, "shop", "r1", [update("a", 4, expected=6)])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    if answer == "request failed":
        outbox.retry_or_dead_letter(conn, batch.batch_key, "429 throttled", max_attempts=5)
    else:
        outbox.record_results(conn, batch.batch_key, [("a", "failed", None, "not applied", None)])
    outbox.enqueue_round(conn, "shop", "r2", [update("a", 3, expected=6)])
    assert outbox.rows_of_round(conn, "r1")[0].status == "superseded"
    assert outbox.unanswered_before(conn, "shop", _newest_row(conn, "r2")) == {}
