"""Running the sandbox: ``Sandbox`` (async), ``SandboxThread`` (sync, own loop), ``serve``/``run_sandbox``."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from datetime import date
from typing import Any, TextIO

from aiohttp import web

from tracker.sandbox.app import build_app
from tracker.sandbox.knobs import Knobs
from tracker.sandbox.state import SandboxState

DEFAULT_API_KEY = "sandbox-key"
DEFAULT_ACCESS_TOKEN = "sandbox-token"


class Sandbox:
    """The sandbox server on 127.0.0.1, as an async context manager.

    ``async with Sandbox(port=0, synthetic_count=1000, latency_s=0.01) as sb:`` then point a client
    at ``sb.env()``. Every keyword other than host/port/credentials is a knob (see ``Knobs``) and
    can be changed later with ``configure(**knobs)`` or POST /__sandbox/config.
    """

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", api_key: str = DEFAULT_API_KEY,
                 access_token: str = DEFAULT_ACCESS_TOKEN, **knobs: Any) -> None:
        """Check the knobs now so a typo fails before anything listens."""
        settings = Knobs()
        settings.update(knobs)
        self.host = host
        self.requested_port = port
        self.state = SandboxState(api_key, access_token, settings)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def api_key(self) -> str:
        """The v3 key the sandbox accepts as ``api_key``."""
        return self.state.api_key

    @property
    def access_token(self) -> str:
        """The v4 token the sandbox accepts as ``Authorization: Bearer``."""
        return self.state.access_token

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (only valid once started)."""
        if self.port is None:
            raise RuntimeError("the sandbox is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def tmdb_base_url(self) -> str:
        """The TMDB v3 base (TMDB_BASE_URL)."""
        return f"{self.base_url}/3"

    @property
    def image_base_url(self) -> str:
        """The image base, sizes appended (TMDB_IMAGE_BASE_URL)."""
        return f"{self.base_url}/t/p"

    @property
    def yts_base_url(self) -> str:
        """The YTS v2 base (YTS_BASE_URL)."""
        return f"{self.base_url}/api/v2"

    def env(self) -> dict[str, str]:
        """Environment variables that point tracker at this sandbox."""
        return {"TMDB_BASE_URL": self.tmdb_base_url, "TMDB_IMAGE_BASE_URL": self.image_base_url,
                "YTS_BASE_URL": self.yts_base_url, "TMDB_API_KEY": self.api_key}

    def stats(self) -> dict[str, Any]:
        """Request counters (the body of GET /__sandbox/stats)."""
        return self.state.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self.state.stats.reset()

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs at runtime; returns all knobs. ValueError names a bad one."""
        return self.state.configure(knobs)

    def edit(self, media: str, ids: list[int], changes: dict[str, Any] | None = None,
             day: date | None = None) -> dict[str, Any]:
        """Edit titles so TMDB's change lists name them on ``day`` (see SandboxState.edit)."""
        return self.state.edit(media, ids, changes or {}, day)

    async def start(self) -> None:
        """Listen; with port 0 the OS picks a free port, read back into ``port``."""
        self.state.closing = asyncio.Event()
        runner = web.AppRunner(build_app(self.state), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]  # the OS's choice when port 0 was asked for

    async def stop(self) -> None:
        """Wake sleeping faults, stop listening and close open connections."""
        if self.state.closing is not None:
            self.state.closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.port = None

    async def __aenter__(self) -> Sandbox:
        """Start serving."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop serving."""
        await self.stop()


class SandboxThread:
    """The same server in a background thread with its own event loop, for synchronous tests."""

    def __init__(self, port: int = 0, **kwargs: Any) -> None:
        """Arguments as for ``Sandbox``."""
        self.sandbox = Sandbox(port, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.sandbox.start())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread, which re-raises it
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.sandbox.stop())
            loop.close()

    def start(self) -> SandboxThread:
        """Start the thread and wait until the server listens."""
        self._thread = threading.Thread(target=self._run, name="tracker-sandbox", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop the loop (which stops the server) and join the thread."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> SandboxThread:
        """Start serving in the background."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self.stop()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            return fn(*args, **kwargs)

        assert self._loop is not None, "the sandbox thread is not running"
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def stats(self) -> dict[str, Any]:
        """Request counters, read on the server's loop."""
        return self._call(self.sandbox.stats)

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self._call(self.sandbox.reset_stats)

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs on the server's loop."""
        return self._call(self.sandbox.configure, **knobs)

    def edit(self, media: str, ids: list[int], changes: dict[str, Any] | None = None,
             day: date | None = None) -> dict[str, Any]:
        """Edit titles on the server's loop (see Sandbox.edit)."""
        return self._call(self.sandbox.edit, media, ids, changes, day)

    def env(self) -> dict[str, str]:
        """Environment variables that point tracker at this sandbox."""
        return self.sandbox.env()

    def __getattr__(self, name: str) -> Any:
        """URLs, port and credentials come straight from the wrapped Sandbox."""
        if name in {"tmdb_base_url", "image_base_url", "yts_base_url", "base_url", "port", "api_key", "access_token"}:
            return getattr(self.sandbox, name)
        raise AttributeError(name)


def export_lines(sandbox: Sandbox) -> list[str]:
    """The shell lines ``tracker sandbox`` prints so a user can point tracker at it."""
    return [f"export {name}={value}" for name, value in sandbox.env().items()]


async def serve(port: int = 0, *, stop: asyncio.Event | None = None, out: TextIO | None = None, **kwargs: Any) -> None:
    """Serve until ``stop`` is set or SIGINT/SIGTERM arrives, after printing the export lines."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
            pass
    try:
        async with Sandbox(port, **kwargs) as sandbox:
            stream = out or sys.stdout
            stream.write("\n".join(export_lines(sandbox)) + "\n")
            stream.flush()
            if out is None:  # stdout stays eval-able; the hint goes to the terminal
                print(f"tracker sandbox: serving on {sandbox.base_url}; Ctrl-C to stop", file=sys.stderr)
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def run_sandbox(port: int = 0, **kwargs: Any) -> int:
    """Blocking entry point for ``tracker sandbox --port P``: 0 after a clean stop, 1 if it cannot listen."""
    try:
        asyncio.run(serve(port, **kwargs))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"tracker sandbox: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
