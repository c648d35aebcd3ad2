"""The Automation engine: interprets schemaVersion 0.3 runbooks with SSM's semantics for the rehearsal."""
