"""HttpClient against real loopback servers: retries, 429, 4xx, timeouts, auth and downloads."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import structlog

from tests.http_support import (
    ACCESS_TOKEN,
    API_KEY,
    FAST_RETRY,
    answer,
    client,
    drop_connection,
    loopback,
    sequence,
    settings_for,
    slow,
    truncated_body,
)
from tracker.clients.http import HttpClient
from tracker.clients.pacing import RetryPolicy, parse_retry_after
from tracker.errors import ApiError, AuthError, NotFound

OK = answer('{"id": 550, "title": "Fight Club"}')


class Movie(msgspec.Struct):
    """The smallest shape the tests decode."""

    id: int
    title: str = ""


async def fetch(http: HttpClient, base_url: str, kind: str = "tmdb") -> Movie:
    """GET /3/movie/550 as a Movie."""
    return await http.get_json(kind, f"{base_url}/3/movie/550", type=Movie)


# aiohttp itself resends an idempotent request once when the server hangs up before answering
# (RFC 9112 9.3.1), so one dropped attempt is two dropped requests on the wire.
DROPPED_TWICE = (drop_connection, drop_connection)


@pytest.mark.parametrize(
    "failing",
    [(answer("{}", 503),), DROPPED_TWICE, (truncated_body,), (answer('{"id": 55'),), (answer("<html>"),)],
    ids=["503", "dropped", "truncated", "broken-json", "html"],
)
async def test_transient_failure_then_success_is_retried(tmp_path: Path, failing) -> None:
    """A 5xx, dropped connection, truncated or broken body is retried and the retry succeeds."""
    async with loopback({"/3/movie/550": sequence(*failing, OK)}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            movie = await fetch(http, srv.url())
    assert movie == Movie(550, "Fight Club")
    assert len(srv.hits) == len(failing) + 1
    assert http.stats.retries == 1
    assert http.stats.requests == 2


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (answer("{}", 503), "HTTP 503 after 3 attempts"),
        (answer('{"id": '), "broken JSON body after 3 attempts"),
        (drop_connection, "connection failed"),
        (truncated_body, "truncated body after 3 attempts"),
    ],
    ids=["503", "broken-json", "dropped", "truncated"],
)
async def test_persistent_failure_gives_up_retryable(tmp_path: Path, step, reason: str) -> None:
    """After max_attempts the error is a retryable ApiError naming the reason and the count."""
    async with loopback({"/3/movie/550": step}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(ApiError) as caught:
                await fetch(http, srv.url())
    assert caught.value.retryable is True
    assert reason in str(caught.value)
    assert "after 3 attempts" in str(caught.value)
    wire_requests_per_attempt = 2 if step is drop_connection else 1
    assert len(srv.hits) == 3 * wire_requests_per_attempt
    assert http.stats.requests == 3
    assert API_KEY not in str(caught.value)
    assert http.stats.failures == 1


async def test_timeout_is_retried_then_reported(tmp_path: Path) -> None:
    """A server slower than timeout_s is retried; if always slow, 'timed out after N attempts'."""
    routes = {
        "/3/movie/550": sequence(slow(1.0, OK), OK),
        "/3/movie/551": slow(1.0, OK),
    }
    async with loopback(routes) as srv:
        async with client(settings_for(srv, tmp_path), timeout_s=0.1) as http:
            assert (await fetch(http, srv.url())).id == 550
            with pytest.raises(ApiError, match="timed out after 3 attempts") as caught:
                await http.get_json("tmdb", srv.url("/3/movie/551"), type=Movie)
    assert caught.value.retryable
    assert len(srv.hits_on("/3/movie/550")) == 2
    assert len(srv.hits_on("/3/movie/551")) == 3


async def test_429_honours_retry_after_seconds(tmp_path: Path) -> None:
    """A 429 with Retry-After: 1 waits at least one second, then succeeds."""
    throttle = answer('{"status_code": 25}', 429, **{"Retry-After": "1"})
    async with loopback({"/3/movie/550": sequence(throttle, OK)}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            started = time.monotonic()
            await fetch(http, srv.url())
            elapsed_s = time.monotonic() - started
    assert elapsed_s >= 1.0
    gap_s = srv.hits[1].at_s - srv.hits[0].at_s
    assert gap_s >= 1.0
    assert http.stats.rate_limited == 1
    assert http.stats.by_status == {429: 1, 200: 1}


async def test_429_does_not_spend_failure_attempts_but_is_bounded(tmp_path: Path) -> None:
    """429s have their own budget: 2 of them plus 2 failures still succeed; endless 429s stop."""
    throttle = answer("{}", 429, **{"Retry-After": "0"})
    fail = answer("{}", 503)
    routes = {
        "/3/movie/550": sequence(throttle, fail, throttle, fail, OK),
        "/3/movie/551": throttle,
    }
    async with loopback(routes) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            assert (await fetch(http, srv.url())).id == 550
            with pytest.raises(ApiError, match=r"HTTP 429 \(rate limited\) after 4 attempts") as caught:
                await http.get_json("tmdb", srv.url("/3/movie/551"), type=Movie)
    assert caught.value.status == 429 and caught.value.retryable
    # FAST_RETRY allows 3 waits after 429s: the 4th 429 gives up.
    assert len(srv.hits_on("/3/movie/551")) == FAST_RETRY.max_rate_limited + 1


async def test_429_retry_after_is_capped(tmp_path: Path) -> None:
    """An absurd Retry-After is capped at max_retry_after_s instead of stalling the run."""
    throttle = answer("{}", 429, **{"Retry-After": "86400"})
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_retry_after_s=0.2)
    async with loopback({"/3/movie/550": sequence(throttle, OK)}) as srv:
        async with client(settings_for(srv, tmp_path), retry=policy) as http:
            started = time.monotonic()
            await fetch(http, srv.url())
    assert 0.2 <= time.monotonic() - started < 2.0


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    """Retry-After is delta-seconds or an HTTP date; garbage gives None."""
    now = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=7)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after("3", now=now) == 3.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after(later, now=now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2015 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("-4", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


async def test_404_is_not_found_at_once(tmp_path: Path) -> None:
    """404 raises NotFound after exactly one request, with TMDB's message."""
    body = '{"status_message": "The resource you requested could not be found.", "status_code": 34}'
    async with loopback({"/3/movie/550": answer(body, 404)}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(NotFound, match="could not be found") as caught:
                await fetch(http, srv.url())
    assert len(srv.hits) == 1
    assert caught.value.status == 404 and not caught.value.retryable
    assert http.stats.retries == 0


async def test_401_fails_once_without_leaking_the_key(tmp_path: Path, capsys) -> None:
    """401 raises AuthError at once; the key is in neither the message nor any log line."""
    from tracker.log import configure_logging

    body = '{"status_message": "Invalid API key: You must be granted a valid key.", "success": false}'
    configure_logging(debug=True, secrets=[API_KEY])
    try:
        async with loopback({"/3/movie/550": answer(body, 401)}) as srv:
            async with client(settings_for(srv, tmp_path)) as http:
                with structlog.testing.capture_logs() as logs:
                    with pytest.raises(AuthError) as caught:
                        await fetch(http, srv.url())
                with pytest.raises(AuthError):
                    await fetch(http, srv.url())
    finally:
        configure_logging()
    assert srv.hits[0].query["api_key"] == API_KEY  # it was sent, to the right place
    assert len(srv.hits) == 2  # one per call: never retried
    message = str(caught.value)
    assert "TMDB_API_KEY" in message and "HTTP 401" in message
    assert API_KEY not in message and API_KEY not in repr(caught.value.args)
    assert logs and API_KEY not in repr(logs)
    assert API_KEY not in capsys.readouterr().err


async def test_other_4xx_fails_at_once(tmp_path: Path) -> None:
    """A 422 is a permanent ApiError after one request, with TMDB's error list."""
    body = '{"errors": ["query must be provided"]}'
    async with loopback({"/3/movie/550": answer(body, 422)}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(ApiError, match="HTTP 422: query must be provided") as caught:
                await fetch(http, srv.url())
    assert len(srv.hits) == 1 and not caught.value.retryable


async def test_wrong_shape_fails_at_once_as_retryable(tmp_path: Path) -> None:
    """Well-formed JSON of the wrong shape is not retried but may succeed in a later run."""
    async with loopback({"/3/movie/550": answer('{"id": "not a number"}')}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(ApiError, match="unexpected JSON shape") as caught:
                await fetch(http, srv.url())
    assert len(srv.hits) == 1 and caught.value.retryable


async def test_api_key_auth_only_for_tmdb(tmp_path: Path) -> None:
    """With only a key, TMDB requests carry api_key in the query; YTS and images carry nothing."""
    async with loopback({"/3/movie/550": OK}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            await fetch(http, srv.url(), kind="tmdb")
            await fetch(http, srv.url(), kind="yts")
            await fetch(http, srv.url(), kind="images")
    tmdb, yts, images = srv.hits
    assert tmdb.query == {"api_key": API_KEY} and "Authorization" not in tmdb.headers
    for hit in (yts, images):
        assert hit.query == {} and "Authorization" not in hit.headers


async def test_bearer_token_preferred_over_key(tmp_path: Path) -> None:
    """With an access token, TMDB requests carry Authorization: Bearer and no api_key."""
    async with loopback({"/3/movie/550": OK}) as srv:
        settings = settings_for(srv, tmp_path, tmdb_access_token=ACCESS_TOKEN)
        async with client(settings) as http:
            await fetch(http, srv.url())
            await fetch(http, srv.url(), kind="yts")
    tmdb, yts = srv.hits
    assert tmdb.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "api_key" not in tmdb.query
    assert "Authorization" not in yts.headers


async def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    """Only the three host kinds exist; anything else is a programming error."""
    async with loopback({}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(ValueError, match="unknown host kind"):
                await fetch(http, srv.url(), kind="imdb")


async def test_decoders_are_cached_per_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a msgspec decoder once per type, not once per request."""
    built: list[object] = []
    real_decoder = msgspec.json.Decoder

    def counting_decoder(type_: object) -> msgspec.json.Decoder:
        built.append(type_)
        return real_decoder(type_)

    monkeypatch.setattr(msgspec.json, "Decoder", counting_decoder)
    async with loopback({"/3/movie/550": OK}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            for _ in range(3):
                assert (await fetch(http, srv.url())).id == 550
    assert built == [Movie]


async def test_download_writes_atomically(tmp_path: Path) -> None:
    """A download lands under its name with the right bytes and leaves no temporary file."""
    payload = b"\xff\xd8\xff" + bytes(range(256)) * 1000  # a JPEG's first bytes, then any
    from aiohttp import web

    async def image(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=payload, content_type="image/jpeg")

    dest = tmp_path / "posters" / "abc.jpg"
    dest.parent.mkdir()
    async with loopback({"/t/p/w500/abc.jpg": image}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            written = await http.download("images", srv.url("/t/p/w500/abc.jpg"), dest)
    assert written == len(payload) and dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["abc.jpg"]
    assert http.stats.bytes_downloaded == len(payload)


@pytest.mark.parametrize(
    ("step", "error"),
    [(truncated_body, ApiError), (answer("{}", 404), NotFound), (answer("{}", 500), ApiError)],
    ids=["truncated", "404", "500"],
)
async def test_failed_download_leaves_nothing(tmp_path: Path, step, error) -> None:
    """A truncated or refused download leaves neither the file nor a temporary file."""
    dest = tmp_path / "abc.jpg"
    async with loopback({"/t/p/w500/abc.jpg": step}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(error):
                await http.download("images", srv.url("/t/p/w500/abc.jpg"), dest)
    assert list(tmp_path.iterdir()) == []


async def test_download_into_a_missing_folder_is_a_tracker_error(tmp_path: Path) -> None:
    """A local disk failure is reported as a TrackerError raised from the OSError, not retried."""
    from aiohttp import web

    from tracker.errors import TrackerError

    async def image(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\xff\xd8\xffimg", content_type="image/jpeg")

    dest = tmp_path / "missing" / "abc.jpg"
    async with loopback({"/t/p/w500/abc.jpg": image}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(TrackerError, match="cannot write file") as caught:
                await http.download("images", srv.url("/t/p/w500/abc.jpg"), dest)
    assert isinstance(caught.value.__cause__, OSError)
    assert len(srv.hits) == 1


async def test_a_host_failing_every_answer_stops_retrying(tmp_path: Path) -> None:
    """Once a host's last answers in a row all failed, failed attempts are no longer retried there."""
    async with loopback({"/3/movie/550": answer("{}", 503)}) as srv:
        policy = RetryPolicy(max_attempts=5, base_delay_s=0.001, host_down_after=10)
        async with client(settings_for(srv, tmp_path), retry=policy) as http:
            results = await asyncio.gather(*(fetch(http, srv.url()) for _ in range(30)),
                                           return_exceptions=True)
    assert all(isinstance(r, ApiError) and r.host_down for r in results)
    assert http.stats.requests <= 10 + 30  # not 30 x 5: after 10 failures in a row, one attempt each
    assert any("the host failed its last" in str(r) for r in results)


async def test_a_host_that_answers_again_is_retried_as_before(tmp_path: Path) -> None:
    """A success between failures resets the count: isolated failures keep their full retries."""
    flaky = answer("{}", 503)
    async with loopback({"/3/movie/550": sequence(flaky, OK, flaky, OK, flaky, OK)}) as srv:
        policy = RetryPolicy(max_attempts=5, base_delay_s=0.001, host_down_after=2)
        async with client(settings_for(srv, tmp_path), retry=policy) as http:
            for _ in range(3):
                assert (await fetch(http, srv.url())).id == 550
    assert http.stats.retries == 3
