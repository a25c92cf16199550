"""The pages and the JSON API: every route reads, none writes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from projections.badges import earned
from projections.commands import ACTIVE, queue_state
from projections.export import count_dvds, exported_dvd, exported_dvds
from tracker import audit
from tracker.db import Database
from tracker.engine_lock import EngineLock
from tracker.errors import StoreError
from tracker.web.metrics import CONTENT_TYPE
from tracker.web.metrics import render as render_metrics
from tracker.web.pages import STATE, render
from tracker.web.timeline import dvd_timeline

PAGE_SIZE = 48  # DVDs a page of the grid shows
RECENT_COMMANDS = 20
MAX_SEARCH = 200


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(value), status=status,
                        content_type="application/json")


def _int(request: web.Request, name: str, default: int | None, high: int) -> int | None:
    """A whole-number query parameter from 0 to ``high``, or a 400 naming it."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > high:
        raise web.HTTPBadRequest(text=f"{name} must be a whole number from 0 to {high}, got {raw[:20]!r}")
    return int(raw)


def _search(request: web.Request) -> str:
    return request.query.get("search", "").strip()[:MAX_SEARCH]


def _badges(db: Database) -> list[dict[str, Any]]:
    """Every badge with the collection's progress, as the pages and the API show it."""
    return [asdict(badge) for badge in earned(db.conn)]


async def _read(request: web.Request, fn: Any) -> Any:
    return await request.app[STATE].reader.read(fn)


async def collection(request: web.Request) -> web.Response:
    """/: the collection as a grid of posters, a page at a time, filtered by title."""
    search, offset = _search(request), _int(request, "offset", 0, 10**9) or 0
    total, dvds = await _dvd_page(request, search, PAGE_SIZE, offset)
    return render(request, "collection.html", dvds=dvds, total=total, search=search, offset=offset,
                  page_size=PAGE_SIZE)


def _dvd_with_history(db: Database, dvd_id: int) -> dict[str, Any] | None:
    """The exported row (locked_fields included) with its history, or None."""
    row = exported_dvd(db.conn, dvd_id)
    if row is not None:
        row["history"] = dvd_timeline(db, dvd_id)
    return row


async def _dvd(request: web.Request) -> dict[str, Any]:
    """The DVD the path names, with its history; 404 if there is none."""
    dvd_id = int(request.match_info["dvd_id"])
    dvd = await _read(request, lambda db: _dvd_with_history(db, dvd_id))
    if dvd is None:
        raise web.HTTPNotFound()
    return dvd


async def _dvd_page(request: web.Request, search: str, limit: int | None, offset: int) -> tuple[int, list]:
    """How many DVDs match ``search``, and the page of them asked for."""
    return await _read(request, lambda db: (count_dvds(db.conn, search=search),
                                            exported_dvds(db.conn, search=search, limit=limit, offset=offset)))


async def dvd_page(request: web.Request) -> web.Response:
    """/dvds/ID: every field, the locked ones marked, and the history timeline."""
    return render(request, "dvd.html", dvd=await _dvd(request))


def _commands(request: web.Request) -> Callable[[Database], dict[str, Any]]:
    """A read of the queue, the commands and, on a daemon keeping one, the schedule by due time."""
    scheduler = getattr(request.app[STATE].engine, "scheduler", None)

    def read(db: Database) -> dict[str, Any]:
        commands = audit.status_rows(db, recent=RECENT_COMMANDS)
        audit.mark_interrupted(commands, EngineLock(db.path).holder())  # as `tracker status` does
        data = {**queue_state(db.conn), "commands": commands}
        states = sorted(scheduler.states(db), key=lambda s: s.next_due) if scheduler else []
        now = scheduler.clock() if scheduler else None
        return {**data, "schedule": [s.as_row(now) for s in states]}
    return read


async def commands_page(request: web.Request) -> web.Response:
    """/commands: running and queued commands, then the recent ones newest first, kept current
    by a script."""
    data = await _read(request, _commands(request))
    active = [c for c in data["commands"] if c["status"] in ACTIVE]
    ended = [c for c in data["commands"] if c["status"] not in ACTIVE]
    return render(request, "commands.html", **{**data, "commands": active + ended[::-1]})


async def badges_page(request: web.Request) -> web.Response:
    """/badges: earned, then not yet earned with how far along."""
    badges = await _read(request, _badges)
    return render(request, "badges.html", earned=[b for b in badges if b["earned"]],
                  unearned=[b for b in badges if not b["earned"]])


async def api_dvds(request: web.Request) -> web.Response:
    """/api/dvds: DVDs as `tracker export dvds` writes them; the count matching is X-Total-Count."""
    search = _search(request)
    limit, offset = _int(request, "limit", None, 10**9), _int(request, "offset", 0, 10**9) or 0
    total, dvds = await _dvd_page(request, search, limit, offset)
    response = _json(dvds)
    response.headers["X-Total-Count"] = str(total)
    return response


async def api_dvd(request: web.Request) -> web.Response:
    """/api/dvds/ID: one DVD as exported (locked_fields included), with its history."""
    return _json(await _dvd(request))


async def api_commands(request: web.Request) -> web.Response:
    """/api/commands: queue depth, what runs, and the commands as `tracker status --json`."""
    return _json(await _read(request, _commands(request)))


async def api_badges(request: web.Request) -> web.Response:
    """/api/badges: every badge as exported, with progress and whether it is earned."""
    return _json(await _read(request, _badges))


async def healthz(request: web.Request) -> web.Response:
    """/healthz: 200 while the engine runs and the database reads; 503 otherwise, saying why."""
    state = request.app[STATE]
    engine_state = state.engine.state
    body: dict[str, Any] = {"status": "ok", "engine": engine_state}
    try:
        body.update(await state.reader.read(lambda db: queue_state(db.conn)))
    except StoreError as exc:
        body.update(status="unhealthy", error=f"the database cannot be read: {exc}")
    if engine_state != "running":
        body["status"] = "unhealthy"
    return _json(body, 200 if body["status"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    """/metrics: Prometheus text; the queue gauges read fresh, the counters as the engine keeps them."""
    state = request.app[STATE]
    with contextlib.suppress(StoreError):  # the counters still tell; the gauges keep their last reading
        state.collector.queue = await state.reader.read(lambda db: queue_state(db.conn))
    return web.Response(body=render_metrics(state.registry), headers={"Content-Type": CONTENT_TYPE})


async def media(request: web.Request) -> web.StreamResponse:
    """/media/...: a poster or logo from the media folder; nothing outside it, no hidden files."""
    base = (request.app[STATE].settings.home / "media").resolve()
    relative = request.match_info["path"]
    target = (base / relative).resolve()
    if (not target.is_relative_to(base) or any(p.startswith(".") for p in Path(relative).parts)
            or not target.is_file()):
        raise web.HTTPNotFound()
    return web.FileResponse(target, headers={"Cache-Control": "max-age=86400"})


def add_routes(app: web.Application) -> None:
    """Every route, GET (and so HEAD) only."""
    app.router.add_get("/", collection)
    app.router.add_get("/dvds/{dvd_id:[0-9]{1,18}}", dvd_page)
    app.router.add_get("/commands", commands_page)
    app.router.add_get("/badges", badges_page)
    app.router.add_get("/api/dvds", api_dvds)
    app.router.add_get("/api/dvds/{dvd_id:[0-9]{1,18}}", api_dvd)
    app.router.add_get("/api/commands", api_commands)
    app.router.add_get("/api/badges", api_badges)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/media/{path:.+}", media)
