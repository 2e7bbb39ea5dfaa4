"""`inventory-sync override`: request, approve, list, revoke; the emergency stop.

Who acts is `--actor`, else `$INVENTORY_ACTOR`, else the OS user; the audit row also keeps
the OS user and where the name came from. Every refusal is one line on stderr, exit 1, and an
`override.refused` row in the audit log. The ledger, pydantic and Dagster are imported inside
the commands: `inventory-sync` loads this module for every command it runs.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from inventory_pipelines.ledger.overrides import Override

log = logging.getLogger(__name__)

#: a stop on every channel (as the ledger holds it)
ALL_CHANNELS = "*"

STOP_DEFAULT_UNTIL = "24h"
ACTOR_HELP = "Who acts (default: $INVENTORY_ACTOR, else the OS user)."


@click.group("override")
def override() -> None:
    """Manual overrides of a channel's quantity and emergency stops: requested by one person,
    applied once another approves them, until they expire or are revoked; all audited."""


def _engine():
    from inventory_pipelines.cli import _ledger

    return _ledger()


def _policy():
    from inventory_pipelines.rules import load_policy

    return load_policy()


def _store():
    from inventory_pipelines import settings
    from inventory_pipelines.dataplane import TableStore

    return TableStore(settings.data_uri())


def _context(source: str) -> dict[str, str]:
    """What the audit row keeps besides the actor: where the name came from, the OS user."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = "unknown"
    return {"actor_from": source, "os_user": os_user}


def _refuse(engine, attempt: str, problem: str, actor: str, details: dict[str, Any]) -> NoReturn:
    """Audit a refusal, then say it in one line (exit 1)."""
    from inventory_pipelines.ledger import overrides as ledger_overrides

    with engine.connect() as conn:
        ledger_overrides.refuse(
            conn, attempt=attempt, problem=problem, actor=actor, details=details
        )
    raise click.ClickException(problem)


def _until_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _what(o: Override) -> str:
    if o.kind == "stop":
        where = "every channel" if o.channel == ALL_CHANNELS else o.channel
        return f"stop {o.sku} on {where} (0)"
    return f"{o.channel} {o.sku} -> {o.quantity}"


def _who(o: Override) -> str:
    if o.break_glass:
        return f"break-glass by {o.requested_by}"
    if o.approved_by:
        return f"requested by {o.requested_by}, approved by {o.approved_by}"
    return f"requested by {o.requested_by}, waiting for someone else's approval"


def _say(lines: list[str], *, err: bool = False) -> None:
    from inventory_pipelines.cli import _redacted

    for line in lines:
        click.echo(_redacted(line), err=err)


def _take_to_channels(engine, o: Override, *, urgent: bool) -> bool:
    """Refresh the override's SKUs on every channel now (see `fastpath`); False if it failed."""
    from inventory_pipelines.overrides.fastpath import take_to_channels
    from inventory_pipelines.overrides.targets import known_skus, skus_of
    from inventory_pipelines.stream.setup import dagster_submitter

    def refresh(skus: list[str]) -> dict[str, Any]:
        from inventory_pipelines.defs.overrides.refresh import refresh_skus

        return refresh_skus(skus)

    policy = _policy()
    outcome = take_to_channels(
        o.id,
        skus_of(o.kind, o.sku, known_skus(_store())),
        policy.channels.names(),
        engine,
        urgent=urgent,
        max_skus_per_run=policy.automation.change_sensor.fast_path.max_skus_per_run,
        submitter=dagster_submitter,
        refresh=refresh,
    )
    _say(outcome.lines, err=outcome.failed)
    return not outcome.failed


