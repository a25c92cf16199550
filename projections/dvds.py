"""The dvds table: the DVD collection folded from DVD events."""

from __future__ import annotations

import msgspec

from events.types import (DvdAdded, DvdDetailsRefreshed, DvdImdbIdPopulated, DvdPosterSaved,
                          DvdTmdbIdMatched, DvdTorrentsChecked, DvdUkCertificationNormalized)
from projections.fold import Envelope, on
from projections.rows import RowCache


def _update(rows: RowCache, env: Envelope, dvd_id: int, **changes: object) -> None:
    """Apply changes to an existing DVD row (events about unknown DVDs change nothing)."""
    row = rows.get("dvds", (dvd_id,))
    if row is None:
        return
    row.update(changes)
    row["updated_at"] = env.at
    rows.put("dvds", (dvd_id,), row)


@on(DvdAdded)
def dvd_added(rows: RowCache, env: Envelope, e: DvdAdded) -> None:
    """A new row with what the user gave; everything TMDB will fill stays null."""
    rows.put("dvds", (e.dvd_id,), {
        "id": e.dvd_id, "title": e.title, "year": e.year, "tmdb_id": e.tmdb_id,
        "imdb_id": e.imdb_id, "uk_certification": e.uk_certification,
        "added_at": env.at, "updated_at": env.at,
    })


@on(DvdTmdbIdMatched)
def tmdb_id_matched(rows: RowCache, env: Envelope, e: DvdTmdbIdMatched) -> None:
    """Record the TMDB id a search found."""
    _update(rows, env, e.dvd_id, tmdb_id=e.tmdb_id)


@on(DvdImdbIdPopulated)
def imdb_id_populated(rows: RowCache, env: Envelope, e: DvdImdbIdPopulated) -> None:
    """Record the IMDb id TMDB gave ("" when it has none)."""
    _update(rows, env, e.dvd_id, imdb_id=e.imdb_id)


@on(DvdDetailsRefreshed)
def details_refreshed(rows: RowCache, env: Envelope, e: DvdDetailsRefreshed) -> None:
    """Every detail field at once, TMDB's empties kept as empties."""
    changes = dict(
        tagline=e.tagline, budget=e.budget, revenue=e.revenue,
        production_companies=list(e.production_companies), director=e.director,
        uk_certification=e.uk_certification, rating=e.rating, vote_count=e.vote_count,
        genres=list(e.genres), tmdb_poster_path=e.poster_path, details_refreshed_at=env.at,
    )
    if e.imdb_id is not None:
        row = rows.get("dvds", (e.dvd_id,))
        if row is not None and not row.get("imdb_id"):
            changes["imdb_id"] = e.imdb_id
    _update(rows, env, e.dvd_id, **changes)


@on(DvdPosterSaved)
def poster_saved(rows: RowCache, env: Envelope, e: DvdPosterSaved) -> None:
    """Point the DVD at its saved poster file."""
    _update(rows, env, e.dvd_id, poster=e.poster)


@on(DvdUkCertificationNormalized)
def certification_normalized(rows: RowCache, env: Envelope, e: DvdUkCertificationNormalized) -> None:
    """Store the lower-cased certificate."""
    _update(rows, env, e.dvd_id, uk_certification=e.uk_certification)


@on(DvdTorrentsChecked)
def torrents_checked(rows: RowCache, env: Envelope, e: DvdTorrentsChecked) -> None:
    """Replace the DVD's torrents with what YTS answered, and when."""
    _update(rows, env, e.dvd_id, torrents=msgspec.to_builtins(e.torrents),
            torrents_checked_at=env.at)
