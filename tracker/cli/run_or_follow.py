"""A command run from the CLI: queued, then run here as the engine or followed in a daemon."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import IO, Any

import msgspec

from events.types import ItemProcessed
from projections import commands as command_table
from projections import dvds
from projections.commands import ACTIVE, TERMINAL, Status
from tracker.cli.output import Progress, item_line, print_line_or_quiet
from tracker.commands.base import Item, Outcome
from tracker.config import Settings
from tracker.db import Database
from tracker.engine.engine import run_engine
from tracker.engine.submit import Submission, enqueue
from tracker.engine_lock import EngineLock
from tracker.errors import EngineBusy, Interrupted, TrackerError

FOLLOW_POLL_S = 0.25
RESUME_HINT = "it resumes on the next run (or: tracker daemon --until-idle)"


def submit(settings: Settings, sub: Submission, options: dict[str, Any], *,
           progress: Progress, as_json: bool) -> dict[str, Any] | None:
    """Queue the intent; with --enqueue print its id, else run or follow it to its summary."""
    with Database(settings.db_path) as db:
        command_id, fresh = enqueue(db, sub.name, options)
    if sub.enqueue:
        note = Status.QUEUED if fresh else "already queued or running"
        print(msgspec.json.encode({"command_id": command_id, "status": note}).decode()
              if as_json else f"{command_id} {note}")
        return None
    return asyncio.run(_run_or_follow(settings, sub, command_id, progress, as_json=as_json))


def _say(text: str) -> None:
    """A line for the person at the terminal, on stderr (stdout may be --json)."""
    print(text, file=sys.stderr, flush=True)


async def _run_or_follow(settings: Settings, sub: Submission, command_id: str,
                         progress: Progress, *, as_json: bool = False) -> dict[str, Any]:
    """Be the engine if no other is; else follow the daemon's progress on this command."""
    def on_items(cid: str, done: list[tuple[Item, Outcome]]) -> None:
        if cid == command_id and sub.on_items:
            sub.on_items(done)

    def on_total(cid: str, total: int | None, done: int) -> None:
        if cid == command_id:
            progress.set(done, total)

    def announce(text: str, **_fields: Any) -> None:
        progress.close()
        _say(text)
    while True:
        try:
            sig = await run_engine(settings, until=command_id, on_items=on_items, on_total=on_total,
                                   announce=announce)
            return _outcome(settings, command_id, stopped_by=sig)
        except EngineBusy as exc:
            _say(f"{exc}: following command {command_id} (Ctrl-C stops following; "
                 "the command goes on)")
        # with --json, stdout holds the summary alone: item lines go to stderr
        items_out = (sys.stderr if as_json else sys.stdout) if sub.verbose else None
        ended, sig = await follow_until_signal(settings, command_id, progress, items_out=items_out)
        if sig is not None:
            raise Interrupted(f"stopped following; the daemon goes on with command {command_id}"
                              " (see tracker status)", signum=sig)
        if ended:
            return _outcome(settings, command_id)
        _say("the daemon stopped before the command ended: running it here")


def _outcome(settings: Settings, command_id: str, *, stopped_by: int | None = None) -> dict[str, Any]:
    """The command's summary and status as recorded, or why it did not finish."""
    with Database(settings.db_path) as db:
        end = command_table.ending(db.conn, command_id)
        now = command_table.progress(db.conn, command_id)
    assert end is not None and now is not None  # the command was queued before it ran
    if end.status in ACTIVE:
        at = f" at {now.processed}/{now.total}" if now.total else ""
        message = f"interrupted: command {command_id} stopped{at}; {RESUME_HINT}"
        if stopped_by is not None:
            raise Interrupted(message, signum=stopped_by)
        raise TrackerError(message)
    result = end.summary if end.summary is not None else {"command_id": command_id}
    result["status"] = end.status
    if end.status == Status.FAILED:
        raise TrackerError(f"command {command_id} failed: {end.reason}")
    return result


async def follow_until_signal(settings: Settings, command_id: str, progress: Progress, *,
                              items_out: IO[str] | None = None) -> tuple[bool, int | None]:
    """Follow until the command ends, the daemon goes away, or SIGINT/SIGTERM: (ended, signal)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(follow(settings, command_id, progress, items_out=items_out))
    got: list[int] = []

    def on_signal(sig: int) -> None:
        got.append(sig)
        task.cancel()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await task, None
    except asyncio.CancelledError:
        if not got:
            raise
        progress.close()
        return False, got[0]
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def follow(settings: Settings, command_id: str, progress: Progress, *,
                 items_out: IO[str] | None = None) -> bool:
    """Watch a daemon run the command until it ends (True) or the daemon goes away (False);
    with ``items_out``, print each item's line there as the daemon records it."""
    last_seq = 0
    lock = EngineLock(settings.db_path)
    with Database(settings.db_path) as db:
        while True:
            now = command_table.progress(db.conn, command_id)
            assert now is not None  # the command was queued before it was followed
            progress.set(now.processed, now.total, now.failed)
            if items_out is not None:
                last_seq = _print_items(db, command_id, last_seq, progress, items_out)
            if now.status in TERMINAL:
                break
            if not lock.held_elsewhere():
                progress.close()
                return False
            await asyncio.sleep(FOLLOW_POLL_S)
    progress.close()
    return True


def _dvd_of(db: Database, item: str) -> Any:
    """The DVD row an item ``dvd:N`` is about (its line then names it by title), else None."""
    kind, _, number = item.partition(":")
    return dvds.by_id(db.conn, int(number)) if kind == "dvd" and number.isdigit() else None


def _print_items(db: Database, command_id: str, after: int, progress: Progress, out: IO[str]) -> int:
    """Print the items the daemon finished since ``after``; the last seq seen."""
    for rec, e in db.events(command_id=command_id, types=(ItemProcessed.__name__,), after_seq=after):
        assert isinstance(e, ItemProcessed)
        progress.close()
        outcome = Outcome(e.outcome, reason=e.reason, changes=e.changes)
        print_line_or_quiet(item_line(Item(e.item, _dvd_of(db, e.item)), outcome), out)
        after = rec.seq
    return after
