"""Deterministic synthetic films and TV shows, computed from their index on demand (never materialised).

Scheme (n is the 0-based index, 0 <= n < synthetic_count):

- movie id ``5_000_000 + n``; TV id ``8_000_000 + n`` (the bundled real titles' ids are far below
  both; films and shows are separate id spaces on TMDB, so the two ranges may overlap harmlessly).
- title ``"Synthetic Film {n:06d}"``; TV name ``"Synthetic Show {n:06d}"``.
- IMDb id ``"tt9" + 7 digits of n`` for films, ``"tt8" + 7 digits`` for shows.
- popularity falls strictly with n, below every bundled real film, so the popular list is
  "real films by popularity, then synthetic films in index order".

TMDB's oddities, at fixed proportions chosen by n (films):

=========================================  ===================
oddity                                     rule
=========================================  ===================
same title in three years                  n % 20 in (1, 2) reuse the title of n - n % 20, years +5/+10
non-ASCII title ("Synthétique Film …")     n % 25 == 5 (and its same-title siblings)
two directors                              n % 9 == 0
empty tagline ``""``                       n % 10 == 1
budget and revenue 0                       n % 8 == 2
imdb_id null                               n % 50 == 7
no GB release                              n % 12 == 4
certificate with a trailing space ("15 ")  n % 6 == 3
poster_path null                           n % 15 == 6
runtime 0                                  n % 11 == 10
no production companies                    n % 16 == 5
vote_count 0 and vote_average 0            n % 13 == 0
release_date ``""`` (no year)              n % 97 == 13
no torrents on YTS                         n % 5 == 4 (and every film without an IMDb id)
=========================================  ===================
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

MOVIE_ID_BASE = 5_000_000
TV_ID_BASE = 8_000_000

_TITLE_RE = re.compile(r"^(synthetic|synthetique) film (\d{6,})$")
_IMDB_RE = re.compile(r"^tt9(\d{7})$")
_CERTS = ("U", "PG", "12A", "15", "18")
_US_CERTS = ("G", "PG", "PG-13", "R", "NR")
_MOVIE_GENRES = (28, 12, 16, 35, 80, 99, 18, 10751, 14, 36, 27, 10402, 9648, 10749, 878, 10770, 53, 10752, 37)
_TV_GENRES = (10759, 16, 35, 80, 99, 18, 10751, 10762, 9648, 10763, 10764, 10765, 10766, 10767, 10768, 37)
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def mix(*parts: object) -> int:
    """A stable 64-bit hash of the parts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a title, as TMDB's search compares them."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def image_name(kind: str, item_id: int) -> str:
    """A TMDB-looking image path for a synthetic item: 19 hash characters, a kind letter, the id."""
    h = int.from_bytes(hashlib.blake2b(f"img:{kind}:{item_id}".encode(), digest_size=16).digest(), "big")
    chars = []
    for _ in range(19):
        h, r = divmod(h, 62)
        chars.append(_B62[r])
    return f"/{''.join(chars)}{kind}{item_id}.jpg"


_IMAGE_RE = re.compile(r"^/[0-9A-Za-z]{19}([mt])(\d+)\.jpg$")


def image_owner(path: str) -> tuple[str, int] | None:
    """The (kind, id) a synthetic image path was made for, or None if it is not one of ours."""
    m = _IMAGE_RE.match(path)
    if m is None or image_name(m.group(1), int(m.group(2))) != path:
        return None
    return m.group(1), int(m.group(2))


# --- films --------------------------------------------------------------------------------------


def title_base(n: int) -> int:
    """The index whose title n reuses (itself unless n is a later year of a shared title)."""
    return n - n % 20 if n % 20 in (1, 2) else n


def movie_title(n: int) -> str:
    """The synthetic film's title."""
    base = title_base(n)
    prefix = "Synthétique Film" if base % 25 == 5 else "Synthetic Film"
    return f"{prefix} {base:06d}"


def movie_year(n: int) -> int | None:
    """The synthetic film's release year, None for the films whose release_date is ""."""
    if n % 97 == 13:
        return None
    base = title_base(n)
    return 1930 + mix("year", base) % 80 + 5 * (n - base)


def movie_imdb(n: int) -> str | None:
    """The synthetic film's IMDb id, None for the share TMDB holds without one."""
    return None if n % 50 == 7 else f"tt9{n:07d}"


def movie_has_torrents(n: int) -> bool:
    """Whether YTS lists the synthetic film."""
    return n % 5 != 4 and movie_imdb(n) is not None


def popularity(n: int) -> float:
    """Strictly falling with n and below every bundled real title (their floor is ~15)."""
    return round(12.0 / (1 + n / 1000) + 0.5, 6)


def synthetic_titles(count: int) -> list[tuple[str, int | None, int, str | None]]:
    """(title, year, tmdb_id, imdb_id) of the first ``count`` synthetic films, for CSVs in tests."""
    return [(movie_title(n), movie_year(n), MOVIE_ID_BASE + n, movie_imdb(n)) for n in range(count)]


def movie_index(tmdb_id: int, count: int) -> int | None:
    """The index of a synthetic film id within a catalogue of ``count``, else None."""
    n = tmdb_id - MOVIE_ID_BASE
    return n if 0 <= n < count else None


def find_movies(query: str, count: int) -> list[int]:
    """Indexes of synthetic films whose title equals the query (case/accent-insensitive)."""
    folded = fold(query)
    m = _TITLE_RE.match(folded)
    if m is None:
        return []
    base = int(m.group(2))
    if title_base(base) != base or fold(movie_title(base)) != folded:
        return []
    group = [base, base + 1, base + 2] if base % 20 == 0 else [base]
    return [n for n in group if n < count and title_base(n) == base]


