"""The Amazon sandbox's Feeds API: documents, the feed lifecycle, the report, the limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from inventory_pipelines.sandbox.amazon import LISTINGS_FEED_MAX_MESSAGES, AmazonSandbox

FEEDS = "/feeds/2021-06-30"
SEED = 7


class FeedsApi:
    """A bare Feeds client for the tests."""

    def __init__(self, sandbox: AmazonSandbox) -> None:
        self.sandbox = sandbox
        self.creds = sandbox.credentials()
        self.http = httpx.Client(base_url=sandbox.url, timeout=30)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.creds["refresh_token"],
            "client_id": self.creds["client_id"],
            "client_secret": self.creds["client_secret"],
        }
        access = self.http.post("/auth/o2/token", data=form).json()["access_token"]
        self.http.headers["x-amz-access-token"] = access

    def submit(self, content: bytes, feed_type: str = "JSON_LISTINGS_FEED") -> httpx.Response:
        """createFeedDocument, the upload, createFeed; returns createFeed's answer."""
        document = self.http.post(f"{FEEDS}/documents", json={"contentType": "application/json"})
        assert document.status_code == 201, document.text
        url = document.json()["url"]
        assert url.startswith(self.sandbox.url)
        upload = httpx.put(url, content=content, headers={"content-type": "application/json"})
        assert upload.status_code == 200
        return self.http.post(
            f"{FEEDS}/feeds",
            json={
                "feedType": feed_type,
                "marketplaceIds": [self.creds["marketplace_id"]],
                "inputFeedDocumentId": document.json()["feedDocumentId"],
            },
        )

    def get_feed(self, feed_id: str) -> dict[str, Any]:
        answer = self.http.get(f"{FEEDS}/feeds/{feed_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def report(self, document_id: str) -> dict[str, Any]:
        info = self.http.get(f"{FEEDS}/documents/{document_id}")
        assert info.status_code == 200
        assert info.json()["feedDocumentId"] == document_id
        return orjson.loads(httpx.get(info.json()["url"]).content)


def listings_feed(seller_id: str, messages: list[dict[str, Any]]) -> bytes:
    header = {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"}
    return orjson.dumps({"header": header, "messages": messages})


def message(message_id: int, sku: str, quantity: int) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "sku": sku,
        "operationType": "PATCH",
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }
        ],
    }


@pytest.fixture
def amazon() -> Iterator[AmazonSandbox]:
    with AmazonSandbox(skus=40, seed=SEED, rate_scale=100, feed_window=None) as sandbox:
        yield sandbox


@pytest.fixture
def api(amazon: AmazonSandbox) -> Iterator[FeedsApi]:
    client = FeedsApi(amazon)
    yield client
    client.http.close()


def test_a_feed_goes_in_queue_in_progress_done_and_applies_valid_messages(
    api: FeedsApi,
) -> None:
    state = api.sandbox.state
    skus = sorted(state.listings)[:3]
    missing = state.missing_skus[0]
    content = listings_feed(
        state.seller_id,
        [
            message(1, skus[0], 11),
            message(2, skus[1], -1),
            message(3, missing, 5),
            message(4, skus[2], 13),
        ],
    )
    created = api.submit(content)
    assert created.status_code == 202
    feed_id = created.json()["feedId"]

    statuses = [api.get_feed(feed_id)["processingStatus"] for _ in range(3)]
    assert statuses == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    done = api.get_feed(feed_id)
    assert done["processingStatus"] == "DONE"

    report = api.report(done["resultFeedDocumentId"])
    assert report["header"]["sellerId"] == state.seller_id
    assert report["summary"] == {
        "errors": 2,
        "warnings": 0,
        "messagesProcessed": 4,
        "messagesAccepted": 2,
        "messagesInvalid": 2,
    }
    assert {issue["messageId"] for issue in report["issues"]} == {2, 3}
    assert all({"code", "severity", "message"} <= set(issue) for issue in report["issues"])
    assert state.listings[skus[0]].quantity == 11
    assert state.listings[skus[2]].quantity == 13


