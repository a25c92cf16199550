"""Upkeep: TMDB's change lists read up to a day."""

from __future__ import annotations

from events.event import Event


class ChangesSynced(Event, frozen=True):
    """TMDB's change lists were read from ``start_date`` to ``end_date`` (inclusive, UTC days) and
    every tracked title they named was refreshed: the next sync starts at ``end_date``."""

    command_id: str
    start_date: str
    end_date: str
    pages: int = 0  # change-list pages read
    refreshed: int = 0  # tracked titles the lists named

    subject_prefix = "sync"
    subject_field = "end_date"
