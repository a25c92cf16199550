"""What stands between a request and its handler: counting, rate limit, latency, faults and auth.

Order per request (control routes under /__sandbox skip all of it): count it, apply the host's
token bucket (429 + Retry-After), draw at most one fault from the seeded dice, add latency, then:
``timeout`` sleeps ``timeout_sleep_s`` before answering normally; ``drop`` closes the connection
with no answer; ``5xx`` answers 500/502/503/504; ``truncated`` answers 200 with a JSON body cut in
half (the Content-Length matches the cut body, so only the JSON is broken) or, for images, declares
the full length and closes early. TMDB routes then check the key (401) before the handler runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from tracker.sandbox import shapes
from tracker.sandbox.knobs import TokenBucket, retry_after_s
from tracker.sandbox.state import STATE, SandboxState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PREFIXES = (("/3/", "tmdb"), ("/api/v2/", "yts"), ("/t/p/", "image"), ("/__sandbox/", "control"))
_INTERNAL_ERROR = {"success": False, "status_code": 11,
                   "status_message": "Internal error: Something went wrong, contact TMDB."}


def host_kind(path: str) -> str:
    """Which simulated host a path belongs to: tmdb, yts, image, control or other."""
    for prefix, kind in _PREFIXES:
        if path.startswith(prefix):
            return kind
    return "other"


def _route_name(request: web.Request) -> str:
    route = getattr(request.match_info, "route", None)
    name = getattr(route, "name", None)
    return name or "unmatched"


async def sleep_unless_closing(state: SandboxState, seconds: float) -> None:
    """Sleep, but wake at once when the server is stopping (so shutdown never waits on faults)."""
    if seconds <= 0:
        return
    if state.closing is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(state.closing.wait(), seconds)


def _authorized(request: web.Request, state: SandboxState) -> bool:
    if request.query.get("api_key") == state.api_key:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token.strip() == state.access_token


def _rate_limited(state: SandboxState, host: str) -> web.Response | None:
    rate = state.knobs.rate_for(host)
    if rate is None:
        return None
    bucket = state.buckets.get(host)
    if bucket is None or bucket.rate_per_s != rate:
        bucket = state.buckets[host] = TokenBucket(rate)
    wait_s = bucket.take()
    if wait_s == 0:
        return None
    body = shapes.too_many(int(rate)) if host == "tmdb" else {"status": "error", "status_message": "Too many requests"}
    return web.json_response(body, status=429, headers={"Retry-After": str(retry_after_s(wait_s))})


def _not_found(host: str) -> web.Response:
    if host == "tmdb":
        return web.json_response(shapes.NOT_FOUND, status=404)
    return web.Response(status=404, text="Not Found")


async def _answer(request: web.Request, handler: Handler, host: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _not_found(host)
    except web.HTTPMethodNotAllowed as exc:
        return web.Response(status=exc.status, text=exc.text or "")


async def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without a byte of answer (the client sees a disconnect)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError  # aiohttp then writes nothing on the dead connection


async def _truncated(request: web.Request, response: web.StreamResponse, host: str) -> web.StreamResponse:
    body = getattr(response, "body", None)
    if not isinstance(body, (bytes, bytearray)) or not body:
        return response
    if host != "image":
        cut = web.Response(body=bytes(body[: max(1, len(body) // 2)]), status=response.status,
                           content_type=response.content_type)
        return cut
    stream = web.StreamResponse(status=response.status, headers={"Content-Type": response.content_type})
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(bytes(body[: len(body) // 2]))
    if request.transport is not None:
        request.transport.close()
    return stream


def _server_error(state: SandboxState, host: str) -> web.Response:
    status = state.dice.pick((500, 502, 503, 504))
    if host == "tmdb":
        return web.json_response(_INTERNAL_ERROR, status=status)
    return web.Response(status=status, text="Server error (sandbox fault)")


async def _faulted(request: web.Request, state: SandboxState, fault: str | None) -> web.StreamResponse | None:
    """The answer a drawn fault replaces the normal one with (None: answer normally)."""
    if fault is None:
        return None
    state.stats.faults[fault] += 1
    if fault == "timeout":
        await sleep_unless_closing(state, state.knobs.timeout_sleep_s)
        return None
    if fault == "drop":
        return await _drop(request)
    if fault == "5xx":
        return _server_error(state, host_kind(request.path))
    return None


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the sandbox's knobs around every non-control request, and count it."""
    state = request.app[STATE]
    host = host_kind(request.path)
    if host == "control":
        return await handler(request)
    state.stats.count_request(host, _route_name(request))
    limited = _rate_limited(state, host)
    if limited is not None:
        state.stats.count_status(429)
        return limited
    fault = state.dice.draw(state.knobs.fault_rates()) if host in state.knobs.fault_hosts else None
    await sleep_unless_closing(state, state.knobs.latency_s)
    response = await _faulted(request, state, fault)
    if response is None:
        if host == "tmdb" and not _authorized(request, state):
            response = web.json_response(shapes.INVALID_API_KEY, status=401)
        else:
            response = await _answer(request, handler, host)
        if fault == "truncated":
            response = await _truncated(request, response, host)
    state.stats.count_status(response.status)
    return response

