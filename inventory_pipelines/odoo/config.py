"""Connection settings of the Odoo client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

__all__ = ["PROTOCOLS", "OdooConfig", "ProtocolName"]

ProtocolName = Literal["jsonrpc", "xmlrpc", "json2", "auto"]
PROTOCOLS: tuple[str, ...] = get_args(ProtocolName)


@dataclass(frozen=True)
class OdooConfig:
    """Where Odoo is, who we are, and how patiently we talk to it.

    `secret` is the password or API key (JSON-2 takes an API key only). It is left out of
    `repr` so that the config can be logged. `protocol="auto"` picks JSON-2 on Odoo 19 and
    later, JSON-RPC before.
    """

    url: str
    db: str
    login: str
    secret: str = field(repr=False)
    protocol: ProtocolName = "auto"
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    max_attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    breaker_failure_threshold: int = 5
    breaker_reset_s: float = 30.0
    page_size: int = 20_000

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}"
            )
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {self.url!r}")
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.breaker_failure_threshold < 1:
            raise ValueError("breaker_failure_threshold must be at least 1")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
