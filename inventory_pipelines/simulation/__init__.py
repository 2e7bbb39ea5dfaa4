"""`inventory-sync simulate`: the same shoppers under each publishing policy, in simulated time.

A deterministic simulation (by `--seed`) of a distributor's day, run against the emulators
with the product's real code: the allocation engine, the ledger (inbox, pending units, fences,
outbox), the publisher, the channel connectors and order ingestion into Odoo. The world
(`world.py`), the scenario (`scenario.py`), simulated time (`clock.py`), the policies
(`policies.py`), the run and its figures (`run.py`) and the report (`report.py`) each have their
module; README section *Simulation* gives the design, the metrics and the figures.

**Metrics** (per policy; the same definitions for every policy):

- `oversold_units`: units channels accepted beyond what the shelves could fulfil for them: each
  accepted order takes its units from the *truth* (the sellable units really on the shelves of
  the channel's eligible warehouses, shared by every channel: those online when the order is
  accepted; an earlier order may still be kept from one that went offline since, see
  `world.Truth`); what it cannot take is oversold. `oversold_orders`: orders with an oversold unit.
  `oversold_units_compare_and_set_channels`: the same on channels with compare-and-set
  (Shopify among the simulated ones).
- `lost_sales`: shoppers turned away (the channel showed fewer units than they asked for)
  while the business had those units for that channel: on the shelves of its eligible online
  warehouses, sellable, not promised to an earlier order (however routed), not held by Odoo
  for an order it reserved there, and the channel's by the allocation rule applied to the
  true figures (on the shared pool, all of them; ring-fenced, what is left of the channel's
  own fence; see `world.Truth.for_channel_by_rules`); `lost_units` their units. A shopper
  turned away when the shelves were empty is not a lost sale, nor is one a fence turned away
  while the units on the shelf were another channel's.
- `turned_away_with_stock`: shoppers turned away while the channel's warehouses held the
  units by any routing of the orders taken, fences ignored: the lost sales, plus those a
  fence turned away, plus those an order Odoo reserved in the channel's warehouse turned away
  while it could have shipped from another. The stricter count, shown beside.
- `duplicate_orders`: Odoo sale orders beyond the first per channel order (`client_order_ref`).
- `lost_updates`: `orders_missing_in_odoo` (orders a channel accepted that have no sale order
  in Odoo at the end) plus `changes_never_reflected` (sales and stock changes whose SKU never got
  a quantity computed after the change onto every channel by the end).
- `drift_end`: after the end of the demand and the policy's last full pass (ours: the full
  reconciliation; periodic: one more timer pass), listings that show a different quantity from
  what that pass set; `overexposed_end`: listings showing more than the truth holds for them.
- `api_calls`: requests to the channels' APIs (retries and token requests included).
- `latency_p50_s`, `latency_p95_s`: change-to-channel latency in simulated seconds: from a
  change (a sale on any channel, a stock change in Odoo) until quantities computed after the
  product could know of it are on every channel (a run whose rounds left nothing waiting).
"""

#: the policies, in the order the report shows them
POLICIES = (
    "ours-ring-fenced",
    "ours-shared",
    "periodic-10m",
    "periodic-15m",
    "ours-no-pending-ledger",
    "ours-no-compare-and-set",
)

__all__ = ["POLICIES"]
