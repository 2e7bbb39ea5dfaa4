"""What an operator asks the ledger: channel facts, a round's progress, the audit log searched."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from inventory_pipelines.ledger import audit, dlq, inbox, jobs, operations, outbox
from inventory_pipelines.ledger.inbox import InboxEvent

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def publish(conn: sa.Connection, channel: str, round_id: str, answers: dict[str, str]) -> None:
    """A round of one update per listing, sent as one batch, answered as `answers` says."""
    rows = [{"listing_id": lid, "sku": f"SKU-{lid}", "quantity": 5} for lid in answers]
    outbox.enqueue_round(conn, channel, round_id, rows)
    (batch,) = outbox.pending_batches(conn, channel, max_batch=len(rows))
    outbox.mark_sent(conn, batch.batch_key)
    outbox.record_results(
        conn,
        batch.batch_key,
        [
            (lid, status, 5 if status == "acknowledged" else None, None, "req-1")
            if status == "acknowledged"
            else (lid, status, None, "HTTP 500 from the channel", None)
            for lid, status in answers.items()
        ],
        max_attempts=1,
    )


def order(channel: str, external_id: str) -> InboxEvent:
    return InboxEvent(channel, external_id, "created", "created", "poll", {"lines": []})


def test_a_channel_the_ledger_never_heard_of_has_nothing_and_was_never_published(
    conn: sa.Connection,
) -> None:
    facts = operations.channel_facts(conn, ["shopify"])["shopify"]
    assert facts.last_acknowledged_at is None
    assert (facts.updates_waiting, facts.listings_acknowledged, facts.open_jobs) == (0, 0, 0)
    assert facts.dead_letters == {} and facts.orders == {} and facts.last_error is None


def test_channel_facts_count_each_channel_apart(conn: sa.Connection) -> None:
    publish(conn, "shopify", "r1", {"A": "acknowledged", "B": "acknowledged", "C": "failed"})
    outbox.enqueue_round(
        conn, "shopify", "r2", [{"listing_id": "D", "sku": "SKU-D", "quantity": 1}]
    )
    publish(conn, "amazon", "r1", {"X": "acknowledged"})
    inbox.receive(conn, [order("shopify", "1"), order("shopify", "2"), order("amazon", "9")])
    [claimed] = inbox.claim(conn, "worker-1", channel="shopify", limit=1)
    jobs.record(conn, "amazon", "batch-1", "feed-1")

    facts = operations.channel_facts(conn, ["shopify", "amazon", "pos"])

    shopify, amazon = facts["shopify"], facts["amazon"]
    assert shopify.listings_acknowledged == 2 and amazon.listings_acknowledged == 1
    assert shopify.last_acknowledged_at is not None
    # C failed its only attempt: dead-lettered with its error; D waits to be sent
    assert shopify.updates_waiting == 1 and shopify.dead_letters == {"publish": 1}
    assert shopify.last_error is not None and "HTTP 500" in shopify.last_error.error
    assert shopify.orders == {"new": 1, "claimed": 1} and claimed.external_id == "1"
    assert (amazon.open_jobs, amazon.updates_waiting, amazon.dead_letters) == (1, 0, {})
    assert amazon.orders == {"new": 1} and amazon.last_error is None
    assert facts["pos"].last_acknowledged_at is None


def test_the_last_error_is_the_newest_of_failed_updates_and_dead_letters(
    conn: sa.Connection,
) -> None:
    publish(conn, "shopify", "r1", {"A": "failed"})
    dlq.add(conn, channel="shopify", kind="order", payload={"inbox_id": None}, error="no SKU")
    error = operations.channel_facts(conn, ["shopify"])["shopify"].last_error
    assert error is not None and (error.where, error.error) == ("dead_letter", "no SKU")


def test_a_rounds_progress_counts_its_settled_rows_per_channel(conn: sa.Connection) -> None:
    publish(conn, "shopify", "run-1", {"A": "acknowledged", "B": "acknowledged"})
    outbox.enqueue_round(
        conn, "shopify", "run-1:replan:1", [{"listing_id": "C", "sku": "SKU-C", "quantity": 2}]
    )
    publish(conn, "amazon", "run-1", {"X": "acknowledged"})
    publish(conn, "amazon", "run-2", {"Y": "acknowledged"})

    assert operations.round_progress(conn, "run-1") == {"shopify": (2, 3), "amazon": (1, 1)}
    assert operations.round_progress(conn, "run-3") == {}


def note(conn: sa.Connection, minutes: int, **values) -> int:
    entry = {"actor": "tester", "source": "cli", "action": "test.noted", "entity": "thing/1"}
    return audit.record(conn, at=T0 + dt.timedelta(minutes=minutes), **{**entry, **values})


def ids(entries) -> list[int]:
    return [e.id for e in entries]


def test_the_audit_log_comes_newest_first_up_to_the_limit(conn: sa.Connection) -> None:
    written = [note(conn, minutes) for minutes in range(5)]
    assert ids(operations.search_audit(conn, limit=3)) == written[::-1][:3]


def test_the_audit_log_is_searched_within_a_time_window_bounds_included(
    conn: sa.Connection,
) -> None:
    written = [note(conn, minutes) for minutes in range(5)]
    found = operations.search_audit(
        conn, since=T0 + dt.timedelta(minutes=1), until=T0 + dt.timedelta(minutes=3)
    )
    assert ids(found) == written[1:4][::-1]


def test_the_audit_log_is_searched_by_actor_and_by_action_or_action_pattern(
    conn: sa.Connection,
) -> None:
    discarded = note(conn, 0, actor="alice", action="dead_letter.discarded")
    replayed = note(conn, 1, actor="bob", action="dead_letter.replayed")
    note(conn, 2, actor="alice", action="publish.acknowledged")
    assert ids(operations.search_audit(conn, action="dead_letter.*")) == [replayed, discarded]
    assert ids(operations.search_audit(conn, action="dead_letter.replayed")) == [replayed]
    assert ids(operations.search_audit(conn, actor="alice", action="dead*")) == [discarded]
    # `_` and `%` are the action's own characters, not wildcards
    assert operations.search_audit(conn, action="dead_letter%") == []
    assert operations.search_audit(conn, action="dead_letterXreplayed") == []


def test_the_audit_log_of_a_channel_holds_its_listings_letters_and_failed_runs(
    conn: sa.Connection,
) -> None:
    edit = note(conn, 0, source="shopify", entity="published_state/shopify/L1")
    letter = note(conn, 1, before={"channel": "shopify", "status": "open"})
    alone = note(conn, 2, action="run.failed", after={"partition": "shopify", "channels": []})
    ranged = note(conn, 3, action="run.failed", after={"channels": ["shopify", "amazon"]})
    note(conn, 4, action="run.failed", after={"channels": ["amazon", "pos"]})
    note(conn, 5, source="shopify_eu", entity="published_state/shopify_eu/L1")
    stop = note(conn, 6, action="override.break_glass", after={"channel": "*", "sku": "*"})
    found = operations.search_audit(
        conn, channel="shopify", channel_ranges=[("shopify", "shopify"), ("shopify", "amazon")]
    )
    assert ids(found) == [stop, ranged, alone, letter, edit]


def test_the_audit_log_of_a_sku_holds_rows_naming_it_and_those_of_its_listings(
    conn: sa.Connection,
) -> None:
    publish(conn, "shopify", "r1", {"L7": "acknowledged"})  # listing L7 carries SKU-L7
    acknowledged = ids(operations.search_audit(conn, action="publish.acknowledged"))
    drift = note(conn, 0, after={"sku": "SKU-L7", "cause": "channel_edit"})
    note(conn, 1, after={"sku": "SKU-L70"})
    found = operations.search_audit(conn, sku="SKU-L7")
    assert sorted(ids(found)) == sorted([*acknowledged, drift])
