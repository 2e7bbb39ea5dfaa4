"""The chaos report: every trial with its fault, where it struck, the invariants checked and
the result; `chaos-report.json` at the repository root and a table on the terminal."""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "chaos-report.json"
#: each finished trial is appended here as a JSON line (pytest-xdist workers share it)
TRIALS_FILE = "INVENTORY_CHAOS_TRIALS"
SUITES = (
    "kill-publishing",
    "kill-ingestion",
    "channel-down",
    "odoo-down",
    "odoo-slow",
    "webhooks",
    "ledger-restart",
)


@dataclass
class Trial:
    """One trial: what was done to the system, and whether every invariant held after."""

    suite: str  # kill-publishing, kill-ingestion, channel-down, odoo-down...
    trial: str  # its id within the suite
    seed: int
    backend: str  # the ledger's database: sqlite, postgresql
    fault: str  # what was done (SIGKILL, outage, latency...)
    where: str  # where it struck (a kill point, a moment)
    invariants: list[str] = field(default_factory=list)
    result: str = "pass"  # pass, fail
    detail: str = ""  # what the fault did (killed, ran to the end) or what failed
    seconds: float = 0.0


def record(trial: Trial) -> None:
    """Keep a finished trial for the report."""
    TRIALS.append(trial)
    path = os.environ.get(TRIALS_FILE)
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(asdict(trial)) + "\n")


def recorded() -> list[Trial]:
    """Every trial of the session (all workers'), in suite order."""
    path = os.environ.get(TRIALS_FILE)
    trials = list(TRIALS)
    if path and Path(path).exists():
        trials = [Trial(**json.loads(line)) for line in Path(path).read_text().splitlines()]
    order = {suite: n for n, suite in enumerate(SUITES)}
    return sorted(trials, key=lambda t: (order.get(t.suite, len(order)), t.suite))


TRIALS: list[Trial] = []


class Recorder:
    """Checks invariants for one trial and records it, whatever happens (a failed invariant
    does not stop the suite: every trial is in the report)."""

    def __init__(self, trial: Trial) -> None:
        self.trial = trial
        self._started = time.monotonic()

    def check(self, name: str, holds: bool, why: str = "") -> None:
        """Record an invariant as checked; a failing one fails the trial, saying why."""
        self.trial.invariants.append(name)
        if not holds:
            self.fail(f"{name}: {why}" if why else name)

    def fail(self, why: str) -> None:
        """The trial failed."""
        self.trial.result = "fail"
        self.trial.detail = f"{self.trial.detail}; {why}" if self.trial.detail else why

    def __enter__(self) -> Recorder:
        return self

    def note(self, text: str) -> None:
        """Say what the fault did (kept before any failure's reason)."""
        failed = self.trial.detail if self.trial.result != "pass" else ""
        self.trial.detail = f"{text}; {failed}" if failed else text

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> bool:
        # an error of the trial fails the trial; pytest's own (a timeout) ends the suite
        if error is not None:
            self.fail(f"{type(error).__name__}: {error}")
        self.trial.seconds = round(time.monotonic() - self._started, 2)
        record(self.trial)
        return isinstance(error, Exception)


def failures(suite: str) -> list[Trial]:
    """The failed trials of a suite, for its test's assertion."""
    return [t for t in TRIALS if t.suite == suite and t.result != "pass"]


def write(trials: list[Trial], seconds: float) -> dict[str, object]:
    """Write `chaos-report.json` and return it."""
    per_suite: dict[str, Counter[str]] = {}
    for trial in trials:
        per_suite.setdefault(trial.suite, Counter())[trial.result] += 1
    report: dict[str, object] = {
        "passed": all(t.result == "pass" for t in trials),
        "trials": len(trials),
        "failed": sum(t.result != "pass" for t in trials),
        "seconds": round(seconds, 1),
        "python": platform.python_version(),
        "suites": {suite: dict(counts) for suite, counts in per_suite.items()},
        "results": [asdict(t) for t in trials],
    }
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    return report


def table(trials: list[Trial]) -> list[str]:
    """The trials as a readable table, one line each, then a summary per suite."""
    header = ("suite", "trial", "ledger", "fault", "where", "invariants", "result", "s")
    rows = [
        (
            t.suite,
            t.trial,
            t.backend,
            t.fault,
            t.where,
            str(len(t.invariants)),
            t.result + (f" ({t.detail})" if t.result != "pass" else ""),
            f"{t.seconds:.1f}",
        )
        for t in trials
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 2)]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1].rjust(5), row[-2]]))
    lines.append("")
    names = sorted({name for t in trials for name in t.invariants})
    lines.append(f"invariants: {', '.join(names)}")
    per_suite: dict[str, Counter[str]] = {}
    for trial in trials:
        per_suite.setdefault(trial.suite, Counter())[trial.result] += 1
    for suite, counts in per_suite.items():
        lines.append(f"{suite}: {counts['pass']} passed, {counts['fail']} failed")
    return lines
