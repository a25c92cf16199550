"""A write-back row cache: folds read and write rows here; one flush writes them in bulk.

Incremental application and replay share this, so both run the very same fold; they differ
only in how many events pass between flushes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from itertools import compress
from operator import ne
from typing import Any

import msgspec

from projections.row_sql import SQL, blind_updates, execute_writes, in_order, update_of, whole_rows
from projections.tables import TABLES

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.decode
_ABSENT = object()
RUN_ROWS = 256  # rows loaded ahead once reads follow the key order
# What a key's columns set blind weigh against the bound, in cells: the key, two tuples and a
# dict slot take ~210 bytes, as much as eight cells of cached rows (~26 bytes a cell, with the
# copy of what SQL held); ten, to err on the side of memory. Counted as one cell a column, a
# replay of the wide shape's 250,000 normalized DVDs held ~40 MB of them past the 150 MB bound.
BLIND_CELLS = 10
# Rows written whole (``write``) are flushed on their own once they hold this many cells (see
# _flush_written): in statements of ~10,000 command items, as cheap a row as in bigger ones.
WRITTEN_CELLS = 50_000
_POSITIONS = range(64)  # column positions, for compress()


def to_json(value: Any) -> str:
    """The text a JSON column holds, in a row as in SQL; a value a replay's view kept raw (the
    log's own text, which msgspec wrote from the same value) as it is."""
    if value.__class__ is msgspec.Raw:
        return str(value, "utf-8")
    return _json_encode(value).decode()


def from_json(text: str | None) -> Any:
    """The value of a JSON column's text (None stays None)."""
    return None if text is None else _json_decode(text)


def select_rows(conn: sqlite3.Connection, table: str, where: str = "1", params: tuple = (), *,
                limit: int | None = None) -> list[Any]:
    """Rows of a read table (its row structs) matching ``where``, by key, the first ``limit``."""
    t = TABLES[table]
    sql = f"SELECT {', '.join(t.columns)} FROM {table} WHERE {where} ORDER BY {', '.join(t.key)}"
    if limit:
        sql, params = sql + " LIMIT ?", (*params, limit)
    return [t.row(*r) for r in conn.execute(sql, params)]


