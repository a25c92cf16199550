"""Connecting to the SQLite file: WAL, a busy timeout, refusing other applications' files, and
waiting (saying so) for another process's write lock."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from events.errors import NotATrackerDatabase, StoreError

APPLICATION_ID = 0x54524B52  # "TRKR": marks a SQLite file as a tracker database
WAL_AUTOCHECKPOINT_PAGES = 10_000  # 40 MB of 4 KB pages
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
LOCK_WAIT_MAX_S = 900.0  # how long a writer waits behind another process's write lock in all


def connect(path: Path | str, *, busy_timeout_s: float = 30.0) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL and a busy timeout."""
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:  # no connection to close: the file cannot even be opened
        raise StoreError(f"{path}: cannot open the database ({_why_unopenable(Path(path), exc)})") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        refuse_foreign(conn)  # before WAL: switching the journal mode rewrites the file header
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # A writer checkpoints itself only past 40 MB of log (SQLite's 4 MB cost ~2.5 us per
        # appended event): a background WAL checkpointer (events/wal_checkpoints.py) copies most of it
        # meanwhile. A log that grew past the limit below (a long reader) shrinks back after.
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
        # Debian's SQLite zeroes every page freed (SECURE_DELETE): a replay's DROP of the read
        # tables wrote 54 MB of zeros to the log for 0.15 s. Nothing they held is secret from the
        # file: every value is in the log, which nothing deletes.
        conn.execute("PRAGMA secure_delete = OFF")
    except NotATrackerDatabase as exc:
        conn.close()
        raise NotATrackerDatabase(f"{path}: {exc}") from exc
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(f"{path}: the database is busy ({exc}); try again") from exc
        raise StoreError(f"{path}: cannot open the database ({_why_unopenable(Path(path), exc)})") from exc
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise NotATrackerDatabase(f"{path}: not a tracker database ({exc})") from exc
    return conn


def _why_unopenable(path: Path, exc: BaseException) -> str:
    """A plain reason a database file cannot be opened: the folder or file's permissions, say."""
    folder = path.parent
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "the file is not readable and writable by this user"
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable by this user"
    return str(exc)


def refuse_foreign(conn: sqlite3.Connection) -> None:
    """Raise NotATrackerDatabase for a SQLite file of another application (reads only)."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    has_tables = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' LIMIT 1").fetchone()
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and has_tables):
        raise NotATrackerDatabase("not a tracker database (a SQLite file of another application)")


def take_write_lock(conn: sqlite3.Connection, *, wait_ms: int) -> None:
    """In a deferred transaction, take the write lock now and change nothing (a statement that
    could write takes it, even when it matches no row); waiting at most ``wait_ms`` for another
    writer, then sqlite3.OperationalError ("database is locked")."""
    before = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        conn.execute("DELETE FROM meta WHERE 0")
    finally:
        conn.execute(f"PRAGMA busy_timeout = {before}")


def begin_waiting(conn: sqlite3.Connection, sql: str) -> None:
    """Begin a transaction with ``sql``, waiting (and saying so) while another process holds the
    write lock.

    A live replay or a long import holds the write lock for as long as it runs; a writer
    behind it waits rather than failing after one busy timeout, up to LOCK_WAIT_MAX_S.
    """
    waited_s = 0.0
    while True:
        started = time.monotonic()
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            waited_s += max(time.monotonic() - started, 0.1)
            if waited_s >= LOCK_WAIT_MAX_S:
                raise StoreError(
                    f"the database stayed busy for {waited_s:.0f} s (another tracker process "
                    "was writing all along); nothing was written: try again") from exc
            time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
            busy_notice(waited_s)


def _say_busy(waited_s: float) -> None:
    """Tell the person at the terminal why nothing moves (once per whole minute of waiting)."""
    if waited_s < 60 or int(waited_s) % 60 < 30:
        print(f"waiting for another tracker process that is writing to the database (a replay, an "
              f"import?): {waited_s:.0f} s so far", file=sys.stderr, flush=True)


busy_notice: Callable[[float], None] = _say_busy  # replaceable (the daemon may log instead)


def file_of(conn: sqlite3.Connection) -> str:
    """The file of ``conn``'s main database; "" for one in memory (or a temporary one)."""
    return conn.execute("PRAGMA database_list").fetchone()[2]
