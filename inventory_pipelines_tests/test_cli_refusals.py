"""The CLI refuses what it cannot do with one line naming the input, before doing anything."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.ledger import create_engine, migrate, outbox
from inventory_pipelines.rules import default_rules_dir


def one_error_line(result) -> str:
    """The only line of a refusal, on stderr, after checking that it is alone and plain."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.bad_input
def test_dlq_list_and_replay_refuse_an_unknown_channel_instead_of_saying_all_is_clear(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    for args in (["dlq", "list", "--channel", "shopfy"], ["dlq", "replay", "--channel", "shopfy"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "unknown channel 'shopfy'" in result.output
        assert "shopify" in result.output  # the names it could have meant
        assert "no open dead letters" not in result.output
    known = CliRunner().invoke(main, ["dlq", "list", "--channel", "shopify"])
    assert known.exit_code == 0 and "no open dead letters" in known.output


@pytest.mark.bad_input
def test_sync_refuses_an_unknown_channel_before_reading_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("ODOO_URL", "http://127.0.0.1:9")  # nothing there: a snapshot would fail
    result = CliRunner().invoke(main, ["sync", "--channel", "nope"])
    assert result.exit_code == 2
    assert "unknown channel(s) nope" in result.output
    assert "Traceback" not in result.output


@pytest.mark.bad_input
def test_an_environment_that_is_not_one_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv("INVENTORY_ENV", "bogus")
    result = CliRunner().invoke(main, ["dlq", "list"])
    assert result.exit_code == 2
    assert "INVENTORY_ENV='bogus': expected one of local, staging, prod" in result.output


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("not-a-url", "is not a database URL"),
        ("mysql://someone@db.example.com/ledger", "runs on SQLite or PostgreSQL, not 'mysql'"),
        ("postgresql://sync:hunter2@127.0.0.1:9/ledger", "cannot be used"),
        (
            "postgresql+psycopg://u:hunter2@127.0.0.1:1/x",
            "the ledger at postgresql+psycopg://u:***@127.0.0.1:1/x cannot be used: connection",
        ),
    ],
)
@pytest.mark.bad_input
def test_a_ledger_url_that_cannot_be_used_is_one_line_without_its_password(monkeypatch, url, said):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", url)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["dlq", "list"])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    assert said in one_error_line(result)
    assert "hunter2" not in result.output


@pytest.mark.slow
@pytest.mark.bad_input
def test_a_postgresql_that_never_answers_is_one_line_after_the_connect_timeout():
    """A host that takes the connection but says nothing (a dead proxy, a firewall) is an
    error after the ledger's connect timeout, not a command that hangs."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        env = {**os.environ, "INVENTORY_LEDGER_URL": f"postgresql://u:hunter2@127.0.0.1:{port}/x"}
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "inventory_pipelines.cli", "dlq", "list"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    line = result.stderr.strip()
    assert line.startswith(f"Error: the ledger at postgresql+psycopg://u:***@127.0.0.1:{port}/x")
    assert "cannot be used" in line and "\n" not in line and "hunter2" not in line


def _file(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path / "afile"


@pytest.mark.parametrize(
    ("where", "said"),
    [
        (lambda tmp: tmp / "typo", "does not exist: correct the ledger URL"),
        (lambda tmp: _file(tmp), "is a file, not a folder: correct the ledger URL"),
        (lambda tmp: _file(tmp) / "deeper", "does not exist: correct the ledger URL"),
        pytest.param(
            lambda tmp: "/proc/inventory-ledger",
            "does not exist",
            marks=pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc"),
        ),
    ],
    ids=["missing", "a-file", "under-a-file", "under-proc"],
)
@pytest.mark.bad_input
def test_a_configured_ledger_in_a_folder_that_is_not_there_is_refused_not_created_empty(
    tmp_path, monkeypatch, where, said
):
    folder = where(tmp_path)
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{folder}/ledger.sqlite")
    result = CliRunner().invoke(main, ["dlq", "list"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"the ledger's folder {folder} {said}" in line
    assert "no open dead letters" not in result.output
    assert not os.path.exists(f"{folder}/ledger.sqlite")


def test_the_default_ledger_of_a_fresh_checkout_is_still_created_on_first_use(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("INVENTORY_LEDGER_URL", raising=False)
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "fresh" / ".data" / "tables"))
    result = CliRunner().invoke(main, ["dlq", "list"])
    assert result.exit_code == 0, result.output
    assert "no open dead letters" in result.output
    assert (tmp_path / "fresh" / ".data" / "ledger.sqlite").is_file()


@pytest.mark.parametrize(
    ("data_dir", "said"),
    [
        (lambda tmp: _file(tmp) / "tables", "is a file, not a folder: correct INVENTORY_DATA_DIR"),
        (
            lambda tmp: _file(tmp) / "deeper" / "tables",
            "cannot be created (Not a directory): point INVENTORY_DATA_DIR",
        ),
    ],
    ids=["a-file", "under-a-file"],
)
@pytest.mark.bad_input
def test_a_default_ledger_folder_that_cannot_be_created_is_one_line(
    tmp_path, monkeypatch, data_dir, said
):
    monkeypatch.delenv("INVENTORY_LEDGER_URL", raising=False)
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(data_dir(tmp_path)))
    result = CliRunner().invoke(main, ["dlq", "list"])
    assert result.exit_code == 1
    assert said in one_error_line(result)


@pytest.mark.bad_input
def test_sandbox_up_on_a_port_in_use_names_the_port_and_starts_nothing():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "up", "--port-base", str(port)])
    assert result.exit_code == 1
    # the port held here is named first; another of the range may be held by something else
    assert re.search(rf"port\(s\) {port}(, \d+)* on 127\.0\.0\.1 are in use", result.output)
    assert "--port-base" in result.output and "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.bad_input
def test_sync_with_a_broken_rules_folder_says_the_file_line_and_fix_without_a_traceback(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    (rules / "channels.yml").write_text("channels: [\n")
    env = {**os.environ, "INVENTORY_RULES_DIR": str(rules), "INVENTORY_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "inventory_pipelines.cli", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "channels.yml: line 2, column 1: invalid YAML" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("statement", ["", "   ", "\n\t"])
@pytest.mark.bad_input
def test_sql_refuses_an_empty_statement_in_one_line_before_looking_for_the_catalog(
    tmp_path, monkeypatch, statement
):
    monkeypatch.setenv("INVENTORY_CATALOG", str(tmp_path / "none.duckdb"))
    result = CliRunner().invoke(main, ["sql", statement])
    assert result.exit_code == 1
    assert "the SQL statement is empty: give one query" in one_error_line(result)


def test_an_unexpected_error_is_one_line_naming_it_and_debug_shows_the_traceback(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    partition = tmp_path / "inventory" / "channel_allocation" / "shopify.parquet"
    partition.parent.mkdir(parents=True)
    partition.write_bytes(b"not parquet at all")
    args = ["explain", "--channel", "shopify", "--sku", "SKU-1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("Error: ComputeError: ") or line.startswith("Error: OSError: "), line
    assert line.endswith("(run `inventory-sync --debug ...` for the traceback)")
    debug = CliRunner().invoke(main, ["--debug", *args])
    assert debug.exit_code == 1
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert debug.stderr.strip().splitlines()[-1] == line.split(" (run `")[0]


def test_an_unexpected_error_never_shows_the_credentials_of_a_url(monkeypatch):
    def fails(channel, sku):
        raise RuntimeError(
            "cannot read https://bob:hunter2@odoo.example.com/rpc?db=x&api_key=k3y "
            "nor https://t0ken@git.example.com/ nor postgresql://u:s3cret@db/ledger\nsecond line"
        )

    monkeypatch.setattr("inventory_pipelines.cli._explain_from_store", fails)
    result = CliRunner().invoke(main, ["explain", "--channel", "shopify", "--sku", "S"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line == (
        "Error: RuntimeError: cannot read https://bob:***@odoo.example.com/rpc?db=x&api_key=*** "
        "nor https://***@git.example.com/ nor postgresql://u:***@db/ledger "
        "(run `inventory-sync --debug ...` for the traceback)"
    )


def test_debug_shows_the_traceback_behind_a_refusal_the_command_words_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'typo' / 'ledger.sqlite'}")
    result = CliRunner().invoke(main, ["--debug", "dlq", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "LedgerConfigError: the ledger's folder" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: the ledger's folder")


def _dead_lettered_publish(url: str, updates: int) -> None:
    """A publish of `updates` updates whose one batch failed out of its attempts."""
    migrate(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = [
                {"listing_id": f"L{i}", "sku": f"SKU-{i}", "quantity": 0} for i in range(updates)
            ]
            outbox.enqueue_round(conn, "shopify", "round-1", rows)
            (batch,) = outbox.pending_batches(conn, "shopify", max_batch=updates)
            outbox.mark_sent(conn, batch.batch_key)
            status = outbox.retry_or_dead_letter(conn, batch.batch_key, "HTTP 503", max_attempts=1)
            assert status == "dead"
    finally:
        engine.dispose()


def test_dlq_list_counts_the_updates_inside_a_publish_letter(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    _dead_lettered_publish(url, 250)
    monkeypatch.setenv("INVENTORY_LEDGER_URL", url)
    listed = CliRunner().invoke(main, ["dlq", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    (letter,) = json.loads(listed.stdout)
    assert (letter["kind"], letter["channel"], letter["items"]) == ("publish", "shopify", 250)
    assert len(letter["skus"]) == 250
    plain = CliRunner().invoke(main, ["dlq", "list"])
    assert plain.exit_code == 0
    assert f"#{letter['id']}" in plain.stdout and "shopify  publish  250 update(s)" in plain.stdout


@pytest.mark.slow
def test_a_failing_plain_sync_prints_its_table_and_the_error_on_stderr(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    # the local environment only talks to loopback: every Odoo step fails at once
    monkeypatch.setenv("ODOO_URL", "http://odoo.invalid:8069")
    result = CliRunner().invoke(main, ["sync"])
    assert result.exit_code == 1
    table = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in table] == [
        "shopify", "woocommerce", "amazon", "pos", "b2b",
    ]  # fmt: skip
    assert all("ok False" in line for line in table)
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: sync failed: odoo__")
    assert "the local environment only talks to the sandbox on loopback" in error
    assert "failed:" not in result.stdout
