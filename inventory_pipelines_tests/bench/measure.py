"""Figures as benchmarks report them: a value, its unit, the target, and peak memory."""

from __future__ import annotations

import json
import resource
import sys


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def figure(value: float, unit: str, target: str = "", **details: object) -> dict:
    """One entry of bench-results.json."""
    return {"value": value, "unit": unit, "target": target, **details}


def emit(figures: dict[str, dict]) -> None:
    """Print the figures as the last stdout line, for the runner."""
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()
