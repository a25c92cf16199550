"""The built-in sandbox over real loopback HTTP: TMDB/YTS shapes, errors, knobs, catalogues and runners."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from tracker.sandbox import HOSTILE_PATHS, MOVIE_ID_BASE, Sandbox, synthetic_titles
from tracker.sandbox.synthetic import fold

SAMPLES = Path(__file__).resolve().parent / "data" / "api-samples" / "tmdb"  # vendored real TMDB answers

# Key sets of the captured TMDB answers (checked against the sample files when they are present).
DETAILS_KEYS = {"adult", "backdrop_path", "belongs_to_collection", "budget", "genres", "homepage", "id", "imdb_id",
                "original_language", "original_title", "overview", "popularity", "poster_path",
                "production_companies", "production_countries", "release_date", "revenue", "runtime",
                "spoken_languages", "status", "tagline", "title", "video", "vote_average", "vote_count"}
LIST_ITEM_KEYS = {"adult", "backdrop_path", "genre_ids", "id", "original_language", "original_title", "overview",
                  "popularity", "poster_path", "release_date", "title", "video", "vote_average", "vote_count"}
TV_ITEM_KEYS = {"adult", "backdrop_path", "first_air_date", "genre_ids", "id", "name", "origin_country",
                "original_language", "original_name", "overview", "popularity", "poster_path", "vote_average",
                "vote_count"}
CAST_KEYS = {"adult", "cast_id", "character", "credit_id", "gender", "id", "known_for_department", "name", "order",
             "original_name", "popularity", "profile_path"}
CREW_KEYS = {"adult", "credit_id", "department", "gender", "id", "job", "known_for_department", "name",
             "original_name", "popularity", "profile_path"}
RELEASE_KEYS = {"certification", "descriptors", "iso_639_1", "note", "release_date", "type"}
EXTERNAL_KEYS = {"facebook_id", "id", "imdb_id", "instagram_id", "twitter_id", "wikidata_id"}
TV_KEYS = {"adult", "backdrop_path", "created_by", "episode_run_time", "first_air_date", "genres", "homepage", "id",
           "in_production", "languages", "last_air_date", "last_episode_to_air", "name", "networks",
           "next_episode_to_air", "number_of_episodes", "number_of_seasons", "origin_country", "original_language",
           "original_name", "overview", "popularity", "poster_path", "production_companies", "production_countries",
           "seasons", "spoken_languages", "status", "tagline", "type", "vote_average", "vote_count"}
SEASON_KEYS = {"air_date", "episode_count", "id", "name", "overview", "poster_path", "season_number", "vote_average"}
OFFER_KEYS = {"display_priority", "logo_path", "provider_id", "provider_name"}
PROVIDER_KEYS = {"display_priorities", "display_priority", "logo_path", "provider_id", "provider_name"}
INVALID_KEY_BODY = {"status_message": "Invalid API key: You must be granted a valid key.", "success": False,
                    "status_code": 7}
NOT_FOUND_BODY = {"status_message": "The resource you requested could not be found.", "status_code": 34}


class Company(msgspec.Struct):
    """A production company as a client decodes it."""

    id: int
    name: str
    logo_path: str | None
    origin_country: str


class MovieDetails(msgspec.Struct):
    """The fields of /3/movie/{id} a client relies on, with TMDB's types."""

    id: int
    title: str
    imdb_id: str | None
    tagline: str
    budget: int
    revenue: int
    runtime: int
    vote_average: float
    vote_count: int
    poster_path: str | None
    release_date: str
    production_companies: list[Company]


