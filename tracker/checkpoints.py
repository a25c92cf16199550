"""Checkpoints: saved states of the read tables beside the log, so time travel need not replay it all.

A checkpoint is a SQLite file ``checkpoints/<seq>.db`` next to ``tracker.db`` holding every read
table as it was after event ``seq``, with that event's chain hash. It is only ever a shortcut:
one whose hash does not match the log at its seq, or written for another table shape, is never
used, and any can be deleted (the next replay or big command saves a new one).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from events.store import EventStore
from events.types import SCHEMA_VERSION
from projections import export_cache, scope, snapshot
from projections.tables import PROJECTION_VERSION, row_count
from tracker.checkpoint_retention import kept
from tracker.db import Database
from tracker.errors import StoreError
from tracker.log import get_logger
from tracker.pids import alive

log = get_logger("tracker.checkpoints")
EVERY_EVENTS = 50_000  # a command saves one at its end when this many events passed since the newest
# Inside a command, a save waits for as many events as the newest checkpoint holds rows times
# this (EVERY_EVENTS at least): a save copies every row, so copies cost a bounded share of the
# work whatever the collection's size (an import of 250,000 rows copied ~2.0 million rows in all
# with one every 50,000 events, as the time share allowed, and ~1.1 million now).
EVENTS_PER_ROW_COPIED = 0.5
TRAVEL_SAVE_EVENTS = 10_000  # time travel this far past its checkpoint saves one at the moment
T = TypeVar("T")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file and what it says about itself."""

    path: Path
    seq: int
    hash: str
    shape: str  # "<schema version>.<projection version>" it was written with
    rows: int = 0  # rows it holds (0: not noted, by a tracker before it was)


CURRENT_SHAPE = f"{SCHEMA_VERSION}.{PROJECTION_VERSION}"


def folder(db: Database) -> Path | None:
    """Where ``db``'s checkpoints live (None for a database in memory)."""
    if str(db.path) == ":memory:":
        return None
    return db.path.parent / "checkpoints"


def listing(db: Database) -> list[Checkpoint]:
    """Every checkpoint file beside ``db`` that can be read, oldest first."""
    where = folder(db)
    if where is None or not where.is_dir():
        return []
    found = []
    for path in sorted(where.glob("*.db")):
        if path.name.startswith("."):
            continue  # a save's temp file, perhaps being written this moment
        facts = snapshot.facts(path)
        try:
            found.append(_checkpoint(path, facts))
        except (KeyError, ValueError):
            continue  # not a checkpoint (or a broken one): never used, replaced in time
    return sorted(found, key=lambda c: c.seq)


def _checkpoint(path: Path, facts: dict[str, str]) -> Checkpoint:
    """The checkpoint at ``path`` saying ``facts`` (KeyError, ValueError: not a checkpoint)."""
    return Checkpoint(path, int(facts["seq"]), facts["hash"], facts["shape"], int(facts.get("rows", 0)))


def untrusted_reason(db: Database, ck: Checkpoint) -> str | None:
    """Why ``ck`` must not be used for ``db``'s log, or None when it may be."""
    if ck.shape != CURRENT_SHAPE:
        return f"written for another table shape ({ck.shape}, this tracker has {CURRENT_SHAPE})"
    if db.store.hash_at(ck.seq) != ck.hash:
        return f"its hash does not match the log's at seq {ck.seq}"
    return None


def nearest(db: Database, seq: int) -> Checkpoint | None:
    """The newest trusted checkpoint at or before ``seq``."""
    for ck in reversed(listing(db)):
        if ck.seq <= seq and untrusted_reason(db, ck) is None:
            return ck
    return None


def time_travel(db: Database, target: sqlite3.Connection, until_at: str, *,
                only: str | None = None) -> tuple[int, Checkpoint | None]:
    """Fill ``target`` with the read tables as of ``until_at``, from the nearest checkpoint.

    Returns the seq reached and the checkpoint started from (None: replayed from the start).
    With ``only`` (a table), only the events that can change it are folded: that table (and
    those folded beside it) are as of the moment, the others are not. From far behind, every
    table is folded and saved as a checkpoint at the seq reached: the next visit is quick.
    """
    seq = db.store.seq_at(until_at)
    start = nearest(db, seq)
    later = _holding_then(db, seq, only) if only and (start is None or start.seq < seq) else None
    if later is not None:  # that table as of the moment, nothing to fold (the others as of later)
        snapshot.load(later.path, target)
        return seq, later
    if start is not None:
        snapshot.load(start.path, target)
    after = start.seq if start else 0
    save = seq - after >= TRAVEL_SAVE_EVENTS and _can_save(db)
    types = scope.event_types(only) if only and not save else ()
    db.fold(target, after_seq=after, until_seq=seq, types=types)
    if save and (saved := save_quietly(db, target, seq)) is not None and only in export_cache.CACHED:
        _write_cache(saved, only, target)  # the table is at hand: the next export from there is quick
    return seq, start


