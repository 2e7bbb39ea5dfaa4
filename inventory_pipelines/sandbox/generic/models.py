"""The generic channel emulator's state: listings, quantities, idempotent batches; no HTTP.

A deterministic catalog per seed: listings ``L-000001``... whose SKUs follow the Odoo
sandbox's format and numbering (``SKU-000001``...) with EAN-13 barcodes; about 4% carry no
SKU and about 3% a portal-only SKU (``POS-000001``) that no ERP knows.

A stock batch is applied item by item: an unknown listing is ``unknown``; a negative or
non-integer quantity is ``invalid``; with ``expected`` set, the quantity is only replaced if
the listing still shows ``expected`` (compare-and-set), else ``stale`` with the actual
quantity; otherwise ``ok``. The first answer to a ``batch_id`` is stored and returned again
for a replay of the same batch; a different body under a used ``batch_id`` is a conflict.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

DEFAULT_SECRET = "generic_sandbox_secret_0000000000000000"
DEFAULT_LISTINGS = 120
DEFAULT_MAX_BATCH = 500
#: how many batch answers are kept for replays
IDEMPOTENCY_MEMORY = 10_000


class GenericError(Exception):
    """A protocol error: ``{error: code, message}`` with an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": self.code, "message": self.message}


def ean13(number: int) -> str:
    """The EAN-13 for a 12-digit number (check digit appended)."""
    digits = f"{number:012d}"[-12:]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


@dataclass
class PortalListing:
    """One listing on the portal."""

    listing_id: str
    sku: str | None
    barcode: str | None
    quantity: int


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a batch, kept for replays."""

    fingerprint: str
    answer: dict[str, Any]


class GenericState:
    """Listings and the idempotency memory of a POS system / B2B portal (thread-safe)."""

    def __init__(
        self,
        listings: int = DEFAULT_LISTINGS,
        seed: int = 0,
        *,
        secret: str = DEFAULT_SECRET,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.lock = threading.RLock()
        self.secret = secret
        self.max_batch = max_batch
        self.seed = seed
        self.listings: dict[str, PortalListing] = {}
        self.batches: dict[str, StoredAnswer] = {}
        self.replays = 0
        rng = random.Random(seed)
        counter = portal_only = 0
        for number in range(1, listings + 1):
            roll = rng.random()
            sku: str | None
            barcode: str | None = None
            if roll < 0.04:
                sku = None
            elif roll < 0.07:
                portal_only += 1
                sku = f"POS-{portal_only:06d}"
            else:
                counter += 1
                sku = f"SKU-{counter:06d}"
                barcode = ean13(200000000000 + counter)
            quantity = rng.choice([0, 1, 3]) if rng.random() < 0.2 else rng.randint(0, 300)
            listing_id = f"L-{number:06d}"
            self.listings[listing_id] = PortalListing(listing_id, sku, barcode, quantity)

    def page(self, page: int, per_page: int) -> tuple[list[PortalListing], int | None]:
        """One page of listings in id order, and the next page number (``None`` at the end)."""
        with self.lock:
            rows = list(self.listings.values())
        chunk = rows[(page - 1) * per_page : page * per_page]
        return chunk, page + 1 if page * per_page < len(rows) else None

    def apply_batch(self, batch_id: str, updates: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Apply a stock batch once; a replay returns the first answer (``replayed: true``)."""
        if len(updates) > self.max_batch:
            raise GenericError(
                "batch_too_large", f"at most {self.max_batch} updates per batch", 413
            )
        canonical = orjson.dumps(list(updates), option=orjson.OPT_SORT_KEYS)
        fingerprint = hashlib.sha256(canonical).hexdigest()
        with self.lock:
            stored = self.batches.get(batch_id)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise GenericError(
                        "idempotency_key_mismatch",
                        "this batch_id was used with a different body",
                        409,
                    )
                self.replays += 1
                return {**stored.answer, "replayed": True}
            results = [self._apply(update) for update in updates]
            answer = {"batch_id": batch_id, "results": results}
            if len(self.batches) >= IDEMPOTENCY_MEMORY:
                self.batches.pop(next(iter(self.batches)))
            self.batches[batch_id] = StoredAnswer(fingerprint, answer)
            return {**answer, "replayed": False}

    def _apply(self, update: Mapping[str, Any]) -> dict[str, Any]:
        listing_id = str(update.get("listing_id"))
        listing = self.listings.get(listing_id)
        if listing is None:
            return {"listing_id": listing_id, "status": "unknown", "quantity": None}
        quantity, expected = update.get("quantity"), update.get("expected")
        if not _is_count(quantity) or (expected is not None and not _is_count(expected)):
            return {"listing_id": listing_id, "status": "invalid", "quantity": listing.quantity}
        if expected is not None and listing.quantity != expected:
            return {"listing_id": listing_id, "status": "stale", "quantity": listing.quantity}
        listing.quantity = int(quantity)  # type: ignore[arg-type]
        return {"listing_id": listing_id, "status": "ok", "quantity": listing.quantity}

    def sell(self, listing_id: str, quantity: int = 1) -> PortalListing:
        """A sale at the till: the listing's quantity goes down (not below zero)."""
        with self.lock:
            listing = self.listings[listing_id]
            listing.quantity = max(0, listing.quantity - int(quantity))
            return listing

    def set_quantity(self, listing_id: str, quantity: int) -> PortalListing:
        """Set a listing's quantity directly (a manual count at the store)."""
        with self.lock:
            listing = self.listings[listing_id]
            listing.quantity = int(quantity)
            return listing

    def find_sku(self, sku: str) -> PortalListing | None:
        """The listing with this SKU."""
        with self.lock:
            return next((x for x in self.listings.values() if x.sku == sku), None)

    def summary(self) -> dict[str, Any]:
        """Counts for ``GET /sandbox/state``."""
        with self.lock:
            return {
                "listings": len(self.listings),
                "batches": len(self.batches),
                "replays": self.replays,
                "max_batch": self.max_batch,
            }


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
