"""Watch-provider offers and YTS torrents, derived deterministically from a title's id.

Offers: for every (title, region, offer type, provider) slot of ``REGION_PLAN`` a stable hash decides
whether the offer exists. ``providers_epoch`` != 0 flips about a fifth of the slots (an offer that
existed disappears, one that did not appears), so a client can test removal of offers; the same
epoch always gives the same offers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from tracker.sandbox.synthetic import fold, mix

OFFER_TYPES = ("flatrate", "free", "ads", "rent", "buy")

# Which providers may offer a title in each region, by offer type (real provider ids).
REGION_PLAN: dict[str, dict[str, tuple[int, ...]]] = {
    "GB": {"flatrate": (8, 9, 337, 39, 11, 29, 350), "free": (38, 103), "ads": (1796,),
           "rent": (2, 10, 3, 68, 35, 130, 192), "buy": (2, 10, 3, 68, 130, 192)},
    "US": {"flatrate": (8, 9, 15, 337, 1899, 386, 350), "free": (73, 538), "ads": (300, 73),
           "rent": (2, 10, 3, 7, 192), "buy": (2, 10, 3, 7, 192, 68)},
    "DE": {"flatrate": (8, 9, 30, 337, 29), "ads": (300,), "rent": (2, 10, 3, 35, 40), "buy": (2, 10, 3, 35, 68)},
    "FR": {"flatrate": (8, 119, 381, 337), "ads": (300,), "rent": (2, 3, 35, 68), "buy": (2, 3, 35, 68)},
    "CA": {"flatrate": (8, 119, 337), "free": (73,), "ads": (300, 538), "rent": (2, 3, 10), "buy": (2, 3, 10)},
}
_SHARE_PCT = {"flatrate": 30, "free": 20, "ads": 25, "rent": 55, "buy": 60}
_FLIP_PCT = 20


def offer_exists(media: str, item_id: int, region: str, kind: str, provider_id: int, epoch: int) -> bool:
    """Whether a provider offers a title in a region under an offer type, at a providers epoch."""
    base = mix("offer", media, item_id, region, kind, provider_id) % 100 < _SHARE_PCT[kind]
    flipped = epoch != 0 and mix("flip", epoch, media, item_id, region, kind, provider_id) % 100 < _FLIP_PCT
    return base != flipped


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(title)).strip("-")


def watch_providers(media: str, record: dict[str, Any], providers: dict[int, dict[str, Any]], epoch: int) -> dict:
    """The body of GET /3/{movie,tv}/{id}/watch/providers for a title."""
    item_id = record["id"]
    slug = _slug(record.get("title") or record.get("name") or "")
    results: dict[str, Any] = {}
    for region, plan in REGION_PLAN.items():
        entry: dict[str, Any] = {}
        for kind in OFFER_TYPES:
            offers = [
                _offer_entry(providers[pid], region)
                for pid in plan.get(kind, ())
                if pid in providers and offer_exists(media, item_id, region, kind, pid, epoch)
            ]
            if offers:
                entry[kind] = sorted(offers, key=lambda o: (o["display_priority"], o["provider_id"]))
        if entry:
            link = f"https://www.themoviedb.org/{media}/{item_id}-{slug}/watch?locale={region}"
            results[region] = {"link": link, **entry}
    return {"id": item_id, "results": results}


def _offer_entry(provider: dict[str, Any], region: str) -> dict[str, Any]:
    priority = provider.get("display_priorities", {}).get(region, provider["display_priority"])
    return {"logo_path": provider["logo_path"], "provider_id": provider["provider_id"],
            "provider_name": provider["provider_name"], "display_priority": priority}


def provider_list(media: str, providers: list[dict[str, Any]], region: str | None) -> dict[str, Any]:
    """The body of GET /3/watch/providers/{movie,tv} (optionally narrowed by watch_region)."""
    used = {pid for plan in REGION_PLAN.values() for ids in plan.values() for pid in ids}
    out = []
    for p in providers:
        if p["provider_id"] not in used or media not in p.get("media_types", ["movie", "tv"]):
            continue
        if region and region not in p.get("display_priorities", {}):
            continue
        out.append({"display_priorities": p.get("display_priorities", {}), "display_priority": p["display_priority"],
                    "logo_path": p["logo_path"], "provider_name": p["provider_name"], "provider_id": p["provider_id"]})
    return {"results": out}


# --- YTS ----------------------------------------------------------------------------------------

_QUALITY_GB = {"720p": (0.7, 1.3), "1080p": (1.4, 2.8), "2160p": (4.5, 12.0)}


def _size_text(size_bytes: int) -> str:
    gib = size_bytes / 1024**3
    return f"{gib:.2f} GB" if gib >= 1 else f"{size_bytes / 1024**2:.2f} MB"


def torrents(imdb_id: str, year: int) -> list[dict[str, Any]]:
    """The torrents YTS lists for a film: 720p and 1080p bluray, sometimes web and 2160p."""
    h = mix("yts", imdb_id)
    kinds = [("720p", "bluray"), ("1080p", "bluray")]
    if h % 3 == 0:
        kinds.append(("1080p", "web"))
    if year >= 2000 and h % 4 != 1:
        kinds.append(("2160p", "bluray"))
    out = []
    for i, (quality, kind) in enumerate(kinds):
        th = mix("torrent", imdb_id, quality, kind)
        low, high = _QUALITY_GB[quality]
        size_bytes = int((low + (high - low) * (th % 1000) / 1000) * 1024**3)
        digest = hashlib.sha1(f"yts:{imdb_id}:{quality}:{kind}".encode()).hexdigest().upper()
        uploaded = 1_420_070_400 + th % 300_000_000 + i * 3600
        out.append({
            "url": f"https://yts.example/torrent/download/{digest}", "hash": digest, "quality": quality,
            "type": kind, "is_repack": "0", "video_codec": "x264", "bit_depth": "8", "audio_channels": "2.0",
            "seeds": th % 2000, "peers": (th >> 11) % 500, "size": _size_text(size_bytes), "size_bytes": size_bytes,
            "date_uploaded": _utc_text(uploaded), "date_uploaded_unix": uploaded,
        })
    return out


def _utc_text(unix_s: int) -> str:
    return dt.datetime.fromtimestamp(unix_s, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def yts_movie(record: dict[str, Any]) -> dict[str, Any]:
    """One entry of YTS's ``data.movies`` for a film the catalogue holds."""
    year = int(record["release_date"][:4]) if record["release_date"] else 0
    yts_id = 10_000 + mix("yts-id", record["imdb_id"]) % 90_000
    slug = f"{_slug(record['title'])}-{year}"
    cover = f"https://yts.example/assets/images/movies/{slug}"
    return {
        "id": yts_id, "url": f"https://yts.example/movies/{slug}", "imdb_code": record["imdb_id"],
        "title": record["title"], "title_english": record["title"], "title_long": f"{record['title']} ({year})",
        "slug": slug, "year": year, "rating": record["vote_average"], "runtime": record["runtime"],
        "genres": [], "summary": record["overview"], "description_full": record["overview"],
        "synopsis": record["overview"],
        "yt_trailer_code": "", "language": record["original_language"], "mpa_rating": "",
        "background_image": f"{cover}/background.jpg", "small_cover_image": f"{cover}/small-cover.jpg",
        "medium_cover_image": f"{cover}/medium-cover.jpg", "large_cover_image": f"{cover}/large-cover.jpg",
        "state": "ok", "torrents": torrents(record["imdb_id"], year),
        "date_uploaded": "2020-08-19 21:19:47", "date_uploaded_unix": 1597864787,
    }


def yts_answer(movies: list[dict[str, Any]], limit: int, page: int, server_time_s: int) -> dict[str, Any]:
    """The body of /api/v2/list_movies.json; without matches ``data`` has no ``movies`` key."""
    data: dict[str, Any] = {"movie_count": len(movies), "limit": limit, "page_number": page}
    window = movies[(page - 1) * limit: page * limit]
    if window:
        data["movies"] = [yts_movie(m) for m in window]
    meta = {"server_time": server_time_s, "server_timezone": "CET", "api_version": 2, "execution_time": "0 ms"}
    return {"status": "ok", "status_message": "Query was successful", "data": data, "@meta": meta}
