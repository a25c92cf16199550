"""YtsClient against a loopback YTS: exact-id matches, no-match as [], and failures never as []."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from events.types import Torrent
from tests.http_support import answer, client, loopback, settings_for
from tracker.clients.yts import YtsClient
from tracker.errors import ApiError, BadInputError

PATH = "/api/v2/list_movies.json"
TORRENT = {"url": "https://yts/torrent/ABC", "hash": "ABC123", "quality": "720p", "type": "web",
           "seeds": 98, "peers": 72, "size": "795.76 MB", "size_bytes": 834414838,
           "date_uploaded": "2020-08-19 21:19:47", "date_uploaded_unix": 1597864787}


def yts_body(movies: list[dict] | None, status: str = "ok") -> str:
    """A YTS envelope; ``movies`` None means the key is omitted, as YTS does for no match."""
    data: dict = {"movie_count": len(movies or []), "limit": 20, "page_number": 1}
    if movies is not None:
        data["movies"] = movies
    return json.dumps({"status": status, "status_message": "Query was successful", "data": data,
                       "@meta": {"server_time": 1, "api_version": 2}})


async def torrents(tmp_path: Path, body_or_handler, imdb_id: str = "tt0137523"):
    """Ask the loopback YTS for ``imdb_id``; returns (torrents, server)."""
    handler = answer(body_or_handler) if isinstance(body_or_handler, str) else body_or_handler
    async with loopback({PATH: handler}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            return await YtsClient(http, http.settings).torrents_for(imdb_id), srv


async def test_match_returns_its_torrents(tmp_path: Path) -> None:
    """The asked film's torrents come back as Torrent structs; the query term is the IMDb id."""
    movies = [{"id": 1, "imdb_code": "tt0137523", "title": "Fight Club", "year": 1999,
               "torrents": [TORRENT, {**TORRENT, "quality": "1080p", "hash": "DEF"}]}]
    got, srv = await torrents(tmp_path, yts_body(movies))
    assert got == [Torrent("720p", "web", 98, 72, 834414838, "ABC123"),
                   Torrent("1080p", "web", 98, 72, 834414838, "DEF")]
    assert srv.hits[0].query == {"query_term": "tt0137523"}
    assert "api_key" not in srv.hits[0].query


async def test_no_movies_key_means_no_torrents(tmp_path: Path) -> None:
    """YTS omits "movies" when nothing matches: that, and only that, is an empty list."""
    got, _ = await torrents(tmp_path, yts_body(None))
    assert got == []


async def test_other_films_in_the_answer_are_ignored(tmp_path: Path) -> None:
    """query_term is fuzzy: films with another IMDb id do not count."""
    movies = [{"imdb_code": "tt0137524", "torrents": [TORRENT]}, {"imdb_code": "tt0137523", "torrents": None}]
    got, _ = await torrents(tmp_path, yts_body(movies))
    assert got == []


@pytest.mark.parametrize(
    "body",
    [
        yts_body(None, status="error"),
        '{"status": "ok"}',
        json.dumps({"status": "ok", "data": {"movie_count": 2}}),
        '{"status": "ok", "data": {"movies": "nope"}}',
        "[]",
    ],
    ids=["status-error", "no-data", "counted-but-no-movies", "movies-not-a-list", "not-an-object"],
)
async def test_malformed_or_failed_answer_is_an_error_not_empty(tmp_path: Path, body: str) -> None:
    """A non-ok status or a malformed body raises a retryable ApiError, never []."""
    with pytest.raises(ApiError) as caught:
        await torrents(tmp_path, body)
    assert caught.value.retryable


async def test_outage_is_an_error_not_empty(tmp_path: Path) -> None:
    """A YTS that keeps answering 503 fails after retries instead of reporting no torrents."""
    with pytest.raises(ApiError, match="HTTP 503 after 3 attempts") as caught:
        await torrents(tmp_path, answer("<html>down</html>", 503))
    assert caught.value.retryable


async def test_not_an_imdb_id_is_refused_without_a_request(tmp_path: Path) -> None:
    """A value that is not tt + digits is bad input, and YTS is not asked."""
    with pytest.raises(BadInputError):
        await torrents(tmp_path, yts_body(None), imdb_id="Fight Club")
