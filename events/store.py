"""The append-only SQLite event log: gapless ``seq``, a hash chain, triggers that refuse edits.

The store knows nothing of the domain: it stores (type, data, command_id, subject, v) rows and
streams them back. Projections and their tables share the same database file and transaction.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from events.errors import NotATrackerDatabase, StoreError

APPLICATION_ID = 0x54524B52  # "TRKR": marks a SQLite file as a tracker database
GENESIS_HASH = "0" * 64
READ_BATCH = 2000
LOCK_WAIT_MAX_S = 900.0  # how long a writer waits behind another process's write lock in all

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    command_id TEXT,
    subject TEXT,
    v INTEGER NOT NULL DEFAULT 1,
    data TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_command ON events(command_id) WHERE command_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_subject ON events(subject) WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE INDEX IF NOT EXISTS events_type ON events(type);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
"""


_SCHEMA_OBJECTS = frozenset(re.findall(r"IF NOT EXISTS (\w+)", _SCHEMA))


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A row to append; ``data`` is the JSON text of the event."""

    type: str
    data: str | bytes  # JSON text; bytes are decoded on append, so the column stays TEXT
    command_id: str | None = None
    subject: str | None = None
    v: int = 1


class StoredRecord(NamedTuple):
    """A row as stored in the log (a tuple: replay makes millions, and tuples are cheapest)."""

    seq: int
    type: str
    at: str
    command_id: str | None
    subject: str | None
    v: int
    data: str


# StoredRecord._make is a Python function; tuple.__new__ builds the same record in C.
_stored = partial(tuple.__new__, StoredRecord)


def utc_now() -> str:
    """Now as UTC ISO 8601 with microseconds and a Z, the format of the ``at`` column."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev: str, seq: int, type_: str, at: str, command_id: str | None,
               subject: str | None, v: int, data: str | bytes) -> str:
    """The row's hash: it covers the previous row's hash and every column of this row."""
    # command_id and subject are covered too: editing them would misattribute a change.
    head = f"{prev}|{seq}|{type_}|{at}|{command_id or ''}|{subject or ''}|{v}|"
    if isinstance(data, bytes):
        return hashlib.sha256(head.encode() + data).hexdigest()
    return hashlib.sha256((head + data).encode()).hexdigest()  # one encode: the append's hot path


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


def _say_busy(waited_s: float) -> None:
    """Tell the person at the terminal why nothing moves (once per whole minute of waiting)."""
    if waited_s < 60 or int(waited_s) % 60 < 30:
        print(f"waiting for another tracker process that is writing to the database (a replay, an "
              f"import?): {waited_s:.0f} s so far", file=sys.stderr, flush=True)


busy_notice: Callable[[float], None] = _say_busy  # replaceable (the daemon may log instead)


