"""Every event tracker records in one union, with one reused codec; the Structs live by family
(command_events, dvd_events, catalogue_events, upkeep_events) on the base in events/event.py.

Evolving events (read this before changing a Struct):
- A new field always gets a default, so rows written before it still decode.
- A field is never removed or retyped in place; add a new field and upcast old rows instead.
- A renamed type keeps its old tag readable through ``RENAMED`` (old tag -> new tag).
- A change that old rows cannot meet by defaults bumps ``SCHEMA_VERSION`` and registers an
  upcaster in ``UPCASTERS`` keyed by (tag, version written) that rewrites the raw dict.
- Each stored row carries the version it was written at (column ``v``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import msgspec

from events.catalogue_events import (
    BadgeCreated,
    CataloguePosterSaved,
    GenreNamed,
    GenreRef,  # noqa: F401 - a part of events: callers find it here with them
    MovieDetailsRefreshed,
    MovieListed,
    OfferAdded,
    OfferRemoved,
    ProviderLogoSaved,
    ProviderSeen,
    TvDetailsRefreshed,
    TvShowListed,
    WatchProvidersChecked,
)
from events.command_events import (
    CommandCancelled,
    CommandCancelRequested,
    CommandCompleted,
    CommandFailed,
    CommandInterrupted,
    CommandRequested,
    CommandStarted,
    ItemProcessed,
)
from events.dvd_events import (
    DvdAdded,
    DvdDetailsRefreshed,
    DvdEdited,
    DvdFieldsLocked,
    DvdFieldsUnlocked,
    DvdIdentified,
    DvdImdbIdPopulated,
    DvdMerged,
    DvdPosterSaved,
    DvdRemoved,
    DvdTmdbIdMatched,
    DvdTorrentsChecked,
    DvdUkCertificationNormalized,
    PosterFileDeleted,
    Torrent,  # noqa: F401 - a part of events: callers find it here with them
)
from events.event import Event
from events.upkeep_events import ChangesSynced

SCHEMA_VERSION = 1

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


def encode_all(events: Sequence[Event]) -> list[bytes]:
    """``encode`` of each event, in one call: compact JSON holds no raw newline (one in a
    string is escaped), so the lines of ``encode_lines`` are the events (0.7 -> 0.5 us an event)."""
    return _encoder.encode_lines(events).split(b"\n")[:-1]


def log_items(events: Sequence[Event]) -> list[tuple[str, bytes, str | None]]:
    """Each event as the log's (type, data, subject), what ``EventStore.append_of`` takes: the
    command and version are the same for a run's rows (a NewRecord each cost 0.5 us an event)."""
    return [(type(e).__name__, data, e.subject()) for e, data in zip(events, encode_all(events), strict=True)]


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
