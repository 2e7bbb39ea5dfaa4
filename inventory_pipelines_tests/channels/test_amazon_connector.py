"""The Amazon connector against the Amazon sandbox on the loopback (quotas sped up 20x)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from inventory_pipelines.channels.amazon import AmazonConnector, message_id_base
from inventory_pipelines.channels.base import (
    ChannelAuthError,
    ChannelThrottledError,
    ChannelUnavailableError,
    QuantityUpdate,
    UpdateStatus,
)
from inventory_pipelines.ledger import create_engine, migrate
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines.sandbox.amazon import AmazonSandbox

SEED = 7
SCALE = 20.0  # the sandbox's quotas and the connector's pacing, both 20x Amazon's

ConnectorFactory = Callable[..., AmazonConnector]


@pytest.fixture
def amazon() -> Iterator[AmazonSandbox]:
    with AmazonSandbox(skus=80, seed=SEED, rate_scale=SCALE, feed_window=None) as sandbox:
        yield sandbox


@pytest.fixture
def connect(amazon: AmazonSandbox) -> Iterator[ConnectorFactory]:
    """Build connectors on the sandbox (closed at the end of the test)."""
    made: list[AmazonConnector] = []

    def factory(sandbox: AmazonSandbox | None = None, **options: Any) -> AmazonConnector:
        creds = (sandbox or amazon).credentials()
        settings: dict[str, Any] = {
            "rate_scale": SCALE,
            "feed_poll_s": 0.01,
            "backoff_base_s": 0.01,
            **options,
        }
        for key in ("client_secret", "refresh_token"):
            creds[key] = settings.pop(key, creds[key])
        connector = AmazonConnector(
            creds["endpoint"],
            creds["seller_id"],
            creds["marketplace_id"],
            creds["client_id"],
            creds["client_secret"],
            creds["refresh_token"],
            **settings,
        )
        made.append(connector)
        return connector

    yield factory
    for connector in made:
        connector.close()


def no_sleep(seconds: float) -> None:
    """A sleep that returns at once: retries and pacing become counting exercises."""


def listed(amazon: AmazonSandbox, count: int) -> list[str]:
    return sorted(amazon.state.listings)[:count]


def updates(skus: list[str], quantity: int = 9) -> list[QuantityUpdate]:
    return [QuantityUpdate(listing_id=sku, sku=sku, quantity=quantity) for sku in skus]


# -- interface ------------------------------------------------------------------------------------


def test_limits_declare_one_patch_at_5_per_s_and_feeds_of_25000() -> None:
    connector = AmazonConnector("http://127.0.0.1:9", "S", "M", "id", "secret", "refresh")
    limits = connector.limits()
    connector.close()
    assert (limits.max_batch, limits.requests_per_s, limits.burst) == (1, 5.0, 5)
    assert limits.compare_and_set is False
    assert limits.bulk_batch == 25_000


def test_read_listings_pages_through_the_catalog_with_quantities(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    pages = list(connect().read_listings())
    listings = [listing for page in pages for listing in page]
    assert all(len(page) <= 20 for page in pages)
    assert {lst.listing_id: lst.quantity for lst in listings} == amazon.state.quantities()
    assert not {lst.sku for lst in listings} & set(amazon.state.missing_skus)
    first = listings[0]
    assert first.sku == first.listing_id
    assert first.title and first.extra["asin"]


# -- publishing ------------------------------------------------------------------------------------


def test_a_small_batch_is_sent_as_one_patch_per_sku(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    connector = connect(bulk_threshold=50)
    skus = listed(amazon, 5)
    results = connector.publish(updates(skus, 17), "key-small")
    assert [r.status for r in results] == [UpdateStatus.ACKNOWLEDGED] * 5
    assert [r.quantity for r in results] == [17] * 5
    assert all(r.request_id for r in results)
    assert all(amazon.state.listings[sku].quantity == 17 for sku in skus)
    assert (connector.patches, connector.feeds) == (5, 0)


def test_invalid_and_unknown_skus_are_rejected_in_patches(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    good = listed(amazon, 1)[0]
    missing = amazon.state.missing_skus[0]
    batch = [
        QuantityUpdate(good, good, 4),
        QuantityUpdate(good, good, -1),
        QuantityUpdate(missing, missing, 4),
    ]
    results = connect().publish(batch, "key-mixed")
    assert [r.status for r in results] == [
        UpdateStatus.ACKNOWLEDGED,
        UpdateStatus.REJECTED,
        UpdateStatus.REJECTED,
    ]
    assert "INVALID_VALUE" in (results[1].error or "")
    assert "NOT_FOUND" in (results[2].error or "")
    assert amazon.state.listings[good].quantity == 4


def test_a_big_batch_goes_as_one_feed_with_per_item_results(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    connector = connect(bulk_threshold=10)
    skus = listed(amazon, 30)
    batch = updates(skus, 21)
    batch[3] = QuantityUpdate(skus[3], skus[3], -5)
    missing = amazon.state.missing_skus[0]
    batch.append(QuantityUpdate(missing, missing, 2))
    before = amazon.state.listings[skus[3]].quantity

    results = connector.publish(batch, "key-big")

    assert (connector.feeds, connector.patches) == (1, 0)
    rejected = {r.listing_id for r in results if r.status == UpdateStatus.REJECTED}
    assert rejected == {skus[3], missing}
    acknowledged = [r for r in results if r.status == UpdateStatus.ACKNOWLEDGED]
    assert len(acknowledged) == 29
    assert all(r.quantity == 21 and r.request_id for r in acknowledged)
    assert amazon.state.listings[skus[0]].quantity == 21
    assert amazon.state.listings[skus[3]].quantity == before


def test_a_resent_feed_carries_the_same_message_ids(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    connector = connect(bulk_threshold=5)
    batch = updates(listed(amazon, 8), 3)
    connector.publish(batch, "key-resend")
    connector.publish(batch, "key-resend")
    assert amazon.state.messages_resent == 8
    base = message_id_base("key-resend")
    assert set(range(base + 1, base + 9)) <= amazon.state.messages_seen
    assert message_id_base("another-key") != base


def test_a_feed_that_never_finishes_is_unavailable_after_the_timeout(
    connect: ConnectorFactory,
) -> None:
    with AmazonSandbox(skus=20, seed=SEED, rate_scale=SCALE, feed_mode="manual") as manual:
        connector = connect(manual, bulk_threshold=2, feed_timeout_s=0.05)
        with pytest.raises(ChannelUnavailableError, match="IN_QUEUE"):
            connector.publish(updates(listed(manual, 3)), "key-stuck")


def test_a_fatal_feed_leaves_every_item_failed(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    # the feed header names another seller: Amazon rejects the whole feed
    connector = connect(bulk_threshold=2)
    connector.seller_id = "ANOTHER-SELLER"
    results = connector.publish(updates(listed(amazon, 3)), "key-fatal")
    assert [r.status for r in results] == [UpdateStatus.FAILED] * 3
    assert "FATAL" in (results[0].error or "")
    assert connector.feeds == 1


def test_more_than_25000_updates_are_refused(connect: ConnectorFactory) -> None:
    too_many = [QuantityUpdate("SKU", "SKU", 1)] * 25_001
    with pytest.raises(ValueError, match="25000"):
        connect().publish(too_many, "key-too-many")


# -- credentials ----------------------------------------------------------------------------------


def test_the_access_token_is_cached_and_refreshed_after_a_403(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    connector = connect()
    skus = listed(amazon, 3)
    connector.publish(updates(skus[:2]), "key-1")
    assert amazon.state.tokens_issued == 1
    amazon.state.advance(3601)  # the sandbox clock: the cached token is now expired there
    results = connector.publish(updates(skus[2:]), "key-2")
    assert results[0].status == UpdateStatus.ACKNOWLEDGED
    assert amazon.state.tokens_issued == 2


def test_the_access_token_is_refreshed_before_it_expires(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    now = [1000.0]
    connector = connect(clock=lambda: now[0])
    skus = listed(amazon, 2)
    amazon.reset_request_count()
    connector.publish(updates(skus[:1]), "key-early-1")
    now[0] += 3590  # inside the refresh margin, still valid on Amazon's side
    amazon.state.advance(3590)
    connector.publish(updates(skus[1:]), "key-early-2")
    assert amazon.state.tokens_issued == 2
    assert amazon.request_count == 4  # token, patch, token, patch: no 403 on the way


@pytest.mark.parametrize("field", ["client_secret", "refresh_token"])
def test_refused_credentials_raise_an_auth_error_without_the_secret(
    amazon: AmazonSandbox, connect: ConnectorFactory, field: str
) -> None:
    wrong = f"wrong-{field}-value"
    connector = connect(**{field: wrong})
    with pytest.raises(ChannelAuthError) as raised:
        connector.publish(updates(listed(amazon, 1)), "key-auth")
    assert wrong not in str(raised.value)
    assert wrong not in repr(connector)


def test_secrets_never_reach_logs_errors_or_repr(
    amazon: AmazonSandbox, connect: ConnectorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    creds = amazon.credentials()
    caplog.set_level(logging.DEBUG)
    connector = connect(bulk_threshold=4, sleep=no_sleep)
    skus = listed(amazon, 6)
    connector.publish(updates(skus[:2]), "key-logs-1")
    connector.publish(updates(skus), "key-logs-2")
    list(connector.read_listings())
    amazon.state.expire_tokens()
    amazon.faults.fail_next(1, 503)
    connector.publish(updates(skus[:1]), "key-logs-3")
    amazon.faults.outage = "503"
    with pytest.raises(ChannelUnavailableError) as raised:
        connector.publish(updates(skus[:1]), "key-logs-4")
    issued = list(amazon.state._tokens)
    secrets = [creds["client_secret"], creds["refresh_token"], *issued]
    text = caplog.text + str(raised.value) + repr(connector) + str(vars(connector))
    assert caplog.records  # the connector and httpx did log
    for secret in secrets:
        assert secret not in text


# -- pacing and resilience ------------------------------------------------------------------------


def test_pacing_at_the_channel_rate_keeps_429s_rare(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    connector = connect()
    skus = listed(amazon, 40)
    results = connector.publish(updates(skus), "key-paced")
    assert all(r.status == UpdateStatus.ACKNOWLEDGED for r in results)
    assert connector.throttled <= 4
    assert connector.patches == 40


def test_a_connector_configured_too_fast_adopts_the_rate_amazon_reports(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    connector = connect(rate_scale=SCALE * 10)
    results = connector.publish(updates(listed(amazon, 40)), "key-fast")
    assert all(r.status == UpdateStatus.ACKNOWLEDGED for r in results)
    assert connector.throttled <= 4
    assert connector.api_calls == 1 + 40 + connector.throttled


def test_two_connectors_sharing_a_quota_back_off_and_both_finish(
    connect: ConnectorFactory,
) -> None:
    # each paces itself at the 40/s Amazon reports; together they ask for twice that
    rates = {"patchListingsItem": (40.0, 5)}
    with AmazonSandbox(skus=80, seed=SEED, rates=rates) as shared:
        skus = listed(shared, 60)
        workers = [connect(shared, backoff_base_s=0.02) for _ in range(2)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(worker.publish, updates(skus[n::2], 8), f"key-shared-{n}")
                for n, worker in enumerate(workers)
            ]
            results = [r for future in futures for r in future.result()]
        quantities = shared.state.quantities()
    assert len(results) == 60
    assert all(r.status == UpdateStatus.ACKNOWLEDGED for r in results)
    assert all(quantities[sku] == 8 for sku in skus)
    throttled = sum(worker.throttled for worker in workers)
    assert 0 < throttled < 60


def test_persistent_429s_raise_throttled_after_bounded_retries(connect: ConnectorFactory) -> None:
    rates = {"patchListingsItem": (0.001, 1)}
    with AmazonSandbox(skus=20, seed=SEED, rates=rates) as slow:
        connector = connect(slow, sleep=no_sleep, max_throttle_retries=3)
        slow.reset_request_count()
        with pytest.raises(ChannelThrottledError):
            connector.publish(updates(listed(slow, 2)), "key-throttled")
        assert connector.throttled == 4
        assert slow.request_count == 1 + 1 + 4  # token, the first patch, 4 throttled


def test_transient_5xx_are_retried(amazon: AmazonSandbox, connect: ConnectorFactory) -> None:
    connector = connect(sleep=no_sleep)
    amazon.faults.fail_next(2, 500)
    results = connector.publish(updates(listed(amazon, 1)), "key-transient")
    assert results[0].status == UpdateStatus.ACKNOWLEDGED


@pytest.mark.parametrize("mode", ["503", "close"])
def test_an_outage_is_unavailable_after_a_bounded_number_of_requests(
    amazon: AmazonSandbox, connect: ConnectorFactory, mode: str
) -> None:
    connector = connect(sleep=no_sleep, max_retries=3)
    list(connector.read_listings())  # a cached token: the outage hits the patches
    amazon.reset_request_count()
    amazon.faults.outage = mode
    with pytest.raises(ChannelUnavailableError):
        connector.publish(updates(listed(amazon, 10)), "key-outage")
    assert amazon.request_count == 4


def test_an_outage_during_the_token_request_is_unavailable(
    amazon: AmazonSandbox, connect: ConnectorFactory
) -> None:
    connector = connect(sleep=no_sleep, max_retries=2)
    amazon.faults.outage = "503"
    with pytest.raises(ChannelUnavailableError, match="lwaToken"):
        list(connector.read_listings())
    assert amazon.request_count == 3


# -- through the publisher ------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "feeds", "patches"), [(30, 1, 0), (6, 0, 6)])
def test_the_publisher_sends_a_feed_from_the_bulk_threshold_on_and_patches_below(
    amazon: AmazonSandbox, connect: ConnectorFactory, tmp_path: Any, count, feeds, patches
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    connector = connect(bulk_threshold=10)
    shown = amazon.state.quantities()
    skus = [sku for sku in listed(amazon, 80) if shown.get(sku)][:count]
    targets = {sku: (sku, 0) for sku in skus}  # one direction: every update is a zero-out
    plan = ChannelPlan("amazon", connector, targets, shown)
    summary = publish_round(engine, [plan], "round-1")["amazon"]
    engine.dispose()
    assert summary.acknowledged == count and summary.batches == (1 if feeds else count)
    assert (connector.feeds, connector.patches) == (feeds, patches)
    assert all(amazon.state.listings[sku].quantity == 0 for sku in skus)