def test_a_feed_over_25000_messages_ends_fatal_and_applies_nothing(api: FeedsApi) -> None:
    state = api.sandbox.state
    sku = sorted(state.listings)[0]
    before = state.listings[sku].quantity
    messages = [message(n, sku, 1) for n in range(1, LISTINGS_FEED_MAX_MESSAGES + 2)]
    feed_id = api.submit(listings_feed(state.seller_id, messages)).json()["feedId"]
    state.advance_feeds(feed_id)
    feed = api.get_feed(feed_id)
    assert feed["processingStatus"] == "FATAL"
    report = api.report(feed["resultFeedDocumentId"])
    assert "25000" in report["issues"][0]["message"]
    assert state.listings[sku].quantity == before


def test_a_feed_of_exactly_25000_messages_is_processed(api: FeedsApi) -> None:
    state = api.sandbox.state
    skus = sorted(state.listings)
    messages = [
        message(n, skus[n % len(skus)], n % 7) for n in range(1, LISTINGS_FEED_MAX_MESSAGES + 1)
    ]
    feed_id = api.submit(listings_feed(state.seller_id, messages)).json()["feedId"]
    state.advance_feeds(feed_id)
    feed = api.get_feed(feed_id)
    assert feed["processingStatus"] == "DONE"
    report = api.report(feed["resultFeedDocumentId"])
    assert report["summary"]["messagesAccepted"] == LISTINGS_FEED_MAX_MESSAGES


def test_a_feed_that_is_not_json_ends_fatal(api: FeedsApi) -> None:
    feed_id = api.submit(b"<xml/>").json()["feedId"]
    api.sandbox.state.advance_feeds(feed_id)
    assert api.get_feed(feed_id)["processingStatus"] == "FATAL"


def test_a_feed_with_another_sellers_header_ends_fatal(api: FeedsApi) -> None:
    sku = sorted(api.sandbox.state.listings)[0]
    feed_id = api.submit(listings_feed("SOMEONE-ELSE", [message(1, sku, 1)])).json()["feedId"]
    api.sandbox.state.advance_feeds(feed_id)
    assert api.get_feed(feed_id)["processingStatus"] == "FATAL"


def test_a_feed_in_queue_can_be_cancelled(api: FeedsApi) -> None:
    sku = sorted(api.sandbox.state.listings)[0]
    content = listings_feed(api.sandbox.state.seller_id, [message(1, sku, 1)])
    feed_id = api.submit(content).json()["feedId"]
    assert api.http.delete(f"{FEEDS}/feeds/{feed_id}").status_code == 200
    assert api.get_feed(feed_id)["processingStatus"] == "CANCELLED"


def test_time_mode_advances_feeds_with_the_state_clock() -> None:
    with AmazonSandbox(skus=10, seed=SEED, feed_mode="time", feed_step_s=30) as sandbox:
        api = FeedsApi(sandbox)
        sku = sorted(sandbox.state.listings)[0]
        feed_id = api.submit(listings_feed(sandbox.state.seller_id, [message(1, sku, 3)]))
        feed_id = feed_id.json()["feedId"]
        first = api.get_feed(feed_id)["processingStatus"]
        sandbox.state.advance(61)
        second = api.get_feed(feed_id)["processingStatus"]
        api.http.close()
    assert (first, second) == ("IN_QUEUE", "DONE")
    assert sandbox.state.listings[sku].quantity == 3


def test_the_sixth_feed_of_a_type_in_five_minutes_is_refused_with_429() -> None:
    with AmazonSandbox(skus=10, seed=SEED, rate_scale=100) as sandbox:
        api = FeedsApi(sandbox)
        sku = sorted(sandbox.state.listings)[0]
        content = listings_feed(sandbox.state.seller_id, [message(1, sku, 1)])
        statuses = [api.submit(content).status_code for _ in range(6)]
        sandbox.state.advance(301)
        later = api.submit(content).status_code
        api.http.close()
    assert statuses == [202] * 5 + [429]
    assert later == 202


def test_create_feed_with_an_unknown_document_is_400(api: FeedsApi) -> None:
    answer = api.http.post(
        f"{FEEDS}/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [api.creds["marketplace_id"]],
            "inputFeedDocumentId": "nope",
        },
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "InvalidInput"
