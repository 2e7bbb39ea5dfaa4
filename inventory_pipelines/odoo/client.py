"""`OdooClient`: one pooled HTTP client, the protocol of choice, retries and a circuit breaker."""

from __future__ import annotations

import random as _random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from inventory_pipelines.odoo.config import OdooConfig
from inventory_pipelines.odoo.errors import OdooServerError, OdooUnsupportedVersionError
from inventory_pipelines.odoo.resilience import (
    CircuitBreaker,
    Resilience,
    RetryPolicy,
    is_idempotent,
)
from inventory_pipelines.odoo.transports import (
    Json2Protocol,
    JsonRpcProtocol,
    OdooProtocol,
    XmlRpcProtocol,
)
from inventory_pipelines.odoo.version import OdooVersion

__all__ = ["Domain", "OdooClient"]

Domain = Sequence[Any]

_PROTOCOLS: dict[str, type[OdooProtocol]] = {
    "jsonrpc": JsonRpcProtocol,
    "xmlrpc": XmlRpcProtocol,
    "json2": Json2Protocol,
}


class OdooClient:
    """A client of Odoo's external API (versions 16 to 19) over JSON-RPC, XML-RPC or JSON-2.

    The version is detected and the user authenticated on first use, then cached. Every call
    goes through the same retry policy and circuit breaker. Thread-safe; close it (or use it
    as a context manager) to release its connections.

    `transport` replaces httpx's network transport (tests pass an `httpx.MockTransport`);
    `sleep`, `clock` and `random` drive the backoff and the breaker.
    """

    def __init__(
        self,
        config: OdooConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.config = config
        self._http = httpx.Client(
            base_url=config.url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            headers={"User-Agent": "inventory-pipelines-odoo"},
        )
        self.breaker = CircuitBreaker(
            config.breaker_failure_threshold, config.breaker_reset_s, clock=clock
        )
        self._resilience = Resilience(
            RetryPolicy(config.max_attempts, config.backoff_initial_s, config.backoff_max_s),
            self.breaker,
            sleep=sleep,
            random=random,
        )
        self._lock = threading.Lock()
        self._version: OdooVersion | None = None
        self._protocol: OdooProtocol | None = None
        self._uid: int | None = None

    def __repr__(self) -> str:
        return f"OdooClient({self.config!r})"

    @property
    def version(self) -> OdooVersion:
        """The server's version, asked once."""
        with self._lock:
            if self._version is None:
                self._version = self._detect_version()
            return self._version

    @property
    def protocol(self) -> str:
        """The protocol in use: "jsonrpc", "xmlrpc" or "json2" (auto resolved)."""
        return self._session_protocol().name

    @property
    def uid(self) -> int:
        """The id of the authenticated user, authenticating on first use."""
        protocol = self._session_protocol()
        with self._lock:
            if self._uid is None:
                self._uid = self._resilience.call(
                    protocol.authenticate, model="common", method="authenticate", idempotent=True
                )
            return self._uid

    def call(
        self,
        model: str,
        method: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Call `method` on `model` like `execute_kw`: positional `args`, keyword `kwargs`.

        The context goes in `kwargs["context"]`. Reads are retried on transient failures;
        writes only when the request never left (see `resilience.py`).
        """
        protocol, uid = self._session_protocol(), self.uid
        return self._resilience.call(
            lambda: protocol.execute_kw(uid, model, method, args or [], kwargs or {}),
            model=model,
            method=method,
            idempotent=is_idempotent(method),
        )

    def search_read_pages(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        page_size: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the matching records page by page, by keyset on `id`.

        Each page is `search_read([('id', '>', last_id)] + domain, order='id', limit=n)`:
        unlike offsets, the keyset neither skips nor repeats records when others are created
        or deleted meanwhile, and every page costs the database the same. `load=None` makes
        many2one fields bare ids (or False).
        """
        size = page_size or self.config.page_size
        if size < 1:
            raise ValueError("page_size must be at least 1")
        kwargs: dict[str, Any] = {
            "fields": list(fields),
            "order": "id",
            "limit": size,
            "load": None,
        }
        if context:
            kwargs["context"] = dict(context)
        last_id = 0
        while True:
            page = self.call(model, "search_read", [[["id", ">", last_id], *domain]], kwargs)
            if page:
                yield page
            if len(page) < size:
                return
            if page[-1]["id"] <= last_id:
                # A server that ignored the order would otherwise have us loop for ever.
                raise OdooServerError(
                    f"keyset paging did not advance past id {last_id}: is order='id' ignored?",
                    model=model,
                    method="search_read",
                )
            last_id = page[-1]["id"]

    def search_read_all(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        page_size: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """All matching records as one list (see `search_read_pages`)."""
        pages = self.search_read_pages(model, domain, fields, page_size=page_size, context=context)
        return [record for page in pages for record in page]

    def search_count(
        self, model: str, domain: Domain, *, context: Mapping[str, Any] | None = None
    ) -> int:
        """How many records of `model` match `domain`."""
        kwargs = {"context": dict(context)} if context else None
        return int(self.call(model, "search_count", [list(domain)], kwargs))

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _session_protocol(self) -> OdooProtocol:
        """The protocol object, chosen once the version is known when `protocol="auto"`."""
        if self._protocol is not None:
            return self._protocol
        version = self.version
        wanted = self.config.protocol
        if wanted == "auto":
            wanted = "json2" if version.major >= 19 else "jsonrpc"
        elif wanted == "json2" and not version.has_json2:
            raise OdooUnsupportedVersionError(
                f"JSON-2 needs Odoo 19 (or saas-18.4); the server runs {version.serie}",
                method="version",
            )
        with self._lock:
            if self._protocol is None:
                self._protocol = _PROTOCOLS[wanted](self._http, self.config)
            return self._protocol

    def _detect_version(self) -> OdooVersion:
        # JSON-2 has no version call of its own; the webclient route answers on every version.
        detector = _PROTOCOLS["json2" if self.config.protocol == "auto" else self.config.protocol]
        info = self._resilience.call(
            detector(self._http, self.config).version_info,
            model="common",
            method="version",
            idempotent=True,
        )
        return OdooVersion.from_server_info(info)