@pytest.fixture
async def sb():
    """A fresh sandbox on a free port."""
    async with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def http():
    """An aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(http: aiohttp.ClientSession, url: str, **params: Any) -> tuple[int, Any, Any]:
    """GET a URL; (status, decoded JSON body, headers)."""
    async with http.get(url, params={k: str(v) for k, v in params.items()}) as resp:
        return resp.status, json.loads(await resp.read()), resp.headers


async def tmdb(http: aiohttp.ClientSession, sb: Sandbox, path: str, **params: Any) -> tuple[int, Any]:
    """GET a TMDB path with the sandbox key; (status, body)."""
    status, body, _ = await fetch(http, sb.tmdb_base_url + path, api_key=sb.api_key, **params)
    return status, body


# --- shapes -------------------------------------------------------------------------------------


def test_embedded_key_sets_match_the_captured_samples():
    """The key sets these tests hold are exactly those of the real TMDB captures."""
    load = lambda name: json.loads((SAMPLES / name).read_text())  # noqa: E731
    assert set(load("movie-details.json")) == DETAILS_KEYS
    assert set(load("search-movie.json")["results"][0]) == LIST_ITEM_KEYS
    assert set(load("tv-popular.json")["results"][0]) == TV_ITEM_KEYS
    assert set(load("movie-credits.json")["cast"][0]) == CAST_KEYS
    assert set(load("movie-credits.json")["crew"][0]) == CREW_KEYS
    assert set(load("movie-release-dates.json")["results"][0]["release_dates"][0]) == RELEASE_KEYS
    assert set(load("movie-external-ids.json")) == EXTERNAL_KEYS
    assert set(load("tv-details.json")) == TV_KEYS
    assert set(load("movie-watch-providers.json")["results"]["GB"]["flatrate"][0]) == OFFER_KEYS
    assert set(load("watch-provider-movie-list.json")["results"][0]) == PROVIDER_KEYS
    assert load("invalid-api-key.json") == INVALID_KEY_BODY
    assert load("resource-not-found.json") == NOT_FOUND_BODY


async def test_movie_details_with_appends_decodes_like_tmdb(sb, http):
    """One details request carries credits, release_dates and external_ids in TMDB's shapes."""
    status, body = await tmdb(http, sb, "/movie/550", append_to_response="credits,release_dates,external_ids")
    assert status == 200
    assert set(body) >= DETAILS_KEYS
    details = msgspec.convert(body, MovieDetails)
    assert (details.imdb_id, details.tagline, details.budget) == ("tt0137523", "Mischief. Mayhem. Soap.", 63000000)
    assert set(body["credits"]["cast"][0]) == CAST_KEYS and set(body["credits"]["crew"][0]) == CREW_KEYS
    directors = [c["name"] for c in body["credits"]["crew"] if c["job"] == "Director"]
    assert directors == ["David Fincher"]
    gb = next(r for r in body["release_dates"]["results"] if r["iso_3166_1"] == "GB")
    assert set(gb["release_dates"][0]) == RELEASE_KEYS and gb["release_dates"][0]["certification"] == "18"
    assert body["external_ids"]["imdb_id"] == "tt0137523"
    status, plain = await tmdb(http, sb, "/movie/550")
    assert status == 200 and not {"credits", "release_dates", "external_ids"} & set(plain)


async def test_separate_detail_parts_answer_alone(sb, http):
    """credits, release_dates and external_ids are served as their own paths too."""
    _, credits = await tmdb(http, sb, "/movie/603/credits")
    assert credits["id"] == 603
    directors = [c["name"] for c in credits["crew"] if c["job"] == "Director"]
    assert directors == ["Lilly Wachowski", "Lana Wachowski"]
    _, dates = await tmdb(http, sb, "/movie/603/release_dates")
    assert {r["iso_3166_1"] for r in dates["results"]} >= {"GB", "US"}
    _, ids = await tmdb(http, sb, "/movie/603/external_ids")
    assert set(ids) == EXTERNAL_KEYS and ids["imdb_id"] == "tt0133093"


async def test_tmdb_quirks_are_served_as_data(sb, http):
    """Trailing-space certificate, no GB release, a GB type 3 without certificate, empty tagline, budget 0."""
    _, leon = await tmdb(http, sb, "/movie/101/release_dates")
    assert next(r for r in leon["results"] if r["iso_3166_1"] == "GB")["release_dates"][0]["certification"] == "15 "
    _, primer = await tmdb(http, sb, "/movie/14337/release_dates")
    assert "GB" not in {r["iso_3166_1"] for r in primer["results"]}
    _, samurai = await tmdb(http, sb, "/movie/346/release_dates")
    gb = next(r for r in samurai["results"] if r["iso_3166_1"] == "GB")["release_dates"]
    assert [(d["type"], d["certification"]) for d in gb] == [(3, ""), (5, "PG")]
    _, spirited = await tmdb(http, sb, "/movie/129")
    _, solaris = await tmdb(http, sb, "/movie/593")
    assert spirited["tagline"] == "" and solaris["budget"] == 0


