"""What an engine has recorded since it started: plain counters the web page's /metrics reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

from events.types import CommandCancelled, CommandCompleted, CommandFailed, Event, ItemProcessed
from projections.commands import Status

_ENDS = {CommandCompleted: Status.COMPLETED, CommandFailed: Status.FAILED, CommandCancelled: Status.CANCELLED}
_EVENTS = itemgetter(0)  # an entry's events


@dataclass
class EngineStats:
    """Events, command ends by status and items by outcome, counted as batches are committed."""

    events: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)

    def recorded(self, batch: list[tuple[list[Event], str | None]]) -> None:
        """Count a batch the writer has just committed (never a dry run's events)."""
        # One flat list and two comprehensions rather than a loop with a branch per event: a
        # batched command's batch holds a thousand items' events, and this runs on the event
        # loop's thread, between its chunks. Command ends are rare: looked for only if present.
        events = list(chain.from_iterable(map(_EVENTS, batch)))
        self.events += len(events)
        self.items.update([e.outcome for e in events if type(e) is ItemProcessed])
        if not _ENDS.keys().isdisjoint(map(type, events)):
            self.commands.update([_ENDS[type(e)] for e in events if type(e) in _ENDS])
