"""Audit rows carry who, when, where from, before and after; published state drives deltas."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit, outbox, state
from inventory_pipelines.ledger.audit import SecretInPayloadError


def publish(conn: Connection, round_id: str, quantity: int, request_id: str) -> None:
    """Publish listing 'a' at `quantity` on 'shop' and acknowledge it."""
    outbox.enqueue_round(
        conn,
        "shop",
        round_id,
        [{"listing_id": "a", "sku": "SKU-A", "quantity": quantity}],
        correlation_id=f"run-{round_id}",
    )
    for batch in outbox.pending_batches(conn, "shop", 10):
        outbox.mark_sent(conn, batch.batch_key)
        outbox.record_results(
            conn, batch.batch_key, [("a", "acknowledged", quantity, None, request_id)]
        )


def test_acknowledgements_write_audit_rows_with_before_and_after(conn: Connection) -> None:
    publish(conn, "r1", 7, "req-1")
    publish(conn, "r2", 3, "req-2")
    first, second = audit.history(conn, entity="published_state/shop/a")
    assert first.before is None
    assert first.after["quantity"] == 7
    assert second.before == {"quantity": 7, "request_id": "req-1"}
    assert second.after["quantity"] == 3
    assert second.after["request_id"] == "req-2"
    assert second.correlation_id == "run-r2"
    assert second.source == "shop"
    assert second.actor == "publisher"
    assert second.action == "publish.acknowledged"


def test_audit_timestamps_are_aware_utc(conn: Connection) -> None:
    before = dt.datetime.now(dt.UTC)
    audit.record(conn, actor="ops", source="cli", action="override.approve", entity="sku/X")
    (entry,) = audit.history(conn)
    assert entry.at.tzinfo is not None
    assert entry.at.utcoffset() == dt.timedelta(0)
    assert entry.at >= before - dt.timedelta(seconds=1)


def test_audit_keeps_a_given_time_in_utc(conn: Connection) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    at = dt.datetime(2026, 1, 2, 10, 30, tzinfo=paris)
    audit.record(conn, actor="ops", source="cli", action="a", entity="e", at=at)
    (entry,) = audit.history(conn)
    assert entry.at == at
    assert entry.at.tzinfo == dt.UTC


def test_audit_refuses_naive_timestamps(conn: Connection) -> None:
    with pytest.raises(Exception, match="naive"):
        audit.record(
            conn, actor="ops", source="cli", action="a", entity="e", at=dt.datetime(2026, 1, 1)
        )


def test_audit_refuses_credentials_in_before_or_after(conn: Connection) -> None:
    with pytest.raises(SecretInPayloadError):
        audit.record(
            conn, actor="ops", source="cli", action="a", entity="e", after={"api_key": "k"}
        )
    assert audit.history(conn) == []


def test_deltas_leave_out_quantities_equal_to_the_acknowledged_ones(conn: Connection) -> None:
    publish(conn, "r1", 7, "req-1")
    assert state.deltas(conn, "shop", {"a": 7, "b": 2}) == {"b": 2}
    assert state.deltas(conn, "shop", {"a": 6}) == {"a": 6}
    assert state.deltas(conn, "woo", {"a": 7}) == {"a": 7}


def test_published_state_is_per_channel(conn: Connection) -> None:
    publish(conn, "r1", 7, "req-1")
    assert state.last_acknowledged(conn, "shop") == {"a": 7}
    assert state.last_acknowledged(conn, "woo") == {}
    assert state.get(conn, "woo", "a") is None
    current = state.get(conn, "shop", "a")
    assert current is not None
    assert (current.sku, current.quantity, current.request_id) == ("SKU-A", 7, "req-1")
    assert current.acknowledged_at.tzinfo is not None


def test_acknowledged_times_come_back_exact_and_aware_utc(conn: Connection) -> None:
    # the whole-channel read converts each stored instant itself: it must agree with the
    # column type's reading, to the microsecond, on SQLite and PostgreSQL
    berlin = dt.timezone(dt.timedelta(hours=1))
    instants = {
        "a": dt.datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=dt.UTC),
        "b": dt.datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=berlin),
        "c": dt.datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=berlin),  # the same instant as b
        "d": dt.datetime(2026, 12, 31, 23, 0, 0, tzinfo=dt.UTC),  # no microseconds
    }
    state.upsert_many(
        conn,
        [
            {
                "channel": "shop",
                "listing_id": listing,
                "sku": f"SKU-{listing}",
                "quantity": quantity,
                "acknowledged_at": at,
                "request_id": None,
            }
            for quantity, (listing, at) in enumerate(instants.items())
        ],
    )
    found = state.acknowledged_with_time(conn, "shop")
    assert found == {listing: (q, at) for q, (listing, at) in enumerate(instants.items())}
    assert all(at.tzinfo == dt.UTC for _, at in found.values())
    for listing, (_, at) in found.items():
        one = state.get(conn, "shop", listing)
        assert one is not None and one.acknowledged_at == at
