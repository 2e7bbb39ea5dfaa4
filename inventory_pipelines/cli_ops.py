"""`inventory-sync status`, `inventory-sync audit` and the progress of `sync`: what an operator
looks at before and after acting.

`status` gathers per channel what the ledger knows (the last acknowledged publish and its lag,
the updates still waiting, open dead letters, orders waiting in the inbox, Amazon feeds not
finished, the last error), the last drift figures (the Dagster instance's last
`reconciliation/drift` materialization when $DAGSTER_HOME is set, else the data plane's
table) and, with an instance, when each channel's publish last ran and the change-to-ack
latency it measured. `audit` searches the ledger's audit log. `sync_progress` draws a run's
steps on a terminal, and nothing anywhere else.

The commands are registered in `cli.py`; the helpers they share with it (the ledger engine,
the channel check, the redaction of URLs) are imported from there when a command runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TextIO

import click

from inventory_pipelines import settings

DRIFT_KEY = ("reconciliation", "drift")
CHANNEL_STOCK_KEY = ("reconciliation", "channel_stock")
PUBLISH_STEP = "inventory/published_channel_state"
ODOO_CIRCUIT = (
    "Odoo's circuit breaker lives in each run's process (it opens after 5 transient failures "
    "for 30 s) and is recorded nowhere: its errors show as failed runs and last errors"
)


def _known_channel(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from inventory_pipelines.cli import _known_channel as known

    return known(ctx, param, value)


def _ledger():
    from inventory_pipelines.cli import _ledger as ledger

    return ledger()


def _redacted(text: str) -> str:
    from inventory_pipelines.cli import _redacted as redacted

    return redacted(text)


# --- time ------------------------------------------------------------------------------------


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def duration(seconds: float | None) -> str:
    """Seconds as a person reads them: 0.4s, 12s, 3m 05s, 2h 07m, 3d 04h."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _shown_time(value: dt.datetime | None) -> str:
    return "-" if value is None else f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z"


_AGO = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class When(click.ParamType):
    """A moment: ISO 8601 (`2026-05-01`, `2026-05-01T14:00`, with an offset or UTC), or a time
    ago (`90s`, `15m`, `2h`, `7d`, `1w`)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        """Parse into an aware UTC datetime."""
        if isinstance(value, dt.datetime):
            return value
        text = str(value)
        ago = _AGO.match(text)
        if ago:
            return _utcnow() - dt.timedelta(seconds=int(ago[1]) * _UNITS[ago[2]])
        try:
            moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(
                f"{text!r} is not a time: give ISO 8601 (2026-05-01, 2026-05-01T14:00, "
                "2026-05-01T14:00+02:00; UTC when no offset) or a time ago (90s, 15m, 2h, 7d, 1w)",
                param,
                ctx,
            )
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


# --- status ----------------------------------------------------------------------------------


def _drift_from_data_plane(channel: str, thresholds) -> dict[str, Any] | None:
    """The channel's last drift as the data plane holds it, judged like the check; None if
    `reconciliation/drift` was never materialized for it."""
    import polars as pl

    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.reconciliation import summarize
    from inventory_pipelines.reconciliation.drift import READ_BACK_SCHEMA

    store = TableStore(settings.data_uri())
    if not store.exists(DRIFT_KEY, channel):
        return None
    frame = store.read(DRIFT_KEY, channel).with_columns(pl.col("channel").cast(pl.Utf8))
    read_back = (
        store.read(CHANNEL_STOCK_KEY, channel).with_columns(pl.col("channel").cast(pl.Utf8))
        if store.exists(CHANNEL_STOCK_KEY, channel)
        else pl.DataFrame(schema=READ_BACK_SCHEMA)
    )
    (figures,) = summarize(frame, read_back, [channel]).drop("channel").to_dicts()
    measured = frame["observed_at"].max() if frame.height else None
    at = measured if isinstance(measured, dt.datetime) else None
    return _drift_view("data_plane", at, None, figures, thresholds)


def _drift_view(
    source: str,
    at: dt.datetime | None,
    run_id: str | None,
    figures: Mapping[str, Any],
    thresholds,
) -> dict[str, Any]:
    """A channel's drift figures, judged against the thresholds as the drift check does."""
    from inventory_pipelines.reconciliation import CAUSES, verdict

    drift_skus = int(figures.get("drift_skus") or 0)
    compared = int(figures.get("listings_compared") or 0)
    judged = verdict(drift_skus, compared, thresholds)
    return {
        "source": source,
        "measured_at": at,
        "run_id": run_id,
        "listings_compared": compared,
        "drift_skus": drift_skus,
        "drift_units": int(figures.get("drift_units") or 0),
        "by_cause": {c: int(figures.get(f"drift_{c}") or 0) for c in CAUSES},
        "level": judged.level.value,
        "verdict": judged.reason,
    }


