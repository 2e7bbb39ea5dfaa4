"""An emulated Odoo (16.0 to 19.0) for tests and benchmarks: real HTTP, in-memory state.

The public entry points::

    from inventory_pipelines.sandbox.odoo import OdooSandbox, serve
    with OdooSandbox(version=17, skus=200, seed=7) as odoo:
        ...

``OdooState`` (the models layer, no HTTP) and ``Faults`` can be used on their own. The layout
follows moto: state and rules in ``models``/``rules``/``methods``, protocol in ``responses``,
the URL table and process management in ``server``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AccessDenied,
    AccessError,
    MissingError,
    OdooError,
    UserError,
    ValidationError,
)
from .faults import Faults
from .models import (
    ADMIN_UID,
    DEFAULT_API_KEY,
    DEFAULT_DB,
    DEFAULT_LOGIN,
    DEFAULT_PASSWORD,
    Env,
    OdooState,
)
from .versions import SUPPORTED_VERSIONS, VersionProfile, get_profile

if TYPE_CHECKING:
    from .server import OdooSandbox, serve

__all__ = [
    "ADMIN_UID",
    "DEFAULT_API_KEY",
    "DEFAULT_DB",
    "DEFAULT_LOGIN",
    "DEFAULT_PASSWORD",
    "SUPPORTED_VERSIONS",
    "AccessDenied",
    "AccessError",
    "Env",
    "Faults",
    "MissingError",
    "OdooError",
    "OdooSandbox",
    "OdooState",
    "UserError",
    "ValidationError",
    "VersionProfile",
    "get_profile",
    "serve",
]


def __getattr__(name: str) -> Any:
    # the server imports the demo data, which imports the models: load it on first use
    if name in ("OdooSandbox", "serve"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
