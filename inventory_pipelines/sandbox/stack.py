"""The whole sandbox at once: Odoo, one emulator per channel and the vendor feed emulator
(the drop-ship vendor's and the 3PL's stock feeds of the shipped rules), each in its own process.

`start_stack` starts them on consecutive ports from `port_base` (0: free ports), waits for each
one's credentials line, and returns them; `Stack.stop()` ends every process.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# kind of channel -> (emulator module, the option that sizes its catalog)
EMULATORS = {
    "shopify": ("inventory_pipelines.sandbox.shopify", "--skus"),
    "woocommerce": ("inventory_pipelines.sandbox.woocommerce", "--products"),
    "amazon": ("inventory_pipelines.sandbox.amazon", "--skus"),
    "generic": ("inventory_pipelines.sandbox.generic", "--listings"),
}


#: the port the shipped vendors.yml and warehouses.yml read their sandbox feeds from
FEED_PORT = 8095
#: the feeds the shipped rules read, and the pattern of their codes: the drop-ship vendor's
#: product codes as the sandbox Odoo's supplierinfo has them, and the 3PL's (our SKUs)
SANDBOX_FEEDS = ("bright-dropship=BDS {n:06d}", "west-3pl=SKU-{n:06d}")


@dataclass
class Stack:
    """The running emulators and what they printed."""

    odoo: dict[str, Any]
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    feeds: dict[str, Any] | None = None  # the vendor feed emulator's url and feeds
    processes: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        """End every emulator process."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


class StackError(RuntimeError):
    """The sandbox cannot start; the message says why and what to do, in one line."""


def _in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _launch(module: str, args: list[str]) -> tuple[subprocess.Popen, dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line:
        process.wait(timeout=10)
        raise StackError(f"{module} did not start (exit {process.returncode}): see its error above")
    return process, json.loads(line)


def start_stack(
    channels: Sequence[tuple[str, str]],
    *,
    port_base: int = 0,
    skus: int = 2000,
    seed: int = 42,
    odoo_version: int = 17,
) -> Stack:
    """Start Odoo and an emulator for each (name, kind) channel; ports from `port_base` on."""

    def port(offset: int) -> str:
        return str(port_base + offset if port_base else 0)

    if port_base:
        taken = [p for p in range(port_base, port_base + len(channels) + 1) if _in_use(p)]
        if taken:
            raise StackError(
                f"port(s) {', '.join(map(str, taken))} on 127.0.0.1 are in use: stop what listens "
                f"there, or choose another --port-base (the sandbox takes {len(channels) + 1} "
                f"ports from {port_base}; 0 picks free ones)"
            )
    common = ["--seed", str(seed)]
    process, odoo = _launch(
        "inventory_pipelines.sandbox.odoo",
        ["--port", port(0), "--version", str(odoo_version), "--skus", str(skus), *common],
    )
    stack = Stack(odoo=odoo, processes=[process])
    try:
        for offset, (name, kind) in enumerate(channels, start=1):
            module, size = EMULATORS[kind]
            process, credentials = _launch(
                module, ["--port", port(offset), size, str(skus), *common]
            )
            stack.processes.append(process)
            stack.channels[name] = {"kind": kind, **credentials}
        feed_port = FEED_PORT if port_base else 0
        if feed_port and _in_use(feed_port):
            raise StackError(
                f"port {feed_port} on 127.0.0.1 is in use: the vendor feed emulator serves the "
                "shipped vendors.yml and warehouses.yml feeds there; stop what listens on it"
            )
        feeds = [arg for feed in SANDBOX_FEEDS for arg in ("--feed", feed)]
        process, stack.feeds = _launch(
            "inventory_pipelines.sandbox.vendor_feed",
            ["--port", str(feed_port), "--rows", str(skus), *feeds, *common],
        )
        stack.processes.append(process)
    except BaseException:
        stack.stop()
        raise
    return stack
