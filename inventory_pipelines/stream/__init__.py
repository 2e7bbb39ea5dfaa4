"""The Odoo push path: Odoo 17+ tells us a quant changed, we refresh its SKU at once.

An automation rule in Odoo (trigger *On save* on ``stock.quant.quantity``, action *Send
Webhook Notification*) POSTs one small JSON object per saved quant, with a 1 s timeout, never
retried, unsigned, and on 17 and 18 before its transaction commits. So what arrives is a hint,
never the truth:

- :mod:`.hints` reads a hint (``{"_model", "_id", "_action", "id", <chosen fields>}``);
- :mod:`.receiver` is the route ``POST /odoo/<token>`` of ``inventory-sync webhooks serve``:
  the token is checked in constant time (401 otherwise, nothing kept), the hint queued, and
  the answer given in milliseconds;
- :mod:`.coalescer` waits for Odoo's commit, reads the quants back, gathers the hints of a
  short window into one run over their SKUs and submits it;
- :mod:`.runs` is that run (``refresh_changed_skus`` over every channel, fast-path tags) and
  the submitter that hands it to the Dagster webserver's GraphQL API;
- :mod:`.setup` wires all of it from the environment.

The Odoo change sensor stays the safety net: it sees every change, also those that send no
webhook (quants merged by raw SQL, Odoo 16, a hint lost or refused), a few seconds later.
"""

from inventory_pipelines.stream.coalescer import CoalescerStats, HintCoalescer
from inventory_pipelines.stream.hints import HintError, QuantHint, parse_hint
from inventory_pipelines.stream.quants import OdooQuantReader, QuantReader, QuantSeen
from inventory_pipelines.stream.receiver import PushStats, push_routes
from inventory_pipelines.stream.runs import FastRun, GraphQLRunSubmitter, RunSubmitter

__all__ = [
    "CoalescerStats",
    "FastRun",
    "GraphQLRunSubmitter",
    "HintCoalescer",
    "HintError",
    "OdooQuantReader",
    "PushStats",
    "QuantHint",
    "QuantReader",
    "QuantSeen",
    "RunSubmitter",
    "parse_hint",
    "push_routes",
]
