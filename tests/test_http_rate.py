"""HttpClient pacing, measured on a loopback server: rate limits, separate kinds, 429 pauses, concurrency."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
from aiohttp import web

from tests.http_support import (
    answer,
    client,
    loopback,
    sequence,
    settings_for,
)


class Ping(msgspec.Struct):
    """The body every pacing endpoint answers."""

    ok: bool = True


class TokenBucket:
    """The server side of a rate limit: ``rate_per_s`` tokens a second, at most ``capacity`` saved."""

    def __init__(self, rate_per_s: float, capacity: float) -> None:
        """Start full, like a server that has seen no traffic."""
        self.rate_per_s, self.capacity = rate_per_s, capacity
        self.tokens, self.last_s = capacity, time.monotonic()

    def take(self) -> bool:
        """Spend a token if one is there."""
        now_s = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now_s - self.last_s) * self.rate_per_s)
        self.last_s = now_s
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def max_in_window(times_s: list[float], window_s: float = 1.0) -> int:
    """The most requests seen in any sliding window of ``window_s``."""
    times_s = sorted(times_s)
    best = start = 0
    for end, t in enumerate(times_s):
        while t - times_s[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_limiter_never_trips_a_server_enforcing_the_same_rate(tmp_path: Path) -> None:
    """80 concurrent requests at 40/s meet a token bucket of capacity 40 without one 429."""
    rate_per_s, total = 40.0, 80
    bucket = TokenBucket(rate_per_s, capacity=rate_per_s)

    async def limited(_request: web.Request) -> web.StreamResponse:
        if bucket.take():
            return web.json_response({"ok": True})
        return web.json_response({"ok": False}, status=429, headers={"Retry-After": "1"})

    async with loopback({"/3/ping": limited}) as srv:
        settings = settings_for(srv, tmp_path, tmdb_rate_per_s=rate_per_s, concurrency=16)
        async with client(settings) as http:
            started = time.monotonic()
            url = srv.url("/3/ping")
            await asyncio.gather(*(http.get_json("tmdb", url, type=Ping) for _ in range(total)))
            elapsed_s = time.monotonic() - started
    assert http.stats.rate_limited == 0
    assert http.stats.by_status == {200: total}
    # The limiter may run 1% + one request ahead to catch up a late wake-up; arrival times seen
    # by the server also carry scheduling jitter on a loaded machine, hence the second slack.
    assert max_in_window([h.at_s for h in srv.hits]) <= rate_per_s + 2
    # Evenly spaced, not bursting: the run takes about (total - 1) / rate seconds.
    assert elapsed_s >= (total - 1) / rate_per_s * 0.9


async def test_kinds_have_separate_limiters(tmp_path: Path) -> None:
    """A slow YTS limit (2/s) does not hold back TMDB requests queued behind it."""
    async with loopback({"/3/ping": answer('{"ok": true}')}) as srv:
        settings = settings_for(srv, tmp_path, yts_rate_per_s=2.0, tmdb_rate_per_s=200.0)
        async with client(settings) as http:
            url = srv.url("/3/ping")
            yts = asyncio.gather(*(http.get_json("yts", url, type=Ping) for _ in range(3)))
            await asyncio.sleep(0)
            started = time.monotonic()
            await asyncio.gather(*(http.get_json("tmdb", url, type=Ping) for _ in range(10)))
            tmdb_elapsed_s = time.monotonic() - started
            await yts
            yts_elapsed_s = time.monotonic() - started
    assert tmdb_elapsed_s < 0.5
    assert yts_elapsed_s >= 0.9  # three YTS requests at 2/s span a second


async def test_a_429_pauses_every_request_of_that_kind(tmp_path: Path) -> None:
    """After a 429 with Retry-After, other requests to the same kind wait it out too."""
    throttle = answer("{}", 429, **{"Retry-After": "0.5"})
    routes = {"/3/first": sequence(throttle, answer("{}")), "/3/other": answer("{}")}
    async with loopback(routes) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            first = asyncio.create_task(http.get_json("tmdb", srv.url("/3/first"), type=Ping))
            await asyncio.sleep(0.1)
            await http.get_json("tmdb", srv.url("/3/other"), type=Ping)
            await first
    throttled_at_s = srv.hits_on("/3/first")[0].at_s
    assert srv.hits_on("/3/other")[0].at_s - throttled_at_s >= 0.5


async def test_concurrency_caps_requests_in_flight(tmp_path: Path) -> None:
    """No more than settings.concurrency requests are in flight at once to one host."""
    in_flight = {"now": 0, "max": 0}

    async def slow(_request: web.Request) -> web.StreamResponse:
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        await asyncio.sleep(0.05)
        in_flight["now"] -= 1
        return web.json_response({"ok": True})

    async with loopback({"/3/slow": slow}) as srv:
        async with client(settings_for(srv, tmp_path, concurrency=3)) as http:
            url = srv.url("/3/slow")
            await asyncio.gather(*(http.get_json("tmdb", url, type=Ping) for _ in range(12)))
    assert in_flight["max"] == 3
