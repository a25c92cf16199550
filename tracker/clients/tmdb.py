"""TMDB v3 client: response shapes holding only the fields tracker uses, and pure helpers."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from events.types import GenreRef
from tracker.clients.files import safe_file_name
from tracker.clients.http import HttpClient
from tracker.clients.tmdb_terms import MAX_LIST_PAGE, MEDIA_TYPES, OFFER_TYPES
from tracker.config import Settings

THEATRICAL = 3


class _Tolerant(msgspec.Struct):
    """Base for shapes where TMDB sends null for an empty value: null becomes that empty value."""

    _empty_if_null: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        """Replace TMDB's nulls with the empty value ("" or 0), so empty is never 'missing'."""
        for name, empty in self._empty_if_null.items():
            if getattr(self, name) is None:
                setattr(self, name, empty)


class Named(msgspec.Struct):
    """Anything TMDB lists by name (production company, creator)."""

    name: str = ""


class CrewMember(msgspec.Struct):
    """One crew credit."""

    name: str = ""
    job: str = ""


class Credits(msgspec.Struct):
    """The crew part of /movie/{id}/credits (cast is not used)."""

    crew: list[CrewMember] = []


class ReleaseDate(_Tolerant):
    """One dated release in a country, with its certificate."""

    _empty_if_null: ClassVar[dict[str, Any]] = {"certification": "", "release_date": ""}
    certification: str | None = ""
    type: int = 0
    release_date: str | None = ""


class CountryReleases(msgspec.Struct):
    """A country's releases."""

    iso_3166_1: str = ""
    release_dates: list[ReleaseDate] = []


class ReleaseDates(msgspec.Struct):
    """/movie/{id}/release_dates."""

    results: list[CountryReleases] = []


class ExternalIds(msgspec.Struct):
    """/movie/{id}/external_ids (only the IMDb id; None when TMDB has none)."""

    imdb_id: str | None = None


class MovieDetails(_Tolerant):
    """/movie/{id}, with credits, release_dates and external_ids when appended."""

    _empty_if_null: ClassVar[dict[str, Any]] = {
        "title": "", "tagline": "", "overview": "", "release_date": "",
        "budget": 0, "revenue": 0, "runtime": 0, "vote_average": 0.0, "vote_count": 0,
        "popularity": 0.0,
    }
    id: int
    title: str | None = ""
    tagline: str | None = ""
    overview: str | None = ""
    release_date: str | None = ""
    budget: int | None = 0
    revenue: int | None = 0
    runtime: int | None = 0
    vote_average: float | None = 0.0
    vote_count: int | None = 0
    popularity: float | None = 0.0
    poster_path: str | None = None
    imdb_id: str | None = None
    genres: list[GenreRef] = []
    production_companies: list[Named] = []
    credits: Credits | None = None
    release_dates: ReleaseDates | None = None
    external_ids: ExternalIds | None = None

    @property
    def company_names(self) -> list[str]:
        """Production company names in TMDB's order."""
        return [c.name for c in self.production_companies if c.name]

    @property
    def director(self) -> str | None:
        """Directors joined by ", " ("" if none); None when credits were not fetched."""
        return None if self.credits is None else directors(self.credits.crew)

    @property
    def uk_certification(self) -> str | None:
        """The GB certificate ("" if none); None when release_dates were not fetched."""
        return None if self.release_dates is None else uk_certification(self.release_dates.results)

    @property
    def imdb(self) -> str:
        """The IMDb id from the details or the appended external ids; "" when TMDB has none."""
        external = self.external_ids.imdb_id if self.external_ids else None
        return (self.imdb_id or external or "").strip()


class SearchResult(_Tolerant):
    """One hit of /search/movie."""

    _empty_if_null: ClassVar[dict[str, Any]] = {
        "title": "", "original_title": "", "release_date": "", "popularity": 0.0,
    }
    id: int
    title: str | None = ""
    original_title: str | None = ""
    release_date: str | None = ""
    popularity: float | None = 0.0

    @property
    def year(self) -> int | None:
        """The release year, None when TMDB has no date."""
        return _year(self.release_date or "")


class SearchPage(msgspec.Struct):
    """/search/movie."""

    page: int = 1
    total_pages: int = 0
    total_results: int = 0
    results: list[SearchResult] = []