async def test_search_finds_by_substring_and_year_by_popularity(sb, http):
    """Search is case-insensitive substring, filtered by year, most popular first, in TMDB's list shape."""
    status, body = await tmdb(http, sb, "/search/movie", query="dune")
    assert status == 200 and set(body) == {"page", "results", "total_pages", "total_results"}
    assert [r["id"] for r in body["results"]] == [438631, 841]
    assert all(set(r) == LIST_ITEM_KEYS for r in body["results"])
    _, by_year = await tmdb(http, sb, "/search/movie", query="Dune", year=1984)
    assert [r["id"] for r in by_year["results"]] == [841]
    _, primary = await tmdb(http, sb, "/search/movie", query="Dune", primary_release_year=2021)
    assert [r["id"] for r in primary["results"]] == [438631]
    _, accented = await tmdb(http, sb, "/search/movie", query="amelie")
    assert [r["title"] for r in accented["results"]] == ["Amélie"]
    _, none = await tmdb(http, sb, "/search/movie", query="no such film anywhere")
    assert none["results"] == [] and none["total_results"] == 0


async def test_tv_details_popular_and_genres(sb, http):
    """TV details with appends, popular lists and both genre lists in TMDB's shapes."""
    status, got = await tmdb(http, sb, "/tv/1399", append_to_response="credits,external_ids,aggregate_credits")
    assert status == 200 and set(got) >= TV_KEYS
    assert (got["number_of_seasons"], got["number_of_episodes"]) == (8, 73)
    assert set(got["seasons"][0]) == SEASON_KEYS
    assert [c["name"] for c in got["created_by"]] == ["David Benioff", "D.B. Weiss"]
    assert got["external_ids"]["imdb_id"] == "tt0944947" and got["aggregate_credits"]["cast"]
    _, popular = await tmdb(http, sb, "/tv/popular")
    assert popular["results"][0]["id"] == 1399 and set(popular["results"][0]) == TV_ITEM_KEYS
    _, movies = await tmdb(http, sb, "/movie/popular", page=2)
    assert movies["page"] == 2 and all(set(r) == LIST_ITEM_KEYS for r in movies["results"])
    _, genres = await tmdb(http, sb, "/genre/tv/list")
    assert {"id": 10765, "name": "Sci-Fi & Fantasy"} in genres["genres"]
    _, genres = await tmdb(http, sb, "/genre/movie/list")
    assert {"id": 878, "name": "Science Fiction"} in genres["genres"] and len(genres["genres"]) == 19


async def test_watch_providers_shapes(sb, http):
    """Per-title offers and the provider lists match TMDB's shapes and use real providers."""
    _, offers = await tmdb(http, sb, "/movie/550/watch/providers")
    assert offers["id"] == 550 and offers["results"]
    kinds = set()
    for region, entry in offers["results"].items():
        assert entry["link"].endswith(f"locale={region}")
        for kind, listed in entry.items():
            if kind != "link":
                kinds.add(kind)
                assert all(set(o) == OFFER_KEYS for o in listed)
    assert kinds <= {"flatrate", "rent", "buy", "ads", "free"} and {"rent", "buy"} <= kinds
    _, tv_offers = await tmdb(http, sb, "/tv/1396/watch/providers")
    assert tv_offers["id"] == 1396
    for media in ("movie", "tv"):
        _, listed = await tmdb(http, sb, f"/watch/providers/{media}")
        assert all(set(p) == PROVIDER_KEYS for p in listed["results"])
        names = {p["provider_id"]: p["provider_name"] for p in listed["results"]}
        assert names[8] == "Netflix" and names[337] == "Disney Plus"


# --- errors -------------------------------------------------------------------------------------


