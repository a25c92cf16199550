"""The one shared HTTP client: per-host-kind rate limits, bounded concurrency, retries, decoding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import msgspec
from yarl import URL

from tracker.clients.files import SmallFiles, stream_to_file
from tracker.clients.pacing import RetryPolicy, pacer, parse_retry_after
from tracker.config import Settings
from tracker.errors import (
    DISK_FULL_ERRNOS,
    ApiError,
    AuthError,
    DiskFull,
    NotFound,
    TrackerError,
    UnstorableValue,
)
from tracker.log import get_logger, redact
from tracker.values import sanitized

T = TypeVar("T")

KINDS = ("tmdb", "yts", "images")
AUTH_MESSAGE = (
    "TMDB refused the API key or access token (HTTP 401): check TMDB_API_KEY / TMDB_ACCESS_TOKEN"
)
_ERROR_BODY_BYTES = 2048

log = get_logger("tracker.clients.http")


@dataclass
class HttpStats:
    """Counters of what the client did: the tests read them, and /metrics reads ``by_kind_status``."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0
    bytes_downloaded: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    # (host kind, HTTP status or "error" when no answer came), for the daemon's /metrics
    by_kind_status: dict[tuple[str, str], int] = field(default_factory=dict)

    def answered(self, kind: str, status: int | None) -> None:
        """Count one attempt's outcome: its HTTP status, or None when no answer came."""
        if status is not None:
            self.by_status[status] = self.by_status.get(status, 0) + 1
        key = (kind, "error" if status is None else str(status))
        self.by_kind_status[key] = self.by_kind_status.get(key, 0) + 1


class _Transient(Exception):
    """One attempt failed in a way worth retrying; ``reason`` names it for the final message."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _Throttled(Exception):
    """The server answered 429; ``retry_after_s`` is its requested wait, if it gave a usable one."""

    def __init__(self, retry_after_s: float | None) -> None:
        super().__init__("HTTP 429")
        self.retry_after_s = retry_after_s


def host_of(url: str) -> str:
    """"scheme://host:port/..." -> "host:port", by slicing (parsing a full URL costs more)."""
    # A malformed URL stands for its own host and fails in aiohttp as before.
    parts = url.split("/", 3)
    return parts[2].rpartition("@")[2].lower() if len(parts) > 2 else url


class _Shown:
    """A request's URL as messages show it, built on first use: only retries and errors need it."""

    __slots__ = ("_client", "_params", "_text", "_url")

    def __init__(self, client: HttpClient, url: str, params: dict[str, Any] | None) -> None:
        """Remember what to show; parsing and redacting wait until someone asks."""
        self._client, self._url, self._params = client, url, params
        self._text: str | None = None

    def __str__(self) -> str:
        """The redacted URL with the caller's params."""
        if self._text is None:
            self._text = self._client._display(self._url, self._params)
        return self._text


