"""The commands and command_items tables: each intent's status, progress and per-item outcome."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from events.types import (
    CommandCancelled,
    CommandCancelRequested,
    CommandCompleted,
    CommandFailed,
    CommandRequested,
    CommandStarted,
    ItemProcessed,
)
from projections.fold import Envelope, on, read_as
from projections.rows import RowCache, to_json
from projections.tables import TABLES


class Status:
    """A command's status, as the commands table holds it."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Never stored: how status shows a "running" command that no live engine is running
    # (killed, stopped, out of disk); the next run or daemon start resumes it.
    INTERRUPTED = "interrupted"


class ItemOutcome:
    """What became of one item, as ItemProcessed and the command_items table hold it."""

    UPDATED = "updated"
    SKIPPED = "skipped"
    FAILED = "failed"


ACTIVE = (Status.QUEUED, Status.RUNNING)  # not yet ended: the engine will (re)run it
TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
ITEM_OUTCOMES = (ItemOutcome.UPDATED, ItemOutcome.SKIPPED, ItemOutcome.FAILED)
Command = TABLES["commands"].row


def _touch(rows: RowCache, env: Envelope, command_id: str) -> Any:
    """The command's row, marked as changed by this event; None for an unknown command."""
    row = rows.changing("commands", (command_id,))
    if row is not None:
        row.last_seq = env.seq
    return row


def _finish(rows: RowCache, env: Envelope, command_id: str, status: str, summary: dict) -> Any:
    """Mark the command finished with a status and its summary; its row (None if unknown)."""
    if (row := _touch(rows, env, command_id)) is not None:
        row.status, row.finished_at, row.summary = status, env.at, to_json(summary)
    return row


@on(CommandRequested)
def requested(rows: RowCache, env: Envelope, e: CommandRequested) -> None:
    """A queued command."""
    rows.put("commands", (e.command_id,), Command(
        command_id=e.command_id, name=e.name, options=to_json(e.options), status=Status.QUEUED,
        requested_seq=env.seq, requested_at=env.at, processed=0, updated=0, skipped=0, failed=0,
        cancel_requested=0, last_seq=env.seq))


@on(CommandStarted)
def started(rows: RowCache, env: Envelope, e: CommandStarted) -> None:
    """Running, with the number of items selected (a resume keeps the first start time)."""
    if (row := _touch(rows, env, e.command_id)) is not None:
        row.status, row.started_at, row.total = Status.RUNNING, row.started_at or env.at, e.total


@read_as(ItemProcessed)
class ItemProcessedRead(msgspec.Struct, frozen=True, tag="ItemProcessed", tag_field="type", gc=False):
    """What the fold reads of an ItemProcessed, which a replay decodes instead: not its changes
    (decoding them took 3.3 of 4 us an item: 1.3 s of a replay of the wide shape's million)."""

    command_id: str
    item: str
    outcome: str
    reason: str = ""


@on(ItemProcessed)
def item_processed(rows: RowCache, env: Envelope, e: ItemProcessed | ItemProcessedRead) -> None:
    """Count one finished item and remember it, so a resumed run skips it."""
    row = _touch(rows, env, e.command_id)
    if row is None:
        return
    row.processed += 1
    outcome = e.outcome
    if outcome == ItemOutcome.UPDATED:
        row.updated += 1
    elif outcome == ItemOutcome.SKIPPED:
        row.skipped += 1
    elif outcome == ItemOutcome.FAILED:
        row.failed += 1
    rows.write("command_items", (e.command_id, e.item, outcome, e.reason, env.seq))


@on(CommandCancelRequested)
def cancel_requested(rows: RowCache, env: Envelope, e: CommandCancelRequested) -> None:
    """Flag the command; a queued one is cancelled at once by the engine or the CLI."""
    if (row := _touch(rows, env, e.command_id)) is not None:
        row.cancel_requested = 1


@on(CommandCompleted)
def completed(rows: RowCache, env: Envelope, e: CommandCompleted) -> None:
    """Done, with its summary."""
    _finish(rows, env, e.command_id, Status.COMPLETED, e.summary)


