"""`automation.yml`: how the pipeline runs by itself.

- ``change_sensor``: the Odoo change sensor's cadence, its ``write_date`` overlap window, and
  which changed SKUs take the fast path now (the rest wait, marked dirty, for the batch):
  a velocity tier of the ``sku_velocity`` model, stock at or under a threshold, or an order
  heard of within a window.
- ``push``: the Odoo webhook path (Odoo 17+ automation rules): how long to wait for Odoo's
  transaction to commit before re-reading the quant, and where its fast runs execute.
- ``schedules``: the tiered batch (dirty SKUs) and the full reconciliation, as cron
  expressions in a time zone; each can be switched off here (``enabled: false``) or in the UI.
- ``drift``: when the reconciliation's drift checks warn and when they fail as errors.
- ``freshness``: how old the channels' published state may get before the UI warns and fails.
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FastPath(_Strict):
    """Which changed SKUs are critical: refreshed now rather than at the next batch."""

    velocity_tiers: tuple[str, ...] = ("A",)
    low_stock_at_or_below: int = Field(default=5, ge=0)
    ordered_within_s: int = Field(default=900, ge=0)
    max_skus_per_run: int = Field(default=500, ge=1)


class ChangeSensor(_Strict):
    """The Odoo change sensor."""

    enabled: bool = True
    interval_s: int = Field(default=5, ge=1)
    overlap_s: int = Field(default=120, ge=0)
    fast_path: FastPath = FastPath()


class Push(_Strict):
    """The Odoo push path (a webhook Odoo sends before its transaction commits)."""

    enabled: bool = True
    commit_wait_s: float = Field(default=0.5, ge=0, le=10)
    #: where a push's fast run executes: in the receiver's process, as a run of the instance
    #: (no queue, no process to start: `defs/stream/in_process.py`), or handed to the
    #: webserver's run coordinator like a run launched from the UI
    runs_in: Literal["receiver", "instance"] = "receiver"


#: cron's five fields: name and range (day of week 0-7, both 0 and 7 Sunday)
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_CRON_PART = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")


def _cron_field_problem(field: str, low: int, high: int) -> str | None:
    """Why one cron field is not one (None: it is): lists, ranges, steps, numbers in range.
    A schedule that does not parse would stop the code location from loading at all."""
    for part in field.split(","):
        match = _CRON_PART.match(part)
        if not match:
            return "is not numbers, ranges, steps or *"
        if match.group(2) is not None and int(match.group(2)) < 1:
            return "has a step below 1"
        if match.group(1) != "*":
            bounds = [int(x) for x in match.group(1).split("-")]
            if any(not low <= b <= high for b in bounds) or bounds != sorted(bounds):
                return f"is outside {low}-{high}"
    return None


class Schedule(_Strict):
    """A cron schedule."""

    enabled: bool = True
    cron: str = Field(min_length=1)
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"{value!r} is not a cron expression of 5 fields")
        for field, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
            problem = _cron_field_problem(field, low, high)
            if problem:
                raise ValueError(f"{value!r}: the {name} field {field!r} {problem}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. UTC, Europe/Paris)") from None
        return value


class Schedules(_Strict):
    """The batch, the full reconciliation, the orders' poll and the supply feeds."""

    batch: Schedule = Schedule(cron="*/15 * * * *")
    reconciliation: Schedule = Schedule(cron="0 2 * * *")
    #: the channels' orders polled (the net under webhooks: a delivery refused or lost)
    orders_poll: Schedule = Schedule(cron="*/5 * * * *")
    #: every drop-ship vendor's and 3PL warehouse's stock feed read (vendors.yml, warehouses.yml)
    supply_feeds: Schedule = Schedule(cron="*/30 * * * *")


class DriftThresholds(_Strict):
    """A channel's drift check warns above `warn_skus` drifting SKUs and fails as an error
    above `error_skus` drifting SKUs or `error_percent` of its listings."""

    warn_skus: int = Field(default=0, ge=0)
    error_skus: int = Field(default=50, ge=0)
    error_percent: float = Field(default=2.0, ge=0, le=100)


class Freshness(_Strict):
    """How old the published state of the channels may get before the UI warns, then fails
    it (Dagster's freshness policy on `inventory/published_channel_state`): a few batch
    intervals by default, so a stopped daemon or a stuck channel shows within the hour."""

    published_warn_minutes: int = Field(default=30, ge=1)
    published_fail_minutes: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Freshness:
        if self.published_fail_minutes < self.published_warn_minutes:
            raise ValueError("published_fail_minutes is below published_warn_minutes")
        return self


class AutomationRules(_Strict):
    """The whole file (every section optional, with the defaults above)."""

    change_sensor: ChangeSensor = ChangeSensor()
    push: Push = Push()
    schedules: Schedules = Schedules()
    drift: DriftThresholds = DriftThresholds()
    freshness: Freshness = Freshness()
