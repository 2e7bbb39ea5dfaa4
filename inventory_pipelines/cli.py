"""`inventory-sync`: the operations that are not a materialization."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import click

from inventory_pipelines import settings


class _Cli(click.Group):
    """The command group: an error is one line on stderr a person can act on, not a traceback.

    A broken rules folder, a sandbox that cannot start or a ledger URL that cannot be used is
    its own message (file, line and fix; the port in use; the URL without its password); any
    other exception is its type and first line, URLs' credentials hidden. `--debug` prints
    the traceback first (also of the error behind a command's own refusal).
    """

    def invoke(self, ctx: click.Context) -> object:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, EOFError):
            raise
        except click.ClickException as exc:
            cause = exc.__cause__ or exc.__context__
            if debug and cause is not None:
                traceback.print_exception(cause, file=sys.stderr)
            raise
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # stdout closed by a pager or `head`: click leaves quietly
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            raise click.ClickException(_error_line(exc, debug=debug)) from None


def _error_line(exc: Exception, *, debug: bool) -> str:
    """The one line an exception is told as: the message of the errors written for a person,
    else the exception's type and first line, pointing at `--debug`."""
    from inventory_pipelines.ledger import LedgerConfigError
    from inventory_pipelines.rules import RulesError
    from inventory_pipelines.sandbox.stack import StackError

    if isinstance(exc, RulesError | StackError | LedgerConfigError):
        return str(exc)
    if debug:
        return _one_line(exc)
    return f"{_one_line(exc)} (run `inventory-sync --debug ...` for the traceback)"


_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#@]+)@")
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[\w.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|signature|auth)[\w.-]*)"
    r"=(?P<value>[^&\s'\"]+)",
    re.IGNORECASE,
)


def _redacted(text: str) -> str:
    """`text` with the credentials a URL may carry hidden: its password (its user, if that
    is all its userinfo: a token) and the values of query parameters named like a secret."""

    def userinfo(match: re.Match[str]) -> str:
        user, colon, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user + ':***' if colon else '***'}@"

    text = _URL_USERINFO.sub(userinfo, text)
    return _SECRET_PARAMETER.sub(lambda m: f"{m['name']}=***", text)


def _one_line(exc: BaseException) -> str:
    """An unexpected exception as one line: its type and the first line of its message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = _redacted(lines[0])[:500] if lines else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@click.group(cls=_Cli)
@click.option(
    "--debug", is_flag=True, help="Print the full traceback of an error (it is one line without)."
)
def main(debug: bool) -> None:
    """Keep inventory true across Odoo and every sales channel."""
    try:
        settings.environment()
    except ValueError as exc:  # INVENTORY_ENV names no environment: said before anything runs
        raise click.UsageError(str(exc)) from None


# --- rules -----------------------------------------------------------------------------------


@main.group()
def rules() -> None:
    """The business rules in `dbt_like_rules/`."""


@rules.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def rules_check(directory: Path | None) -> None:
    """Validate a rules folder as a CI step would: every file, and every SQL model parsed and
    bound against the tables' columns; exit 1 listing every problem."""
    from inventory_pipelines.rules import RulesError, default_rules_dir, load_policy
    from inventory_pipelines.rules.models import model_binding_issues

    if directory is not None and directory.is_file():
        click.echo(
            f"{directory} is a file: `rules check` takes the rules folder, "
            f"e.g. inventory-sync rules check {directory.parent}",
            err=True,
        )
        sys.exit(2)
    root = directory if directory is not None else default_rules_dir()
    try:
        policy = load_policy(root)
    except RulesError as exc:
        policy, issues = None, list(exc.issues)
    else:
        issues = []
    issues += model_binding_issues(root)
    if policy is None or issues:
        click.echo(str(RulesError(issues)), err=True)
        sys.exit(1)
    click.echo(f"rules OK: {policy.root} (version {policy.version})")


