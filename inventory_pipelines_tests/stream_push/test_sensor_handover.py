"""The change sensor hands its critical SKUs to a receiver that executes fast runs itself.

The receiver's route on a real loopback server, a real coalescer reading the Odoo emulator,
and the real sensor evaluated on a real instance (the stream tests' fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.stream import (
    HintCoalescer,
    OdooQuantReader,
    PushStats,
    push_routes,
)
from inventory_pipelines.stream.handoff import RECEIVER_URL_ENV
from inventory_pipelines_tests.stream.conftest import stream  # noqa: F401 (a fixture)
from inventory_pipelines_tests.stream.support import Stream
from inventory_pipelines_tests.stream.test_change_sensor import STOCK, run_requests, write_tables
from inventory_pipelines_tests.stream_push.conftest import RecordingSubmitter, Served

TOKEN = "0123456789abcdef-handover-token"
CHANNELS = load_policy().channels.names()


@dataclass
class Receiver:
    url: str
    coalescer: HintCoalescer
    submitter: RecordingSubmitter
    stats: PushStats


def _receiver(odoo: OdooSandbox, *, max_skus_per_run: int = 500) -> Iterator[Receiver]:
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    submitter = RecordingSubmitter()
    with OdooClient(config) as client:
        coalescer = HintCoalescer(
            OdooQuantReader(client),
            submitter,
            CHANNELS,
            commit_wait_s=0.05,
            retry_delays_s=(0.05,),
            max_skus_per_run=max_skus_per_run,
        )
        coalescer.takes_skus = True
        coalescer.start()
        stats = PushStats()
        served = Served(push_routes(TOKEN, coalescer, stats))
        try:
            yield Receiver(served.url, coalescer, submitter, stats)
        finally:
            served.stop()
            coalescer.stop()


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooSandbox]:
    with OdooSandbox(version=17, skus=40, seed=4) as sandbox:
        yield sandbox


@pytest.fixture
def receiver(odoo: OdooSandbox) -> Iterator[Receiver]:
    yield from _receiver(odoo)


def _hand(receiver: Receiver, body: object, token: str = TOKEN) -> httpx.Response:
    return httpx.post(f"{receiver.url}/odoo/{token}/skus", json=body, timeout=5)


def test_skus_handed_over_go_into_one_run_at_once_tagged_with_who_handed_them(receiver) -> None:
    answer = _hand(
        receiver, {"skus": ["SKU-000002", "SKU-000001"], "trigger": "odoo_change_sensor"}
    )
    assert answer.status_code == 202 and answer.json() == {"accepted": 2}
    assert receiver.coalescer.drain()
    [(_, run)] = receiver.submitter.runs
    assert run.skus == ("SKU-000001", "SKU-000002")
    assert run.tags["inventory/trigger"] == "odoo_change_sensor"
    assert run.tags["inventory/fast_path"] == "true"
    assert receiver.coalescer.stats.reads == 0  # read after Odoo's commit already: no re-read


def test_more_skus_than_a_run_takes_become_several_runs_and_none_is_left_over(odoo) -> None:
    for receiver in _receiver(odoo, max_skus_per_run=3):
        skus = [f"SKU-{n:06d}" for n in range(1, 9)]
        assert _hand(receiver, {"skus": skus, "trigger": "odoo_change_sensor"}).status_code == 202
        assert receiver.coalescer.drain()
        assert [len(run.skus) for _, run in receiver.submitter.runs] == [3, 3, 2]
        assert receiver.submitter.skus == skus


@pytest.mark.parametrize(
    "body",
    [
        {"skus": [], "trigger": "odoo_change_sensor"},
        {"skus": [""], "trigger": "odoo_change_sensor"},
        {"skus": "SKU-000001", "trigger": "odoo_change_sensor"},
        {"skus": ["SKU-000001"]},
        {"skus": ["SKU-000001"], "trigger": "DROP TABLE"},
        {"skus": ["SKU-000001"], "trigger": "x", "extra": 1},
    ],
)
def test_a_body_that_is_not_skus_with_a_trigger_is_422_and_runs_nothing(receiver, body) -> None:
    answer = _hand(receiver, body)
    assert answer.status_code == 422, answer.text
    assert receiver.coalescer.drain() and receiver.submitter.runs == []


def test_a_wrong_token_is_401_and_a_receiver_that_queues_its_runs_answers_503(receiver) -> None:
    body = {"skus": ["SKU-000001"], "trigger": "odoo_change_sensor"}
    assert _hand(receiver, body, token="not-the-token-at-all").status_code == 401
    receiver.coalescer.takes_skus = False  # runs_in: instance, or no DAGSTER_HOME
    assert _hand(receiver, body).status_code == 503
    assert receiver.coalescer.drain() and receiver.submitter.runs == []


def _sensor_sees_critical_changes(on: Stream) -> list[str]:
    """Changes the sensor routes as in the stream tests: a fast mover, a low-stock SKU, a fall
    to low stock (critical), and two plain SKUs (marked dirty: nothing ordered them here)."""
    skus = {
        "fast": "SKU-000001",
        "low": "SKU-000002",
        "ordered": "SKU-000003",
        "drop": "SKU-000004",
        "plain": "SKU-000006",
    }
    held = write_tables(on, skus)["drop"]
    on.evaluate()
    on.at(10)
    for role in ("fast", "low", "ordered", "plain"):
        on.odoo.state.move_stock(skus[role], STOCK, 1)
    on.odoo.state.move_stock(skus["drop"], STOCK, -(held - 2))
    return sorted(skus[r] for r in ("fast", "low", "drop"))


def test_the_sensor_hands_its_critical_skus_to_the_receiver_and_requests_no_run(
    stream,  # noqa: F811 (the stream tests' fixture)
    monkeypatch,
) -> None:
    for receiver in _receiver(stream.odoo):
        monkeypatch.setenv(RECEIVER_URL_ENV, receiver.url)
        monkeypatch.setenv("INVENTORY_ODOO_WEBHOOK_TOKEN", TOKEN)
        critical = _sensor_sees_critical_changes(stream)
        result = stream.evaluate()
        assert run_requests(result) == []
        assert "3 critical handed to the receiver" in result.skip_reason.skip_message
        assert receiver.coalescer.drain()
        assert receiver.submitter.skus == critical
        [(_, run)] = receiver.submitter.runs
        assert run.tags["inventory/trigger"] == "odoo_change_sensor"


def test_with_the_receiver_down_the_sensor_requests_the_runs_itself(
    stream,  # noqa: F811 (the stream tests' fixture)
    monkeypatch,
) -> None:
    for receiver in _receiver(stream.odoo):
        url = receiver.url
    monkeypatch.setenv(RECEIVER_URL_ENV, url)  # stopped: nothing answers there now
    monkeypatch.setenv("INVENTORY_ODOO_WEBHOOK_TOKEN", TOKEN)
    critical = _sensor_sees_critical_changes(stream)
    [request] = run_requests(stream.evaluate())
    assert request.run_config["resources"]["sku_scope"]["config"]["skus"] == critical
