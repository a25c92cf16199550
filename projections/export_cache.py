"""Export lines kept beside a checkpoint: a table's JSON lines as of its seq, reused by later exports.

Most of an export's time is sqlite3 making a Python object of every cell and msgspec encoding
the row again (1.3 s of 1.7 s for 250,000 DVDs). A row that no event since the checkpoint
touched exports the same bytes it did then, so a file holds the table's JSON lines as of the
checkpoint (with each row's key), and an export copies the untouched stretches as they are and
encodes only the rows a fold since then wrote (SQLite triggers note their keys).

File layout: the lines, then the keys (int64) and each line's start offset (int64, one more than
rows), then a JSON footer saying what the file is, then the footer's length (8 bytes).
"""

from __future__ import annotations

import mmap
import os
import sqlite3
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from projections.export import keyed_lines
from projections.tables import TABLES

# Tables whose export lines depend only on their own rows, keyed by one INTEGER column (movies
# and tv name their genres from another table, so a rename there would go unnoticed).
CACHED = ("dvds",)
FORMAT = 1  # bump when the export's bytes change: older caches are then never used
SPAN_ROWS = 8192  # rows per chunk written: a few MB


class Footer(msgspec.Struct, frozen=True):
    """What a cache file says about itself; each must match before it is used."""

    table: str
    seq: int  # the checkpoint's seq ...
    hash: str  # ... and the log's chain hash there
    shape: str  # the checkpoint shape it was encoded from, and FORMAT
    rows: int
    lines_bytes: int
    byteorder: str = sys.byteorder


@dataclass(frozen=True)
class Cache:
    """An open cache file: its footer, keys, line offsets and lines (memory-mapped)."""

    footer: Footer
    keys: array
    starts: array
    lines: mmap.mmap

    def spans(self, first: int, end: int) -> Iterator[memoryview]:
        """The lines of rows ``first`` to ``end`` (excluded), a bounded chunk at a time."""
        view = memoryview(self.lines)
        for at in range(first, end, SPAN_ROWS):
            yield view[self.starts[at]:self.starts[min(at + SPAN_ROWS, end)]]


def shape(checkpoint_shape: str) -> str:
    """The shape a cache of a checkpoint of ``checkpoint_shape`` is written with."""
    return f"{checkpoint_shape}.export{FORMAT}"


def write(conn: sqlite3.Connection, table: str, path: Path, footer: dict[str, Any]) -> None:
    """Encode ``table`` of ``conn`` into a new cache file at ``path`` (a temp name: the caller renames).

    TypeError or OverflowError: a key that is not a 64-bit integer (the table cannot be cached).
    """
    keys, starts, size = array("q"), array("q"), 0
    with path.open("wb") as f:
        for batch in keyed_lines(conn, table):
            for key, line in batch:
                keys.append(key)
                starts.append(size)
                size += len(line)
            f.write(b"".join([line for _, line in batch]))
        starts.append(size)
        f.write(keys.tobytes())
        f.write(starts.tobytes())
        tail = msgspec.json.encode(Footer(table=table, rows=len(keys), lines_bytes=size, **footer))
        f.write(tail + len(tail).to_bytes(8, "little"))
        f.flush()
        os.fsync(f.fileno())


def read(path: Path) -> Cache | None:
    """The cache file at ``path``, or None when it is missing or not whole."""
    try:
        with path.open("rb") as f:
            whole = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # missing, unreadable or empty
        return None
    try:
        tail = int.from_bytes(whole[-8:], "little")
        footer = msgspec.json.decode(whole[-8 - tail:-8], type=Footer)
        keys_at = footer.lines_bytes
        starts_at = keys_at + 8 * footer.rows
        if footer.byteorder != sys.byteorder or starts_at + 8 * (footer.rows + 1) + tail + 8 != len(whole):
            return None
        keys, starts = array("q"), array("q")
        keys.frombytes(whole[keys_at:starts_at])
        starts.frombytes(whole[starts_at:starts_at + 8 * (footer.rows + 1)])
    except (ValueError, msgspec.DecodeError):
        return None
    return Cache(footer, keys, starts, whole)


def watch(conn: sqlite3.Connection, table: str) -> None:
    """Note in a temp table the key of each row of ``table`` written from now on (insert, update, delete)."""
    (key,) = TABLES[table].key
    conn.execute(f"CREATE TEMP TABLE touched_{table} (key PRIMARY KEY) WITHOUT ROWID")
    for op, rows in (("INSERT", "(NEW.{k})"), ("UPDATE", "(OLD.{k}), (NEW.{k})"), ("DELETE", "(OLD.{k})")):
        conn.execute(f"CREATE TEMP TRIGGER touched_{table}_{op.lower()} AFTER {op} ON main.{table} BEGIN "
                     f"INSERT OR IGNORE INTO touched_{table} VALUES {rows.format(k=key)}; END")


def changed_lines(conn: sqlite3.Connection, table: str) -> list[tuple[Any, bytes | None]]:
    """Each key noted by ``watch``, in key order, with its row's line now (None: no longer exported)."""
    (key,) = TABLES[table].key
    touched = f"SELECT key FROM temp.touched_{table}"
    now = {k: line for batch in keyed_lines(conn, table, where=f"{key} IN ({touched})") for k, line in batch}
    return [(k, now.get(k)) for (k,) in conn.execute(f"{touched} ORDER BY key")]


def merged(cache: Cache, changed: list[tuple[Any, bytes | None]]) -> Iterator[bytes | memoryview]:
    """The export's JSON lines: the cache's, with each changed key's line put in, replaced or left out."""
    keys, at, end = cache.keys, 0, cache.footer.rows
    for key, line in changed:
        i = bisect_left(keys, key, at)
        yield from cache.spans(at, i)
        if line is not None:
            yield line
        at = i + 1 if i < end and keys[i] == key else i
    yield from cache.spans(at, end)


def differs(cache: Cache, conn: sqlite3.Connection) -> bool:
    """Whether the cache (keys, offsets or lines) differs from an encoding of its table on ``conn`` now."""
    row, rows, offset = 0, cache.footer.rows, 0
    for batch in keyed_lines(conn, cache.footer.table):
        end = row + len(batch)
        starts = array("q")
        for _, line in batch:
            starts.append(offset)
            offset += len(line)
        if (end > rows or cache.keys[row:end] != array("q", [k for k, _ in batch])
                or cache.starts[row:end] != starts
                or cache.lines[starts[0]:offset] != b"".join([line for _, line in batch])):
            return True
        row = end
    return row != rows or cache.starts[rows] != offset
