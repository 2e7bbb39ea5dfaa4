"""Dirty SKUs: marked, claimed by one batch run, cleared only after it succeeded; on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import create_engine, dirty, inbox

T0 = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_a_mark_keeps_the_first_time_and_reason_and_counts_every_mark(conn) -> None:
    dirty.mark(conn, {"A": "odoo: quants"}, now=at(0))
    dirty.mark(conn, {"A": "odoo: products", "B": "odoo: moves"}, now=at(5))
    rows = {r.sku: r for r in dirty.rows(conn)}
    assert (rows["A"].reason, rows["A"].first_marked_at, rows["A"].marks) == (
        "odoo: quants",
        at(0),
        2,
    )
    assert rows["A"].last_marked_at == at(5)
    assert (rows["B"].reason, rows["B"].marks, rows["B"].claim) == ("odoo: moves", 1, None)
    assert dirty.count(conn) == {"unclaimed": 2, "claimed": 0}


def test_a_claim_takes_the_oldest_first_and_is_idempotent_for_its_token(conn) -> None:
    dirty.mark(conn, {"NEW": "x"}, now=at(9))
    dirty.mark(conn, {"OLD": "x", "MID": "x"}, now=at(1))
    assert dirty.claim(conn, "run-1", limit=2) == ["MID", "OLD"]
    assert dirty.claim(conn, "run-1", limit=2) == ["MID", "OLD"]  # a retried tick
    assert dirty.claim(conn, "run-2", limit=10) == ["NEW"]
    assert dirty.claim(conn, "run-3", limit=10) == []
    assert [(c.token, c.skus) for c in dirty.claims(conn)] == [("run-1", 2), ("run-2", 1)]
    assert dirty.count(conn) == {"unclaimed": 0, "claimed": 3}


def test_a_successful_run_clears_its_skus_but_those_marked_again_since_its_claim(conn) -> None:
    dirty.mark(conn, {"A": "x", "B": "x"}, now=at(0))
    assert dirty.claim(conn, "run-1", limit=10) == ["A", "B"]
    dirty.mark(conn, {"B": "changed again"}, now=at(1))  # the run may have read Odoo before
    settled = dirty.settle(conn, "run-1", succeeded=True)
    assert (settled.cleared, settled.released) == (1, 1)
    [left] = dirty.rows(conn)
    assert (left.sku, left.claim, left.reason, left.first_marked_at) == ("B", None, "x", at(0))
    assert dirty.claim(conn, "run-2", limit=10) == ["B"]


def test_a_failed_run_releases_every_sku_for_the_next_batch(conn) -> None:
    dirty.mark(conn, {"A": "x", "B": "y"}, now=at(0))
    dirty.claim(conn, "run-1", limit=10)
    settled = dirty.settle(conn, "run-1", succeeded=False)
    assert (settled.cleared, settled.released) == (0, 2)
    assert dirty.claims(conn) == []
    assert dirty.claim(conn, "run-2", limit=10) == ["A", "B"]
    assert {r.sku: r.attempts for r in dirty.rows(conn)} == {"A": 2, "B": 2}
    assert dirty.settle(conn, "run-2", succeeded=True).cleared == 2
    assert dirty.rows(conn) == []


def test_concurrent_batches_never_claim_the_same_sku(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        dirty.mark(conn, {f"SKU-{i:04d}": "x" for i in range(400)}, now=at(0))
    start, errors, claimed = threading.Barrier(4), [], {}

    def batch(token: str) -> None:
        own = create_engine(url)
        try:
            start.wait()
            with own.connect() as conn:
                claimed[token] = dirty.claim(conn, token, limit=150)
        except BaseException as error:
            errors.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=batch, args=(f"run-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    taken = [sku for skus in claimed.values() for sku in skus]
    assert len(taken) == len(set(taken)) == 400


def test_ordered_since_names_the_skus_a_channel_order_was_accepted_for_lately(conn) -> None:
    event = inbox.InboxEvent(
        "shopify", "1", "created", "created", "webhook", {"lines": []}, pending={"A": 2, "C": 1}
    )
    inbox.receive(conn, [event])
    with conn.begin():
        accepted = conn.execute(sa.text("SELECT min(accepted_at) FROM pending_units")).scalar()
    assert accepted is not None
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15)
    assert dirty.ordered_since(conn, ["A", "B"], since) == {"A"}
    assert (
        dirty.ordered_since(conn, ["A"], dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)) == set()
    )
