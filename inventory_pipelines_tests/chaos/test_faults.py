"""The other faults, a few trials each: a channel down for a while, Odoo down and slow, webhooks
duplicated and reordered, the ledger's PostgreSQL restarted in the middle of a run.

Every trial ends with the same invariants as the kill trials (`publishing.check_invariants`,
`ingestion.check_invariants`), against a clean run of the same scenario, plus what its fault
promises (a channel that is down gets nothing dead-lettered: its updates wait; a cancellation
that arrives before its order keeps the order out of Odoo's confirmed sales).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import circuits, create_engine, dlq, inbox, outbox
from inventory_pipelines.ledger.schema import pending_units
from inventory_pipelines.odoo import OdooClient
from inventory_pipelines.orders.ingest import Ingestor, channel_setups
from inventory_pipelines.orders.receiver import WebhookChannel, create_app
from inventory_pipelines.orders.setup import SANDBOX_WEBHOOK_SECRETS
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.webhooks import signature
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox
from inventory_pipelines_tests.chaos import children, ingestion, publishing, report
from inventory_pipelines_tests.pg import restart_server, restartable
from inventory_pipelines_tests.publishing.test_publisher import _cool_down_passes

SEED = 20261204
ODOO_LATENCY = 0.01
_PUBLISH_BASELINES: dict[int, publishing.Baseline] = {}
_INGEST_BASELINES: dict[int, ingestion.Baseline] = {}


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooSandbox]:
    """One Odoo for the module's order trials (each trial's orders have their own ids)."""
    with OdooSandbox(version=17, skus=60, seed=3, port=0) as sandbox:
        sandbox.faults.set_latency(ODOO_LATENCY)
        yield sandbox


@pytest.fixture(scope="module")
def skus(odoo: OdooSandbox) -> list[str]:
    return ingestion.unit_skus(odoo)


@pytest.fixture
def ledgers(request: pytest.FixtureRequest, tmp_path: Path) -> publishing.LedgerFactory:
    return publishing.LedgerFactory(request, tmp_path)


def publish_baseline(ledgers: publishing.LedgerFactory, tmp_path: Path) -> publishing.Baseline:
    if SEED not in _PUBLISH_BASELINES:
        _PUBLISH_BASELINES[SEED] = publishing.clean_run(ledgers, SEED, tmp_path)
    return _PUBLISH_BASELINES[SEED]


def ingest_baseline(
    ledgers: publishing.LedgerFactory, odoo: OdooSandbox, skus: list[str], tmp_path: Path
) -> ingestion.Baseline:
    if SEED not in _INGEST_BASELINES:
        _INGEST_BASELINES[SEED] = ingestion.clean_run(ledgers, odoo, skus, SEED, tmp_path)
    return _INGEST_BASELINES[SEED]


class When:
    """Runs `action` once `condition` holds (polled every 20 ms, in a thread), until stopped;
    `waited` is how long it took (None: it never held)."""

    def __init__(self, condition: Callable[[], bool], action: Callable[[], object]) -> None:
        self.waited: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(condition, action))
        self._thread.start()

    def _watch(self, condition: Callable[[], bool], action: Callable[[], object]) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            if condition():
                self.waited = time.monotonic() - started
                action()
                return
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop watching; wait for the action if it is running."""
        self._stop.set()
        self._thread.join()


def after(seconds: float, action: Callable[[], object]) -> threading.Timer:
    """Run `action` in `seconds` (at once for 0), in a timer thread; join it when done."""
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


# -- a channel down for a while -------------------------------------------------------------------

CHANNEL_DOWN = [
    # channel, outage mode, whether it starts once the channel acknowledged a first batch
    # (else before the round), recovery by a full run (else a fast one)
    ("shopify", "503", False, True),
    ("pos", "close", False, False),
    ("b2b", "503", True, False),
]


