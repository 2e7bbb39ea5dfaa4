"""The vendor feed emulator speaks HTTP's conditional requests like a web server, carries its
dirt the same on every render, writes folders atomically, and starts as a process."""

from __future__ import annotations

import json
import subprocess
import sys
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import orjson
import pytest

from inventory_pipelines.sandbox.vendor_feed import VendorFeedSandbox


def test_an_etag_match_is_answered_304_without_a_body(vendors):
    first = httpx.get(vendors.feed_url("acme"))
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/csv")
    again = httpx.get(vendors.feed_url("acme"), headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    other = httpx.get(vendors.feed_url("acme"), headers={"If-None-Match": '"elsewhere"'})
    assert other.status_code == 200
    assert vendors.served_counts() == {200: 2, 304: 1}


def test_if_modified_since_is_honoured_and_ignored_beside_an_etag(vendors):
    first = httpx.get(vendors.feed_url("acme", "json"))
    since = first.headers["Last-Modified"]
    assert (
        httpx.get(
            vendors.feed_url("acme", "json"), headers={"If-Modified-Since": since}
        ).status_code
        == 304
    )
    both = {"If-Modified-Since": since, "If-None-Match": '"elsewhere"'}
    assert httpx.get(vendors.feed_url("acme", "json"), headers=both).status_code == 200


def test_a_change_gives_a_new_etag_and_the_same_dirt_gives_the_same_bytes(vendors):
    vendors.state.set_dirt("acme", negative=2, duplicates=1)
    one, two = (vendors.state.render("acme", "csv") for _ in range(2))
    assert one.body == two.body and one.etag == two.etag
    vendors.state.set_quantity("acme", "AC-001", 999)
    assert vendors.state.render("acme", "csv").etag != one.etag


def test_stale_dirt_dates_the_file_and_its_rows_in_the_past(vendors):
    vendors.state.set_dirt("acme", stale_hours=72)
    response = httpx.get(vendors.feed_url("acme", "json"))
    modified = parsedate_to_datetime(response.headers["Last-Modified"])
    first = orjson.loads(response.content)[0]
    assert (vendors.state.now() - modified).total_seconds() == pytest.approx(72 * 3600, abs=2)
    assert first["updated_at"] == modified.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_truncated_csv_ends_inside_its_last_row(vendors):
    vendors.state.set_dirt("acme", truncated=True)
    body = httpx.get(vendors.feed_url("acme")).content
    assert not body.endswith(b"\n") and body.count(b"\n") == 20  # header and 19 whole rows


def test_a_protected_feed_wants_its_bearer_token(vendors):
    vendors.state.add_feed("secret", [("A", 1)], token="t-1")
    assert httpx.get(vendors.feed_url("secret")).status_code == 401
    ok = httpx.get(vendors.feed_url("secret"), headers={"Authorization": "Bearer t-1"})
    assert ok.status_code == 200


def test_the_control_endpoints_create_a_feed_and_switch_its_dirt(vendors):
    created = httpx.post(
        f"{vendors.url}/sandbox/feeds/west", json={"rows": [["SKU-1", 4]], "dirt": {"negative": 1}}
    )
    assert created.status_code == 200
    assert httpx.get(vendors.feed_url("west")).text.splitlines()[1].startswith("SKU-1,-4,")
    state = httpx.get(f"{vendors.url}/sandbox/state").json()
    assert state["feeds"]["west"]["dirt"] == {"negative": 1}
    refused = httpx.post(f"{vendors.url}/sandbox/feeds/west", json={"dirt": {"mud": 1}})
    assert refused.status_code == 400 and "mud" in refused.json()["error"]
    assert httpx.get(vendors.feed_url("nowhere")).status_code == 404


def test_writing_a_folder_leaves_only_the_finished_file_dated_like_the_feed(vendors, tmp_path):
    vendors.state.set_dirt("acme", stale_hours=5)
    path = vendors.state.write_folder("acme", tmp_path, "json")
    assert [p.name for p in tmp_path.iterdir()] == ["acme.json"]
    rendered = vendors.state.render("acme", "json")
    assert path.read_bytes() == rendered.body
    assert path.stat().st_mtime == pytest.approx(rendered.last_modified.timestamp())


def test_an_outage_is_a_fault_like_the_other_emulators(vendors):
    vendors.faults.set_outage("503")
    assert httpx.get(vendors.feed_url("acme")).status_code == 503
    assert httpx.get(f"{vendors.url}/sandbox/state").status_code == 200  # control is never faulted


@pytest.mark.slow
def test_the_emulator_runs_as_a_process_and_announces_its_feeds():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inventory_pipelines.sandbox.vendor_feed",
            "--port",
            "0",
            "--feed",
            "bright-dropship",
            "--rows",
            "5",
            "--pattern",
            "BDS {n:06d}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        announced = json.loads(proc.stdout.readline())
        url = announced["feeds"]["bright-dropship"]
        lines = httpx.get(url).text.splitlines()
        assert lines[0] == "code,quantity,updated_at" and lines[1].startswith("BDS 000001,")
        assert len(lines) == 6
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_http_dates_round_trip(vendors):
    modified = vendors.state.get("acme").modified_at
    header = httpx.get(vendors.feed_url("acme")).headers["Last-Modified"]
    assert header == format_datetime(modified, usegmt=True)


def test_a_sandbox_without_a_port_has_no_url():
    with pytest.raises(RuntimeError, match="not started"):
        _ = VendorFeedSandbox().url