def cached_export(db: Database, table: str, until_at: str | None) -> Iterator[bytes | memoryview] | None:
    """``table``'s export as JSON lines as of ``until_at`` (None: now) from a checkpoint's export cache.

    None when the table is not cached, no trusted checkpoint lies less than EVERY_EVENTS before
    the moment (the plain path then saves one there), or the cache is missing and cannot be
    written (a read-only home). From the checkpoint, only the events that can change the table
    are folded, and only the rows they wrote are encoded again.
    """
    if table not in export_cache.CACHED or folder(db) is None:
        return None
    seq = db.store.count() if until_at is None else db.store.seq_at(until_at)
    start = nearest(db, seq)
    if until_at is not None and (start is None or start.seq < seq):
        later = _holding_then(db, seq, table)
        if later is not None:
            start, seq = later, later.seq
    if start is None or seq - start.seq >= EVERY_EVENTS:
        return None
    if until_at is not None and seq - start.seq >= TRAVEL_SAVE_EVENTS and _can_save(db):
        return None  # the plain path saves a checkpoint at the moment: the next visit is quick
    if until_at is None and seq - start.seq > row_count(db.conn, table):
        return None  # a small table far past its checkpoint: encoding the live rows costs less
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        cache, loaded = _export_cache(db, start, table, conn)
        if cache is None:
            return None
        if seq == start.seq:
            return export_cache.merged(cache, [])
        if not loaded:
            snapshot.load(start.path, conn)
        export_cache.watch(conn, table)
        db.fold(conn, after_seq=start.seq, until_seq=seq, types=scope.event_types(table))
        return export_cache.merged(cache, export_cache.changed_lines(conn, table))
    finally:
        conn.close()


def _holding_then(db: Database, seq: int, table: str) -> Checkpoint | None:
    """The first checkpoint after ``seq`` (fewer than EVERY_EVENTS on, trusted) if no event
    between can change ``table``: it holds that table as it was at ``seq``.

    A command's end leaves its checkpoint to the next command, which saves it at its own first
    event (see BackgroundSaver.catch_up): the moment a command ended is then just before it.
    """
    after = next((ck for ck in listing(db) if ck.seq > seq), None)
    if after is None or after.seq - seq >= EVERY_EVENTS or untrusted_reason(db, after) is not None:
        return None
    between = db.store.read(after_seq=seq, until_seq=after.seq, types=scope.event_types(table), batch=1)
    return None if next(between, None) is not None else after


def _export_cache(db: Database, ck: Checkpoint, table: str,
                  conn: sqlite3.Connection) -> tuple[export_cache.Cache | None, bool]:
    """The export cache of ``table`` at ``ck`` (None if missing and not writable), and whether ``ck``
    was loaded into ``conn`` to write it.

    A cache is used only if it says it was encoded from this checkpoint (seq, hash, shape).
    """
    cache = _usable_cache(ck, table)
    if cache is not None:
        return cache, False
    if db.read_only:
        return None, False
    snapshot.load(ck.path, conn)
    return _write_cache(ck, table, conn), True


def _usable_cache(ck: Checkpoint, table: str) -> export_cache.Cache | None:
    """The export cache of ``table`` at ``ck`` if there is one whose footer names ``ck``."""
    cache = export_cache.read(_cache_path(ck.path, table))
    if cache is None or (cache.footer.table, cache.footer.seq, cache.footer.hash,
                         cache.footer.shape) != (table, *_footer(ck).values()):
        return None
    return cache


def _write_cache(ck: Checkpoint, table: str, conn: sqlite3.Connection) -> export_cache.Cache | None:
    """Write the export cache of ``table`` at ``ck`` from ``conn`` (which holds ``ck``'s tables); it, or None."""
    path = _cache_path(ck.path, table)
    tmp = path.parent / f".tmp-{os.getpid()}.{table}.export"
    try:
        export_cache.write(conn, table, tmp, _footer(ck))
        os.replace(tmp, path)
    except (OSError, TypeError, OverflowError) as exc:  # a full disk, a key that is no integer
        log.info("export_cache_not_saved", reason=str(exc))
        return None
    finally:  # Ctrl-C while writing too: no half-written file left behind
        tmp.unlink(missing_ok=True)
    return export_cache.read(path)


