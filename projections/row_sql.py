"""The SQL a row cache writes with: each table's statements, multi-row INSERTs, rows in key order."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from itertools import chain
from typing import Any

import msgspec

from projections.tables import TABLES, Table

# A flush writes as many rows as this or more of one INSERT as multi-row statements of about
# MULTI_PARAMS values each (SQLite allows 32,766 since 3.32; the event log's use 1,600).
MULTI_ROWS_MIN = 16
MULTI_PARAMS = 1000


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
        elif sql in _multi_updates:
            update_rows(conn, sql, params)
        else:
            conn.executemany(sql, params)


def insert_rows(conn: sqlite3.Connection, sql: str, params: list[tuple]) -> None:
    """An INSERT of one row's VALUES run over many rows, in statements of many rows each."""
    width = len(params[0])
    per = max(1, MULTI_PARAMS // width)  # rows a statement
    multi = _multi_inserts.get((sql, per))
    if multi is None:
        head, _, one = sql.rpartition(" VALUES ")
        multi = _multi_inserts[sql, per] = f"{head} VALUES {', '.join([one] * per)}"
    _in_statements(conn, multi, per, sql, params)


def _in_statements(conn: sqlite3.Connection, multi: str, per: int, one: str, params: list[tuple]) -> None:
    """Rows' parameters run ``per`` rows at a time through ``multi``, the rest through ``one``."""
    whole = len(params) - len(params) % per
    for start in range(0, whole, per):
        conn.execute(multi, list(chain.from_iterable(params[start:start + per])))
    if whole < len(params):
        conn.executemany(one, params[whole:])


def update_sql(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """``UPDATE table SET <columns> WHERE <key>`` for one row, which execute_writes runs over many
    rows as ``UPDATE ... FROM (VALUES ...)`` statements of many rows each."""
    sql = (f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} "
           f"WHERE {' AND '.join(f'{k} = ?' for k in key)}")
    if _UPDATE_FROM and sql not in _multi_updates:
        width = len(columns) + len(key)
        per = max(1, MULTI_PARAMS // width)
        row = f"({', '.join('?' * width)})"
        sets = ", ".join(f"{c} = v.column{i}" for i, c in enumerate(columns, 1))
        where = " AND ".join(f"{table}.{k} = v.column{i}" for i, k in enumerate(key, len(columns) + 1))
        _multi_updates[sql] = (f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * per)}) AS v WHERE {where}",
                               per)
    return sql


def update_rows(conn: sqlite3.Connection, sql: str, params: list[tuple]) -> None:
    """A one-row UPDATE of update_sql run over many rows (their keys distinct), in statements of
    many rows each: 71,000 DVDs' certificates took 0.43 s so against 0.53 s by executemany."""
    multi, per = _multi_updates[sql]
    _in_statements(conn, multi, per, sql, params)


def statements(t: Table) -> tuple[str, str, str, Callable[[Any], tuple]]:
    """SELECT by key, DELETE by key, INSERT OR REPLACE, and a row's values in column order."""
    where = " AND ".join(f"{k} = ?" for k in t.key)
    cols = ", ".join(t.columns)
    return (f"SELECT {cols} FROM {t.name} WHERE {where}",
            f"DELETE FROM {t.name} WHERE {where}",
            f"INSERT OR REPLACE INTO {t.name} ({cols}) VALUES ({', '.join('?' * len(t.columns))})",
            msgspec.structs.astuple)  # a row struct's fields are its columns, in order


# Built once: the record path makes a cache per transaction, and formatting ten tables' SQL
# each time cost more than folding a small batch.
SQL = {t.name: statements(t) for t in TABLES.values()}
# Multi-row INSERTs by single-row INSERT and rows a statement (see insert_rows).
_multi_inserts: dict[tuple[str, int], str] = {}
# Multi-row UPDATEs and rows a statement by one-row UPDATE (see update_sql), with SQLite 3.33's
# UPDATE ... FROM; before it, the one-row UPDATE runs row by row.
_multi_updates: dict[str, tuple[str, int]] = {}
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)
