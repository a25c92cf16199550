"""Commands as the log tells them: the intent, its start, each item's outcome and the end."""

from __future__ import annotations

from typing import Any

from events.event import Event


class CommandRequested(Event, frozen=True):
    """A user asked for a command (the intent)."""

    command_id: str
    name: str
    options: dict[str, Any] = {}


class CommandStarted(Event, frozen=True):
    """The engine began (or resumed) a command; ``total`` items were selected."""

    command_id: str
    total: int | None = None


class ItemProcessed(Event, frozen=True):
    """One item of a command finished: updated, skipped or failed, with its field changes."""

    command_id: str
    item: str
    outcome: str  # "updated" | "skipped" | "failed"
    reason: str = ""
    changes: dict[str, list[Any]] = {}

    def subject(self) -> str | None:
        """Items are named like subjects (``dvd:12``)."""
        return self.item


class CommandCancelRequested(Event, frozen=True):
    """A user asked to cancel a queued or running command."""

    command_id: str


class CommandCompleted(Event, frozen=True):
    """A command finished; ``summary`` is what the CLI prints."""

    command_id: str
    summary: dict[str, Any] = {}


class CommandFailed(Event, frozen=True):
    """A command stopped as a whole (bad key, bad input) with its reason."""

    command_id: str
    reason: str
    summary: dict[str, Any] = {}


class CommandCancelled(Event, frozen=True):
    """A command was cancelled before it finished."""

    command_id: str
    summary: dict[str, Any] = {}


class CommandInterrupted(Event, frozen=True):
    """The engine stopped a command cleanly before it ended (a signal); it resumes next time.

    A stop that leaves no such event (a kill, a crash) counts towards the crash-loop rule;
    a clean one does not.
    """

    command_id: str