def _footer(ck: Checkpoint) -> dict[str, object]:
    """What an export cache of ``ck`` must say about itself."""
    return {"seq": ck.seq, "hash": ck.hash, "shape": export_cache.shape(ck.shape)}


def _cache_path(checkpoint: Path, table: str) -> Path:
    """Where the export cache of ``table`` at a checkpoint lives: ``<seq>.<table>.export`` beside it."""
    return checkpoint.with_name(f"{checkpoint.stem}.{table}.export")


def _can_save(db: Database) -> bool:
    """Whether a checkpoint of ``db`` could be written (the one saved last outlives its pruning)."""
    return folder(db) is not None and not db.read_only


@dataclass(frozen=True)
class Pending:
    """A checkpoint begun by ``begin_save``: ``conn`` holds the read transaction of its moment."""

    conn: sqlite3.Connection
    tmp: Path
    noted: dict[str, str]


def save(db: Database, source: sqlite3.Connection | None = None, seq: int | None = None) -> Checkpoint:
    """Save the live tables at the log's head (or ``source``'s tables, which are at ``seq``)."""
    tmp = _temp_path(db, "")

    def facts() -> dict[str, str]:
        return _facts(db.store, db.store.head()[0] if seq is None else seq)

    noted = _written(tmp, lambda: snapshot.save(source or db.conn, tmp, facts))
    return _placed(db, tmp, noted, head=db.store.count())


def begin_save(db: Database, side: EventStore) -> Pending:
    """Begin a checkpoint at the head ``side`` (a second connection to ``db``'s file) sees now.

    Quick: the moment is fixed by a read transaction; ``finish_save`` copies the tables as of
    it, on any thread, while ``db``'s connection goes on writing.
    """
    tmp = _temp_path(db, ".side")
    noted = _written(tmp, lambda: snapshot.begin(side.conn, tmp, lambda: _facts(side, side.head()[0])))
    return Pending(side.conn, tmp, noted)


def finish_save(db: Database, pending: Pending, abandoned: Callable[[], bool]) -> Checkpoint | None:
    """Copy the tables of a begun checkpoint, put the file in place and prune (touches no
    connection of ``db``: safe on a thread of its own); None if ``abandoned()`` by then."""
    _written(pending.tmp, lambda: snapshot.fill(pending.conn, pending.noted))
    if abandoned():
        pending.tmp.unlink(missing_ok=True)
        return None
    return _placed(db, pending.tmp, pending.noted, head=int(pending.noted["seq"]))


def _facts(store: EventStore, at: int) -> dict[str, str]:
    """What a checkpoint at ``at`` says about itself."""
    return {"seq": str(at), "hash": store.hash_at(at) or "", "shape": CURRENT_SHAPE}


def _temp_path(db: Database, tag: str) -> Path:
    """The name a checkpoint of this process is written under (swept if the process dies)."""
    where = folder(db)
    if where is None:
        raise StoreError("a database in memory has no checkpoints")
    try:
        where.mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot save a checkpoint in {where}: {exc}") from exc
    tmp = where / f".tmp-{os.getpid()}{tag}.db"
    tmp.unlink(missing_ok=True)
    return tmp


def _written(tmp: Path, write: Callable[[], T]) -> T:
    """``write()``; if it fails (or Ctrl-C comes), no half-written file is left behind."""
    try:
        return write()
    except (OSError, sqlite3.Error) as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"cannot save a checkpoint in {tmp.parent}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _placed(db: Database, tmp: Path, noted: dict[str, str], *, head: int) -> Checkpoint:
    """Rename a written checkpoint into place and prune; the checkpoint."""
    path = tmp.parent / f"{int(noted['seq']):012d}.db"
    _written(tmp, lambda: os.replace(tmp, path))
    _prune(db, head, saved=int(noted["seq"]))
    return _checkpoint(path, noted)


def newest_seq(db: Database) -> int:
    """The seq of the newest checkpoint file by its name (0 if none): cheap, nothing opened."""
    where = folder(db)
    names = [p.stem for p in where.glob("*.db")] if where is not None and where.is_dir() else []
    return max((int(n) for n in names if n.isdigit()), default=0)