@main.command("explain")
@click.option("--channel", required=True, help="A channel name from channels.yml.")
@click.option("--sku", required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for machines.")
def explain(channel: str, sku: str, as_json: bool) -> None:
    """Why a channel publishes what it publishes for a SKU: each step and the rule behind it."""
    from inventory_pipelines.allocation.explain import ExplainError

    try:
        trace = _explain_from_store(channel, sku)
    except ExplainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(trace.as_json()) if as_json else trace.as_text())


CHANNEL_ALLOCATION = ("inventory", "channel_allocation")


def _explain_from_store(channel: str, sku: str):
    """Read the materialized allocation of `channel` and explain `sku`."""
    from inventory_pipelines.allocation.explain import ExplainError, trace_of
    from inventory_pipelines.dataplane import TableStore

    store = TableStore(settings.data_uri())
    if not store.exists(CHANNEL_ALLOCATION, channel):
        known = store.partitions(CHANNEL_ALLOCATION)
        hint = f"materialized channels: {', '.join(known)}" if known else "none is materialized"
        names = [name for name, _ in _channel_kinds()]
        if channel not in names:  # no partition to materialize: say what it could have meant
            raise ExplainError(
                f"unknown channel {channel!r}: channels.yml has {', '.join(names)} ({hint})"
            )
        raise ExplainError(
            f"no allocation for channel {channel!r} ({hint}); materialize "
            f"inventory/channel_allocation for partition {channel!r} first"
        )
    rows = store.read(CHANNEL_ALLOCATION, channel, skus=[sku]).to_dicts()
    if not rows:
        raise ExplainError(
            f"SKU {sku!r} is not in the allocation of {channel!r}: it is unknown, archived, not "
            "storable or shares its code with another product (see inventory.quarantine)"
        )
    return trace_of(rows[0])


# --- analysts --------------------------------------------------------------------------------


@main.command("sql")
@click.argument("statement")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--catalog", type=click.Path(path_type=Path), default=None, help="DuckDB catalog.")
def sql(statement: str, fmt: str, catalog: Path | None) -> None:
    """Run one SQL statement on the DuckDB catalog of the data plane (read-only)."""
    if not statement.strip():
        raise click.ClickException(
            "the SQL statement is empty: give one query, e.g. "
            "inventory-sync sql 'SELECT * FROM information_schema.tables'"
        )
    import duckdb
    import polars as pl

    from inventory_pipelines.dataplane import QueryRefused, query

    try:
        result = query(
            catalog or settings.catalog_path(),
            statement,
            tables_dir=None if "://" in settings.data_uri() else settings.data_uri(),
        )
    except (FileNotFoundError, QueryRefused, duckdb.Error) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "csv":
        click.echo(result.write_csv(), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(result.to_dicts(), default=str))
    else:
        with pl.Config(tbl_rows=100, tbl_cols=30, fmt_str_lengths=60, tbl_width_chars=200):
            click.echo(result)


@main.group()
def catalog() -> None:
    """The analysts' DuckDB catalog."""


@catalog.command("rebuild")
def catalog_rebuild() -> None:
    """Recreate `warehouse.duckdb` from the Parquet tables (the IO manager does it after writes),
    with the ledger's dead letters exported afresh."""
    from inventory_pipelines.dataplane import TableStore, rebuild_catalog
    from inventory_pipelines.dataplane.dead_letters import export_dead_letters

    store = TableStore(settings.data_uri())
    engine = _ledger()
    try:
        with engine.connect() as conn:
            export_dead_letters(store, conn)
    finally:
        engine.dispose()
    views = rebuild_catalog(store, settings.catalog_path())
    click.echo(f"{settings.catalog_path()}: {len(views)} views")
    for view in views:
        click.echo(f"  {view}")


# --- sandbox ---------------------------------------------------------------------------------


@main.group()
def sandbox() -> None:
    """Emulators of Odoo and the channels, on loopback."""


