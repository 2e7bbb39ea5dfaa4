"""`inventory-sync override`: request, approve by someone else, list, revoke, stop; every
refusal one line, exit 1 and an audit row (a SQLite ledger and a small data plane in tmp; no
Dagster webserver answers, so approvals fall back as they would without one)."""

from __future__ import annotations

import getpass
import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.ledger import audit, create_engine, dirty, overrides

SKUS = ["SKU-000001", "SKU-000002", "SKU-000011", "SKU-000012"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch):
    """A ledger and a data plane that knows SKUS (canonical inventory), in tmp."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("INVENTORY_LEDGER_URL", url)
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    monkeypatch.setenv("INVENTORY_DAGSTER_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("INVENTORY_ACTOR", raising=False)
    TableStore(tmp_path / "tables").write(
        ("inventory", "canonical_inventory"),
        pl.DataFrame({"sku": SKUS, "warehouse": "MAIN", "available": 10.0}),
    )
    engine = create_engine(url)
    yield engine
    engine.dispose()


def run(*args: str):
    return CliRunner().invoke(main, ["override", *args])


def request(*extra: str, actor: str = "alice"):
    args = ["request", "--channel", "shopify", "--sku", "SKU-000001", "--quantity", "5"]
    args += ["--until", "2h", "--reason", "launch promo", "--actor", actor]
    return run(*args, *extra)


def refusal_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def refused(engine) -> list[dict]:
    with engine.connect() as conn:
        return [e.after for e in audit.history(conn, action="override.refused")]


def test_a_request_approved_by_someone_else_applies_and_is_listed(ledger) -> None:
    made = request()
    assert made.exit_code == 0, made.output
    assert "override #1 requested by alice" in made.output
    assert "inventory-sync override approve 1 --actor NAME" in made.output
    with ledger.connect() as conn:
        assert overrides.active(conn) == []

    approved = run("approve", "1", "--actor", "bob")
    assert approved.exit_code == 0, approved.output
    assert "override #1 approved by bob" in approved.output
    with ledger.connect() as conn:
        [applying] = overrides.active(conn)
    assert (applying.sku, applying.quantity, applying.approved_by) == ("SKU-000001", 5, "bob")

    listed = run("list", "--json")
    [shown] = json.loads(listed.output)
    assert (shown["id"], shown["state"], shown["requested_by"]) == (1, "approved", "alice")
    text = run("list").output
    assert "#1  approved" in text and "requested by alice, approved by bob: launch promo" in text


def test_the_requester_cannot_approve_and_the_refusal_is_audited(ledger) -> None:
    request()
    line = refusal_line(run("approve", "1", "--actor", "alice"))
    assert "requested by alice: it must be approved by someone else" in line
    [after] = refused(ledger)
    assert after["attempt"] == "approve"
    with ledger.connect() as conn:
        assert overrides.get(conn, 1).status == "requested"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (["--sku", "SKU-999999"], "unknown SKU 'SKU-999999'"),
        (["--channel", "shopfy"], "unknown channel 'shopfy': channels.yml has shopify"),
        (["--until", "2020-01-01T00:00:00Z"], "is not in the future"),
        (["--until", "31d"], "more than 30 days away"),
        (["--until", "2030-01-01T00:00:00"], "has no time zone"),
        (["--until", "tomorrow"], "neither an ISO 8601 time"),
        (["--quantity", "-1"], "--quantity: Input should be greater than or equal to 0"),
        (["--reason", " "], "--reason"),
    ],
)
@pytest.mark.bad_input
def test_a_request_that_cannot_be_is_refused_in_one_line_and_audited(
    ledger, change: list[str], said: str
) -> None:
    args = {"--channel": "shopify", "--sku": "SKU-000001", "--quantity": "5"}
    args |= {"--until": "2h", "--reason": "launch", "--actor": "alice"}
    args[change[0]] = change[1]
    line = refusal_line(run("request", *[x for pair in args.items() for x in pair]))
    assert said in line
    [after] = refused(ledger)
    assert after["attempt"] == "request" and said.split(":")[0] in after["refused"]
    with ledger.connect() as conn:
        assert overrides.listed(conn, include_ended=True) == []


def test_until_takes_an_iso_time_with_a_zone_or_a_duration(ledger) -> None:
    at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    assert request("--until", at.astimezone().isoformat()).exit_code == 0
    assert request("--until", "90m").exit_code == 0
    with ledger.connect() as conn:
        first, second = overrides.listed(conn)
    assert first.expires_at == at
    assert timedelta(minutes=89) < second.expires_at - datetime.now(UTC) <= timedelta(minutes=90)


def test_the_actor_is_the_option_else_inventory_actor_else_the_os_user(ledger, monkeypatch) -> None:
    run(
        "request",
        "--channel",
        "pos",
        "--sku",
        "SKU-000002",
        "--quantity",
        "1",
        "--until",
        "1h",
        "--reason",
        "x",
    )
    monkeypatch.setenv("INVENTORY_ACTOR", "erin")
    run(
        "request",
        "--channel",
        "pos",
        "--sku",
        "SKU-000002",
        "--quantity",
        "1",
        "--until",
        "1h",
        "--reason",
        "x",
    )
    with ledger.connect() as conn:
        first, second = overrides.listed(conn)
        [entry] = audit.history(conn, entity="override/2", action="override.requested")
    assert first.requested_by == getpass.getuser()
    assert second.requested_by == "erin"
    assert entry.after["context"] == {
        "actor_from": "$INVENTORY_ACTOR",
        "os_user": getpass.getuser(),
    }


def test_without_a_dagster_webserver_an_approval_marks_the_sku_dirty_for_the_batch(ledger) -> None:
    request()
    approved = run("approve", "1", "--actor", "bob")
    assert "no Dagster webserver at http://127.0.0.1:" in approved.output
    assert "1 SKU(s) marked dirty" in approved.output
    with ledger.connect() as conn:
        assert [(r.sku, r.reason) for r in dirty.rows(conn)] == [("SKU-000001", "override #1")]


def test_a_revocation_ends_it_at_once_and_hands_the_sku_back_to_the_batch(ledger) -> None:
    request()
    run("approve", "1", "--actor", "bob")
    with ledger.connect() as conn:  # the batch took the approval to the channels
        dirty.claim(conn, "batch-1", limit=10)
        dirty.settle(conn, "batch-1", succeeded=True)
    revoked = run("revoke", "1", "--actor", "carol", "--reason", "promo cancelled")
    assert revoked.exit_code == 0, revoked.output
    assert "override #1 revoked by carol" in revoked.output
    with ledger.connect() as conn:
        assert overrides.active(conn) == []
        assert [r.sku for r in dirty.rows(conn)] == ["SKU-000001"]
        [entry] = audit.history(conn, entity="override/1", action="override.revoked")
    assert entry.after["end_reason"] == "promo cancelled"
    again = refusal_line(run("revoke", "1", "--actor", "carol", "--reason", "again"))
    assert "already revoked" in again
    assert "--all" in run("list").output and "#1  revoked" in run("list", "--all").output


def test_a_stop_waits_for_a_second_person_unless_break_glass(ledger) -> None:
    made = run(
        "stop",
        "--sku-pattern",
        "SKU-00001*",
        "--channel",
        "amazon",
        "--reason",
        "recall",
        "--actor",
        "alice",
    )
    assert made.exit_code == 0, made.output
    assert "stop #1 requested by alice" in made.output and "2 SKU(s)" in made.output
    with ledger.connect() as conn:
        assert overrides.active(conn) == []
    assert "someone else" in refusal_line(run("approve", "1", "--actor", "alice"))


def test_a_break_glass_stop_applies_at_once_loudly(ledger, caplog) -> None:
    caplog.set_level(logging.WARNING)
    result = run(
        "stop",
        "--sku-pattern",
        "SKU-00001*",
        "--all-channels",
        "--reason",
        "recall",
        "--break-glass",
        "--actor",
        "alice",
    )
    with ledger.connect() as conn:
        [stop] = overrides.active(conn)
        [entry] = audit.history(conn, entity=stop.entity)
    assert (stop.kind, stop.channel, stop.sku, stop.break_glass) == (
        "stop",
        "*",
        "SKU-00001*",
        True,
    )
    assert (entry.action, entry.actor) == ("override.break_glass", "alice")
    assert entry.after["context"]["matched_skus"] == 2
    assert "BREAK-GLASS: stop #1 by alice applies now" in result.stderr
    [warning] = [
        r for r in caplog.records if r.levelno == logging.WARNING and "BREAK-GLASS" in r.message
    ]
    assert "recall" in warning.getMessage()
    assert timedelta(hours=23) < stop.expires_at - datetime.now(UTC) <= timedelta(hours=24)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--sku-pattern", "SKU-7*", "--all-channels"], "matches no SKU of the inventory"),
        (["--sku-pattern", "*", "--all-channels"], "matches every SKU"),
        (["--sku-pattern", "SKU-0*", "--channel", "nope"], "unknown channel 'nope'"),
    ],
)
@pytest.mark.bad_input
def test_a_stop_that_cannot_be_is_refused_and_audited(ledger, args, said) -> None:
    line = refusal_line(run("stop", *args, "--reason", "recall", "--break-glass", "--actor", "al"))
    assert said in line
    [after] = refused(ledger)
    assert after["attempt"] == "stop" and after["break_glass"] is True


def test_a_stop_names_one_channel_or_all_of_them(ledger) -> None:
    for where in ([], ["--channel", "amazon", "--all-channels"]):
        result = run("stop", "--sku-pattern", "SKU-0*", *where, "--reason", "recall")
        assert result.exit_code == 2
        assert "give --channel NAME or --all-channels" in result.output
