"""Loopback aiohttp servers and settings shared by the HTTP, TMDB, YTS and media tests (no tests here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tracker.clients.http import HttpClient
from tracker.clients.pacing import RetryPolicy
from tracker.config import Settings

_REPO = Path(__file__).resolve().parent.parent
# Real TMDB responses, vendored from shared/api-samples so a fresh clone tests against them.
SAMPLES = _REPO / "tests" / "data" / "api-samples" / "tmdb"
API_KEY = "k3y-SECRET-0123456789abcdef"
ACCESS_TOKEN = "t0ken-SECRET-eyJhbGciOiJIUzI1NiJ9"
# Tiny delays: every retry path runs in milliseconds.
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.005, max_delay_s=0.02,
                         max_rate_limited=3, max_retry_after_s=5.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hit:
    """One request the loopback server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at_s: float


@dataclass
class Loopback:
    """A real HTTP server on 127.0.0.1 that records every request it gets."""

    server: TestServer
    hits: list[Hit] = field(default_factory=list)

    def url(self, path: str = "") -> str:
        """The absolute URL of ``path`` on this server."""
        return str(self.server.make_url(path))

    def hits_on(self, path: str) -> list[Hit]:
        """The requests received for one path."""
        return [h for h in self.hits if h.path == path]


@asynccontextmanager
async def loopback(routes: dict[str, Handler]) -> AsyncIterator[Loopback]:
    """Serve ``routes`` (path -> handler, GET) on 127.0.0.1 for the duration of the block."""
    app = web.Application()
    hits: list[Hit] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        hits.append(Hit(request.path, dict(request.query), dict(request.headers), time.monotonic()))
        return await handler(request)

    app.middlewares.append(record)
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Loopback(server, hits)
    finally:
        await server.close()


def settings_for(base: Loopback, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings pointing every API at the loopback server, with a key and generous rates."""
    values: dict[str, Any] = dict(
        home=tmp_path,
        tmdb_api_key=API_KEY,
        tmdb_base_url=base.url("/3"),
        tmdb_image_base_url=base.url("/t/p"),
        yts_base_url=base.url("/api/v2"),
        tmdb_rate_per_s=1000.0,
        yts_rate_per_s=1000.0,
        concurrency=8,
    )
    values.update(overrides)
    return Settings(**values)


def client(settings: Settings, *, retry: RetryPolicy = FAST_RETRY, timeout_s: float = 5.0) -> HttpClient:
    """An HttpClient with test-sized retries."""
    return HttpClient(settings, retry=retry, timeout_s=timeout_s)


def sample_bytes(name: str) -> bytes:
    """The raw bytes of one api-samples file."""
    return (SAMPLES / name).read_bytes()


def json_response(body: bytes | str, status: int = 200, **headers: str) -> web.Response:
    """A JSON response from raw text (so tests can send broken JSON too)."""
    raw = body.encode() if isinstance(body, str) else body
    return web.Response(body=raw, status=status, content_type="application/json", headers=headers)


def sequence(*steps: Handler) -> Handler:
    """A handler answering the n-th request with the n-th step (the last one repeats)."""
    calls = {"n": 0}

    async def handle(request: web.Request) -> web.StreamResponse:
        step = steps[min(calls["n"], len(steps) - 1)]
        calls["n"] += 1
        return await step(request)

    return handle


def answer(body: bytes | str, status: int = 200, **headers: str) -> Handler:
    """A handler step that always sends the same JSON answer."""

    async def handle(_request: web.Request) -> web.StreamResponse:
        return json_response(body, status, **headers)

    return handle


async def drop_connection(request: web.Request) -> web.StreamResponse:
    """A handler step that closes the socket without answering."""
    assert request.transport is not None
    request.transport.abort()
    await asyncio.sleep(0.01)
    return web.Response()


async def truncated_body(request: web.Request) -> web.StreamResponse:
    """A handler step that promises 1000 bytes, sends 10 and hangs up."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
    await resp.prepare(request)
    await resp.write(b'{"id": 550')
    assert request.transport is not None
    request.transport.abort()
    return resp


def slow(delay_s: float, then: Handler) -> Handler:
    """A handler step that waits ``delay_s`` before answering like ``then``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay_s)
        return await then(request)

    return handle
