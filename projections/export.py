"""Rows of the read tables with the exported field names of SPEC.md."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import msgspec

_decode = msgspec.json.decode

FIELDS: dict[str, tuple[str, ...]] = {
    "dvds": ("id", "title", "year", "tmdb_id", "imdb_id", "tagline", "budget", "revenue",
             "production_companies", "director", "uk_certification", "rating", "vote_count",
             "poster", "torrents", "torrents_checked_at", "details_refreshed_at", "added_at",
             "genres", "locked_fields"),
    "movies": ("tmdb_id", "title", "overview", "release_date", "popularity", "rating",
               "vote_count", "runtime", "director", "genres", "poster", "details_refreshed_at"),
    "tv": ("tmdb_id", "name", "overview", "first_air_date", "popularity", "rating", "vote_count",
           "number_of_seasons", "number_of_episodes", "episode_run_time", "creators", "genres",
           "poster", "details_refreshed_at"),
    "genres": ("tmdb_id", "name", "media_types"),
    "providers": ("provider_id", "name", "logo"),
    "availability": ("media_type", "tmdb_id", "region", "offer_type", "provider_id"),
    "badges": ("name", "description", "badge_type", "rarity", "icon", "requirement_count",
               "requirement_type"),
}
JSON_FIELDS = {"production_companies", "torrents", "genres", "media_types", "creators",
               "locked_fields"}
# Rows a table keeps that are not exported: removed DVDs stay for their history and their id.
WHERE = {"dvds": "WHERE removed_at IS NULL"}
ORDER = {"dvds": "id", "movies": "tmdb_id", "tv": "tmdb_id", "genres": "tmdb_id",
         "providers": "provider_id", "availability": "media_type, tmdb_id, region, offer_type, provider_id",
         "badges": "name"}


def _genre_names(conn: sqlite3.Connection) -> dict[int, str]:
    return {i: n for i, n in conn.execute("SELECT tmdb_id, name FROM genres WHERE name IS NOT NULL")}


def export_rows(conn: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    """Stream a table's rows as dicts of exported fields (lists decoded, genre ids named)."""
    fields = FIELDS[table]
    names = _genre_names(conn) if table in ("movies", "tv") else {}
    select = [("genre_ids" if f == "genres" and table in ("movies", "tv") else f) for f in fields]
    cursor = conn.execute(f"SELECT {', '.join(select)} FROM {table} {WHERE.get(table, '')}"
                          f" ORDER BY {ORDER[table]}")
    while batch := cursor.fetchmany(1000):
        for values in batch:
            row = _exported(fields, values)
            if names or table in ("movies", "tv"):
                row["genres"] = [names[g] for g in row["genres"] or [] if g in names]
            yield row


def _exported(fields: tuple[str, ...], values: tuple) -> dict[str, Any]:
    """One row as a dict of exported fields, its JSON columns decoded."""
    row = dict(zip(fields, values, strict=True))
    for f in JSON_FIELDS.intersection(row):
        if row[f] is not None:
            row[f] = _decode(row[f])
    if "locked_fields" in row:
        row["locked_fields"] = row["locked_fields"] or []
    return row


def _dvd_filter(search: str | None) -> tuple[str, tuple]:
    """WHERE for DVDs in the collection, whose title contains ``search`` (any case; % and _ literal)."""
    if not search:
        return f" {WHERE['dvds']}", ()
    pattern = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f" {WHERE['dvds']} AND title LIKE ? ESCAPE '\\'", (f"%{pattern}%",)


def exported_dvds(conn: sqlite3.Connection, *, search: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[dict[str, Any]]:
    """DVDs in id order as exported, optionally only titles containing ``search``, one page."""
    where, params = _dvd_filter(search)
    fields = FIELDS["dvds"]
    sql = f"SELECT {', '.join(fields)} FROM dvds{where} ORDER BY id LIMIT ? OFFSET ?"
    rows = conn.execute(sql, (*params, -1 if limit is None else limit, offset)).fetchall()
    return [_exported(fields, values) for values in rows]


def count_dvds(conn: sqlite3.Connection, *, search: str | None = None) -> int:
    """How many DVDs there are (with ``search``: whose title contains it)."""
    where, params = _dvd_filter(search)
    return conn.execute(f"SELECT COUNT(*) FROM dvds{where}", params).fetchone()[0]


def exported_dvd(conn: sqlite3.Connection, dvd_id: int) -> dict[str, Any] | None:
    """One DVD of the collection as exported, or None (a removed one too)."""
    fields = FIELDS["dvds"]
    values = conn.execute(f"SELECT {', '.join(fields)} FROM dvds {WHERE['dvds']} AND id = ?",
                          (dvd_id,)).fetchone()
    return None if values is None else _exported(fields, values)
