"""``tracker backup FILE``: a consistent, checked copy of the database, taken while a daemon writes.

SQLite's online backup copies the database as of one read transaction (the WAL lets the daemon
go on writing meanwhile). The copy is written under a temporary name beside FILE, made a single
self-contained file, checked (SQLite's integrity check and the log's hash chain), flushed to disk,
and only then renamed to FILE. Restoring is copying FILE back as ``tracker.db`` (engine stopped).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from events.read_only import connect_read_only
from events.store import EventStore
from tracker.db import backup_database
from tracker.errors import StoreError, UsageError


@dataclass(frozen=True)
class BackupReport:
    """What was written and what the check found."""

    path: Path
    events: int
    last_seq: int
    size_bytes: int


def backup(db_path: Path, target: Path) -> BackupReport:
    """Copy the database at ``db_path`` to ``target`` (a folder gets ``tracker.db`` inside)."""
    target = _target_file(db_path, target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        backup_database(db_path, tmp)
        events, last_seq = check_copy(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupReport(target, events, last_seq, target.stat().st_size)


def _target_file(db_path: Path, target: Path) -> Path:
    """FILE as given, or FOLDER/tracker.db; never the live database; its folder must exist."""
    target = target.expanduser()
    if target.is_dir():
        target = target / "tracker.db"
    if not db_path.is_file():
        raise UsageError(f"no tracker database at {db_path} (nothing to back up)")
    if target.resolve() == db_path.resolve():
        raise UsageError(f"backup: {target} is the live database; give another file")
    if not target.parent.is_dir():
        raise UsageError(f"backup: folder {target.parent} does not exist")
    return target


def _fsync(path: Path) -> None:
    """Make a file's (or a folder's entries') contents durable before saying done."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_copy(path: Path) -> tuple[int, int]:
    """Check a copy (SQLite's integrity check, the log's hash chain); (events, last seq)."""
    conn = connect_read_only(path)
    try:
        store = EventStore(conn)
        problems = store.integrity_problems() or store.verify_chain()
        if problems:
            raise StoreError(f"the copy failed its check: {problems[0]}")
        last_seq = store.head()[0]
        return store.count(), last_seq
    finally:
        conn.close()
