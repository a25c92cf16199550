"""The movie and TV catalogue: titles listed and detailed, genres, providers, offers and badges."""

from __future__ import annotations

import msgspec

from events.event import Event


class GenreRef(msgspec.Struct, frozen=True):
    """A genre as TMDB names it inside a movie or show."""

    id: int
    name: str


class GenreNamed(Event, frozen=True):
    """A genre is on TMDB's official list for a media type."""

    tmdb_id: int
    name: str
    media_type: str  # "movie" | "tv"

    subject_prefix = "genre"
    subject_field = "tmdb_id"


class MovieListed(Event, frozen=True):
    """A movie's basic fields, as a popular list gives them."""

    tmdb_id: int
    title: str
    overview: str = ""
    release_date: str = ""
    popularity: float = 0.0
    rating: float = 0.0
    vote_count: int = 0
    genre_ids: list[int] = []
    poster_path: str | None = None

    subject_prefix = "movie"
    subject_field = "tmdb_id"


class TvShowListed(Event, frozen=True):
    """A TV show's basic fields, as a popular list gives them."""

    tmdb_id: int
    name: str
    overview: str = ""
    first_air_date: str = ""
    popularity: float = 0.0
    rating: float = 0.0
    vote_count: int = 0
    genre_ids: list[int] = []
    poster_path: str | None = None

    subject_prefix = "tv"
    subject_field = "tmdb_id"


class MovieDetailsRefreshed(Event, frozen=True):
    """A movie's details: runtime, genres and director."""

    tmdb_id: int
    runtime: int = 0
    genres: list[GenreRef] = []
    director: str = ""

    subject_prefix = "movie"
    subject_field = "tmdb_id"


class TvDetailsRefreshed(Event, frozen=True):
    """A TV show's details: seasons, episodes, run time, genres and creators."""

    tmdb_id: int
    number_of_seasons: int = 0
    number_of_episodes: int = 0
    episode_run_time: int = 0
    genres: list[GenreRef] = []
    creators: list[str] = []

    subject_prefix = "tv"
    subject_field = "tmdb_id"


class CataloguePosterSaved(Event, frozen=True):
    """A movie's or show's poster was saved under the home."""

    media_type: str
    tmdb_id: int
    poster: str

    subject_prefix = None
    subject_field = "tmdb_id"


class ProviderSeen(Event, frozen=True):
    """A watch provider is known, with TMDB's logo path."""

    provider_id: int
    name: str
    logo_path: str | None = None

    subject_prefix = "provider"
    subject_field = "provider_id"


class _Offer(Event, frozen=True):
    """An offer: a provider, a region, an offer type, for one movie or show."""

    subject_prefix = None
    subject_field = "tmdb_id"
    media_type: str
    tmdb_id: int
    region: str
    offer_type: str
    provider_id: int


class OfferAdded(_Offer, frozen=True):
    """A provider began offering a movie or show in a region."""


class OfferRemoved(_Offer, frozen=True):
    """TMDB no longer lists an offer: the title left that service in that region."""


class WatchProvidersChecked(Event, frozen=True):
    """The offers of a movie or show were checked (whether or not any changed)."""

    media_type: str
    tmdb_id: int

    subject_prefix = None
    subject_field = "tmdb_id"


class ProviderLogoSaved(Event, frozen=True):
    """A provider's logo was saved under the home."""

    provider_id: int
    logo: str

    subject_prefix = "provider"
    subject_field = "provider_id"


class BadgeCreated(Event, frozen=True):
    """A predefined achievement badge was created."""

    name: str
    description: str
    badge_type: str
    rarity: str
    icon: str
    requirement_count: int
    requirement_type: str

    subject_prefix = "badge"
    subject_field = "name"