def _status(channels: Sequence[tuple[str, str]], policy) -> dict[str, Any]:
    """Everything `status` shows, as JSON-ready values."""
    from inventory_pipelines.ledger import circuits, fences, leases, operations
    from inventory_pipelines.ledger.db import default_url, shown_url

    names = [name for name, _ in channels]
    now = _utcnow()
    notes: list[str] = []
    engine = _ledger()
    try:
        with engine.connect() as conn:
            facts = operations.channel_facts(conn, names)
            failed = operations.last_failed_runs(conn)
            breakers = circuits.all_circuits(conn)
            held = {name: leases.holder_of(conn, name) for name in names}
            epoch = fences.latest_epoch(conn)
            unsettled = fences.unsettled(conn, epoch)
    finally:
        engine.dispose()
    dagster_home = os.environ.get("DAGSTER_HOME") or None
    instance: dict[str, dict[str, Any]] = {}
    if dagster_home:
        try:
            from inventory_pipelines.defs.status import instance_facts

            instance = instance_facts(names)
        except Exception as exc:  # the ledger's facts stand without the instance's
            notes.append(
                _redacted(f"the Dagster instance at {dagster_home} could not be read: {exc}")
            )
    thresholds = policy.automation.drift
    view: dict[str, Any] = {}
    for name, kind in channels:
        fact = facts[name]
        from_instance = instance.get(name, {})
        drift = None
        try:
            drift = _drift_from_data_plane(name, thresholds)
        except Exception as exc:
            notes.append(_redacted(f"{name}: the data plane's drift could not be read: {exc}"))
        recorded = from_instance.get("drift")
        if recorded is not None and (
            drift is None or drift["measured_at"] is None or recorded["at"] >= drift["measured_at"]
        ):
            drift = _drift_view("dagster", recorded["at"], recorded["run_id"], recorded, thresholds)
        last = fact.last_acknowledged_at
        if drift is not None:  # drift is measured before the publish that corrects it
            drift["published_since"] = bool(
                last and drift["measured_at"] and last > drift["measured_at"]
            )
        error = fact.last_error
        circuit = breakers.get(name) or circuits.Circuit(name)
        lease = held[name]
        view[name] = {
            "kind": kind,
            "last_publish": {
                "acknowledged_at": last,
                "lag_s": round((now - last).total_seconds(), 1) if last else None,
                "listings_acknowledged": fact.listings_acknowledged,
            },
            "last_publish_run": from_instance.get("last_publish_run"),
            "updates_waiting": {"count": fact.updates_waiting, "oldest_at": fact.oldest_waiting_at},
            "dead_letters": {
                "open": sum(fact.dead_letters.values()),
                "publish": fact.dead_letters.get("publish", 0),
                "order": fact.dead_letters.get("order", 0),
                "oldest_at": fact.oldest_dead_letter_at,
            },
            "drift": drift,
            "orders": {
                "waiting": sum(fact.orders.get(s, 0) for s in operations.ORDERS_WAITING),
                "review": fact.orders.get("review", 0),
                "parked": fact.orders.get("parked", 0),
            },
            "channel_jobs": {"open": fact.open_jobs, "oldest_at": fact.oldest_open_job_at},
            "circuit": {
                "state": circuit.state,
                "failures": circuit.failures,
                "opened_at": circuit.opened_at,
                "retry_at": circuit.retry_at,
                "last_error": _redacted(circuit.last_error) if circuit.last_error else None,
            },
            "publishing": None
            if lease is None
            else {"holder": lease.holder, "since": lease.acquired_at, "until": lease.expires_at},
            "last_error": None
            if error is None
            else {"at": error.at, "where": error.where, "error": _redacted(error.error)},
        }
    return {
        "generated_at": now,
        "channels": view,
        "failed_runs": [_failed_run(entry) for entry in failed],
        # since when the fences have their shares; the fenced channels that have not published
        # their whole catalog under them since they changed (a publish without them holds its
        # increases)
        "fences": None
        if epoch is None
        else {
            "based_at": epoch.started_at,
            "shares_changed": epoch.replaced,
            "unsettled": unsettled,
        },
        "odoo_circuit": ODOO_CIRCUIT,
        "sources": {
            "ledger": shown_url(default_url()),
            "data_plane": str(settings.data_uri()),
            "dagster_home": dagster_home,
        },
        "notes": notes,
    }