@pytest.mark.parametrize(
    ("channel", "mode", "mid_round", "full"),
    CHANNEL_DOWN,
    ids=[f"{c}-{m}{'-mid-round' if r else ''}" for c, m, r, _ in CHANNEL_DOWN],
)
def test_a_channel_down_for_a_while_gets_every_update_once_it_is_back(
    ledgers: publishing.LedgerFactory,
    tmp_path: Path,
    channel: str,
    mode: str,
    mid_round: bool,
    full: bool,
) -> None:
    """The channel fails every request (503, or connections dropped) from the round's start or
    from its first acknowledged batch on, through a second round whose probe fails too; then
    it is back."""
    baseline = publish_baseline(ledgers, tmp_path)
    when = "once it acknowledged a first batch" if mid_round else "from the round's start"
    trial = report.Trial(
        "channel-down",
        f"{channel}-{mode}{'-mid-round' if mid_round else ''}",
        SEED,
        "sqlite",
        f"{channel} outage ({mode}), two rounds; recovery: {'full' if full else 'fast'} run",
        when,
    )
    with (
        report.Recorder(trial) as rec,
        publishing.channel_stack() as (emulators, env),
        ledgers.fresh("sqlite") as url,
    ):
        plan = publishing.scenario(env, SEED)
        assert children.run_child(children.publish, (env, url, plan.first, "r0", True)) == 0
        faults = emulators[channel].faults
        engine = create_engine(url)

        def acknowledged() -> bool:
            with engine.connect() as conn:
                rows = outbox.rows_of_round(conn, "r1", channel)
            return any(r.status == "acknowledged" for r in rows)

        if mid_round:
            watcher = When(acknowledged, lambda: faults.set_outage(mode))
        else:
            faults.set_outage(mode)
        # a fast run: the graph leaves a channel it cannot read back out of the round
        code = children.run_child(children.publish, (env, url, plan.second, "r1", False))
        if mid_round:
            watcher.stop()
        rec.check("the round under the outage ended", code == 0, f"exit {code}")
        rec.check("the outage struck", faults.outage is not None, "the round ended first")
        try:
            _cool_down_passes(engine, channel)  # the probe is due: it fails, the circuit reopens
            code = children.run_child(children.publish, (env, url, plan.second, "r1b", False))
            rec.check("the round with a failed probe ended", code == 0, f"exit {code}")
            with engine.connect() as conn:
                letters = dlq.list_open(conn, channel)
                waiting = outbox.count_waiting(conn, channel)
                circuit = circuits.get(conn, channel)
            rec.note(f"{waiting} updates waited")
            rec.check("nothing dead-lettered while down", not letters, str(letters))
            rec.check("its updates wait in the outbox", waiting > 0, "none waiting")
            rec.check("its circuit is open", circuit.state == "open", circuit.describe())
            faults.set_outage(False)
            _cool_down_passes(engine, channel)
        finally:
            engine.dispose()
        code = children.run_child(children.publish, (env, url, plan.second, "r2", full))
        rec.check("the recovery run succeeded", code == 0, f"exit {code}")
        publishing.check_invariants(rec, url, env, baseline.quantities)
    assert trial.result == "pass", trial.detail


# -- Odoo down, Odoo slow -------------------------------------------------------------------------

ODOO_FAULTS: list[tuple[str, str, dict[str, Any], float | None, dict[str, Any]]] = [
    # suite, trial, fault settings, for how many seconds once the first order is in Odoo
    # (None: the whole first run), the Odoo client's options
    ("odoo-down", "outage-503", {"outage": "503"}, None, {}),
    ("odoo-down", "dropped-mid-run", {"outage": "close"}, 1.0, {}),
    ("odoo-down", "errors-30pct", {"error_rate": 0.3, "latency": 0.02}, None, {}),
    ("odoo-slow", "latency-0.3s", {"latency": 0.3}, None, {}),
    ("odoo-slow", "timeouts", {"latency": 1.5}, None, {"timeout_s": 1.0, "max_attempts": 2}),
]


