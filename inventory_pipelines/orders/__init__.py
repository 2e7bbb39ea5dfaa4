"""Channel orders into Odoo, exactly once (DESIGN.md sections 3, 6 and 7).

- `receiver`: the webhook receiver (Starlette): verifies each channel's signature before
  anything is stored, and writes the order events to the ledger's inbox.
- `setup`: which channels take webhooks, with which secret (environment, sandbox defaults).
- `events`: a channel order event as an inbox event (identity, route, pending units).
- `ingest`: inbox rows into Odoo exactly once (orders and cancellations, under `orders.yml`).
- `dropship`: which units of a drop-ship channel's order the vendor ships (Odoo's drop-ship
  route), from what the channel may sell of its own stock and of its vendors' before it.

Channel-specific parsing and signing live in each connector's module
(`inventory_pipelines.channels.<kind>`); this package only sees `ChannelOrder`.
"""
