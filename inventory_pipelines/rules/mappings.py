"""`mappings.yml`: SKU-to-listing overrides, for SKUs a channel's catalog cannot match."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mapping(_Strict):
    """SKU `sku` is listing `listing_id` on `channel`."""

    sku: str = Field(min_length=1)
    channel: str = Field(min_length=1)
    listing_id: str = Field(min_length=1)
    pack_size: int | None = Field(default=None, ge=1)


class MappingRules(_Strict):
    """The whole of `mappings.yml`."""

    mappings: tuple[Mapping, ...] = ()

    @model_validator(mode="after")
    def _no_duplicates(self) -> MappingRules:
        seen_sku: dict[tuple[str, str], int] = {}
        seen_listing: dict[tuple[str, str], int] = {}
        for i, m in enumerate(self.mappings):
            for seen, key, what in (
                (seen_sku, (m.channel, m.sku), f"SKU {m.sku}"),
                (seen_listing, (m.channel, m.listing_id), f"listing {m.listing_id}"),
            ):
                if key in seen:
                    raise ValueError(
                        f"mappings.{i}: {what} on channel {m.channel} is already mapped by "
                        f"mappings.{seen[key]}; keep one of the two"
                    )
                seen[key] = i
        return self
