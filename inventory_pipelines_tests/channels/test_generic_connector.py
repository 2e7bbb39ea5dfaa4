"""The generic signed HTTP connector against the generic channel sandbox on the loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from inventory_pipelines.channels.base import (
    ChannelAuthError,
    ChannelThrottledError,
    ChannelUnavailableError,
    QuantityUpdate,
    UpdateStatus,
)
from inventory_pipelines.channels.generic import GenericChannelConnector, parse_retry_after
from inventory_pipelines.sandbox.generic import GenericChannelSandbox


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
def portal() -> Iterator[GenericChannelSandbox]:
    """A portal of its own per test."""
    with GenericChannelSandbox(listings=120, seed=5, max_batch=50) as sandbox:
        yield sandbox


def _connector(
    portal: GenericChannelSandbox, sleep: RecordingSleep | None = None, **options: object
) -> GenericChannelConnector:
    return GenericChannelConnector(
        portal.url,
        portal.secret,
        max_batch=50,
        per_page=40,
        sleep=sleep or RecordingSleep(),
        **options,  # type: ignore[arg-type]
    )


def _updates(portal: GenericChannelSandbox, count: int, quantity: int) -> list[QuantityUpdate]:
    return [
        QuantityUpdate(x.listing_id, x.sku or "", quantity)
        for x in list(portal.state.listings.values())[:count]
    ]


def test_read_listings_pages_through_the_catalog(portal: GenericChannelSandbox) -> None:
    with _connector(portal) as connector:
        pages = list(connector.read_listings())
    assert [len(p) for p in pages] == [40, 40, 40]
    first = pages[0][0]
    state = portal.state.listings[first.listing_id]
    assert (first.sku, first.barcode, first.quantity) == (state.sku, state.barcode, state.quantity)


def test_limits_declare_compare_and_set(portal: GenericChannelSandbox) -> None:
    limits = _connector(portal).limits()
    assert limits.compare_and_set is True and limits.max_batch == 50


def test_publish_acknowledges(portal: GenericChannelSandbox) -> None:
    results = _connector(portal).publish(_updates(portal, 3, 9), "k1")
    assert [(r.status, r.quantity) for r in results] == [(UpdateStatus.ACKNOWLEDGED, 9)] * 3
    assert portal.state.listings["L-000001"].quantity == 9


def test_stale_compare_reports_the_actual_quantity(portal: GenericChannelSandbox) -> None:
    actual = portal.state.listings["L-000001"].quantity
    updates = [
        QuantityUpdate("L-000001", "s", 4, expected=actual + 5),
        QuantityUpdate("L-000002", "s", 4, expected=portal.state.listings["L-000002"].quantity),
        QuantityUpdate("NOPE", "s", 4),
    ]
    results = _connector(portal).publish(updates, "cas")
    assert results[0].status is UpdateStatus.STALE and results[0].quantity == actual
    assert results[1].status is UpdateStatus.ACKNOWLEDGED
    assert results[2].status is UpdateStatus.REJECTED
    assert portal.state.listings["L-000001"].quantity == actual


def test_resend_with_the_same_key_is_replayed_not_reapplied(portal: GenericChannelSandbox) -> None:
    updates = _updates(portal, 120, 7)  # three batches
    connector = _connector(portal)
    first = connector.publish(updates, "once")
    portal.state.sell("L-000001", 3)
    again = connector.publish(updates, "once")
    assert again == first
    assert portal.state.replays == 3
    assert portal.state.listings["L-000001"].quantity == 4


def test_publish_splits_into_batches_of_max_batch(portal: GenericChannelSandbox) -> None:
    connector = _connector(portal)
    results = connector.publish(_updates(portal, 120, 1), "split")
    assert len(results) == 120 and connector.api_calls == portal.request_count == 3
    assert {r.request_id for r in results} == {"split:0", "split:1", "split:2"}


def test_retry_after_a_5xx_is_safe_and_idempotent(portal: GenericChannelSandbox) -> None:
    portal.faults.fail_next(2, 500)
    connector = _connector(portal)
    results = connector.publish(_updates(portal, 2, 3), "retry")
    assert {r.status for r in results} == {UpdateStatus.ACKNOWLEDGED}
    assert connector.api_calls == portal.request_count == 3


def test_rate_limit_is_honoured(portal: GenericChannelSandbox) -> None:
    portal.faults.set_rate_limit(5, burst=1)
    sleep = RecordingSleep(real=0.25)
    connector = _connector(portal, sleep=sleep)
    results = connector.publish(_updates(portal, 120, 2), "paced")
    assert {r.status for r in results} == {UpdateStatus.ACKNOWLEDGED}
    assert 1 <= connector.throttled <= 6 and connector.throttled == portal.throttled_count
    # each 429 waited its Retry-After (1 s); the other waits are the pacer slowing down
    assert sleep.calls.count(1.0) == connector.throttled


def test_throttled_too_long_raises(portal: GenericChannelSandbox) -> None:
    portal.faults.set_rate_limit(0.01, burst=1)
    connector = _connector(portal)
    connector.publish(_updates(portal, 1, 1), "first")
    with pytest.raises(ChannelThrottledError) as raised:
        connector.publish(_updates(portal, 1, 1), "second")
    assert raised.value.retry_after and raised.value.retry_after > 60


@pytest.mark.parametrize("mode", ["503", "close"])
def test_outage_raises_unavailable_after_bounded_retries(
    portal: GenericChannelSandbox, mode: str
) -> None:
    portal.faults.set_outage(mode)
    sleep = RecordingSleep()
    connector = _connector(portal, sleep=sleep)
    with pytest.raises(ChannelUnavailableError):
        connector.publish(_updates(portal, 1, 1), "down")
    assert connector.api_calls == portal.request_count == 4 and len(sleep.calls) == 3


def test_wrong_secret_is_an_auth_error_without_the_secret(portal: GenericChannelSandbox) -> None:
    connector = GenericChannelConnector(portal.url, "do-not-leak-me")
    with pytest.raises(ChannelAuthError) as raised:
        list(connector.read_listings())
    assert "do-not-leak-me" not in str(raised.value) + repr(connector) + repr(vars(connector))


def test_batch_refused_as_too_large_is_rejected(portal: GenericChannelSandbox) -> None:
    httpx.post(f"{portal.url}/sandbox/max_batch", json={"max_batch": 10})
    results = _connector(portal).publish(_updates(portal, 20, 1), "big")
    assert {r.status for r in results} == {UpdateStatus.REJECTED}
    assert results[0].error and "batch_too_large" in results[0].error


def test_retry_after_parses_seconds_and_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
