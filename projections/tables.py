"""The read tables: their columns, keys and DDL, in one place so export and replay agree."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

PROJECTION_VERSION = 6  # bump when a table or its indexes change shape: the tables are then rebuilt by replay


@dataclass(frozen=True)
class Table:
    """A read table: its key columns, every column in order, which hold JSON, which are
    exported (in order), and its row type.

    ``row`` is a Struct with one attribute per column (all default to None): folds read and set
    attributes, and a row costs a fifth of a dict's memory, so replay's cache holds many more.
    JSON columns hold their JSON text in a row too, exactly as in SQL (``to_json``).
    """

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    json_columns: frozenset[str]
    exported: tuple[str, ...]
    ddl: str
    indexes: tuple[str, ...]
    row: type[Any]
    rowid: bool = False  # keyed by its rowid (one INTEGER key); else a WITHOUT ROWID table


def _table(name: str, key: tuple[str, ...], cols: str, json_cols: tuple[str, ...] = (),
           indexes: tuple[str, ...] = (), private: tuple[str, ...] = ()) -> Table:
    """Build a Table from a compact column list ``"name TYPE, ..."``; ``private`` columns are
    the tracker's own bookkeeping, left out of ``tracker export``."""
    parts = [c.strip() for c in cols.split(",") if c.strip()]
    names = tuple(p.split()[0] for p in parts)
    rowid = len(key) == 1 and f"{key[0]} INTEGER" in parts
    ddl = _ddl(name, key, parts, rowid=rowid)
    # gc=False: rows hold only str, int, float or None, so they can never be part of a cycle.
    row = msgspec.defstruct(f"{name}_row", [(n, Any, None) for n in names], gc=False)
    exported = tuple(n for n in names if n not in private)
    return Table(name, key, names, frozenset(json_cols), exported, ddl, indexes, row, rowid)


def _ddl(name: str, key: tuple[str, ...], parts: list[str], *, rowid: bool) -> str:
    """CREATE TABLE: a single INTEGER key is the rowid itself; any other key makes the table a
    WITHOUT ROWID one, ordered by its key.

    A WITHOUT ROWID table keeps whole rows in its inner B-tree pages too, which suits small rows
    (an offer, a command's item) and not a DVD's ~640 bytes: keyed by rowid, 71,000 DVD rows
    went in 12% faster and were updated 16% faster.
    """
    if rowid:
        parts = [f"{p} PRIMARY KEY" if p == f"{key[0]} INTEGER" else p for p in parts]
        return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(parts)})"
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(parts)}, PRIMARY KEY ({', '.join(key)})) WITHOUT ROWID"


