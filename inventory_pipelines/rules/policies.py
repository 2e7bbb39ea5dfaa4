"""`policies.yml`: overrides of the channel defaults by SKU pattern, category or velocity tier."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inventory_pipelines.rules.channels import SafetyBuffer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyMatch(_Strict):
    """Which SKUs a policy applies to; every given condition must hold."""

    sku: str | None = Field(default=None, min_length=1, description="shell-style pattern")
    category: str | None = Field(default=None, min_length=1)
    velocity_tier: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _something(self) -> PolicyMatch:
        if self.sku is None and self.category is None and self.velocity_tier is None:
            raise ValueError("give at least one of `sku`, `category`, `velocity_tier`")
        return self


class PolicySettings(_Strict):
    """What a policy changes."""

    safety_buffer: SafetyBuffer | None = None
    min_threshold: float | None = Field(default=None, ge=0)
    pack_size: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _something(self) -> PolicySettings:
        if self.safety_buffer is None and self.min_threshold is None and self.pack_size is None:
            raise ValueError("set at least one of `safety_buffer`, `min_threshold`, `pack_size`")
        return self


class PolicyOverride(_Strict):
    """One override. Policies apply in file order: the last one that matches wins."""

    name: str = Field(min_length=1)
    match: PolicyMatch
    channels: tuple[str, ...] = ()  # empty: every channel
    set: PolicySettings


class PolicyRules(_Strict):
    """The whole of `policies.yml`."""

    policies: tuple[PolicyOverride, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> PolicyRules:
        names = [p.name for p in self.policies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"policy name(s) used twice: {', '.join(duplicates)}")
        return self
