"""The event store's own errors; ``tracker.errors`` re-exports them under its hierarchy."""

from __future__ import annotations


class StoreError(Exception):
    """The event store cannot be opened, read or appended to."""

    exit_code = 1


class NotATrackerDatabase(StoreError):
    """The file at the database path is not a tracker database."""

    exit_code = 2
