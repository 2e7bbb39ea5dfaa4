"""Stream: what changed in Odoo reaches every channel by itself (the change sensor, the push
path's fast runs, the batch of dirty SKUs)."""
