"""`suppressions.yml`: time-boxed windows in which a channel publishes zero for some SKUs."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Suppression(BaseModel):
    """Publish 0 for SKUs matching `sku` on `channel` ("*" for all) from `start` until `until`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    channel: str = Field(min_length=1)
    sku: str = Field(min_length=1, description="shell-style pattern")
    start: AwareDatetime = Field(alias="from")
    until: AwareDatetime
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Suppression:
        if self.until <= self.start:
            raise ValueError("`until` must be after `from`")
        return self

    def active_at(self, now: datetime) -> bool:
        """Whether the window covers `now`."""
        return self.start <= now < self.until


class SuppressionRules(BaseModel):
    """The whole of `suppressions.yml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suppressions: tuple[Suppression, ...] = ()
