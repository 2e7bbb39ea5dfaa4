"""Publishing channel quantities through the ledger: outbox, acknowledgements, re-plans."""
