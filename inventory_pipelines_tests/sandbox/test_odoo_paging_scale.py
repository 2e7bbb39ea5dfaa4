"""Keyset paging over 100,000 SKUs costs O(page), in the models layer and over HTTP.

Measurements, printed rather than asserted as timings (machines differ): what must hold is
that a page examines about as many rows as it returns, wherever it starts.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time

import httpx
import orjson
import pytest

from inventory_pipelines.sandbox.demo_data import build_state

pytestmark = pytest.mark.slow

SKUS = 100_000
PAGE = 10_000
DOMAIN = [("location_id.usage", "in", ["internal", "transit"])]
FIELDS = ["product_id", "location_id", "lot_id", "quantity", "reserved_quantity", "write_date"]


def test_keyset_pages_examine_only_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    state = build_state(17, skus=SKUS, seed=1)
    build_seconds = time.perf_counter() - started
    total = len(state.tables["stock.quant"].ids)
    last, pages, rows_read = 0, [], 0
    while True:
        started = time.perf_counter()
        rows = state.call(
            "stock.quant",
            "search_read",
            [[("id", ">", last), *DOMAIN], FIELDS],
            {"limit": PAGE, "order": "id"},
        )
        elapsed = time.perf_counter() - started
        if not rows:
            break
        pages.append((elapsed, state.last_search_examined, len(rows)))
        rows_read += len(rows)
        last = rows[-1]["id"]
    full = [p for p in pages if p[2] == PAGE]
    for _elapsed, examined, _returned in full:
        # a full page examines its rows plus the few non-internal quants it skips; the last
        # page also walks the partner-location quants the demo data appends at the end
        assert examined <= PAGE * 1.1
    with capsys.disabled():
        print(
            f"\n[odoo sandbox] {SKUS:,} SKUs -> {total:,} quants built in {build_seconds:.1f}s; "
            f"models layer: {rows_read:,} quants in {len(pages)} pages of {PAGE:,}: "
            f"first page {full[0][0] * 1000:.0f} ms, last full page {full[-1][0] * 1000:.0f} ms, "
            f"{rows_read / sum(p[0] for p in pages):,.0f} quants/s"
        )
    # the tables hold reference cycles: free them now, not during the next test's timings
    del state
    gc.collect()


def test_json_rpc_throughput_with_the_server_in_another_process(
    capsys: pytest.CaptureFixture[str],
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inventory_pipelines.sandbox.odoo",
            "--port",
            "0",
            "--version",
            "17",
            "--skus",
            str(SKUS),
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        credentials = json.loads(process.stdout.readline())
        url = credentials["url"] + "/jsonrpc"
        with httpx.Client(timeout=120) as client:
            last, read, started, pages = 0, 0, time.perf_counter(), []
            while True:
                body = {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {
                        "service": "object",
                        "method": "execute_kw",
                        "args": [
                            credentials["db"],
                            2,
                            credentials["password"],
                            "stock.quant",
                            "search_read",
                            [[("id", ">", last), *DOMAIN], FIELDS],
                            {"limit": PAGE, "order": "id"},
                        ],
                    },
                }
                page_started = time.perf_counter()
                response = client.post(
                    url, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
                )
                rows = orjson.loads(response.content)["result"]
                pages.append(time.perf_counter() - page_started)
                if not rows:
                    break
                read += len(rows)
                last = rows[-1]["id"]
            elapsed = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert read > 3 * SKUS * 0.9
    with capsys.disabled():
        print(
            f"\n[odoo sandbox] JSON-RPC, server in another process: {read:,} quants in "
            f"{elapsed:.2f}s = {read / elapsed:,.0f} quants/s (pages of {PAGE:,}: first "
            f"{pages[0] * 1000:.0f} ms, last full {pages[-2] * 1000:.0f} ms)"
        )
