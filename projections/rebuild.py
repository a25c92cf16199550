"""Rebuilding the read tables from the log's rows: replay, and time travel from a checkpoint.

The log hands over its rows a span of seqs at a time, each span one JSON document decoded in one
call (a row of an old version or a renamed type goes row by row); each event is folded through
the very folds incremental recording uses, into a row cache kept to a bound.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from operator import ge
from typing import Union

import msgspec

from events.reading import FoldChunk
from events.types import SCHEMA_VERSION, AnyEvent, Event
from projections.fold import Position, folds_by_type, replay_types
from projections.rows import RowCache
from projections.tables import create_indexes, create_tables, drop_tables

REPLAY_CACHE_CELLS = 400_000  # rows times columns: a replay peaks near 100 MB at 1,000,000 events
REPLAY_CACHE_KIB = 32 * 1024  # SQLite's page cache during a replay: fewer spills of dirty pages
_union_decode = msgspec.json.Decoder(AnyEvent).decode
_Columns = tuple[list[int], list[str], list["str | None"], list[Event]]
_seqs_decode = msgspec.json.Decoder(list[int]).decode
_NOTHING: _Columns = ([], [], [], [])


@dataclass(frozen=True, slots=True)
class Replay:
    """What a rebuild reads: the log's rows a span of seqs at a time, the plain rows of one span,
    and how to decode one row from scratch."""

    chunks: Callable[[], Iterable[FoldChunk]]  # read once the tables are made: DROP waits for no reader
    rows_of: Callable[[int, int], Iterable[tuple]]  # (seq, at, command_id, data, v) of (after, until]
    decode_at: Callable[[int], Event]  # the slow path (an old version, a renamed type); raises naming the row


@dataclass(frozen=True, slots=True)
class Share:
    """The part of a rebuild one process does: only these modules' folds (None: all), with a
    row cache of this bound, and what to run once they are done, before the indexes are built
    (a parallel replay copies the other process's tables in then)."""

    modules: frozenset[str] | None = None
    # Read when a share is made, not when this class is: a test lowers the bound to make a small
    # log evict (as a default value, the module's constant was fixed at import, and no test evicted).
    max_cells: int = field(default_factory=lambda: REPLAY_CACHE_CELLS)
    then: Callable[[sqlite3.Connection], None] | None = None
    page_cache_kib: int = field(default_factory=lambda: REPLAY_CACHE_KIB)


def rebuild(replay: Replay, conn: sqlite3.Connection, *, fresh: bool, share: Share | None = None) -> int:
    """Fold the replay's rows into the read tables on ``conn`` (from nothing if ``fresh``), with
    all folds and the replay's bounds unless ``share`` says otherwise; how many."""
    share = share or Share()
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
    with _collector_paused():
        count = fold_all(replay, rows, folds_by_type(share.modules))
    rows.flush()
    return count


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while folding: events, rows and their lists never form a
    cycle, yet each thousand of them woke it, and with the CLI's modules loaded its sweeps cost
    ~0.35 s of 3.3 in reading and decoding a million rows. The cache's bound caps memory."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def fold_all(replay: Replay, rows: RowCache, folds: dict[type[Event], Callable] | None = None) -> int:
    """Decode and fold every row (with ``folds``, by default every one), a chunk at a time, the
    row cache kept to its bound after each; how many."""
    folds = folds or folds_by_type()
    env, count = Position(), 0
    for chunk in replay.chunks():
        decoded = _decoded(chunk)
        if decoded is None:  # a row of an old version or an unknown type: row by row
            count += _fold_rows(replay.rows_of(chunk.after_seq, chunk.until_seq), replay.decode_at, rows,
                                folds, env)
        else:
            seqs, ats, command_ids, events = decoded
            for seq, at, command_id, event in zip(seqs, ats, command_ids, events):  # noqa: B905 - same lengths
                env.seq, env.at, env.command_id = seq, at, command_id
                folds[type(event)](rows, env, event)
            count += len(seqs)
        rows.maybe_flush()
    return count


def _decoded(chunk: FoldChunk) -> _Columns | None:
    """A chunk's seqs, times, command ids and events; None when a row needs the slow path (not of
    the current version, a type no longer known, not valid) or the columns do not split evenly."""
    count = chunk.count
    if not count:
        return _NOTHING
    if chunk.v_min != SCHEMA_VERSION or chunk.v_max != SCHEMA_VERSION:
        return None
    try:
        events = _events_decoder()(chunk.data)
        seqs = _seqs_decode(f"[{chunk.seqs}]")
    except msgspec.DecodeError:  # the row by row path then says which row, if any is wrong
        return None
    ats, command_ids = chunk.ats.split(","), chunk.command_ids.split(",")
    if not len(events) == len(seqs) == len(ats) == len(command_ids) == count or any(map(ge, seqs, seqs[1:])):
        return None  # a comma inside a value, rows out of order: the rows themselves are the truth
    if chunk.with_command_id < count:  # NULLs came as empty strings
        if command_ids.count("") != count - chunk.with_command_id:
            return None  # an empty command id beside a NULL one: they cannot be told apart here
        command_ids = [c or None for c in command_ids]
    return seqs, ats, command_ids, events


@cache
def _events_decoder() -> Callable[[str], list[Event]]:
    """What decodes a chunk's data column in one call, into the events or their lighter views
    (built at first use: the views are registered as projections is imported)."""
    return msgspec.json.Decoder(list[Union[replay_types()]]).decode  # noqa: UP007 - a tuple of types


def _fold_rows(found: Iterable[tuple], decode_at: Callable[[int], Event], rows: RowCache,
               folds: dict[type[Event], Callable], env: Position) -> int:
    """Fold plain (seq, at, command_id, data, v) rows one by one; how many."""
    decode, current, count = _union_decode, SCHEMA_VERSION, 0
    for seq, at, command_id, data, v in found:
        env.seq, env.at, env.command_id = seq, at, command_id
        try:
            event = decode(data) if v == current else decode_at(seq)
        except msgspec.DecodeError:  # a renamed or unknown type: the whole row says which
            event = decode_at(seq)
        folds[type(event)](rows, env, event)
        count += 1
    return count