class HttpClient:
    """One aiohttp session shared by every request, with a rate limiter per kind of host."""

    def __init__(
        self, settings: Settings, *, retry: RetryPolicy | None = None, timeout_s: float = 30.0
    ) -> None:
        """Prepare limiters; the session opens on ``async with``."""
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.stats = HttpStats()
        rates = {
            "tmdb": settings.tmdb_rate_per_s,
            "yts": settings.yts_rate_per_s,
            "images": settings.tmdb_rate_per_s,
        }
        self._limiters = {kind: pacer(rate) for kind, rate in rates.items()}
        self._paused_until: dict[str, float] = {kind: 0.0 for kind in KINDS}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._failing: dict[str, int] = {}  # host -> failed answers in a row
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
        self._secrets = settings.secrets()
        self._session: aiohttp.ClientSession | None = None
        self._small_files = SmallFiles()

    async def __aenter__(self) -> HttpClient:
        """Open the shared session and connection pool."""
        connector = aiohttp.TCPConnector(
            limit_per_host=self.settings.concurrency,
            limit=self.settings.concurrency * len(KINDS),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s),
            headers={"User-Agent": "tracker/0.1", "Accept": "application/json"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(
        self,
        kind: str,
        url: str,
        params: dict[str, Any] | None = None,
        *,
        type: type[T],
        headers: dict[str, str] | None = None,
    ) -> T:
        """GET ``url`` and decode its JSON body as ``type``, retrying transient failures."""
        decoder = self._decoder(type)

        async def consume(resp: aiohttp.ClientResponse) -> T:
            """Read the whole body, decode it in one go, refuse what SQLite could not store."""
            body = await resp.read()
            try:
                return sanitized(decoder.decode(body))
            except UnicodeDecodeError as exc:  # msgspec's own error for bytes that are not UTF-8
                raise msgspec.DecodeError("not UTF-8 text") from exc
            except UnstorableValue as exc:  # a retry would get the same answer: fail the item
                raise ApiError(f"refused {kind} answer: {exc}", status=resp.status) from exc

        return await self._request(kind, url, params, headers, consume)

    async def download(self, kind: str, url: str, dest: Path) -> int:
        """Stream ``url`` to ``dest`` via a temporary file renamed into place; returns bytes."""

        async def consume(resp: aiohttp.ClientResponse) -> int:
            """Stream the body to disk."""
            return await stream_to_file(resp.content, dest, self._small_files)

        written = await self._request(kind, url, None, None, consume)
        self.stats.bytes_downloaded += written
        return written

    # --- internals --------------------------------------------------------------------------

    def _decoder(self, type_: Any) -> msgspec.json.Decoder[Any]:
        """One cached decoder per target type (building one is the slow part)."""
        decoder = self._decoders.get(type_)
        if decoder is None:
            decoder = self._decoders[type_] = msgspec.json.Decoder(type_)
        return decoder

    def _prepare(
        self, kind: str, params: dict[str, Any] | None, headers: dict[str, str] | None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Params and headers with TMDB credentials added (only ever for kind "tmdb")."""
        if kind not in self._limiters:
            raise ValueError(f"unknown host kind {kind!r}; expected one of {KINDS}")
        params, headers = dict(params or {}), dict(headers or {})
        if kind == "tmdb":
            if self.settings.tmdb_access_token:
                headers["Authorization"] = f"Bearer {self.settings.tmdb_access_token}"
            elif self.settings.tmdb_api_key:
                params["api_key"] = self.settings.tmdb_api_key
        return params, headers

    def _display(self, url: str, params: dict[str, Any] | None) -> str:
        """The URL as it may appear in messages: caller's params shown, any key masked."""
        shown = URL(url)
        if params:
            shown = shown.update_query({k: str(v) for k, v in params.items()})
        return redact(str(shown), self._secrets)

    async def _request(
        self,
        kind: str,
        url: str,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
        consume: Callable[[aiohttp.ClientResponse], Awaitable[T]],
    ) -> T:
        """Run attempts until one succeeds, a permanent error occurs or the budgets run out."""
        display = _Shown(self, url, params)
        params, headers = self._prepare(kind, params, headers)
        failures = throttled = 0
        host = host_of(url)
        while True:
            try:
                result = await self._attempt(kind, url, params, headers, consume, display)
                self._failing[host] = 0
                return result
            except ApiError:
                self._failing[host] = 0  # it answered, if only to refuse
                raise
            except _Throttled as exc:
                self._failing[host] = 0
                throttled += 1
                self.stats.rate_limited += 1
                if throttled > self.retry.max_rate_limited:
                    reason = f"HTTP 429 (rate limited) after {throttled} attempts"
                    raise self._give_up(reason, 429, display) from None
                delay_s = self._throttle_delay_s(exc.retry_after_s, throttled)
                # Everyone talking to this host waits, not just this request.
                self._pause(kind, delay_s)
                reason, status = "HTTP 429", 429
            except _Transient as exc:
                failures += 1
                streak = self._failing[host] = self._failing.get(host, 0) + 1
                if failures >= self.retry.max_attempts or streak >= self.retry.host_down_after:
                    message = (f"{exc.reason} after {failures} attempts" if streak < self.retry.host_down_after
                               else f"{exc.reason}; the host failed its last {streak} answers in a row")
                    raise self._give_up(message, exc.status, display) from exc.__cause__
                delay_s = self.retry.backoff_s(failures)
                reason, status = exc.reason, exc.status
            self.stats.retries += 1
            log.info("http.retry", url=str(display), reason=reason, status=status,
                     failures=failures, throttled=throttled, delay_s=round(delay_s, 3))
            await asyncio.sleep(delay_s)

    def _throttle_delay_s(self, retry_after_s: float | None, throttled: int) -> float:
        """The wait after a 429: the server's Retry-After (capped), else our own backoff."""
        if retry_after_s is None:
            return self.retry.backoff_s(throttled)
        return min(retry_after_s, self.retry.max_retry_after_s)

    def _give_up(self, reason: str, status: int | None, display: _Shown) -> ApiError:
        """The final error after retries, logged once."""
        self.stats.failures += 1
        log.warning("http.failed", url=str(display), reason=reason, status=status)
        return ApiError(f"{reason} ({display})", status=status, retryable=True,
                        host=host_of(display._url), reason=reason)

    def _pause(self, kind: str, delay_s: float) -> None:
        """Hold every request of ``kind`` until ``delay_s`` from now."""
        until = time.monotonic() + delay_s
        self._paused_until[kind] = max(self._paused_until[kind], until)

    async def _wait_pause(self, kind: str) -> None:
        """Sleep while the host kind is paused by a 429 (the pause may be extended meanwhile)."""
        while (remaining_s := self._paused_until[kind] - time.monotonic()) > 0:
            await asyncio.sleep(remaining_s)

    def _slot(self, url: str) -> asyncio.Semaphore:
        """The per-host concurrency gate (same size as the pool's per-host limit)."""
        key = host_of(url)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self.settings.concurrency)
        return slot

    async def _attempt(
        self,
        kind: str,
        url: str,
        params: dict[str, Any],
        headers: dict[str, str],
        consume: Callable[[aiohttp.ClientResponse], Awaitable[T]],
        display: _Shown,
    ) -> T:
        """One request; raises _Transient/_Throttled for retryable outcomes, ApiError otherwise."""
        if self._session is None:
            raise RuntimeError("HttpClient used outside 'async with'")
        # Slot before limiter: taking a rate token and then queueing for a connection would let
        # tokens pile up and go out in a burst once connections free up.
        async with self._slot(url):
            await self._wait_pause(kind)
            await self._limiters[kind].acquire()
            self.stats.requests += 1
            answered = False
            try:
                # The clock starts after the queue and the limiter: only the network is timed.
                async with asyncio.timeout(self.timeout_s):
                    async with self._session.get(url, params=params, headers=headers) as resp:
                        answered = True
                        self.stats.answered(kind, resp.status)
                        await self._check_status(kind, resp, display)
                        return await consume(resp)
            except (TimeoutError, aiohttp.ClientError, msgspec.DecodeError, OSError) as exc:
                if not answered:
                    self.stats.answered(kind, None)
                raise self._translate(exc, display) from exc

    def _translate(self, exc: BaseException, display: _Shown) -> Exception:
        """The retryable outcome or final error that stands for a low-level failure."""
        if isinstance(exc, TimeoutError):
            return _Transient("timed out")
        if isinstance(exc, aiohttp.InvalidURL):
            return ApiError(f"invalid URL ({display})")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return _Transient("truncated body")
        if isinstance(exc, aiohttp.ClientConnectionError):
            return _Transient(f"connection failed ({type(exc).__name__})")
        if isinstance(exc, aiohttp.ClientError):
            return _Transient(f"request failed ({type(exc).__name__})")
        if isinstance(exc, msgspec.ValidationError):
            # Well-formed JSON of the wrong shape will not change on a retry: fail at once,
            # but as retryable, since a later run may meet a mended server.
            message = f"unexpected JSON shape: {redact(str(exc), self._secrets)} ({display})"
            return ApiError(message, status=200, retryable=True)
        if isinstance(exc, msgspec.DecodeError):
            return _Transient("broken JSON body")
        # Network OSErrors are aiohttp errors, handled above; this one is the local disk.
        detail = getattr(exc, "strerror", None) or exc
        if getattr(exc, "errno", None) in DISK_FULL_ERRNOS:
            # Not an item's failure: the engine stops and the item is redone once there is room.
            return DiskFull(f"cannot write file for {display}: {detail}; recorded work is kept "
                            "and the command resumes on the next run")
        return TrackerError(f"cannot write file for {display}: {detail}")

    async def _check_status(self, kind: str, resp: aiohttp.ClientResponse, display: _Shown) -> None:
        """Raise for any non-2xx answer: at once for 4xx, as a retryable outcome for 429 and 5xx."""
        status = resp.status
        if status < 300:
            return
        if status == 429:
            raise _Throttled(parse_retry_after(resp.headers.get("Retry-After")))
        if status >= 500:
            raise _Transient(f"HTTP {status}", status=status)
        self.stats.failures += 1
        if status == 401:
            message = AUTH_MESSAGE if kind == "tmdb" else f"HTTP 401 unauthorized ({display})"
            log.warning("http.failed", url=str(display), status=status, reason="unauthorized")
            raise AuthError(message, status=401)
        detail = await self._error_detail(resp)
        # A 404 is routine (an item TMDB no longer has); keep it out of the default stderr.
        level = log.info if status == 404 else log.warning
        level("http.failed", url=str(display), status=status, reason=detail or resp.reason)
        suffix = f": {detail}" if detail else ""
        if status == 404:
            raise NotFound(f"not found (HTTP 404){suffix} ({display})", status=404)
        raise ApiError(f"HTTP {status}{suffix} ({display})", status=status)

    async def _error_detail(self, resp: aiohttp.ClientResponse) -> str:
        """TMDB's status_message (or errors list) from an error body, redacted; "" if none."""
        try:
            body = await resp.content.read(_ERROR_BODY_BYTES)
            data = msgspec.json.decode(body)
        except (aiohttp.ClientError, TimeoutError, msgspec.DecodeError):
            return ""
        if not isinstance(data, dict):
            return ""
        detail = data.get("status_message") or ""
        if not detail and isinstance(data.get("errors"), list):
            detail = "; ".join(str(e) for e in data["errors"])
        return redact(str(detail), self._secrets)[:200]
