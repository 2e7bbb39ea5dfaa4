"""A failed run is recorded in the ledger once and posted to a chat webhook on the loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inventory_pipelines.defs.alerts.sensors import (
    ALERT_URL_ENV,
    DAGSTER_URL_ENV,
    run_failure_alert,
)
from inventory_pipelines.defs.resources import LedgerResource
from inventory_pipelines.ledger import audit, create_engine, migrate
from inventory_pipelines.sandbox.serving import start_server, stop_server

pytestmark = pytest.mark.slow  # each test executes a failing run in process (~2 s)

TOKEN = "T000/B000/chat-token-that-must-not-leak"


@dg.op
def read_back() -> None:
    raise RuntimeError(
        "shopify unavailable at https://admin:hun@ter2@shop.example/graphql?api_key=k3y-s3cret"
        "\nsecond line"
    )


@dg.job(tags={"dagster/asset_partition_range_start": "shopify",
              "dagster/asset_partition_range_end": "b2b"})  # fmt: skip
def publish_like() -> None:
    read_back()


class Chat:
    """A Slack-compatible incoming webhook on the loopback, recording what it is sent."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []

        async def hook(request: Request) -> JSONResponse:
            self.received.append(await request.json())
            self.paths.append(request.url.path)
            return JSONResponse({"ok": self.status < 300}, self.status)

        app = Starlette(routes=[Route("/services/{rest:path}", hook, methods=["POST"])])
        self.server, self.thread, self.sock = start_server(app, "127.0.0.1", 0, "chat")
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/services/{TOKEN}"

    def close(self) -> None:
        stop_server(self.server, self.thread, self.sock)


@pytest.fixture
def chat() -> Iterator[Chat]:
    server = Chat()
    yield server
    server.close()


@pytest.fixture
def ledger(tmp_path: Path) -> LedgerResource:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    return LedgerResource(url=url)


def failure_context(instance: dg.DagsterInstance) -> dg.RunFailureSensorContext:
    result = publish_like.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    [failure] = [
        e.dagster_event
        for e in instance.all_logs(result.run_id)
        if e.dagster_event is not None and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
    ]
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
    ).for_run_failure()


def entries(ledger: LedgerResource, run_id: str) -> list[audit.AuditEntry]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            return audit.history(conn, entity=f"run/{run_id}")
    finally:
        engine.dispose()


def test_a_failed_run_is_recorded_once_and_posted_without_secrets(
    chat: Chat, ledger: LedgerResource, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs each request's URL at INFO
    monkeypatch.setenv(ALERT_URL_ENV, chat.url)
    monkeypatch.setenv(DAGSTER_URL_ENV, "http://127.0.0.1:3000")
    with dg.instance_for_test() as instance:
        context = failure_context(instance)
        run_id = context.dagster_run.run_id
        run_failure_alert(context, ledger=ledger)
        run_failure_alert(context, ledger=ledger)  # evaluated again: recorded and posted once

    [entry] = entries(ledger, run_id)
    assert (entry.action, entry.actor, entry.correlation_id) == ("run.failed", "dagster", run_id)
    assert entry.after["job"] == "publish_like"
    assert entry.after["channels"] == ["shopify", "b2b"]
    [step] = entry.after["failed_steps"]
    assert step["step"] == "read_back"
    assert "shopify unavailable at https://***@shop.example/graphql?api_key=***" in step["error"]
    assert "second line" not in step["error"]

    [message] = chat.received
    text = message["text"]
    assert "run of `publish_like` (channels shopify..b2b) failed" in text
    assert "`read_back`: RuntimeError: shopify unavailable" in text
    assert f"http://127.0.0.1:3000/runs/{run_id}" in text
    assert "HTTP Request: POST $INVENTORY_ALERT_WEBHOOK_URL" in caplog.text  # httpx's line
    everything = f"{text} {entry.after} {caplog.text}"
    for secret in ("hun@ter2", "ter2", "k3y-s3cret", TOKEN):
        assert secret not in everything, secret


def test_a_chat_that_fails_costs_an_audit_row_never_the_record(ledger, monkeypatch) -> None:
    failing = Chat(status=500)
    try:
        monkeypatch.setenv(ALERT_URL_ENV, failing.url)
        with dg.instance_for_test() as instance:
            context = failure_context(instance)
            run_failure_alert(context, ledger=ledger)
        run_id = context.dagster_run.run_id
    finally:
        failing.close()
    actions = [e.action for e in entries(ledger, run_id)]
    assert actions == ["run.failed", "alert.failed"]
    reason = entries(ledger, run_id)[1].after["reason"]
    assert reason == "the chat webhook answered 500" and TOKEN not in reason


def test_in_local_an_alert_url_off_the_machine_is_not_called(ledger, monkeypatch) -> None:
    monkeypatch.setenv("INVENTORY_ENV", "local")
    monkeypatch.setenv(ALERT_URL_ENV, f"https://hooks.slack.example/services/{TOKEN}")
    with dg.instance_for_test() as instance:
        context = failure_context(instance)
        run_failure_alert(context, ledger=ledger)
    run_id = context.dagster_run.run_id
    recorded = entries(ledger, run_id)
    assert [e.action for e in recorded] == ["run.failed", "alert.failed"]
    assert "only talks to the loopback" in recorded[1].after["reason"]


def test_without_an_alert_url_the_failure_is_still_recorded(ledger, monkeypatch) -> None:
    monkeypatch.delenv(ALERT_URL_ENV, raising=False)
    with dg.instance_for_test() as instance:
        context = failure_context(instance)
        run_failure_alert(context, ledger=ledger)
    assert [e.action for e in entries(ledger, context.dagster_run.run_id)] == ["run.failed"]


def test_the_sensor_is_on_by_default_and_in_the_code_location() -> None:
    from inventory_pipelines.definitions import defs

    sensor = defs().resolve_sensor_def("run_failure_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
