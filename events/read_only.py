"""Opening the event log read-only, for a home whose folder or file cannot be written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from events.connection import refuse_foreign
from events.errors import NotATrackerDatabase, StoreError


def connect_read_only(path: Path | str) -> sqlite3.Connection:
    """A connection that never writes, not even the WAL's -shm file: for a read-only home.

    ``mode=ro`` reads a WAL database whose -shm file exists (the daemon's, or one left behind);
    without it SQLite cannot open read-only, and ``immutable=1`` does, which is right only when
    no -wal file holds changes (immutable ignores it): then the only way is a writable copy.
    """
    path = Path(path)
    base = "file:" + quote(str(path.resolve()))
    try:
        conn = _read_only_conn(base + "?mode=ro")
    except sqlite3.OperationalError as exc:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"{path}: cannot be read in place: it is read-only and {wal.name} holds changes "
                f"that need a writable folder; copy the home somewhere writable") from exc
        try:
            conn = _read_only_conn(base + "?immutable=1")
        except sqlite3.DatabaseError as exc2:
            raise NotATrackerDatabase(f"{path}: not a tracker database ({exc2})") from exc2
    except sqlite3.DatabaseError as exc:
        raise NotATrackerDatabase(f"{path}: not a tracker database ({exc})") from exc
    try:
        refuse_foreign(conn)
    except NotATrackerDatabase as exc:
        conn.close()
        raise NotATrackerDatabase(f"{path}: {exc}") from exc
    return conn


def _read_only_conn(uri: str) -> sqlite3.Connection:
    """Open ``uri`` and read the schema once, so a file that cannot be opened fails here."""
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except BaseException:
        conn.close()
        raise
    return conn
