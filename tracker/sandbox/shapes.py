"""Catalogue records rendered in TMDB v3's JSON shapes (as captured in /work/shared/api-samples)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker.sandbox.synthetic import mix

INVALID_API_KEY = {"status_message": "Invalid API key: You must be granted a valid key.", "success": False,
                   "status_code": 7}
NOT_FOUND = {"status_message": "The resource you requested could not be found.", "status_code": 34}
INVALID_PAGE = {"success": False, "status_code": 22,
                "status_message": "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."}
QUERY_REQUIRED = {"errors": ["query must be provided"]}
PAGE_SIZE = 20
MAX_PAGE = 500

_COUNTRY_NAMES = {"US": "United States of America", "GB": "United Kingdom", "FR": "France", "DE": "Germany",
                  "JP": "Japan", "KR": "South Korea", "BR": "Brazil", "HK": "Hong Kong", "TW": "Taiwan",
                  "CN": "China", "NZ": "New Zealand", "IT": "Italy", "SU": "Soviet Union", "AU": "Australia"}
_LANGUAGES = {"en": "English", "fr": "French", "ja": "Japanese", "ko": "Korean", "zh": "Mandarin",
              "pt": "Portuguese", "ru": "Russian", "de": "German"}


def too_many(limit: int) -> dict[str, Any]:
    """TMDB's 429 body."""
    return {"success": False, "status_code": 25,
            "status_message": f"Your request count (#) is over the allowed limit of ({limit})."}


def _credit_id(*parts: object) -> str:
    return f"{mix('credit', *parts):016x}{mix('credit2', *parts) % 16**8:08x}"


def _genres(ids: list[int], names: dict[int, str]) -> list[dict[str, Any]]:
    return [{"id": g, "name": names[g]} for g in ids if g in names]


