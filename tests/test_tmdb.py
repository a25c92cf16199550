"""TMDB shapes decoded from real samples, quirks as data, the pure helpers, and the client's requests."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from events.types import GenreRef
from tests.http_support import (
    SAMPLES,
    client,
    json_response,
    loopback,
    sample_bytes,
    settings_for,
)
from tracker.clients.tmdb import (
    CountryReleases,
    Credits,
    CrewMember,
    ExternalIds,
    ListPage,
    MovieDetails,
    ProviderList,
    ReleaseDate,
    ReleaseDates,
    SearchPage,
    TmdbClient,
    TvDetails,
    WatchProviders,
    directors,
    image_url,
    uk_certification,
)
from tracker.config import Settings
from tracker.errors import UnsafePath


def decode(name: str, type_: type):
    """Decode one api-samples file as ``type_``."""
    return msgspec.json.decode(sample_bytes(name), type=type_)


# --- decoding every sample we use -----------------------------------------------------------


def test_movie_details_sample() -> None:
    """/movie/550 decodes with the fields a DVD needs."""
    movie = decode("movie-details.json", MovieDetails)
    assert (movie.id, movie.title, movie.imdb_id) == (550, "Fight Club", "tt0137523")
    assert movie.budget == 63_000_000 and movie.revenue > 0 and movie.runtime == 139
    assert movie.poster_path == "/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
    assert movie.company_names[0] == "Fox 2000 Pictures"
    assert movie.genres == [GenreRef(18, "Drama")]
    assert movie.tagline and movie.overview and movie.release_date == "1999-10-15"
    assert movie.vote_count > 0 and movie.vote_average > 0 and movie.popularity > 0
    # Nothing was appended: "not fetched" is None, never an empty answer.
    assert movie.director is None and movie.uk_certification is None


def test_credits_release_dates_external_ids_samples() -> None:
    """The three sub-resources decode and feed the helpers."""
    credits = decode("movie-credits.json", Credits)
    assert directors(credits.crew) == "David Fincher"
    release_dates = decode("movie-release-dates.json", ReleaseDates)
    assert uk_certification(release_dates.results) == "18"
    assert decode("movie-external-ids.json", ExternalIds).imdb_id == "tt0137523"


def test_search_sample() -> None:
    """/search/movie gives id, title, date and popularity."""
    page = decode("search-movie.json", SearchPage)
    hit = page.results[0]
    assert (hit.id, hit.title, hit.release_date, hit.year) == (21778, "RRRrrrr!!!", "2004-01-28", 2004)
    assert hit.popularity == pytest.approx(25.016)


@pytest.mark.parametrize(("name", "title_field"), [("movie-popular.json", "title"), ("tv-popular.json", "name")])
def test_popular_samples(name: str, title_field: str) -> None:
    """Popular lists decode for both media types; past page 500 TMDB serves nothing."""
    page = decode(name, ListPage)
    raw = json.loads(sample_bytes(name))
    assert page.page == 1 and page.total_pages == raw["total_pages"] and page.last_page == 500
    assert len(page.results) == len(raw["results"])
    for item, raw_item in zip(page.results, raw["results"], strict=True):
        assert getattr(item, title_field) == raw_item[title_field]
        assert item.genre_ids == raw_item["genre_ids"]
        assert item.poster_path == raw_item["poster_path"]
        assert item.vote_count == raw_item["vote_count"]
    date_field = "release_date" if title_field == "title" else "first_air_date"
    assert getattr(page.results[0], date_field) == raw["results"][0][date_field]


def test_tv_details_samples() -> None:
    """/tv/{id} decodes seasons, episodes, runtimes, genres and creators."""
    got = decode("tv-details.json", TvDetails)
    assert (got.name, got.number_of_seasons, got.number_of_episodes) == ("Game of Thrones", 8, 73)
    assert got.episode_run_time == [] and got.creators == "David Benioff, D.B. Weiss"
    assert GenreRef(18, "Drama") in got.genres and got.first_air_date == "2011-04-17"
    complex_ = decode("tv-details-complex.json", TvDetails)
    assert complex_.episode_run_time == [132]
    assert complex_.creators == "Kevin Smith, Scott Mosier, David Mandel"


@pytest.mark.parametrize("name", ["movie-watch-providers.json", "tv-watch-providers.json"])
def test_watch_provider_samples(name: str) -> None:
    """Every region and offer of the watch-provider samples decodes."""
    got = decode(name, WatchProviders)
    raw = json.loads(sample_bytes(name))["results"]
    assert set(got.results) == set(raw)
    for region, offers in raw.items():
        for offer_type in ("flatrate", "rent", "buy", "ads", "free"):
            ids = [p.provider_id for p in getattr(got.results[region], offer_type)]
            assert ids == [p["provider_id"] for p in offers.get(offer_type, [])]


@pytest.mark.parametrize("name", ["watch-provider-movie-list.json", "watch-provider-tv-list.json"])
def test_provider_list_samples(name: str) -> None:
    """The provider lists decode id, name and logo."""
    got = decode(name, ProviderList)
    first = got.results[0]
    assert (first.provider_id, first.provider_name) == (2, "Apple TV")
    assert first.logo_path == "/9ghgSC0MA082EL6HLCW3GalykFD.jpg"
    assert len(got.results) == len(json.loads(sample_bytes(name))["results"])


# --- quirks are data ------------------------------------------------------------------------


def test_nulls_and_missing_keys_become_empty_values() -> None:
    """null tagline/imdb_id/runtime, "" dates, 0 budget and absent keys decode as empty, not errors."""
    body = b'{"id": 7, "imdb_id": null, "tagline": null, "budget": 0, "runtime": null, ' \
           b'"poster_path": null, "release_date": "", "overview": null, "unknown": {"x": 1}}'
    movie = msgspec.json.decode(body, type=MovieDetails)
    assert (movie.tagline, movie.overview, movie.release_date) == ("", "", "")
    assert (movie.budget, movie.revenue, movie.runtime, movie.vote_count) == (0, 0, 0, 0)
    assert movie.poster_path is None and movie.imdb == ""
    assert movie.production_companies == [] and movie.genres == []
    tv = msgspec.json.decode(b'{"id": 1, "number_of_seasons": null, "name": null}', type=TvDetails)
    assert (tv.number_of_seasons, tv.name, tv.creators) == (0, "", "")


def test_appended_details_feed_director_certificate_and_imdb() -> None:
    """A details answer with appended sub-resources carries everything in one body."""
    body = json.loads(sample_bytes("movie-details.json"))
    body["imdb_id"] = None  # IMDb id only in the external ids: still found
    body["credits"] = json.loads(sample_bytes("movie-credits.json"))
    body["release_dates"] = json.loads(sample_bytes("movie-release-dates.json"))
    body["external_ids"] = json.loads(sample_bytes("movie-external-ids.json"))
    movie = msgspec.json.decode(json.dumps(body), type=MovieDetails)
    assert (movie.director, movie.uk_certification, movie.imdb) == ("David Fincher", "18", "tt0137523")


def gb(*releases: tuple[int, str | None]) -> list[CountryReleases]:
    """A release_dates result list with one GB entry (and a US one that must be ignored)."""
    us = CountryReleases("US", [ReleaseDate("R", 3)])
    return [us, CountryReleases("GB", [ReleaseDate(cert, kind) for kind, cert in releases])]


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        (gb((3, "15")), "15"),
        (gb((1, "12"), (3, "15")), "15"),  # theatrical wins over an earlier premiere
        (gb((1, "12"), (3, ""), (5, "15")), "12"),  # empty theatrical: first non-empty
        (gb((3, "  12A ")), "12A"),  # trimmed, spelled as TMDB spells it
        (gb((3, None), (4, "PG")), "PG"),
        (gb((3, ""), (5, " ")), ""),
        (gb(), ""),
        ([CountryReleases("US", [ReleaseDate("R", 3)])], ""),  # no GB release
        ([], ""),
    ],
)
def test_uk_certification_rules(results: list[CountryReleases], expected: str) -> None:
    """GB theatrical certificate if non-empty, else the first non-empty one, trimmed; "" if none."""
    assert uk_certification(results) == expected


def test_directors_in_crew_order_without_duplicates() -> None:
    """Several directors are joined by ", " in crew order; other jobs and repeats are dropped."""
    crew = [CrewMember("Lana Wachowski", "Director"), CrewMember("Joel Silver", "Producer"),
            CrewMember("Lilly Wachowski", "Director"), CrewMember("Lana Wachowski", "Director"),
            CrewMember("Someone", "Assistant Director")]
    assert directors(crew) == "Lana Wachowski, Lilly Wachowski"
    assert directors([CrewMember("X", "Writer")]) == "" and directors([]) == ""


def test_image_url_joins_size_and_refuses_unsafe_paths(tmp_path: Path) -> None:
    """image_url appends size and file name; a path that is not a plain file name is refused."""
    settings = Settings(home=tmp_path)
    assert image_url(settings, "w500", "/abc.jpg") == "https://image.tmdb.org/t/p/w500/abc.jpg"
    with pytest.raises(UnsafePath):
        image_url(settings, "w500", "/../../etc/passwd.jpg")


# --- the client against a loopback TMDB ---------------------------------------------------


def tmdb_app_routes() -> dict:
    """A TMDB stand-in serving the samples (details honour append_to_response)."""

    def serve(name: str):
        async def handle(_request: web.Request) -> web.StreamResponse:
            return json_response(sample_bytes(name))
        return handle

    async def details(request: web.Request) -> web.StreamResponse:
        body = json.loads(sample_bytes("movie-details.json"))
        files = {"credits": "movie-credits.json", "release_dates": "movie-release-dates.json",
                 "external_ids": "movie-external-ids.json"}
        for part in filter(None, request.query.get("append_to_response", "").split(",")):
            body[part] = json.loads(sample_bytes(files[part]))
        return web.json_response(body)

    async def genres(request: web.Request) -> web.StreamResponse:
        return web.json_response({"genres": [{"id": 18, "name": "Drama"}, {"id": 35, "name": "Comedy"}]})

    return {
        "/3/movie/550": details,
        "/3/movie/550/credits": serve("movie-credits.json"),
        "/3/movie/550/release_dates": serve("movie-release-dates.json"),
        "/3/movie/550/external_ids": serve("movie-external-ids.json"),
        "/3/search/movie": serve("search-movie.json"),
        "/3/movie/popular": serve("movie-popular.json"),
        "/3/tv/popular": serve("tv-popular.json"),
        "/3/tv/1399": serve("tv-details.json"),
        "/3/movie/550/watch/providers": serve("movie-watch-providers.json"),
        "/3/tv/1399/watch/providers": serve("tv-watch-providers.json"),
        "/3/watch/providers/movie": serve("watch-provider-movie-list.json"),
        "/3/watch/providers/tv": serve("watch-provider-tv-list.json"),
        "/3/genre/movie/list": genres,
    }


async def test_movie_details_is_one_request_with_append(tmp_path: Path) -> None:
    """Details, director, certificate and IMDb id come from a single appended request."""
    async with loopback(tmdb_app_routes()) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            movie = await TmdbClient(http, http.settings).movie_details(550)
    assert len(srv.hits) == 1
    assert srv.hits[0].query["append_to_response"] == "credits,release_dates,external_ids"
    assert (movie.director, movie.uk_certification, movie.imdb) == ("David Fincher", "18", "tt0137523")


async def test_separate_endpoints_for_the_baseline(tmp_path: Path) -> None:
    """The one-request-per-kind calls hit their own paths and agree with the appended answer."""
    async with loopback(tmdb_app_routes()) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            tmdb = TmdbClient(http, http.settings)
            credits = await tmdb.movie_credits(550)
            release_dates = await tmdb.movie_release_dates(550)
            external = await tmdb.movie_external_ids(550)
    assert [h.path for h in srv.hits] == [
        "/3/movie/550/credits", "/3/movie/550/release_dates", "/3/movie/550/external_ids"]
    assert directors(credits.crew) == "David Fincher"
    assert uk_certification(release_dates.results) == "18" and external.imdb_id == "tt0137523"


async def test_search_popular_tv_and_genres(tmp_path: Path) -> None:
    """search_movie passes query and year; popular, tv_details and genres decode."""
    async with loopback(tmdb_app_routes()) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            tmdb = TmdbClient(http, http.settings)
            hits = await tmdb.search_movie("RRRrrrr!!!", year=2004)
            movies = await tmdb.popular("movie", 1)
            shows = await tmdb.popular("tv", 2)
            show = await tmdb.tv_details(1399)
            genres = await tmdb.genres("movie")
            with pytest.raises(ValueError):
                await tmdb.popular("music", 1)
    assert [h.id for h in hits] == [21778]
    search = srv.hits_on("/3/search/movie")[0]
    assert (search.query["query"], search.query["year"], search.query["page"]) == ("RRRrrrr!!!", "2004", "1")
    assert movies.results[0].title == "Wonka" and shows.results[0].name == "Tomorrow Is Ours"
    assert srv.hits_on("/3/tv/popular")[0].query["page"] == "2"
    assert show.number_of_seasons == 8
    assert genres == [GenreRef(18, "Drama"), GenreRef(35, "Comedy")]


async def test_watch_providers_and_provider_lists(tmp_path: Path) -> None:
    """Offers come back as region -> offer type -> providers; empty offer types are left out."""
    async with loopback(tmdb_app_routes()) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            tmdb = TmdbClient(http, http.settings)
            movie = await tmdb.watch_providers("movie", 550)
            tv = await tmdb.watch_providers("tv", 1399)
            listed = await tmdb.provider_list("tv")
    assert set(movie["AE"]) == {"rent", "flatrate", "buy"}
    netflix = movie["AE"]["flatrate"][0]
    assert (netflix.provider_id, netflix.provider_name, netflix.logo_path) == (
        8, "Netflix", "/pbpMk2JmcoNnQwx5JGpXngfoWtp.jpg")
    assert set(movie["AL"]) == {"buy"}
    assert any("free" in offers for offers in movie.values())
    assert [p.provider_id for p in tv["AR"]["flatrate"]] == [384, 467]
    assert listed[0].provider_name == "Apple TV"
    assert all(offers for region in (movie, tv) for offers in region.values())


def test_samples_folder_is_present() -> None:
    """The samples these tests decode are found (else they skip, which this makes visible)."""
    assert (SAMPLES / "movie-details.json").is_file(), f"no TMDB samples in {SAMPLES}"
