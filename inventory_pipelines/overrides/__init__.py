"""Manual overrides with approval, and the emergency stop: `inventory-sync override ...`.

- :mod:`.model`: what a person asks for, validated (pydantic): the end (`--until`, ISO 8601
  with a time zone or a duration such as `2h`), the quantity, the reason, who asks;
- :mod:`.targets`: which SKUs the data plane knows, and which a stop's pattern matches;
- :mod:`.fastpath`: how an approval, a revocation or a stop reaches the channels now (a fast
  refresh run submitted to the Dagster webserver, else the same refresh in process for a
  stop, else dirty marks for the next batch);
- :mod:`.cli`: the commands.

The overrides themselves live in the ledger (`ledger/overrides.py`), the allocation applies
them (`allocation/overrides.py`) and the sensor `override_expiry` (`defs/overrides/`) takes
an override whose time ran out off the channels.
"""