class ListItem(_Tolerant):
    """One movie or TV show of a popular list (movies have title/release_date, shows name/first_air_date)."""

    _empty_if_null: ClassVar[dict[str, Any]] = {
        "title": "", "name": "", "overview": "", "release_date": "", "first_air_date": "",
        "popularity": 0.0, "vote_average": 0.0, "vote_count": 0,
    }
    id: int
    title: str | None = ""
    name: str | None = ""
    overview: str | None = ""
    release_date: str | None = ""
    first_air_date: str | None = ""
    popularity: float | None = 0.0
    vote_average: float | None = 0.0
    vote_count: int | None = 0
    poster_path: str | None = None
    genre_ids: list[int] = []


class ListPage(msgspec.Struct):
    """/movie/popular or /tv/popular."""

    page: int = 1
    total_pages: int = 0
    total_results: int = 0
    results: list[ListItem] = []

    @property
    def last_page(self) -> int:
        """The last page TMDB will actually serve."""
        return min(self.total_pages, MAX_LIST_PAGE)


class TvDetails(_Tolerant):
    """/tv/{id}."""

    _empty_if_null: ClassVar[dict[str, Any]] = {
        "name": "", "overview": "", "first_air_date": "", "number_of_seasons": 0,
        "number_of_episodes": 0, "popularity": 0.0, "vote_average": 0.0, "vote_count": 0,
    }
    id: int
    name: str | None = ""
    overview: str | None = ""
    first_air_date: str | None = ""
    number_of_seasons: int | None = 0
    number_of_episodes: int | None = 0
    episode_run_time: list[int] = []
    popularity: float | None = 0.0
    vote_average: float | None = 0.0
    vote_count: int | None = 0
    poster_path: str | None = None
    genres: list[GenreRef] = []
    created_by: list[Named] = []

    @property
    def creators(self) -> str:
        """Creator names joined by ", " in TMDB's order, without duplicates."""
        return _join_unique(c.name for c in self.created_by)


class GenreList(msgspec.Struct):
    """/genre/{movie,tv}/list."""

    genres: list[GenreRef] = []


class Provider(msgspec.Struct, frozen=True):
    """A watch provider, as listed in an offer or in /watch/providers/{movie,tv}."""

    provider_id: int
    provider_name: str = ""
    logo_path: str | None = None


class RegionOffers(msgspec.Struct):
    """One region of /{movie,tv}/{id}/watch/providers; each offer type lists providers."""

    flatrate: list[Provider] = []
    rent: list[Provider] = []
    buy: list[Provider] = []
    ads: list[Provider] = []
    free: list[Provider] = []


class WatchProviders(msgspec.Struct):
    """/{movie,tv}/{id}/watch/providers."""

    results: dict[str, RegionOffers] = {}


class ChangedId(msgspec.Struct):
    """One id of a change list."""

    id: int
    adult: bool | None = None


class ChangesPage(msgspec.Struct):
    """/movie/changes or /tv/changes: ids edited in a date range, 100 a page."""

    page: int = 1
    total_pages: int = 0
    total_results: int = 0
    results: list[ChangedId] = []


class ProviderList(msgspec.Struct):
    """/watch/providers/{movie,tv}."""

    results: list[Provider] = []


# --- pure helpers -------------------------------------------------------------------------


def uk_certification(release_dates_results: list[CountryReleases]) -> str:
    """The GB certificate: theatrical (type 3) if non-empty, else the first non-empty; "" if none."""
    for country in release_dates_results:
        if country.iso_3166_1 != "GB":
            continue
        certs = [(r.type, (r.certification or "").strip()) for r in country.release_dates]
        theatrical = [c for t, c in certs if t == THEATRICAL and c]
        if theatrical:
            return theatrical[0]
        return next((c for _, c in certs if c), "")
    return ""


def directors(crew: list[CrewMember]) -> str:
    """Crew members with job "Director", in crew order, without duplicates, joined by ", "."""
    return _join_unique(m.name for m in crew if m.job == "Director")


def image_url(settings: Settings, size: str, path: str) -> str:
    """The image URL for an API path such as "/abc.jpg" (an unsafe path raises UnsafePath)."""
    return f"{settings.tmdb_image_base_url}/{size}/{safe_file_name(path)}"


def _join_unique(names: Any) -> str:
    """Non-empty names, trimmed, first occurrence kept, joined by ", "."""
    seen: dict[str, None] = {}
    for name in names:
        if name and name.strip():
            seen.setdefault(name.strip(), None)
    return ", ".join(seen)