@sandbox.command("odoo")
@click.option("--port", type=int, default=8069, show_default=True, help="0 picks a free port.")
@click.option(
    "--version", "odoo_version", type=click.Choice(["16", "17", "18", "19"]), default="17"
)
@click.option("--skus", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox_odoo(port: int, odoo_version: str, skus: int, seed: int, host: str) -> None:
    """Serve the Odoo emulator; the first stdout line is a JSON object of its credentials."""
    from inventory_pipelines.sandbox.odoo import serve

    serve(version=int(odoo_version), port=port, skus=skus, seed=seed, host=host)


def _known_channel(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A `--channel` option's check: a name channels.yml declares (None passes)."""
    if value is None:
        return None
    names = [name for name, _ in _channel_kinds()]
    if value not in names:
        raise click.BadParameter(f"unknown channel {value!r}: channels.yml has {', '.join(names)}")
    return value


def _channel_kinds() -> list[tuple[str, str]]:
    from inventory_pipelines.rules import load_policy

    return [(c.name, c.kind.value) for c in load_policy().channels.channels]


def _stack_env(stack) -> dict[str, str]:
    """Environment variables that point the resources at a running sandbox stack."""
    from inventory_pipelines.channels.factory import sandbox_env

    env = {
        "ODOO_URL": stack.odoo["url"],
        "ODOO_DB": stack.odoo["db"],
        "ODOO_LOGIN": stack.odoo["login"],
        "ODOO_API_KEY": stack.odoo["api_key"],
    }
    for name, creds in stack.channels.items():
        env.update(sandbox_env(name, creds["kind"], creds))
    return env


def _wait_for_signal() -> None:
    stop = {"now": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["now"] = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    while not stop["now"]:
        signal.pause()


@sandbox.command("up")
@click.option("--port-base", type=int, default=8069, show_default=True, help="0: free ports.")
@click.option("--skus", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--odoo-version", type=click.Choice(["16", "17", "18", "19"]), default="17")
def sandbox_up(port_base: int, skus: int, seed: int, odoo_version: str) -> None:
    """Start Odoo and an emulator per channel of channels.yml; print one JSON line of them all.

    The line holds `odoo`, `channels` (each with its kind, URL and credentials) and `env`: the
    variables that point `inventory-sync` and Dagster at this sandbox.
    """
    from inventory_pipelines.sandbox.stack import start_stack

    stack = start_stack(
        _channel_kinds(), port_base=port_base, skus=skus, seed=seed, odoo_version=int(odoo_version)
    )
    try:
        env = _stack_env(stack)
        settings.write_sandbox_env(env)
        click.echo(
            json.dumps(
                {"odoo": stack.odoo, "channels": stack.channels, "feeds": stack.feeds, "env": env}
            )
        )
        sys.stdout.flush()
        _wait_for_signal()
    finally:
        stack.stop()
        settings.clear_sandbox_env()


#: `dev` writes this to a Dagster home that has no dagster.yaml (`.dagster_home/` by default)
DEV_INSTANCE_YAML = """\
# Written by `inventory-sync dev` (make run) because there was none; edit it freely.
# The queued run coordinator hands queued runs to the launcher every second instead of every
# 5 s (Dagster's default): a fast-path run waits at most 1 s in the queue, not 5 s.
run_queue:
  dequeue_interval_seconds: 1
"""


@main.command("dev")
@click.option("--port-base", type=int, default=8069, show_default=True)
@click.option("--odoo-version", type=click.Choice(["16", "17", "18", "19"]), default="17")
@click.option("--skus", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--ui-port", type=int, default=3000, show_default=True)
@click.option("--webhook-port", type=int, default=8088, show_default=True)
def dev(
    port_base: int, odoo_version: str, skus: int, seed: int, ui_port: int, webhook_port: int
) -> None:
    """Start the sandbox (Odoo and every channel), the webhook receiver, then `dagster dev`
    against them (`make run`): the channels' order webhooks and Odoo's push (17+) are wired
    to the receiver, and every sensor and schedule is on, so the loop closes by itself."""
    from inventory_pipelines.sandbox.stack import StackError, start_stack

    stack = start_stack(
        _channel_kinds(), port_base=port_base, skus=skus, seed=seed, odoo_version=int(odoo_version)
    )
    receiver = None
    try:
        settings.write_sandbox_env(_stack_env(stack))
        env = {**os.environ, **_stack_env(stack)}
        env.setdefault("INVENTORY_ENV", "local")
        env.setdefault("DAGSTER_HOME", str(settings.REPO_ROOT / ".dagster_home"))
        env.setdefault("INVENTORY_DAGSTER_URL", f"http://127.0.0.1:{ui_port}")
        Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        instance_yaml = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
        if not instance_yaml.exists():
            instance_yaml.write_text(DEV_INSTANCE_YAML)
        _create_instance(env["DAGSTER_HOME"])
        click.echo(f"Odoo {odoo_version} sandbox with {skus} SKUs at {stack.odoo['url']}", err=True)
        for name, creds in stack.channels.items():
            click.echo(f"channel {name} ({creds['kind']}) at {creds['url']}", err=True)
        if stack.feeds:
            click.echo(f"vendor and 3PL feeds at {stack.feeds['url']}", err=True)
        try:
            receiver = _start_receiver(stack, env, webhook_port, int(odoo_version))
            # the change sensor hands its critical SKUs to the receiver's warm runs
            env.setdefault("INVENTORY_RECEIVER_URL", f"http://127.0.0.1:{webhook_port}")
        except StackError as exc:
            click.echo(f"webhooks: {exc}; polling and the change sensor still run", err=True)
        click.echo(f"Dagster UI at http://127.0.0.1:{ui_port}", err=True)
        dagster = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster")), "dev",
                "-w", str(settings.REPO_ROOT / "workspace.yaml"), "-p", str(ui_port),
            ],
            env=env,
            cwd=settings.REPO_ROOT,
        )  # fmt: skip
        try:
            dagster.wait()
        except KeyboardInterrupt:
            dagster.send_signal(signal.SIGINT)
            dagster.wait()
    finally:
        if receiver is not None:
            receiver.terminate()
            receiver.wait(30)
        stack.stop()
        settings.clear_sandbox_env()


def _create_instance(home: str) -> None:
    """Create the Dagster instance's storage in `home` now, before the receiver and `dagster
    dev` start: both would create a new SQLite instance at once, and two processes stamping
    its schema together leave it with two Alembic heads that neither can open again."""
    from dagster import DagsterInstance

    DagsterInstance.from_config(home).dispose()


def _start_receiver(stack, env: dict[str, str], port: int, odoo_version: int):
    """`inventory-sync webhooks serve` on `port`, the Shopify and WooCommerce emulators
    subscribed to it, and (Odoo 17+) the quant automation rule that pushes stock changes to
    it, made through Odoo's ORM as the README shows; the receiver's process."""
    import time

    import httpx

    from inventory_pipelines.sandbox.stack import StackError, _in_use

    if _in_use(port):
        raise StackError(f"port {port} is in use: choose another --webhook-port")
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("inventory-sync")), "webhooks", "serve",
         "--port", str(port)],
        env=env,
        cwd=settings.REPO_ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.terminate()
            raise StackError(f"the webhook receiver did not start on {base}")
        time.sleep(0.2)
    click.echo(f"webhook receiver at {base}", err=True)
    try:
        _wire_receiver(stack, env, base, odoo_version)
    except Exception as exc:
        process.terminate()
        process.wait(30)
        raise StackError(f"the webhook receiver could not be wired: {exc}") from exc
    return process


def _wire_receiver(stack, env: dict[str, str], base: str, odoo_version: int) -> None:
    """Subscribe the channel emulators to the receiver at `base` and (Odoo 17+) make the
    quant automation rule that pushes stock changes to it."""
    import httpx

    from inventory_pipelines.stream.setup import SANDBOX_ODOO_WEBHOOK_TOKEN

    for name, creds in stack.channels.items():
        if creds["kind"] in ("shopify", "woocommerce"):
            httpx.post(
                f"{creds['url'].rstrip('/')}/sandbox/webhooks",
                json={"url": f"{base}/webhooks/{name}"},
                timeout=5,
            ).raise_for_status()
            click.echo(f"  {name} sends its order webhooks there", err=True)
    if odoo_version >= 17 and not env.get("INVENTORY_ODOO_WEBHOOK_TOKEN"):
        _odoo_push_rule(stack, f"{base}/odoo/{SANDBOX_ODOO_WEBHOOK_TOKEN}")
        click.echo("  Odoo pushes quant changes there (automation rule on stock.quant)", err=True)


def _odoo_push_rule(stack, url: str) -> int:
    """The README's automation rule, made in the sandbox's Odoo over its external API."""
    from inventory_pipelines.odoo import OdooClient, OdooConfig

    config = OdooConfig(
        url=stack.odoo["url"],
        db=stack.odoo["db"],
        login=stack.odoo["login"],
        secret=stack.odoo["api_key"],
    )
    with OdooClient(config) as client:
        [model_id] = client.call("ir.model", "search", [[["model", "=", "stock.quant"]]])

        def fields(*names: str) -> list[int]:
            return client.call(
                "ir.model.fields",
                "search",
                [[["model", "=", "stock.quant"], ["name", "in", list(names)]]],
            )

        return client.call(
            "base.automation",
            "create",
            [
                {
                    "name": "Stock changed: tell the inventory sync",
                    "model_id": model_id,
                    "trigger": "on_create_or_write",
                    "trigger_field_ids": [[6, 0, fields("quantity", "reserved_quantity")]],
                    "filter_domain": "[('location_id.usage', 'in', ['internal', 'transit'])]",
                    "action_server_ids": [
                        [
                            0,
                            0,
                            {
                                "state": "webhook",
                                "webhook_url": url,
                                "webhook_field_ids": [
                                    [6, 0, fields("quantity", "reserved_quantity", "product_id")]
                                ],
                            },
                        ]
                    ],
                }
            ],
        )


# --- dead letters ----------------------------------------------------------------------------


@main.group()
def dlq() -> None:
    """The dead-letter queue: publishes that failed after their retries, orders parked."""


def _ledger():
    """An engine on the migrated ledger at $INVENTORY_LEDGER_URL; one line if it cannot be."""
    import sqlalchemy as sa

    from inventory_pipelines.ledger import LedgerConfigError, create_engine, default_url, migrate
    from inventory_pipelines.ledger.db import shown_url

    url = default_url()
    try:
        migrate(url)
        return create_engine(url)
    except LedgerConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(
            f"the ledger at {shown_url(url)} cannot be used: {cause}"
        ) from None


def _letter_actions(view: dict) -> list[dict[str, str]]:
    """The commands that act on a letter, and what each does."""
    if view["status"] != "open":
        return []
    letter_id = view["id"]
    actions = []
    if view["replayable"]:
        does = (
            "back into the outbox under a new idempotency key; the channel's next publish sends it"
            if view["kind"] == "publish"
            else "back to the inbox as new; the channel's next orders/odoo_order_sync takes "
            "it into Odoo (fix the cause first: the SKU, the customer...)"
        )
        actions.append({"command": f"inventory-sync dlq replay {letter_id}", "does": does})
    does = "close it for good, audited with your name and reason"
    if view["kind"] == "order":
        does += "; the channel's no_parked_orders check stops counting it from its next run"
    actions.append(
        {"command": f'inventory-sync dlq discard {letter_id} --reason "..."', "does": does}
    )
    return actions


def _letter_json(conn, letter, *, full: bool) -> dict:
    from inventory_pipelines.ledger import dlq as ledger_dlq

    view = ledger_dlq.describe(conn, letter)
    view["actions"] = _letter_actions(view)
    if full:
        view["payload"] = letter.payload
        view["history"] = [
            {
                "at": h.at.isoformat(),
                "actor": h.actor,
                "action": h.action,
                "before": h.before,
                "after": h.after,
            }
            for h in ledger_dlq.history(conn, letter.id)
        ]
    return view


def _subject(view: dict) -> str:
    if view["kind"] == "publish":
        return f"{view['items']} update(s)"
    order = view["order"]
    if order["external_id"] and order["event"]:
        return f"order {order['external_id']} {order['event']}"
    if order["external_id"]:
        return f"order {order['external_id']}, as the channel sent it (its model refuses it)"
    return "an order the channel sent, unreadable (its model refuses it)"


@dlq.command("list")
@click.option("--channel", default=None, callback=_known_channel)
@click.option("--kind", type=click.Choice(["publish", "order"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="The same objects as `dlq show --json`.")
def dlq_list(channel: str | None, kind: str | None, as_json: bool) -> None:
    """Open dead letters, oldest first."""
    from inventory_pipelines.ledger import dlq as ledger_dlq

    engine = _ledger()
    try:
        with engine.connect() as conn:
            letters = ledger_dlq.list_open(conn, channel, kind)
            views = [_letter_json(conn, x, full=False) for x in letters]
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(views, default=str))
        return
    if not views:
        click.echo("no open dead letters")
    for x, view in zip(letters, views, strict=True):
        click.echo(
            f"#{x.id}  {x.created_at:%Y-%m-%d %H:%M:%S}  {x.channel}  {x.kind}  "
            f"{_subject(view)}  {x.error}"
        )
    if views:
        click.echo("details and what to do: inventory-sync dlq show ID")


@dlq.command("show")
@click.argument("letter_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for machines.")
def dlq_show(letter_id: int, as_json: bool) -> None:
    """The whole letter: what failed, why, its payload, and what can be done with it."""
    from inventory_pipelines.ledger import dlq as ledger_dlq

    engine = _ledger()
    try:
        with engine.connect() as conn:
            try:
                letter = ledger_dlq.get(conn, letter_id)
            except ledger_dlq.DeadLetterError as exc:
                raise click.ClickException(str(exc)) from exc
            view = _letter_json(conn, letter, full=True)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(view, default=str))
        return
    lines = [
        f"dead letter #{view['id']}: {view['kind']} on {view['channel']}, {view['status']}",
        f"  what            {_subject(view)}",
        f"  error           {view['error']}",
        f"  correlation id  {view['correlation_id'] or '-'}",
        f"  created         {view['created_at']}",
    ]
    if view["kind"] == "order":
        order = view["order"]
        where = (
            f"inbox row {order['inbox_id']} ({order['inbox_status'] or 'gone'})"
            if order["inbox_id"] is not None
            else "none: parked as the channel sent it, before the inbox"
        )
        lines.append(f"  inbox           {where}")
        if order.get("route"):
            lines.append(f"  came by         {order['route']}")
    if view["closed"]:
        closed = view["closed"]
        lines.append(
            f"  closed          {closed['at']} by {closed['by']}"
            + (f": {closed['reason']}" if closed["reason"] else "")
        )
    lines.append("  payload")
    payload = json.dumps(view["payload"], indent=2, sort_keys=True, default=str)
    lines += [f"    {line}" for line in payload.splitlines()]
    lines.append("  what can be done")
    for action in view["actions"]:
        lines.append(f"    {action['command']}")
        lines.append(f"        {action['does']}")
    if view["status"] == "open" and not view["replayable"]:
        lines.append(f"    (replay is not possible: {view['not_replayable']})")
    if view["status"] != "open":
        lines.append("    nothing: it is closed")
    click.echo("\n".join(lines))


@dlq.command("discard")
@click.argument("ids", metavar="ID...", nargs=-1, type=int, required=True)
@click.option("--reason", required=True, help="Why it needs no replay (kept in the audit log).")
@click.option("--actor", default=lambda: os.environ.get("USER", "operator"), show_default="$USER")
def dlq_discard(ids: tuple[int, ...], reason: str, actor: str) -> None:
    """Close dead letters for good (a publish overtaken, an order refused), audited."""
    from inventory_pipelines.ledger import dlq as ledger_dlq

    failed = []
    engine = _ledger()
    try:
        with engine.connect() as conn:
            for letter_id in ids:
                try:
                    letter = ledger_dlq.discard(
                        conn, letter_id, actor=actor, reason=reason, source="cli"
                    )
                except ledger_dlq.DeadLetterError as exc:
                    failed.append(letter_id)
                    click.echo(f"#{letter_id}: {exc}", err=True)
                    continue
                click.echo(f"#{letter_id} ({letter.kind} on {letter.channel}) discarded: {reason}")
    finally:
        engine.dispose()
    if failed:
        sys.exit(1)


@dlq.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option(
    "--channel",
    default=None,
    callback=_known_channel,
    help="Replay every open dead letter of a channel.",
)
@click.option("--actor", default=lambda: os.environ.get("USER", "operator"), show_default="$USER")
def dlq_replay(ids: tuple[int, ...], channel: str | None, actor: str) -> None:
    """Hand dead letters back: publishes to the outbox (the channel's next publish sends
    them), parked orders to the inbox (the channel's next ingestion takes them)."""
    from inventory_pipelines.ledger import dlq as ledger_dlq
    from inventory_pipelines.ledger import inbox

    if not ids and not channel:
        raise click.UsageError("name dead letter ids, or --channel")
    failed, missing, kinds = [], [], set()
    engine = _ledger()
    try:
        with engine.connect() as conn:
            chosen = list(ids) or [x.id for x in ledger_dlq.list_open(conn, channel)]
            for letter_id in chosen:
                try:
                    letter = ledger_dlq.get(conn, letter_id)
                except ledger_dlq.DeadLetterError as exc:
                    missing.append(letter_id)  # nothing to settle: said once, no advice
                    click.echo(f"#{letter_id}: {exc}", err=True)
                    continue
                try:
                    if letter.kind == "order":
                        row = inbox.replay_parked(conn, letter_id, actor=actor)
                        click.echo(f"#{letter_id}: inbox row {row} back for ingestion")
                    else:
                        rows = ledger_dlq.replay_publish(conn, letter_id, actor=actor)
                        click.echo(f"#{letter_id}: {rows} update(s) back in the outbox")
                    kinds.add(letter.kind)
                except ledger_dlq.DeadLetterError as exc:
                    failed.append(letter_id)
                    click.echo(f"#{letter_id}: {exc}", err=True)
    finally:
        engine.dispose()
    if "publish" in kinds:
        click.echo(
            "re-materialize inventory/published_channel_state (or run `inventory-sync sync`)"
        )
    if "order" in kinds:
        click.echo("re-materialize orders/odoo_order_sync for the channel (the ingest_orders job)")
    if failed:
        ids_text = " ".join(str(i) for i in failed)
        click.echo(
            "settle what cannot be replayed with: "
            f'inventory-sync dlq discard {ids_text} --reason "..."',
            err=True,
        )
    if failed or missing:
        sys.exit(1)


# --- sync ------------------------------------------------------------------------------------


@main.group()
def webhooks() -> None:
    """Webhooks: channel orders into the ledger's inbox, Odoo's stock changes into fast runs."""


@webhooks.command("serve")
@click.option("--port", type=int, default=8088, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def webhooks_serve(port: int, host: str) -> None:
    """Serve POST /webhooks/<channel> for every Shopify and WooCommerce channel of channels.yml,
    and POST /odoo/<token> for Odoo's automation rule on quants (Odoo 17+).

    Each channel's secret comes from INVENTORY_CHANNEL_<NAME>_WEBHOOK_SECRET, the Odoo token
    from INVENTORY_ODOO_WEBHOOK_TOKEN; in the local environment the sandbox's documented
    defaults stand in for unset ones. Odoo hints become refresh_changed_skus runs of the
    instance at DAGSTER_HOME, executed here (automation.yml `push.runs_in: receiver`), or
    submitted to the Dagster webserver at INVENTORY_DAGSTER_URL (`runs_in: instance`).
    """
    import uvicorn

    from inventory_pipelines.orders.receiver import create_app
    from inventory_pipelines.orders.setup import webhook_channels
    from inventory_pipelines.stream.setup import SANDBOX_ODOO_WEBHOOK_TOKEN, PushConfigError
    from inventory_pipelines.stream.setup import push_path as odoo_push_path

    channels, missing = webhook_channels()
    for name in missing:
        click.echo(
            f"{name}: no INVENTORY_CHANNEL_*_WEBHOOK_SECRET, its webhooks are refused", err=True
        )
    executor = _push_executor()
    try:
        push, why = odoo_push_path(submitter=executor)
    except PushConfigError as exc:
        raise click.ClickException(f"odoo push: {exc}") from None
    if push is not None and executor is not None:
        push.coalescer.takes_skus = True  # the change sensor may hand its SKUs over
    if not channels and push is None:
        raise click.ClickException(
            f"nothing to receive: no channel has a webhook secret and the Odoo push is off ({why})"
        )
    app = create_app(_ledger(), channels)
    for name in sorted(channels):
        click.echo(f"{name}: POST http://{host}:{port}/webhooks/{name}", err=True)
    if push is None:
        click.echo(f"odoo: no push route ({why})", err=True)
    else:
        app.router.routes.extend(push.routes())
        shown = push.token if push.token == SANDBOX_ODOO_WEBHOOK_TOKEN else "<token>"
        click.echo(f"odoo: POST http://{host}:{port}/odoo/{shown}", err=True)
        push.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        if push is not None:
            push.stop()


def _push_executor():
    """With `push.runs_in: receiver` (automation.yml), the executor that runs the push's fast
    runs in this process; None hands them to the webserver."""
    from inventory_pipelines.rules import load_policy

    push = load_policy().automation.push
    if not push.enabled or push.runs_in != "receiver":
        return None
    if not os.environ.get("DAGSTER_HOME"):
        click.echo(
            "odoo push: DAGSTER_HOME is not set, so fast runs go to the webserver at "
            "INVENTORY_DAGSTER_URL instead of running here (push.runs_in: receiver)",
            err=True,
        )
        return None
    from inventory_pipelines.defs.stream.in_process import (
        ReceiverRunsUnsafeError,
        receiver_executor,
    )
    from inventory_pipelines.stream.runs import FAST_JOB

    try:
        executor = receiver_executor(FAST_JOB)
    except ReceiverRunsUnsafeError as exc:
        raise click.ClickException(f"odoo push: {exc}") from None
    click.echo(
        f"odoo push: fast runs execute here, as runs of {os.environ['DAGSTER_HOME']}", err=True
    )
    return executor


@main.command("sync")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, per channel figures.")
@click.option("--channel", "only", multiple=True, help="Only these channels (default: all).")
def sync(as_json: bool, only: tuple[str, ...]) -> None:
    """Run the whole graph once, in process, and publish to every channel (cron, smoke tests)."""
    from inventory_pipelines.cli_ops import sync_progress
    from inventory_pipelines.defs.runner import run_sync

    _ledger().dispose()  # a ledger that cannot be used is refused before Odoo is read
    debug = bool(click.get_current_context().find_root().params.get("debug"))
    try:  # Dagster's log only with --debug; on a terminal, the run's progress instead
        with sync_progress(debug=debug) as progress:
            summary = run_sync(channels=list(only) or None, on_progress=progress, quiet=not debug)
    except ValueError as exc:  # an unknown channel: said before anything runs
        raise click.UsageError(str(exc)) from exc
    for figures in (summary, *summary["channels"].values()):
        if figures.get("error"):
            figures["error"] = _redacted(figures["error"])
    if as_json:
        click.echo(json.dumps(summary, default=str))
    else:
        for channel, figures in summary["channels"].items():
            shown = {k: v for k, v in figures.items() if v is not None and k != "error"}
            click.echo(f"{channel}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    if not summary["success"]:
        # the table (or the JSON) on stdout, the error on stderr, where a person looks first
        raise click.ClickException(
            f"sync failed: {summary.get('error') or 'see the log above'}".replace("\n", " ")
        )


from inventory_pipelines.cli_ops import audit, status  # noqa: E402 (commands of their own module)

main.add_command(status)
main.add_command(audit)

from inventory_pipelines.overrides.cli import override  # noqa: E402 (its own module)

main.add_command(override)

from inventory_pipelines.cli_odoo import odoo  # noqa: E402 (its own module)

main.add_command(odoo)
from inventory_pipelines.cli_simulate import simulate  # noqa: E402 (its own module)

main.add_command(simulate)

if __name__ == "__main__":
    main()
