"""The emulator as a separate process: ``python -m inventory_pipelines.sandbox.odoo``."""

from __future__ import annotations

import json
import subprocess
import sys

import odoolib


def test_module_entry_point_prints_credentials_then_serves() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inventory_pipelines.sandbox.odoo",
            "--port",
            "0",
            "--version",
            "16",
            "--skus",
            "40",
            "--seed",
            "2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        credentials = json.loads(process.stdout.readline())
        assert set(credentials) == {"url", "db", "login", "password", "api_key"}
        port = int(credentials["url"].rsplit(":", 1)[1])
        connection = odoolib.get_connection(
            hostname="127.0.0.1",
            port=port,
            protocol="jsonrpc",
            database=credentials["db"],
            login=credentials["login"],
            password=credentials["password"],
        )
        assert connection.get_model("stock.warehouse").search_count([]) == 3
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
