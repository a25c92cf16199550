"""The append-only SQLite event log: gapless ``seq``, a hash chain, triggers that refuse edits.

The store knows nothing of the domain: it stores (type, data, command_id, subject, v) rows and
streams them back. Projections and their tables share the same database file and transaction.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from events.appending import ROW_COLUMNS, at_text, insert_rows, utc_now
from events.chain import GENESIS_HASH, chain_hash, chained_rows, verify_chain
from events.connection import APPLICATION_ID, WAL_AUTOCHECKPOINT_PAGES, begin_waiting, connect, file_of, refuse_foreign
from events.errors import NotATrackerDatabase, StoreError
from events.reading import READ_BATCH, FoldChunk, StoredRecord, fold_chunks, fold_rows, read_plan, read_rows
from events.wal_checkpoints import WalCheckpointer

__all__ = ["GENESIS_HASH", "READ_BATCH", "EventStore", "NewRecord", "StoredRecord", "at_text", "chain_hash",
           "connect", "open_store", "refuse_foreign", "utc_now"]

CHECKPOINT_EVERY_ROWS = 5000  # rows appended (~2 MB of log) between background checkpoints

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
CREATE TABLE IF NOT EXISTS event_types (type TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
"""


_SCHEMA_OBJECTS = frozenset(re.findall(r"IF NOT EXISTS (\w+)", _SCHEMA))
# Indexes of older versions, dropped on open: each cost ~2 us per append. ``at`` never decreases
# along seq (append sees to it), so a binary search over seq finds a moment; event_types lists
# the types. An older tracker that reopens the file recreates them, and the next open drops them again.
_OLD_INDEXES = frozenset({"events_at", "events_type"})
# The distinct types by a skip scan of the old type index: one seek per type, not a scan.
_SKIP_SCAN_TYPES = ("WITH RECURSIVE t(name) AS (SELECT MIN(type) FROM events UNION ALL"
                    " SELECT (SELECT MIN(type) FROM events WHERE type > t.name) FROM t WHERE t.name IS NOT NULL)"
                    " SELECT name FROM t WHERE name IS NOT NULL")
_COMMAND_AND_V = itemgetter(2, 4)  # what the rows of one INSERT run share (with ``at``)


class NewRecord(NamedTuple):
    """A row to append; ``data`` is the JSON text of the event.

    A tuple, not a dataclass (a frozen dataclass's __init__ cost 2.7 us against 0.5 for
    tuple.__new__); the record path builds none at all (``append_of``).
    """

    type: str
    data: str | bytes  # JSON text; bytes are decoded on append, so the column stays TEXT
    command_id: str | None = None
    subject: str | None = None
    v: int = 1


