"""The web application: built, guarded (GET only, headers, error pages) and served in the daemon's loop."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from tracker.config import Settings
from tracker.errors import CannotListen, StoreError
from tracker.web import routes
from tracker.web.metrics import metrics_registry
from tracker.web.pages import STATE, WebState, render, templates
from tracker.web.reader import Reader

HERE = Path(__file__).parent
ALLOWED_METHODS = ("GET", "HEAD")
# Everything the pages load comes from this server; no inline script, no frames, no referrer.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; script-src 'self'; "
                               "style-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Server": "tracker",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(request: web.Request, status: int, message: str) -> web.Response:
    """JSON for the API, health and metrics; a page for people everywhere else."""
    if request.path.startswith(("/api/", "/healthz", "/metrics", "/media/", "/static/")):
        return web.json_response({"error": message, "status": status}, status=status)
    return render(request, "error.html", status=status, status_code=status, message=message)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """GET and HEAD only; unknown pages, bad values and an unreadable database answered plainly."""
    if request.method not in ALLOWED_METHODS:
        response = error_response(request, 405, f"{request.method} is not allowed: this page only reads")
        response.headers["Allow"] = ", ".join(ALLOWED_METHODS)
        return response
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return error_response(request, 404, f"nothing at {request.path}")
    except web.HTTPBadRequest as exc:
        return error_response(request, 400, exc.text or "bad request")
    except StoreError as exc:
        return error_response(request, 503, f"the database cannot be read: {exc}")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)


def build_app(settings: Settings, engine: Any, reader: Reader) -> web.Application:
    """The application: pages, JSON API, health, metrics, posters and static files."""
    app = web.Application(middlewares=[guard])
    registry, collector = metrics_registry(engine)
    app[STATE] = WebState(settings, engine, reader, templates(), registry, collector)
    app.on_response_prepare.append(_security_headers)
    routes.add_routes(app)
    app.router.add_static("/static/", HERE / "static", append_version=True)
    return app


def _split(address: str) -> tuple[str, int]:
    """HOST:PORT (already checked by the config) as the pair aiohttp wants."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _why(exc: OSError) -> str:
    """Why an address cannot be listened on, in words (asyncio's own text quotes a tuple)."""
    if exc.errno == errno.EADDRINUSE:
        return "another program listens there (give --http another HOST:PORT)"
    if isinstance(exc, socket.gaierror):  # a host name that does not resolve
        return f"unknown host ({exc.strerror})"
    return os.strerror(exc.errno) if exc.errno else str(exc)


@asynccontextmanager
async def serve_web(settings: Settings, engine: Any, address: str) -> AsyncIterator[str]:
    """Serve the web page on ``address`` while inside; yields its URL (the real port for :0)."""
    reader = Reader(settings.db_path)
    runner = web.AppRunner(build_app(settings, engine, reader), access_log=None,
                           handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    host, port = _split(address)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reader.close()
        raise CannotListen(f"--http: cannot listen on {address}: {_why(exc)}") from exc
    bound = runner.addresses[0][1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{bound}/"
    engine.announce(f"web page at {url}", url=url)  # the daemon's log; the demo prints it
    try:
        yield url
    finally:
        await runner.cleanup()
        await asyncio.get_running_loop().run_in_executor(None, reader.close)
