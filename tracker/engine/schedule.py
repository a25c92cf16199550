"""The daemon's schedule: ``[[schedule]]`` entries of tracker.toml (or the default routine).

An entry names a command that changes data, its flags as typed and how often it runs. Its last
run is the newest command in the log with the same name and options, whoever asked for it, so a
restart neither repeats a run that is not due nor skips one that is, and runs missed while the
daemon was down are made up once. An entry that never ran counts from the day the log began, so
a new home is not hit with every task at once (Radarr starts its task clock the same way).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from projections.commands import ACTIVE, latest_equal
from tracker.commands import COMMANDS
from tracker.config import Settings, read_toml
from tracker.db import Database
from tracker.engine.submit import Submission, enqueue, validated
from tracker.errors import ConfigError, UsageError
from tracker.values import positive_int, quote

UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MAX_EVERY_S = 520 * 7 * 86400  # ten years
_EVERY = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
DEFAULT_ROUTINE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("sync", (), "1d"),
    ("refresh-missing-details", (), "1d"),
    ("refresh-torrent-data", ("--recent-only",), "1d"),
    ("refresh-torrent-data", (), "1w"),
    ("cleanup-unused-posters", (), "1w"),
    ("update-watch-providers", (), "1w"),
)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def parse_at(text: str) -> datetime:
    """The log's ``at`` text as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_every(text: Any) -> int:
    """A duration such as 90s, 30m, 6h, 1d or 1w, in seconds; ValueError otherwise."""
    m = _EVERY.match(text) if isinstance(text, str) else None
    if m is None or int(m.group(1)) == 0:
        raise ValueError(f"every must be a duration such as 90s, 30m, 6h, 1d or 1w, got {quote(text)}")
    every_s = int(m.group(1)) * UNIT_S[m.group(2)]
    if every_s > MAX_EVERY_S:  # beyond this, dates overflow; no routine needs it
        raise ValueError(f"every must be at most {MAX_EVERY_S // UNIT_S['w']}w, got {quote(text)}")
    return every_s


@dataclass(frozen=True)
class Entry:
    """One scheduled command: its name, flags as typed, options as queued, and its period."""

    command: str
    args: tuple[str, ...]
    every: str
    every_s: int
    options: dict[str, Any] = field(compare=False, hash=False)

    @property
    def label(self) -> str:
        """The command as typed: ``refresh-torrent-data --recent-only``."""
        return " ".join((self.command, *self.args))


@dataclass(frozen=True)
class Schedule:
    """The entries in force and where they come from; ``left_out`` names default entries skipped."""

    entries: tuple[Entry, ...]
    source: str  # "tracker.toml", "default routine" or "off"
    left_out: tuple[str, ...] = ()


