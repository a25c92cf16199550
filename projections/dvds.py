"""The dvds table: the DVD collection folded from DVD events."""

from __future__ import annotations

from typing import Any

from events.types import (
    DvdAdded,
    DvdDetailsRefreshed,
    DvdImdbIdPopulated,
    DvdPosterSaved,
    DvdTmdbIdMatched,
    DvdTorrentsChecked,
    DvdUkCertificationNormalized,
)
from projections.fold import Envelope, on
from projections.rows import RowCache, to_json
from projections.tables import TABLES

Dvd = TABLES["dvds"].row


def _row(rows: RowCache, env: Envelope, dvd_id: int) -> Any:
    """The DVD's row, stamped as updated now and to be written back; None for an unknown DVD."""
    row = rows.get("dvds", (dvd_id,))
    if row is not None:
        row.updated_at = env.at
        rows.put("dvds", (dvd_id,), row)
    return row


@on(DvdAdded)
def dvd_added(rows: RowCache, env: Envelope, e: DvdAdded) -> None:
    """A new row with what the user gave; everything TMDB will fill stays null."""
    rows.put("dvds", (e.dvd_id,), Dvd(
        id=e.dvd_id, title=e.title, year=e.year, tmdb_id=e.tmdb_id, imdb_id=e.imdb_id,
        uk_certification=e.uk_certification, added_at=env.at, updated_at=env.at))


@on(DvdTmdbIdMatched)
def tmdb_id_matched(rows: RowCache, env: Envelope, e: DvdTmdbIdMatched) -> None:
    """Record the TMDB id a search found."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        row.tmdb_id = e.tmdb_id


@on(DvdImdbIdPopulated)
def imdb_id_populated(rows: RowCache, env: Envelope, e: DvdImdbIdPopulated) -> None:
    """Record the IMDb id TMDB gave ("" when it has none)."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        row.imdb_id = e.imdb_id


@on(DvdDetailsRefreshed)
def details_refreshed(rows: RowCache, env: Envelope, e: DvdDetailsRefreshed) -> None:
    """Every detail field at once, TMDB's empties kept as empties; a held IMDb id is kept."""
    row = _row(rows, env, e.dvd_id)
    if row is None:
        return
    row.tagline, row.budget, row.revenue = e.tagline, e.budget, e.revenue
    row.production_companies = to_json(e.production_companies)
    row.director, row.uk_certification = e.director, e.uk_certification
    row.rating, row.vote_count = e.rating, e.vote_count
    row.genres, row.tmdb_poster_path = to_json(e.genres), e.poster_path
    row.details_refreshed_at = env.at
    if e.imdb_id is not None and not row.imdb_id:
        row.imdb_id = e.imdb_id


@on(DvdPosterSaved)
def poster_saved(rows: RowCache, env: Envelope, e: DvdPosterSaved) -> None:
    """Point the DVD at its saved poster file."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        row.poster = e.poster


@on(DvdUkCertificationNormalized)
def certification_normalized(rows: RowCache, env: Envelope, e: DvdUkCertificationNormalized) -> None:
    """Store the lower-cased certificate."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        row.uk_certification = e.uk_certification


@on(DvdTorrentsChecked)
def torrents_checked(rows: RowCache, env: Envelope, e: DvdTorrentsChecked) -> None:
    """Replace the DVD's torrents with what YTS answered, and when."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        row.torrents, row.torrents_checked_at = to_json(e.torrents), env.at