def _failed_run(entry) -> dict[str, Any]:
    after = _shown(entry.after) if isinstance(entry.after, dict) else {}
    return {
        "at": entry.at,
        "run_id": after.get("run_id") or entry.entity.removeprefix("run/"),
        "job": after.get("job"),
        "channels": after.get("channels") or [],
        "partition": after.get("partition"),
        "trigger": after.get("trigger"),
        "failed_steps": after.get("failed_steps") or [],
        "message": after.get("message"),
    }


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, dt.datetime):
        return _iso(value)
    return value


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows aligned under their header, columns two spaces apart."""
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in (header, *rows)
    ]


def _ago(value: dt.datetime | None, now: dt.datetime) -> str:
    return "" if value is None else f"{duration((now - value).total_seconds())} ago"


def _cells(name: str, channel: dict[str, Any], now: dt.datetime) -> list[str]:
    last = channel["last_publish"]
    run = channel["last_publish_run"]
    published = (
        _shown_time(last["acknowledged_at"])
        if last["acknowledged_at"]
        else ("none acknowledged" if run else "never published")
    )
    waiting = channel["updates_waiting"]
    letters = channel["dead_letters"]
    drift = channel["drift"]
    jobs = channel["channel_jobs"]
    orders = channel["orders"]
    error = channel["last_error"]
    return [
        name,
        published,
        duration(last["lag_s"]),
        str(waiting["count"])
        + (f" (oldest {_ago(waiting['oldest_at'], now)})" if waiting["count"] else ""),
        str(letters["open"])
        + (f" (oldest {_ago(letters['oldest_at'], now)})" if letters["open"] else ""),
        "never measured"
        if drift is None
        else f"{drift['drift_skus']} SKUs, {drift['drift_units']} units, {drift['level'].upper()}",
        str(orders["waiting"]) + (f" +{orders['review']} review" if orders["review"] else ""),
        str(jobs["open"]) + (f" (oldest {_ago(jobs['oldest_at'], now)})" if jobs["open"] else ""),
        _circuit_cell(channel["circuit"], now),
        "-" if error is None else f"{_ago(error['at'], now)}: {_one_line(error['error'], 60)}",
    ]


def _circuit_cell(circuit: dict[str, Any], now: dt.datetime) -> str:
    if circuit["state"] == "closed":
        return "closed" + (f" ({circuit['failures']} failed)" if circuit["failures"] else "")
    retry = circuit["retry_at"]
    when = (
        "now" if retry is None or retry <= now else f"in {duration((retry - now).total_seconds())}"
    )
    verb = "probing" if circuit["state"] == "half_open" else "OPEN"
    return f"{verb}, next probe {when}"


def _one_line(text: str | None, limit: int) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _status_text(status: dict[str, Any]) -> str:
    now = status["generated_at"]
    header = [
        "CHANNEL", "LAST PUBLISH (ACK)", "LAG", "WAITING", "DEAD LETTERS", "DRIFT",
        "ORDERS", "FEEDS", "CIRCUIT", "LAST ERROR",
    ]  # fmt: skip
    rows = [_cells(name, channel, now) for name, channel in status["channels"].items()]
    lines = table(header, rows)
    runs = [(n, c["last_publish_run"]) for n, c in status["channels"].items()]
    if any(run for _, run in runs):
        lines += ["", "last publish run (Dagster instance):"]
        for name, run in runs:
            if run is None:
                lines.append(f"  {name}: never materialized there")
                continue
            latency = (
                f"change-to-ack p50 {duration(run['change_to_ack_p50_s'])}, "
                f"p95 {duration(run['change_to_ack_p95_s'])} over "
                f"{run['change_to_ack_count']} update(s)"
                if run.get("change_to_ack_count")
                else "no change-to-ack recorded"
            )
            lines.append(
                f"  {name}: {_shown_time(run['at'])} ({_ago(run['at'], now)})"
                + (f", run {run['run_id'][:8]}" if run["run_id"] else "")
                + f", sent {run.get('sent')}, {latency}"
            )
    drifts = [(n, c["drift"]) for n, c in status["channels"].items() if c["drift"]]
    if drifts:
        lines += ["", "drift (last measured):"]
        for name, drift in drifts:
            causes = ", ".join(f"{c} {n}" for c, n in drift["by_cause"].items() if n) or "none"
            when = (
                f"{_shown_time(drift['measured_at'])}"
                if drift["measured_at"]
                else "time unknown (no drifting row)"
            )
            since = ", before the last publish (which corrects it)" * drift["published_since"]
            lines.append(
                f"  {name}: {drift['level'].upper()} {drift['verdict']}; by cause: {causes} "
                f"[{drift['source'].replace('_', ' ')}, {when}{since}]"
            )
    if status["failed_runs"]:
        lines += ["", "failed runs (audit log, newest first):"]
        for run in status["failed_runs"]:
            where = (
                "..".join(dict.fromkeys(run["channels"]))
                if run["channels"]
                else (run["partition"] or "")
            )
            steps = "; ".join(
                f"{s['step']}: {_one_line(s['error'], 100)}" for s in run["failed_steps"]
            ) or _one_line(run["message"], 100)
            lines.append(
                f"  {_shown_time(run['at'])}  {run['job']}"
                + (f" ({where})" if where else "")
                + f"  {steps}"
            )
    open_ = [(n, c) for n, c in status["channels"].items() if c["circuit"]["state"] != "closed"]
    if open_:
        lines += ["", "circuits not closed (nothing is sent to these until the next probe):"]
        lines += [
            f"  {name}: {c['circuit']['state']} since {_shown_time(c['circuit']['opened_at'])} "
            f"after {c['circuit']['failures']} failure(s): "
            f"{_one_line(c['circuit']['last_error'], 100)}"
            for name, c in open_
        ]
    busy = [(n, c["publishing"]) for n, c in status["channels"].items() if c["publishing"]]
    if busy:
        lines += ["", "publishing now (publish lease):"]
        lines += [
            f"  {name}: {lease['holder']} since {_shown_time(lease['since'])}"
            for name, lease in busy
        ]
    fenced = status["fences"]
    if fenced and fenced["unsettled"]:
        lines += [
            "",
            f"fence shares changed at {_shown_time(fenced['based_at'])}; not yet published "
            f"whole under them: {', '.join(fenced['unsettled'])}. A publish that leaves them "
            "out holds its increases: publish every channel (inventory-sync sync).",
        ]
    lines += ["", f"odoo: {status['odoo_circuit']}"]
    lines += [f"note: {note}" for note in status["notes"]]
    lines += [
        "more: inventory-sync dlq list | inventory-sync audit --channel C | "
        "inventory-sync explain --channel C --sku S"
    ]
    return "\n".join(lines)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for machines.")
@click.option("--channel", default=None, callback=_known_channel, help="Only this channel.")
def status(as_json: bool, channel: str | None) -> None:
    """Each channel at a glance: last publish and its lag, updates waiting, dead letters,
    drift, orders waiting, unfinished feeds, the last error recorded."""
    from inventory_pipelines.rules import load_policy

    policy = load_policy()
    channels = [
        (c.name, c.kind.value)
        for c in policy.channels.channels
        if channel is None or c.name == channel
    ]
    found = _status(channels, policy)
    if as_json:
        click.echo(json.dumps(_json_ready(found)))
    else:
        click.echo(_status_text(found))


# --- audit -----------------------------------------------------------------------------------


def _shown(value: Any) -> Any:
    """An audit value as it may be shown: keys naming a credential dropped (none are stored;
    this holds for rows of any age), credentials in URLs and secret-named parameters hidden."""
    from inventory_pipelines.ledger.audit import masked

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return _redacted(item) if isinstance(item, str) else item

    return walk(masked(value))


def _ranges_containing(channel: str, order: Sequence[str]) -> list[tuple[str, str]]:
    """Every (first, last) partition range of channels.yml's order that contains `channel`."""
    at = order.index(channel)
    return [(order[a], order[b]) for a in range(at + 1) for b in range(at, len(order))]