@on(CommandFailed)
def failed(rows: RowCache, env: Envelope, e: CommandFailed) -> None:
    """Stopped as a whole, with its reason."""
    if (row := _finish(rows, env, e.command_id, Status.FAILED, e.summary)) is not None:
        row.reason = e.reason


@on(CommandCancelled)
def cancelled(rows: RowCache, env: Envelope, e: CommandCancelled) -> None:
    """Cancelled before it finished."""
    _finish(rows, env, e.command_id, Status.CANCELLED, e.summary)


# Named queries: every read of the commands and command_items tables goes through these.

@dataclass(frozen=True, slots=True)
class Runnable:
    """A command the engine should run (or resume) next."""

    command_id: str
    name: str
    options: dict[str, Any]
    cancel_requested: bool


@dataclass(frozen=True, slots=True)
class Counts:
    """How many items a command has processed, by outcome (resumed runs add up)."""

    processed: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class ItemNote:
    """One item of a command with the reason it failed or was skipped."""

    item: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ending:
    """How a command stands as recorded: its status, summary (None until it ends) and reason."""

    status: str
    summary: dict[str, Any] | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Progress:
    """A command's progress, as a follower of a daemon shows it."""

    status: str
    processed: int
    total: int | None
    failed: int


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """One line of ``tracker status`` (fields in the order ``--json`` prints them)."""

    command_id: str
    name: str
    status: str
    options: dict[str, Any]
    total: int | None
    processed: int
    updated: int
    skipped: int
    failed: int
    requested_at: str
    started_at: str | None
    finished_at: str | None
    reason: str | None


def canonical(options: dict[str, Any]) -> str:
    """Options as a stable JSON text, so equal commands compare equal."""
    return msgspec.json.encode(options, order="sorted").decode()


def _options(text: str | None) -> dict[str, Any]:
    return msgspec.json.decode(text or "{}")


def next_runnable(conn: sqlite3.Connection) -> Runnable | None:
    """An interrupted (running) command first, so it resumes; then the oldest queued one."""
    row = conn.execute(
        "SELECT command_id, name, options, cancel_requested FROM commands WHERE status IN (?, ?)"
        " ORDER BY status = ? DESC, requested_seq LIMIT 1", (*ACTIVE, Status.RUNNING)).fetchone()
    return None if row is None else Runnable(row[0], row[1], _options(row[2]), bool(row[3]))


def status_of(conn: sqlite3.Connection, command_id: str) -> str | None:
    """The command's status, or None for a command the log does not hold."""
    row = conn.execute("SELECT status FROM commands WHERE command_id = ?", (command_id,)).fetchone()
    return row[0] if row else None


def equal_active(conn: sqlite3.Connection, name: str, options: dict[str, Any]) -> str | None:
    """The id of the oldest queued or running command with this name and equal options."""
    wanted = canonical(options)
    rows = conn.execute("SELECT command_id, options FROM commands WHERE name = ? AND status IN (?, ?)"
                        " ORDER BY requested_seq", (name, *ACTIVE))
    return next((cid for cid, opts in rows if canonical(_options(opts)) == wanted), None)


def cancel_requested_running(conn: sqlite3.Connection) -> list[str]:
    """Ids of running commands someone asked to cancel."""
    return [r[0] for r in conn.execute(
        "SELECT command_id FROM commands WHERE status = ? AND cancel_requested = 1", (Status.RUNNING,))]


def done_items(conn: sqlite3.Connection, command_id: str) -> set[str]:
    """Keys of the items a command has already recorded (a resumed run skips them)."""
    return {r[0] for r in conn.execute("SELECT item FROM command_items WHERE command_id = ?",
                                       (command_id,))}


def counts(conn: sqlite3.Connection, command_id: str) -> Counts:
    """Items processed so far by outcome (all zero for an unknown command)."""
    row = conn.execute("SELECT processed, updated, skipped, failed FROM commands WHERE command_id = ?",
                       (command_id,)).fetchone()
    return Counts(*row) if row else Counts()


def _notes(conn: sqlite3.Connection, command_id: str, outcome: str, limit: int, extra: str = "") -> list[ItemNote]:
    rows = conn.execute(f"SELECT item, reason FROM command_items WHERE command_id = ? AND outcome = ?"
                        f"{extra} ORDER BY seq LIMIT ?", (command_id, outcome, limit))
    return [ItemNote(item, reason) for item, reason in rows]


