"""A feed a killed sync left at Amazon is settled before anything newer is planned for it.

Amazon processes a submitted feed whether anyone polls it or not. A sync killed after the feed
was accepted leaves it queued; if the next sync published over it, the old feed would land
later and overwrite the newer quantities. Here the emulator processes feeds only when told
(or polled), so the test decides that the old feed lands last.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from inventory_pipelines.channels.amazon import AmazonConnector
from inventory_pipelines.ledger.schema import channel_jobs, outbox
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines.sandbox.amazon import AmazonSandbox

SCALE = 200.0


class Killed(BaseException):
    """The process dies: nothing after this point runs (no answer is recorded)."""


@pytest.fixture
def amazon() -> Iterator[AmazonSandbox]:
    with AmazonSandbox(skus=40, seed=8, port=0, rate_scale=SCALE, feed_window=None) as sandbox:
        yield sandbox


def connector(amazon: AmazonSandbox) -> AmazonConnector:
    creds = amazon.credentials()
    return AmazonConnector(
        creds["endpoint"],
        creds["seller_id"],
        creds["marketplace_id"],
        creds["client_id"],
        creds["client_secret"],
        creds["refresh_token"],
        rate_scale=SCALE,
        bulk_threshold=5,
        feed_poll_s=0.01,
        feed_poll_max_s=0.05,
        feed_timeout_s=5.0,
        backoff_base_s=0.01,
    )


def read_back(amazon: AmazonSandbox) -> tuple[dict[str, int], datetime]:
    with connector(amazon) as reader:
        shown = {x.listing_id: x.quantity for page in reader.read_listings() for x in page}
    return {k: v for k, v in shown.items() if v is not None}, datetime.now(UTC)


@pytest.mark.parametrize("old_feed", ["IN_QUEUE", "IN_PROGRESS"])
def test_a_feed_left_by_a_killed_sync_never_lands_over_a_newer_quantity(ledger, amazon, old_feed):
    skus = sorted(sku for sku, q in amazon.state.quantities().items() if q is not None)
    old = {sku: (sku, 11) for sku in skus}
    new = {sku: (sku, 7) for sku in skus}

    killed = connector(amazon)

    def die(feed_id: str) -> dict:
        raise Killed(feed_id)

    killed._wait_for_feed = die  # the sync is killed right after Amazon accepted its feed
    with pytest.raises(Killed):
        publish_round(ledger, [ChannelPlan("amazon", killed, dict(old))], "killed-round")
    killed.close()
    (feed_id,) = amazon.state.feeds
    with ledger.connect() as conn:
        assert conn.execute(sa.select(channel_jobs.c.job_id, channel_jobs.c.status)).all() == [
            (feed_id, "open")
        ]
    if old_feed == "IN_PROGRESS":
        amazon.state.advance_feeds(feed_id, to="IN_PROGRESS")  # too late to cancel it

    shown, shown_at = read_back(amazon)
    with connector(amazon) as fresh:
        summary = publish_round(
            ledger, [ChannelPlan("amazon", fresh, dict(new), shown, shown_at)], "next-round"
        )["amazon"]
    assert summary.jobs_settled == 1 and summary.pending_left == 0
    amazon.state.advance_feeds(feed_id)  # whatever Amazon still had of the old feed, it does now
    assert amazon.state.quantities() == {
        sku: (7 if sku in new else q) for sku, q in amazon.state.quantities().items()
    }
    assert {sku: amazon.state.quantities()[sku] for sku in skus} == dict.fromkeys(skus, 7)
    with ledger.connect() as conn:
        statuses = dict(conn.execute(sa.select(channel_jobs.c.job_id, channel_jobs.c.status)).all())
        waiting = conn.execute(
            sa.select(sa.func.count()).where(outbox.c.status.in_(("pending", "sent", "failed")))
        ).scalar_one()
    assert statuses[feed_id] == ("cancelled" if old_feed == "IN_QUEUE" else "settled")
    assert waiting == 0

    shown, shown_at = read_back(amazon)
    with connector(amazon) as again:
        quiet = publish_round(
            ledger, [ChannelPlan("amazon", again, dict(new), shown, shown_at)], "third-round"
        )["amazon"]
    assert (quiet.sent, quiet.api_calls) == (0, 0)


def test_a_feed_still_processing_holds_its_listings_out_of_the_round(ledger, amazon):
    """Amazon has not finished the old feed within the connector's wait: its listings are
    left out (nothing newer is sent for them), the round says so, and the next one settles."""
    skus = sorted(sku for sku, q in amazon.state.quantities().items() if q is not None)
    killed = connector(amazon)
    killed._wait_for_feed = lambda feed_id: (_ for _ in ()).throw(Killed(feed_id))
    with pytest.raises(Killed):
        publish_round(ledger, [ChannelPlan("amazon", killed, {s: (s, 11) for s in skus})], "k")
    killed.close()
    (feed_id,) = amazon.state.feeds
    amazon.state.advance_feeds(feed_id, to="IN_PROGRESS")
    amazon.state.feed_mode = "manual"  # Amazon is slow today: nothing moves unless told

    shown, shown_at = read_back(amazon)
    slow = connector(amazon)
    slow.feed_timeout_s = 0.2
    targets = {s: (s, 7) for s in skus}
    with slow:
        held = publish_round(
            ledger, [ChannelPlan("amazon", slow, dict(targets), shown, shown_at)], "held"
        )["amazon"]
    assert held.jobs_open == 1 and held.sent == 0 and held.pending_left == len(skus)

    amazon.state.advance_feeds(feed_id)
    amazon.state.feed_mode = "polls"
    shown, shown_at = read_back(amazon)
    with connector(amazon) as fresh:
        settled = publish_round(
            ledger, [ChannelPlan("amazon", fresh, dict(targets), shown, shown_at)], "settled"
        )["amazon"]
    assert settled.jobs_settled == 1 and settled.pending_left == 0
    assert {sku: amazon.state.quantities()[sku] for sku in skus} == dict.fromkeys(skus, 7)