@override.command("request")
@click.option("--channel", required=True, help="A channel of channels.yml.")
@click.option("--sku", required=True)
@click.option(
    "--quantity", required=True, type=int, help="What the channel shows, in its own unit."
)
@click.option(
    "--until",
    "until",
    required=True,
    help="ISO 8601 with a time zone (2026-12-04T18:00:00+01:00) or a duration (90m, 2h, 3d); "
    "at most 30 days away.",
)
@click.option("--reason", required=True, help="Why (kept in the audit log, shown by explain).")
@click.option("--actor", default=None, help=ACTOR_HELP)
def override_request(
    channel: str, sku: str, quantity: int, until: str, reason: str, actor: str | None
) -> None:
    """Ask for CHANNEL to show QUANTITY of SKU until a time; it applies once someone else
    approves it (`override approve ID`)."""
    from pydantic import ValidationError

    from inventory_pipelines.ledger import overrides as ledger_overrides
    from inventory_pipelines.overrides.model import OverrideRequest, problems, resolve_actor

    name, source = resolve_actor(actor)
    engine = _engine()
    try:
        details = {
            "channel": channel,
            "sku": sku,
            "quantity": quantity,
            "until": until,
            "reason": reason,
        }
        now = datetime.now(UTC)
        try:
            wanted = OverrideRequest.model_validate(
                {**details, "actor": name},
                context={"now": now, "channels": _policy().channels.names()},
            )
        except ValidationError as exc:
            _refuse(engine, "request", problems(exc), name, details)
        unknown = _known().unknown(wanted.sku)
        if unknown:
            _refuse(engine, "request", unknown, name, details)
        with engine.connect() as conn:
            try:
                made = ledger_overrides.request(
                    conn,
                    channel=wanted.channel,
                    sku=wanted.sku,
                    quantity=wanted.quantity,
                    expires_at=wanted.until,
                    reason=wanted.reason,
                    actor=wanted.actor,
                    context=_context(source),
                    now=now,
                )
            except ledger_overrides.OverrideError as exc:
                ledger_overrides.refuse(
                    conn, attempt="request", problem=str(exc), actor=name, details=details
                )
                raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(
        f"override #{made.id} requested by {made.requested_by} ({source}): {_what(made)} "
        f"until {_until_text(made.expires_at)}"
    )
    click.echo(
        f"it applies once someone else approves it: inventory-sync override approve {made.id} "
        "--actor NAME"
    )


def _known():
    from inventory_pipelines.overrides.targets import known_skus

    return known_skus(_store())


@override.command("approve")
@click.argument("override_id", metavar="ID", type=int)
@click.option("--actor", default=None, help=ACTOR_HELP + " Not the requester.")
def override_approve(override_id: int, actor: str | None) -> None:
    """Approve a requested override or stop (not your own): it applies from now, and its SKUs
    are refreshed on the channels."""
    from inventory_pipelines.ledger import overrides as ledger_overrides
    from inventory_pipelines.overrides.model import resolve_actor

    name, source = resolve_actor(actor)
    engine = _engine()
    try:
        with engine.connect() as conn:
            try:
                approved = ledger_overrides.approve(
                    conn, override_id, actor=name, context=_context(source)
                )
            except ledger_overrides.OverrideError as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(
            f"override #{approved.id} approved by {approved.approved_by} ({source}): "
            f"{_what(approved)} until {_until_text(approved.expires_at)} "
            f"(requested by {approved.requested_by}: {approved.reason})"
        )
        ok = _take_to_channels(engine, approved, urgent=approved.kind == "stop")
    finally:
        engine.dispose()
    if not ok:
        sys.exit(1)


@override.command("revoke")
@click.argument("override_id", metavar="ID", type=int)
@click.option("--reason", required=True, help="Why it ends now (kept in the audit log).")
@click.option("--actor", default=None, help=ACTOR_HELP)
def override_revoke(override_id: int, reason: str, actor: str | None) -> None:
    """End an override or stop now; its SKUs go back to the rules on the channels."""
    from inventory_pipelines.ledger import overrides as ledger_overrides
    from inventory_pipelines.overrides.model import resolve_actor

    name, source = resolve_actor(actor)
    engine = _engine()
    try:
        with engine.connect() as conn:
            try:
                revoked = ledger_overrides.revoke(
                    conn, override_id, actor=name, reason=reason, context=_context(source)
                )
            except ledger_overrides.OverrideError as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"override #{revoked.id} revoked by {revoked.ended_by}: {_what(revoked)}")
        ok = True
        if revoked.approved_by:  # it applied: the rules' quantity goes back to the channels
            ok = _take_to_channels(engine, revoked, urgent=False)
    finally:
        engine.dispose()
    if not ok:
        sys.exit(1)


