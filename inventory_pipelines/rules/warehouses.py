"""`warehouses.yml`: the warehouses, their status, and the role of hold and transit locations.

A warehouse run by a third-party logistics provider (3PL) may have a stock ``feed`` (the
`feed` block of `rules/feeds.py`). 3PLs speak our SKUs: the feed's ``code`` column holds our
SKU (the `default_code` in Odoo), mapped directly, with no supplierinfo. ``stock_source``
says what the feed does to the warehouse's stock (`supply/threepl.py`):

- ``odoo`` (the default): Odoo's quants are the stock; a feed is only compared with them
  (`reconciliation/threepl_drift`);
- ``feed``: the 3PL's quantity is the on-hand (Odoo's reservations are still subtracted);
- ``both``: per SKU, the lower of Odoo's on-hand and the 3PL's: sold only what both see.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inventory_pipelines.rules.feeds import Feed


class WarehouseStatus(StrEnum):
    """Whether a warehouse's stock may be sold."""

    ONLINE = "online"
    OFFLINE = "offline"
    HOLD = "hold"


class StockSource(StrEnum):
    """Where a warehouse's on-hand comes from: Odoo's quants, its 3PL's feed, or both."""

    ODOO = "odoo"
    FEED = "feed"
    BOTH = "both"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Warehouse(_Strict):
    """A warehouse known to the rules, by its Odoo `stock.warehouse.code`."""

    code: str = Field(min_length=1)
    status: WarehouseStatus = WarehouseStatus.ONLINE
    priority: int = Field(default=100, ge=0)
    # A drop-ship vendor's stock: it counts only for channels that allow drop-ship.
    dropship: bool = False
    stock_source: StockSource = StockSource.ODOO
    #: the 3PL's stock feed (its `code` column holds our SKU)
    feed: Feed | None = None
    #: a feed older than this counts as zero (3PL feeds only)
    freshness_hours: float = Field(default=24.0, gt=0)

    @model_validator(mode="after")
    def _feed_for_source(self) -> Warehouse:
        if self.stock_source is not StockSource.ODOO and self.feed is None:
            raise ValueError(
                f"stock_source {self.stock_source.value} needs a `feed` (the 3PL's stock "
                "feed), or use stock_source odoo"
            )
        return self


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

    def with_feed(self) -> list[str]:
        """Codes of the warehouses with a 3PL feed: the partitions of `supply/threepl_stock`."""
        return [w.code for w in self.warehouses if w.feed is not None]

    def get(self, code: str) -> Warehouse:
        """The warehouse called `code`."""
        for warehouse in self.warehouses:
            if warehouse.code == code:
                return warehouse
        raise KeyError(f"unknown warehouse {code!r}; warehouses are {', '.join(self.codes())}")
