"""A write-back row cache: folds read and write rows here; one flush writes them in bulk.

Incremental application and replay share this, so both run the very same fold; they differ
only in how many events pass between flushes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from projections.tables import TABLES, Table

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.decode
_ABSENT = object()


class RowCache:
    """Rows by table and key; ``None`` marks a deleted row. Flushes dirty rows in bulk."""

    def __init__(self, conn: sqlite3.Connection, *, known_empty: bool = False,
                 max_rows: int = 100_000) -> None:
        self.conn = conn
        self.max_rows = max_rows
        # During a replay from nothing, a key not yet cached cannot be in SQL until a flush.
        self._known_empty = known_empty
        self._rows: dict[str, dict[tuple, Any]] = {name: {} for name in TABLES}
        self._dirty: dict[str, set[tuple]] = {name: set() for name in TABLES}
        self._size = 0
        self._select = {t.name: self._select_sql(t) for t in TABLES.values()}

    @staticmethod
    def _select_sql(t: Table) -> str:
        where = " AND ".join(f"{k} = ?" for k in t.key)
        return f"SELECT {', '.join(t.columns)} FROM {t.name} WHERE {where}"

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        """The row at ``key`` (a dict the caller may change and ``put`` back), or None."""
        rows = self._rows[table]
        row = rows.get(key, _ABSENT)
        if row is _ABSENT:
            row = None if self._known_empty else self._load(TABLES[table], key)
            rows[key] = row
            self._size += 1
        return row

    def _load(self, t: Table, key: tuple) -> dict[str, Any] | None:
        found = self.conn.execute(self._select[t.name], key).fetchone()
        if found is None:
            return None
        row = dict(zip(t.columns, found))
        for col in t.json_columns:
            if row[col] is not None:
                row[col] = _json_decode(row[col])
        return row

    def put(self, table: str, key: tuple, row: dict[str, Any] | None) -> None:
        """Store ``row`` at ``key`` (None deletes it) until the next flush."""
        rows = self._rows[table]
        if key not in rows:
            self._size += 1
        rows[key] = row
        self._dirty[table].add(key)

    def delete(self, table: str, key: tuple) -> None:
        """Delete the row at ``key`` at the next flush."""
        self.put(table, key, None)

    def maybe_flush(self) -> None:
        """Flush and forget the cache once it holds too many rows (bounds replay memory)."""
        if self._size >= self.max_rows:
            self.flush()
            for rows in self._rows.values():
                rows.clear()
            self._size = 0
            self._known_empty = False

    def flush(self) -> None:
        """Write every dirty row (deletes first, then upserts) in bulk."""
        for name, keys in self._dirty.items():
            if not keys:
                continue
            t = TABLES[name]
            rows = self._rows[name]
            gone = [k for k in keys if rows[k] is None]
            live = _values(t, [rows[k] for k in keys if rows[k] is not None])
            if gone:
                where = " AND ".join(f"{k} = ?" for k in t.key)
                self.conn.executemany(f"DELETE FROM {name} WHERE {where}", gone)
            if live:
                marks = ", ".join("?" * len(t.columns))
                self.conn.executemany(
                    f"INSERT OR REPLACE INTO {name} ({', '.join(t.columns)}) VALUES ({marks})", live)
            keys.clear()


def _values(t: Table, rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Each row's column values in order, JSON columns encoded as text (the hot loop of a flush)."""
    columns = t.columns
    json_at = [i for i, c in enumerate(columns) if c in t.json_columns]
    out = []
    for row in rows:
        values = list(map(row.get, columns))
        for i in json_at:
            if values[i] is not None:
                values[i] = _json_encode(values[i]).decode()
        out.append(values)
    return out
