"""`vendors.yml`: the drop-ship vendors, where their stock feed is read and how it is trusted.

Each vendor:

- ``code``: our name for it (the partition of `supply/vendor_stock`);
- ``odoo_partner``: the `res.partner` name in Odoo whose `product.supplierinfo` rows map the
  vendor's product codes to our products (a code no row maps is quarantined, never guessed);
- ``feed``: where its stock is read (`rules/feeds.py`: http, folder or channel_api);
- ``freshness_hours``: a feed (or a row, by its ``updated_at``) older than this counts as zero
  for every SKU it covers, and the output says so;
- ``buffer``: units held back from what the vendor reports, ``{units: N}`` or ``{percent: P}``
  (as a channel's safety_buffer);
- ``lead_time_days``: days from our order to the vendor's shipment (the larger of this and
  the supplierinfo's delay applies).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inventory_pipelines.rules.channels import SafetyBuffer
from inventory_pipelines.rules.feeds import Feed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vendor(_Strict):
    """One drop-ship vendor and its stock feed."""

    code: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    odoo_partner: str = Field(min_length=1)
    feed: Feed
    freshness_hours: float = Field(default=24.0, gt=0)
    buffer: SafetyBuffer = SafetyBuffer(units=0)
    lead_time_days: int = Field(default=0, ge=0)


class VendorRules(_Strict):
    """The whole of `vendors.yml` (no file: no vendors)."""

    vendors: tuple[Vendor, ...] = ()

    @field_validator("vendors")
    @classmethod
    def _unique(cls, value: tuple[Vendor, ...]) -> tuple[Vendor, ...]:
        for attribute, what in (("code", "vendor code"), ("odoo_partner", "odoo_partner")):
            seen = [getattr(v, attribute) for v in value]
            twice = sorted({s for s in seen if seen.count(s) > 1})
            if twice:
                raise ValueError(f"{what}(s) declared twice: {', '.join(twice)}")
        return value

    def codes(self) -> list[str]:
        """Vendor codes in file order: the partitions of `supply/vendor_stock`."""
        return [v.code for v in self.vendors]

    def get(self, code: str) -> Vendor:
        """The vendor called `code`."""
        for vendor in self.vendors:
            if vendor.code == code:
                return vendor
        raise KeyError(f"unknown vendor {code!r}; vendors are {', '.join(self.codes()) or 'none'}")
