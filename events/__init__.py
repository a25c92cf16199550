"""Event types and the append-only SQLite event store."""
