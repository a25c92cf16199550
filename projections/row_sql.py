"""The SQL a row cache writes with: each table's statements, whole rows by their non-null columns,
columns set blind, multi-row INSERTs and UPDATEs, rows in key order."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from itertools import chain, compress
from operator import is_not, itemgetter
from typing import Any

import msgspec

from projections.tables import TABLES, Table

# A flush writes as many rows as this or more of one INSERT as multi-row statements of about
# MULTI_PARAMS values each (SQLite allows 32,766 since 3.32; the event log's use 1,600).
MULTI_ROWS_MIN = 16
MULTI_PARAMS = 1000
WIDE_COLUMNS = 10  # tables this wide write each row's non-null columns only (see whole_rows)
_NONES = (None,) * 64


def in_order(keys: dict[tuple, None]) -> list[tuple]:
    """Keys sorted, so B-tree writes go page by page: 500,000 rows written in key order took
    2.1 s against 5.7 s in a set's order (keys mixing None with values stay as they are)."""
    try:
        return sorted(keys)
    except TypeError:
        return list(keys)


def execute_writes(conn: sqlite3.Connection, writes: list[tuple[str, list[tuple]]]) -> None:
    """Run each statement over its parameters (on either thread: SQLite lets go of the GIL).

    Many rows of one INSERT go as multi-row statements: executemany costs a statement reset and
    a step per row, and its rows cost 1.4 us more each for command_items, 3.3 us for dvds.
    """
    for sql, params in writes:
        if len(params) < MULTI_ROWS_MIN:
            conn.executemany(sql, params)
        elif sql.startswith("INSERT"):
            insert_rows(conn, sql, params)
        elif sql in _update_shapes:
            update_rows(conn, sql, params)
        else:
            conn.executemany(sql, params)


