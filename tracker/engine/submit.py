"""Running a command as the CLI asks: validate, then run in-process, queue, or follow a daemon."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from events.types import CommandRequested
from projections.commands import equal_active
from tracker.commands import COMMANDS
from tracker.commands.base import Item, Outcome, Run
from tracker.config import Settings
from tracker.db import Database
from tracker.engine.wake import poke
from tracker.errors import UsageError


@dataclass(frozen=True)
class Submission:
    """A command as the user gave it, with how they want it run and shown; built whole."""

    name: str
    options: dict[str, Any]
    dry_run: bool = False
    enqueue: bool = False
    verbose: bool = False
    on_items: Callable[[list[tuple[Item, Outcome]]], None] | None = None  # items finished, as runner.OnItems


def new_command_id() -> str:
    """A short random id, unique enough to type and to search the log by."""
    return uuid.uuid4().hex[:12]


def validated(settings: Settings, sub: Submission) -> dict[str, Any]:
    """The command's options, checked before anything is written (UsageError otherwise)."""
    if sub.name not in COMMANDS:
        raise UsageError(f"unknown command {sub.name!r}")
    options = {k: v for k, v in sub.options.items() if v is not None and v != [] and v is not False}
    return COMMANDS[sub.name].validate(options, settings)


class Queued(NamedTuple):
    """The command that will run a submission, and whether this submission queued it."""

    command_id: str
    fresh: bool  # False: an equal command was already queued or running


def enqueue(db: Database, name: str, options: dict[str, Any]) -> Queued:
    """Append the intent unless an equal one is queued or running.

    An idle engine is poked once the intent is committed, so it starts at once.
    """
    with db.atomic():
        existing = equal_active(db.conn, name, options)
        if existing:
            return Queued(existing, fresh=False)
        command_id = new_command_id()
        db.record([CommandRequested(command_id=command_id, name=name, options=options)], command_id)
    poke(db.path)
    return Queued(command_id, fresh=True)


async def run_in_process(settings: Settings, sub: Submission, options: dict[str, Any],
                         *, clients: Any = None) -> dict[str, Any]:
    """Run a command here and now (offline commands, and every dry run); its summary."""
    # The runner and writer (asyncio) load here: queueing and the schedule, shown by
    # `tracker status`, need neither.
    from tracker.engine.runner import run_command
    from tracker.engine.writer import Writer
    cmd = COMMANDS[sub.name]
    command_id = new_command_id()
    with _database_to_run_on(settings, sub) as db_path:
        reader = Database(db_path)
        writer_db = Database(db_path)
        try:
            run = Run(command_id, sub.name, options, settings, reader, dry_run=sub.dry_run,
                      clients=clients)
            async with Writer(writer_db, dry_run=sub.dry_run) as writer:
                await writer.write([CommandRequested(command_id=command_id, name=sub.name,
                                                     options=options)], command_id)
                summary = await run_command(cmd, run, writer, concurrency=settings.concurrency,
                                            on_items=sub.on_items)
            assert summary is not None
            return summary
        finally:
            reader.close()
            writer_db.close()


@contextmanager
def _database_to_run_on(settings: Settings, sub: Submission) -> Iterator[Path]:
    """The home's database; for a dry run in a home that has none yet, an empty one in a
    temporary folder, so that "nothing was written" holds: no new home, no new tracker.db."""
    if not sub.dry_run or settings.db_path.exists():
        yield settings.db_path
        return
    with tempfile.TemporaryDirectory(prefix="tracker-dry-run-") as folder:
        yield Path(folder) / "tracker.db"
