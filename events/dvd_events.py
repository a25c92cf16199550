"""What happens to a DVD of the collection: added, matched, refreshed, edited, merged, removed."""

from __future__ import annotations

from typing import Any

import msgspec

from events.event import Event


class _DvdEvent(Event, frozen=True):
    """An event about one DVD of the collection."""

    dvd_id: int

    subject_prefix = "dvd"
    subject_field = "dvd_id"


class DvdAdded(_DvdEvent, frozen=True):
    """A DVD joined the collection (by add, import or the sample data)."""

    title: str
    year: int | None = None
    tmdb_id: int | None = None
    imdb_id: str | None = None
    uk_certification: str | None = None
    source: str = "add"


class DvdTmdbIdMatched(_DvdEvent, frozen=True):
    """A TMDB search found the DVD's TMDB id."""

    tmdb_id: int


class DvdImdbIdPopulated(_DvdEvent, frozen=True):
    """TMDB told the DVD's IMDb id ("" when TMDB holds none)."""

    imdb_id: str


class DvdDetailsRefreshed(_DvdEvent, frozen=True):
    """TMDB details of a DVD; empty values are TMDB's own empties, not gaps."""

    tagline: str = ""
    budget: int = 0
    revenue: int = 0
    production_companies: list[str] = []
    director: str = ""
    uk_certification: str = ""
    rating: float = 0.0
    vote_count: int = 0
    poster_path: str = ""  # TMDB's path, "" when it has no poster
    imdb_id: str | None = None
    genres: list[str] = []


class DvdPosterSaved(_DvdEvent, frozen=True):
    """A DVD's poster was saved under the home (path relative to it)."""

    poster: str


class DvdUkCertificationNormalized(_DvdEvent, frozen=True):
    """A DVD's UK certification was lower-cased."""

    uk_certification: str


class Torrent(msgspec.Struct, frozen=True):
    """One YTS torrent of a film."""

    quality: str
    type: str
    seeds: int
    peers: int
    size_bytes: int
    hash: str


class DvdTorrentsChecked(_DvdEvent, frozen=True):
    """YTS answered for a DVD (an empty list means YTS has none, never that YTS failed)."""

    torrents: list[Torrent] = []


class DvdEdited(_DvdEvent, frozen=True):
    """A user set some of a DVD's fields by hand (``fields``: name -> new value)."""

    fields: dict[str, Any] = {}


class DvdFieldsLocked(_DvdEvent, frozen=True):
    """These fields of a DVD are the user's: no refresh overwrites them until unlocked."""

    fields: list[str] = []


class DvdFieldsUnlocked(_DvdEvent, frozen=True):
    """These fields of a DVD may be refreshed again."""

    fields: list[str] = []


class DvdIdentified(_DvdEvent, frozen=True):
    """A user said which TMDB film a DVD is; details fetched for another id are cleared."""

    tmdb_id: int
    previous_tmdb_id: int | None = None
    tmdb_title: str = ""  # TMDB's title for the id, as confirmed when identified
    tmdb_year: int | None = None


class DvdMerged(_DvdEvent, frozen=True):
    """DVD ``merged_id``'s values filled this DVD's empty fields (``fields``: name -> value)."""

    merged_id: int
    fields: dict[str, Any] = {}


class DvdRemoved(_DvdEvent, frozen=True):
    """A DVD left the collection (its history stays); ``merged_into`` when a merge dropped it."""

    merged_into: int | None = None


class PosterFileDeleted(Event, frozen=True):
    """An unreferenced poster file was deleted from media/posters/."""

    path: str

    subject_prefix = "file"
    subject_field = "path"