@pytest.mark.parametrize(
    ("suite", "name", "settings", "lasting_s", "options"),
    ODOO_FAULTS,
    ids=[f"{s}-{n}" for s, n, *_ in ODOO_FAULTS],
)
def test_orders_reach_odoo_exactly_once_through_odoo_faults(
    odoo: OdooSandbox,
    skus: list[str],
    ledgers: publishing.LedgerFactory,
    tmp_path: Path,
    suite: str,
    name: str,
    settings: dict[str, Any],
    lasting_s: float | None,
    options: dict[str, Any],
) -> None:
    """Ingestion while Odoo fails (for the whole run, or for a while from its first order on)
    or is slow, then again once it is well: every order in Odoo exactly once, as a clean run
    leaves it."""
    baseline = ingest_baseline(ledgers, odoo, skus, tmp_path)
    tag = f"{suite}-{name}"
    where = (
        "the whole first run"
        if lasting_s is None
        else f"{lasting_s} s from the first order in Odoo on"
    )
    fault = ", ".join(f"{k}={v}" for k, v in {**settings, **options}.items())
    trial = report.Trial(suite, name, SEED, "sqlite", fault, where)
    timers: list[threading.Timer] = []
    watcher: When | None = None

    def outage_for_a_while() -> None:
        odoo.faults.configure(**settings)
        timers.append(after(lasting_s or 0.0, odoo.faults.reset))

    try:
        with report.Recorder(trial) as rec, ledgers.fresh("sqlite") as url:
            placed = ingestion.orders(skus, SEED, tag)
            ingestion.deliver_to(url, placed)
            if lasting_s is None:
                odoo.faults.configure(**settings)
            else:
                watcher = When(lambda: bool(ingestion.sale_orders(odoo, tag)), outage_for_a_while)
            args = (odoo.credentials(), url, "worker-1", ingestion.BATCH, None, None, options)
            code = children.run_child(children.ingest, args)
            if watcher is not None:
                watcher.stop()
                rec.check("the fault struck", watcher.waited is not None, "the run ended first")
            for timer in timers:
                timer.join()
            odoo.faults.reset()
            odoo.faults.set_latency(ODOO_LATENCY)
            done_first = len(ingestion.sale_orders(odoo, tag))
            rec.note(f"first run exit {code}, {done_first} of {len(placed)} orders in Odoo")
            rec.check("the first run ended", code in (0, 1), f"exit {code}")
            again = children.run_child(
                children.ingest, (odoo.credentials(), url, "worker-1", ingestion.BATCH)
            )
            rec.check("the run after it succeeded", again == 0, f"exit {again}")
            got = ingestion.outcome(odoo, url, tag)
            ingestion.check_invariants(rec, got, baseline.outcome, placed, tag)
    finally:
        if watcher is not None:
            watcher.stop()
        for timer in timers:
            timer.cancel()
        odoo.faults.reset()
        odoo.faults.set_latency(ODOO_LATENCY)
    assert trial.result == "pass", trial.detail


# -- webhooks duplicated and reordered ------------------------------------------------------------

WEBHOOK_ORDERS = 8  # per channel
WEBHOOK_CANCELLED = 3  # of WooCommerce's
COPIES = 3


