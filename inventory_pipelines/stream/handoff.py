"""The change sensor hands its critical SKUs to the receiver, which executes fast runs itself.

A run the sensor requests waits for the run queue's next pass and for a new process to load
Dagster and the code location (3 to 4 s on 2 cores) before its first step. A receiver with
``push.runs_in: receiver`` has all of it loaded, so when ``INVENTORY_RECEIVER_URL`` names one
(``inventory-sync dev`` sets it), the sensor POSTs its critical SKUs to
``<receiver>/odoo/<INVENTORY_ODOO_WEBHOOK_TOKEN>/skus`` and requests no run for them. Anything
but a 202 within ``TIMEOUT_S`` (the receiver down, or handing its runs to the webserver, or
a refused token) and the sensor requests the runs itself, as without a receiver: the handover
is a shortcut, never the only way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import httpx

from inventory_pipelines import settings
from inventory_pipelines.settings import LOOPBACK_HOSTS

log = logging.getLogger(__name__)

RECEIVER_URL_ENV = "INVENTORY_RECEIVER_URL"
TIMEOUT_S = 2.0


def hand_over(
    skus: Sequence[str], trigger: str, env: Mapping[str, str] | None = None
) -> str | None:
    """Hand `skus` to the receiver's next run: None when it took them, else why not."""
    from inventory_pipelines.stream.setup import PushConfigError, push_token

    env = env if env is not None else os.environ
    url = (env.get(RECEIVER_URL_ENV) or "").rstrip("/")
    if not url or not skus:
        return f"{RECEIVER_URL_ENV} is not set" if not url else "no SKU"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{RECEIVER_URL_ENV} is not an http(s) URL"
    if settings.environment() == "local" and parts.hostname not in LOOPBACK_HOSTS:
        return f"{RECEIVER_URL_ENV}: the local environment only talks to loopback"
    try:
        token = push_token(env)
    except PushConfigError as exc:
        return str(exc)
    if token is None:
        return "no Odoo push token"
    try:
        answer = httpx.post(
            f"{url}/odoo/{token}/skus",
            json={"skus": list(skus), "trigger": trigger},
            timeout=TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        return f"the receiver did not answer ({type(exc).__name__})"
    if answer.status_code != 202:
        return f"the receiver answered {answer.status_code}"
    return None
