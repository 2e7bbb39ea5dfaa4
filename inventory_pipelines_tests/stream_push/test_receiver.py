"""``POST /odoo/<token>``: the token first, an answer in milliseconds, the work after."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.stream import HintCoalescer, OdooQuantReader, PushStats, push_routes
from inventory_pipelines.stream.setup import (
    SANDBOX_ODOO_WEBHOOK_TOKEN,
    PushConfigError,
    push_path,
    push_token,
)
from inventory_pipelines_tests.stream_push.conftest import RecordingSubmitter, Served

TOKEN = "0123456789abcdef-test-token"
COMMIT_WAIT_S = 0.3


@dataclass
class Receiver:
    url: str
    odoo: OdooSandbox
    coalescer: HintCoalescer
    submitter: RecordingSubmitter
    stats: PushStats


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooSandbox]:
    with OdooSandbox(version=17, skus=40, seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def receiver(odoo: OdooSandbox) -> Iterator[Receiver]:
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    submitter = RecordingSubmitter()
    with OdooClient(config) as client:
        coalescer = HintCoalescer(
            OdooQuantReader(client),
            submitter,
            load_policy().channels.names(),
            commit_wait_s=COMMIT_WAIT_S,
            retry_delays_s=(0.05, 0.05, 0.05),
        ).start()
        stats = PushStats()
        served = Served(push_routes(TOKEN, coalescer, stats))
        try:
            yield Receiver(served.url, odoo, coalescer, submitter, stats)
        finally:
            served.stop()
            coalescer.stop()


def _quant(odoo: OdooSandbox) -> tuple[int, str, float, int]:
    state = odoo.state
    quants, products = state.tables["stock.quant"], state.tables["product.product"]
    for qid, row in sorted(quants.records.items()):
        pid = row[quants.pos["product_id"]]
        sku = products.records[pid][products.pos["default_code"]]
        if sku:
            return qid, sku, row[quants.pos["quantity"]], pid
    raise AssertionError("no quant with a SKU")


def _hint(quant_id: int, quantity: float, product_id: int) -> bytes:
    return orjson.dumps(
        {
            "_action": "Send Webhook Notification(#1)",
            "_id": quant_id,
            "_model": "stock.quant",
            "id": quant_id,
            "product_id": product_id,
            "quantity": quantity,
        }
    )


@pytest.mark.bad_input
def test_a_wrong_or_missing_token_is_401_and_nothing_is_kept(receiver: Receiver) -> None:
    qid, _, qty, pid = _quant(receiver.odoo)
    body = _hint(qid, qty, pid)
    for path in ("/odoo/wrong-token-of-some-length", f"/odoo/{TOKEN}x", "/odoo/", "/odoo"):
        answer = httpx.post(receiver.url + path, content=body, follow_redirects=False)
        assert answer.status_code == 401, path
    time.sleep(COMMIT_WAIT_S + 0.2)
    assert receiver.stats.rejected_token == 4 and receiver.stats.accepted == 0
    assert receiver.coalescer.stats.hints == 0
    assert receiver.submitter.runs == []


def test_a_hint_is_answered_in_milliseconds_and_read_back_after_the_commit_wait(
    receiver: Receiver,
) -> None:
    qid, sku, qty, pid = _quant(receiver.odoo)
    requests_before = receiver.odoo.request_count
    with httpx.Client(base_url=receiver.url) as http:
        http.get("/")  # the connection is up: what follows is the answer alone
        started = time.perf_counter()
        answer = http.post(f"/odoo/{TOKEN}", content=_hint(qid, qty, pid))
        took = time.perf_counter() - started
    answered = time.time()
    assert (answer.status_code, answer.json()) == (202, {"accepted": qid})
    # before the commit wait it gives the re-read (behaviour, not speed: a loaded suite on two
    # cores can take a tenth of a second for any loopback request)
    assert took < COMMIT_WAIT_S, f"answered in {took * 1000:.1f} ms"
    # nothing was read from Odoo to answer
    assert receiver.odoo.request_count == requests_before
    assert receiver.coalescer.drain()
    [(submitted, run)] = receiver.submitter.runs
    assert run.skus == (sku,)
    assert submitted - answered >= COMMIT_WAIT_S - 0.05
    assert receiver.odoo.request_count > requests_before


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not json", 400, "not JSON"),
        (b"[1, 2]", 400, "not a JSON object"),
        (b'{"_model": "res.partner", "_id": 3}', 422, "_model must be 'stock.quant'"),
        (b'{"_model": "stock.quant"}', 422, "_id must be"),
        (b'{"_model": "stock.quant", "_id": "7"}', 422, "_id must be"),
        (b'{"_model": "stock.quant", "_id": -1}', 422, "_id must be"),
        (b'{"_model": "stock.quant", "_id": true}', 422, "_id must be"),
        (b'{"_model": "stock.quant", "_id": 7, "quantity": "12"}', 422, "quantity must be"),
        (b'{"_model": "stock.quant", "_id": 7, "product_id": "x"}', 422, "product_id must be"),
    ],
)
@pytest.mark.bad_input
def test_a_body_that_is_not_a_quant_hint_is_4xx_and_never_queued(
    receiver: Receiver, body: bytes, status: int, says: str
) -> None:
    answer = httpx.post(f"{receiver.url}/odoo/{TOKEN}", content=body)
    assert answer.status_code == status
    assert says in answer.json()["error"]
    assert receiver.stats.refused == 1 and receiver.coalescer.stats.hints == 0


@pytest.mark.bad_input
def test_a_huge_body_is_413(receiver: Receiver) -> None:
    body = b'{"_model": "stock.quant", "_id": 1, "x": "' + b"a" * 300_000 + b'"}'
    answer = httpx.post(f"{receiver.url}/odoo/{TOKEN}", content=body)
    assert answer.status_code == 413 and receiver.coalescer.stats.hints == 0


def test_a_hint_for_an_unknown_quant_is_accepted_and_left_to_the_sensor(
    receiver: Receiver,
) -> None:
    answer = httpx.post(
        f"{receiver.url}/odoo/{TOKEN}",
        content=b'{"_model": "stock.quant", "_id": 987654321, "_action": "x(#1)"}',
    )
    assert answer.status_code == 202
    assert receiver.coalescer.drain()
    assert receiver.coalescer.stats.left_to_sensor == 1
    assert receiver.submitter.runs == []


@pytest.mark.bad_input
def test_the_token_locally_defaults_to_the_sandbox_one_and_elsewhere_must_be_set(
    monkeypatch,
) -> None:
    monkeypatch.setenv("INVENTORY_ENV", "local")
    assert push_token({}) == SANDBOX_ODOO_WEBHOOK_TOKEN
    monkeypatch.setenv("INVENTORY_ENV", "prod")
    assert push_token({}) is None
    path, why = push_path(env={"ODOO_URL": "https://erp.example.com"})
    assert path is None and "INVENTORY_ODOO_WEBHOOK_TOKEN is not set" in why
    with pytest.raises(PushConfigError, match="shorter than 16") as caught:
        push_token({"INVENTORY_ODOO_WEBHOOK_TOKEN": "s3cret"})
    assert "s3cret" not in str(caught.value)


def test_the_rules_can_switch_the_push_off(tmp_path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(load_policy().root, rules)
    (rules / "automation.yml").write_text("push:\n  enabled: false\n")
    path, why = push_path(policy=load_policy(rules))
    assert path is None and why == "off in automation.yml (push.enabled: false)"
