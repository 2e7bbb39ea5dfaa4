"""Fixtures for the Odoo sandbox tests: real servers on the loopback, small demo data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inventory_pipelines.sandbox.demo_data import build_state
from inventory_pipelines.sandbox.odoo import OdooSandbox, OdooState

VERSIONS = (16, 17, 18, 19)
#: small enough to build in milliseconds, large enough to hold every kind of dirt
TEST_SKUS = 120
TEST_SEED = 7


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda v: f"odoo{v}")
def odoo(request: pytest.FixtureRequest) -> Iterator[OdooSandbox]:
    """A running sandbox per version, shared by a module's read-only tests."""
    with OdooSandbox(version=request.param, skus=TEST_SKUS, seed=TEST_SEED) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def odoo19() -> Iterator[OdooSandbox]:
    """A running Odoo 19 sandbox (JSON-2), shared by a module's read-only tests."""
    with OdooSandbox(version=19, skus=TEST_SKUS, seed=TEST_SEED) as sandbox:
        yield sandbox


@pytest.fixture
def fresh_odoo(request: pytest.FixtureRequest) -> Iterator[OdooSandbox]:
    """A sandbox of its own for a test that writes or injects faults (default: 17).

    Parametrize indirectly with a version: ``@pytest.mark.parametrize("fresh_odoo", [16],
    indirect=True)``.
    """
    version = getattr(request, "param", 17)
    with OdooSandbox(version=version, skus=60, seed=TEST_SEED) as sandbox:
        yield sandbox


@pytest.fixture(params=VERSIONS, ids=lambda v: f"odoo{v}")
def state(request: pytest.FixtureRequest) -> OdooState:
    """The models layer alone (no HTTP) with demo data, per version."""
    return build_state(request.param, skus=60, seed=TEST_SEED)
