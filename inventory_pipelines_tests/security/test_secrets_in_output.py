"""No secret in anything a sandbox cycle with failures leaves behind (DESIGN.md section 8).

Every secret the product reads is set, through the environment, to a distinctive random
value the emulators are started with: Odoo's API key, each channel's tokens, keys and
secrets, both webhook secrets, the Odoo push token, the ledger's password (on PostgreSQL,
where one runs here) and the chat webhook's URL. One cycle then runs the way production
does, with failures:

- orders reach the receiver as the channels' signed webhooks; a forged one (401) and a
  stale one (400) are refused; WooCommerce's poll reads an order its model refuses that a
  plugin left the store's API secret on (`meta_data`), which is parked;
- Odoo pushes a quant hint with the token (and one with a wrong token, 401); the fast run it
  asks for cannot be submitted (no webserver), which is logged;
- a full run (what `inventory-sync sync` runs) reads back, polls, ingests orders into Odoo,
  allocates and publishes to every channel;
- a fast refresh publishes to a channel that answers 401 (retried), then 400: the batch is
  dead-lettered, the run fails;
- a snapshot run meets an Odoo that refuses calls (403): the run fails;
- the run-failure sensor records both failures and posts them to the chat;
- an operator runs `dlq list`, `dlq show` for each letter and `odoo check`.

Then every output is searched for every secret (as set, and as the base64 pair of
WooCommerce's Basic authentication): the commands' stdout and stderr, every log record of the
process, every event of every Dagster run with its run config, tags and job snapshot, every
data plane table and the DuckDB catalog's views, every row of every ledger table, and every
file left in the cycle's folders. A hit fails, naming the secret and where it was found.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import polars as pl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from dagster._serdes import serialize_value
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inventory_pipelines.channels.factory import sandbox_env
from inventory_pipelines.cli import main
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.alerts.sensors import run_failure_alert
from inventory_pipelines.defs.resources import LedgerResource, build_resources
from inventory_pipelines.defs.shared import (
    CANONICAL,
    CHANNEL_ALLOCATION,
    CHANNEL_GRAPH,
    POLICY,
    channel_range_tags,
)
from inventory_pipelines.defs.stream.jobs import CHANGED_SKUS_SELECTION
from inventory_pipelines.ledger import create_engine, dlq, migrate
from inventory_pipelines.orders.receiver import create_app
from inventory_pipelines.orders.setup import webhook_channels
from inventory_pipelines.sandbox.amazon import AmazonSandbox
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.webhooks import signature
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox
from inventory_pipelines.stream.setup import push_path

pytestmark = pytest.mark.slow

SKUS = 16
SEED = 12
CHANNELS = POLICY.channels.names()
EVERY_CHANNEL = channel_range_tags(CHANNELS)
ABSURD = 2**63  # units no order model takes: the order is parked as the channel sent it


def _secret(name: str) -> str:
    """A value no output can hold by chance: the name, and 20 random hex digits."""
    return f"zq{name.lower().replace('_', '')}x{secrets.token_hex(10)}"


@dataclass
class Secrets:
    """Every secret of the cycle by the variable (or role) it is set as."""

    values: dict[str, str] = field(default_factory=dict)

    def new(self, name: str) -> str:
        self.values[name] = _secret(name)
        return self.values[name]

    def forms(self) -> dict[str, set[str]]:
        """Each secret and the forms it travels in (a Basic pair, base64)."""
        forms = {name: {value} for name, value in self.values.items()}
        key = self.values["INVENTORY_CHANNEL_WOOCOMMERCE_CONSUMER_KEY"]
        secret = self.values["INVENTORY_CHANNEL_WOOCOMMERCE_CONSUMER_SECRET"]
        forms["INVENTORY_CHANNEL_WOOCOMMERCE_CONSUMER_SECRET"].add(
            base64.b64encode(f"{key}:{secret}".encode()).decode()
        )
        return forms


@dataclass
class Cycle:
    """What the cycle left: outputs by where they were found, and what it went through."""

    secrets: Secrets
    folder: Path
    ledger_url: str
    outputs: dict[str, str] = field(default_factory=dict)
    runs: list[dg.DagsterRun] = field(default_factory=list)
    instance: dg.DagsterInstance | None = None
    answers: dict[str, int] = field(default_factory=dict)
    chat: list[dict[str, Any]] = field(default_factory=list)

    def leaks(self, prefix: str = "") -> list[str]:
        found = []
        for where, text in self.outputs.items():
            if not where.startswith(prefix):
                continue
            for name, forms in self.secrets.forms().items():
                if any(form in text for form in forms):
                    found.append(f"{name} in {where}")
        return found


class _Records(logging.Handler):
    """Every log record of the process, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _chat_server(received: list[dict[str, Any]]):
    async def hook(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/services/{rest:path}", hook, methods=["POST"])])
    return start_server(app, "127.0.0.1", 0, "chat")


def _post_raw(url: str, body: bytes) -> int:
    """POST without httpx (whose log line would carry the test's own URL)."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _ledger_url(request: pytest.FixtureRequest, folder: Path, password: str) -> str:
    """A PostgreSQL ledger whose URL carries `password` (the test cluster trusts loopback, so
    any password connects), or SQLite where no PostgreSQL runs here."""
    try:
        admin = request.getfixturevalue("pg_admin")
    except (pytest.skip.Exception, pytest.FixtureLookupError):
        return f"sqlite:///{folder / 'ledger.sqlite'}"
    name = f"secrets_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    request.addfinalizer(lambda: _drop(admin, name))
    url = admin.url.set(database=name)
    if url.password is None:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def cycle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Cycle:
    folder = tmp_path_factory.mktemp("secrets-cycle")
    s = Secrets()
    odoo_key = s.new("ODOO_API_KEY")
    token = s.new("INVENTORY_ODOO_WEBHOOK_TOKEN")
    shopify_hook = s.new("INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET")
    woo_hook = s.new("INVENTORY_CHANNEL_WOOCOMMERCE_WEBHOOK_SECRET")
    ledger_url = _ledger_url(request, folder, s.new("INVENTORY_LEDGER_URL password"))
    if sa.make_url(ledger_url).password:
        s.values["INVENTORY_LEDGER_URL password"] = sa.make_url(ledger_url).password
    else:
        del s.values["INVENTORY_LEDGER_URL password"]
    emulators = {
        "shopify": ShopifySandbox(
            skus=SKUS, seed=SEED, access_token=s.new("INVENTORY_CHANNEL_SHOPIFY_ACCESS_TOKEN")
        ),
        "woocommerce": WooCommerceSandbox(
            products=SKUS,
            seed=SEED,
            consumer_key=s.new("INVENTORY_CHANNEL_WOOCOMMERCE_CONSUMER_KEY"),
            consumer_secret=s.new("INVENTORY_CHANNEL_WOOCOMMERCE_CONSUMER_SECRET"),
        ),
        "amazon": AmazonSandbox(
            skus=SKUS,
            seed=SEED,
            client_secret=s.new("INVENTORY_CHANNEL_AMAZON_CLIENT_SECRET"),
            refresh_token=s.new("INVENTORY_CHANNEL_AMAZON_REFRESH_TOKEN"),
        ),
        "pos": GenericChannelSandbox(
            listings=SKUS, seed=SEED, secret=s.new("INVENTORY_CHANNEL_POS_SECRET")
        ),
        "b2b": GenericChannelSandbox(
            listings=SKUS, seed=SEED, secret=s.new("INVENTORY_CHANNEL_B2B_SECRET")
        ),
    }
    odoo = OdooSandbox(version=17, skus=SKUS, seed=SEED, api_key=odoo_key, password=odoo_key)
    chat: list[dict[str, Any]] = []
    records = _Records()
    loggers = [logging.getLogger(), logging.getLogger("dagster")]
    with pytest.MonkeyPatch.context() as env:
        odoo.start()
        for emulator in emulators.values():
            emulator.start()
        chat_server = _chat_server(chat)
        alert_url = s.new("INVENTORY_ALERT_WEBHOOK_URL")
        s.values["INVENTORY_ALERT_WEBHOOK_URL"] = alert_url = (
            f"http://127.0.0.1:{chat_server[2].getsockname()[1]}/services/{alert_url}"
        )
        settings = {
            "INVENTORY_ENV": "local",
            "DAGSTER_HOME": str(folder / "dagster_home"),
            "INVENTORY_DATA_DIR": str(folder / "data" / "tables"),
            "INVENTORY_CATALOG": str(folder / "data" / "warehouse.duckdb"),
            "INVENTORY_LEDGER_URL": ledger_url,
            "ODOO_URL": odoo.url,
            "ODOO_DB": odoo.db,
            "ODOO_LOGIN": odoo.login,
            "ODOO_API_KEY": odoo_key,
            "INVENTORY_ODOO_WEBHOOK_TOKEN": token,
            "INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET": shopify_hook,
            "INVENTORY_CHANNEL_WOOCOMMERCE_WEBHOOK_SECRET": woo_hook,
            "INVENTORY_ALERT_WEBHOOK_URL": alert_url,
            "INVENTORY_DAGSTER_URL": "http://127.0.0.1:9",  # no webserver: submissions fail
        }
        for name, emulator in emulators.items():
            kind = POLICY.channels.get(name).kind.value
            settings.update(sandbox_env(name, kind, emulator.credentials()))
        # the store's key and secret in every URL: the worst case for logs and errors
        settings["INVENTORY_CHANNEL_WOOCOMMERCE_AUTH"] = "query"
        for name, value in settings.items():
            env.setenv(name, value)
        (folder / "dagster_home").mkdir()
        migrate(ledger_url)
        for logger in loggers:
            logger.addHandler(records)
        previous = logging.getLogger().level
        logging.getLogger().setLevel(logging.DEBUG)
        try:
            result = Cycle(s, folder, ledger_url, chat=chat)
            _run(result, odoo, emulators)
        finally:
            logging.getLogger().setLevel(previous)
            for logger in loggers:
                logger.removeHandler(records)
            stop_server(*chat_server)
            for emulator in emulators.values():
                emulator.stop()
            odoo.stop()
    result.outputs["the process's log records"] = "\n".join(records.lines)
    _collect_files(result)
    return result


def _run(cycle: Cycle, odoo: OdooSandbox, emulators: dict[str, Any]) -> None:
    """The cycle itself (see the module docstring); every output into `cycle.outputs`."""
    s = cycle.secrets.values
    engine = create_engine(cycle.ledger_url)
    channels, _ = webhook_channels()
    app = create_app(engine, channels)
    push, _ = push_path()
    assert push is not None
    app.router.routes.extend(push.routes())
    push.start()
    receiver = start_server(app, "127.0.0.1", 0, "receiver")
    base = f"http://127.0.0.1:{receiver[2].getsockname()[1]}"
    try:
        _orders_and_pushes(cycle, odoo, emulators, base)
        cycle.answers["push drained"] = int(push.coalescer.drain())
    finally:
        push.stop()
        stop_server(*receiver)
    with dg.instance_for_test(temp_dir=str(cycle.folder / "dagster_home")) as instance:
        cycle.instance = instance
        from inventory_pipelines.definitions import defs

        assets = list(defs().assets or [])
        full = dg.materialize(
            assets,
            selection=CHANNEL_GRAPH,
            resources=build_resources(),
            instance=instance,
            tags=EVERY_CHANNEL,
            raise_on_error=False,
        )
        cycle.answers["full run"] = int(full.success)

        # a fast refresh of SKUs whose stock moved, to a channel refusing the credentials
        store = TableStore(cycle.folder / "data" / "tables")
        shown = store.read(CHANNEL_ALLOCATION, "pos").filter(pl.col("publishable") > 0)
        east = store.read(CANONICAL).filter(pl.col("warehouse") == "EAST")
        emptied = east.join(shown.select("sku"), on="sku").sort("sku").head(2)
        skus = emptied["sku"].to_list()
        for sku, on_hand in emptied.select("sku", "on_hand").iter_rows():
            odoo.state.move_stock(sku, "EAST/Stock", -on_hand)  # pos sells from EAST alone
        emulators["pos"].faults.fail_next(1, 401)  # refused credentials: retried
        emulators["pos"].faults.fail_next(1, 400)  # then the batch refused: dead-lettered
        fast = dg.materialize(
            assets,
            selection=CHANGED_SKUS_SELECTION,
            resources=build_resources(),
            instance=instance,
            tags=EVERY_CHANNEL,
            run_config={"resources": {"sku_scope": {"config": {"skus": skus}}}},
            raise_on_error=False,
        )
        emulators["pos"].faults.reset()
        cycle.answers["fast run"] = int(fast.success)

        # a snapshot run against an Odoo that refuses every call
        odoo.faults.configure(error_rate=1.0, error_statuses=[403])
        snapshot = dg.materialize(
            assets,
            selection=dg.AssetSelection.assets(["odoo", "products"], ["odoo", "locations"]),
            resources=build_resources(),
            instance=instance,
            raise_on_error=False,
        )
        odoo.faults.reset()
        cycle.answers["snapshot run"] = int(snapshot.success)

        ledger = LedgerResource(url=cycle.ledger_url)
        for result in (fast, snapshot):
            if not result.success:
                run_failure_alert(_failure_context(instance, result.run_id), ledger=ledger)
        cycle.runs = list(instance.get_runs())
        _dagster_outputs(cycle, instance)
    _operator_commands(cycle, engine)
    with engine.connect() as conn:
        cycle.answers["open letters"] = len(dlq.list_open(conn))
        cycle.answers["publish letters"] = len(dlq.list_open(conn, kind="publish"))
        cycle.answers["order letters"] = len(dlq.list_open(conn, kind="order"))
    _ledger_outputs(cycle, engine)
    engine.dispose()
    assert s  # every secret stays set for the search


def _orders_and_pushes(cycle: Cycle, odoo: OdooSandbox, emulators: dict[str, Any], base: str):
    s = cycle.secrets.values
    shopify, woo, amazon = emulators["shopify"], emulators["woocommerce"], emulators["amazon"]
    shopify.webhooks.configure(
        url=f"{base}/webhooks/shopify", secret=s["INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET"]
    )
    woo.webhooks.configure(
        url=f"{base}/webhooks/woocommerce",
        secret=s["INVENTORY_CHANNEL_WOOCOMMERCE_WEBHOOK_SECRET"],
    )
    for sku in sorted(shopify.state.variant_by_sku)[:2]:
        shopify.state.sell(sku, 1)
    simple = sorted(i.id for i in woo.state.items.values() if i.type == "simple")
    woo.state.sell(simple[0], 1)
    plugin_meta = [
        {"key": "api_key", "value": s["INVENTORY_CHANNEL_WOOCOMMERCE_CONSUMER_SECRET"]},
        {"key": "_payment_token", "value": s["INVENTORY_CHANNEL_WOOCOMMERCE_CONSUMER_KEY"]},
    ]
    woo.state.sell(simple[1], ABSURD, meta_data=plugin_meta)
    amazon.state.sell(sorted(amazon.state.listings)[0], 1)
    shopify.webhooks.drain()
    woo.webhooks.drain()
    cycle.answers["webhooks delivered"] = shopify.webhooks.sent + woo.webhooks.sent

    # a forged delivery and a stale one
    body = json.dumps({"id": 990001, "created_at": datetime.now(UTC).isoformat()}).encode()
    forged = {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": signature("x", body)}
    cycle.answers["forged"] = httpx.post(
        f"{base}/webhooks/shopify", content=body, headers=forged
    ).status_code
    old = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    body = json.dumps({"id": 990002, "created_at": old, "line_items": []}).encode()
    stale = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": signature(s["INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET"], body),
    }
    cycle.answers["stale"] = httpx.post(
        f"{base}/webhooks/shopify", content=body, headers=stale
    ).status_code

    # Odoo's push: a hint with the token, one with a wrong token
    quant = next(q for s in ("SKU-000001", "SKU-000002", "SKU-000003")
                 if (q := odoo.state.find_quant(s, "MAIN/Stock")))  # fmt: skip
    hint = json.dumps({"_model": "stock.quant", "_id": quant, "id": quant}).encode()
    cycle.answers["push"] = _post_raw(f"{base}/odoo/{s['INVENTORY_ODOO_WEBHOOK_TOKEN']}", hint)
    cycle.answers["push, wrong token"] = _post_raw(f"{base}/odoo/not-the-token-at-all", hint)


def _failure_context(instance: dg.DagsterInstance, run_id: str) -> dg.RunFailureSensorContext:
    run = instance.get_run_by_id(run_id)
    [failure] = [
        e.dagster_event
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
    ]
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
    ).for_run_failure()


def _dagster_outputs(cycle: Cycle, instance: dg.DagsterInstance) -> None:
    for run in cycle.runs:
        where = f"Dagster run {run.run_id[:8]} ({run.job_name})"
        cycle.outputs[f"{where}: run config and tags"] = json.dumps(
            {"run_config": run.run_config, "tags": run.tags}, default=str
        )
        cycle.outputs[f"{where}: events"] = "\n".join(
            serialize_value(entry) for entry in instance.all_logs(run.run_id)
        )
        if run.job_snapshot_id:
            snapshot = instance.get_job_snapshot(run.job_snapshot_id)
            cycle.outputs[f"{where}: job snapshot"] = serialize_value(snapshot)


def _operator_commands(cycle: Cycle, engine: sa.Engine) -> None:
    runner = CliRunner()
    commands = [["dlq", "list", "--json"], ["dlq", "list"], ["odoo", "check", "--json"]]
    with engine.connect() as conn:
        commands += [["dlq", "show", str(x.id)] for x in dlq.list_open(conn)]
        commands += [["dlq", "show", str(x.id), "--json"] for x in dlq.list_open(conn)]
    for command in commands:
        result = runner.invoke(main, command)
        where = f"inventory-sync {' '.join(command)}"
        cycle.outputs[f"{where}: stdout"] = result.stdout
        cycle.outputs[f"{where}: stderr"] = result.stderr


def _ledger_outputs(cycle: Cycle, engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            cycle.outputs[f"ledger table {table.name}"] = "\n".join(
                json.dumps([str(v) for v in row]) for row in rows
            )


def _collect_files(cycle: Cycle) -> None:
    """Every file left under the cycle's folder: bytes as they are, tables as their rows."""
    for path in sorted(cycle.folder.rglob("*")):
        if not path.is_file():
            continue
        where = f"file {path.relative_to(cycle.folder)}"
        cycle.outputs[where] = path.read_bytes().decode("latin-1")
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            cycle.outputs[f"{where}: rows"] = "\n".join(
                json.dumps(r, default=str) for r in frame.to_dicts()
            )
        if path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as conn:
                views = conn.execute("SELECT view_name, sql FROM duckdb_views()").fetchall()
            cycle.outputs[f"{where}: views"] = "\n".join(f"{n}: {sql}" for n, sql in views)


# -- the cycle went through its failures --------------------------------------------------------


def test_the_cycle_met_every_failure_it_is_meant_to(cycle: Cycle) -> None:
    assert cycle.answers["webhooks delivered"] >= 3
    assert (cycle.answers["forged"], cycle.answers["stale"]) == (401, 400)
    assert (cycle.answers["push"], cycle.answers["push, wrong token"]) == (202, 401)
    assert cycle.answers["full run"] == 1
    assert cycle.answers["fast run"] == 0 and cycle.answers["snapshot run"] == 0
    assert cycle.answers["publish letters"] >= 1 and cycle.answers["order letters"] >= 1
    assert len(cycle.chat) == 2  # both failed runs posted
    assert cycle.answers["push drained"] == 1
    logged = cycle.outputs["the process's log records"]
    for line in (
        "webhook for shopify refused: bad or missing signature",
        "webhook for shopify refused (400)",
        "odoo push: the fast run for 1 SKU(s) was not submitted",
        "generic: batch ",  # the batch pos refused
        "HTTP Request: POST $INVENTORY_ALERT_WEBHOOK_URL",
    ):
        assert line in logged, line
    events = "\n".join(v for k, v in cycle.outputs.items() if k.endswith(": events"))
    assert "pos: 1 open dead letter" in events and "HTTP 403" in events
    assert "api_key" in cycle.outputs["ledger table dead_letters"]  # the plugin's entry, kept
    assert any(where.startswith("Dagster run") for where in cycle.outputs)
    assert any(where.endswith(".parquet: rows") for where in cycle.outputs)


# -- and left no secret anywhere ----------------------------------------------------------------


def test_no_secret_in_the_commands_output(cycle: Cycle) -> None:
    assert cycle.leaks("inventory-sync") == []


def test_no_secret_in_any_log_record(cycle: Cycle) -> None:
    assert cycle.leaks("the process's log records") == []


def test_no_secret_in_dagster_events_metadata_run_config_tags_or_job_snapshots(
    cycle: Cycle,
) -> None:
    assert len(cycle.runs) == 3
    assert cycle.leaks("Dagster run") == []


def test_no_secret_in_any_ledger_table(cycle: Cycle) -> None:
    assert {"ledger table audit_log", "ledger table dead_letters"} <= set(cycle.outputs)
    assert cycle.leaks("ledger table") == []


def test_no_secret_in_the_data_plane_or_any_file_left_behind(cycle: Cycle) -> None:
    assert cycle.leaks("file") == []
