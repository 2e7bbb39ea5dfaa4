"""The drift check's verdict on one channel, from the thresholds of `automation.yml`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from inventory_pipelines.rules.automation import DriftThresholds


class Level(StrEnum):
    """How a channel's drift is judged: within the thresholds, a warning, an error."""

    OK = "ok"
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True)
class Verdict:
    """A channel's level and the one line that says why."""

    level: Level
    reason: str


def verdict(drift_skus: int, listings_compared: int, thresholds: DriftThresholds) -> Verdict:
    """WARN above `warn_skus` drifting SKUs; ERROR above `error_skus`, or above `error_percent`
    of the listings compared (a channel that drifts with no listing compared is 100%)."""
    if listings_compared:
        percent = 100.0 * drift_skus / listings_compared
    else:
        percent = 100.0 if drift_skus else 0.0
    figures = f"{drift_skus} drifting SKU(s), {percent:.1f}% of {listings_compared} listing(s)"
    if drift_skus > thresholds.error_skus:
        return Verdict(Level.ERROR, f"{figures}: above error_skus {thresholds.error_skus}")
    if percent > thresholds.error_percent:
        return Verdict(Level.ERROR, f"{figures}: above error_percent {thresholds.error_percent:g}%")
    if drift_skus > thresholds.warn_skus:
        return Verdict(Level.WARN, f"{figures}: above warn_skus {thresholds.warn_skus}")
    return Verdict(Level.OK, f"{figures}: within the thresholds")
