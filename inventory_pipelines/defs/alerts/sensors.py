"""A run that fails is recorded in the ledger's audit log and posted to a chat webhook.

`run_failure_alert` watches every job of the code location. For each failed run it writes an
audit row (`run.failed`, entity `run/<id>`: the job, the channels of its partition range, the
steps that failed and the first line of each error) once, whatever the sensor's retries, and
posts a Slack-compatible message (`{"text": ...}`; Mattermost, Rocket.Chat, Teams' and
Discord's Slack-compatible endpoints take it too) to the URL in `INVENTORY_ALERT_WEBHOOK_URL`
when it is set. The URL carries the chat's token, so it comes only from the environment and
is never logged or recorded; in `local` it must be on the loopback like every other endpoint.
A chat that does not answer costs an `alert.failed` audit row, never the record.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any
from urllib.parse import urlparse

import dagster as dg
import httpx
import sqlalchemy as sa

from inventory_pipelines import settings
from inventory_pipelines.defs.resources import LOOPBACK_HOSTS, LedgerResource
from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import write_transaction
from inventory_pipelines.ledger.schema import audit_log

ALERT_URL_ENV = "INVENTORY_ALERT_WEBHOOK_URL"
DAGSTER_URL_ENV = "INVENTORY_DAGSTER_URL"
ALERT_TIMEOUT_S = 5.0
_URL_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#]+@")


class _HideAlertUrl(logging.Filter):
    """httpx logs every request's URL at INFO: the chat webhook's carries its token."""

    def filter(self, record: logging.LogRecord) -> bool:
        url = os.environ.get(ALERT_URL_ENV, "").strip()
        if url and isinstance(record.args, tuple):
            record.args = tuple(
                str(arg).replace(url, f"${ALERT_URL_ENV}") if url in str(arg) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_HideAlertUrl())


class AlertError(RuntimeError):
    """The alert could not be posted (the message says why, without the URL)."""


_SECRET_PARAMETER = re.compile(
    r"(?P<name>[\w.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|signature|auth)[\w.-]*)"
    r"=(?P<value>[^&\s'\"]+)",
    re.IGNORECASE,
)


def _first_line(text: str | None, limit: int = 300) -> str:
    """The first line of an error, URL credentials and secret-named parameters hidden."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    line = _URL_CREDENTIALS.sub(r"\1***@", lines[0])
    return _SECRET_PARAMETER.sub(lambda m: f"{m['name']}=***", line)[:limit]


def failure_summary(context: dg.RunFailureSensorContext) -> dict[str, Any]:
    """What the audit row and the alert say of a failed run (JSON values, no secrets)."""
    run = context.dagster_run
    tags = run.tags or {}
    steps = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        error = data.error if data is not None else None
        while error is not None and error.cause is not None:  # the user's error, not Dagster's
            error = error.cause  # wrapper around it
        steps.append(
            {
                "step": event.step_key,
                "error": _first_line(error.message if error is not None else event.message),
            }
        )
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": tags.get("dagster/partition"),
        "channels": [
            tags[key]
            for key in ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
            if key in tags
        ],
        "trigger": tags.get("inventory/trigger")
        or tags.get("dagster/sensor_name")
        or tags.get("dagster/schedule_name")
        or "manual",
        "failed_steps": steps,
        "message": _first_line(context.failure_event.message),
    }


def alert_text(summary: dict[str, Any], dagster_url: str | None = None) -> str:
    """The chat message: the job, where it ran, each failed step and its error, the link."""
    where = ""
    if summary["channels"]:
        start, *rest = summary["channels"]
        where = f" (channels {start}..{rest[-1]})" if rest and rest[-1] != start else f" ({start})"
    elif summary["partition"]:
        where = f" ({summary['partition']})"
    lines = [f":red_circle: run of `{summary['job']}`{where} failed ({summary['trigger']})"]
    for step in summary["failed_steps"]:
        lines.append(f"• `{step['step']}`: {step['error']}")
    if not summary["failed_steps"] and summary["message"]:
        lines.append(summary["message"])
    if dagster_url:
        lines.append(f"{dagster_url.rstrip('/')}/runs/{summary['run_id']}")
    return "\n".join(lines)


def post_alert(url: str, text: str, *, environment: str) -> None:
    """POST `{"text": text}` to the chat webhook; `AlertError` if it cannot (never naming the
    URL: it carries the chat's token)."""
    host = urlparse(url).hostname or ""
    if urlparse(url).scheme not in ("http", "https") or not host:
        raise AlertError(f"{ALERT_URL_ENV} is not an http(s) URL")
    if environment == "local" and host not in LOOPBACK_HOSTS:
        raise AlertError(
            f"{ALERT_URL_ENV} is off the machine and the local environment only talks to the "
            "loopback; set INVENTORY_ENV=staging or prod to post to a real chat"
        )
    try:
        answer = httpx.post(url, json={"text": text}, timeout=ALERT_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise AlertError(f"the chat webhook did not answer ({type(exc).__name__})") from None
    if answer.status_code >= 300:
        raise AlertError(f"the chat webhook answered {answer.status_code}")


def _recorded(conn: sa.Connection, run_id: str) -> bool:
    found = conn.execute(
        sa.select(audit_log.c.id)
        .where(audit_log.c.action == "run.failed", audit_log.c.entity == f"run/{run_id}")
        .limit(1)
    ).first()
    return found is not None


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A failed run is recorded in the ledger's audit log (run.failed) and posted "
    f"to the chat webhook in ${ALERT_URL_ENV} when set.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, ledger: LedgerResource) -> None:
    """Record the failure once, then post it (see the module docstring)."""
    summary = failure_summary(context)
    run_id = summary["run_id"]
    with ledger.engine() as engine, engine.connect() as conn:
        with write_transaction(conn):  # look and record in one transaction: once, whatever runs
            if _recorded(conn, run_id):
                return  # recorded (and alerted) at an earlier evaluation
            audit.record(
                conn,
                actor="dagster",
                source="run_failure_alert",
                action="run.failed",
                entity=f"run/{run_id}",
                after=summary,
                correlation_id=run_id,
            )
        url = os.environ.get(ALERT_URL_ENV, "").strip()
        if not url:
            return
        try:
            post_alert(
                url,
                alert_text(summary, os.environ.get(DAGSTER_URL_ENV)),
                environment=settings.environment(),
            )
        except AlertError as exc:
            context.log.warning(f"run {run_id}: the alert was not posted: {exc}")
            audit.record(
                conn,
                actor="dagster",
                source="run_failure_alert",
                action="alert.failed",
                entity=f"run/{run_id}",
                after={"reason": str(exc)},
                correlation_id=run_id,
            )
        else:
            context.log.info(f"run {run_id}: failure posted to the chat webhook")


@dg.definitions
def defs() -> dg.Definitions:
    """The run-failure sensor."""
    return dg.Definitions(sensors=[run_failure_alert])