class _Flags(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a bad entry is named, not printed."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def options_from_args(settings: Settings, command: str, args: list[str]) -> dict[str, Any]:
    """The options a command gets from its flags as typed, validated as the CLI would."""
    cmd = COMMANDS[command]
    parser = _Flags(prog=command, add_help=False)
    for a in cmd.arguments:
        parser.add_argument(*a.flags, **a.kwargs)
    if cmd.walks_items:
        parser.add_argument("--limit", type=positive_int)
    try:
        ns = parser.parse_args(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return validated(settings, Submission(command, vars(ns)))


def _entry(settings: Settings, raw: Any) -> Entry:
    """One [[schedule]] table as an Entry; ValueError/UsageError say what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("must be a table with command, args and every")
    unknown = sorted(set(raw) - {"command", "args", "every"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (expected command, args, every)")
    command, args = raw.get("command"), raw.get("args", [])
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r} (see tracker --help)")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("args must be a list of flags as typed, such as [\"--recent-only\"]")
    every_s = parse_every(raw.get("every"))
    options = options_from_args(settings, command, list(args))
    return Entry(command, tuple(args), raw["every"].strip(), every_s, options)


def load_schedule(settings: Settings) -> Schedule:
    """The schedule of tracker.toml, or the default routine; ConfigError names a bad entry."""
    path = settings.home / "tracker.toml"
    data = read_toml(path)
    raw = data["schedule"] if "schedule" in data else data.get("tracker", {}).get("schedule")
    if raw is None:
        return _default(settings)
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: schedule must be [[schedule]] tables, or [] to turn it off")
    entries = []
    for n, table in enumerate(raw, 1):
        name = table.get("command") if isinstance(table, dict) else None
        try:
            entries.append(_entry(settings, table))
        except (ValueError, UsageError) as exc:
            raise ConfigError(f"{path}: schedule entry {n}"
                              f"{f' ({name})' if name else ''}: {exc}") from exc
    return Schedule(tuple(entries), "tracker.toml" if entries else "off")


def _default(settings: Settings) -> Schedule:
    """The default routine; entries that cannot run here (no TMDB credentials) are left out."""
    entries, left_out = [], []
    for command, args, every in DEFAULT_ROUTINE:
        label = " ".join((command, *args))
        try:
            options = options_from_args(settings, command, list(args))
        except UsageError:
            left_out.append(label)
            continue
        entries.append(Entry(command, args, every, parse_every(every), options))
    return Schedule(tuple(entries), "default routine", tuple(left_out))


@dataclass(frozen=True)
class EntryState:
    """An entry as the log tells it: its last run and when it is next due."""

    entry: Entry
    last_command_id: str | None
    last_run_at: datetime | None
    last_status: str | None
    next_due: datetime

    @property
    def pending(self) -> bool:
        """An equal command is queued or running: the entry waits for it, never doubles it."""
        return self.last_status in ACTIVE

    def due(self, now: datetime) -> bool:
        """Whether to enqueue it now."""
        return not self.pending and now >= self.next_due

    def as_row(self, now: datetime) -> dict[str, Any]:
        """The entry as ``tracker schedule --json`` and the web page's /api/commands show it."""
        return {"command": self.entry.label, "every": self.entry.every,
                "last_run": self.last_run_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.last_run_at else None,
                "last_command_id": self.last_command_id, "last_status": self.last_status,
                "next_due": self.next_due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "due_now": self.due(now) or self.pending}


def entry_state(db: Database, entry: Entry, now: datetime) -> EntryState:
    """The entry's last run (from the log) and its next due time."""
    last = latest_equal(db.conn, entry.command, entry.options)
    if last is None:
        began = db.store.first_at()
        anchor = parse_at(began) if began else now
        return EntryState(entry, None, None, None, anchor + timedelta(seconds=entry.every_s))
    command_id, requested_at, status = last
    at = parse_at(requested_at)
    return EntryState(entry, command_id, at, status, at + timedelta(seconds=entry.every_s))


class Scheduler:
    """What the engine asks between commands: enqueue what is due; how long until the next."""

    def __init__(self, schedule: Schedule, clock: Clock = utc_now) -> None:
        """``clock`` gives the time (tests move it)."""
        self.schedule = schedule
        self.clock = clock

    def states(self, db: Database) -> list[EntryState]:
        """Every entry with its last run and next due time."""
        now = self.clock()
        return [entry_state(db, e, now) for e in self.schedule.entries]

    def enqueue_due(self, db: Database) -> list[tuple[Entry, str]]:
        """Enqueue every due entry (an equal queued one is reused); (entry, command id) each."""
        now = self.clock()
        out = []
        for state in self.states(db):
            if state.due(now):
                command_id, _ = enqueue(db, state.entry.command, state.entry.options)
                out.append((state.entry, command_id))
        return out

    def seconds_until_due(self, db: Database) -> float | None:
        """Seconds until the next entry is due (0 if one is), None with nothing to wait for."""
        now = self.clock()
        waits = [max(0.0, (s.next_due - now).total_seconds())
                 for s in self.states(db) if not s.pending]
        return min(waits) if waits else None
