"""Dead letters: what fails after its retries is kept, listed and replayed."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit, dlq, outbox
from inventory_pipelines.ledger.audit import SecretInPayloadError
from inventory_pipelines.ledger.dlq import DeadLetterError


def send_and_fail(conn: Connection, max_attempts: int) -> str:
    """Enqueue one zero-out and fail its request until it is dead; return its batch key."""
    outbox.enqueue_round(
        conn, "shop", "r1", [{"listing_id": "a", "sku": "A", "quantity": 0}], correlation_id="c9"
    )
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    status = "pending"
    while status == "pending":
        outbox.mark_sent(conn, batch.batch_key)
        status = outbox.retry_or_dead_letter(conn, batch.batch_key, "HTTP 503", max_attempts)
    return batch.batch_key


def test_a_batch_out_of_attempts_becomes_one_dead_letter(conn: Connection) -> None:
    key = send_and_fail(conn, max_attempts=3)
    (letter,) = dlq.list_open(conn, "shop")
    assert letter.kind == "publish"
    assert letter.correlation_id == "c9"
    assert "HTTP 503" in letter.error
    assert letter.payload["batch_key"] == key
    assert letter.payload["items"][0]["listing_id"] == "a"
    assert outbox.rows_of_round(conn, "r1")[0].status == "dead"
    assert outbox.rows_of_round(conn, "r1")[0].attempts == 3


def test_replay_puts_the_rows_back_to_pending_under_a_new_key(conn: Connection) -> None:
    key = send_and_fail(conn, max_attempts=2)
    (letter,) = dlq.list_open(conn)
    assert dlq.replay_publish(conn, letter.id, actor="ops@example.com") == 1
    assert dlq.list_open(conn) == []
    replayed = dlq.get(conn, letter.id)
    assert replayed.status == "replayed"
    assert replayed.replayed_at is not None
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    assert batch.batch_key != key
    assert batch.attempts == 0
    (entry,) = audit.history(conn, action="dead_letter.replayed")
    assert entry.actor == "ops@example.com"


def test_rejected_items_are_dead_lettered_at_once(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [{"listing_id": "a", "sku": "A", "quantity": 0}])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    outbox.record_results(conn, batch.batch_key, [("a", "rejected", None, "unknown item", None)])
    (letter,) = dlq.list_open(conn, "shop")
    assert letter.payload["items"][0]["error"] == "unknown item"


def test_failed_items_out_of_attempts_are_dead_lettered(conn: Connection) -> None:
    outbox.enqueue_round(conn, "shop", "r1", [{"listing_id": "a", "sku": "A", "quantity": 0}])
    (batch,) = outbox.pending_batches(conn, "shop", 10)
    outbox.mark_sent(conn, batch.batch_key)
    counts = outbox.record_results(
        conn, batch.batch_key, [("a", "failed", None, "locked", None)], max_attempts=1
    )
    assert counts["dead"] == 1
    assert len(dlq.list_open(conn, "shop")) == 1


def test_a_dead_letter_is_replayed_once(conn: Connection) -> None:
    send_and_fail(conn, max_attempts=1)
    (letter,) = dlq.list_open(conn)
    dlq.replay_publish(conn, letter.id)
    with pytest.raises(DeadLetterError, match="not open"):
        dlq.replay_publish(conn, letter.id)


def test_list_open_filters_by_channel_and_skips_closed_letters(conn: Connection) -> None:
    first = dlq.add(conn, channel="shop", kind="order", payload={"order": "1"}, error="x")
    dlq.add(conn, channel="woo", kind="order", payload={"order": "2"}, error="y")
    dlq.add(conn, channel="shop", kind="order", payload={"order": "3"}, error="z")
    dlq.mark_replayed(conn, first)
    assert [d.payload["order"] for d in dlq.list_open(conn, "shop")] == ["3"]
    assert [d.payload["order"] for d in dlq.list_open(conn)] == ["2", "3"]


def test_only_publish_letters_replay_into_the_outbox(conn: Connection) -> None:
    letter = dlq.add(conn, channel="shop", kind="order", payload={"order": "1"}, error="x")
    with pytest.raises(DeadLetterError, match="not a publish"):
        dlq.replay_publish(conn, letter)
    assert dlq.get(conn, letter).status == "open"


def test_a_payload_carrying_a_credential_is_refused(conn: Connection) -> None:
    with pytest.raises(SecretInPayloadError):
        dlq.add(
            conn,
            channel="shop",
            kind="publish",
            payload={"request": {"headers": {"X-Shopify-Access-Token": "shpat_1"}}},
            error="x",
        )
    assert dlq.list_open(conn) == []


def test_a_discard_is_audited_with_actor_reason_before_and_after(conn: Connection) -> None:
    send_and_fail(conn, max_attempts=1)
    (letter,) = dlq.list_open(conn)
    with pytest.raises(DeadLetterError, match="takes a reason"):
        dlq.discard(conn, letter.id, actor="ops", reason="  ")
    dlq.discard(conn, letter.id, actor="ops@example.com", reason="listing deleted", source="cli")
    assert dlq.get(conn, letter.id).status == "discarded" and dlq.list_open(conn) == []
    [entry] = audit.history(conn, entity=f"dead_letter/{letter.id}")
    assert (entry.actor, entry.source, entry.action) == (
        "ops@example.com",
        "cli",
        "dead_letter.discarded",
    )
    assert entry.before == {"status": "open", "kind": "publish", "channel": "shop"}
    assert entry.after == {"status": "discarded", "reason": "listing deleted"}
    assert entry.correlation_id == "c9"
    with pytest.raises(DeadLetterError, match="not open"):
        dlq.discard(conn, letter.id, actor="ops", reason="again")
    with pytest.raises(DeadLetterError, match="no dead letter"):
        dlq.discard(conn, 999, actor="ops", reason="x")


def test_describe_says_what_a_letter_holds_and_whether_it_can_be_replayed(
    conn: Connection,
) -> None:
    send_and_fail(conn, max_attempts=1)
    (letter,) = dlq.list_open(conn)
    view = dlq.describe(conn, letter)
    assert (view["kind"], view["channel"], view["status"], view["items"]) == (
        "publish",
        "shop",
        "open",
        1,
    )
    assert view["skus"] == ["A"] and view["replayable"] and view["closed"] is None
    dlq.discard(conn, letter.id, actor="ops", reason="gone")
    closed = dlq.describe(conn, dlq.get(conn, letter.id))
    assert closed["closed"]["by"] == "ops" and closed["closed"]["reason"] == "gone"
    assert not closed["replayable"] and closed["not_replayable"] == "it is discarded"
