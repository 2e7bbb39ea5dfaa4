"""The sandbox a pipeline test runs against: the Odoo emulator and one emulator per channel of
the shipped rules, each on a free loopback port, with the variables that point the code at
them set (and unset after)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from inventory_pipelines.channels.factory import sandbox_env
from inventory_pipelines.defs.shared import POLICY
from inventory_pipelines.sandbox.amazon import AmazonSandbox
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox


def channel_emulator(kind: str, size: int, seed: int = 9) -> Any:
    """A (not started) emulator of `kind` with `size` listings."""
    if kind == "shopify":
        return ShopifySandbox(skus=size, seed=seed, port=0)
    if kind == "woocommerce":
        return WooCommerceSandbox(products=size, seed=seed, port=0)
    if kind == "amazon":
        return AmazonSandbox(skus=size, seed=seed, port=0)
    return GenericChannelSandbox(listings=size, seed=seed, port=0)


@contextmanager
def running_sandbox(
    monkeypatch: pytest.MonkeyPatch, *, skus: int, listings: int, seed: int = 9, version: int = 17
) -> Iterator[tuple[OdooSandbox, dict[str, Any]]]:
    """Odoo (`version`, `skus` products) and every channel's emulator (`listings` each),
    started; the channels' `INVENTORY_CHANNEL_*` variables set through `monkeypatch`. Odoo's
    own variables are the caller's (tests differ in how they hand them over)."""
    odoo = OdooSandbox(version=version, skus=skus, seed=seed, port=0)
    emulators = {
        c.name: channel_emulator(c.kind.value, listings, seed) for c in POLICY.channels.channels
    }
    started: list[Any] = []
    try:
        for server in (odoo, *emulators.values()):
            server.start()
            started.append(server)
        for name, emulator in emulators.items():
            kind = POLICY.channels.get(name).kind.value
            for key, value in sandbox_env(name, kind, emulator.credentials()).items():
                monkeypatch.setenv(key, value)
        yield odoo, emulators
    finally:
        for server in reversed(started):
            server.stop()
