"""Snapshots of the read tables in a side SQLite file: written, copied back and compared.

A snapshot file holds every read table (same DDL and indexes) and a ``snapshot`` table of
key/value facts about the moment it was taken (the log's seq and chain hash there, the
projection version). What to trust and when to take one is decided by tracker/checkpoints.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from projections.tables import TABLES, row_count

_SCHEMA = "snap"


def save(conn: sqlite3.Connection, path: Path, facts: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Copy every read table of ``conn`` into a new file at ``path``, with ``facts()``; those facts.

    ``conn`` must have no transaction open: the copy runs in one read transaction of its own,
    so it is one moment, and ``facts`` is called inside it (to read the log's head then).
    ``path`` must not exist yet: the caller renames it into place afterwards.
    """
    noted = begin(conn, path, facts)
    fill(conn, noted)
    return noted


def begin(conn: sqlite3.Connection, path: Path, facts: Callable[[], dict[str, str]]) -> dict[str, str]:
    """The first half of ``save``: attach ``path`` and open the read transaction that fixes the
    moment (WAL: later commits of other connections are not seen); ``facts()``, read inside it.

    ``fill`` (on any thread) copies the tables as of that moment and ends the transaction.
    """
    conn.execute(f"ATTACH DATABASE ? AS {_SCHEMA}", (str(path),))
    try:
        conn.execute(f"PRAGMA {_SCHEMA}.journal_mode = OFF")  # a temp file: no journal needed
        conn.execute(f"PRAGMA {_SCHEMA}.synchronous = OFF")
        conn.execute("BEGIN")
        try:
            return facts()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.execute(f"DETACH DATABASE {_SCHEMA}")
        raise


def fill(conn: sqlite3.Connection, noted: dict[str, str]) -> None:
    """The second half of ``save``: copy the tables into the attached file, commit, detach.

    The number of rows copied is added to ``noted`` (and to the file's facts) as ``rows``: what
    the next copy will cost, about. The copy runs inside SQLite (``INSERT ... SELECT``), which
    lets other Python threads run meanwhile; ``conn.interrupt()`` from another thread abandons it.
    """
    try:
        try:
            rows = 0
            for t in TABLES.values():
                conn.execute(_in_schema(t.ddl, t.name))
                # Indexes first: the same table and indexes on both sides let SQLite copy the
                # index entries as they are too, already in order (0.69 -> 0.59 s at 250,000 DVDs).
                for index in t.indexes:
                    conn.execute(_in_schema(index, index.split()[5]))
                rows += conn.execute(f"INSERT INTO {_SCHEMA}.{t.name} SELECT * FROM main.{t.name}").rowcount
            noted["rows"] = str(rows)
            conn.execute(f"CREATE TABLE {_SCHEMA}.snapshot (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.executemany(f"INSERT INTO {_SCHEMA}.snapshot (key, value) VALUES (?, ?)", noted.items())
        except BaseException:
            if conn.in_transaction:  # an interrupted INSERT has rolled the transaction back already
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.execute(f"DETACH DATABASE {_SCHEMA}")


def _in_schema(ddl: str, name: str) -> str:
    """``CREATE ... IF NOT EXISTS name`` made to create ``snap.name``."""
    return ddl.replace(f"IF NOT EXISTS {name} ", f"IF NOT EXISTS {_SCHEMA}.{name} ", 1)


def _open(path: Path) -> sqlite3.Connection:
    """A read-only connection to a snapshot file."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def facts(path: Path) -> dict[str, str]:
    """The facts stored with a snapshot ({} for a file that is not a readable snapshot)."""
    try:
        conn = _open(path)
    except sqlite3.Error:
        return {}
    try:
        return dict(conn.execute("SELECT key, value FROM snapshot"))
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def load(path: Path, target: sqlite3.Connection) -> None:
    """Replace everything in ``target`` by the snapshot's tables (a page copy: fast)."""
    source = _open(path)
    try:
        source.backup(target)
    finally:
        source.close()
    target.execute("DROP TABLE snapshot")


def differences(conn: sqlite3.Connection, path: Path) -> dict[str, int]:
    """Per table, how many rows differ between ``conn``'s tables and the snapshot's (0s omitted)."""
    with attached(conn, path, _SCHEMA):
        return differing(conn, _SCHEMA)


@contextmanager
def attached(conn: sqlite3.Connection, path: Path, schema: str) -> Iterator[None]:
    """``path`` attached to ``conn`` as ``schema`` inside the block.

    Outside a transaction: SQLite refuses to detach, inside one, a database that it read."""
    conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))
    try:
        yield
    finally:
        conn.execute(f"DETACH DATABASE {schema}")


def differing(conn: sqlite3.Connection, schema: str) -> dict[str, int]:
    """Per table, how many keys' rows differ between main's tables and those of the attached
    ``schema`` (on one side only, or with other values; 0s omitted)."""
    out: dict[str, int] = {}
    for name in TABLES:
        unmatched_sql, missing_sql = _difference_counts(name, schema)
        unmatched = conn.execute(unmatched_sql).fetchone()[0]
        # Every row here has its equal there and both hold as many: the same rows. The keys
        # missing here are then counted only when something differs (0.6 s at 500,000 items).
        if unmatched == 0 and row_count(conn, name) == row_count(conn, name, schema):
            continue
        out[name] = unmatched + conn.execute(missing_sql).fetchone()[0]
    return out


def _difference_counts(name: str, schema: str) -> tuple[str, str]:
    """Two counts that add up to the keys whose rows differ between main's table ``name`` and
    ``schema``'s: main's rows with no equal row under their key there, and its keys missing here."""
    # Each row is looked up by its key (the primary key's index) rather than both sides sorted
    # whole for an EXCEPT: half the time at 250,000 DVDs (1.9 -> 0.95 s a checkpoint). IS and IS
    # NOT treat NULLs as equal, as EXCEPT did.
    t = TABLES[name]
    same_key = " AND ".join(f"a.{k} IS b.{k}" for k in t.key)
    same_row = " AND ".join(f"a.{c} IS b.{c}" for c in t.columns)
    return (f"SELECT COUNT(*) FROM main.{name} a WHERE NOT EXISTS"
            f" (SELECT 1 FROM {schema}.{name} b WHERE {same_key} AND {same_row})",
            f"SELECT COUNT(*) FROM {schema}.{name} b WHERE NOT EXISTS"
            f" (SELECT 1 FROM main.{name} a WHERE {same_key})")
