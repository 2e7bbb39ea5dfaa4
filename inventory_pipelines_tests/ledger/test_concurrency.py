"""Two writers at once: they queue on the lock, never fail with "database is locked"."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import create_engine, outbox, state
from inventory_pipelines.ledger.outbox import OutboxError

ROUNDS = 15


def publisher(
    url: str,
    channel: str,
    start: threading.Barrier,
    errors: list[BaseException],
    lost_races: list[str] | None = None,
) -> None:
    """Enqueue, plan, send and acknowledge ROUNDS rounds on its own engine (own connections).

    With `lost_races`, a batch another publisher answered first is noted there and skipped.
    """
    engine = create_engine(url)
    try:
        start.wait()
        for n in range(ROUNDS):
            with engine.connect() as conn:
                updates = [
                    {"listing_id": f"l{i}", "sku": f"S{i}", "quantity": (n + i) % 5}
                    for i in range(10)
                ]
                outbox.enqueue_round(conn, channel, f"round-{n}", updates)
                for batch in outbox.pending_batches(conn, channel, 4, hold_increases=False):
                    outbox.mark_sent(conn, batch.batch_key)
                    answer = [(i.listing_id, "acknowledged", None, None, "r") for i in batch.items]
                    try:
                        outbox.record_results(conn, batch.batch_key, answer)
                    except OutboxError:
                        if lost_races is None:
                            raise
                        lost_races.append(batch.batch_key)
    except BaseException as error:
        errors.append(error)
    finally:
        engine.dispose()


def test_two_concurrent_writers_never_hit_a_locked_database(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    start, errors = threading.Barrier(2), []
    threads = [
        threading.Thread(target=publisher, args=(url, channel, start, errors))
        for channel in ("shop", "woo")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with engine.connect() as conn:
        for channel in ("shop", "woo"):
            expected = {f"l{i}": (ROUNDS - 1 + i) % 5 for i in range(10)}
            assert state.last_acknowledged(conn, channel) == expected
            assert outbox.counts_by_status(conn, channel).get("pending", 0) == 0


def test_two_publishers_of_one_channel_only_lose_races_cleanly(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    start, errors, lost_races = threading.Barrier(2), [], []
    threads = [
        threading.Thread(target=publisher, args=(url, "shop", start, errors, lost_races))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with engine.connect() as conn:
        expected = {f"l{i}": (ROUNDS - 1 + i) % 5 for i in range(10)}
        assert state.last_acknowledged(conn, "shop") == expected


def test_a_planner_skips_rows_another_planner_holds_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serializes planners on BEGIN IMMEDIATE")
    with engine.connect() as setup:
        outbox.enqueue_round(setup, "shop", "r1", [{"listing_id": "a", "sku": "A", "quantity": 0}])
    with engine.connect() as first, engine.connect() as second:
        with first.begin():
            (claimed,) = outbox.pending_batches(first, "shop", 10)
            assert outbox.pending_batches(second, "shop", 10) == []
        (after_commit,) = outbox.pending_batches(second, "shop", 10)
    assert after_commit.batch_key == claimed.batch_key
