"""Supply: drop-ship vendors' and 3PL warehouses' stock feeds, their quarantines, the 3PL drift."""
