"""Chain logic: the ledger, block import and production, the mempool and event intake, re-execution."""
