"""Fault injection for the RPC endpoints: the shared :mod:`inventory_pipelines.sandbox.faults`.

Faults apply to the endpoints an Odoo client talks to (``/xmlrpc``, ``/jsonrpc``, ``/web``,
``/json/2``, ``/doc-bearer``; see :func:`.server.is_rpc_path`), never to the ``/sandbox``
control endpoints. Injected statuses are answered as plain text.
"""

from __future__ import annotations

from ..faults import FaultInjectionMiddleware, Faults

__all__ = ["FaultInjectionMiddleware", "Faults"]