@override.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for machines.")
@click.option("--all", "everything", is_flag=True, help="Also those revoked or expired.")
def override_list(as_json: bool, everything: bool) -> None:
    """Overrides and stops waiting for approval or applying now (all of them with --all)."""
    from inventory_pipelines.ledger import overrides as ledger_overrides

    now = datetime.now(UTC)
    engine = _engine()
    try:
        with engine.connect() as conn:
            found = ledger_overrides.listed(conn, now=now, include_ended=everything)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([{**o.as_json(), "state": o.state_at(now)} for o in found]))
        return
    if not found:
        click.echo(
            "no override at all"
            if everything
            else "no override is waiting or applying (--all shows those that ended)"
        )
    for o in found:
        click.echo(
            f"#{o.id}  {o.state_at(now):<9}  {_what(o)}  until {_until_text(o.expires_at)}  "
            f"{_who(o)}: {o.reason}"
        )


@override.command("stop")
@click.option("--sku-pattern", "pattern", required=True, help="Shell pattern, e.g. 'SKU-0001*'.")
@click.option("--channel", default=None, help="One channel of channels.yml...")
@click.option("--all-channels", is_flag=True, help="...or every channel.")
@click.option("--reason", required=True, help="Why (mandatory; kept in the audit log).")
@click.option(
    "--until",
    "until",
    default=STOP_DEFAULT_UNTIL,
    show_default=True,
    help="ISO 8601 with a time zone, or a duration (90m, 2h, 3d); at most 30 days away.",
)
@click.option(
    "--break-glass",
    is_flag=True,
    help="Apply now without a second person's approval (a loud audit entry).",
)
@click.option("--actor", default=None, help=ACTOR_HELP)
def override_stop(
    pattern: str,
    channel: str | None,
    all_channels: bool,
    reason: str,
    until: str,
    break_glass: bool,
    actor: str | None,
) -> None:
    """Emergency stop: every SKU matching the pattern shows 0 on one channel or all of them.
    Approved by a second person like an override, or at once with --break-glass."""
    if (channel is None) == (not all_channels):
        raise click.UsageError("give --channel NAME or --all-channels (one of them)")
    from pydantic import ValidationError

    from inventory_pipelines.ledger import overrides as ledger_overrides
    from inventory_pipelines.overrides.model import StopRequest, problems, resolve_actor

    name, source = resolve_actor(actor)
    engine = _engine()
    try:
        fields = {
            "channel": channel or ALL_CHANNELS,
            "pattern": pattern,
            "until": until,
            "reason": reason,
            "break_glass": break_glass,
        }
        details = {"kind": "stop", **fields}
        now = datetime.now(UTC)
        try:
            wanted = StopRequest.model_validate(
                {**fields, "actor": name},
                context={"now": now, "channels": _policy().channels.names()},
            )
        except ValidationError as exc:
            _refuse(engine, "stop", problems(exc), name, details)
        matched = _known().matching(wanted.pattern)
        if matched == []:
            _refuse(
                engine,
                "stop",
                f"the pattern {wanted.pattern!r} matches no SKU of the inventory: check it "
                "(shell pattern: * any run of characters, ? one character)",
                name,
                details,
            )
        with engine.connect() as conn:
            made = ledger_overrides.stop(
                conn,
                channel=wanted.channel,
                pattern=wanted.pattern,
                expires_at=wanted.until,
                reason=wanted.reason,
                actor=wanted.actor,
                break_glass=wanted.break_glass,
                context={**_context(source), "matched_skus": len(matched or [])},
                now=now,
            )
        count = "unknown (no SKU table yet)" if matched is None else str(len(matched))
        if not made.break_glass:
            click.echo(
                f"stop #{made.id} requested by {made.requested_by}: {_what(made)} until "
                f"{_until_text(made.expires_at)}, {count} SKU(s); it applies once someone else "
                f"approves it: inventory-sync override approve {made.id} --actor NAME"
            )
            return
        log.warning(
            "BREAK-GLASS emergency stop #%d by %s: %s until %s, %s SKU(s), no second approval: %s",
            made.id,
            made.requested_by,
            _what(made),
            _until_text(made.expires_at),
            count,
            made.reason,
        )
        click.echo(
            f"BREAK-GLASS: stop #{made.id} by {made.requested_by} applies now without a second "
            f"approval: {_what(made)} until {_until_text(made.expires_at)}, {count} SKU(s); "
            "audited as override.break_glass",
            err=True,
        )
        ok = _take_to_channels(engine, made, urgent=True)
    finally:
        engine.dispose()
    if not ok:
        sys.exit(1)
