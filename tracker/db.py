"""The database: the event log and the read tables, changed together in one transaction."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import msgspec

import projections
from events.read_only import connect_read_only
from events.store import EventStore, StoredRecord, connect
from events.types import (
    EVENT_TYPES,
    RENAMED,
    SCHEMA_VERSION,
    DvdAdded,
    Event,
    UnknownEventType,
    decode,
    log_items,
)
from projections import rebuild
from projections.fold import fold_run
from projections.tables import PROJECTION_VERSION, TABLES, create_tables, drop_tables
from tracker import parallel_replay
from tracker.errors import DiskFull, NewerSchemaError, NotATrackerDatabase, StoreError, UsageError
from tracker.log import get_logger

# sqlite3 binds None through its adapter lookup (a tuple, a dict miss, two attribute lookups):
# read-table rows are mostly NULLs, and that lookup cost more than the INSERT itself (2.6 s
# against 1.0 s for 100,000 rows of 25 columns). A registered adapter answers it at once;
# {}.get(None) is None, so NULL is still bound as NULL.
sqlite3.register_adapter(type(None), {}.get)
log = get_logger("tracker.db")


class Database:
    """One connection to ``tracker.db``: append events and fold them into the read tables."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0, read_only: bool = False) -> None:
        """Open (creating or upgrading if needed); ``read_only`` never writes, nor creates files."""
        self.path = Path(path)
        self.read_only = read_only
        if self.path.is_dir():
            raise NotATrackerDatabase(f"{self.path}: is a folder, not a tracker database")
        if read_only:
            self.conn = connect_read_only(self.path)
        else:
            if str(self.path) != ":memory:":
                _make_home(self.path.parent)
            self.conn = connect(self.path, busy_timeout_s=busy_timeout_s)
        self.store = EventStore(self.conn)
        self._next_dvd_id: int | None = None  # the next new DVD's id inside record_all, else None
        self.on_folded: Callable[[int], None] | None = None  # told each seq a fold reaches: a progress bar
        try:
            self._check_readable() if read_only else self._open()
        except BaseException:
            self.conn.close()
            raise

    def _check_readable(self) -> None:
        """A read-only database is read as it is: refuse one that would need creating or upgrading."""
        written = int(self.store.get_meta("schema_version") or 0) if self._has_meta() else 0
        if written > SCHEMA_VERSION:
            raise NewerSchemaError(
                f"{self.path}: written by a newer tracker (event schema {written}); upgrade tracker")
        self._refuse_unknown_types()
        present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        shape = self.store.get_meta("projection_version") if self._has_meta() else None
        if written != SCHEMA_VERSION or shape != str(PROJECTION_VERSION) or not present >= set(TABLES):
            raise StoreError(
                f"{self.path}: read-only, and its tables are of an older tracker; open it once "
                "with write access to upgrade it, or copy it somewhere writable")

    def _has_meta(self) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone() is not None

    def _open(self) -> None:
        """Create what is missing, refuse newer logs, rebuild tables of an older shape."""
        self.store.create_schema()
        written = int(self.store.get_meta("schema_version") or 0)
        if written > SCHEMA_VERSION:
            raise NewerSchemaError(
                f"{self.path}: written by a newer tracker (event schema {written}, this one reads "
                f"up to {SCHEMA_VERSION}); upgrade tracker to use it")
        self._refuse_unknown_types()
        shape = self.store.get_meta("projection_version")
        present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if written == SCHEMA_VERSION and shape == str(PROJECTION_VERSION) and present >= set(TABLES):
            return  # up to date: opening to read must not wait for another writer's lock
        with self.store.atomic():
            if written < SCHEMA_VERSION:
                self.store.set_meta("schema_version", str(SCHEMA_VERSION))
            if shape != str(PROJECTION_VERSION):
                drop_tables(self.conn)
            create_tables(self.conn)
        if shape is not None and shape != str(PROJECTION_VERSION):
            self.replay()
        with self.store.atomic():
            self.store.set_meta("projection_version", str(PROJECTION_VERSION))

    def _refuse_unknown_types(self) -> None:
        """A type this version cannot read means a newer tracker wrote here: touch nothing."""
        unknown = [t for t in self.store.types() if t not in EVENT_TYPES and t not in RENAMED]
        if unknown:
            raise NewerSchemaError(
                f"{self.path}: the log holds events of type {unknown[0]!r}, unknown to this "
                f"tracker: written by a newer version? upgrade tracker to use it")

    def close(self) -> None:
        """Close the connection."""
        self.store.close()

    def side_store(self) -> EventStore:
        """A second connection to this file, for reads beside this one's writes (WAL: a read
        transaction there sees the moment it began while this one commits on)."""
        return EventStore(connect(self.path))

    def data_version(self) -> int:
        """A number that changes when another connection commits (a cheap check for new work)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """A transaction (or a savepoint inside one); a full disk raises DiskFull."""
        if self.read_only:
            raise UsageError(f"{self.path} is read-only (the file or its folder cannot be "
                             "written): this command would change data")
        try:
            with self.store.atomic() as conn:
                yield conn
        except sqlite3.OperationalError as exc:
            full = disk_full(exc, self.path)
            if full is None:
                raise
            raise full from exc
        except StoreError as exc:
            cause = exc.__cause__
            full = disk_full(cause, self.path) if isinstance(cause, sqlite3.Error) else None
            if full is None:
                raise
            raise full from exc

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """One read transaction: every read inside sees the same moment of the file (verify)."""
        self.conn.execute("BEGIN")
        try:
            self.store.count()  # WAL fixes the snapshot at the first read, so read at once
            yield
        finally:
            self.conn.execute("ROLLBACK")

    @contextmanager
    def dry_run(self) -> Iterator[sqlite3.Connection]:
        """Everything recorded inside is visible inside, then rolled back."""
        with self.store.rolled_back() as conn:
            yield conn

    def record(self, events: Sequence[Event], command_id: str | None = None,
               rows: projections.RowCache | None = None, held: list | None = None) -> int:
        """Append events and fold them into the read tables in one transaction; the last seq.

        A caller recording many groups in one transaction passes one ``rows`` cache for all
        and flushes it itself; without one, the rows are written before this returns. With
        ``held``, the events' INSERT is kept there for ``EventStore.insert_held`` (record_all).
        """
        if not events:
            return self.store.head()[0]
        with self.store.atomic():
            events = self._assign_dvd_ids(events)
            placed = self.store.append_of(command_id, log_items(events), v=SCHEMA_VERSION, held=held)
            cache = projections.RowCache(self.conn) if rows is None else rows
            first_seq, at = placed[0]  # one run: one ``at``
            fold_run(cache, events, command_id, first_seq - 1, at)
            if rows is None:
                cache.flush()
        return placed[-1][0]

    def record_all(self, entries: Iterable[tuple[Sequence[Event], str | None]]) -> None:
        """Record (events, command id) entries in one transaction, the rows written once at the end.

        Consecutive entries of one command are appended together: one call per run of them.
        The Python work comes first (encoding, the hash chain, the folds, the flush's rows),
        then the SQL (the events' and the rows' INSERTs). The engine's writer records batches
        the plain way only when it cannot prepare them ahead (tracker/engine/pipeline.py).
        """
        with self.atomic(), self._ids_across_groups():  # a full disk raises DiskFull: the engine stops cleanly
            rows = projections.RowCache(self.conn)
            held: list = []
            group: list[Event] = []
            current: str | None = None
            for events, command_id in entries:
                if group and command_id != current:
                    self.record(group, current, rows, held)
                    group = []
                current = command_id
                group.extend(events)
            if group:
                self.record(group, current, rows, held)
            writes = rows.flush_statements()
            self.store.insert_held(held)
            rows.execute(writes)

    def _assign_dvd_ids(self, events: Sequence[Event]) -> list[Event]:
        """Give each new DVD (``dvd_id`` 0) the next id, inside the writing transaction.

        Ids are taken here rather than by the command so that two processes adding DVDs at
        once can never take the same id: BEGIN IMMEDIATE serialises them.
        """
        # Within record_all, an earlier group's new DVDs are only in the row cache yet.
        out, next_id = self.assign_dvd_ids(events, self._next_dvd_id or 0)
        if self._next_dvd_id is not None:
            self._next_dvd_id = next_id
        return out

    def assign_dvd_ids(self, events: Sequence[Event], next_id: int = 0) -> tuple[list[Event], int]:
        """The events with each new DVD's id given: the next past SQL's highest and ``next_id``
        (ids given before, not in SQL yet); and the id after the last one given."""
        out: list[Event] = []
        from_sql = False
        for e in events:
            if isinstance(e, DvdAdded) and e.dvd_id == 0:
                if not from_sql:
                    from_sql = True
                    next_id = max(next_id, self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM dvds").fetchone()[0])
                e = msgspec.structs.replace(e, dvd_id=next_id)
                next_id += 1
            out.append(e)
        return out, next_id

    @contextmanager
    def _ids_across_groups(self) -> Iterator[None]:
        """Meanwhile, new DVD ids go on from the last one handed out, not only from SQL's: the
        groups of one record_all are folded into one row cache, written at its end."""
        self._next_dvd_id = 0
        try:
            yield
        finally:
            self._next_dvd_id = None

    def events(self, **filters: object) -> Iterator[tuple[StoredRecord, Event]]:
        """Stream (row, decoded event) pairs; filters as ``EventStore.read``."""
        for rec in self.store.read(**filters):  # type: ignore[arg-type]
            yield rec, decode_record(rec)

    def replay(self, *, until_at: str | None = None, until_seq: int | None = None,
               target: sqlite3.Connection | None = None) -> int:
        """Rebuild every read table from nothing (into ``target`` if given); events folded."""
        if until_at is not None:
            until_seq = min(self.store.seq_at(until_at), until_seq or self.store.count())
        return self.fold(target, until_seq=until_seq)

    def fold(self, target: sqlite3.Connection | None = None, *, after_seq: int = 0,
             until_seq: int | None = None, types: Sequence[str] = ()) -> int:
        """Fold the events (after_seq, until_seq] into the tables of ``target`` (or the live ones).

        From seq 0 the tables are rebuilt from nothing, on two cores when the log is big enough;
        from a later seq they must hold the state at ``after_seq`` already (a checkpoint copied
        in). With ``types``, only events of those types (time travel for one table). The number
        of events folded.
        """
        if after_seq == 0 and not types and str(self.path) != ":memory:":  # the second process reads the file
            split = parallel_replay.plan(self.store, until_seq or self.store.count())
            if split is not None:
                try:
                    return parallel_replay.fold_in_parallel(
                        self, target or self.conn, partial(self._writing, target, immediate=False), until_seq, split)
                except (parallel_replay.WorkerFailed, sqlite3.Error, OSError) as exc:
                    log.info("replay_in_one_process", reason=str(exc))  # which then says what is wrong
        replay = self.replay_source(after_seq=after_seq, until_seq=until_seq, types=types)
        with self._writing(target) as conn:
            return rebuild.rebuild(replay, conn, fresh=after_seq == 0)

    def replay_source(self, *, after_seq: int = 0, until_seq: int | None = None,
                      types: Sequence[str] = ()) -> rebuild.Replay:
        """What a rebuild reads: the log's rows (after_seq, until_seq] of these types, if any."""
        return rebuild.Replay(
            partial(self.store.fold_chunks, after_seq=after_seq, until_seq=until_seq, types=types,
                    on_chunk=self.on_folded),
            lambda after, until: self.store.fold_rows(after_seq=after, until_seq=until, types=types),
            self._decode_at)

    @contextmanager
    def _writing(self, target: sqlite3.Connection | None, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction on ``target`` (or on the live database), rolled back on error."""
        if target is None:
            with self.store.bulk(), self.store.atomic(immediate=immediate):
                yield self.conn
            return
        target.execute("BEGIN")
        try:
            yield target
        except BaseException:
            target.execute("ROLLBACK")
            raise
        target.execute("COMMIT")

    def _decode_at(self, seq: int) -> Event:
        """The event at ``seq`` from its whole row (replay's slow path: an old version, a renamed
        type, an error, which is then raised naming the row)."""
        return decode_record(next(self.store.read(after_seq=seq - 1, until_seq=seq)))


def _make_home(folder: Path) -> None:
    """Create the home folder if needed; a one-line error saying why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise UsageError(f"{folder}: exists and is not a folder") from exc
    except OSError as exc:
        raise UsageError(f"cannot create the home folder {folder}: {exc.strerror or exc}") from exc


def open_database(path: Path, *, must_exist: bool = True) -> Database:
    """The database at ``path``; with none yet, an error, or (for reads) an empty one in memory.

    A database whose file or folder cannot be written is opened read-only: reads work, and a
    command that would write says so in one line.
    """
    if not path.exists():
        if must_exist:
            raise UsageError(f"no tracker database at {path} (add or import DVDs first, or give --home)")
        return Database(":memory:")
    return Database(path, read_only=not is_writable(path))


def is_writable(path: Path) -> bool:
    """Whether the database file and its folder (where SQLite keeps -wal and -shm) can be written."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


# SQLite's codes for a write the disk refused: full (or a partial write), or a write error
# such as EFBIG past a file-size limit.
_DISK_FULL_CODES = {"SQLITE_FULL", "SQLITE_IOERR_WRITE"}


def disk_full(exc: BaseException, path: Path) -> DiskFull | None:
    """The DiskFull error that stands for ``exc``, if it is a write the disk refused."""
    if getattr(exc, "sqlite_errorname", None) not in _DISK_FULL_CODES:
        return None
    full = DiskFull(f"cannot write to {path}: the disk is full or a file-size limit was reached "
                    f"({exc}); recorded work is kept and the command resumes on the next run")
    full.__cause__ = exc
    return full


def backup_database(source: Path, target: Path) -> None:
    """Copy ``source`` into ``target`` with SQLite's online backup, as one self-contained file."""
    src = connect_read_only(source) if not is_writable(source) else connect(source)
    try:
        dst = sqlite3.connect(str(target), isolation_level=None)
        try:
            src.backup(dst)  # one step: one read transaction, so one consistent moment
            dst.execute("PRAGMA journal_mode = DELETE")  # no -wal beside the copy
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise disk_full(exc, target) or StoreError(f"backup failed: {exc}") from exc
    finally:
        src.close()


@contextmanager
def scratch_database() -> Iterator[sqlite3.Connection]:
    """An empty throwaway database in a temporary folder (in memory if none is writable)."""
    try:
        folder = tempfile.TemporaryDirectory(prefix="tracker-scratch-")
    except OSError:
        folder = None
    conn = sqlite3.connect(":memory:" if folder is None else Path(folder.name) / "scratch.db",
                           isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # throwaway: nothing to recover after a crash
        conn.execute("PRAGMA synchronous = OFF")
        yield conn
    finally:
        conn.close()
        if folder is not None:
            folder.cleanup()


def decode_record(rec: StoredRecord) -> Event:
    """Decode a stored row, or say plainly that a newer tracker wrote it."""
    try:
        return decode(rec.data, rec.type, rec.v)
    except UnknownEventType as exc:
        raise NewerSchemaError(
            f"event {rec.seq} ({rec.type}) is unknown to this tracker: written by a newer "
            f"version? upgrade tracker ({exc})") from exc
    except ValueError as exc:
        raise StoreError(f"event {rec.seq} ({rec.type}) cannot be decoded: {exc}") from exc
