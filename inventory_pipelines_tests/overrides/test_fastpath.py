"""How an override step reaches the channels: fast runs submitted to Dagster, else the
fallbacks (dirty marks for the batch; for a stop, the refresh in this process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory_pipelines.defs.overrides.refresh import refresh_skus
from inventory_pipelines.ledger import create_engine, dirty, migrate
from inventory_pipelines.overrides.fastpath import take_to_channels
from inventory_pipelines.stream.runs import FastRun

CHANNELS = ("shopify", "woocommerce", "amazon", "pos", "b2b")


class RecordingSubmitter:
    """A Dagster webserver that takes every run (the `RunSubmitter` interface)."""

    def __init__(self) -> None:
        self.runs: list[FastRun] = []

    def submit(self, run: FastRun) -> str:
        self.runs.append(run)
        return f"run-{len(self.runs)}"


def no_webserver():
    raise ConnectionRefusedError("[Errno 111] Connection refused")


@pytest.fixture
def engine(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))  # no table yet
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    yield engine
    engine.dispose()


def test_a_step_submits_fast_runs_of_every_channel_tagged_with_its_override(engine) -> None:
    webserver = RecordingSubmitter()
    outcome = take_to_channels(
        7,
        ["C", "A", "B", "A"],
        CHANNELS,
        engine,
        urgent=True,
        max_skus_per_run=2,
        submitter=lambda: webserver,
        refresh=refresh_skus,
    )
    assert (outcome.how, outcome.run_ids) == ("submitted", ["run-1", "run-2"])
    assert [run.skus for run in webserver.runs] == [("A", "B"), ("C",)]
    [first, _] = webserver.runs
    assert first.job_name == "refresh_changed_skus" and first.channels == CHANNELS
    assert {
        "inventory/trigger": "override",
        "inventory/override": "7",
        "inventory/fast_path": "true",
        "dagster/asset_partition_range_start": "shopify",
        "dagster/asset_partition_range_end": "b2b",
    }.items() <= first.tags.items()
    with engine.connect() as conn:
        assert dirty.rows(conn) == []


def test_without_a_webserver_an_override_waits_dirty_for_the_batch(engine) -> None:
    outcome = take_to_channels(
        3,
        ["A"],
        CHANNELS,
        engine,
        urgent=False,
        max_skus_per_run=500,
        submitter=no_webserver,
        refresh=refresh_skus,
    )
    assert outcome.how == "dirty" and not outcome.failed
    assert "ConnectionRefusedError" in outcome.lines[0]
    with engine.connect() as conn:
        assert [(r.sku, r.reason) for r in dirty.rows(conn)] == [("A", "override #3")]


def test_a_stop_that_cannot_be_refreshed_in_process_fails_and_leaves_its_skus_dirty(engine) -> None:
    outcome = take_to_channels(
        4,
        ["A", "B"],
        CHANNELS,
        engine,
        urgent=True,
        max_skus_per_run=500,
        submitter=no_webserver,
        refresh=refresh_skus,  # the real one: no full refresh has made its tables yet
    )
    assert outcome.how == "in_process" and outcome.failed
    assert "no full refresh yet" in outcome.lines[-1]
    with engine.connect() as conn:
        assert sorted(r.sku for r in dirty.rows(conn)) == ["A", "B"]
