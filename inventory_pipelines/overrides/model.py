"""What a person asks for on the command line, validated with pydantic before the ledger sees it.

`--until` is an ISO 8601 time with a time zone (`2026-12-04T18:00:00+01:00`, `...Z`) or a
duration from now (`90m`, `2h`, `3d`, `1w`); it must be in the future and at most
`MAX_HORIZON` (30 days) away. Models are validated with ``context={"now": ..., "channels":
[...]}``: the time the request is made and the channels of `channels.yml`.
"""

from __future__ import annotations

import getpass
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from inventory_pipelines.ledger.overrides import ALL_CHANNELS, MAX_HORIZON

ACTOR_ENV = "INVENTORY_ACTOR"
_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_until(text: str, now: datetime) -> datetime:
    """An ISO 8601 time with a time zone, or `now` plus a duration (`90m`, `2h`, `3d`, `1w`)."""
    match = _DURATION.match(text)
    if match:
        return now + timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        until = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 time (2026-12-04T18:00:00+01:00) nor a duration "
            "(90m, 2h, 3d, 1w)"
        ) from None
    if until.tzinfo is None:
        raise ValueError(
            f"{text!r} has no time zone: add one (2026-12-04T18:00:00+01:00, or Z for UTC)"
        )
    return until


def resolve_actor(given: str | None) -> tuple[str, str]:
    """Who acts, and where the name came from: `--actor`, else `$INVENTORY_ACTOR`, else the OS
    user."""
    if given and given.strip():
        return given.strip(), "--actor"
    if os.environ.get(ACTOR_ENV, "").strip():
        return os.environ[ACTOR_ENV].strip(), f"${ACTOR_ENV}"
    try:
        return getpass.getuser(), "the OS user"
    except (KeyError, OSError):
        return "unknown", "nobody (no --actor, no $INVENTORY_ACTOR, no OS user)"


def problems(exc: ValidationError) -> str:
    """A validation error as one line: each field and what is wrong with it."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(x) for x in error["loc"])
        field = {"pattern": "sku-pattern"}.get(field, field).replace("_", "-")
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"--{field}: {message}" if field else message)
    return "; ".join(parts)


class _Timed(BaseModel):
    """A request that ends: `until` read from text and checked against `now` and the horizon."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    until: AwareDatetime
    reason: str = Field(min_length=1, max_length=2000)
    actor: str = Field(min_length=1, max_length=128)

    @field_validator("until", mode="before")
    @classmethod
    def _read_until(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            return parse_until(value, _now(info))
        return value

    @field_validator("until")
    @classmethod
    def _within_horizon(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = _now(info)
        if value <= now:
            raise ValueError(f"{value.isoformat()} is not in the future")
        if value > now + MAX_HORIZON:
            raise ValueError(
                f"{value.isoformat()} is more than {MAX_HORIZON.days} days away: an override that "
                "long is a rule (policies.yml, suppressions.yml)"
            )
        return value.astimezone(UTC)


def _now(info: ValidationInfo) -> datetime:
    return (info.context or {}).get("now") or datetime.now(UTC)


def _check_channel(value: str, info: ValidationInfo, *, every: bool) -> str:
    names = list((info.context or {}).get("channels") or [])
    if every and value == ALL_CHANNELS:
        return value
    if names and value not in names:
        raise ValueError(f"unknown channel {value!r}: channels.yml has {', '.join(names)}")
    return value


class OverrideRequest(_Timed):
    """`override request`: one SKU's quantity on one channel, in the channel's unit."""

    channel: str = Field(min_length=1)
    sku: str = Field(min_length=1, max_length=255)
    quantity: int = Field(ge=0, le=1_000_000, strict=True)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str, info: ValidationInfo) -> str:
        return _check_channel(value, info, every=False)


class StopRequest(_Timed):
    """`override stop`: every SKU matching `pattern` at 0 on `channel` (`*`: every channel)."""

    channel: str = Field(min_length=1)
    pattern: str = Field(min_length=1, max_length=255)
    break_glass: bool = False

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str, info: ValidationInfo) -> str:
        return _check_channel(value, info, every=True)

    @field_validator("pattern")
    @classmethod
    def _not_everything(cls, value: str) -> str:
        if not value.strip("*?"):
            raise ValueError(
                f"{value!r} matches every SKU: that is no emergency stop of some SKUs; set the "
                "channel's warehouses offline in warehouses.yml instead"
            )
        return value