def insert_rows(conn: sqlite3.Connection, sql: str, params: list[tuple]) -> None:
    """An INSERT of one row's VALUES run over many rows, in statements of many rows each; a
    column holding the same text (or NULL) in every row is bound once a statement."""
    shared = _shared(params)
    per = max(1, MULTI_PARAMS // (len(params[0]) - len(shared)))  # rows a statement
    multi = _multi_inserts.get((sql, shared, per))
    if multi is None:
        head, _, row = sql.partition(" VALUES ")
        tail = row[row.index(")") + 1:]  # an upsert's ON CONFLICT clause, said once
        rows = ", ".join(_row_values(len(params[0]), shared, r) for r in range(per))
        multi = _multi_inserts[sql, shared, per] = f"{head} VALUES {rows}{tail}"
    _in_statements(conn, multi, per, sql, params, shared)


def _shared(params: list[tuple]) -> tuple[int, ...]:
    """The columns (their positions) holding the same text, or NULL, in every row, with at least
    two columns left that do not: a batch of the record path shares its time, command and
    outcome, and sqlite3 binds each value with the GIL held (normalize 11.4-12.1 -> 10.9-11.5 s
    in turns; import within its noise). Only text and NULL, whose equality is identity of what
    SQLite stores (1 == 1.0 == True are not)."""
    if len(params) < MULTI_ROWS_MIN:
        return ()
    first, count = params[0], len(params)
    # The first, middle and last rows weed out most columns before any is read whole (building
    # every column of a flush's rows was 6% of a replay's DVD share).
    middle, last = params[count // 2], params[-1]
    maybe = [i for i, value in enumerate(first)
             if (value is None or isinstance(value, str)) and middle[i] == value and last[i] == value]
    shared = tuple(i for i in maybe if list(map(itemgetter(i), params)).count(first[i]) == count)
    return shared if len(first) - len(shared) >= 2 else ()  # itemgetter of one column gives no tuple


def _row_values(width: int, shared: tuple[int, ...], row: int) -> str:
    """One row's VALUES of a multi-row statement: shared columns are parameters 1.., the others
    numbered on after them, row by row."""
    varying = width - len(shared)
    numbers = iter(range(len(shared) + row * varying + 1, len(shared) + (row + 1) * varying + 1))
    return "(" + ", ".join(f"?{shared.index(i) + 1}" if i in shared else f"?{next(numbers)}"
                           for i in range(width)) + ")"


def _in_statements(conn: sqlite3.Connection, multi: str, per: int, one: str, params: list[tuple],
                   shared: tuple[int, ...] = ()) -> None:
    """Rows' parameters run ``per`` rows at a time through ``multi`` (the ``shared`` columns'
    values first, once), the rest through ``one``."""
    whole = len(params) - len(params) % per
    if shared:
        head = [params[0][i] for i in shared]
        pick = itemgetter(*(i for i in range(len(params[0])) if i not in shared))
        for start in range(0, whole, per):
            conn.execute(multi, head + list(chain.from_iterable(map(pick, params[start:start + per]))))
    else:
        for start in range(0, whole, per):
            conn.execute(multi, list(chain.from_iterable(params[start:start + per])))
    if whole < len(params):
        conn.executemany(one, params[whole:])


def update_sql(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """``UPDATE table SET <columns> WHERE <key>`` for one row, which execute_writes runs over many
    rows as ``UPDATE ... FROM (VALUES ...)`` statements of many rows each."""
    sql = (f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} "
           f"WHERE {' AND '.join(f'{k} = ?' for k in key)}")
    if _UPDATE_FROM:
        _update_shapes[sql] = (table, columns, key)
    return sql


def update_rows(conn: sqlite3.Connection, sql: str, params: list[tuple]) -> None:
    """A one-row UPDATE of update_sql run over many rows (their keys distinct), in statements of
    many rows each: 71,000 DVDs' certificates took 0.43 s so against 0.53 s by executemany. A
    column set to the same text (or NULL) in every row is bound once a statement."""
    table, columns, key = _update_shapes[sql]
    shared = tuple(i for i in _shared(params) if i < len(columns))  # the key's columns always vary
    per = max(1, MULTI_PARAMS // (len(params[0]) - len(shared)))
    multi = _multi_updates.get((sql, shared, per))
    if multi is None:
        multi = _multi_updates[sql, shared, per] = _multi_update(table, columns, key, shared, per)
    _in_statements(conn, multi, per, sql, params, shared)


def _multi_update(table: str, columns: tuple[str, ...], key: tuple[str, ...], shared: tuple[int, ...],
                  per: int) -> str:
    """``UPDATE ... FROM (VALUES ...)`` of ``per`` rows: shared columns set from parameters 1..,
    the others and the key from the VALUES."""
    width = len(columns) + len(key) - len(shared)
    varying = [i for i in range(len(columns) + len(key)) if i not in shared]
    sets = ", ".join(f"{c} = ?{shared.index(i) + 1}" if i in shared else f"{c} = v.column{varying.index(i) + 1}"
                     for i, c in enumerate(columns))
    where = " AND ".join(f"{table}.{k} = v.column{varying.index(len(columns) + j) + 1}" for j, k in enumerate(key))
    # The VALUES' parameters are numbered on after the shared ones.
    rows = ", ".join("(" + ", ".join(f"?{len(shared) + r * width + c + 1}" for c in range(width)) + ")"
                     for r in range(per))
    return f"UPDATE {table} SET {sets} FROM (VALUES {rows}) AS v WHERE {where}"


def statements(t: Table) -> tuple[str, str, str, Callable[[Any], tuple]]:
    """SELECT by key, DELETE by key, the upsert (see upsert_sql), and a row's values in column order."""
    where = " AND ".join(f"{k} = ?" for k in t.key)
    cols = ", ".join(t.columns)
    return (f"SELECT {cols} FROM {t.name} WHERE {where}",
            f"DELETE FROM {t.name} WHERE {where}",
            upsert_sql(t, t.columns),
            msgspec.structs.astuple)  # a row struct's fields are its columns, in order


def upsert_sql(t: Table, columns: tuple[str, ...]) -> str:
    """An INSERT of these columns of a row that replaces any row at its key (the others NULL).

    A table keyed by its rowid takes INSERT OR REPLACE. One WITHOUT ROWID takes OR FAIL with an
    UPDATE of every other column on its key's conflict, the same row in the end: its key columns
    are NOT NULL, and a REPLACE that may meet a NULL key may abort, so SQLite journaled every
    page each statement touched, to be able to undo it alone (51 MB of temporary-file writes in
    a replay of a million events); the read tables have no other unique index to conflict on.
    Before SQLite 3.24 (no upsert) every table takes INSERT OR REPLACE.
    """
    values = f"({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if t.rowid or not _UPSERT:
        return f"INSERT OR REPLACE INTO {t.name} {values}"
    others = [c for c in t.columns if c not in t.key]
    sets = ", ".join(f"{c} = excluded.{c}" if c in columns else f"{c} = NULL" for c in others)
    action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
    return f"INSERT OR FAIL INTO {t.name} {values} ON CONFLICT ({', '.join(t.key)}) {action}"


def whole_rows(name: str, rows: list[tuple]) -> list[tuple[str, list[tuple]]]:
    """Upserts of whole rows of table ``name``; a wide table's rows grouped by their non-null
    columns.

    Binding a None costs sqlite3 an adapter call (0.4 us even with tracker.db's registered
    one) against 0.15 for a number: a new DVD's row has 16 of its 25 columns empty, and
    leaving them out saved 1 s of a 20 s replay of the wide shape.
    """
    if len(TABLES[name].columns) < WIDE_COLUMNS:
        return [(SQL[name][2], rows)]
    groups: dict[tuple[bool, ...], list[tuple]] = {}
    # The columns of the row last grouped with each count of empty ones: a row with as many
    # empty, none of them among those columns, has the very same (a count and a pick are C
    # calls; a row's mask took 1.7 us of its 2.3: 0.4 s of the wide shape's DVDs).
    by_count: dict[int, tuple[Callable[[tuple], tuple], list[tuple]]] = {}
    for values in rows:
        empty = values.count(None)
        seen = by_count.get(empty)
        if seen is not None:
            picked = seen[0](values)
            if None not in picked:
                seen[1].append(picked)
                continue
        mask = tuple(map(is_not, values, _NONES))
        pick = _insert_of(name, mask)[1] or tuple  # tuple() of a tuple is that tuple
        group = groups.setdefault(mask, [])
        group.append(pick(values))
        by_count[empty] = (pick, group)
    return [(_insert_of(name, mask)[0], group) for mask, group in groups.items()]


def _insert_of(name: str, mask: tuple[bool, ...]) -> tuple[str, Callable[[tuple], tuple] | None]:
    """The upsert of the columns ``mask`` marks (the others NULL), and what picks their values
    from a whole row (None: all of them), built once per mask."""
    found = _INSERTS.get((name, mask))
    if found is None:
        sql = upsert_sql(TABLES[name], tuple(compress(TABLES[name].columns, mask)))
        where = [i for i, set_ in enumerate(mask) if set_]
        pick = None if all(mask) else itemgetter(*where) if len(where) > 1 else lambda v: (v[where[0]],)
        found = _INSERTS[name, mask] = (sql, pick)
    return found


def blind_updates(name: str, blind: dict[tuple, tuple[tuple[str, ...], tuple]]) -> list[tuple[str, list[tuple]]]:
    """UPDATEs of the columns set blind (by key: the column names and values), grouped by which
    columns, in key order."""
    columns = TABLES[name].columns
    changed: dict[tuple[str, ...], list[tuple]] = {}
    for key in in_order(blind):
        names, values = blind[key]
        changed.setdefault(names, []).append((*values, *key))
    return [(update_of(name, tuple(map(columns.index, names))), params) for names, params in changed.items()]


def update_of(name: str, cols: tuple[int, ...]) -> str:
    """``UPDATE name SET <the columns at these positions> WHERE <key>``, built once per set."""
    sql = _UPDATES.get((name, cols))
    if sql is None:
        t = TABLES[name]
        sql = _UPDATES[name, cols] = update_sql(name, tuple(t.columns[i] for i in cols), t.key)
    return sql


_UPSERT = sqlite3.sqlite_version_info >= (3, 24)  # INSERT ... ON CONFLICT DO UPDATE (see upsert_sql)
# Built once: the record path makes a cache per transaction, and formatting ten tables' SQL
# each time cost more than folding a small batch.
SQL = {t.name: statements(t) for t in TABLES.values()}
# Multi-row INSERTs by single-row INSERT, shared columns and rows a statement (see insert_rows).
_multi_inserts: dict[tuple[str, tuple[int, ...], int], str] = {}
# Each one-row UPDATE's table, columns and key (see update_sql), and its multi-row statements by
# shared columns and rows a statement, with SQLite 3.33's UPDATE ... FROM; before it, the one-row
# UPDATE runs row by row.
_update_shapes: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
_multi_updates: dict[tuple[str, tuple[int, ...], int], str] = {}
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)
# Whole-row upserts by table and non-null columns, each with what picks those columns' values
# from a row; one-row UPDATEs by table and column positions (see whole_rows and update_of).
_INSERTS: dict[tuple[str, tuple[bool, ...]], tuple[str, Callable[[tuple], tuple] | None]] = {}
_UPDATES: dict[tuple[str, tuple[int, ...]], str] = {}
