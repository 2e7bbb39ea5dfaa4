"""Reconciliation: `reconciliation/drift` per channel, its checks, the drift history per day,
the `reconcile_all` job and its nightly schedule."""
