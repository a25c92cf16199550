"""The sandbox's aiohttp application: TMDB v3 (/3), YTS v2 (/api/v2), images (/t/p) and control routes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from tracker.sandbox import changes, offers, shapes
from tracker.sandbox.images import image_for
from tracker.sandbox.middleware import sandbox_middleware
from tracker.sandbox.state import STATE, SandboxState


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE]


def _page(request: web.Request) -> int | None:
    """The page query parameter, or None when TMDB would refuse it (not an integer in 1..500)."""
    raw = request.query.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        return None
    return page if 1 <= page <= shapes.MAX_PAGE else None


def _year(request: web.Request) -> int | None:
    for name in ("primary_release_year", "year"):
        raw = request.query.get(name, "").strip()
        if raw.isdigit():
            return int(raw)
    return None


def _appends(request: web.Request) -> set[str]:
    return {p.strip() for p in request.query.get("append_to_response", "").split(",") if p.strip()}


# --- TMDB movies --------------------------------------------------------------------------------


async def search_movie(request: web.Request) -> web.Response:
    """GET /3/search/movie: title substring (exact for synthetic films), year filter, by popularity."""
    query = request.query.get("query", "")
    if not query.strip():
        return _json(shapes.QUERY_REQUIRED, 422)
    page = _page(request)
    if page is None:
        return _json(shapes.INVALID_PAGE, 400)
    found = _state(request).catalogue.search_movies(query, _year(request))
    window = found[(page - 1) * shapes.PAGE_SIZE: page * shapes.PAGE_SIZE]
    return _json(shapes.paged(window, page, len(found), shapes.movie_list_item))


async def search_tv(request: web.Request) -> web.Response:
    """GET /3/search/tv over the bundled shows."""
    query = request.query.get("query", "")
    if not query.strip():
        return _json(shapes.QUERY_REQUIRED, 422)
    page = _page(request)
    if page is None:
        return _json(shapes.INVALID_PAGE, 400)
    found = _state(request).catalogue.search_tv(query)
    window = found[(page - 1) * shapes.PAGE_SIZE: page * shapes.PAGE_SIZE]
    return _json(shapes.paged(window, page, len(found), shapes.tv_list_item))


def _popular(media: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    render = shapes.movie_list_item if media == "movie" else shapes.tv_list_item

    async def handler(request: web.Request) -> web.Response:
        """GET /3/{movie,tv}/popular: 20 a page, pages past 500 refused like TMDB."""
        page = _page(request)
        if page is None:
            return _json(shapes.INVALID_PAGE, 400)
        items, total = _state(request).catalogue.popular(media, (page - 1) * shapes.PAGE_SIZE, shapes.PAGE_SIZE)
        return _json(shapes.paged(items, page, total, render))

    return handler


def _genre_names(state: SandboxState, media: str) -> dict[int, str]:
    return {g["id"]: g["name"] for g in state.catalogue.genres(media)}


def _providers_by_id(state: SandboxState) -> dict[int, dict[str, Any]]:
    return {p["provider_id"]: p for p in state.catalogue.providers()}


def _movie_or_404(request: web.Request) -> dict[str, Any]:
    record = _state(request).catalogue.movie(int(request.match_info["id"]))
    if record is None:
        raise web.HTTPNotFound()
    return record


def _tv_or_404(request: web.Request) -> dict[str, Any]:
    record = _state(request).catalogue.tv(int(request.match_info["id"]))
    if record is None:
        raise web.HTTPNotFound()
    return record


async def movie_details(request: web.Request) -> web.Response:
    """GET /3/movie/{id} with optional append_to_response=credits,release_dates,external_ids,watch/providers."""
    state = _state(request)
    m = _movie_or_404(request)
    body = shapes.movie_details(m, _genre_names(state, "movie"))
    appends = _appends(request)
    parts: dict[str, Callable[[], dict]] = {
        "credits": lambda: shapes.movie_credits(m),
        "release_dates": lambda: shapes.movie_release_dates(m),
        "external_ids": lambda: shapes.movie_external_ids(m),
        "watch/providers": lambda: offers.watch_providers("movie", m, _providers_by_id(state),
                                                          state.knobs.providers_epoch),
    }
    body = _with_appends(body, appends, parts)
    if state.knobs.poison_fields and state.knobs.poisons(m["id"]):
        body.update(state.knobs.poison_fields)
    return _json(body)


def _with_appends(body: dict[str, Any], appends: Any, parts: dict[str, Callable[[], dict]]) -> dict[str, Any]:
    """The details body with each asked-for sub-resource under its own key, as TMDB nests them."""
    for key, build in parts.items():
        if key in appends:
            sub = build()
            sub.pop("id", None)  # appended objects carry no id of their own on TMDB
            body[key] = sub
    return body


def _movie_part(build: Callable[[dict[str, Any]], dict]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        """GET /3/movie/{id}/<part>."""
        return _json(build(_movie_or_404(request)))

    return handler


async def movie_watch_providers(request: web.Request) -> web.Response:
    """GET /3/movie/{id}/watch/providers."""
    state = _state(request)
    m = _movie_or_404(request)
    return _json(offers.watch_providers("movie", m, _providers_by_id(state), state.knobs.providers_epoch))


# --- TMDB TV ------------------------------------------------------------------------------------


async def tv_details(request: web.Request) -> web.Response:
    """GET /3/tv/{id} with optional append_to_response=credits,aggregate_credits,external_ids,watch/providers."""
    state = _state(request)
    t = _tv_or_404(request)
    body = shapes.tv_details(t, _genre_names(state, "tv"))
    appends = _appends(request)
    parts: dict[str, Callable[[], dict]] = {
        "credits": lambda: shapes.tv_credits(t),
        "aggregate_credits": lambda: shapes.tv_aggregate_credits(t),
        "external_ids": lambda: shapes.tv_external_ids(t),
        "watch/providers": lambda: offers.watch_providers("tv", t, _providers_by_id(state),
                                                          state.knobs.providers_epoch),
    }
    return _json(_with_appends(body, appends, parts))


def _tv_part(build: Callable[[dict[str, Any]], dict]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        """GET /3/tv/{id}/<part>."""
        return _json(build(_tv_or_404(request)))

    return handler


async def tv_watch_providers(request: web.Request) -> web.Response:
    """GET /3/tv/{id}/watch/providers."""
    state = _state(request)
    t = _tv_or_404(request)
    return _json(offers.watch_providers("tv", t, _providers_by_id(state), state.knobs.providers_epoch))


def _genre_list(media: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        """GET /3/genre/{movie,tv}/list."""
        return _json({"genres": _state(request).catalogue.genres(media)})

    return handler


def _provider_list(media: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        """GET /3/watch/providers/{movie,tv}[?watch_region=CC]."""
        region = request.query.get("watch_region") or None
        return _json(offers.provider_list(media, _state(request).catalogue.providers(), region))

    return handler


def _changes(media: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        """GET /3/{movie,tv}/changes: ids edited from start_date to end_date, 100 a page."""
        page = _page(request)
        if page is None:
            return _json(shapes.INVALID_PAGE, 400)
        window = changes.parse_range(request.query, _today())
        if isinstance(window, str):
            return _json({"errors": [window]}, 422)
        state = _state(request)
        ids = state.catalogue.changes.changed_ids(media, *window, state.knobs.change_noise_per_day)
        return _json(changes.changes_page(ids, page))

    return handler


def _today() -> date:
    return datetime.now(UTC).date()


# --- YTS, images, control -----------------------------------------------------------------------


async def yts_list_movies(request: web.Request) -> web.Response:
    """GET /api/v2/list_movies.json?query_term=tt...: films YTS has torrents for."""
    catalogue = _state(request).catalogue
    term = request.query.get("query_term", "").strip()
    try:
        limit = min(50, max(1, int(request.query.get("limit", "20"))))
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        limit, page = 20, 1
    if term.lower().startswith("tt"):
        record = catalogue.movie_by_imdb(term)
        found = [record] if record is not None else []
    else:
        found = catalogue.search_movies(term, None) if term else []
    found = [m for m in found if m.get("yts") and m.get("imdb_id")]
    answer = offers.yts_answer(found, limit, page, int(time.time()))
    knobs = _state(request).knobs
    if knobs.poison_torrent_fields:
        for movie, record in zip(answer["data"].get("movies", []), found[(page - 1) * limit:], strict=False):
            if knobs.poisons(record["id"]):
                for torrent in movie.get("torrents", []):
                    torrent.update(knobs.poison_torrent_fields)
    return _json(answer)


async def image(request: web.Request) -> web.Response:
    """GET /t/p/{size}/{file}: deterministic bytes for files the catalogue refers to, else 404."""
    size, name = request.match_info["size"], request.match_info["file"]
    if not (size == "original" or (size[:1] in "wh" and size[1:].isdigit())):
        raise web.HTTPNotFound()
    if not _state(request).catalogue.image_known(f"/{name}"):
        raise web.HTTPNotFound()
    made = image_for(name)
    if made is None:
        raise web.HTTPNotFound()
    data, content_type = made
    if _state(request).knobs.html_images:  # a captive portal or a CDN's error page, sent as 200
        data = b"<!DOCTYPE html><html><body>Sorry, this image is not available.</body></html>"
    return web.Response(body=data, content_type=content_type, headers={"Cache-Control": "max-age=31536000"})


async def get_config(request: web.Request) -> web.Response:
    """GET /__sandbox/config: the current knobs."""
    return _json(_state(request).knobs.as_dict())


async def post_config(request: web.Request) -> web.Response:
    """POST /__sandbox/config with a JSON object of knobs; 400 names a bad knob."""
    try:
        changes = await request.json()
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of knobs")
        return _json(_state(request).configure(changes))
    except ValueError as exc:  # JSONDecodeError is a ValueError too
        return _json({"error": str(exc)}, 400)


async def get_stats(request: web.Request) -> web.Response:
    """GET /__sandbox/stats: request counters."""
    return _json(_state(request).stats.snapshot())


async def reset_stats(request: web.Request) -> web.Response:
    """POST /__sandbox/reset-stats: zero the counters."""
    _state(request).stats.reset()
    return _json(_state(request).stats.snapshot())


async def post_edit(request: web.Request) -> web.Response:
    """POST /__sandbox/edit {"media_type", "ids", "changes"?, "date"?}: edit titles on a date.

    Without ``changes`` each title gets an edit every refresh notices (see changes.default_change);
    ``date`` (default today, UTC) is the day the change lists name it. 400 names what is wrong.
    """
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError('expected {"media_type": "movie" or "tv", "ids": [...]}')
        day = date.fromisoformat(body["date"]) if body.get("date") else None
        edited = _state(request).edit(body.get("media_type"), body.get("ids"),
                                      body.get("changes") or {}, day)
        return _json({"edited": edited})
    except (ValueError, TypeError) as exc:
        return _json({"error": str(exc)}, 400)


def build_app(state: SandboxState) -> web.Application:
    """The application with every route named (the names are the stats' per-path-kind keys)."""
    app = web.Application(middlewares=[sandbox_middleware])
    app[STATE] = state
    r = app.router
    r.add_get("/3/search/movie", search_movie, name="search_movie")
    r.add_get("/3/search/tv", search_tv, name="search_tv")
    r.add_get("/3/movie/popular", _popular("movie"), name="movie_popular")
    r.add_get("/3/tv/popular", _popular("tv"), name="tv_popular")
    r.add_get("/3/movie/changes", _changes("movie"), name="movie_changes")
    r.add_get("/3/tv/changes", _changes("tv"), name="tv_changes")
    r.add_get("/3/movie/{id:\\d+}", movie_details, name="movie_details")
    r.add_get("/3/movie/{id:\\d+}/credits", _movie_part(shapes.movie_credits), name="movie_credits")
    r.add_get("/3/movie/{id:\\d+}/release_dates", _movie_part(shapes.movie_release_dates), name="movie_release_dates")
    r.add_get("/3/movie/{id:\\d+}/external_ids", _movie_part(shapes.movie_external_ids), name="movie_external_ids")
    r.add_get("/3/movie/{id:\\d+}/watch/providers", movie_watch_providers, name="movie_watch_providers")
    r.add_get("/3/tv/{id:\\d+}", tv_details, name="tv_details")
    r.add_get("/3/tv/{id:\\d+}/credits", _tv_part(shapes.tv_credits), name="tv_credits")
    r.add_get("/3/tv/{id:\\d+}/aggregate_credits", _tv_part(shapes.tv_aggregate_credits), name="tv_aggregate_credits")
    r.add_get("/3/tv/{id:\\d+}/external_ids", _tv_part(shapes.tv_external_ids), name="tv_external_ids")
    r.add_get("/3/tv/{id:\\d+}/watch/providers", tv_watch_providers, name="tv_watch_providers")
    r.add_get("/3/genre/movie/list", _genre_list("movie"), name="genre_movie_list")
    r.add_get("/3/genre/tv/list", _genre_list("tv"), name="genre_tv_list")
    r.add_get("/3/watch/providers/movie", _provider_list("movie"), name="watch_providers_movie")
    r.add_get("/3/watch/providers/tv", _provider_list("tv"), name="watch_providers_tv")
    r.add_get("/api/v2/list_movies.json", yts_list_movies, name="yts_list_movies")
    r.add_get("/t/p/{size}/{file}", image, name="image")
    r.add_get("/__sandbox/config", get_config, name="control_config")
    r.add_post("/__sandbox/config", post_config, name="control_config_set")
    r.add_get("/__sandbox/stats", get_stats, name="control_stats")
    r.add_post("/__sandbox/reset-stats", reset_stats, name="control_reset_stats")
    r.add_post("/__sandbox/edit", post_edit, name="control_edit")
    return app
