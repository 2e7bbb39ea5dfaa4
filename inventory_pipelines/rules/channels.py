"""`channels.yml`: each sales channel and its allocation policy."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelKind(StrEnum):
    """Which connector speaks to the channel."""

    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    AMAZON = "amazon"
    GENERIC = "generic"


class AllocationMode(StrEnum):
    """Shared pool (every channel sees all of it) or ring-fenced (a percentage or a cap)."""

    SHARED = "shared"
    PERCENT = "percent"
    CAP = "cap"


class EligibleWarehouse(_Strict):
    """A warehouse whose stock the channel may sell."""

    code: str = Field(min_length=1)
    priority: int = Field(default=1, ge=0)


class Allocation(_Strict):
    """The channel's share of the net pool."""

    mode: AllocationMode = AllocationMode.SHARED
    percent: float | None = Field(default=None, gt=0, le=100)
    cap: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _parameter_matches_mode(self) -> Allocation:
        if self.mode is AllocationMode.PERCENT and self.percent is None:
            raise ValueError("mode percent needs `percent` (0 < percent <= 100)")
        if self.mode is AllocationMode.CAP and self.cap is None:
            raise ValueError("mode cap needs `cap` (units per SKU)")
        if self.mode is AllocationMode.SHARED and (
            self.percent is not None or self.cap is not None
        ):
            raise ValueError("mode shared takes neither `percent` nor `cap`")
        return self

    @property
    def ring_fenced(self) -> bool:
        """Whether no other channel can sell the units given to this one."""
        return self.mode is not AllocationMode.SHARED


class SafetyBuffer(_Strict):
    """Units held back from the channel: absolute, or a percentage of the allocation."""

    units: float | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_of(self) -> SafetyBuffer:
        if (self.units is None) == (self.percent is None):
            raise ValueError("give exactly one of `units` or `percent`")
        return self

    def describe(self) -> str:
        """`2 units` or `10%`."""
        return f"{self.percent:g}%" if self.percent is not None else f"{self.units:g} units"


class Incoming(_Strict):
    """A share of confirmed purchase order lines planned to arrive soon, sold before they do.

    A line counts from `within_days` before its planned date until `within_days` after it
    (a line later than that is no longer a promise), into the channel's eligible warehouses;
    the channel sees `percent` of those units, rounded down to whole units.
    """

    within_days: int = Field(gt=0, le=365)
    percent: float = Field(gt=0, le=100)

    def describe(self) -> str:
        """`50% of what is planned within 14 days`."""
        return f"{self.percent:g}% of what is planned within {self.within_days} days"


class ChannelUom(_Strict):
    """The unit the channel counts in, as a number of base units (a pack of 6 is 6)."""

    name: str = "Units"
    units: float = Field(default=1, gt=0)


class Channel(_Strict):
    """One sales channel."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    kind: ChannelKind
    warehouses: tuple[EligibleWarehouse, ...]
    allocation: Allocation = Allocation()
    safety_buffer: SafetyBuffer = SafetyBuffer(units=0)
    min_threshold: float = Field(default=0, ge=0)
    pack_size: int = Field(default=1, ge=1)
    uom: ChannelUom = ChannelUom()
    dropship: bool = False
    # None: the channel never sees incoming stock
    incoming: Incoming | None = None

    @field_validator("warehouses")
    @classmethod
    def _at_least_one(cls, value: tuple[EligibleWarehouse, ...]) -> tuple[EligibleWarehouse, ...]:
        if not value:
            raise ValueError("list at least one eligible warehouse")
        codes = [w.code for w in value]
        if len(set(codes)) != len(codes):
            raise ValueError("a warehouse is listed twice")
        return value


class ChannelRules(_Strict):
    """The whole of `channels.yml`."""

    channels: tuple[Channel, ...]

    @field_validator("channels")
    @classmethod
    def _valid_set(cls, value: tuple[Channel, ...]) -> tuple[Channel, ...]:
        if not value:
            raise ValueError("declare at least one channel")
        names = [c.name for c in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channel name(s) declared twice: {', '.join(duplicates)}")
        return value

    def names(self) -> list[str]:
        """Channel names in file order: the partitions of the channel assets."""
        return [c.name for c in self.channels]

    def get(self, name: str) -> Channel:
        """The channel called `name`."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(f"unknown channel {name!r}; channels are {', '.join(self.names())}")
