"""Rebuilding the read tables from the log's rows: replay, and time travel from a checkpoint.

The log hands over a cursor of (seq, at, command_id, data, v) rows; each is decoded and folded
through the very folds incremental recording uses, into a row cache kept to a bound.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from events.types import SCHEMA_VERSION, AnyEvent, Event
from projections.fold import Position, folds_by_type
from projections.rows import RowCache
from projections.tables import create_indexes, create_tables, drop_tables

REPLAY_CACHE_CELLS = 400_000  # rows times columns: a replay peaks near 100 MB at 1,000,000 events
REPLAY_CHUNK_ROWS = 1024  # rows read at a time; the cache's bound is checked after each chunk
REPLAY_CACHE_KIB = 32 * 1024  # SQLite's page cache during a replay: fewer spills of dirty pages
_union_decode = msgspec.json.Decoder(AnyEvent).decode


@dataclass(frozen=True, slots=True)
class Replay:
    """What a rebuild reads: how to open the log's cursor, and how to decode one row from scratch."""

    open_rows: Callable[[], sqlite3.Cursor]  # opened once the tables are made: DROP waits for no reader
    decode_at: Callable[[int], Event]  # the slow path (an old version, a renamed type); raises naming the row


@dataclass(frozen=True, slots=True)
class Share:
    """The part of a rebuild one process does: only these modules' folds (None: all), with a
    row cache of this bound, and what to run once they are done, before the indexes are built
    (a parallel replay copies the other process's tables in then)."""

    modules: frozenset[str] | None = None
    max_cells: int = REPLAY_CACHE_CELLS
    then: Callable[[sqlite3.Connection], None] | None = None
    page_cache_kib: int = REPLAY_CACHE_KIB


def rebuild(replay: Replay, conn: sqlite3.Connection, *, fresh: bool, share: Share = Share()) -> int:
    """Fold the replay's rows into the read tables on ``conn`` (from nothing if ``fresh``); how many."""
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = -{share.page_cache_kib}")
    try:
        return _refold(replay, conn, fresh=fresh, share=share)
    finally:
        conn.execute(f"PRAGMA cache_size = {cache}")


def _refold(replay: Replay, conn: sqlite3.Connection, *, fresh: bool, share: Share) -> int:
    """The body of a rebuild: if fresh, empty tables first and indexes built once at the end."""
    if fresh:
        drop_tables(conn)
        create_tables(conn, indexes=False)  # one bulk index build at the end beats row-by-row upkeep
    count = fold_into(replay, conn, share, known_empty=fresh)
    if share.then is not None:
        share.then(conn)
    if fresh:
        create_indexes(conn)
    return count


def fold_into(replay: Replay, conn: sqlite3.Connection, share: Share, *, known_empty: bool) -> int:
    """Fold the replay's rows with the share's folds into the tables on ``conn``, flushed; how many."""
    rows = RowCache(conn, known_empty=known_empty, max_cells=share.max_cells)
    cursor = replay.open_rows()
    try:
        count = fold_all(cursor, replay.decode_at, rows, folds_by_type(share.modules))
    finally:
        cursor.close()  # CREATE INDEX, like DROP TABLE, refuses to run beside an open statement
    rows.flush()
    return count


def fold_all(cursor: sqlite3.Cursor, decode_at: Callable[[int], Event], rows: RowCache,
             folds: dict[type[Event], Callable] | None = None) -> int:
    """Decode and fold every row (with ``folds``, by default every one), the row cache kept to
    its bound; how many."""
    folds = folds or folds_by_type()
    decode, current, env, count = _union_decode, SCHEMA_VERSION, Position(), 0
    while chunk := cursor.fetchmany(REPLAY_CHUNK_ROWS):
        for seq, at, command_id, data, v in chunk:
            env.seq, env.at, env.command_id = seq, at, command_id
            try:  # the common case inline: a current row of a known type is one C call
                event = decode(data) if v == current else decode_at(seq)
            except msgspec.DecodeError:  # a renamed or unknown type: the whole row says which
                event = decode_at(seq)
            folds[type(event)](rows, env, event)
        count += len(chunk)
        rows.maybe_flush()
    return count