def rows_at(db: Database, seq: int) -> int:
    """The rows the checkpoint file of ``seq`` holds (0 if it is gone or does not say)."""
    where = folder(db)
    if where is None or not seq:
        return 0
    try:
        return int(snapshot.facts(where / f"{seq:012d}.db").get("rows", 0))
    except ValueError:
        return 0


def spacing(rows: int) -> int:
    """Events a save inside a command waits for after a checkpoint holding ``rows`` rows."""
    return max(EVERY_EVENTS, int(rows * EVENTS_PER_ROW_COPIED))


def save_if_due(db: Database) -> Checkpoint | None:
    """Save a checkpoint of the live tables if EVERY_EVENTS passed since the newest one."""
    if folder(db) is None or db.store.count() - newest_seq(db) < EVERY_EVENTS:
        return None
    return save_quietly(db)


def save_quietly(db: Database, source: sqlite3.Connection | None = None,
                 seq: int | None = None) -> Checkpoint | None:
    """A checkpoint saved on the side: failing to save one (a read-only home) is no error."""
    if folder(db) is None:
        return None
    try:
        return save(db, source, seq)
    except StoreError as exc:
        log.info("checkpoint_not_saved", reason=str(exc))
        return None


def _prune(db: Database, head: int, saved: int) -> None:
    """Keep the checkpoints of the current shape ``kept`` names, and the one just ``saved`` (a
    time travel's: the next visit to that moment is quick, until the next save); delete the rest,
    and leftovers."""
    where = folder(db)
    if where is not None:
        _sweep_leftovers(where)
    cks = listing(db)
    keep = kept([ck.seq for ck in cks if ck.shape == CURRENT_SHAPE], head) | {saved}
    for ck in cks:
        if ck.shape != CURRENT_SHAPE or ck.seq not in keep:
            ck.path.unlink(missing_ok=True)
    if where is not None:  # export caches of checkpoints gone
        for cache in where.glob("*.export"):
            if not cache.with_name(cache.name.split(".")[0] + ".db").exists():
                cache.unlink(missing_ok=True)


def _sweep_leftovers(where: Path) -> None:
    """Delete the temporary files of saves whose process is gone (killed with kill -9, say)."""
    for tmp in where.glob(".tmp-*"):
        pid = tmp.name.removeprefix(".tmp-").split(".", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            tmp.unlink(missing_ok=True)


def problems(db: Database, fresh: sqlite3.Connection | None = None) -> tuple[list[str], int]:
    """Checkpoints that disagree with the log (a hash that does not match, or other tables),
    and the seq ``fresh`` was folded to.

    Each trusted checkpoint is compared with a replay of the log up to its seq, in one pass,
    into ``fresh`` (empty; a database in memory if not given): verify folds on from there.
    """
    out: list[str] = []
    trusted = []
    for ck in listing(db):
        reason = untrusted_reason(db, ck)
        if reason is None:
            trusted.append(ck)
        elif ck.shape == CURRENT_SHAPE:
            out.append(f"checkpoint {ck.path.name}: {reason} (it is never used)")
    own = fresh is None and bool(trusted)
    target = sqlite3.connect(":memory:", isolation_level=None) if own else fresh
    reached = 0
    try:
        for ck in trusted:
            db.fold(target, after_seq=reached, until_seq=ck.seq)
            reached = ck.seq
            for table, count in snapshot.differences(target, ck.path).items():
                out.append(f"checkpoint {ck.path.name}: {table}: {count} row(s) differ from a replay "
                           f"of the log to seq {ck.seq} (delete it; tracker checkpoint saves a new one)")
            out += _cache_problems(ck, target)
    finally:
        if own:
            target.close()
    return out, reached


def _cache_problems(ck: Checkpoint, fresh: sqlite3.Connection) -> list[str]:
    """Export caches of ``ck`` whose lines differ from an encoding of a replay to its seq (one
    whose footer names another checkpoint is never used, and written again when next needed)."""
    out = []
    for table in export_cache.CACHED:
        cache = _usable_cache(ck, table)
        if cache is not None and export_cache.differs(cache, fresh):
            out.append(f"export cache {_cache_path(ck.path, table).name}: its lines differ from an export "
                       f"of a replay of the log to seq {ck.seq} (delete it; the next export writes it again)")
    return out
