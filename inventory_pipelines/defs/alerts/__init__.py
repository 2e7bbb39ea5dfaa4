"""Run failures: recorded in the ledger and posted to the operators' chat."""
