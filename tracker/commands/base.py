"""What a command is: how it selects its items and turns each into events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from events.types import Event
from projections.commands import ItemOutcome
from tracker.errors import ConfigError

if TYPE_CHECKING:
    from tracker.clients.session import Clients
    from tracker.config import Settings
    from tracker.db import Database

UPDATED, SKIPPED, FAILED = ItemOutcome.UPDATED, ItemOutcome.SKIPPED, ItemOutcome.FAILED
NO_CHANGE = "no change"  # the reason of an item skipped because nothing differs


@dataclass(frozen=True)
class Arg:
    """A command-line argument of a command, as argparse takes it."""

    flags: tuple[str, ...]
    kwargs: dict[str, Any]


def arg(*flags: str, **kwargs: Any) -> Arg:
    """Declare a command-line argument."""
    return Arg(flags, kwargs)


# Item and Outcome are msgspec Structs, not dataclasses: built in C, three to four times faster,
# and an import makes one of each per row (a quarter of a million of them).
class Item(msgspec.Struct):
    """One unit of a command's work, named like an event subject (``dvd:12``, ``line:7``)."""

    key: str
    payload: Any = None


class Outcome(msgspec.Struct):
    """What processing one item produced: its kind (UPDATED, SKIPPED, FAILED), events, changes."""

    kind: str
    events: list[Event] = []  # an empty list or dict default is a fresh one per instance
    reason: str = ""
    changes: dict[str, list[Any]] = {}


@dataclass
class Run:
    """Everything a command needs while running: its options, the database, the clients.

    ``state`` is what the command's ``prepare`` returned: its own small dataclass, or None.
    """

    command_id: str
    name: str
    options: dict[str, Any]
    settings: Settings
    db: Database
    dry_run: bool = False
    clients: Clients | None = None
    state: Any = None

    @property
    def limit(self) -> int | None:
        """The run's --limit (at most this many items), or None for every item."""
        return self.options.get("limit") or None


class Command:
    """A command: ``select`` lists items, ``process`` turns one into an Outcome."""

    name: ClassVar[str]
    help: ClassVar[str] = ""
    arguments: ClassVar[tuple[Arg, ...]] = ()
    network: ClassVar[bool] = False
    walks_items: ClassVar[bool] = True
    # One-DVD commands (edit, remove, ...) show their item's changes without --verbose.
    shows_changes: ClassVar[bool] = False
    # None: the engine's TRACKER_CONCURRENCY; 1 when items depend on each other (ids, dedup).
    concurrency: ClassVar[int | None] = None
    # Items need neither the network nor any waiting: the runner calls ``process_now`` on a
    # chunk of them at a time, skipping a coroutine and a queue entry per item.
    batched: ClassVar[bool] = False

    def validate(self, options: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """Check options before anything is written; raise UsageError (exit 2) if bad."""
        return options

    def prepare(self, run: Run) -> Any:
        """The command's per-run state (a dataclass, kept as ``run.state``), before selecting."""
        return None

    async def plan(self, run: Run) -> None:
        """Ask what is needed to select items (a change list, say), after ``prepare``."""

    def select(self, run: Run) -> Iterable[Item]:
        """The items to process, in order."""
        return ()

    async def process(self, run: Run, item: Item) -> Outcome:
        """Process one item; errors from the network become failed items."""
        if self.batched:
            return self.process_now(run, item)
        raise NotImplementedError

    def process_now(self, run: Run, item: Item) -> Outcome:
        """Process one item of a ``batched`` command, at once."""
        raise NotImplementedError

    def closing_events(self, run: Run, summary: dict[str, Any]) -> list[Event]:
        """Events recorded when every item was processed, just before the command completes."""
        return []

    def summary_extra(self, run: Run, db: Database) -> dict[str, Any]:
        """Extra summary fields (per-field counts and the like), read from the writer's ``db``."""
        return {}

    def headline(self, summary: dict[str, Any]) -> str | None:
        """A line for people printed before the summary (``added DVD 42``), or None."""
        return None


class TmdbCommand(Command):
    """A network command that needs TMDB credentials before anything is queued."""

    network = True

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Refuse at once (exit 2) when no TMDB key or token is configured."""
        if not settings.tmdb_api_key and not settings.tmdb_access_token:
            raise ConfigError("no TMDB credentials: set TMDB_API_KEY or TMDB_ACCESS_TOKEN "
                              "(or run tracker demo / tracker sandbox to try it offline)")
        return options


def changes_between(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, list[Any]]:
    """Field-by-field changes ``{field: [old, new]}`` for the fields whose value differs."""
    old = old or {}
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}
