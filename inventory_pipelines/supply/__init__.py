"""Supply beyond the shelf: drop-ship vendors' and 3PL warehouses' stock feeds.

- `sources`: fetching a feed (HTTP with ETag and Last-Modified, a folder or an object storage
  prefix, the generic signed channel API);
- `parse`: a feed body (CSV or JSON, in its declared encoding) into rows as read;
- `rows`: cleaning those rows (kept, or quarantined with the reason) and freshness;
- `feeds`: reading a feed with its last good parse kept (validators in the ledger, the parse
  on the data plane), so a 304 or a broken fetch reuses it;
- `vendors`: a vendor's stock per SKU (supplierinfo mapping, buffer, lead time);
- `threepl`: a 3PL's stock per SKU, and what it does to a warehouse's canonical stock.

Pure steps take frames and rules; I/O stays in `sources` and `feeds`; Dagster is in
`defs/supply/`.
"""
