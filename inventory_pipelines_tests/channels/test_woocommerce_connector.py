"""The WooCommerce connector against the WooCommerce sandbox on the loopback."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from inventory_pipelines.channels.base import (
    ChannelAuthError,
    ChannelThrottledError,
    ChannelUnavailableError,
    Listing,
    QuantityUpdate,
    UpdateStatus,
)
from inventory_pipelines.channels.generic import RetrySettings
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox


class RecordingSleep:
    """Records the waits asked for and sleeps a short real time (so a token bucket refills)."""

    def __init__(self, real: float = 0.0) -> None:
        self.real = real
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.real:
            time.sleep(self.real)


@pytest.fixture
def woo() -> Iterator[WooCommerceSandbox]:
    """A store of its own per test."""
    with WooCommerceSandbox(products=120, seed=9) as sandbox:
        yield sandbox


def _connector(
    woo: WooCommerceSandbox, sleep: RecordingSleep | None = None, **options: object
) -> WooCommerceConnector:
    return WooCommerceConnector(
        woo.url,
        woo.consumer_key,
        woo.consumer_secret,
        sleep=sleep or RecordingSleep(),
        **options,  # type: ignore[arg-type]
    )


def _listings(connector: WooCommerceConnector) -> list[Listing]:
    return [listing for page in connector.read_listings() for listing in page]


def _simple_updates(woo: WooCommerceSandbox, count: int, quantity: int) -> list[QuantityUpdate]:
    simple = [i for i in woo.state.products() if i.type == "simple"][:count]
    assert len(simple) == count
    return [QuantityUpdate(f"product:{i.id}", i.sku, quantity) for i in simple]


@pytest.mark.parametrize("auth", ["basic", "query", "oauth"])
def test_read_listings_covers_simple_products_and_variations(
    woo: WooCommerceSandbox, auth: str
) -> None:
    with _connector(woo, auth=auth) as connector:
        listings = _listings(connector)
    stocked = [i for i in woo.state.items.values() if i.type != "variable"]
    assert len(listings) == len({x.listing_id for x in listings}) == len(stocked)
    by_id = {x.listing_id: x for x in listings}
    for item in stocked:
        key = f"variation:{item.parent_id}:{item.id}" if item.parent_id else f"product:{item.id}"
        listing = by_id[key]
        assert listing.sku == (item.sku or None)
        assert listing.quantity == (item.stock_quantity if item.manage_stock else None)


def test_barcodes_come_from_global_unique_id_or_meta(woo: WooCommerceSandbox) -> None:
    with _connector(woo) as connector:
        listings = {x.listing_id: x for x in _listings(connector)}
    meta = next(i for i in woo.state.items.values() if i.meta_data and not i.global_unique_id)
    key = f"variation:{meta.parent_id}:{meta.id}" if meta.parent_id else f"product:{meta.id}"
    assert listings[key].barcode == meta.meta_data[0]["value"]
    assert any(x.barcode and x.barcode.startswith("2000") for x in listings.values())


def test_limits_declare_batches_of_100_without_compare_and_set(woo: WooCommerceSandbox) -> None:
    limits = _connector(woo).limits()
    assert limits.max_batch == 100 and limits.compare_and_set is False


def test_publish_acknowledges_and_sets_stock(woo: WooCommerceSandbox) -> None:
    variation = next(i for i in woo.state.items.values() if i.type == "variation")
    updates = [
        *_simple_updates(woo, 2, 5),
        QuantityUpdate(f"variation:{variation.parent_id}:{variation.id}", variation.sku, 6),
    ]
    with _connector(woo, auth="oauth") as connector:
        results = connector.publish(updates, "key-1")
    assert [r.status for r in results] == [UpdateStatus.ACKNOWLEDGED] * 3
    assert [r.quantity for r in results] == [5, 5, 6]
    assert woo.state.items[variation.id].stock_quantity == 6
    assert all(r.request_id and r.request_id.startswith("key-1:") for r in results)


def test_publish_rejects_unknown_and_malformed_listings(woo: WooCommerceSandbox) -> None:
    updates = [
        QuantityUpdate("product:999999", "X", 1),
        QuantityUpdate("shopify:1", "Y", 1),
        *_simple_updates(woo, 1, 2),
    ]
    results = _connector(woo).publish(updates, "key-2")
    assert [r.status for r in results] == [
        UpdateStatus.REJECTED,
        UpdateStatus.REJECTED,
        UpdateStatus.ACKNOWLEDGED,
    ]
    assert results[0].error and "invalid_id" in results[0].error


def test_resend_with_the_same_key_sets_the_same_value(woo: WooCommerceSandbox) -> None:
    updates = _simple_updates(woo, 3, 4)
    connector = _connector(woo)
    assert connector.publish(updates, "same") == connector.publish(updates, "same")
    assert {woo.state.items[int(u.listing_id.split(":")[1])].stock_quantity for u in updates} == {4}


@pytest.mark.parametrize(("count", "calls"), [(100, 1), (101, 2), (250, 3)])
def test_publish_splits_into_calls_of_at_most_100(
    woo: WooCommerceSandbox, count: int, calls: int
) -> None:
    woo.reset(products=400)
    updates = _simple_updates(woo, count, 1)
    connector = _connector(woo)
    woo.reset_request_count()
    results = connector.publish(updates, "big")
    assert all(r.status is UpdateStatus.ACKNOWLEDGED for r in results) and len(results) == count
    assert woo.request_count == connector.api_calls == calls


def test_rate_limit_is_honoured_with_retry_after(woo: WooCommerceSandbox) -> None:
    woo.reset(products=400)
    updates = _simple_updates(woo, 250, 3)
    woo.faults.set_rate_limit(5, burst=1)
    sleep = RecordingSleep(real=0.25)
    connector = _connector(woo, sleep=sleep)
    results = connector.publish(updates, "paced")
    assert all(r.status is UpdateStatus.ACKNOWLEDGED for r in results)
    assert 1 <= connector.throttled <= 6
    assert connector.throttled == woo.throttled_count
    assert connector.api_calls == 3 + connector.throttled
    # each 429 waited its Retry-After hint (1 s); the other waits are the pacer slowing down
    assert sleep.calls.count(1.0) == connector.throttled


def test_pacing_at_the_stores_limit_meets_no_429_and_keeps_near_its_pace(
    woo: WooCommerceSandbox,
) -> None:
    """One call per variable product: the connector's own bucket keeps them under the store's."""
    parents = [i for i in woo.state.products() if i.type == "variable"][:40]
    updates = [
        QuantityUpdate(f"variation:{p.id}:{v}", None, 4) for p in parents for v in p.variation_ids
    ]
    woo.faults.set_rate_limit(20, burst=5)
    with _connector(woo, sleep=time.sleep, requests_per_s=20, burst=5) as connector:
        started = time.perf_counter()
        results = connector.publish(updates, "paced")
        wall = time.perf_counter() - started
    assert all(r.status is UpdateStatus.ACKNOWLEDGED for r in results)
    assert connector.api_calls == len(parents) and connector.throttled == 0
    ceiling = (len(parents) - 5) / 20  # the least time the store's bucket allows
    assert ceiling <= wall


def test_throttling_beyond_the_bounds_raises(woo: WooCommerceSandbox) -> None:
    woo.faults.set_rate_limit(0.01, burst=1)
    retry = RetrySettings(max_throttle_waits=3, max_retry_after_s=1000)
    connector = _connector(woo, retry=retry)
    connector.publish(_simple_updates(woo, 1, 1), "first")  # takes the only token
    with pytest.raises(ChannelThrottledError) as raised:
        connector.publish(_simple_updates(woo, 1, 2), "second")
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    assert connector.throttled == 4 and woo.request_count == 5
    impatient = _connector(woo)  # a Retry-After above 60 s is not waited for
    with pytest.raises(ChannelThrottledError):
        impatient.publish(_simple_updates(woo, 1, 2), "third")
    assert impatient.api_calls == 1


@pytest.mark.parametrize("mode", ["503", "close"])
def test_outage_raises_unavailable_after_bounded_retries(
    woo: WooCommerceSandbox, mode: str
) -> None:
    woo.faults.set_outage(mode)
    sleep = RecordingSleep()
    connector = _connector(woo, sleep=sleep, timeout_s=5)
    with pytest.raises(ChannelUnavailableError):
        connector.publish(_simple_updates(woo, 2, 1), "down")
    assert woo.request_count == connector.api_calls == 4
    assert len(sleep.calls) == 3 and all(0 < wait <= 8.0 for wait in sleep.calls)
    with pytest.raises(ChannelUnavailableError):
        _listings(connector)
    assert woo.request_count == 8


def test_timeouts_are_retried_then_unavailable(woo: WooCommerceSandbox) -> None:
    woo.faults.set_latency(0.5)
    retry = RetrySettings(max_attempts=2)
    connector = _connector(woo, timeout_s=0.1, retry=retry)
    with pytest.raises(ChannelUnavailableError) as raised:
        connector.publish(_simple_updates(woo, 1, 1), "slow")
    assert "Timeout" in str(raised.value)
    assert connector.api_calls == 2


def test_transient_5xx_is_retried(woo: WooCommerceSandbox) -> None:
    woo.faults.fail_next(2, 502)
    connector = _connector(woo)
    results = connector.publish(_simple_updates(woo, 1, 8), "flaky")
    assert results[0].status is UpdateStatus.ACKNOWLEDGED
    assert connector.api_calls == 3


def test_refusal_after_a_first_call_fails_only_the_rest(woo: WooCommerceSandbox) -> None:
    woo.reset(products=400)
    updates = _simple_updates(woo, 150, 2)
    woo.faults.set_rate_limit(0.01, burst=1)  # one call, then a Retry-After of 100 s
    results = _connector(woo).publish(updates, "partial")
    assert {r.status for r in results[:100]} == {UpdateStatus.ACKNOWLEDGED}
    assert {r.status for r in results[100:]} == {UpdateStatus.FAILED}
    assert results[100].error and "throttled" in results[100].error


@pytest.mark.parametrize("auth", ["basic", "query", "oauth"])
def test_wrong_secret_is_an_auth_error_without_the_secret(
    woo: WooCommerceSandbox, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "cs_do_not_leak_me"
    connector = WooCommerceConnector(woo.url, woo.consumer_key, secret, auth=auth)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG), pytest.raises(ChannelAuthError) as raised:
        _listings(connector)
    assert secret not in str(raised.value)
    assert secret not in repr(connector) and secret not in repr(vars(connector))
    assert secret not in caplog.text
    assert connector.api_calls == 1
