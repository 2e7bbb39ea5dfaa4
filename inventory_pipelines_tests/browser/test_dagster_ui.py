"""The running Dagster UI in headless Chromium: the asset graph, a red channel partition, and
its re-execution from the UI turning it green.

Debian's `chromium` and `chromium-driver` packages (`/usr/bin/chromium`, `/usr/bin/chromedriver`)
are driven by Selenium, given both paths, so Selenium Manager never runs and nothing downloads a
browser; `.ci/run` installs the packages, and without them the test is skipped saying so.

The sandbox is started as `make run` starts it (Odoo and one emulator per channel of
channels.yml, small catalogs), then `dagster dev` on the project's workspace with a throwaway
DAGSTER_HOME, on a free loopback port. The setup run (`refresh_inventory`) and the run meant to
fail (`publish_channels` for the `pos` partition while the `pos` emulator answers 503) are
launched through the webserver's GraphQL API, in process to keep the test short; what the
issue asks of the UI is checked in the browser: the graph shows the assets, the failed run and
the `pos` partition show red, and *Re-execute > From failure*, clicked on the run page once the
fault is gone, makes a run that succeeds and a `pos` partition that shows green.

A screenshot of every stage lands in the test's tmp_path (printed when the test fails), with
the `dagster dev` log beside it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster_graphql import DagsterGraphQLClient
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from inventory_pipelines.ledger import migrate
from inventory_pipelines.rules import default_rules_dir, load_policy
from inventory_pipelines.sandbox.stack import Stack, start_stack
from inventory_pipelines.settings import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Chromium's flags on a machine without a screen and without a network (no sandbox as root)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
BIN = Path(sys.executable).parent
FAILING_CHANNEL = "pos"
#: every job runs its steps in the run's own process (defs/shared.py: STEPS_IN_ONE_PROCESS)
NO_CONFIG: dict = {}
#: what the asset graph must show (node names; each is unique in this project)
ASSETS = (
    "products",  # odoo/products
    "locations",  # odoo/locations
    "stock_quants",  # odoo/stock_quants
    "canonical_inventory",  # inventory/canonical_inventory
    "quarantine",  # inventory/quarantine
    "channel_allocation",  # inventory/channel_allocation
    "channel_stock",  # reconciliation/channel_stock
    "product_identity",  # inventory/product_identity
    "published_channel_state",  # inventory/published_channel_state
    "channel_orders",  # orders/channel_orders
)


def _missing_browser() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        return (
            f"no {' and no '.join(missing)}: this test drives Debian's Chromium "
            "(apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(420),
    pytest.mark.skipif(_missing_browser() is not None, reason=_missing_browser() or ""),
]


# -- the sandbox and `dagster dev` ----------------------------------------------------------------


@dataclass
class Ui:
    """The running UI: its URL, the GraphQL client, the sandbox's channels, where logs go."""

    url: str
    graphql: DagsterGraphQLClient
    stack: Stack
    log: Path

    def channel_url(self, name: str) -> str:
        return self.stack.channels[name]["url"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stack_env(stack: Stack) -> dict[str, str]:
    """The variables `inventory-sync dev` gives Dagster to reach this sandbox."""
    from inventory_pipelines.cli import _stack_env as of_cli  # the same as `make run`

    return of_cli(stack)


def _default_sigint() -> None:
    # `dagster dev` maps SIGTERM to SIGINT's handler: if the caller ignores SIGINT (a
    # background CI job), neither would stop it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(process: subprocess.Popen) -> None:
    """End `dagster dev` and everything it started (its own process group), gently first."""
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a straggler: a run or code server left behind
    process.wait(timeout=10)


LOCATION_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _wait_until_loaded(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Wait for the webserver to answer and the code location to be loaded (or fail loudly)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited ({process.returncode}): {_tail(log)}")
        try:
            answer = httpx.post(f"{url}/graphql", json={"query": LOCATION_STATUS}, timeout=5)
            entries = answer.json()["data"]["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            last = repr(entries)
            for entry in entries:
                loaded = entry.get("locationOrLoadError") or {}
                if loaded.get("__typename") == "PythonError":
                    pytest.fail(f"the code location does not load: {loaded.get('message')}")
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        time.sleep(1)
    pytest.fail(f"the UI at {url} was not up in {timeout:.0f} s ({last}): {_tail(log)}")


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(ledger_url)
    channels = [(c.name, c.kind.value) for c in load_policy().channels.channels]
    stack = start_stack(channels, skus=40, seed=11)
    log = tmp_path / "dagster-dev.log"
    # the shipped rules with every sensor and schedule off: this test launches its own runs,
    # and the change sensor's bootstrap run would otherwise materialize the partitions it
    # watches (the running-by-itself paths have their own tests)
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    (rules / "automation.yml").write_text(
        "change_sensor: {enabled: false}\npush: {enabled: false}\n"
        "schedules:\n  batch: {enabled: false, cron: '*/15 * * * *'}\n"
        "  reconciliation: {enabled: false, cron: '0 2 * * *'}\n"
    )
    try:
        port = _free_port()
        env = {
            **os.environ,
            **_stack_env(stack),
            "DAGSTER_HOME": str(home),
            "INVENTORY_ENV": "local",
            "INVENTORY_LEDGER_URL": ledger_url,
            "INVENTORY_DATA_DIR": str(tmp_path / "tables"),
            "INVENTORY_RULES_DIR": str(rules),
        }
        with log.open("wb") as sink:
            dagster = subprocess.Popen(
                [
                    str(BIN / "dagster"), "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                    "-h", "127.0.0.1", "-p", str(port),
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_default_sigint,
            )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_loaded(url, dagster, log, timeout=120)
            # the "Join the Dagster community" dialog a new instance shows on loopback: seen
            httpx.post(f"{url}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=10)
            yield Ui(url, DagsterGraphQLClient("127.0.0.1", port_number=port), stack, log)
        finally:
            _stop(dagster)
    finally:
        stack.stop()


def _run_to_end(ui: Ui, run_id: str, timeout: float) -> str:
    """The run's final status (SUCCESS, FAILURE, CANCELED), waited for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        status = ui.graphql.get_run_status(run_id).value
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    pytest.fail(f"run {run_id} still {status} after {timeout:.0f} s: {_tail(ui.log)}")


# -- the browser -----------------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # were Selenium Manager ever asked: no downloads
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument("--window-size=1600,1000")
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Screens:
    """Numbered screenshots in one folder."""

    def __init__(self, driver: WebDriver, folder: Path) -> None:
        self.driver, self.folder, self.count = driver, folder, 0
        folder.mkdir(exist_ok=True)

    def take(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def _wait(what: str, condition: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """The first truthy value of `condition()`, or a failure naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception as exc:  # a node re-rendered under our feet: try again
            if not type(exc).__module__.startswith("selenium"):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen in {timeout:.0f} s")
        time.sleep(every)


def _dismiss_dialogs(driver: WebDriver) -> None:
    for button in driver.find_elements(By.XPATH, "//*[@role='dialog']//button[.='Skip']"):
        button.click()


def _rgb(driver: WebDriver, element: WebElement) -> tuple[int, int, int]:
    """The element's computed background colour."""
    css = driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", element)
    r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def _is_red(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return r >= 150 and r - max(g, b) >= 60


def _is_green(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return g >= 100 and g - max(r, b) >= 30


def _shows(name: str, labels: list[str]) -> bool:
    """Whether a node label is `name`, whole or middle-truncated ("published_c…_state")."""
    for label in labels:
        head, cut, tail = label.strip().partition("…")
        if label.strip() == name or (
            cut and name.startswith(head) and name.endswith(tail) and len(head + tail) < len(name)
        ):
            return True
    return False


# -- the pages -------------------------------------------------------------------------------------


def _asset_graph(driver: WebDriver, ui: Ui) -> list[str]:
    """Open the global asset lineage with every group expanded; the asset names it shows."""

    def labels() -> list[str]:
        try:
            nodes = driver.find_elements(By.CSS_SELECTOR, "[class*='AssetNode_assetName']")
            return [n.text for n in nodes if n.text.strip()]
        except StaleElementReferenceException:  # re-rendered while read: the next poll reads it
            return []

    # nodes outside the viewport are not rendered: a tall window holds the whole graph
    driver.set_window_size(6400, 5200)
    driver.get(f"{ui.url}/asset-groups")
    _wait("the lineage page", lambda: driver.find_elements(
        By.XPATH, "//*[normalize-space()='Global asset lineage']"
    ), 60)  # fmt: skip
    _dismiss_dialogs(driver)
    # the groups start collapsed: "Expand all groups" is ⌥E in the graph's menu
    _wait("the collapsed groups", lambda: driver.find_elements(
        By.XPATH, "//*[normalize-space()='inventory']"
    ), 60)  # fmt: skip
    ActionChains(driver).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    zoom_out = "//button[.//*[@aria-label='zoom_out']]"
    deadline = time.monotonic() + 30
    while True:
        shown = labels()
        if all(_shows(name, shown) for name in ASSETS) or time.monotonic() > deadline:
            return shown
        time.sleep(1)
        if time.monotonic() > deadline - 20:  # a graph grown past the window: step back
            for button in driver.find_elements(By.XPATH, zoom_out):
                button.click()


def _status_icon(driver: WebDriver, statuses: tuple[str, ...]) -> tuple[str, WebElement] | None:
    """The run page's status tag icon (beside its text) when it reads one of `statuses`."""
    for status in statuses:
        found = driver.find_elements(
            By.XPATH,
            f"//div[@role='img'][following-sibling::div[1][normalize-space()='{status}']]",
        )
        if found:
            return status, found[0]
    return None


def _run_shown(driver: WebDriver, other_than: str) -> str | None:
    """The id of the run whose page is open, unless it is `other_than`."""
    shown = re.search(r"/runs/([0-9a-f-]{36})", driver.current_url)
    return shown.group(1) if shown and shown.group(1) != other_than else None


def _partition_dot(driver: WebDriver, partition: str) -> WebElement | None:
    """The status dot beside a partition in an asset's Partitions tab."""
    found = driver.find_elements(
        By.XPATH, f"//div[@title='{partition}']/parent::div/following-sibling::div[1]"
    )
    return found[0] if found else None


def _partitions_tab(
    driver: WebDriver, ui: Ui, asset: str, counts: dict[str, int], timeout: float
) -> str:
    """Open the asset's Partitions tab until it shows `counts` ({"Failed": 1, ...})."""
    wanted = [f"{label} ({n})" for label, n in counts.items()]
    deadline = time.monotonic() + timeout
    while True:
        driver.get(f"{ui.url}/assets/{asset}?view=partitions")
        body = _wait(f"{asset}'s partitions", lambda: _partition_dot(driver, FAILING_CHANNEL) and (
            driver.find_element(By.TAG_NAME, "body").text
        ), 30)  # fmt: skip
        if all(w in body for w in wanted) or time.monotonic() > deadline:
            return body
        time.sleep(3)  # the UI's asset status lags the run by a moment: look again


# -- the test --------------------------------------------------------------------------------------


def test_the_ui_shows_the_graph_a_red_channel_partition_and_its_re_execution_turning_green(
    ui: Ui, browser: WebDriver, tmp_path: Path
) -> None:
    screens = Screens(browser, tmp_path / "screenshots")
    try:
        # the snapshot the channel assets allocate from (not the subject: launched over GraphQL)
        setup = ui.graphql.submit_job_execution("refresh_inventory", run_config=NO_CONFIG)

        # (a) the asset graph, while the setup run goes
        shown = _asset_graph(browser, ui)
        screens.take("asset-graph")
        missing = [name for name in ASSETS if not _shows(name, shown)]
        assert not missing, f"the asset graph does not show {missing}; it shows {shown}"
        browser.set_window_size(1600, 1000)
        assert _run_to_end(ui, setup, 150) == "SUCCESS", f"refresh_inventory failed: see {setup}"

        # (b) the pos emulator answers 503 to everything: its partition's run fails
        faults = httpx.post(
            f"{ui.channel_url(FAILING_CHANNEL)}/sandbox/faults", json={"outage": "503"}
        )
        assert faults.json()["outage"] == "503", faults.text
        failed = ui.graphql.submit_job_execution(
            "publish_channels", run_config=NO_CONFIG, tags={"dagster/partition": FAILING_CHANNEL}
        )
        assert _run_to_end(ui, failed, 120) == "FAILURE", "the run with the channel down passed"

        browser.get(f"{ui.url}/runs/{failed}")
        _dismiss_dialogs(browser)
        status, icon = _wait(
            "the failed run's status", lambda: _status_icon(browser, ("Failure", "Success")), 60
        )
        screens.take("run-failed")
        assert status == "Failure"
        colour = _rgb(browser, icon)
        assert _is_red(colour), f"the Failure tag is not red: {colour}"
        assert f"partition: {FAILING_CHANNEL}" in browser.find_element(By.TAG_NAME, "body").text

        body = _partitions_tab(
            browser, ui, "inventory/published_channel_state", {"Failed": 1}, timeout=60
        )
        screens.take("partition-red")
        assert "Failed (1)" in body, body[:2000]
        dot = _rgb(browser, _partition_dot(browser, FAILING_CHANNEL))
        assert _is_red(dot), f"the {FAILING_CHANNEL} partition is not red: {dot}"

        # (c) the channel is back: Re-execute > From failure, clicked on the failed run's page
        httpx.post(f"{ui.channel_url(FAILING_CHANNEL)}/sandbox/faults/reset").raise_for_status()
        browser.get(f"{ui.url}/runs/{failed}")
        _dismiss_dialogs(browser)
        _wait("the failed run's page", lambda: _status_icon(browser, ("Failure",)), 60)
        arrow = _wait("the Re-execute menu", lambda: browser.find_elements(
            By.XPATH,
            "//button[normalize-space()='Re-execute all (*)']/following-sibling::*//button",
        ), 30)[0]  # fmt: skip
        arrow.click()
        from_failure = _wait("Re-execute > From failure", lambda: [
            item for item in browser.find_elements(
                By.XPATH, "//*[@role='menuitem'][normalize-space()='From failure']"
            ) if item.get_attribute("aria-disabled") != "true"
        ], 15)[0]  # fmt: skip
        screens.take("re-execute-menu")
        from_failure.click()
        new_run = _wait("the re-execution's run page", lambda: _run_shown(browser, failed), 30)
        status, icon = _wait(
            "the re-execution's end",
            lambda: _status_icon(browser, ("Success", "Failure", "Canceled")),
            150,
            every=1,
        )
        screens.take("run-re-executed")
        assert status == "Success", f"the re-execution {new_run} ended {status}"
        colour = _rgb(browser, icon)
        assert _is_green(colour), f"the Success tag is not green: {colour}"
        assert f"partition: {FAILING_CHANNEL}" in browser.find_element(By.TAG_NAME, "body").text

        body = _partitions_tab(
            browser,
            ui,
            "inventory/published_channel_state",
            {"Failed": 0, "Materialized": 1},
            timeout=60,
        )
        screens.take("partition-green")
        assert "Failed (0)" in body and "Materialized (1)" in body, body[:2000]
        dot = _rgb(browser, _partition_dot(browser, FAILING_CHANNEL))
        assert _is_green(dot), f"the {FAILING_CHANNEL} partition is not green: {dot}"
        table = tmp_path / "tables" / "inventory" / "published_channel_state"
        assert (table / f"{FAILING_CHANNEL}.parquet").is_file(), sorted(table.glob("*"))
    except BaseException:
        with contextlib.suppress(Exception):
            screens.take("at-failure")
        print(f"screenshots: {screens.folder}\ndagster dev log: {ui.log}\n{_tail(ui.log)}")
        raise
