"""The movies, tv and genres tables: the catalogue folded from catalogue events."""

from __future__ import annotations

from events.types import (CataloguePosterSaved, GenreNamed, GenreRef, MovieDetailsRefreshed,
                          MovieListed, TvDetailsRefreshed, TvShowListed)
from projections.fold import Envelope, on
from projections.rows import RowCache

_TABLE = {"movie": "movies", "tv": "tv"}


def _ensure_genres(rows: RowCache, genre_ids: list[int]) -> None:
    """Create a row for each genre id not yet known; its name comes with populate-genres."""
    for gid in genre_ids:
        if rows.get("genres", (gid,)) is None:
            rows.put("genres", (gid,), {"tmdb_id": gid, "name": None, "media_types": []})


def _name_genres(rows: RowCache, genres: list[GenreRef]) -> None:
    """Details carry genre names: name genres still unnamed (official lists win otherwise)."""
    for g in genres:
        row = rows.get("genres", (g.id,))
        if row is None:
            rows.put("genres", (g.id,), {"tmdb_id": g.id, "name": g.name, "media_types": []})
        elif not row.get("name"):
            row["name"] = g.name
            rows.put("genres", (g.id,), row)


@on(GenreNamed)
def genre_named(rows: RowCache, env: Envelope, e: GenreNamed) -> None:
    """Name a genre and note which official list it is on."""
    row = rows.get("genres", (e.tmdb_id,)) or {"tmdb_id": e.tmdb_id, "media_types": []}
    row["name"] = e.name
    row["media_types"] = sorted(set(row.get("media_types") or []) | {e.media_type})
    rows.put("genres", (e.tmdb_id,), row)


def _listed(rows: RowCache, env: Envelope, table: str, tmdb_id: int, fields: dict) -> None:
    """Create or update a movie or show with its basic fields from a popular list."""
    row = rows.get(table, (tmdb_id,)) or {"tmdb_id": tmdb_id, "listed_at": env.at}
    row.update(fields)
    rows.put(table, (tmdb_id,), row)
    _ensure_genres(rows, fields["genre_ids"])


@on(MovieListed)
def movie_listed(rows: RowCache, env: Envelope, e: MovieListed) -> None:
    """A movie from a popular list."""
    _listed(rows, env, "movies", e.tmdb_id, dict(
        title=e.title, overview=e.overview, release_date=e.release_date,
        popularity=e.popularity, rating=e.rating, vote_count=e.vote_count,
        genre_ids=list(e.genre_ids), tmdb_poster_path=e.poster_path))


@on(TvShowListed)
def tv_listed(rows: RowCache, env: Envelope, e: TvShowListed) -> None:
    """A TV show from a popular list."""
    _listed(rows, env, "tv", e.tmdb_id, dict(
        name=e.name, overview=e.overview, first_air_date=e.first_air_date,
        popularity=e.popularity, rating=e.rating, vote_count=e.vote_count,
        genre_ids=list(e.genre_ids), tmdb_poster_path=e.poster_path))


def _details(rows: RowCache, env: Envelope, table: str, tmdb_id: int, genres: list[GenreRef],
             fields: dict) -> None:
    """Details of a known movie or show; its genres are replaced by the detailed list."""
    row = rows.get(table, (tmdb_id,))
    if row is None:
        return
    row.update(fields, genre_ids=[g.id for g in genres], details_refreshed_at=env.at)
    rows.put(table, (tmdb_id,), row)
    _name_genres(rows, genres)


@on(MovieDetailsRefreshed)
def movie_details(rows: RowCache, env: Envelope, e: MovieDetailsRefreshed) -> None:
    """Runtime, genres and director of a movie."""
    _details(rows, env, "movies", e.tmdb_id, e.genres, dict(runtime=e.runtime, director=e.director))


@on(TvDetailsRefreshed)
def tv_details(rows: RowCache, env: Envelope, e: TvDetailsRefreshed) -> None:
    """Seasons, episodes, run time, genres and creators of a show."""
    _details(rows, env, "tv", e.tmdb_id, e.genres, dict(
        number_of_seasons=e.number_of_seasons, number_of_episodes=e.number_of_episodes,
        episode_run_time=e.episode_run_time, creators=list(e.creators)))


@on(CataloguePosterSaved)
def poster_saved(rows: RowCache, env: Envelope, e: CataloguePosterSaved) -> None:
    """Point a movie or show at its saved poster."""
    table = _TABLE.get(e.media_type)
    row = rows.get(table, (e.tmdb_id,)) if table else None
    if row is not None:
        row["poster"] = e.poster
        rows.put(table, (e.tmdb_id,), row)
