"""Streaming rows back out of the log: filtered, in seq order, a batch at a time."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import NamedTuple

READ_BATCH = 2000
_SAMPLE_BATCH = 500  # seqs looked up a statement (SQLite allows 32,766 parameters)


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


def read_rows(conn: sqlite3.Connection, *, after_seq: int = 0, params: tuple = (), batch: int = READ_BATCH,
              **filters: object) -> Iterator[StoredRecord]:
    """Stream rows in order, a batch at a time (never the whole log in memory), filtered."""
    sql, args = read_query(**filters)  # type: ignore[arg-type]
    for rows in _batches(conn, sql, after_seq, (*args, *params), batch):
        yield from map(_stored, rows)


def fold_rows(conn: sqlite3.Connection, *, after_seq: int = 0, until_seq: int | None = None,
              types: Sequence[str] = ()) -> sqlite3.Cursor:
    """Plain ``(seq, at, command_id, data, v)`` tuples of (after_seq, until_seq], in order,
    of the given types only if any.

    Replay's hot path: only the columns a fold needs (the event's tag is inside ``data``),
    one statement streamed by its cursor, no record built per row.
    """
    sql, params = "SELECT seq, at, command_id, data, v FROM events WHERE seq > ?", [after_seq]
    if until_seq is not None:
        sql, params = f"{sql} AND seq <= ?", [*params, until_seq]
    if types:  # "+type": walk seq, as the order asks, rather than sort what a type index finds
        sql, params = f"{sql} AND +type IN ({', '.join('?' * len(types))})", [*params, *types]
    return conn.execute(f"{sql} ORDER BY seq", params)


FOLD_CHUNK_SEQS = 1024  # seqs a chunk of fold_chunks spans


class FoldChunk(NamedTuple):
    """The rows of a span of seqs, each column as one string: seqs, times and command ids (NULL as
    an empty string) joined by commas, and the data as one JSON array; with the span, how many
    rows, how many have a command id, and their lowest and highest ``v`` (a span of no rows of
    the types asked: counts of 0, the strings and ``v`` None)."""

    after_seq: int
    until_seq: int
    count: int
    seqs: str | None
    ats: str | None
    command_ids: str | None
    with_command_id: int
    data: str | None
    v_min: int | None
    v_max: int | None


def fold_chunks(conn: sqlite3.Connection, *, after_seq: int = 0, until_seq: int | None = None,
                types: Sequence[str] = (), present: Sequence[str] = (),
                on_chunk: Callable[[int], None] | None = None) -> Iterator[FoldChunk]:
    """The rows of (after_seq, until_seq] of the given types only if any, FOLD_CHUNK_SEQS seqs
    a chunk, in seq order; until_seq None: up to the last row when this starts.

    Replay's hot path. Python's sqlite3 builds a tuple and a string per column of every row
    (2.3 s for a million rows of five columns, against 0.3 s for SQLite to walk them); a chunk's
    columns joined by SQLite and split or decoded in C took 2.8 s for the million with their
    decoding, against 3.7 row by row. The log is append-only, so chunks read by separate
    statements see the very rows one statement would. ``present``, the types in the log if
    known, narrows the filter to the shortest that says the same (see type_filter). ``on_chunk``
    is told the seq reached once each chunk has been taken and the next is asked for.
    """
    if until_seq is None:
        until_seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    where, params = type_filter(types, present)
    if where is None:
        return  # no row of these types in the log
    sql = ("SELECT COUNT(*), group_concat(seq), group_concat(at), group_concat(COALESCE(command_id, '')),"
           f" COUNT(command_id), '[' || group_concat(data) || ']', MIN(v), MAX(v)"
           f" FROM events WHERE seq > ? AND seq <= ?{where}")
    for start in range(after_seq, until_seq, FOLD_CHUNK_SEQS):
        end = min(start + FOLD_CHUNK_SEQS, until_seq)
        # fetchall: the statement ends at once (DROP and CREATE INDEX wait for no open one)
        yield FoldChunk(start, end, *conn.execute(sql, (start, end, *params)).fetchall()[0])
        if on_chunk is not None:
            on_chunk(end)


def type_filter(types: Sequence[str], present: Sequence[str] = ()) -> tuple[str | None, tuple[str, ...]]:
    """The WHERE clause (after seq's) keeping rows of ``types``, with its parameters; None: no row
    can match. Given the types ``present`` in the log, only those count, and a shorter list of the
    others excluded may say the same: SQLite tests each row against an IN list through a lookup
    table, so the wide shape's DVD share (2 of its 13 types in the log) walked its million rows in
    0.28 s of CPU instead of 0.44, and the commands' share excluding 2 types in 0.32."""
    if not types:
        return "", ()
    if not present:
        return f" AND +type IN ({', '.join('?' * len(types))})", tuple(types)
    in_log, asked = set(present), set(types)
    wanted = tuple(t for t in types if t in in_log)
    others = tuple(t for t in present if t not in asked)
    if not wanted:
        return None, ()
    if not others:
        return "", ()
    if len(others) < len(wanted):
        return "".join(" AND type <> ?" for _ in others), others
    return f" AND +type IN ({', '.join('?' * len(wanted))})", wanted


def read_plan(conn: sqlite3.Connection, **filters: object) -> list[str]:
    """How SQLite runs ``read_rows`` with these filters (EXPLAIN QUERY PLAN): index or scan."""
    sql, args = read_query(**filters)  # type: ignore[arg-type]
    return [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", (0, *args, READ_BATCH))]


def read_query(*, until_seq: int | None = None, until_at: str | None = None, since_at: str | None = None,
               command_id: str | None = None, subject: str | None = None, types: Sequence[str] = (),
               where: str = "") -> tuple[str, list]:
    """The reading SELECT (parameters: the seq to start after, then these, then the batch size)."""
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


def sample_types(conn: sqlite3.Connection, *, until_seq: int, points: int) -> list[str]:
    """The types of about ``points`` rows drawn at random over seqs 1..until_seq (each found by
    its seq: no scan), to estimate the log's mix of types cheaply; the same log, the same rows."""
    # At random, not every Nth seq: an import writes DvdAdded and ItemProcessed by turns, and an
    # even stride saw only the ItemProcessed rows (so a replay of one ran in one process).
    seqs = sorted(random.Random(until_seq).sample(range(1, until_seq + 1), min(points, max(0, until_seq))))
    found: list[str] = []
    for start in range(0, len(seqs), _SAMPLE_BATCH):
        chunk = seqs[start:start + _SAMPLE_BATCH]
        found += [t for (t,) in conn.execute(
            f"SELECT type FROM events WHERE seq IN ({','.join('?' * len(chunk))})", chunk)]
    return found