class Capture:
    """A subscriber that keeps every webhook an emulator sends (path, headers, body)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        received = self.received

        async def app(scope: dict, receive: Any, send: Any) -> None:
            body, more = b"", True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            received.append((scope["path"], headers, body))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        self._server = start_server(app, "127.0.0.1", 0, "capture")
        self.url = f"http://127.0.0.1:{self._server[2].getsockname()[1]}"

    def stop(self) -> None:
        """Stop serving."""
        stop_server(*self._server)


def cancellation(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    """WooCommerce's `order.updated` webhook of the order in an `order.created` one, cancelled,
    signed as the channel signs it."""
    order = json.loads(body)
    order["status"] = "cancelled"
    cancelled = json.dumps(order).encode()
    secret = SANDBOX_WEBHOOK_SECRETS["woocommerce"]
    sent = {
        **headers,
        "x-wc-webhook-topic": "order.updated",
        "x-wc-webhook-event": "updated",
        "x-wc-webhook-delivery-id": f"{headers.get('x-wc-webhook-delivery-id')}-cancel",
        "x-wc-webhook-signature": signature(secret, cancelled),
    }
    sent.pop("content-length", None)
    return sent, cancelled


WEBHOOK_TRIALS = [
    ("duplicated-shuffled", "each event 3 times, all shuffled, ingestion running meanwhile"),
    ("cancel-before-create", "cancellations (3 times) first and ingested, then the orders"),
]


@pytest.mark.parametrize(("name", "where"), WEBHOOK_TRIALS, ids=[n for n, _ in WEBHOOK_TRIALS])
def test_webhooks_duplicated_and_reordered_leave_each_order_in_odoo_once(
    ledgers: publishing.LedgerFactory, name: str, where: str
) -> None:
    """Real webhooks of the Shopify and WooCommerce emulators, captured, then delivered to the
    receiver duplicated and out of order. Each trial has its own Odoo: the emulators number
    their orders from the same start."""
    rng = random.Random(SEED)
    trial = report.Trial("webhooks", name, SEED, "sqlite", f"webhooks x{COPIES}, reordered", where)
    capture = Capture()
    try:
        with (
            report.Recorder(trial) as rec,
            ledgers.fresh("sqlite") as url,
            OdooSandbox(version=17, skus=60, seed=3, port=0) as odoo,
            ShopifySandbox(skus=60, seed=3, port=0) as shop,
            WooCommerceSandbox(products=60, seed=3, port=0) as woo,
        ):
            shop.webhooks.configure(url=f"{capture.url}/webhooks/shopify")
            woo.webhooks.configure(url=f"{capture.url}/webhooks/woocommerce")
            in_odoo = set(ingestion.unit_skus(odoo))
            shop_skus = sorted(v.sku for v in shop.state.variants.values() if v.sku in in_odoo)
            woo_items = sorted(
                i.id for i in woo.state.items.values() if i.type != "variable" and i.sku in in_odoo
            )
            for n in range(WEBHOOK_ORDERS):
                shop.state.sell(shop_skus[(n * 5) % len(shop_skus)], 1 + n % 2)
                woo.state.sell(woo_items[(n * 3) % len(woo_items)], 1 + n % 3)
            shop.webhooks.drain()
            woo.webhooks.drain()
            created = list(capture.received)
            woo_created = [d for d in created if d[0].endswith("/woocommerce")]
            cancels = [
                (path, *cancellation(headers, body))
                for path, headers, body in rng.sample(woo_created, WEBHOOK_CANCELLED)
            ]
            cancelled_ids = {str(json.loads(body)["id"]) for _, _, body in cancels}
            _deliver_webhooks(url, odoo.credentials(), name, created, cancels, rng, rec)
            _check_webhook_invariants(rec, odoo, url, created, cancelled_ids, name)
    finally:
        capture.stop()
    assert trial.result == "pass", trial.detail


def _deliver_webhooks(
    url: str,
    creds: dict[str, Any],
    name: str,
    created: list[tuple[str, dict[str, str], bytes]],
    cancels: list[tuple[str, dict[str, str], bytes]],
    rng: random.Random,
    rec: report.Recorder,
) -> None:
    """Deliver to the receiver as the trial says, ingesting meanwhile; then a last pass."""
    engine = create_engine(url)
    channels = {
        kind: WebhookChannel(kind, kind, SANDBOX_WEBHOOK_SECRETS[kind])
        for kind in ("shopify", "woocommerce")
    }
    server = start_server(create_app(engine, channels), "127.0.0.1", 0, "receiver")
    receiver = f"http://127.0.0.1:{server[2].getsockname()[1]}"
    answers: Counter[int] = Counter()

    def post(deliveries: list[tuple[str, dict[str, str], bytes]]) -> None:
        with httpx.Client(timeout=10.0) as client:
            for path, headers, body in deliveries:
                sent = {k: v for k, v in headers.items() if k not in ("content-length", "host")}
                answers[
                    client.post(f"{receiver}{path}", content=body, headers=sent).status_code
                ] += 1

    stop = threading.Event()
    errors: list[BaseException] = []

    def ingest_until_stopped() -> None:
        try:
            while not stop.is_set():
                _ingest(engine, creds)
                time.sleep(0.05)
        except BaseException as exc:  # reported by the trial
            errors.append(exc)

    try:
        if name == "cancel-before-create":
            post([d for d in cancels for _ in range(COPIES)])
            _ingest(engine, creds)  # the cancellations are taken before any order arrives
            later = [d for d in created for _ in range(COPIES)]
            rng.shuffle(later)
            post(later)
        else:
            worker = threading.Thread(target=ingest_until_stopped)
            worker.start()
            everything = [d for d in created + cancels for _ in range(COPIES)]
            rng.shuffle(everything)
            post(everything)
            stop.set()
            worker.join()
        _ingest(engine, creds)
        _ingest(engine, creds)  # a cancellation given back while its order was on its way in
    finally:
        stop.set()
        stop_server(*server)
        engine.dispose()
    rec.check("every delivery answered 200", set(answers) == {200}, str(dict(answers)))
    rec.check("ingestion raised nothing", not errors, str(errors))


def _ingest(engine: Engine, creds: dict[str, Any]) -> None:
    """One ingestion pass, in this process."""
    with OdooClient(children.odoo_config(creds)) as client:
        Ingestor(engine, client, channel_setups(load_policy()), worker="w").run()


def _check_webhook_invariants(
    rec: report.Recorder,
    odoo: OdooSandbox,
    url: str,
    created: list[tuple[str, dict[str, str], bytes]],
    cancelled: set[str],
    name: str,
) -> None:
    channel_of = {"/webhooks/shopify": "shopify", "/webhooks/woocommerce": "woocommerce"}
    orders = {(channel_of[path], str(json.loads(body)["id"])) for path, _, body in created}
    found: list[dict[str, Any]] = []
    for channel, external in sorted(orders):
        found += odoo.state.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=", f"{channel}/{external}"]]],
            {"fields": ["client_order_ref", "state"]},
        )
    per_ref = Counter(o["client_order_ref"] for o in found)
    states = {o["client_order_ref"]: o["state"] for o in found}
    kept = {f"{c}/{e}" for c, e in orders if not (c == "woocommerce" and e in cancelled)}
    gone = {f"woocommerce/{e}" for e in cancelled}
    rec.check(
        "every order kept is in Odoo exactly once, confirmed",
        all(per_ref[ref] == 1 and states[ref] == "sale" for ref in kept),
        str(
            {
                ref: (per_ref[ref], states.get(ref))
                for ref in kept
                if per_ref[ref] != 1 or states.get(ref) != "sale"
            }
        ),
    )
    at_most_once = all(per_ref[ref] <= 1 for ref in gone)
    never_sold = all(states.get(ref) in (None, "cancel") for ref in gone)
    if name != "cancel-before-create":  # created before its cancellation: in Odoo, cancelled
        never_sold = never_sold and all(states.get(ref) == "cancel" for ref in gone)
    rec.check(
        "a cancelled order is never a confirmed sale in Odoo",
        at_most_once and never_sold,
        str({ref: (per_ref[ref], states.get(ref)) for ref in gone}),
    )
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = inbox.rows(conn)
            letters = dlq.list_open(conn)
            open_units = conn.execute(
                sa.select(pending_units.c.channel, pending_units.c.external_id).where(
                    pending_units.c.reserved_at.is_(None), pending_units.c.released_at.is_(None)
                )
            ).all()
            sold_units = conn.execute(
                sa.select(pending_units.c.external_id).where(
                    pending_units.c.channel == "woocommerce",
                    pending_units.c.external_id.in_(sorted(cancelled)),
                    pending_units.c.released_at.is_(None),
                    pending_units.c.reserved_at.is_(None),
                )
            ).all()
    finally:
        engine.dispose()
    rec.check(
        "every inbox row settled",
        {r.status for r in rows} <= {"done", "ignored"},
        str(Counter(r.status for r in rows)),
    )
    rec.check(
        "every extra delivery counted a duplicate",
        {r.duplicates for r in rows} == {COPIES - 1},
        str(Counter(r.duplicates for r in rows)),
    )
    rec.check("no pending units left open", not open_units and not sold_units, str(open_units))
    rec.check("no dead letter", not letters, str([(x.id, x.error) for x in letters]))


# -- the ledger's PostgreSQL restarted mid-run ----------------------------------------------------


def test_publishing_through_a_ledger_restart_ends_as_a_clean_run(
    request: pytest.FixtureRequest, ledgers: publishing.LedgerFactory, tmp_path: Path
) -> None:
    """PostgreSQL restarted (every connection cut) as soon as the round's first batch is
    acknowledged; then a recovery round."""
    if not restartable():
        pytest.skip("INVENTORY_TEST_PG_URL names a server this test may not restart")
    baseline = publish_baseline(ledgers, tmp_path)
    admin = request.getfixturevalue("pg_admin")
    trial = report.Trial(
        "ledger-restart",
        "publishing",
        SEED,
        "postgresql",
        "pg_ctl restart -m immediate",
        "once the round's first batch is acknowledged",
    )
    with (
        report.Recorder(trial) as rec,
        publishing.channel_stack() as (_, env),
        ledgers.fresh("postgresql") as url,
    ):
        plan = publishing.scenario(env, SEED)
        assert children.run_child(children.publish, (env, url, plan.first, "r0", True)) == 0
        engine = create_engine(url)
        try:

            def under_way() -> bool:
                with engine.connect() as conn:
                    rows = outbox.rows_of_round(conn, "r1")
                return any(r.status == "acknowledged" for r in rows)

            watcher = When(under_way, lambda: restart_server(admin))
            code = children.run_child(children.publish, (env, url, plan.second, "r1", True))
            watcher.stop()
        finally:
            engine.dispose()
        waited = watcher.waited
        struck = "never (the round ended)" if waited is None else f"{waited:.2f} s into the round"
        rec.note(f"restarted {struck}; the round exited {code}")
        rec.check("the restart struck", waited is not None, "the round ended first")
        rec.check("the round under the restart ended", code in (0, 1), f"exit {code}")
        code = children.run_child(children.publish, (env, url, plan.second, "r2", True))
        rec.check("the recovery run succeeded", code == 0, f"exit {code}")
        publishing.check_invariants(rec, url, env, baseline.quantities)
    assert trial.result == "pass", trial.detail


def test_ingestion_through_a_ledger_restart_leaves_each_order_in_odoo_once(
    request: pytest.FixtureRequest,
    odoo: OdooSandbox,
    skus: list[str],
    ledgers: publishing.LedgerFactory,
    tmp_path: Path,
) -> None:
    """PostgreSQL restarted (every connection cut) as soon as the first order is in Odoo;
    then the worker again."""
    if not restartable():
        pytest.skip("INVENTORY_TEST_PG_URL names a server this test may not restart")
    baseline = ingest_baseline(ledgers, odoo, skus, tmp_path)
    admin = request.getfixturevalue("pg_admin")
    tag = "restart"
    trial = report.Trial(
        "ledger-restart",
        "ingestion",
        SEED,
        "postgresql",
        "pg_ctl restart -m immediate",
        "once the first order is in Odoo",
    )
    odoo.faults.set_latency(0.1)  # the run lasts long enough to be struck in its middle
    try:
        with report.Recorder(trial) as rec, ledgers.fresh("postgresql") as url:
            placed = ingestion.orders(skus, SEED, tag)
            ingestion.deliver_to(url, placed)
            watcher = When(
                lambda: bool(ingestion.sale_orders(odoo, tag)), lambda: restart_server(admin)
            )
            args = (odoo.credentials(), url, "worker-1", ingestion.BATCH)
            code = children.run_child(children.ingest, args)
            watcher.stop()
            odoo.faults.set_latency(ODOO_LATENCY)
            waited = watcher.waited
            struck = "never (the run ended)" if waited is None else f"{waited:.2f} s into the run"
            done_first = len(ingestion.sale_orders(odoo, tag))
            rec.note(
                f"restarted {struck}; the run exited {code} with {done_first} of "
                f"{len(placed)} orders in Odoo"
            )
            rec.check("the restart struck", waited is not None, "the run ended first")
            rec.check("the run under the restart ended", code in (0, 1), f"exit {code}")
            code = children.run_child(children.ingest, args)
            rec.check("the run after it succeeded", code == 0, f"exit {code}")
            got = ingestion.outcome(odoo, url, tag)
            ingestion.check_invariants(rec, got, baseline.outcome, placed, tag)
    finally:
        odoo.faults.set_latency(ODOO_LATENCY)
    assert trial.result == "pass", trial.detail
