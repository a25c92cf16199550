"""The commands and command_items tables: each intent's status, progress and per-item outcome."""

from __future__ import annotations

from events.types import (CommandCancelled, CommandCancelRequested, CommandCompleted,
                          CommandFailed, CommandRequested, CommandStarted, ItemProcessed)
from projections.fold import Envelope, on
from projections.rows import RowCache

TERMINAL = ("completed", "failed", "cancelled")


def _touch(rows: RowCache, env: Envelope, command_id: str, **changes: object) -> None:
    row = rows.get("commands", (command_id,))
    if row is None:
        return
    row.update(changes, last_seq=env.seq)
    rows.put("commands", (command_id,), row)


@on(CommandRequested)
def requested(rows: RowCache, env: Envelope, e: CommandRequested) -> None:
    """A queued command."""
    rows.put("commands", (e.command_id,), {
        "command_id": e.command_id, "name": e.name, "options": dict(e.options),
        "status": "queued", "requested_seq": env.seq, "requested_at": env.at,
        "processed": 0, "updated": 0, "skipped": 0, "failed": 0, "cancel_requested": 0,
        "last_seq": env.seq})


@on(CommandStarted)
def started(rows: RowCache, env: Envelope, e: CommandStarted) -> None:
    """Running, with the number of items selected (a resume keeps the first start time)."""
    row = rows.get("commands", (e.command_id,))
    started_at = (row or {}).get("started_at") or env.at
    _touch(rows, env, e.command_id, status="running", started_at=started_at, total=e.total)


@on(ItemProcessed)
def item_processed(rows: RowCache, env: Envelope, e: ItemProcessed) -> None:
    """Count one finished item and remember it, so a resumed run skips it."""
    row = rows.get("commands", (e.command_id,))
    if row is None:
        return
    row["processed"] += 1
    if e.outcome in ("updated", "skipped", "failed"):
        row[e.outcome] += 1
    row["last_seq"] = env.seq
    rows.put("commands", (e.command_id,), row)
    rows.put("command_items", (e.command_id, e.item), {
        "command_id": e.command_id, "item": e.item, "outcome": e.outcome,
        "reason": e.reason, "seq": env.seq})


@on(CommandCancelRequested)
def cancel_requested(rows: RowCache, env: Envelope, e: CommandCancelRequested) -> None:
    """Flag the command; a queued one is cancelled at once by the engine or the CLI."""
    _touch(rows, env, e.command_id, cancel_requested=1)


@on(CommandCompleted)
def completed(rows: RowCache, env: Envelope, e: CommandCompleted) -> None:
    """Done, with its summary."""
    _touch(rows, env, e.command_id, status="completed", finished_at=env.at, summary=dict(e.summary))


@on(CommandFailed)
def failed(rows: RowCache, env: Envelope, e: CommandFailed) -> None:
    """Stopped as a whole, with its reason."""
    _touch(rows, env, e.command_id, status="failed", finished_at=env.at, reason=e.reason,
           summary=dict(e.summary))


@on(CommandCancelled)
def cancelled(rows: RowCache, env: Envelope, e: CommandCancelled) -> None:
    """Cancelled before it finished."""
    _touch(rows, env, e.command_id, status="cancelled", finished_at=env.at, summary=dict(e.summary))