TABLES: dict[str, Table] = {t.name: t for t in (
    _table("dvds", ("id",),
           "id INTEGER, title TEXT, year INTEGER, tmdb_id INTEGER, imdb_id TEXT, tagline TEXT,"
           " budget INTEGER, revenue INTEGER, production_companies TEXT, director TEXT,"
           " uk_certification TEXT, rating REAL, vote_count INTEGER, poster TEXT,"
           " tmdb_poster_path TEXT, torrents TEXT, torrents_checked_at TEXT,"
           " details_refreshed_at TEXT, added_at TEXT, genres TEXT, updated_at TEXT, locked_fields TEXT,"
           " removed_at TEXT, merged_into INTEGER, added_by TEXT",
           ("production_companies", "torrents", "genres", "locked_fields"),
           # The IMDb and poster indexes hold only the rows their queries look for (DVDs lacking
           # an IMDb id, posters in use): a new DVD's row then costs no entry in either, ~1.1 us
           # of its ~5.7 us INSERT. The TMDB id is looked up by value, so that index is whole.
           ("CREATE INDEX IF NOT EXISTS dvds_tmdb ON dvds(tmdb_id)",
            "CREATE INDEX IF NOT EXISTS dvds_imdb ON dvds(imdb_id) WHERE imdb_id IS NULL",
            "CREATE INDEX IF NOT EXISTS dvds_poster ON dvds(poster) WHERE poster IS NOT NULL"),
           private=("tmdb_poster_path", "updated_at", "removed_at", "merged_into", "added_by")),
    _table("movies", ("tmdb_id",),
           "tmdb_id INTEGER, title TEXT, overview TEXT, release_date TEXT, popularity REAL,"
           " rating REAL, vote_count INTEGER, runtime INTEGER, director TEXT, genre_ids TEXT,"
           " poster TEXT, tmdb_poster_path TEXT, details_refreshed_at TEXT,"
           " providers_checked_at TEXT, listed_at TEXT",
           ("genre_ids",),
           ("CREATE INDEX IF NOT EXISTS movies_poster ON movies(poster) WHERE poster IS NOT NULL",),
           private=("tmdb_poster_path", "providers_checked_at", "listed_at")),
    _table("tv", ("tmdb_id",),
           "tmdb_id INTEGER, name TEXT, overview TEXT, first_air_date TEXT, popularity REAL,"
           " rating REAL, vote_count INTEGER, number_of_seasons INTEGER,"
           " number_of_episodes INTEGER, episode_run_time INTEGER, creators TEXT, genre_ids TEXT,"
           " poster TEXT, tmdb_poster_path TEXT, details_refreshed_at TEXT,"
           " providers_checked_at TEXT, listed_at TEXT",
           ("genre_ids", "creators"),
           ("CREATE INDEX IF NOT EXISTS tv_poster ON tv(poster) WHERE poster IS NOT NULL",),
           private=("tmdb_poster_path", "providers_checked_at", "listed_at")),
    _table("genres", ("tmdb_id",), "tmdb_id INTEGER, name TEXT, media_types TEXT",
           ("media_types",)),
    _table("providers", ("provider_id",),
           "provider_id INTEGER, name TEXT, logo TEXT, tmdb_logo_path TEXT", private=("tmdb_logo_path",)),
    _table("availability", ("media_type", "tmdb_id", "region", "offer_type", "provider_id"),
           "media_type TEXT, tmdb_id INTEGER, region TEXT, offer_type TEXT, provider_id INTEGER,"
           " since TEXT", private=("since",)),
    _table("badges", ("name",),
           "name TEXT, description TEXT, badge_type TEXT, rarity TEXT, icon TEXT,"
           " requirement_count INTEGER, requirement_type TEXT, created_at TEXT", private=("created_at",)),
    _table("commands", ("command_id",),
           "command_id TEXT, name TEXT, options TEXT, status TEXT, requested_seq INTEGER,"
           " requested_at TEXT, started_at TEXT, finished_at TEXT, total INTEGER,"
           " processed INTEGER, updated INTEGER, skipped INTEGER, failed INTEGER,"
           " reason TEXT, summary TEXT, cancel_requested INTEGER, last_seq INTEGER",
           ("options", "summary"),
           ("CREATE INDEX IF NOT EXISTS commands_status ON commands(status, requested_seq)",)),
    _table("command_items", ("command_id", "item"),
           "command_id TEXT, item TEXT, outcome TEXT, reason TEXT, seq INTEGER"),
    _table("sync_points", ("source",),
           "source TEXT, start_date TEXT, end_date TEXT, command_id TEXT, synced_at TEXT"),
)}

# The tables `tracker export` offers, in the order its help lists them.
EXPORTABLE = ("dvds", "movies", "tv", "genres", "providers", "availability", "badges")


def create_tables(conn: sqlite3.Connection, *, indexes: bool = True) -> None:
    """Create every read table and (unless told not to) its indexes; idempotent."""
    for table in TABLES.values():
        conn.execute(table.ddl)
    if indexes:
        create_indexes(conn)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Create every read table's secondary indexes (replay builds them once, after the fold)."""
    for table in TABLES.values():
        for index in table.indexes:
            conn.execute(index)


def row_count(conn: sqlite3.Connection, name: str, schema: str = "main") -> int:
    """How many rows a read table holds (in ``schema``, an attached database's name, if given)."""
    return conn.execute(f"SELECT COUNT(*) FROM {schema}.{TABLES[name].name}").fetchone()[0]


def rows_by_key(conn: sqlite3.Connection, name: str) -> Iterator[tuple]:
    """Every row of a read table, streamed in key order (its primary key: no sort, no list)."""
    table = TABLES[name]
    cursor = conn.execute(f"SELECT {', '.join(table.columns)} FROM {name} ORDER BY {', '.join(table.key)}")
    while batch := cursor.fetchmany(1000):
        yield from batch


def drop_tables(conn: sqlite3.Connection) -> None:
    """Drop every read table: they are disposable and rebuilt by replay."""
    for name in TABLES:  # main's: a parallel replay has a side file attached with the same names
        conn.execute(f"DROP TABLE IF EXISTS main.{name}")
