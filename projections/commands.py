"""The commands and command_items tables: each intent's status, progress and per-item outcome."""

from __future__ import annotations

from typing import Any

from events.types import (
    CommandCancelled,
    CommandCancelRequested,
    CommandCompleted,
    CommandFailed,
    CommandRequested,
    CommandStarted,
    ItemProcessed,
)
from projections.fold import Envelope, on
from projections.rows import RowCache, to_json
from projections.tables import TABLES

TERMINAL = ("completed", "failed", "cancelled")
Command, CommandItem = TABLES["commands"].row, TABLES["command_items"].row


def _touch(rows: RowCache, env: Envelope, command_id: str) -> Any:
    """The command's row, marked as changed by this event; None for an unknown command."""
    row = rows.get("commands", (command_id,))
    if row is not None:
        row.last_seq = env.seq
        rows.put("commands", (command_id,), row)
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
        command_id=e.command_id, name=e.name, options=to_json(e.options), status="queued",
        requested_seq=env.seq, requested_at=env.at, processed=0, updated=0, skipped=0, failed=0,
        cancel_requested=0, last_seq=env.seq))


@on(CommandStarted)
def started(rows: RowCache, env: Envelope, e: CommandStarted) -> None:
    """Running, with the number of items selected (a resume keeps the first start time)."""
    if (row := _touch(rows, env, e.command_id)) is not None:
        row.status, row.started_at, row.total = "running", row.started_at or env.at, e.total


@on(ItemProcessed)
def item_processed(rows: RowCache, env: Envelope, e: ItemProcessed) -> None:
    """Count one finished item and remember it, so a resumed run skips it."""
    row = _touch(rows, env, e.command_id)
    if row is None:
        return
    row.processed += 1
    outcome = e.outcome
    if outcome == "updated":
        row.updated += 1
    elif outcome == "skipped":
        row.skipped += 1
    elif outcome == "failed":
        row.failed += 1
    rows.put("command_items", (e.command_id, e.item),
             CommandItem(e.command_id, e.item, outcome, e.reason, env.seq))


@on(CommandCancelRequested)
def cancel_requested(rows: RowCache, env: Envelope, e: CommandCancelRequested) -> None:
    """Flag the command; a queued one is cancelled at once by the engine or the CLI."""
    if (row := _touch(rows, env, e.command_id)) is not None:
        row.cancel_requested = 1


@on(CommandCompleted)
def completed(rows: RowCache, env: Envelope, e: CommandCompleted) -> None:
    """Done, with its summary."""
    _finish(rows, env, e.command_id, "completed", e.summary)


@on(CommandFailed)
def failed(rows: RowCache, env: Envelope, e: CommandFailed) -> None:
    """Stopped as a whole, with its reason."""
    if (row := _finish(rows, env, e.command_id, "failed", e.summary)) is not None:
        row.reason = e.reason


@on(CommandCancelled)
def cancelled(rows: RowCache, env: Envelope, e: CommandCancelled) -> None:
    """Cancelled before it finished."""
    _finish(rows, env, e.command_id, "cancelled", e.summary)


# --- named queries ------------------------------------------------------------------------------

def command_names(conn: Any) -> dict[str, str]:
    """Every command's name by its id (for history lines)."""
    return dict(conn.execute("SELECT command_id, name FROM commands").fetchall())


def command_exists(conn: Any, command_id: str) -> bool:
    """Whether a command with this id was ever requested."""
    return conn.execute("SELECT 1 FROM commands WHERE command_id = ?", (command_id,)).fetchone() is not None


def queue_state(conn: Any) -> dict[str, Any]:
    """How many commands wait and run, and when the last one ended (None before any did)."""
    queued, running, last_end = conn.execute(
        "SELECT COUNT(*) FILTER (WHERE status = 'queued'), COUNT(*) FILTER (WHERE status = 'running'),"
        " MAX(finished_at) FROM commands").fetchone()
    return {"queue_depth": queued, "running": running, "last_command_end": last_end}
