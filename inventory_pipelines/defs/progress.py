"""What a person watching `inventory-sync sync` wants of a run's events: each step as it
starts and ends, and the run's own start and end. The CLI draws it; Dagster's log is not it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

_NOTES = {
    dg.DagsterEventType.RUN_START: "run_started",
    dg.DagsterEventType.STEP_START: "step_started",
    dg.DagsterEventType.STEP_SUCCESS: "step_succeeded",
    dg.DagsterEventType.STEP_FAILURE: "step_failed",
    dg.DagsterEventType.STEP_SKIPPED: "step_skipped",
    dg.DagsterEventType.RUN_SUCCESS: "run_succeeded",
    dg.DagsterEventType.RUN_FAILURE: "run_failed",
}


@dataclass(frozen=True)
class Progress:
    """A run or one of its steps started or ended."""

    event: str  # one of the values of _NOTES
    run_id: str
    steps: int  # how many steps the run has
    label: str  # what the run covers, e.g. its channels
    step: str | None = None  # the step as its assets read, e.g. "odoo/locations"


def step_name(step_key: str) -> str:
    """A step key as the asset key it computes reads (`odoo__locations` -> `odoo/locations`)."""
    return step_key.replace("__", "/")


def listener(
    on_progress: Callable[[Progress], None], *, steps: int, label: str
) -> Callable[[dg.EventLogEntry], None]:
    """An event listener for one run that hands `on_progress` its steps' progress. A display
    that fails is dropped for the rest of the run: it must never fail the run."""
    broken = False

    def on_event(entry: dg.EventLogEntry) -> None:
        nonlocal broken
        event = _NOTES.get(entry.dagster_event_type) if entry.is_dagster_event else None
        if event is None or broken:
            return
        try:
            on_progress(
                Progress(
                    event=event,
                    run_id=entry.run_id,
                    steps=steps,
                    label=label,
                    step=step_name(entry.step_key) if entry.step_key else None,
                )
            )
        except Exception:
            broken = True

    return on_event
