"""From hints to runs: commit wait, re-read from Odoo (the emulator), coalescing, submission."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.stream import HintCoalescer, OdooQuantReader, QuantHint
from inventory_pipelines.stream.runs import GraphQLRunSubmitter
from inventory_pipelines_tests.stream_push.conftest import RecordingSubmitter

CHANNELS = load_policy().channels.names()


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooSandbox]:
    with OdooSandbox(version=17, skus=60, seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def client(odoo: OdooSandbox) -> Iterator[OdooClient]:
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as c:
        yield c


def _quants(odoo: OdooSandbox, n: int) -> list[tuple[int, str, float, int]]:
    """`n` quants of distinct SKUs: id, SKU, quantity, product id."""
    state = odoo.state
    quants, products = state.tables["stock.quant"], state.tables["product.product"]
    out, seen = [], set()
    for qid, row in sorted(quants.records.items()):
        pid = row[quants.pos["product_id"]]
        sku = products.records[pid][products.pos["default_code"]]
        if sku and sku not in seen:
            seen.add(sku)
            out.append((qid, sku, row[quants.pos["quantity"]], pid))
        if len(out) == n:
            return out
    raise AssertionError("not enough quants")


def _coalescer(client: OdooClient, submitter, **kwargs) -> HintCoalescer:
    options = {"commit_wait_s": 0.05, "window_s": 0.1, "retry_delays_s": (0.05, 0.1, 0.15)}
    return HintCoalescer(OdooQuantReader(client), submitter, CHANNELS, **{**options, **kwargs})


def test_a_burst_of_hints_becomes_one_run_over_their_skus(odoo, client) -> None:
    submitter = RecordingSubmitter()
    coalescer = _coalescer(client, submitter).start()
    try:
        quants = _quants(odoo, 30)
        for qid, _sku, qty, pid in quants:
            coalescer.offer(QuantHint(qid, qty, pid))
            time.sleep(0.001)
        assert coalescer.drain()
    finally:
        coalescer.stop()
    [(_, run)] = submitter.runs
    assert run.job_name == "refresh_changed_skus"
    assert list(run.skus) == sorted(sku for _, sku, _, _ in quants)
    assert run.run_config == {"resources": {"sku_scope": {"config": {"skus": list(run.skus)}}}}
    assert run.tags == {
        "inventory/fast_path": "true",
        "inventory/trigger": "odoo_push",
        "dagster/asset_partition_range_start": CHANNELS[0],
        "dagster/asset_partition_range_end": CHANNELS[-1],
    }
    assert coalescer.stats.batches == 1 and coalescer.stats.reads == 30


def test_hints_wait_for_the_commit_before_they_are_read(odoo, client) -> None:
    submitter = RecordingSubmitter()
    coalescer = _coalescer(client, submitter, commit_wait_s=0.4).start()
    try:
        [(qid, sku, qty, pid)] = _quants(odoo, 1)
        offered = time.time()
        coalescer.offer(QuantHint(qid, qty, pid))
        assert coalescer.drain()
    finally:
        coalescer.stop()
    [(submitted, run)] = submitter.runs
    assert run.skus == (sku,)
    assert submitted - offered >= 0.4


def test_a_quant_still_showing_its_old_quantity_is_read_again_until_it_commits(
    odoo, client
) -> None:
    submitter = RecordingSubmitter()
    coalescer = _coalescer(client, submitter, retry_delays_s=(0.2, 0.4, 0.8)).start()
    try:
        (late, late_sku, late_qty, late_pid), (ok, ok_sku, ok_qty, ok_pid) = _quants(odoo, 2)
        location = odoo.state.get("stock.quant", late, "location_id")
        # the hint says what the transaction wrote; Odoo still shows the committed row
        coalescer.offer(QuantHint(late, late_qty + 5, late_pid))
        coalescer.offer(QuantHint(ok, ok_qty, ok_pid))
        time.sleep(0.3)
        odoo.state.move_stock(late_sku, location, 5)  # the commit lands
        assert coalescer.drain()
    finally:
        coalescer.stop()
    # the committed quant did not wait for the late one
    assert [run.skus for _, run in submitter.runs] == [(ok_sku,), (late_sku,)]
    assert coalescer.stats.retried >= 1 and coalescer.stats.taken_unconfirmed == 0


def test_a_quant_that_never_shows_the_hint_is_taken_anyway_after_the_retries(odoo, client) -> None:
    submitter = RecordingSubmitter()
    coalescer = _coalescer(client, submitter).start()
    try:
        [(qid, sku, qty, pid)] = _quants(odoo, 1)
        # a transaction that rolled back, or a later change that already landed
        coalescer.offer(QuantHint(qid, qty + 1000, pid))
        assert coalescer.drain()
    finally:
        coalescer.stop()
    assert [run.skus for _, run in submitter.runs] == [(sku,)]
    assert coalescer.stats.reads == 4 and coalescer.stats.taken_unconfirmed == 1


def test_an_unreadable_quant_is_taken_by_its_product_or_left_to_the_sensor(
    odoo, client, caplog
) -> None:
    submitter = RecordingSubmitter()
    coalescer = _coalescer(client, submitter).start()
    try:
        [(_, sku, _, pid)] = _quants(odoo, 1)
        with caplog.at_level(logging.INFO, logger="inventory_pipelines.stream"):
            # a quant created by a transaction that never committed, or deleted since
            coalescer.offer(QuantHint(10**9, 3.0, pid))
            coalescer.offer(QuantHint(10**9 + 1, 3.0, None))
            assert coalescer.drain()
    finally:
        coalescer.stop()
    assert [run.skus for _, run in submitter.runs] == [(sku,)]
    assert coalescer.stats.left_to_sensor == 1
    assert f"quant {10**9 + 1} not readable after 4 read(s)" in caplog.text


def test_a_failed_submission_is_logged_and_left_to_the_sensor(odoo, client, caplog) -> None:
    submitter = RecordingSubmitter(fail_first=1)
    coalescer = _coalescer(client, submitter).start()
    try:
        (q1, _, qty1, p1), (q2, sku2, qty2, p2) = _quants(odoo, 2)
        with caplog.at_level(logging.WARNING, logger="inventory_pipelines.stream"):
            coalescer.offer(QuantHint(q1, qty1, p1))
            assert coalescer.drain()
            coalescer.offer(QuantHint(q2, qty2, p2))
            assert coalescer.drain()
    finally:
        coalescer.stop()
    assert [run.skus for _, run in submitter.runs] == [(sku2,)]
    assert coalescer.stats.submit_failures == 1
    assert "was not submitted (ConnectionError: the webserver is down)" in caplog.text


def test_a_webserver_that_is_down_costs_a_log_line_not_the_path(odoo, client, caplog) -> None:
    # a real submitter at a port where nothing listens
    submitter = GraphQLRunSubmitter("http://127.0.0.1:9", timeout_s=2)
    coalescer = _coalescer(client, submitter).start()
    try:
        [(qid, _, qty, pid)] = _quants(odoo, 1)
        with caplog.at_level(logging.WARNING, logger="inventory_pipelines.stream"):
            coalescer.offer(QuantHint(qid, qty, pid))
            assert coalescer.drain()
    finally:
        coalescer.stop()
    assert coalescer.stats.submit_failures == 1 and coalescer.stats.runs == 0
    assert "the change sensor refreshes them" in caplog.text


def test_a_mass_change_takes_max_skus_per_run_and_leaves_the_rest_to_the_sensor(
    odoo, client
) -> None:
    submitter = RecordingSubmitter()
    coalescer = _coalescer(client, submitter, max_skus_per_run=4, max_waiting=8).start()
    try:
        quants = _quants(odoo, 10)
        for qid, _, qty, pid in quants:
            coalescer.offer(QuantHint(qid, qty, pid))
        assert coalescer.drain()
    finally:
        coalescer.stop()
    # 8 hints waited (2 over max_waiting), 4 of their SKUs went into the one run
    [(_, run)] = submitter.runs
    assert run.skus == tuple(sorted(sku for _, sku, _, _ in quants[:8]))[:4]
    assert coalescer.stats.overflow == 2 + 4


def test_hints_offered_from_many_threads_are_all_settled(odoo, client) -> None:
    submitter = RecordingSubmitter()
    coalescer = _coalescer(client, submitter).start()
    quants = _quants(odoo, 40)
    try:
        threads = [
            threading.Thread(
                target=lambda part=part: [
                    coalescer.offer(QuantHint(q, x, p)) for q, _, x, p in part
                ]
            )
            for part in (quants[i::4] for i in range(4))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert coalescer.drain()
    finally:
        coalescer.stop()
    assert submitter.skus == sorted(sku for _, sku, _, _ in quants)