def _year(date: str) -> int | None:
    """The year of an ISO date, None if absent or malformed."""
    head = date[:4]
    return int(head) if len(head) == 4 and head.isdigit() else None


def _check_media_type(media_type: str) -> str:
    """``media_type`` if it is "movie" or "tv"; ValueError otherwise (a programming error)."""
    if media_type not in MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {MEDIA_TYPES}, got {media_type!r}")
    return media_type


# --- the client ---------------------------------------------------------------------------


class TmdbClient:
    """TMDB v3 endpoints tracker uses, over the shared HttpClient (kind "tmdb")."""

    def __init__(self, http: HttpClient, settings: Settings) -> None:
        """Bind to the shared client and the TMDB base URL."""
        self.http = http
        self.base_url = settings.tmdb_base_url

    async def _get(self, path: str, type_: type[Any], params: dict[str, Any] | None = None) -> Any:
        """GET a TMDB path and decode it."""
        return await self.http.get_json("tmdb", f"{self.base_url}{path}", params, type=type_)

    async def search_movie(
        self, query: str, year: int | None = None, page: int = 1
    ) -> list[SearchResult]:
        """Movies matching ``query`` (and ``year`` when given), one page."""
        params: dict[str, Any] = {"query": query, "page": page, "include_adult": "false"}
        if year is not None:
            params["year"] = year
        result: SearchPage = await self._get("/search/movie", SearchPage, params)
        return result.results

    async def movie_details(
        self,
        tmdb_id: int,
        append: tuple[str, ...] = ("credits", "release_dates", "external_ids"),
    ) -> MovieDetails:
        """A movie's details with ``append`` sub-resources, all in one request."""
        params = {"append_to_response": ",".join(append)} if append else None
        return await self._get(f"/movie/{int(tmdb_id)}", MovieDetails, params)

    async def movie_credits(self, tmdb_id: int) -> Credits:
        """Credits alone (one request per kind: the baseline the appended request replaces)."""
        return await self._get(f"/movie/{int(tmdb_id)}/credits", Credits)

    async def movie_release_dates(self, tmdb_id: int) -> ReleaseDates:
        """Release dates alone."""
        return await self._get(f"/movie/{int(tmdb_id)}/release_dates", ReleaseDates)

    async def movie_external_ids(self, tmdb_id: int) -> ExternalIds:
        """External ids alone."""
        return await self._get(f"/movie/{int(tmdb_id)}/external_ids", ExternalIds)

    async def tv_details(self, tmdb_id: int, append: tuple[str, ...] = ()) -> TvDetails:
        """A TV show's details."""
        params = {"append_to_response": ",".join(append)} if append else None
        return await self._get(f"/tv/{int(tmdb_id)}", TvDetails, params)

    async def popular(self, media_type: str, page: int = 1) -> ListPage:
        """One page of the popular movies or shows."""
        path = f"/{_check_media_type(media_type)}/popular"
        return await self._get(path, ListPage, {"page": page})

    async def changes(self, media_type: str, start_date: str, end_date: str,
                      page: int = 1) -> ChangesPage:
        """One page of the ids edited from ``start_date`` to ``end_date`` (inclusive, YYYY-MM-DD)."""
        path = f"/{_check_media_type(media_type)}/changes"
        return await self._get(path, ChangesPage,
                               {"start_date": start_date, "end_date": end_date, "page": page})

    async def genres(self, media_type: str) -> list[GenreRef]:
        """TMDB's official genre list for movies or TV."""
        result: GenreList = await self._get(f"/genre/{_check_media_type(media_type)}/list", GenreList)
        return result.genres

    async def watch_providers(
        self, media_type: str, tmdb_id: int
    ) -> dict[str, dict[str, list[Provider]]]:
        """Region -> offer type -> providers, only offer types with at least one provider."""
        path = f"/{_check_media_type(media_type)}/{int(tmdb_id)}/watch/providers"
        result: WatchProviders = await self._get(path, WatchProviders)
        offers: dict[str, dict[str, list[Provider]]] = {}
        for region, region_offers in result.results.items():
            by_type = {t: getattr(region_offers, t) for t in OFFER_TYPES if getattr(region_offers, t)}
            if by_type:
                offers[region] = by_type
        return offers

    async def provider_list(self, media_type: str) -> list[Provider]:
        """Every watch provider TMDB knows for movies or TV."""
        path = f"/watch/providers/{_check_media_type(media_type)}"
        result: ProviderList = await self._get(path, ProviderList)
        return result.results