class EventStore:
    """Appends to and streams from the ``events`` table of one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._depth = 0
        self._last: tuple[int, str] | None = None  # (seq, hash) of the newest row, cached
        self._last_at = ""  # the newest row's ``at``, valid while _last is
        # Types known to be in event_types (committed), so an append writes there only for a new
        # one; types added by the open transaction join them only once it commits.
        self._known_types: set[str] | None = None
        self._pending_types: set[str] = set()
        self._wal_checkpointer: WalCheckpointer | None = None
        self._rows_unsaved = 0  # appended since the last background checkpoint was asked for

    def create_schema(self) -> None:
        """Create the log (idempotent), migrate an older one, mark the file; refuse foreign files."""
        try:
            present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
            current = present >= _SCHEMA_OBJECTS and not present & _OLD_INDEXES
            if current and self.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
                return  # nothing to create: a reader must not wait for the write lock
            refuse_foreign(self.conn)
        except sqlite3.DatabaseError as exc:
            raise NotATrackerDatabase(f"not a tracker database ({exc})") from exc
        with self.atomic():
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    self.conn.execute(statement)
            # Filled before the old type index goes: with it, one seek per type instead of a scan.
            distinct = _SKIP_SCAN_TYPES if "events_type" in present else "SELECT DISTINCT type FROM events"
            self.conn.execute(f"INSERT OR IGNORE INTO event_types (type) {distinct}")
            for index in sorted(_OLD_INDEXES):
                self.conn.execute(f"DROP INDEX IF EXISTS {index}")
            self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self._known_types = None

    @contextmanager
    def atomic(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction, or a savepoint inside one; rolled back on error."""
        if self._depth == 0:
            begin_waiting(self.conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")
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
            self._pending_types.clear()  # some may be rolled back: written again if seen again
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
            self._commit()
        else:
            self.conn.execute(f"RELEASE {name}")

    def _commit(self) -> None:
        """Commit the transaction; only then are its new types known to be in event_types."""
        try:
            self.conn.execute("COMMIT")
        finally:
            if self._known_types is not None and not self.conn.in_transaction:
                self._known_types |= self._pending_types
            self._pending_types.clear()
        if self._rows_unsaved >= CHECKPOINT_EVERY_ROWS:
            self._rows_unsaved = 0
            self._checkpoint_soon()

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Meanwhile SQLite's own WAL checkpoint is off; the background one is asked for after: a
        transaction writing more than 40 MB (a replay writes every read table whole) had COMMIT
        copy it all into the file before returning (0.25 s of a 5 s replay of a million events)."""
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
            self._checkpoint_soon()

    def _checkpoint_soon(self) -> None:
        """Have the log copied into the file on a thread (not for a database in memory)."""
        if self._wal_checkpointer is None:
            path = file_of(self.conn)
            if not path:
                return
            self._wal_checkpointer = WalCheckpointer(path)
        self._wal_checkpointer.nudge()

    def close(self) -> None:
        """Close the connection, after a background checkpoint under way (if any) has finished."""
        if self._wal_checkpointer is not None:
            self._wal_checkpointer.close()
        self.conn.close()

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
            row = self.conn.execute("SELECT seq, hash, at FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            self._last, self._last_at = ((row[0], row[1]), row[2]) if row else ((0, GENESIS_HASH), "")
        return self._last

    def append(self, records: Iterable[NewRecord], *, at: str | None = None) -> list[tuple[int, str]]:
        """Append rows inside the current transaction (one is opened if none); returns (seq, at).

        ``at`` never goes backwards along seq, even if the clock does: ``seq_at`` relies on it.
        """
        if not self.in_transaction:
            with self.atomic():
                return self.append(records, at=at)
        at = self._next_at(at)
        placed: list[tuple[int, str]] = []
        for (command_id, v), run in groupby(records, _COMMAND_AND_V):
            placed += self._append_run([(r[0], r[1], r[3]) for r in run], command_id, v, at)
        return placed

    def append_of(self, command_id: str | None, items: Sequence[tuple[str, str | bytes, str | None]], *,
                  v: int = 1, at: str | None = None, held: list | None = None) -> list[tuple[int, str]]:
        """Append one command's rows, (type, data, subject) each, as ``append`` does (the record
        path: no NewRecord built, and the shared columns bound once).

        With ``held``, the rows get their seqs and hashes now but their INSERT is kept there, for
        ``insert_held`` later in the same transaction (the writer runs its Python first, then its SQL).
        """
        if not self.in_transaction:
            with self.atomic():
                return self.append_of(command_id, items, v=v, at=at, held=held)
        return self._append_run(items, command_id, v, self._next_at(at), held)

    def _next_at(self, at: str | None) -> str:
        """The ``at`` of the next rows: now (or ``at``), but never before the newest row's."""
        self.head()
        return max(at or utc_now(), self._last_at)

    def _append_run(self, items: Sequence[tuple[str, str | bytes, str | None]], command_id: str | None,
                    v: int, at: str, held: list | None = None) -> list[tuple[int, str]]:
        """Hash and INSERT (or hold, see ``append_of``) rows that share command_id, v and at;
        their (seq, at)."""
        first, prev = self.head()
        values, prev = chained_rows(items, first, prev, at, command_id, v)
        if held is None:
            self._insert_run(values, at, command_id, v)
        else:
            held.append((values, at, command_id, v))
        seq = first + len(values) // ROW_COLUMNS
        self._last, self._last_at = (seq, prev), at
        return [(s, at) for s in range(first + 1, seq + 1)]

    def insert_held(self, held: list) -> None:
        """INSERT the rows ``append_of`` held (in the transaction that hashed them)."""
        for values, at, command_id, v in held:
            self._insert_run(values, at, command_id, v)

    def _insert_run(self, values: list, at: str, command_id: str | None, v: int) -> None:
        """INSERT hashed rows (``chained_rows``' values) that share at, command_id and v."""
        try:
            insert_rows(self.conn, values, at, command_id, v)
            self._note_types(values[1::ROW_COLUMNS])
            self._rows_unsaved += len(values) // ROW_COLUMNS
        except sqlite3.Error as exc:
            self._last = None
            raise StoreError(f"cannot append to the event log: {exc}") from exc

    def _note_types(self, types: list[str]) -> None:
        """Add the types not seen before to event_types (commonly none: a set difference)."""
        if self._known_types is None:
            self._known_types = {r[0] for r in self.conn.execute("SELECT type FROM event_types")}
        new = set(types) - self._known_types - self._pending_types
        if new:
            self.conn.executemany("INSERT OR IGNORE INTO event_types (type) VALUES (?)", [(t,) for t in new])
            self._pending_types |= new

    def last_at(self) -> str:
        """The ``at`` of the newest row ("" while the log is empty)."""
        self.head()
        return self._last_at

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
        # A time bound becomes a seq bound too (a binary search): no scan for the rows outside it.
        if since_at is not None:
            after_seq = max(after_seq, self._seq_before(since_at))
        if until_at is not None:
            until_seq = min(self.seq_at(until_at), self.count() if until_seq is None else until_seq)
        return read_rows(self.conn, after_seq=after_seq, until_seq=until_seq, until_at=until_at,
                         since_at=since_at, command_id=command_id, subject=subject, types=types,
                         where=where, params=params, batch=batch)

    def fold_rows(self, *, after_seq: int = 0, until_seq: int | None = None,
                  types: Sequence[str] = ()) -> sqlite3.Cursor:
        """Plain ``(seq, at, command_id, data, v)`` tuples of (after_seq, until_seq], in order."""
        return fold_rows(self.conn, after_seq=after_seq, until_seq=until_seq, types=types)

    def fold_chunks(self, *, after_seq: int = 0, until_seq: int | None = None, types: Sequence[str] = (),
                    on_chunk: Callable[[int], None] | None = None) -> Iterator[FoldChunk]:
        """The same rows as ``fold_rows``, a span of seqs at a time, each span one JSON document."""
        return fold_chunks(self.conn, after_seq=after_seq, until_seq=until_seq, types=types,
                           present=self.types() if types else (), on_chunk=on_chunk)

    def read_plan(self, **filters: object) -> list[str]:
        """How SQLite runs ``read`` with these filters (EXPLAIN QUERY PLAN): index or scan."""
        return read_plan(self.conn, **filters)

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
        """The newest seq written at or before ``at`` (0 if none), by a binary search over seq."""
        return self._seq_before(at, inclusive=True)

    def _seq_before(self, at: str, *, inclusive: bool = False) -> int:
        """The newest seq written before ``at`` (or at it, if ``inclusive``); 0 if none.

        ``at`` never decreases along seq, so ~20 lookups by seq find it in a million rows (a
        log an older version wrote while the clock stepped back may be off there; verify says so).
        """
        low, high = 0, self.count()  # seq ``low`` is before the moment; every seq past ``high`` is not
        sql = "SELECT at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1"  # ">=": a gap is no dead end
        while low < high:
            middle = (low + high + 1) // 2
            row_at = self.conn.execute(sql, (middle,)).fetchone()[0]
            if row_at < at or (inclusive and row_at == at):
                low = middle
            else:
                high = middle - 1
        return low

    def last_types(self, command_id: str, limit: int) -> list[str]:
        """The types of a command's newest ``limit`` rows, newest first (its index, no scan)."""
        return [r[0] for r in self.conn.execute(
            "SELECT type FROM events WHERE command_id = ? ORDER BY seq DESC LIMIT ?",
            (command_id, limit))]

    def types(self) -> list[str]:
        """The distinct event types in the log, from event_types (an old file: its type index)."""
        has_table = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_types'").fetchone()
        # A file opened read-only cannot be migrated: it still has the old index to skip-scan.
        sql = "SELECT type FROM event_types ORDER BY type" if has_table else _SKIP_SCAN_TYPES
        return [r[0] for r in self.conn.execute(sql)]

    def integrity_problems(self) -> list[str]:
        """What SQLite's own integrity check finds wrong with the file (nothing: [])."""
        rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows

    def verify_chain(self, until_seq: int | None = None) -> list[str]:
        """Problems with the log: a gap in seq, a broken hash link, or times going backwards."""
        return verify_chain(self.conn, until_seq)


def open_store(path: Path | str, *, create: bool = True) -> EventStore:
    """Open (and create, if asked) the event store at ``path``."""
    path = Path(path)
    if not create and not path.exists():
        raise StoreError(f"{path}: no tracker database here")
    store = EventStore(connect(path))
    store.create_schema()
    return store

