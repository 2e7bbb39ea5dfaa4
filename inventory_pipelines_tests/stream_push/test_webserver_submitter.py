"""The run submitter against a real ``dagster-webserver`` on the project's workspace.

A throwaway instance (DAGSTER_HOME in a temp folder) with the queued run coordinator and no
daemon, so the submitted run stays queued where the test can read it: the job, the SKUs in its
run config, the fast-path tags and the channel range.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClientError

from inventory_pipelines.rules import load_policy
from inventory_pipelines.settings import REPO_ROOT
from inventory_pipelines.stream.runs import FastRun, GraphQLRunSubmitter

BIN = Path(sys.executable).parent
INSTANCE = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_the_submitter_creates_a_fast_run_of_refresh_changed_skus(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE)
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INVENTORY_ENV": "local",
        "INVENTORY_DATA_DIR": str(tmp_path / "tables"),
        "INVENTORY_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
    }
    log = (tmp_path / "webserver.log").open("w")
    webserver = subprocess.Popen(
        [
            str(BIN / "dagster-webserver"),
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    channels = tuple(load_policy().channels.names())
    run = FastRun(("SKU-000001", "SKU-000042"), channels)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        submitter = GraphQLRunSubmitter(url)
        run_id = None
        while run_id is None:
            assert webserver.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "webserver.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    run_id = submitter.submit(run)
            except (httpx.TransportError, DagsterGraphQLClientError):
                pass  # not up yet, or the code location still loading
            if run_id is None:
                time.sleep(1)

        instance = DagsterInstance.from_config(str(home))
        try:
            record = instance.get_run_by_id(run_id)
        finally:
            instance.dispose()
    finally:
        webserver.terminate()
        try:
            webserver.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(webserver.pid, signal.SIGKILL)
            webserver.wait(30)
        log.close()

    assert record is not None and record.job_name == "refresh_changed_skus"
    assert record.status == DagsterRunStatus.QUEUED
    assert record.run_config == {
        "resources": {"sku_scope": {"config": {"skus": ["SKU-000001", "SKU-000042"]}}}
    }
    assert {
        "inventory/fast_path": "true",
        "inventory/trigger": "odoo_push",
        "dagster/asset_partition_range_start": channels[0],
        "dagster/asset_partition_range_end": channels[-1],
        "dagster/priority": "10",
    }.items() <= record.tags.items()
