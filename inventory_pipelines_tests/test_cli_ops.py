"""`inventory-sync status`, `inventory-sync audit` and the progress of `sync` on a terminal."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time

import polars as pl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.ledger import audit, create_engine, migrate, outbox
from inventory_pipelines.ledger.schema import outbox as outbox_table
from inventory_pipelines.ledger.schema import published_state
from inventory_pipelines.reconciliation.drift import DRIFT_SCHEMA, READ_BACK_SCHEMA

CLI = [sys.executable, "-m", "inventory_pipelines.cli"]
CHANNELS = ["shopify", "woocommerce", "amazon", "pos", "b2b"]
CHANNEL_KEYS = {
    "kind", "last_publish", "last_publish_run", "updates_waiting", "dead_letters", "drift",
    "orders", "channel_jobs", "circuit", "publishing", "last_error",
}  # fmt: skip


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> str:
    """An empty ledger and an empty data plane folder, no Dagster instance."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("INVENTORY_LEDGER_URL", url)
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    migrate(url)
    return url


def invoke(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def status_json(*args: str) -> dict:
    return json.loads(invoke("status", "--json", *args).stdout)


def dead_lettered_publish(url: str, channel: str) -> None:
    """One update to `channel` that failed its only attempt: dead-lettered."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            update = {"listing_id": "L1", "sku": "S1", "quantity": 0}
            outbox.enqueue_round(conn, channel, "round-1", [update])
            (batch,) = outbox.pending_batches(conn, channel, max_batch=1)
            outbox.mark_sent(conn, batch.batch_key)
            outbox.retry_or_dead_letter(conn, batch.batch_key, "HTTP 503 from the channel", 1)
    finally:
        engine.dispose()


def test_status_of_an_empty_ledger_without_tables_says_never_published_and_exits_0(ledger):
    lines = invoke("status").stdout.splitlines()
    assert lines[0].split()[:2] == ["CHANNEL", "LAST"]
    rows = {line.split()[0]: line for line in lines[1 : 1 + len(CHANNELS)]}
    assert list(rows) == CHANNELS
    assert all("never published" in row and "never measured" in row for row in rows.values())


def test_status_json_has_the_same_keys_for_every_channel_empty_or_not(ledger):
    dead_lettered_publish(ledger, "amazon")
    found = status_json()
    assert set(found) == {
        "generated_at", "channels", "failed_runs", "fences", "odoo_circuit", "sources", "notes",
    }  # fmt: skip
    assert found["fences"] is None  # no allocation has based them yet
    assert list(found["channels"]) == CHANNELS
    assert all(set(channel) == CHANNEL_KEYS for channel in found["channels"].values())
    shopify = found["channels"]["shopify"]
    assert shopify["last_publish"] == {
        "acknowledged_at": None, "lag_s": None, "listings_acknowledged": 0,
    }  # fmt: skip
    assert shopify["drift"] is None and shopify["last_publish_run"] is None
    assert set(found["channels"]["amazon"]["dead_letters"]) == {
        "open", "publish", "order", "oldest_at",
    }  # fmt: skip


def test_status_shows_an_open_dead_letter_and_its_error_on_its_channel_only(ledger):
    dead_lettered_publish(ledger, "amazon")
    channels = status_json()["channels"]
    amazon = channels["amazon"]
    assert amazon["dead_letters"]["open"] == amazon["dead_letters"]["publish"] == 1
    assert amazon["last_error"]["where"] == "outbox"
    assert "HTTP 503" in amazon["last_error"]["error"]
    assert all(channels[c]["dead_letters"]["open"] == 0 for c in CHANNELS if c != "amazon")
    (row,) = [line for line in invoke("status").stdout.splitlines() if line.startswith("amazon")]
    assert re.search(r"\b1 \(oldest .* ago\)", row) and "HTTP 503" in row
    assert status_json("--channel", "amazon")["channels"].keys() == {"amazon"}


def test_status_shows_an_open_circuit_and_who_is_publishing(ledger):
    """The circuit every run shares, and the publish lease, from the ledger."""
    from inventory_pipelines.ledger import circuits, create_engine, leases

    engine = create_engine(ledger)
    try:
        with engine.connect() as conn:
            for _ in range(circuits.FAILURES_TO_OPEN):
                circuits.record_failure(conn, "woocommerce", "ChannelUnavailableError: HTTP 502")
            leases.try_acquire(conn, "shopify", "run 4f1c2d3e@worker-1:7:ab")
    finally:
        engine.dispose()
    channels = status_json()["channels"]
    woo = channels["woocommerce"]["circuit"]
    assert woo["state"] == "open" and woo["failures"] == circuits.FAILURES_TO_OPEN
    assert "HTTP 502" in woo["last_error"] and woo["retry_at"] > woo["opened_at"]
    assert channels["shopify"]["circuit"]["state"] == "closed"
    assert channels["shopify"]["publishing"]["holder"] == "run 4f1c2d3e@worker-1:7:ab"
    assert channels["woocommerce"]["publishing"] is None
    text = invoke("status").stdout
    (row,) = [line for line in text.splitlines() if line.startswith("woocommerce")]
    assert re.search(r"OPEN, next probe in \d+(\.\d)?s", row)
    assert re.search(r"woocommerce: open since .* after 3 failure\(s\): .*HTTP 502", text)
    assert "shopify: run 4f1c2d3e@worker-1:7:ab since" in text


def test_status_names_the_fenced_channels_not_yet_published_under_changed_shares(ledger):
    from inventory_pipelines.ledger import fences

    engine = create_engine(ledger)
    try:
        with engine.connect() as conn:
            fences.current_epoch(conn, json.dumps({"amazon": 30, "shopify": 40}))
            assert status_json()["fences"]["unsettled"] == []  # the first shares
            fences.current_epoch(conn, json.dumps({"amazon": 20, "shopify": 50}))
            epoch = fences.latest_epoch(conn)
            assert epoch is not None
            fences.mark_settled(conn, "shopify", epoch)
    finally:
        engine.dispose()
    found = status_json()["fences"]
    assert found["shares_changed"] is True and found["unsettled"] == ["amazon"]
    text = invoke("status").stdout
    assert re.search(
        r"fence shares changed at .*Z; not yet published whole under them: amazon\.", text
    )


def test_status_lists_the_failed_runs_the_run_failure_sensor_recorded_newest_first(ledger):
    summary = {
        "run_id": "4f1c2d3e-0000", "job": "reconcile_all", "partition": None,
        "channels": ["shopify", "b2b"], "trigger": "nightly_reconciliation",
        "failed_steps": [{"step": "odoo__stock_quants", "error": "OdooUnavailableError: down"}],
        "message": "Execution of run for \"reconcile_all\" failed.",
    }  # fmt: skip
    older = {**summary, "run_id": "older", "job": "poll_orders"}
    for after in (older, summary):
        audited(ledger, entry("run.failed", actor="dagster", entity=f"run/{after['run_id']}",
                              after=after))  # fmt: skip
    runs = status_json()["failed_runs"]
    assert [(r["run_id"], r["job"]) for r in runs] == [
        ("4f1c2d3e-0000", "reconcile_all"), ("older", "poll_orders"),
    ]  # fmt: skip
    assert runs[0]["failed_steps"] == summary["failed_steps"]
    assert re.search(
        r"reconcile_all \(shopify\.\.b2b\)  odoo__stock_quants: OdooUnavailableError: down",
        invoke("status").stdout,
    )


def test_status_with_an_unreachable_ledger_is_one_line_without_its_password(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"postgresql://ops:s3cret@127.0.0.1:{port}/ledger")
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: the ledger at postgresql+psycopg://ops:***@127.0.0.1:")
    assert "s3cret" not in result.output and "Traceback" not in result.output


def drift_partition(store: TableStore, channel: str, causes: list[str], listings: int) -> None:
    """A materialized drift of `channel` with one row per cause, and its read-back."""
    at = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)
    rows = [
        {"channel": channel, "sku": f"S{i}", "listing_id": f"L{i}", "expected": 5, "actual": 2,
         "difference": -3, "cause": cause, "acknowledged": 5, "detail": "", "observed_at": at}
        for i, cause in enumerate(causes)
    ]  # fmt: skip
    store.write(("reconciliation", "drift"), pl.DataFrame(rows, schema=DRIFT_SCHEMA), channel)
    read_back = [
        {"channel": channel, "listing_id": f"L{i}", "sku": f"S{i}", "quantity": 2, "read_at": at}
        for i in range(listings)
    ]
    store.write(
        ("reconciliation", "channel_stock"),
        pl.DataFrame(read_back, schema=READ_BACK_SCHEMA),
        channel,
    )


def test_status_judges_the_data_planes_last_drift_as_the_drift_check_does(ledger, tmp_path):
    store = TableStore(tmp_path / "tables")
    drift_partition(store, "pos", ["missed_update", "missed_update", "channel_edit"], 1000)
    drift = status_json()["channels"]["pos"]["drift"]
    assert drift["source"] == "data_plane"
    assert (drift["drift_skus"], drift["drift_units"], drift["listings_compared"]) == (3, 9, 1000)
    assert drift["by_cause"]["missed_update"] == 2 and drift["by_cause"]["channel_edit"] == 1
    # automation.yml's shipped thresholds: WARN above 0 drifting SKUs
    assert drift["level"] == "warn" and drift["measured_at"].startswith("2026-05-01T02:00")
    assert "3 SKUs, 9 units, WARN" in invoke("status").stdout


@pytest.mark.slow
def test_status_takes_the_last_publish_and_drift_from_the_dagster_instance_when_set(
    ledger, tmp_path, monkeypatch
):
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:  # what the publish and the drift assets record
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=["inventory", "published_channel_state"],
                partition="shopify",
                metadata={
                    "change_to_ack_p50_s": 1.5,
                    "change_to_ack_p95_s": 4.0,
                    "change_to_ack_count": 12,
                    "channels": dg.MetadataValue.json({"shopify": {"sent": 12, "failed": 0}}),
                },
            )
        )
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=["reconciliation", "drift"],
                partition="shopify",
                metadata={"listings_compared": 400, "drift_skus": 60, "drift_units": 75,
                          "drift_channel_edit": 60},
            )
        )  # fmt: skip
    channels = status_json()["channels"]
    run = channels["shopify"]["last_publish_run"]
    assert (run["change_to_ack_p50_s"], run["change_to_ack_count"], run["sent"]) == (1.5, 12, 12)
    drift = channels["shopify"]["drift"]
    assert (drift["source"], drift["drift_skus"], drift["level"]) == ("dagster", 60, "error")
    assert channels["woocommerce"]["last_publish_run"] is None
    assert "change-to-ack p50 1.5s, p95 4.0s over 12 update(s)" in invoke("status").stdout


# --- audit -----------------------------------------------------------------------------------


def audited(url: str, *entries: dict) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [audit.record(conn, **entry) for entry in entries]
    finally:
        engine.dispose()


def entry(action: str, **values) -> dict:
    return {"actor": "alice", "source": "cli", "action": action, "entity": "thing/1", **values}


def test_audit_prints_the_newest_rows_first_and_json_gives_the_same_rows(ledger):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    first, second, third = audited(
        ledger,
        entry("dead_letter.discarded", at=old, before={"channel": "amazon", "status": "open"}),
        entry("override.requested", actor="bob", after={"channel": "amazon", "sku": "S1"}),
        entry("publish.acknowledged", source="shopify", entity="published_state/shopify/L1"),
    )
    rows = json.loads(invoke("audit", "--json").stdout)
    assert [r["id"] for r in rows] == [third, second, first]
    assert set(rows[0]) == {
        "id", "at", "actor", "source", "action", "entity", "correlation_id", "before", "after",
    }  # fmt: skip
    plain = invoke("audit").stdout.splitlines()
    assert [line.split()[2] for line in plain if not line.startswith(" ")] == [
        f"#{third}", f"#{second}", f"#{first}",
    ]  # fmt: skip
    recent = json.loads(invoke("audit", "--json", "--since", "1d", "--channel", "amazon").stdout)
    assert [r["id"] for r in recent] == [second]
    by_bob = json.loads(invoke("audit", "--json", "--actor", "bob", "--sku", "S1").stdout)
    assert [r["id"] for r in by_bob] == [second]
    assert invoke("audit", "--action", "nothing.*").stdout.strip() == "no audit row matches"


def test_audit_never_shows_a_credential_a_stored_row_carries_in_a_url(ledger):
    audited(
        ledger,
        entry(
            "run.failed",
            after={"message": "GET https://sync:hunter2@shop.example/x?access_token=abc123 failed"},
        ),
    )
    for args in (["audit"], ["audit", "--json"]):
        out = invoke(*args).stdout
        assert "hunter2" not in out and "abc123" not in out
        assert "sync:***@shop.example" in out and "access_token=***" in out


@pytest.mark.bad_input
def test_audit_refuses_a_time_that_is_not_one_and_an_unknown_channel(ledger):
    bad_time = CliRunner().invoke(main, ["audit", "--since", "yesterday"])
    assert bad_time.exit_code == 2 and "'yesterday' is not a time" in bad_time.stderr
    bad_channel = CliRunner().invoke(main, ["audit", "--channel", "shopfy"])
    assert bad_channel.exit_code == 2 and "unknown channel 'shopfy'" in bad_channel.stderr
    backwards = CliRunner().invoke(main, ["audit", "--since", "1h", "--until", "2h"])
    assert backwards.exit_code == 2 and "is after --until" in backwards.stderr


# --- after a real sync of the sandbox ---------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The sandbox (30 SKUs) and the environment that points the CLI at it."""
    root = tmp_path_factory.mktemp("ops")
    env = {
        **os.environ,
        "INVENTORY_DATA_DIR": str(root / "tables"),
        "INVENTORY_LEDGER_URL": f"sqlite:///{root / 'ledger.sqlite'}",
    }
    for name in ("ODOO_API_KEY", "DAGSTER_HOME"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [*CLI, "sandbox", "up", "--port-base", "0", "--skus", "30"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    json.loads(proc.stdout.readline())
    yield env
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_status_after_a_sandbox_sync_shows_what_the_ledger_holds(sandbox):
    synced = subprocess.run(
        [*CLI, "sync", "--json"], env=sandbox, capture_output=True, text=True, timeout=300
    )
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert synced.stderr == ""  # not a terminal: no progress, and Dagster's log is off
    shown = subprocess.run([*CLI, "status", "--json"], env=sandbox, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    channels = json.loads(shown.stdout)["channels"]
    engine = create_engine(sandbox["INVENTORY_LEDGER_URL"])
    store = TableStore(sandbox["INVENTORY_DATA_DIR"])
    try:
        with engine.connect() as conn:
            for name, channel in channels.items():
                acked, listings, waiting = conn.execute(
                    sa.select(
                        sa.select(sa.func.max(outbox_table.c.acknowledged_at))
                        .where(outbox_table.c.channel == name)
                        .scalar_subquery(),
                        sa.select(sa.func.count())
                        .where(published_state.c.channel == name)
                        .scalar_subquery(),
                        sa.select(sa.func.count())
                        .where(
                            outbox_table.c.channel == name,
                            outbox_table.c.status.in_(("pending", "sent", "failed")),
                        )
                        .scalar_subquery(),
                    )
                ).one()
                last = channel["last_publish"]
                assert acked is not None and listings > 0
                assert last["acknowledged_at"] == acked.replace(tzinfo=dt.UTC).isoformat()
                assert last["listings_acknowledged"] == listings
                assert 0 <= last["lag_s"] < 600
                assert channel["updates_waiting"]["count"] == waiting == 0
                assert channel["dead_letters"]["open"] == 0
                drift = store.read(("reconciliation", "drift"), name)
                assert channel["drift"]["drift_skus"] == drift.height
                assert channel["drift"]["source"] == "data_plane"
    finally:
        engine.dispose()


def read_terminal(master: int, proc: subprocess.Popen, timeout: float) -> str:
    """Everything written to the terminal `master` until `proc` ends."""
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_sync_draws_its_steps_on_a_terminal_and_keeps_stdout_for_its_table(sandbox):
    master, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "sync"], env=sandbox, stdout=subprocess.PIPE, stderr=terminal, text=True
    )
    os.close(terminal)
    try:
        shown = read_terminal(master, proc, timeout=300)
        stdout = proc.stdout.read()
        assert proc.wait(timeout=60) == 0, shown[-2000:]
    finally:
        os.close(master)
    # a terminal line is what is left after its last carriage return (the live line redrawn)
    lines = [line.rstrip("\r").split("\r")[-1].replace("\x1b[K", "") for line in shown.split("\n")]
    lines = [line for line in lines if line]
    counters = [re.match(r"\s*\[\s*(\d+)/(\d+)\] (\S+)  ", line) for line in lines]
    done = [m for m in counters if m]
    assert done and int(done[-1][1]) == int(done[-1][2])  # every step ended, each on its line
    assert [m[1] for m in done] == [str(n) for n in range(1, len(done) + 1)]
    (publish,) = [line for line in lines if "] inventory/published_channel_state  " in line]
    assert re.search(r"nothing to send|(\w+ \d+/\d+, )+\w+ \d+/\d+", publish)
    assert lines[0].startswith("sync: shopify, woocommerce, amazon, pos, b2b")
    assert re.match(r"sync: run done in \S+", lines[-1])
    assert "dagster - DEBUG" not in shown
    assert [line.split(":")[0] for line in stdout.splitlines()] == CHANNELS


# --- the runbook ------------------------------------------------------------------------------


def runbook() -> str:
    from inventory_pipelines.settings import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    return text.split("\n## Runbook\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.slow
def test_the_runbook_has_an_entry_for_every_check_sensor_and_schedule_of_the_code_location():
    from inventory_pipelines.definitions import defs

    definitions = defs()
    text = runbook()
    checks = {spec.name for a in definitions.assets or [] for spec in getattr(a, "check_specs", [])}
    # a SQL model's YAML test is named <column>__<test>: the runbook names the kind of test
    missing = [
        name
        for name in sorted(checks)
        if f"`{name}`" not in text and f"__{name.rsplit('__', 1)[-1]}`" not in text
    ]
    missing += [
        s.name
        for s in [*(definitions.sensors or []), *(definitions.schedules or [])]
        if f"`{s.name}`" not in text
    ]
    assert missing == []
