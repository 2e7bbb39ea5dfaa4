"""The audit of drift and of its corrections, on a real ledger (SQLite)."""

from __future__ import annotations

import pytest

from inventory_pipelines.ledger import audit, create_engine, migrate, outbox
from inventory_pipelines.ledger import reconciliation as drift_audit


@pytest.fixture
def conn(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def publish(conn, channel: str, round_id: str, answers: dict[str, tuple[str, int]]) -> None:
    """Enqueue one update per listing (listing -> (sku, quantity)) and acknowledge them all."""
    outbox.enqueue_round(
        conn,
        channel,
        round_id,
        [{"listing_id": x, "sku": s, "quantity": q} for x, (s, q) in answers.items()],
        correlation_id=round_id,
    )
    for batch in outbox.pending_batches(conn, channel, 100):
        outbox.mark_sent(conn, batch.batch_key)
        outbox.record_results(
            conn,
            batch.batch_key,
            [(i.listing_id, "acknowledged", i.quantity, None, "req") for i in batch.items],
        )


def drifted(channel: str, listing: str, sku: str, expected: int, actual: int, cause: str):
    return {
        "channel": channel,
        "listing_id": listing,
        "sku": sku,
        "expected": expected,
        "actual": actual,
        "cause": cause,
    }


def test_each_drifting_listing_the_same_runs_publish_acknowledged_is_audited_once_with_its_cause(
    conn,
):
    rows = [
        drifted("shop", "L1", "A", 10, 17, "channel_edit"),
        drifted("shop", "L2", "B", 5, 3, "missed_update"),
        drifted("shop", "L3", "C", 4, 9, "dead_letter"),  # not sent in this round
    ]
    assert drift_audit.record_drift(conn, rows, "run-1") == 3
    assert drift_audit.record_drift(conn, rows, "run-1") == 0  # a retried step adds nothing
    publish(conn, "shop", "run-1", {"L1": ("A", 10)})
    publish(conn, "shop", "run-1:replan:1", {"L2": ("B", 4)})  # re-planned after a stale answer
    publish(conn, "shop", "run-0", {"L3": ("C", 4)})  # another run's round

    assert drift_audit.record_corrections(conn, "run-1") == {
        "shop": {"channel_edit": 1, "missed_update": 1}
    }
    assert drift_audit.record_corrections(conn, "run-1") == {}  # once
    entries = audit.history(conn, action=drift_audit.CORRECTED)
    assert [(e.entity, e.before, e.after["quantity"]) for e in entries] == [
        ("published_state/shop/L1", {"quantity": 17, "cause": "channel_edit"}, 10),
        ("published_state/shop/L2", {"quantity": 3, "cause": "missed_update"}, 4),
    ]
    assert all(e.correlation_id == "run-1" and e.actor == "reconciliation" for e in entries)


def test_a_publish_on_a_path_that_did_not_measure_drift_audits_no_correction(conn):
    publish(conn, "shop", "fast-run", {"L1": ("A", 10)})
    assert drift_audit.record_corrections(conn, "fast-run") == {}
    assert audit.history(conn, action=drift_audit.CORRECTED) == []
