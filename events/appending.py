"""Writing rows into the event log: multi-row INSERTs that bind the columns a run shares once,
and the ``at`` column's text."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

ROW_COLUMNS = 5  # bound for each row: seq, type, subject, data, hash (see chain.chained_rows)
# Rows per INSERT: the biggest statement, then halves for the rest of a run, so every row goes
# in a multi-row statement (one of 200 rows cost ~2 us a row less than executemany; 500 and
# 1000 no less). Ten statements in all, each prepared once per connection.
MAX_ROWS = 256


def _statement(rows: int) -> str:
    """An INSERT of ``rows`` rows whose at, command_id and v are parameters 1-3, bound once:
    three fewer parameters a row (each costs sqlite3 a bind and a copy) measured 6.2 -> 5.5 us
    an event for the INSERT.

    OR FAIL, not the default ABORT: an ABORT must be able to undo its own statement's rows, so
    SQLite copied every page each INSERT touched (the seq and subject index pages above all)
    into a statement journal, a temporary file: 126 MB of writes in an import of 250,000 rows.
    A failed INSERT fails the whole transaction anyway: EventStore.atomic rolls it back.
    """
    values = ", ".join(f"(?{b}, ?{b + 1}, ?1, ?2, ?{b + 2}, ?3, ?{b + 3}, ?{b + 4})"
                       for b in range(4, 4 + ROW_COLUMNS * rows, ROW_COLUMNS))
    return f"INSERT OR FAIL INTO events (seq, type, at, command_id, subject, v, data, hash) VALUES {values}"


_STATEMENTS = {rows: _statement(rows) for rows in (1 << n for n in range(MAX_ROWS.bit_length()))}


def insert_rows(conn: sqlite3.Connection, values: list, at: str, command_id: str | None, v: int) -> None:
    """INSERT one run's rows (``values``: ROW_COLUMNS a row, one after another) sharing at,
    command_id and v."""
    shared = [at, command_id, v]
    execute = conn.execute
    start, end = 0, len(values)
    while start < end:
        left = (end - start) // ROW_COLUMNS
        rows = MAX_ROWS if left >= MAX_ROWS else 1 << (left.bit_length() - 1)
        stop = start + rows * ROW_COLUMNS
        execute(_STATEMENTS[rows], shared + values[start:stop])
        start = stop


_second_text = (-1, "")  # the last whole second formatted: strftime cost ~6 us an append


def at_text(ns: int) -> str:
    """A time in nanoseconds since the epoch as the ``at`` column writes it (2026-11-27T14:20:05.123456Z)."""
    global _second_text
    seconds, rest_ns = divmod(ns, 1_000_000_000)
    cached_second, text = _second_text
    if seconds != cached_second:
        text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_text = (seconds, text)  # one tuple: threads see both halves or neither
    return f"{text}.{rest_ns // 1000:06d}Z"


def utc_now() -> str:
    """Now as UTC ISO 8601 with microseconds and a Z, the format of the ``at`` column."""
    return at_text(time.time_ns())
