"""`warehouses.yml`: the warehouses, their status, and the role of hold and transit locations."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class WarehouseStatus(StrEnum):
    """Whether a warehouse's stock may be sold."""

    ONLINE = "online"
    OFFLINE = "offline"
    HOLD = "hold"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Warehouse(_Strict):
    """A warehouse known to the rules, by its Odoo `stock.warehouse.code`."""

    code: str = Field(min_length=1)
    status: WarehouseStatus = WarehouseStatus.ONLINE
    priority: int = Field(default=100, ge=0)
    # A drop-ship vendor's stock: it counts only for channels that allow drop-ship.
    dropship: bool = False


class HoldLocation(_Strict):
    """Internal locations whose stock is quality hold, matched on `complete_name`."""

    pattern: str = Field(min_length=1)
    reason: str = ""


class TransitLocation(_Strict):
    """Transit locations and the warehouse their stock is bound for."""

    pattern: str = Field(min_length=1)
    warehouse: str = Field(min_length=1)


class LocationRoles(_Strict):
    """Which locations hold stock that is not sellable yet."""

    hold: tuple[HoldLocation, ...] = ()
    transit: tuple[TransitLocation, ...] = ()


class WarehouseRules(_Strict):
    """The whole of `warehouses.yml`."""

    warehouses: tuple[Warehouse, ...]
    locations: LocationRoles = LocationRoles()

    @field_validator("warehouses")
    @classmethod
    def _at_least_one(cls, value: tuple[Warehouse, ...]) -> tuple[Warehouse, ...]:
        if not value:
            raise ValueError("declare at least one warehouse")
        return value

    @model_validator(mode="after")
    def _known_warehouses(self) -> WarehouseRules:
        codes = [w.code for w in self.warehouses]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"warehouse code(s) declared twice: {', '.join(duplicates)}")
        for i, rule in enumerate(self.locations.transit):
            if rule.warehouse not in codes:
                raise ValueError(
                    f"locations.transit.{i}.warehouse: unknown warehouse {rule.warehouse!r}; "
                    f"declare it under `warehouses` or use one of {', '.join(codes)}"
                )
        return self

    def codes(self) -> list[str]:
        """The declared warehouse codes, in file order."""
        return [w.code for w in self.warehouses]