def failures(conn: sqlite3.Connection, command_id: str, *, limit: int = 1000) -> list[ItemNote]:
    """The command's failed items with their reasons, in the order they were recorded."""
    return _notes(conn, command_id, ItemOutcome.FAILED, limit)


def skips_with_reason(conn: sqlite3.Connection, command_id: str, *, limit: int = 20) -> list[ItemNote]:
    """The command's skipped items that say why, in the order they were recorded."""
    return _notes(conn, command_id, ItemOutcome.SKIPPED, limit, " AND reason > ''")


def ending(conn: sqlite3.Connection, command_id: str) -> Ending | None:
    """The command's status, summary and reason; None for a command the log does not hold."""
    row = conn.execute("SELECT status, summary, reason FROM commands WHERE command_id = ?",
                       (command_id,)).fetchone()
    if row is None:
        return None
    return Ending(row[0], msgspec.json.decode(row[1]) if row[1] else None, row[2])


def progress(conn: sqlite3.Connection, command_id: str) -> Progress | None:
    """The command's status and item counts so far; None for an unknown command."""
    row = conn.execute("SELECT status, processed, total, failed FROM commands WHERE command_id = ?",
                       (command_id,)).fetchone()
    return None if row is None else Progress(*row)


_STATUS_COLUMNS = ", ".join(f.name for f in CommandStatus.__dataclass_fields__.values())


def _status(row: tuple) -> CommandStatus:
    values = list(row)
    values[3] = _options(values[3])
    return CommandStatus(*values)


def status_row(conn: sqlite3.Connection, command_id: str) -> CommandStatus | None:
    """One command as ``tracker status`` shows it, or None for an unknown command."""
    row = conn.execute(f"SELECT {_STATUS_COLUMNS} FROM commands WHERE command_id = ?", (command_id,)).fetchone()
    return None if row is None else _status(row)


def status_rows(conn: sqlite3.Connection, *, recent: int = 10) -> list[CommandStatus]:
    """Queued and running commands, oldest first, then the ``recent`` latest ended ones."""
    sql = f"SELECT {_STATUS_COLUMNS} FROM commands WHERE status"
    active = conn.execute(f"{sql} IN (?, ?) ORDER BY requested_seq", ACTIVE).fetchall()
    ended = conn.execute(f"{sql} NOT IN (?, ?) ORDER BY requested_seq DESC LIMIT ?",
                         (*ACTIVE, recent)).fetchall()
    return [_status(row) for row in [*active, *reversed(ended)]]


def command_names(conn: sqlite3.Connection) -> dict[str, str]:
    """Every command's name by its id (for history lines)."""
    return dict(conn.execute("SELECT command_id, name FROM commands").fetchall())


def command_exists(conn: sqlite3.Connection, command_id: str) -> bool:
    """Whether a command with this id was ever requested."""
    return conn.execute("SELECT 1 FROM commands WHERE command_id = ?", (command_id,)).fetchone() is not None


def queue_state(conn: sqlite3.Connection) -> dict[str, Any]:
    """How many commands wait and run, and when the last one ended (None before any did)."""
    queued, running, last_end = conn.execute(
        "SELECT COUNT(*) FILTER (WHERE status = ?), COUNT(*) FILTER (WHERE status = ?),"
        " MAX(finished_at) FROM commands", ACTIVE).fetchone()
    return {"queue_depth": queued, "running": running, "last_command_end": last_end}


class Requested(NamedTuple):
    """A command's id, when it was requested, and its status now."""

    command_id: str
    requested_at: str
    status: str


def latest_equal(conn: sqlite3.Connection, name: str, options: dict[str, Any]) -> Requested | None:
    """The newest command with this name and equal options, whatever its status, or None."""
    wanted = canonical(options)
    rows = conn.execute("SELECT command_id, requested_at, status, options FROM commands"
                        " WHERE name = ? ORDER BY requested_seq DESC", (name,))
    return next((Requested(cid, at, status) for cid, at, status, opts in rows
                 if canonical(_options(opts)) == wanted), None)
