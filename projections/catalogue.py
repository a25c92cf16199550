"""The movies, tv and genres tables: the catalogue folded from catalogue events."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from events.types import (
    CataloguePosterSaved,
    GenreNamed,
    GenreRef,
    MovieDetailsRefreshed,
    MovieListed,
    TvDetailsRefreshed,
    TvShowListed,
    WatchProvidersChecked,
)
from projections.fold import Envelope, on
from projections.rows import RowCache, from_json, select_rows, to_json
from projections.tables import TABLES

MEDIA_TABLE = {"movie": "movies", "tv": "tv"}  # a media type's table
Genre, Movie, Show = TABLES["genres"].row, TABLES["movies"].row, TABLES["tv"].row
_NO_MEDIA_TYPES = to_json([])


def _ensure_genres(rows: RowCache, genre_ids: list[int]) -> None:
    """Create a row for each genre id not yet known; its name comes with populate-genres."""
    for gid in genre_ids:
        if rows.get("genres", (gid,)) is None:
            rows.put("genres", (gid,), Genre(tmdb_id=gid, media_types=_NO_MEDIA_TYPES))


def _name_genres(rows: RowCache, genres: list[GenreRef]) -> None:
    """Details carry genre names: name genres still unnamed (official lists win otherwise)."""
    for g in genres:
        row = rows.get("genres", (g.id,))
        if row is None:
            rows.put("genres", (g.id,), Genre(tmdb_id=g.id, name=g.name, media_types=_NO_MEDIA_TYPES))
        elif not row.name:
            row.name = g.name
            rows.put("genres", (g.id,), row)


@on(GenreNamed)
def genre_named(rows: RowCache, env: Envelope, e: GenreNamed) -> None:
    """Name a genre and note which official list it is on."""
    row = rows.get("genres", (e.tmdb_id,)) or Genre(tmdb_id=e.tmdb_id)
    row.name = e.name
    row.media_types = to_json(sorted(set(from_json(row.media_types) or []) | {e.media_type}))
    rows.put("genres", (e.tmdb_id,), row)


def _listed(rows: RowCache, env: Envelope, table: str, tmdb_id: int, new: Any) -> Any:
    """The movie or show listed again (its fields to be set by the caller), or ``new`` stamped now."""
    row = rows.changing(table, (tmdb_id,))
    if row is None:
        row = new
        row.tmdb_id, row.listed_at = tmdb_id, env.at
        rows.put(table, (tmdb_id,), row)
    return row


@on(MovieListed)
def movie_listed(rows: RowCache, env: Envelope, e: MovieListed) -> None:
    """A movie from a popular list."""
    row = _listed(rows, env, "movies", e.tmdb_id, Movie())
    row.title, row.overview, row.release_date = e.title, e.overview, e.release_date
    row.popularity, row.rating, row.vote_count = e.popularity, e.rating, e.vote_count
    row.genre_ids, row.tmdb_poster_path = to_json(e.genre_ids), e.poster_path
    _ensure_genres(rows, e.genre_ids)


@on(TvShowListed)
def tv_listed(rows: RowCache, env: Envelope, e: TvShowListed) -> None:
    """A TV show from a popular list."""
    row = _listed(rows, env, "tv", e.tmdb_id, Show())
    row.name, row.overview, row.first_air_date = e.name, e.overview, e.first_air_date
    row.popularity, row.rating, row.vote_count = e.popularity, e.rating, e.vote_count
    row.genre_ids, row.tmdb_poster_path = to_json(e.genre_ids), e.poster_path
    _ensure_genres(rows, e.genre_ids)


def _details(rows: RowCache, env: Envelope, table: str, tmdb_id: int, genres: list[GenreRef]) -> Any:
    """A known movie or show, its genres replaced by the detailed list; None if unknown."""
    row = rows.changing(table, (tmdb_id,))
    if row is None:
        return None
    row.genre_ids, row.details_refreshed_at = to_json([g.id for g in genres]), env.at
    _name_genres(rows, genres)
    return row


@on(MovieDetailsRefreshed)
def movie_details(rows: RowCache, env: Envelope, e: MovieDetailsRefreshed) -> None:
    """Runtime, genres and director of a movie."""
    if (row := _details(rows, env, "movies", e.tmdb_id, e.genres)) is not None:
        row.runtime, row.director = e.runtime, e.director


@on(WatchProvidersChecked)
def providers_checked(rows: RowCache, env: Envelope, e: WatchProvidersChecked) -> None:
    """When a movie's or show's offers were last checked (a fact of the title's row: folded here,
    the providers' tables stay a group of their own, which a replay can fold apart)."""
    table = MEDIA_TABLE.get(e.media_type)
    row = rows.changing(table, (e.tmdb_id,)) if table else None
    if row is not None:
        row.providers_checked_at = env.at


@on(TvDetailsRefreshed)
def tv_details(rows: RowCache, env: Envelope, e: TvDetailsRefreshed) -> None:
    """Seasons, episodes, run time, genres and creators of a show."""
    if (row := _details(rows, env, "tv", e.tmdb_id, e.genres)) is not None:
        row.number_of_seasons, row.number_of_episodes = e.number_of_seasons, e.number_of_episodes
        row.episode_run_time, row.creators = e.episode_run_time, to_json(e.creators)


@on(CataloguePosterSaved)
def poster_saved(rows: RowCache, env: Envelope, e: CataloguePosterSaved) -> None:
    """Point a movie or show at its saved poster."""
    table = MEDIA_TABLE.get(e.media_type)
    row = rows.get(table, (e.tmdb_id,)) if table else None
    if row is not None:
        row.poster = e.poster
        rows.put(table, (e.tmdb_id,), row)


# Named queries: every read of the movies, tv and genres tables goes through these.

@dataclass(frozen=True, slots=True)
class GenreCounts:
    """How many genres are known, named, and on each of TMDB's official lists."""

    total: int
    named: int
    on_movie_list: int
    on_tv_list: int


@dataclass(frozen=True, slots=True)
class Held:
    """How many titles a table holds, and how many of them hold some piece of data."""

    total: int
    with_it: int


def genres(conn: sqlite3.Connection) -> dict[int, Any]:
    """Every known genre (a ``Genre`` row) by TMDB id."""
    return {g.tmdb_id: g for g in select_rows(conn, "genres")}


def titles(conn: sqlite3.Connection, media: str, ids: list[int] | None = None) -> list[Any]:
    """The movies or TV shows held (``Movie``/``Show`` rows) by TMDB id, or only those in ``ids``."""
    if ids is None:
        return select_rows(conn, MEDIA_TABLE[media])
    return select_rows(conn, MEDIA_TABLE[media], f"tmdb_id IN ({','.join('?' * len(ids))})", tuple(ids))


def titles_to_refresh(conn: sqlite3.Connection, media: str, *, before: str | None) -> list[Any]:
    """Titles whose details were never refreshed or refreshed before ``before`` (None: all)."""
    if before is None:
        return select_rows(conn, MEDIA_TABLE[media])
    return select_rows(conn, MEDIA_TABLE[media],
                       "details_refreshed_at IS NULL OR details_refreshed_at < ?", (before,))


def genre_counts(conn: sqlite3.Connection) -> GenreCounts:
    """Genres known, named, and on the movie and TV lists."""
    total, named = conn.execute("SELECT COUNT(*), COUNT(name) FROM genres").fetchone()
    on = {m: conn.execute("SELECT COUNT(*) FROM genres, json_each(genres.media_types) j"
                          " WHERE j.value = ?", (m,)).fetchone()[0] for m in MEDIA_TABLE}
    return GenreCounts(total, named, on["movie"], on["tv"])


def with_poster(conn: sqlite3.Connection, media: str) -> Held:
    """Titles of a media type held, and how many have a saved poster."""
    return Held(*conn.execute(f"SELECT COUNT(*), COUNT(poster) FROM {MEDIA_TABLE[media]}").fetchone())


def with_details(conn: sqlite3.Connection, media: str) -> Held:
    """Titles of a media type held, and how many have had their details refreshed."""
    return Held(*conn.execute(
        f"SELECT COUNT(*), COUNT(details_refreshed_at) FROM {MEDIA_TABLE[media]}").fetchone())


def posters_in_use(conn: sqlite3.Connection) -> set[str]:
    """Every poster a DVD, movie or TV show points at (cleanup deletes the other files)."""
    return {r[0] for r in conn.execute(
        "SELECT poster FROM dvds WHERE poster IS NOT NULL UNION "
        "SELECT poster FROM movies WHERE poster IS NOT NULL UNION "
        "SELECT poster FROM tv WHERE poster IS NOT NULL")}


def tracked_ids(conn: sqlite3.Connection, media: str) -> set[int]:
    """The TMDB ids of every catalogue movie (``movie``) or show (``tv``)."""
    return {r[0] for r in conn.execute(f"SELECT tmdb_id FROM {MEDIA_TABLE[media]}")}


def oldest_details_refresh(conn: sqlite3.Connection, media: str) -> str | None:
    """When the movie or show refreshed longest ago was refreshed (UTC ISO), None if none was."""
    return conn.execute(f"SELECT MIN(details_refreshed_at) FROM {MEDIA_TABLE[media]}").fetchone()[0]
