"""The audit side: history, verify, replay (live or into a file), status and cancel."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from events.types import CommandCancelled, CommandCancelRequested
from projections.tables import TABLES
from tracker.db import Database, decode_record
from tracker.errors import StoreError, TrackerError, UsageError

MAX_DIFFERENCES = 50


def history(db: Database, *, command_id: str | None = None, dvd_id: int | None = None,
            types: list[str] | None = None, since: str | None = None) -> Iterator[dict[str, Any]]:
    """Stream the log, filtered, as dicts with seq, type, at, command_id, subject and data."""
    clauses, params = [], []
    if command_id:
        clauses.append("command_id = ?")
        params.append(command_id)
    if dvd_id is not None:
        clauses.append("subject = ?")
        params.append(f"dvd:{dvd_id}")
    if types:
        clauses.append(f"type IN ({', '.join('?' * len(types))})")
        params.extend(types)
    if since:
        clauses.append("at >= ?")
        params.append(since)
    for rec in db.store.read(where=" AND ".join(clauses), params=tuple(params)):
        decode_record(rec)  # refuse rows this version cannot read, rather than print them raw
        yield {"seq": rec.seq, "type": rec.type, "at": rec.at, "command_id": rec.command_id,
               "subject": rec.subject, "data": msgspec.json.decode(rec.data)}


def replay_into_file(db: Database, target: Path, *, until_at: str | None) -> int:
    """Rebuild the read tables as of a moment into a new file, written then renamed into place."""
    target = target.expanduser().resolve()
    if target == db.path.resolve():
        raise UsageError("--into: must not be the live database")
    if not target.parent.is_dir():
        raise UsageError(f"--into: folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            count = db.replay(until_at=until_at, target=conn)
        finally:
            conn.close()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def _table_rows(conn: sqlite3.Connection, name: str) -> dict[tuple, tuple]:
    t = TABLES[name]
    key_idx = [t.columns.index(k) for k in t.key]
    rows = conn.execute(f"SELECT {', '.join(t.columns)} FROM {name}").fetchall()
    return {tuple(r[i] for i in key_idx): r for r in rows}


def verify(db: Database) -> list[str]:
    """Differences: a broken log chain, or read tables that differ from a fresh replay."""
    problems = list(db.store.verify_chain())
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
                if a is None or b is None:
                    where = "missing from the live table" if a is None else "not in a fresh replay"
                    problems.append(f"{name} {dict(zip(t.key, key, strict=True))}: {where}")
                else:
                    cols = [c for c, x, y in zip(t.columns, a, b, strict=True) if x != y]
                    where = f"{', '.join(cols)} differ from a fresh replay"
                    problems.append(f"{name} {dict(zip(t.key, key, strict=True))}: {where}")
                if len(problems) >= MAX_DIFFERENCES:
                    problems.append("... (more differences not shown)")
                    return problems
    finally:
        fresh.close()
    return problems


def status_rows(db: Database, *, recent: int = 10) -> list[dict[str, Any]]:
    """Queued and running commands, then the most recent finished ones."""
    cols = ("command_id", "name", "status", "options", "total", "processed", "updated",
            "skipped", "failed", "requested_at", "started_at", "finished_at", "reason")
    sql = f"SELECT {', '.join(cols)} FROM commands"
    active = db.conn.execute(sql + " WHERE status IN ('queued', 'running') ORDER BY requested_seq").fetchall()
    done = db.conn.execute(sql + " WHERE status NOT IN ('queued', 'running')"
                           " ORDER BY requested_seq DESC LIMIT ?", (recent,)).fetchall()
    out = []
    for row in [*active, *reversed(done)]:
        item = dict(zip(cols, row, strict=True))
        item["options"] = msgspec.json.decode(item["options"] or "{}")
        out.append(item)
    return out


def cancel(db: Database, command_id: str) -> str:
    """Ask a queued or running command to stop; a queued one is cancelled at once. Its new status."""
    with db.atomic():
        row = db.conn.execute("SELECT status FROM commands WHERE command_id = ?", (command_id,)).fetchone()
        if row is None:
            raise UsageError(f"cancel: no command {command_id!r} (see tracker status)")
        if row[0] not in ("queued", "running"):
            raise TrackerError(f"cancel: command {command_id} is already {row[0]}")
        events: list[Any] = [CommandCancelRequested(command_id=command_id)]
        if row[0] == "queued":
            events.append(CommandCancelled(command_id=command_id))
        db.record(events, command_id)
    return "cancelled" if row[0] == "queued" else "cancelling"