def paged(items: list[dict[str, Any]], page: int, total: int, render: Callable[[dict], dict]) -> dict[str, Any]:
    """A TMDB paginated list; ``items`` is already the page's slice."""
    total_pages = max(1, -(-total // PAGE_SIZE)) if total else 1
    return {"page": page, "results": [render(i) for i in items], "total_pages": total_pages, "total_results": total}


# --- movies -------------------------------------------------------------------------------------


def movie_list_item(m: dict[str, Any]) -> dict[str, Any]:
    """A film as it appears in search results and popular lists."""
    return {"adult": False, "backdrop_path": m["backdrop_path"], "genre_ids": m["genre_ids"], "id": m["id"],
            "original_language": m["original_language"], "original_title": m["original_title"],
            "overview": m["overview"], "popularity": m["popularity"], "poster_path": m["poster_path"],
            "release_date": m["release_date"], "title": m["title"], "video": False,
            "vote_average": m["vote_average"], "vote_count": m["vote_count"]}


def movie_details(m: dict[str, Any], genre_names: dict[int, str]) -> dict[str, Any]:
    """GET /3/movie/{id} without appended responses."""
    countries = sorted({c["origin_country"] for c in m["production_companies"] if c["origin_country"]})
    lang = m["original_language"]
    return {
        "adult": False, "backdrop_path": m["backdrop_path"], "belongs_to_collection": None,
        "budget": m["budget"], "genres": _genres(m["genre_ids"], genre_names), "homepage": "", "id": m["id"],
        "imdb_id": m["imdb_id"], "original_language": lang, "original_title": m["original_title"],
        "overview": m["overview"], "popularity": m["popularity"], "poster_path": m["poster_path"],
        "production_companies": m["production_companies"],
        "production_countries": [{"iso_3166_1": c, "name": _COUNTRY_NAMES.get(c, c)} for c in countries],
        "release_date": m["release_date"], "revenue": m["revenue"], "runtime": m["runtime"],
        "spoken_languages": [{"english_name": _LANGUAGES.get(lang, lang), "iso_639_1": lang,
                              "name": _LANGUAGES.get(lang, lang)}],
        "status": "Released", "tagline": m["tagline"], "title": m["title"], "video": False,
        "vote_average": m["vote_average"], "vote_count": m["vote_count"],
    }


def _person(p: dict[str, Any], department: str) -> dict[str, Any]:
    return {"adult": False, "gender": 0, "id": p["id"], "known_for_department": department, "name": p["name"],
            "original_name": p["name"], "popularity": round(1 + mix("pop", p["id"]) % 5000 / 100, 3),
            "profile_path": None}


def _cast(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**_person(p, "Acting"), "cast_id": i + 1, "character": p["character"],
             "credit_id": _credit_id(item["id"], "cast", p["id"]), "order": i} for i, p in enumerate(item["cast"])]


def movie_credits(m: dict[str, Any]) -> dict[str, Any]:
    """GET /3/movie/{id}/credits; writers come first in crew order, as TMDB often lists them."""
    crew = [{**_person(p, "Writing"), "credit_id": _credit_id(m["id"], "writer", p["id"]),
             "department": "Writing", "job": p["job"]} for p in m["writers"]]
    crew += [{**_person(p, "Directing"), "credit_id": _credit_id(m["id"], "director", p["id"]),
              "department": "Directing", "job": "Director"} for p in m["directors"]]
    return {"id": m["id"], "cast": _cast(m), "crew": crew}


def movie_release_dates(m: dict[str, Any]) -> dict[str, Any]:
    """GET /3/movie/{id}/release_dates; a region's dates default to the film's release_date."""
    results = []
    for region in sorted(m["releases"]):
        dates = []
        for r in m["releases"][region]:
            day = r.get("release_date", m["release_date"])
            dates.append({"certification": r["certification"], "descriptors": [], "iso_639_1": "",
                          "note": r.get("note", ""), "release_date": f"{day}T00:00:00.000Z" if day else "",
                          "type": r["type"]})
        results.append({"iso_3166_1": region, "release_dates": dates})
    return {"id": m["id"], "results": results}


def movie_external_ids(m: dict[str, Any]) -> dict[str, Any]:
    """GET /3/movie/{id}/external_ids."""
    return {"id": m["id"], "imdb_id": m["imdb_id"], "wikidata_id": m.get("wikidata_id"),
            "facebook_id": None, "instagram_id": None, "twitter_id": None}


# --- TV -----------------------------------------------------------------------------------------


def tv_list_item(t: dict[str, Any]) -> dict[str, Any]:
    """A TV show as it appears in popular lists and search results."""
    return {"adult": False, "backdrop_path": t["backdrop_path"], "genre_ids": t["genre_ids"], "id": t["id"],
            "origin_country": t["origin_country"], "original_language": t["original_language"],
            "original_name": t["original_name"], "overview": t["overview"], "popularity": t["popularity"],
            "poster_path": t["poster_path"], "first_air_date": t["first_air_date"], "name": t["name"],
            "vote_average": t["vote_average"], "vote_count": t["vote_count"]}


def _seasons(t: dict[str, Any]) -> list[dict[str, Any]]:
    first_year = int(t["first_air_date"][:4]) if t["first_air_date"] else None
    return [{"air_date": f"{first_year + i}{t['first_air_date'][4:]}" if first_year else None,
             "episode_count": count, "id": t["id"] * 100 + i + 1, "name": f"Season {i + 1}", "overview": "",
             "poster_path": None, "season_number": i + 1, "vote_average": 0}
            for i, count in enumerate(t["seasons"])]


def tv_details(t: dict[str, Any], genre_names: dict[int, str]) -> dict[str, Any]:
    """GET /3/tv/{id} without appended responses."""
    lang = t["original_language"]
    last_season = len(t["seasons"])
    last_episode = {"id": t["id"] * 1000 + 1, "name": "Finale", "overview": "", "vote_average": 0, "vote_count": 0,
                    "air_date": t["last_air_date"], "episode_number": t["seasons"][-1] if t["seasons"] else 0,
                    "episode_type": "finale", "production_code": "", "runtime": None,
                    "season_number": last_season, "show_id": t["id"], "still_path": None}
    return {
        "adult": False, "backdrop_path": t["backdrop_path"],
        "created_by": [{"id": p["id"], "credit_id": _credit_id(t["id"], "creator", p["id"]), "name": p["name"],
                        "original_name": p["name"], "gender": 0, "profile_path": None} for p in t["created_by"]],
        "episode_run_time": t["episode_run_time"], "first_air_date": t["first_air_date"],
        "genres": _genres(t["genre_ids"], genre_names), "homepage": "", "id": t["id"], "in_production": False,
        "languages": [lang], "last_air_date": t["last_air_date"], "last_episode_to_air": last_episode,
        "name": t["name"], "next_episode_to_air": None, "networks": t["networks"],
        "number_of_episodes": sum(t["seasons"]), "number_of_seasons": len(t["seasons"]),
        "origin_country": t["origin_country"], "original_language": lang, "original_name": t["original_name"],
        "overview": t["overview"], "popularity": t["popularity"], "poster_path": t["poster_path"],
        "production_companies": t.get("production_companies", []),
        "production_countries": [{"iso_3166_1": c, "name": _COUNTRY_NAMES.get(c, c)} for c in t["origin_country"]],
        "seasons": _seasons(t),
        "spoken_languages": [{"english_name": _LANGUAGES.get(lang, lang), "iso_639_1": lang,
                              "name": _LANGUAGES.get(lang, lang)}],
        "status": t["status"], "tagline": t["tagline"], "type": t["type"],
        "vote_average": t["vote_average"], "vote_count": t["vote_count"],
    }


def tv_credits(t: dict[str, Any]) -> dict[str, Any]:
    """GET /3/tv/{id}/credits (creators are not crew there, as on TMDB)."""
    return {"id": t["id"], "cast": _cast(t), "crew": []}


def tv_aggregate_credits(t: dict[str, Any]) -> dict[str, Any]:
    """GET /3/tv/{id}/aggregate_credits: each actor with their roles over the whole run."""
    episodes = sum(t["seasons"])
    cast = []
    for i, p in enumerate(t["cast"]):
        role = {"credit_id": _credit_id(t["id"], "cast", p["id"]), "character": p["character"],
                "episode_count": episodes}
        cast.append({**_person(p, "Acting"), "roles": [role], "total_episode_count": episodes, "order": i})
    return {"id": t["id"], "cast": cast, "crew": []}


def tv_external_ids(t: dict[str, Any]) -> dict[str, Any]:
    """GET /3/tv/{id}/external_ids."""
    return {"id": t["id"], "imdb_id": t["imdb_id"], "freebase_mid": None, "freebase_id": None, "tvdb_id": None,
            "tvrage_id": None, "wikidata_id": None, "facebook_id": None, "instagram_id": None, "twitter_id": None}