class RowCache:
    """Rows (``Table.row`` structs) by table and key; ``None`` marks a missing or deleted row."""

    def __init__(self, conn: sqlite3.Connection, *, known_empty: bool = False,
                 max_cells: int = 2_000_000) -> None:
        """A cache over ``conn`` holding at most about ``max_cells`` cells before it flushes."""
        self.conn = conn
        # The bound counts cells (rows times columns), a fair proxy for memory: most values
        # are short strings or numbers, and a dvds row is four times a command_items row.
        self.max_cells = max_cells
        self._width = _WIDTH
        # During a replay from nothing, a key not cached is not in SQL either, as long as no
        # row of its table has been evicted: tables so known need no SELECT for a missing key.
        self._empty: set[str] = set(TABLES) if known_empty else set()
        self._read: set[str] = set()  # tables folds read back; the others are write-only
        self._rows: dict[str, dict[tuple, Any]] = {name: {} for name in TABLES}
        # Keys changed since the last flush, in the order first changed (a dict: sorting them
        # for the flush is then mostly merging runs).
        self._dirty: dict[str, dict[tuple, None]] = {name: {} for name in TABLES}
        # What SQL holds for the keys loaded from it (None: no row), so a flush writes only
        # the columns that changed: an UPDATE of two columns leaves the indexes alone. A
        # rebuild has no indexes until its end: it writes loaded rows whole, remembering nothing.
        self._remember = not known_empty
        self._stored: dict[str, dict[tuple, tuple | None]] = {name: {} for name in TABLES}
        self._size = 0
        # Columns set without reading their row (``set_columns``), by table and key, for rows
        # not cached: UPDATEs at the flush, or applied to the row if it is loaded first.
        # Each key's (column names, values): a pair of tuples, not a dict (a dict per call cost
        # 1.5 us of normalize's ~33 us a row).
        self._blind: dict[str, dict[tuple, tuple[tuple[str, ...], tuple]]] = {name: {} for name in TABLES}
        # Whole rows written blind (``write``), by table, in the order written.
        self._written: dict[str, list[tuple]] = {}
        self._sql = SQL
        self._last_miss: dict[str, Any] = {}  # per table, the key last loaded from SQL
        # Keys set blind by writes not yet run (see ``carry_statements``), by table, and what to
        # call before one is read from SQL (it waits for those writes): SQL is stale there until then.
        self._unsettled: dict[str, set[tuple]] = {}
        self.settle: Callable[[], None] | None = None
        self._reloads = dict.fromkeys(TABLES, 0)  # per table, forgotten rows loaded again (decaying)

    def get(self, table: str, key: tuple) -> Any:
        """The row at ``key`` (change its attributes, then ``put`` it back), or None."""
        rows = self._rows[table]
        row = rows.get(key, _ABSENT)
        if row is _ABSENT:
            self._read.add(table)
            row = None if table in self._empty else self._load(table, key)
            rows[key] = row
            self._size += self._width[table]
        return row

    def _load(self, table: str, key: tuple) -> Any:
        if self._unsettled.get(table):
            self._wait_unsettled()
        if len(key) == 1 and type(key[0]) is int:
            if self._last_miss.get(table) == key[0] - 1:
                self._load_run(table, key[0])
            self._last_miss[table] = key[0]
        found = self.conn.execute(self._sql[table][0], key).fetchone()
        if found is not None:
            self._reloads[table] += 1
        return self._keep_loaded(table, key, found)

    def _keep_loaded(self, table: str, key: tuple, found: tuple | None) -> Any:
        """Remember what SQL holds at ``key``; the row struct to cache (None: no row)."""
        if self._remember:
            self._stored[table][key] = found
            if found is not None:
                self._size += self._width[table]  # the stored copy costs as much again
        pending = self._blind[table].pop(key, None)
        if pending is not None:
            self._size -= BLIND_CELLS
        if found is None:
            return None  # an UPDATE of no row changes nothing
        row = TABLES[table].row(*found)
        if pending is not None:
            for name, value in zip(*pending, strict=True):
                setattr(row, name, value)
            self._dirty[table][key] = None
        return row

    def _load_run(self, table: str, first: int) -> None:
        """Rows read in key order (a command walking DVDs by id): load the next ones in one go."""
        t, rows = TABLES[table], self._rows[table]
        cursor = self.conn.execute(f"SELECT {', '.join(t.columns)} FROM {table} WHERE {t.key[0]} > ?"
                                   f" ORDER BY {t.key[0]} LIMIT {RUN_ROWS}", (first,))
        for found in cursor:
            key = (found[t.columns.index(t.key[0])],)
            if key not in rows:
                rows[key] = self._keep_loaded(table, key, found)
                self._size += self._width[table]

    def set_columns(self, table: str, key: tuple, names: tuple[str, ...], values: tuple) -> None:
        """Set some columns of the row at ``key``, if there is one, without reading it: a cached
        row is changed in place, else an UPDATE of those columns goes at the flush (normalize
        need not load and compare a DVD's 25 columns to change two)."""
        row = self._rows[table].get(key, _ABSENT)
        if row is _ABSENT:
            if table not in self._empty:  # a table known empty has no row to change
                blind = self._blind[table]
                if key in blind:  # set before: the later values win, column by column
                    merged = dict(zip(*blind[key], strict=True))
                    merged.update(zip(names, values, strict=True))
                    names, values = tuple(merged), tuple(merged.values())
                else:
                    self._size += BLIND_CELLS
                blind[key] = (names, values)
        elif row is not None:
            for name, value in zip(names, values, strict=True):
                setattr(row, name, value)
            self._dirty[table][key] = None

    def put(self, table: str, key: tuple, row: Any) -> None:
        """Store ``row`` at ``key`` (None deletes it) until the next flush."""
        if (blind := self._blind[table]) and key in blind:
            del blind[key]  # the whole row given replaces what was set blind before
            self._size -= BLIND_CELLS
        rows = self._rows[table]
        if key not in rows:
            self._size += self._width[table]
        rows[key] = row
        self._dirty[table][key] = None

    def changing(self, table: str, key: tuple) -> Any:
        """The row at ``key`` to change in place, marked to be written at the next flush (a ``get``
        and a ``put`` in one call); None if there is no row (nothing is marked then)."""
        row = self._rows[table].get(key, _ABSENT)
        if row is _ABSENT:
            row = self.get(table, key)
        if row is not None:
            self._dirty[table][key] = None
        return row

    def write(self, table: str, values: tuple) -> None:
        """Write a whole row (its values in column order) at the next flush, replacing any row
        at its key: for tables no fold reads back or changes (command_items), so no row struct,
        key or dirty mark is kept (they cost ~2 us a row)."""
        written = self._written.get(table)
        if written is None:
            written = self._written[table] = []
        written.append(values)
        self._size += self._width[table]

    def delete(self, table: str, key: tuple) -> None:
        """Delete the row at ``key`` at the next flush."""
        self.put(table, key, None)

    def maybe_flush(self) -> None:
        """Once the cache holds too many cells, write and forget what is least likely needed until
        it holds half: tables no fold reads back, then, table by table, the least reloaded first,
        rows not changed of late and then the rest (a DVD's events come in a burst; a catalogue
        title is listed again and again: reloading such titles cost 1.5 s in a million events).
        A table is written only when its turn comes: the mix's titles, changed again between
        flushes, were written at every one (47,349 rows for 10,000)."""
        if sum(len(w) * self._width[name] for name, w in self._written.items()) >= WRITTEN_CELLS:
            self._flush_written()
        if self._size < self.max_cells:
            return
        # Among tables reloaded as often, the biggest first: it frees the most.
        read = sorted(self._read, key=lambda n: (self._reloads[n], -len(self._rows[n]) * self._width[n]))
        for name in [n for n in self._rows if n not in self._read] + read:
            if self._size < self.max_cells // 2:
                break
            hot = {name: set(self._dirty[name])}
            execute_writes(self.conn, self._table_writes(name))
            if name in self._read:
                self._keep_only([name], hot)
            if self._size >= self.max_cells // 2:
                self._forget([name])
        for name in self._reloads:
            self._reloads[name] //= 2  # recent reloads weigh most

    def _flush_written(self) -> None:
        """Write the rows written whole (``write``) and drop them, the rest staying as it is: no
        fold reads them back, so holding them buys nothing, while a full flush forgets every table
        no fold reads, and one written by puts alone was then written again at each: the mix's
        20,000 offers, added and removed, took 142,736 rows and 71,367 deletes in a replay."""
        execute_writes(self.conn, self._written_writes())

    def _keep_only(self, names: Iterable[str], hot: dict[str, set[tuple]]) -> None:
        """Forget the rows of these tables not changed since the last flush."""
        for name in names:
            rows, keep = self._rows[name], hot[name]
            if len(keep) < len(rows):
                self._rows[name] = {k: rows[k] for k in keep}
                stored = self._stored[name]
                self._stored[name] = {k: stored[k] for k in keep if k in stored}
                self._empty.discard(name)
        # Counted again whole (columns set blind and rows written whole too: other tables may
        # hold some still).
        self._size = (sum((len(rows) + len(self._stored[n])) * self._width[n] for n, rows in self._rows.items())
                      + sum(len(blind) for blind in self._blind.values()) * BLIND_CELLS
                      + sum(len(w) * self._width[n] for n, w in self._written.items()))

    def _forget(self, names: Iterable[str]) -> None:
        """Drop every cached row of these tables (they must be flushed)."""
        for name in names:
            rows, stored = self._rows[name], self._stored[name]
            if rows:
                self._size -= (len(rows) + len(stored)) * self._width[name]
                rows.clear()
                stored.clear()
                self._empty.discard(name)

    def flush(self) -> None:
        """Write every dirty row: deletes, new rows in bulk, and loaded rows' changed columns."""
        execute_writes(self.conn, self._writes())

    def carry_statements(self) -> list[tuple[str, list[tuple]]]:
        """``flush_statements`` for a writer that runs them on another thread while it folds on:
        the rows they write stay cached (SQL does not hold them yet), the others are forgotten
        (SQL holds them), and a key they set blind is read from SQL only after ``settle()``."""
        hot = {name: set(keys) for name, keys in self._dirty.items()}
        self._unsettled = {name: set(keys) for name, keys in self._blind.items() if keys}
        writes = self._writes()
        self._keep_only(list(self._rows), hot)
        return writes

    def _wait_unsettled(self) -> None:
        """Wait for the writes that set keys blind (``carry_statements``): SQL then holds them."""
        if self.settle is not None:
            self.settle()
        self._unsettled = {}

    def flush_statements(self) -> list[tuple[str, list[tuple]]]:
        """What ``flush`` would run, with nothing dirty after: ``execute`` runs it (Python first,
        the SQL after, for the record path)."""
        return self._writes()

    def execute(self, statements: list[tuple[str, list[tuple]]]) -> None:
        """Run ``flush_statements``' statements."""
        execute_writes(self.conn, statements)

    def _writes(self) -> list[tuple[str, list[tuple]]]:
        """The statements that write every dirty row, with their parameters; nothing dirty after."""
        out = self._written_writes()
        for name in self._dirty:
            out += self._table_writes(name)
        return out

    def _table_writes(self, name: str) -> list[tuple[str, list[tuple]]]:
        """The statements that write one table's dirty rows and the columns set blind in it;
        nothing of it dirty after."""
        out: list[tuple[str, list[tuple]]] = []
        keys = self._dirty[name]
        if keys:
            _select, delete, _upsert, values = self._sql[name]
            rows, stored = self._rows[name], self._stored[name]
            ordered = in_order(keys)
            if not stored:  # nothing loaded from SQL (a replay): every row is written whole
                gone = [k for k in ordered if rows[k] is None]
                if gone:
                    out.append((delete, gone))
                out += whole_rows(name, list(map(values, filter(None, map(rows.__getitem__, ordered)))))
            else:
                out += self._changes(name, ordered)
            keys.clear()
        blind = self._blind[name]
        if blind:
            out += blind_updates(name, blind)
            self._size -= len(blind) * BLIND_CELLS
            blind.clear()
        return out

    def _written_writes(self) -> list[tuple[str, list[tuple]]]:
        """The upserts of the rows written whole, in the order written; none held after."""
        out: list[tuple[str, list[tuple]]] = []
        for name, written in self._written.items():
            # In the order written: the upsert leaves each key's last row. Keeping only the
            # last of each and sorting them cost more than it saved: a command's items come in
            # near key order already (line:100000, line:100001, ...), and the wide shape's 500,000
            # went in in 1.55 s so against 1.78 s.
            out.append((self._sql[name][2], written))
            self._size -= len(written) * self._width[name]
        self._written = {}
        return out

    def _changes(self, name: str, keys: list[tuple]) -> list[tuple[str, list[tuple]]]:
        """The writes of one table whose rows were loaded: UPDATEs of the changed columns only."""
        _select, delete, _upsert, values = self._sql[name]
        rows, stored = self._rows[name], self._stored[name]
        gone: list[tuple] = []
        whole: list[tuple] = []
        changed: dict[tuple[int, ...], list[tuple]] = {}
        for key in keys:
            row, was = rows[key], stored.get(key, _ABSENT)
            now = None if row is None else values(row)
            if now is None:
                if was is not None:
                    gone.append(key)
            elif was is None or was is _ABSENT:
                whole.append(now)
            elif now != was:
                # In C, column by column: a Python loop over a dvds row's 25 columns was
                # a tenth of normalize-uk-certifications' writer time.
                differs = list(map(ne, now, was))
                changed.setdefault(tuple(compress(_POSITIONS, differs)), []).append(
                    (*compress(now, differs), *key))
            if was is not _ABSENT:
                stored[key] = now
        out = [(delete, gone), *whole_rows(name, whole)]
        out += [(update_of(name, cols), params) for cols, params in changed.items()]
        return [(sql, params) for sql, params in out if params]


# Built once per table (the record path makes a cache per transaction).
_WIDTH = {t.name: len(t.columns) for t in TABLES.values()}