async def test_key_is_checked_like_tmdb(sb, http):
    """Missing or wrong key: 401 with TMDB's body; a bearer token works; images and YTS need no key."""
    for params in ({}, {"api_key": "wrong"}):
        status, body, _ = await fetch(http, sb.tmdb_base_url + "/movie/550", **params)
        assert (status, body) == (401, INVALID_KEY_BODY)
    headers = {"Authorization": f"Bearer {sb.access_token}"}
    async with http.get(sb.tmdb_base_url + "/movie/550", headers=headers) as resp:
        assert resp.status == 200
    async with http.get(sb.tmdb_base_url + "/movie/550", headers={"Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401
    status, _, _ = await fetch(http, sb.yts_base_url + "/list_movies.json", query_term="tt0137523")
    assert status == 200


async def test_unknown_ids_and_paths_are_404_with_tmdb_body(sb, http):
    """Unknown movie, TV show or path: 404 with TMDB's body."""
    for path in ("/movie/999999", "/movie/999999/credits", "/tv/424242", "/no/such/path"):
        status, body = await tmdb(http, sb, path)
        assert (status, body) == (404, NOT_FOUND_BODY), path


async def test_page_501_is_refused_exactly_like_tmdb(http):
    """Page 500 answers, page 501 (and 0, and non-integers) get TMDB's 400 body; totals reflect size."""
    async with Sandbox(synthetic_count=20_000) as sb:
        status, body = await tmdb(http, sb, "/movie/popular", page=500)
        assert status == 200 and len(body["results"]) == 20 and body["total_results"] > 20_000
        assert body["total_pages"] == -(-body["total_results"] // 20)
        expected = {"success": False, "status_code": 22,
                    "status_message": "Invalid page: Pages start at 1 and max at 500."
                                      " They are expected to be an integer."}
        for path in ("/movie/popular", "/tv/popular"):
            for page in (501, 0, "x"):
                assert await tmdb(http, sb, path, page=page) == (400, expected)


# --- YTS ----------------------------------------------------------------------------------------


async def test_yts_answers_torrents_and_omits_movies_when_nothing_matches(sb, http):
    """A film YTS knows has torrents; one it lacks (or an unknown id) has movie_count 0 and no movies key."""
    status, body, _ = await fetch(http, sb.yts_base_url + "/list_movies.json", query_term="tt0137523")
    assert status == 200 and body["status"] == "ok" and body["data"]["movie_count"] == 1
    movie = body["data"]["movies"][0]
    assert movie["imdb_code"] == "tt0137523" and movie["year"] == 1999
    for t in movie["torrents"]:
        assert t["quality"] in {"720p", "1080p", "2160p"} and t["type"] in {"bluray", "web"}
        assert len(t["hash"]) == 40 and int(t["hash"], 16) >= 0 and t["size_bytes"] > 0
    _, again, _ = await fetch(http, sb.yts_base_url + "/list_movies.json", query_term="tt0137523")
    assert again["data"]["movies"][0]["torrents"] == movie["torrents"]
    for imdb_id in ("tt0390384", "tt0047478", "tt0000001"):
        _, none, _ = await fetch(http, sb.yts_base_url + "/list_movies.json", query_term=imdb_id)
        assert none["data"]["movie_count"] == 0 and "movies" not in none["data"]


# --- knobs --------------------------------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after(http):
    """Past the bucket, TMDB answers 429 with Retry-After and TMDB's body, and stats count them."""
    async with Sandbox(rate_per_s=5) as sb:
        answers = []
        for _ in range(8):
            async with http.get(sb.tmdb_base_url + "/movie/550", params={"api_key": sb.api_key}) as resp:
                answers.append((resp.status, resp.headers.get("Retry-After"), await resp.json()))
        limited = [a for a in answers if a[0] == 429]
        assert answers[0][0] == 200 and len(limited) >= 2
        assert all(int(retry) >= 1 for _, retry, _ in limited)
        assert limited[0][2]["status_code"] == 25
        assert sb.stats()["rate_limited"] == len(limited)
        async with http.get(sb.image_base_url + "/w92/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg") as resp:
            assert resp.status == 200  # images are a separate, unlimited host


async def test_client_pacing_at_the_same_rate_never_trips_the_bucket(http):
    """A burst of `rate` then one request per 1/rate seconds stays under the limit."""
    rate = 20
    async with Sandbox(rate_per_s=rate) as sb:
        start = time.monotonic()
        statuses = []
        for i in range(rate + 8):
            due = start + max(0, i - rate + 1) / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            async with http.get(sb.tmdb_base_url + "/genre/movie/list", params={"api_key": sb.api_key}) as resp:
                statuses.append(resp.status)
        assert statuses == [200] * (rate + 8)


async def test_each_fault_kind_is_observable(http):
    """5xx, dropped connection, truncated JSON and timeout each show up as a client sees them."""
    async with Sandbox(timeout_sleep_s=5) as sb:
        url, params = sb.tmdb_base_url + "/movie/550", {"api_key": sb.api_key}
        sb.configure(fault_5xx_rate=1.0)
        async with http.get(url, params=params) as resp:
            assert 500 <= resp.status <= 504
        sb.configure(fault_5xx_rate=0, fault_drop_rate=1.0)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(url, params=params) as resp:
                await resp.read()
        sb.configure(fault_drop_rate=0, fault_truncated_rate=1.0)
        async with http.get(url, params=params) as resp:
            raw = await resp.read()
            assert resp.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(raw)
        sb.configure(fault_truncated_rate=0, fault_timeout_rate=1.0)
        with pytest.raises(asyncio.TimeoutError):
            async with http.get(url, params=params, timeout=aiohttp.ClientTimeout(total=0.3)) as resp:
                await resp.read()
        faults = sb.stats()["faults"]
        assert faults["5xx"] == 1 and faults["truncated"] == 1 and faults["timeout"] == 1 and faults["drop"] >= 1


async def test_truncated_image_is_detectable(http):
    """A truncated image declares its full length and stops short, so a client cannot save half a file."""
    async with Sandbox(fault_truncated_rate=1.0) as sb:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with http.get(sb.image_base_url + "/w500/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg") as resp:
                await resp.read()


async def test_faults_are_reproducible_from_the_seed(http):
    """The same seed gives the same sequence of outcomes; faults can be limited to some hosts."""

    async def outcomes(seed: int) -> list[int]:
        async with Sandbox(fault_5xx_rate=0.5, seed=seed, fault_hosts=["tmdb"]) as sb:
            got = []
            for _ in range(16):
                status, _ = await tmdb(http, sb, "/genre/tv/list")
                got.append(status)
            status, _, _ = await fetch(http, sb.yts_base_url + "/list_movies.json", query_term="tt0137523")
            assert status == 200
            return got

    first = await outcomes(7)
    assert first == await outcomes(7)
    assert any(s >= 500 for s in first) and 200 in first


async def test_latency_is_added(http):
    """latency_s delays each answer."""
    async with Sandbox(latency_s=0.2) as sb:
        start = time.monotonic()
        await tmdb(http, sb, "/genre/movie/list")
        assert time.monotonic() - start >= 0.2


async def test_providers_epoch_moves_some_offers_deterministically(sb, http):
    """Changing providers_epoch removes some offers and adds others; going back restores them."""

    async def offer_set() -> set[tuple]:
        got = set()
        for movie_id in (550, 603, 155, 27205, 13, 680):
            _, body = await tmdb(http, sb, f"/movie/{movie_id}/watch/providers")
            for region, entry in body["results"].items():
                for kind, listed in entry.items():
                    if kind != "link":
                        got |= {(movie_id, region, kind, o["provider_id"]) for o in listed}
        return got

    before = await offer_set()
    sb.configure(providers_epoch=1)
    after = await offer_set()
    assert before - after and after - before
    assert len(before & after) > len(before ^ after)
    sb.configure(providers_epoch=0)
    assert await offer_set() == before


async def test_control_routes_configure_and_count(sb, http):
    """POST /__sandbox/config changes knobs (400 for a bad one); stats count by host, route and status."""
    async with http.post(sb.base_url + "/__sandbox/config", json={"providers_epoch": 3}) as resp:
        assert resp.status == 200 and (await resp.json())["providers_epoch"] == 3
    async with http.post(sb.base_url + "/__sandbox/config", json={"no_such_knob": 1}) as resp:
        assert resp.status == 400 and "no_such_knob" in (await resp.json())["error"]
    async with http.post(sb.base_url + "/__sandbox/config", json={"fault_5xx_rate": 2}) as resp:
        assert resp.status == 400
    await tmdb(http, sb, "/movie/550")
    await tmdb(http, sb, "/movie/1")
    await fetch(http, sb.yts_base_url + "/list_movies.json", query_term="tt0137523")
    status, stats, _ = await fetch(http, sb.base_url + "/__sandbox/stats")
    assert status == 200 and stats["requests"] == 3
    assert stats["by_host"] == {"tmdb": 2, "yts": 1}
    assert stats["by_route"] == {"movie_details": 2, "yts_list_movies": 1}
    assert stats["by_status"] == {"200": 2, "404": 1}
    async with http.post(sb.base_url + "/__sandbox/reset-stats") as resp:
        assert (await resp.json())["requests"] == 0
    with pytest.raises(ValueError):
        sb.configure(latency_s=-1)


# --- catalogues ---------------------------------------------------------------------------------


async def test_a_million_synthetic_films_are_lazy(http):
    """synthetic_count=1_000_000 starts at once; the last id answers, the next one is 404."""
    start = time.monotonic()
    async with Sandbox(synthetic_count=1_000_000) as sb:
        assert time.monotonic() - start < 1.0
        status, last = await tmdb(http, sb, f"/movie/{MOVIE_ID_BASE + 999_999}", append_to_response="credits")
        assert status == 200 and last["title"] == "Synthetic Film 999999"
        assert (await tmdb(http, sb, f"/movie/{MOVIE_ID_BASE + 1_000_000}"))[0] == 404
        _, popular = await tmdb(http, sb, "/movie/popular", page=500)
        assert popular["total_results"] > 1_000_000 and len(popular["results"]) == 20
        _, tv = await tmdb(http, sb, "/tv/popular", page=3)
        assert tv["total_results"] > 100_000


async def test_synthetic_catalogue_is_deterministic_with_oddities(http):
    """Titles, years and ids repeat run to run; search finds a title in the right year; oddities occur."""
    rows = synthetic_titles(200)
    assert rows == synthetic_titles(200) and rows[123][0] == "Synthetic Film 000123"
    assert all(r[2] == MOVIE_ID_BASE + i for i, r in enumerate(rows))
    assert all(r[3] is None or (r[3].startswith("tt9") and len(r[3]) == 10) for r in rows)
    assert any(r[3] is None for r in rows) and any(not r[0].isascii() for r in rows)
    shared = [r for r in rows if r[0] == "Synthetic Film 000020"]
    assert len({r[1] for r in shared}) == 3
    async with Sandbox(synthetic_count=200) as sb:
        title, year, tmdb_id, _ = shared[1]
        _, found = await tmdb(http, sb, "/search/movie", query=title, year=year)
        assert [r["id"] for r in found["results"]] == [tmdb_id]
        _, all_years = await tmdb(http, sb, "/search/movie", query=title.upper())
        assert len(all_years["results"]) == 3
        details = [(await tmdb(http, sb, f"/movie/{r[2]}", append_to_response="credits,release_dates"))[1]
                   for r in rows[:60]]
        assert any(d["tagline"] == "" for d in details) and any(d["budget"] == 0 for d in details)
        assert any(d["poster_path"] is None for d in details)
        assert any(len([c for c in d["credits"]["crew"] if c["job"] == "Director"]) == 2 for d in details)
        gb_certs = [next((r for r in d["release_dates"]["results"] if r["iso_3166_1"] == "GB"), None) for d in details]
        assert None in gb_certs
        assert any(g and g["release_dates"][0]["certification"].endswith(" ") for g in gb_certs)
        no_torrents = 0
        for _, _, _, imdb_id in rows[:20]:
            if imdb_id:
                _, yts, _ = await fetch(http, sb.yts_base_url + "/list_movies.json", query_term=imdb_id)
                no_torrents += "movies" not in yts["data"]
        assert no_torrents >= 1


async def test_hostile_paths_apply_to_ids_divisible_by_seven(http):
    """With hostile_paths, posters of ids divisible by 7 and logos of providers divisible by 7 are hostile."""
    async with Sandbox(synthetic_count=50, hostile_paths=True) as sb:
        _, back = await tmdb(http, sb, "/movie/105")  # Back to the Future: 105 = 7 * 15
        assert back["poster_path"] in HOSTILE_PATHS
        _, fight = await tmdb(http, sb, "/movie/550")
        assert fight["poster_path"] == "/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
        seen = set()
        for n in range(50):
            _, d = await tmdb(http, sb, f"/movie/{MOVIE_ID_BASE + n}")
            assert (d["poster_path"] in HOSTILE_PATHS) == ((MOVIE_ID_BASE + n) % 7 == 0)
            seen.add(d["poster_path"])
        assert set(HOSTILE_PATHS) <= seen
        _, providers = await tmdb(http, sb, "/watch/providers/movie")
        for p in providers["results"]:
            assert (p["logo_path"] in HOSTILE_PATHS) == (p["provider_id"] % 7 == 0)
        async with http.get(sb.image_base_url + "/w500/.hidden.jpg") as resp:
            assert resp.status == 404


async def test_images_are_deterministic_and_unknown_files_404(sb, http):
    """Posters and logos answer small valid images with a content type; unknown files are 404."""
    jpeg_url = sb.image_base_url + "/w500/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
    async with http.get(jpeg_url) as resp:
        first = await resp.read()
        assert resp.status == 200 and resp.content_type == "image/jpeg"
    async with http.get(jpeg_url.replace("/w500/", "/original/")) as resp:
        assert await resp.read() == first
    assert first.startswith(b"\xff\xd8") and first.endswith(b"\xff\xd9")
    async with http.get(sb.image_base_url + "/w92/tEiIH5QesdheJmDAqQwvtN60727.png") as resp:
        assert resp.content_type == "image/png" and (await resp.read()).startswith(b"\x89PNG\r\n\x1a\n")
    for path in ("/w500/unknown.jpg", "/zz/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"):
        async with http.get(sb.image_base_url + path) as resp:
            assert resp.status == 404


def _sample_rows() -> list[dict[str, str]]:
    text = resources.files("tracker").joinpath("data/sample_dvds.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_sample_collection_has_the_intended_mix():
    """Mostly title+year rows, a few with ids, a certificate or two, Dune in two years, a non-ASCII title."""
    rows = _sample_rows()
    assert 25 <= len(rows) <= 30
    assert list(rows[0]) == ["title", "year", "tmdb_id", "imdb_id", "uk_certification"]
    bare = [r for r in rows if not r["tmdb_id"] and not r["imdb_id"]]
    assert len(bare) > len(rows) / 2
    assert any(r["tmdb_id"] and not r["imdb_id"] for r in rows) and any(r["tmdb_id"] and r["imdb_id"] for r in rows)
    assert any(r["uk_certification"] for r in rows)
    assert {r["year"] for r in rows if r["title"] == "Dune"} == {"1984", "2021"}
    assert any(not r["title"].isascii() for r in rows)


async def test_every_sample_row_is_served_by_search_and_details(sb, http):
    """Each sample DVD is found by exact title and year, and its details agree with the row."""
    for row in _sample_rows():
        _, found = await tmdb(http, sb, "/search/movie", query=row["title"], year=row["year"])
        exact = [r for r in found["results"] if fold(r["title"]) == fold(row["title"])]
        assert exact, row["title"]
        tmdb_id = exact[0]["id"]
        if row["tmdb_id"]:
            assert tmdb_id == int(row["tmdb_id"]), row["title"]
        status, details = await tmdb(http, sb, f"/movie/{tmdb_id}", append_to_response="release_dates")
        assert status == 200 and details["release_date"].startswith(row["year"])
        if row["imdb_id"]:
            assert details["imdb_id"] == row["imdb_id"]
        if row["uk_certification"]:
            gb = next(r for r in details["release_dates"]["results"] if r["iso_3166_1"] == "GB")
            assert row["uk_certification"] in {d["certification"].strip() for d in gb["release_dates"]}


def test_bundled_catalogue_meets_its_brief():
    """At least 30 real films with Fight Club, two-director films, TV shows and films absent from YTS."""
    from tracker.sandbox.catalogue import bundled

    data = bundled()
    movies = {m["id"]: m for m in data["movies"]}
    assert len(movies) >= 30 and movies[550]["imdb_id"] == "tt0137523"
    assert len([m for m in movies.values() if len(m["directors"]) == 2]) >= 2
    assert len([m for m in movies.values() if not m["yts"]]) >= 2
    assert {1399, 1396} <= {t["id"] for t in data["tv"]}
    assert len({m["imdb_id"] for m in movies.values()}) == len(movies)
    assert max(movies) < MOVIE_ID_BASE
