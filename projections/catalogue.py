"""The movies, tv and genres tables: the catalogue folded from catalogue events."""

from __future__ import annotations

from typing import Any

from events.types import (
    CataloguePosterSaved,
    GenreNamed,
    GenreRef,
    MovieDetailsRefreshed,
    MovieListed,
    TvDetailsRefreshed,
    TvShowListed,
)
from projections.fold import Envelope, on
from projections.rows import RowCache, from_json, to_json
from projections.tables import TABLES

_TABLE = {"movie": "movies", "tv": "tv"}
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
    row = rows.get(table, (tmdb_id,))
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
    row = rows.get(table, (tmdb_id,))
    if row is None:
        return None
    row.genre_ids, row.details_refreshed_at = to_json([g.id for g in genres]), env.at
    rows.put(table, (tmdb_id,), row)
    _name_genres(rows, genres)
    return row


@on(MovieDetailsRefreshed)
def movie_details(rows: RowCache, env: Envelope, e: MovieDetailsRefreshed) -> None:
    """Runtime, genres and director of a movie."""
    if (row := _details(rows, env, "movies", e.tmdb_id, e.genres)) is not None:
        row.runtime, row.director = e.runtime, e.director


@on(TvDetailsRefreshed)
def tv_details(rows: RowCache, env: Envelope, e: TvDetailsRefreshed) -> None:
    """Seasons, episodes, run time, genres and creators of a show."""
    if (row := _details(rows, env, "tv", e.tmdb_id, e.genres)) is not None:
        row.number_of_seasons, row.number_of_episodes = e.number_of_seasons, e.number_of_episodes
        row.episode_run_time, row.creators = e.episode_run_time, to_json(e.creators)


@on(CataloguePosterSaved)
def poster_saved(rows: RowCache, env: Envelope, e: CataloguePosterSaved) -> None:
    """Point a movie or show at its saved poster."""
    table = _TABLE.get(e.media_type)
    row = rows.get(table, (e.tmdb_id,)) if table else None
    if row is not None:
        row.poster = e.poster
        rows.put(table, (e.tmdb_id,), row)
