"""The audit side: history, verify, replay (live or into a file), status and cancel."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec

from events.types import CommandCancelled, CommandCancelRequested
from projections import commands as command_table
from projections.commands import ACTIVE, Status
from projections.tables import TABLES, all_rows
from tracker import checkpoints
from tracker.checkpoints import Checkpoint
from tracker.db import Database, decode_record
from tracker.errors import StoreError, TrackerError, UsageError
from tracker.textfmt import value_text
from tracker.values import quote

MAX_DIFFERENCES = 50


def history(db: Database, *, command_id: str | None = None, dvd_id: int | None = None,
            types: list[str] | None = None, since: str | None = None) -> Iterator[dict[str, Any]]:
    """Stream the log, filtered, as dicts with seq, type, at, command_id, subject and data."""
    records = db.store.read(command_id=command_id or None, types=types or (), since_at=since or None,
                            subject=None if dvd_id is None else f"dvd:{dvd_id}")
    for rec in records:
        decode_record(rec)  # refuse rows this version cannot read, rather than print them raw
        yield {"seq": rec.seq, "type": rec.type, "at": rec.at, "command_id": rec.command_id,
               "subject": rec.subject, "data": msgspec.json.decode(rec.data)}


def replay_into_file(db: Database, target: Path, *, until_at: str | None,
                     force: bool = False) -> tuple[int, Checkpoint | None]:
    """The read tables as of a moment into a new file, written then renamed into place.

    The seq reached, and the checkpoint the rebuild started from (None: from the first event).
    An existing file is replaced only with ``force`` (it may be another home's log), and the
    live database never, not even through another name for it.
    """
    target = _replay_target(db, target, force=force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"--into: cannot write in {target.parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            if until_at is None:
                reached, start = db.store.count(), None
                db.replay(until_seq=reached, target=conn)
            else:
                reached, start = checkpoints.time_travel(db, conn, until_at)
        finally:
            conn.close()
        os.replace(tmp, target)
    except OSError as exc:
        raise TrackerError(f"--into: cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return reached, start


def _replay_target(db: Database, target: Path, *, force: bool) -> Path:
    """The checked absolute path to replay into; UsageError naming what is wrong."""
    try:
        target = target.expanduser().absolute()
    except RuntimeError as exc:  # "~nouser/x": no such user's home
        raise UsageError(f"--into: cannot expand {quote(str(target))}: no such user's home") from exc
    live = db.path.absolute()
    if target == live or (target.exists() and _same_file(target, live)):
        raise UsageError("--into: must not be the live database")
    if target.is_dir():
        raise UsageError(f"--into: {target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"--into: folder {target.parent} does not exist")
    if target.exists() or target.is_symlink():
        if not target.is_file():
            raise UsageError(f"--into: {target} is not a regular file")
        if not force:
            raise UsageError(f"--into: {target} already exists; give a new file name, or "
                             "--force to replace it")
    return target


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (a hard or symbolic link to the live database, say)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _table_rows(conn: sqlite3.Connection, name: str) -> dict[tuple, tuple]:
    key_idx = [TABLES[name].columns.index(k) for k in TABLES[name].key]
    return {tuple(r[i] for i in key_idx): r for r in all_rows(conn, name)}


def verify(db: Database) -> list[str]:
    """Differences: a broken log chain, or read tables that differ from a fresh replay."""
    problems = list(db.store.verify_chain())
    left_out = 0
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    try:
        try:
            db.replay(target=fresh)
        except StoreError as exc:  # a row that no longer decodes: list it beside the chain's problems
            return [*problems, f"replay failed: {exc}"]
        for name, t in TABLES.items():
            live, replayed = _table_rows(db.conn, name), _table_rows(fresh, name)
            for key in sorted(live.keys() | replayed.keys(), key=repr):
                a, b = live.get(key), replayed.get(key)
                if a == b:
                    continue
                found = _row_differences(name, t.key, key, t.columns, a, b)
                shown = found[: max(0, MAX_DIFFERENCES - len(problems))]
                problems += shown
                left_out += len(found) - len(shown)
    finally:
        fresh.close()
    cut = [f"... and {left_out} more"] if left_out else []
    return problems + cut + checkpoints.problems(db)


def _row_differences(table: str, key_names: tuple[str, ...], key: tuple, columns: tuple[str, ...],
                     live: tuple | None, replayed: tuple | None) -> list[str]:
    """How one row of the live table differs from a fresh replay: each column with both values."""
    row = f"{table} " + ", ".join(f"{k} {v}" for k, v in zip(key_names, key, strict=True))
    if live is None or replayed is None:
        return [f"{row}: " + ("missing from the live table" if live is None else "not in a fresh replay")]
    return [f"{row}: {c} is {value_text(x)}, a fresh replay gives {value_text(y)}"
            for c, x, y in zip(columns, live, replayed, strict=True) if x != y]


def status_rows(db: Database, *, recent: int = 10) -> list[dict[str, Any]]:
    """Queued and running commands, then the most recent finished ones, as ``--json`` prints them."""
    return [asdict(row) for row in command_table.status_rows(db.conn, recent=recent)]


def cancel(db: Database, command_id: str) -> str:
    """Ask a queued or running command to stop; a queued one is cancelled at once. Its new status."""
    with db.atomic():
        status = command_table.status_of(db.conn, command_id)
        if status is None:
            raise UsageError(f"cancel: no command {command_id!r} (see tracker status)")
        if status not in ACTIVE:
            raise TrackerError(f"cancel: command {command_id} is already {status}")
        events: list[Any] = [CommandCancelRequested(command_id=command_id)]
        if status == Status.QUEUED:
            events.append(CommandCancelled(command_id=command_id))
        db.record(events, command_id)
    return Status.CANCELLED if status == Status.QUEUED else "cancelling"
