"""YTS v2 client: torrents of a film by IMDb id; an outage is an error, never an empty list."""

from __future__ import annotations

import re

import msgspec

from events.types import Torrent
from tracker.clients.http import HttpClient
from tracker.config import Settings
from tracker.errors import ApiError, BadInputError

_IMDB_ID_RE = re.compile(r"tt\d{5,10}")


class YtsTorrent(msgspec.Struct):
    """One torrent as YTS lists it."""

    hash: str = ""
    quality: str = ""
    type: str = ""
    seeds: int = 0
    peers: int = 0
    size_bytes: int = 0


class YtsMovie(msgspec.Struct):
    """One film of a YTS answer."""

    imdb_code: str = ""
    torrents: list[YtsTorrent] | None = None


class YtsData(msgspec.Struct):
    """The data block; YTS omits ``movies`` when nothing matches."""

    movie_count: int = 0
    movies: list[YtsMovie] | None = None


class YtsResponse(msgspec.Struct):
    """The envelope of /list_movies.json."""

    status: str = ""
    status_message: str = ""
    data: YtsData | None = None


class YtsClient:
    """YTS over the shared HttpClient (kind "yts")."""

    def __init__(self, http: HttpClient, settings: Settings) -> None:
        """Bind to the shared client and the YTS base URL."""
        self.http = http
        self.base_url = settings.yts_base_url

    async def torrents_for(self, imdb_id: str) -> list[Torrent]:
        """Torrents of the film with exactly this IMDb id; [] only when YTS says it has none."""
        imdb_id = imdb_id.strip().lower()
        if not _IMDB_ID_RE.fullmatch(imdb_id):
            raise BadInputError(f"not an IMDb id: {imdb_id!r}")
        url = f"{self.base_url}/list_movies.json"
        answer = await self.http.get_json("yts", url, {"query_term": imdb_id}, type=YtsResponse)
        return torrents_from(answer, imdb_id, url)


def torrents_from(answer: YtsResponse, imdb_id: str, url: str = "YTS") -> list[Torrent]:
    """The torrents for ``imdb_id`` in a decoded answer; a non-ok or malformed answer raises."""
    if answer.status != "ok":
        reason = answer.status_message or answer.status or "no status"
        raise ApiError(f"YTS answered status {reason!r} ({url})", retryable=True)
    if answer.data is None:
        raise ApiError(f"YTS answer has no data block ({url})", retryable=True)
    if answer.data.movies is None:
        if answer.data.movie_count:
            # It counted matches but listed none: a broken answer, not "no torrents".
            raise ApiError(f"YTS counted movies but listed none ({url})", retryable=True)
        return []
    torrents: list[Torrent] = []
    for movie in answer.data.movies:
        # query_term is a fuzzy search: other films can match, only the exact id counts.
        if movie.imdb_code.strip().lower() != imdb_id:
            continue
        torrents.extend(
            Torrent(quality=t.quality, type=t.type, seeds=t.seeds, peers=t.peers,
                    size_bytes=t.size_bytes, hash=t.hash)
            for t in movie.torrents or []
        )
    return torrents