def _entry_json(entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": _iso(entry.at),
        "actor": _redacted(entry.actor),
        "source": entry.source,
        "action": entry.action,
        "entity": entry.entity,
        "correlation_id": entry.correlation_id,
        "before": _shown(entry.before),
        "after": _shown(entry.after),
    }


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@click.command("audit")
@click.option("--since", type=When(), default=None, help="From this time (ISO 8601, or 2h, 7d).")
@click.option("--until", type=When(), default=None, help="Up to this time (same forms).")
@click.option("--actor", default=None, help="Who acted (exact).")
@click.option(
    "--action", default=None, help="What was done: exact, or a pattern (dead_letter.*, publish.*)."
)
@click.option("--channel", default=None, callback=_known_channel, help="Rows about this channel.")
@click.option("--sku", default=None, help="Rows about this SKU or a listing that carries it.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of rows, for machines.")
def audit(
    since: dt.datetime | None,
    until: dt.datetime | None,
    actor: str | None,
    action: str | None,
    channel: str | None,
    sku: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the audit log, newest first: who changed what inventory-affecting state, when,
    from where, before and after."""
    from inventory_pipelines.ledger import operations
    from inventory_pipelines.rules import load_policy

    if since is not None and until is not None and since > until:
        raise click.UsageError(f"--since {_iso(since)} is after --until {_iso(until)}")
    ranges = []
    if channel is not None:
        ranges = _ranges_containing(channel, [c.name for c in load_policy().channels.channels])
    engine = _ledger()
    try:
        with engine.connect() as conn:
            entries = operations.search_audit(
                conn,
                since=since,
                until=until,
                actor=actor,
                action=action,
                channel=channel,
                channel_ranges=ranges,
                sku=sku,
                limit=limit,
            )
    finally:
        engine.dispose()
    rows = [_entry_json(e) for e in entries]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no audit row matches")
        return
    for row in rows:
        at = dt.datetime.fromisoformat(row["at"])
        click.echo(
            f"{_shown_time(at)}  #{row['id']}  {row['actor']} ({row['source']})  "
            f"{row['action']}  {row['entity']}"
            + (f"  correlation {row['correlation_id']}" if row["correlation_id"] else "")
        )
        if row["before"] is not None:
            click.echo(f"    before {_compact(row['before'])}")
        if row["after"] is not None:
            click.echo(f"    after  {_compact(row['after'])}")
    if len(rows) == limit:
        click.echo(f"({limit} rows shown, newest first: --limit or --since for more)")


# --- progress of sync ------------------------------------------------------------------------


class SyncProgress:
    """`sync`'s progress for a person at a terminal: a line per step as it ends, the running
    step redrawn in place with its time, and while publishing each channel's settled updates
    out of the round's (counted in the ledger's outbox, which the publish fills)."""

    def __init__(
        self,
        stream: TextIO,
        round_progress: Callable[[str], Mapping[str, tuple[int, int]]] | None = None,
        *,
        interval_s: float = 0.5,
    ) -> None:
        self._stream = stream
        self._round_progress = round_progress
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="sync-progress", daemon=True)
        self._run_id: str | None = None
        self._run_started = 0.0
        self._steps = 0
        self._done = 0
        self._running: dict[str, float] = {}
        self._published: Mapping[str, tuple[int, int]] = {}
        self._live = False

    def __enter__(self) -> SyncProgress:
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)
        with self._lock:
            self._clear()

    def __call__(self, note) -> None:
        """Take one `defs.progress.Progress` note of the run."""
        now = time.monotonic()
        with self._lock:
            if note.event == "run_started":
                self._run_id, self._run_started = note.run_id, now
                self._steps, self._done, self._running = note.steps, 0, {}
                self._published = {}
                self._line(f"sync: {note.label} ({note.steps} steps, run {note.run_id[:8]})")
            elif note.event == "step_started":
                self._running[note.step] = now
            elif note.event in ("step_succeeded", "step_failed", "step_skipped"):
                self._done += 1
                started = self._running.pop(note.step, None)
                took = duration(now - started) if started is not None else ""
                outcome = {
                    "step_succeeded": took,
                    "step_failed": f"FAILED after {took}",
                    "step_skipped": "skipped",
                }[note.event]
                if note.step == PUBLISH_STEP and self._round_progress is not None:
                    self._refresh_published()
                    outcome += self._published_text() or "  nothing to send"
                self._line(f"  [{self._counter(self._done)}] {note.step}  {outcome}")
            elif note.event in ("run_succeeded", "run_failed"):
                verb = "done" if note.event == "run_succeeded" else "failed"
                left = self._steps - self._done
                self._line(
                    f"sync: run {verb} in {duration(now - self._run_started)}"
                    + (f", {left} step(s) not run" if left > 0 else "")
                )
            self._draw()

    def _counter(self, n: int) -> str:
        width = len(str(self._steps))
        return f"{n:>{width}}/{self._steps}"

    def _refresh_published(self) -> None:
        if self._round_progress is None or self._run_id is None:
            return
        try:
            self._published = dict(self._round_progress(self._run_id))
        except Exception:  # a progress display never fails the sync
            self._published = {}

    def _published_text(self) -> str:
        if not self._published:
            return ""
        return "  " + ", ".join(
            f"{channel} {done}/{total}" for channel, (done, total) in self._published.items()
        )

    def _tick(self) -> None:
        polled = 0.0
        while not self._stop.wait(self._interval_s):
            publishing = PUBLISH_STEP in self._running
            if publishing and time.monotonic() - polled >= 1.0:
                polled = time.monotonic()
                published = None
                if self._round_progress is not None and self._run_id is not None:
                    with contextlib.suppress(Exception):
                        published = dict(self._round_progress(self._run_id))
                with self._lock:
                    if published is not None:
                        self._published = published
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        """Redraw the live line: the running step, its time and what it has published."""
        if not self._running:
            self._clear()
            return
        step, started = max(self._running.items(), key=lambda item: item[1])
        text = (
            f"  [{self._counter(self._done + 1)}] {step}  running "
            f"{duration(time.monotonic() - started)}"
        )
        if step == PUBLISH_STEP:
            text += self._published_text() or "  planning"
        width = shutil.get_terminal_size((100, 24)).columns - 1
        self._stream.write("\r" + text[:width] + "\x1b[K")
        self._stream.flush()
        self._live = True

    def _clear(self) -> None:
        if self._live:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._live = False

    def _line(self, text: str) -> None:
        self._clear()
        self._stream.write(text + "\n")
        self._stream.flush()


@contextlib.contextmanager
def sync_progress(*, debug: bool) -> Iterator[SyncProgress | None]:
    """The progress of `sync` on stderr when it is a terminal and `--debug` is off (then
    Dagster's own log is the display), else None: scripts, pipes and `--json` stay clean."""
    if debug or not sys.stderr.isatty():
        yield None
        return
    from inventory_pipelines.ledger import create_engine, operations

    engine = create_engine()

    def progress(round_id: str) -> dict[str, tuple[int, int]]:
        with engine.connect() as conn:
            return operations.round_progress(conn, round_id)

    try:
        with SyncProgress(sys.stderr, progress) as shown:
            yield shown
    finally:
        engine.dispose()
