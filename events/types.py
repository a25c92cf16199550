"""Every event tracker records: frozen, tagged msgspec Structs in one union with one reused codec.

Evolving events (read this before changing a Struct):
- A new field always gets a default, so rows written before it still decode.
- A field is never removed or retyped in place; add a new field and upcast old rows instead.
- A renamed type keeps its old tag readable through ``RENAMED`` (old tag -> new tag).
- A change that old rows cannot meet by defaults bumps ``SCHEMA_VERSION`` and registers an
  upcaster in ``UPCASTERS`` keyed by (tag, version written) that rewrites the raw dict.
- Each stored row carries the version it was written at (column ``v``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Union

import msgspec

SCHEMA_VERSION = 1


class Event(msgspec.Struct, frozen=True, tag=True, tag_field="type", kw_only=True):
    """Base of every event; the tag is the class name."""

    # The entity an event is about, "<prefix>:<value of subject_field>" (``dvd:12``), which the
    # audit log filters on; no subject_field: about no one entity; prefix None: the media type.
    subject_prefix: ClassVar[str | None] = ""
    subject_field: ClassVar[str] = ""

    def subject(self) -> str | None:
        """The entity this event is about (``dvd:12``), used to filter the audit log."""
        if not self.subject_field:
            return None
        prefix = self.subject_prefix or self.media_type
        return f"{prefix}:{getattr(self, self.subject_field)}"


# --- commands: intents and their lifecycle -------------------------------------------------


class CommandRequested(Event, frozen=True):
    """A user asked for a command (the intent)."""

    command_id: str
    name: str
    options: dict[str, Any] = {}


class CommandStarted(Event, frozen=True):
    """The engine began (or resumed) a command; ``total`` items were selected."""

    command_id: str
    total: int | None = None


class ItemProcessed(Event, frozen=True):
    """One item of a command finished: updated, skipped or failed, with its field changes."""

    command_id: str
    item: str
    outcome: str  # "updated" | "skipped" | "failed"
    reason: str = ""
    changes: dict[str, list[Any]] = {}

    def subject(self) -> str | None:
        """Items are named like subjects (``dvd:12``)."""
        return self.item


class CommandCancelRequested(Event, frozen=True):
    """A user asked to cancel a queued or running command."""

    command_id: str


class CommandCompleted(Event, frozen=True):
    """A command finished; ``summary`` is what the CLI prints."""

    command_id: str
    summary: dict[str, Any] = {}


class CommandFailed(Event, frozen=True):
    """A command stopped as a whole (bad key, bad input) with its reason."""

    command_id: str
    reason: str
    summary: dict[str, Any] = {}


class CommandCancelled(Event, frozen=True):
    """A command was cancelled before it finished."""

    command_id: str
    summary: dict[str, Any] = {}


class CommandInterrupted(Event, frozen=True):
    """The engine stopped a command cleanly before it ended (a signal); it resumes next time.

    A stop that leaves no such event (a kill, a crash) counts towards the crash-loop rule;
    a clean one does not.
    """

    command_id: str


# --- DVD collection -------------------------------------------------------------------------


class _DvdEvent(Event, frozen=True):
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


# --- catalogue ------------------------------------------------------------------------------


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


# --- upkeep ---------------------------------------------------------------------------------


class ChangesSynced(Event, frozen=True):
    """TMDB's change lists were read from ``start_date`` to ``end_date`` (inclusive, UTC days) and
    every tracked title they named was refreshed: the next sync starts at ``end_date``."""

    command_id: str
    start_date: str
    end_date: str
    pages: int = 0  # change-list pages read
    refreshed: int = 0  # tracked titles the lists named

    subject_prefix = "sync"
    subject_field = "end_date"


AnyEvent = Union[  # noqa: UP007 - one long list that each feature appends to; reads best as Union[...]
    CommandRequested, CommandStarted, ItemProcessed, CommandCancelRequested, CommandCompleted,
    CommandFailed, CommandCancelled, CommandInterrupted,
    DvdAdded, DvdTmdbIdMatched, DvdImdbIdPopulated, DvdDetailsRefreshed, DvdPosterSaved,
    DvdUkCertificationNormalized, DvdTorrentsChecked, PosterFileDeleted, DvdEdited,
    DvdFieldsLocked, DvdFieldsUnlocked, DvdIdentified, DvdMerged, DvdRemoved,
    GenreNamed, MovieListed, TvShowListed, MovieDetailsRefreshed, TvDetailsRefreshed,
    CataloguePosterSaved, ProviderSeen, OfferAdded, OfferRemoved, WatchProvidersChecked,
    ProviderLogoSaved, BadgeCreated,
    ChangesSynced,
]

EVENT_TYPES: dict[str, type[Event]] = {cls.__name__: cls for cls in AnyEvent.__args__}  # type: ignore[attr-defined]

# Old tag -> current tag, for renamed event types.
RENAMED: dict[str, str] = {}

# (tag, version written) -> function rewriting the raw dict to the next version.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)
_raw_decoder = msgspec.json.Decoder(dict[str, Any])


class UnknownEventType(ValueError):
    """A row's type is not one this version knows (written by a newer tracker?)."""


def encode(event: Event) -> bytes:
    """The JSON text stored in the ``data`` column (the tag included)."""
    return _encoder.encode(event)


def type_name(event: Event) -> str:
    """The tag stored in the ``type`` column."""
    return type(event).__name__


def decode(data: bytes | str, type_: str | None = None, version: int = SCHEMA_VERSION) -> Event:
    """Decode a stored row, upcasting rows written by older versions or under old names."""
    if version == SCHEMA_VERSION and (type_ is None or type_ in EVENT_TYPES):
        try:
            return _decoder.decode(data)
        except msgspec.ValidationError as exc:
            if type_ is not None and type_ in EVENT_TYPES:
                raise
            raise UnknownEventType(str(exc)) from exc
    return _upcast(_raw_decoder.decode(data), version)


def _upcast(raw: dict[str, Any], version: int) -> Event:
    """Bring an old row's dict up to the current schema, then decode it."""
    if version > SCHEMA_VERSION:
        raise UnknownEventType(f"written by schema version {version}, this tracker reads up to {SCHEMA_VERSION}")
    tag = RENAMED.get(raw.get("type", ""), raw.get("type", ""))
    raw["type"] = tag
    while version < SCHEMA_VERSION:
        step = UPCASTERS.get((tag, version))
        if step is not None:
            raw = step(raw)
        version += 1
    if tag not in EVENT_TYPES:
        raise UnknownEventType(f"unknown event type {tag!r}")
    return msgspec.convert(raw, EVENT_TYPES[tag])
