"""Use cases: one transaction each. Web, worker and CLI call these; they call engine and store."""