def find_by_imdb(imdb_id: str, count: int) -> int | None:
    """The index of the synthetic film with this IMDb id, if it exists in the catalogue."""
    m = _IMDB_RE.match(imdb_id.strip().lower())
    if m is None:
        return None
    n = int(m.group(1))
    return n if n < count and movie_imdb(n) == imdb_id.strip().lower() else None


def _release_date(n: int) -> str:
    year = movie_year(n)
    if year is None:
        return ""
    h = mix("date", n)
    return f"{year}-{1 + h % 12:02d}-{1 + (h >> 8) % 28:02d}"


def _people(kind: str, n: int, how_many: int) -> list[dict[str, Any]]:
    return [
        {"id": 9_000_000 + mix(kind, n, i) % 900_000,
         "name": f"Synthetic {kind.title()} {mix(kind, n, i) % 10_000:04d}"}
        for i in range(how_many)
    ]


def _releases(n: int, date: str) -> dict[str, list[dict[str, Any]]]:
    h = mix("cert", n)
    out: dict[str, list[dict[str, Any]]] = {"US": [{"type": 3, "certification": _US_CERTS[h % 5]}]}
    if n % 12 != 4:
        cert = _CERTS[(h >> 8) % 5] + (" " if n % 6 == 3 else "")
        out["GB"] = [{"type": 3, "certification": cert}]
    if not date:
        for entries in out.values():
            entries[0]["release_date"] = ""
    return out


def _genres(n: int, pool: tuple[int, ...]) -> list[int]:
    h = mix("genres", n)
    picked = [pool[h % len(pool)], pool[(h >> 8) % len(pool)], pool[(h >> 16) % len(pool)]]
    return list(dict.fromkeys(picked[: 1 + (h >> 24) % 3]))


def _money(n: int) -> tuple[int, int]:
    if n % 8 == 2:
        return 0, 0
    h = mix("money", n)
    budget = (1 + h % 200) * 500_000
    return budget, budget * ((h >> 8) % 50) // 10


def synthetic_movie(n: int) -> dict[str, Any]:
    """The synthetic film with index n, in the bundled catalogue's record shape."""
    h = mix("movie", n)
    date = _release_date(n)
    budget, revenue = _money(n)
    votes = 0 if n % 13 == 0 else 1 + h % 5000
    studio = mix("studio", n) % 1000
    return {
        "id": MOVIE_ID_BASE + n, "imdb_id": movie_imdb(n), "title": movie_title(n),
        "original_title": movie_title(n), "original_language": "en", "release_date": date,
        "runtime": 0 if n % 11 == 10 else 70 + h % 100, "budget": budget, "revenue": revenue,
        "tagline": "" if n % 10 == 1 else f"Tagline of synthetic film {n}.",
        "overview": f"Synthetic film number {n}, generated for load and edge-case tests.",
        "popularity": popularity(n), "vote_average": round(4 + (h >> 12) % 60 / 10, 1) if votes else 0.0,
        "vote_count": votes, "poster_path": None if n % 15 == 6 else image_name("m", MOVIE_ID_BASE + n),
        "backdrop_path": None, "genre_ids": _genres(n, _MOVIE_GENRES),
        "production_companies": [] if n % 16 == 5 else [
            {"id": 900_000 + studio, "logo_path": None, "name": f"Synthetic Studio {studio:03d}",
             "origin_country": "US"}
        ],
        "directors": _people("director", n, 2 if n % 9 == 0 else 1),
        "writers": [dict(p, job="Screenplay") for p in _people("writer", n, 1)],
        "cast": [dict(p, character=f"Role {i + 1}") for i, p in enumerate(_people("actor", n, 3))],
        "releases": _releases(n, date), "yts": movie_has_torrents(n), "wikidata_id": None,
    }


# --- TV shows -----------------------------------------------------------------------------------


def tv_index(tmdb_id: int, count: int) -> int | None:
    """The index of a synthetic TV id within a catalogue of ``count`` shows, else None."""
    n = tmdb_id - TV_ID_BASE
    return n if 0 <= n < count else None


def synthetic_tv(n: int) -> dict[str, Any]:
    """The synthetic TV show with index n, in the bundled catalogue's record shape."""
    h = mix("tv", n)
    first_year = 1960 + h % 60
    seasons = [6 + mix("season", n, s) % 8 for s in range(1 + (h >> 8) % 8)]
    votes = 0 if n % 13 == 0 else 1 + (h >> 16) % 3000
    return {
        "id": TV_ID_BASE + n, "imdb_id": None if n % 50 == 7 else f"tt8{n:07d}",
        "name": f"Synthetic Show {n:06d}", "original_name": f"Synthetic Show {n:06d}", "original_language": "en",
        "first_air_date": f"{first_year}-{1 + h % 12:02d}-{1 + (h >> 4) % 28:02d}",
        "last_air_date": f"{first_year + len(seasons) - 1}-06-01", "status": "Ended", "type": "Scripted",
        "tagline": "", "overview": f"Synthetic show number {n}.", "popularity": popularity(n),
        "vote_average": round(4 + (h >> 20) % 60 / 10, 1) if votes else 0.0, "vote_count": votes,
        "poster_path": None if n % 15 == 6 else image_name("t", TV_ID_BASE + n), "backdrop_path": None,
        "genre_ids": _genres(n, _TV_GENRES), "origin_country": ["US"], "episode_run_time": [] if n % 4 == 1 else [45],
        "seasons": seasons, "created_by": _people("creator", n, 2 if n % 9 == 0 else 1),
        "networks": [{"id": 990_000 + h % 50, "logo_path": None, "name": f"Synthetic Network {h % 50:02d}",
                      "origin_country": "US"}],
        "cast": [dict(p, character=f"Role {i + 1}") for i, p in enumerate(_people("actor-tv", n, 2))],
    }
