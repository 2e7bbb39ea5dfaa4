"""The chaos suite runs only when asked for (`make chaos` sets INVENTORY_CHAOS=1): `make test`
collects nothing here. At the end of a chaos session the report is written
(`chaos-report.json` at the repository root) and printed as a table; pytest-xdist workers
hand their trials to it through a file (`report.TRIALS_FILE`)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from inventory_pipelines_tests.chaos import report

ENABLED = os.environ.get("INVENTORY_CHAOS") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]
_STARTED = time.monotonic()
if ENABLED and report.TRIALS_FILE not in os.environ:
    # the controller (or a run without workers): its workers inherit the variable
    handle, name = tempfile.mkstemp(prefix="chaos-trials-", suffix=".jsonl")
    os.close(handle)
    os.environ[report.TRIALS_FILE] = name


def pytest_terminal_summary(terminalreporter) -> None:
    """Write the report and print its table when trials ran (in the controller)."""
    if not ENABLED or hasattr(terminalreporter.config, "workerinput"):
        return
    trials = report.recorded()
    Path(os.environ[report.TRIALS_FILE]).unlink(missing_ok=True)
    if not trials:
        return
    written = report.write(trials, time.monotonic() - _STARTED)
    terminalreporter.section("chaos trials")
    for line in report.table(trials):
        terminalreporter.write_line(line)
    verdict = (
        "every invariant held" if written["passed"] else f"{written['failed']} trial(s) failed"
    )
    terminalreporter.write_line(
        f"{written['trials']} trials in {written['seconds']} s: {verdict}; {report.REPORT}"
    )