class EventStore:
    """Appends to and streams from the ``events`` table of one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._depth = 0
        self._last: tuple[int, str] | None = None  # (seq, hash) of the newest row, cached

    def create_schema(self) -> None:
        """Create the log (idempotent) and mark the file as tracker's; refuse foreign files."""
        try:
            if self.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
                present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
                if present >= _SCHEMA_OBJECTS:
                    return  # nothing to create: a reader must not wait for the write lock
            refuse_foreign(self.conn)
        except sqlite3.DatabaseError as exc:
            raise NotATrackerDatabase(f"not a tracker database ({exc})") from exc
        with self.atomic():
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    @contextmanager
    def atomic(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction, or a savepoint inside one; rolled back on error."""
        if self._depth == 0:
            self._begin("BEGIN IMMEDIATE" if immediate else "BEGIN")
            self._last = None  # another process may have appended since our last transaction
            name = None
        else:
            name = f"sp{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self.conn
        except BaseException:
            self._depth -= 1
            self._last = None
            # After a failed write (a full disk, say) SQLite may have rolled back already;
            # a second ROLLBACK would raise and hide the real error.
            if not self.conn.in_transaction:
                pass
            elif name is None:
                self.conn.execute("ROLLBACK")
            else:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
            raise
        self._depth -= 1
        if name is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute(f"RELEASE {name}")

    def _begin(self, sql: str) -> None:
        """Begin a transaction, waiting (and saying so) while another process holds the lock.

        A live replay or a long import holds the write lock for as long as it runs; a writer
        behind it waits rather than failing after one busy timeout, up to LOCK_WAIT_MAX_S.
        """
        waited_s = 0.0
        while True:
            started = time.monotonic()
            try:
                self.conn.execute(sql)
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

    @contextmanager
    def rolled_back(self) -> Iterator[sqlite3.Connection]:
        """A transaction that is always rolled back: the dry run."""
        class _Rollback(Exception):
            pass
        try:
            with self.atomic():
                yield self.conn
                raise _Rollback
        except _Rollback:
            pass

    @property
    def in_transaction(self) -> bool:
        """Whether an atomic() block is open."""
        return self._depth > 0

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest row, or (0, genesis)."""
        if self._last is None or not self.in_transaction:
            row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            self._last = (row[0], row[1]) if row else (0, GENESIS_HASH)
        return self._last

    def append(self, records: Iterable[NewRecord], *, at: str | None = None) -> list[tuple[int, str]]:
        """Append rows inside the current transaction (one is opened if none); returns (seq, at)."""
        if not self.in_transaction:
            with self.atomic():
                return self.append(records, at=at)
        at = at or utc_now()
        seq, prev = self.head()
        rows = []
        for rec in records:
            seq += 1
            # Stored as TEXT: a BLOB is not JSON to sqlite3's json functions, and the log stays readable.
            data = rec.data.decode() if isinstance(rec.data, bytes) else rec.data
            prev = chain_hash(prev, seq, rec.type, at, rec.command_id, rec.subject, rec.v, rec.data)
            rows.append((seq, rec.type, at, rec.command_id, rec.subject, rec.v, data, prev))
        try:
            self.conn.executemany(
                "INSERT INTO events (seq, type, at, command_id, subject, v, data, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self._last = None
            raise StoreError(f"cannot append to the event log: {exc}") from exc
        self._last = (seq, prev)
        return [(r[0], at) for r in rows]

    def first_at(self) -> str | None:
        """When the log began: the ``at`` of its first row, None while it is empty."""
        row = self.conn.execute("SELECT at FROM events ORDER BY seq LIMIT 1").fetchone()
        return row[0] if row else None

    def get_meta(self, key: str) -> str | None:
        """A value of the store's own ``meta`` table (versions, not domain data)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a ``meta`` value."""
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def count(self) -> int:
        """How many rows the log holds."""
        return self.head()[0]

    def read(self, *, after_seq: int = 0, until_seq: int | None = None, until_at: str | None = None,
             since_at: str | None = None, command_id: str | None = None,
             subject: str | None = None, types: Sequence[str] = (),
             where: str = "", params: tuple = (), batch: int = READ_BATCH) -> Iterator[StoredRecord]:
        """Stream rows in order, a batch at a time (never the whole log in memory), filtered."""
        sql, args = _read_query(until_seq=until_seq, until_at=until_at, since_at=since_at,
                                command_id=command_id, subject=subject, types=types, where=where)
        for rows in _batches(self.conn, sql, after_seq, (*args, *params), batch):
            yield from map(_stored, rows)

    def read_plan(self, **filters: Any) -> list[str]:
        """How SQLite runs ``read`` with these filters (EXPLAIN QUERY PLAN): index or scan."""
        sql, args = _read_query(**filters)
        return [r[3] for r in self.conn.execute(f"EXPLAIN QUERY PLAN {sql}", (0, *args, READ_BATCH))]


    def count_of(self, command_id: str, type_: str) -> int:
        """How many events of a type a command has appended."""
        return self.conn.execute("SELECT COUNT(*) FROM events WHERE command_id = ? AND type = ?",
                                 (command_id, type_)).fetchone()[0]

    def hash_at(self, seq: int) -> str | None:
        """The chain hash of row ``seq`` (genesis for 0), or None if there is no such row."""
        if seq == 0:
            return GENESIS_HASH
        row = self.conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def seq_at(self, at: str) -> int:
        """The newest seq written at or before ``at`` (0 if none), by the time index."""
        row = self.conn.execute("SELECT seq FROM events WHERE at <= ? ORDER BY at DESC, seq DESC LIMIT 1",
                                (at,)).fetchone()
        return row[0] if row else 0

    def last_types(self, command_id: str, limit: int) -> list[str]:
        """The types of a command's newest ``limit`` rows, newest first (its index, no scan)."""
        return [r[0] for r in self.conn.execute(
            "SELECT type FROM events WHERE command_id = ? ORDER BY seq DESC LIMIT ?",
            (command_id, limit))]

    def types(self) -> list[str]:
        """The distinct event types in the log, by a skip scan of the type index (cheap)."""
        return [r[0] for r in self.conn.execute(
            "WITH RECURSIVE t(name) AS (SELECT MIN(type) FROM events UNION ALL"
            " SELECT (SELECT MIN(type) FROM events WHERE type > t.name) FROM t WHERE t.name IS NOT NULL)"
            " SELECT name FROM t WHERE name IS NOT NULL")]

    def integrity_problems(self) -> list[str]:
        """What SQLite's own integrity check finds wrong with the file (nothing: [])."""
        rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows

    def verify_chain(self) -> list[str]:
        """Problems with the log: a gap in seq, a broken hash link, or times going backwards."""
        problems: list[str] = []
        prev_hash, prev_seq, prev_at = GENESIS_HASH, 0, ""
        sql = ("SELECT seq, type, at, command_id, subject, v, data, hash FROM events"
               " WHERE seq > ? ORDER BY seq LIMIT ?")
        while True:
            rows = self.conn.execute(sql, (prev_seq, READ_BATCH)).fetchall()
            for seq, type_, at, command_id, subject, v, data, stored in rows:
                if seq != prev_seq + 1:
                    problems.append(f"seq {prev_seq + 1}..{seq - 1}: missing rows")
                if at < prev_at:
                    problems.append(f"seq {seq}: time goes backwards ({at} < {prev_at})")
                expected = chain_hash(prev_hash, seq, type_, at, command_id, subject, v, data)
                if expected != stored:
                    problems.append(f"seq {seq}: hash does not match its content and predecessor")
                prev_hash, prev_seq, prev_at = stored, seq, at
            if len(rows) < READ_BATCH:
                return problems


def _read_query(*, until_seq: int | None = None, until_at: str | None = None, since_at: str | None = None,
                command_id: str | None = None, subject: str | None = None, types: Sequence[str] = (),
                where: str = "") -> tuple[str, list]:
    """``read``'s SELECT (parameters: the seq to start after, then these, then the batch size)."""
    clauses = ["seq > ?"]
    args: list = []
    for clause, value in (("seq <= ?", until_seq), ("at <= ?", until_at), ("at >= ?", since_at),
                          ("command_id = ?", command_id), ("subject = ?", subject)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    if types:
        clauses.append(f"type IN ({', '.join('?' * len(types))})")
        args.extend(types)
    if where:
        clauses.append(f"({where})")
    return ("SELECT seq, type, at, command_id, subject, v, data FROM events WHERE "
            + " AND ".join(clauses) + " ORDER BY seq LIMIT ?"), args


def _batches(conn: sqlite3.Connection, sql: str, after_seq: int, params: tuple,
             batch: int) -> Iterator[list[tuple]]:
    """The rows of ``sql`` (``seq > ?`` first, ``LIMIT ?`` last) a batch at a time, by seq."""
    cursor_seq = after_seq
    while True:
        rows = conn.execute(sql, (cursor_seq, *params, batch)).fetchall()
        yield rows
        if len(rows) < batch:
            return
        cursor_seq = rows[-1][0]



def open_store(path: Path | str, *, create: bool = True) -> EventStore:
    """Open (and create, if asked) the event store at ``path``."""
    path = Path(path)
    if not create and not path.exists():
        raise StoreError(f"{path}: no tracker database here")
    store = EventStore(connect(path))
    store.create_schema()
    return store

