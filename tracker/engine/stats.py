"""What an engine has recorded since it started: plain counters the web page's /metrics reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from events.types import CommandCancelled, CommandCompleted, CommandFailed, Event, ItemProcessed
from projections.commands import Status

_ENDS = {CommandCompleted: Status.COMPLETED, CommandFailed: Status.FAILED, CommandCancelled: Status.CANCELLED}


@dataclass
class EngineStats:
    """Events, command ends by status and items by outcome, counted as batches are committed."""

    events: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)

    def recorded(self, batch: list[tuple[list[Event], str | None]]) -> None:
        """Count a batch the writer has just committed (never a dry run's events)."""
        for events, _command_id in batch:
            self.events += len(events)
            for event in events:
                if type(event) is ItemProcessed:
                    self.items[event.outcome] += 1
                elif (status := _ENDS.get(type(event))) is not None:
                    self.commands[status] += 1
