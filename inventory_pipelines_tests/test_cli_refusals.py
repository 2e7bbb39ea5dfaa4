"""The CLI refuses what it cannot do with one line naming the input, before doing anything."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.rules import default_rules_dir


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


def test_sync_refuses_an_unknown_channel_before_reading_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("ODOO_URL", "http://127.0.0.1:9")  # nothing there: a snapshot would fail
    result = CliRunner().invoke(main, ["sync", "--channel", "nope"])
    assert result.exit_code == 2
    assert "unknown channel(s) nope" in result.output
    assert "Traceback" not in result.output


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
    ],
)
def test_a_ledger_url_that_cannot_be_used_is_one_line_without_its_password(monkeypatch, url, said):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", url)
    result = CliRunner().invoke(main, ["dlq", "list"])
    assert result.exit_code == 1
    assert said in result.output
    assert "Traceback" not in result.output and "hunter2" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sandbox_up_on_a_port_in_use_names_the_port_and_starts_nothing():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "up", "--port-base", str(port)])
    assert result.exit_code == 1
    assert f"port(s) {port} on 127.0.0.1 are in use" in result.output
    assert "--port-base" in result.output and "Traceback" not in result.output


@pytest.mark.slow
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
