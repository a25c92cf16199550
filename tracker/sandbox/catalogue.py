"""The sandbox's catalogue: the bundled real titles plus the lazy synthetic ones, behind one lookup API.

Records are plain dicts in the shape of ``data/films.json`` (synthetic ones are generated in the
same shape); ``shapes.py`` turns them into TMDB's JSON. With ``hostile`` set, every movie and TV
show whose TMDB id is divisible by 7 gets a hostile poster_path (see ``HOSTILE_PATHS``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from tracker.sandbox import synthetic
from tracker.sandbox.changes import ChangeLog

# Paths a client must refuse to use as file names; which one an item gets is (id // 7) % 4.
HOSTILE_PATHS = ("/../../etc/passwd.jpg", "/a/b.jpg", "/..", "/.hidden.jpg")
HOSTILE_DIVISOR = 7


def hostile_path(item_id: int) -> str:
    """The hostile path an item (or provider) with this id gets when hostile paths are on."""
    return HOSTILE_PATHS[(item_id // HOSTILE_DIVISOR) % len(HOSTILE_PATHS)]


def is_hostile_target(item_id: int) -> bool:
    """Whether the hostile-paths knob applies to the item or provider with this id."""
    return item_id % HOSTILE_DIVISOR == 0


def _words(text: str) -> str:
    """Text as TMDB's search compares it: folded, apostrophes dropped, other punctuation as spaces."""
    folded = synthetic.fold(text).replace("'", "")
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


@cache
def bundled() -> dict[str, Any]:
    """The parsed ``data/films.json`` (read once per process; treat as read-only)."""
    text = resources.files("tracker.sandbox").joinpath("data/films.json").read_text(encoding="utf-8")
    return json.loads(text)


def _image_files(data: dict[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    for item in [*data["movies"], *data["tv"]]:
        names.update(p for p in (item.get("poster_path"), item.get("backdrop_path")) if p)
        for company in item.get("production_companies", []) + item.get("networks", []):
            if company.get("logo_path"):
                names.add(company["logo_path"])
    names.update(p["logo_path"] for p in data["providers"] if p.get("logo_path"))
    return frozenset(names)


@dataclass
class Catalogue:
    """Real plus synthetic titles; sizes are read on every call so they can change at runtime."""

    synthetic_count: int = 0
    synthetic_tv_count: int | None = None
    hostile: bool = False
    changes: ChangeLog = field(default_factory=ChangeLog)
    _data: dict[str, Any] = field(default_factory=bundled, repr=False)

    def __post_init__(self) -> None:
        """Index the bundled titles once."""
        self._movies = {m["id"]: m for m in self._data["movies"]}
        self._tv = {t["id"]: t for t in self._data["tv"]}
        self._by_imdb = {m["imdb_id"]: m for m in self._data["movies"] if m.get("imdb_id")}
        self._movies_by_pop = sorted(self._data["movies"], key=lambda m: (-m["popularity"], m["id"]))
        self._tv_by_pop = sorted(self._data["tv"], key=lambda t: (-t["popularity"], t["id"]))
        self._images = _image_files(self._data)

    # --- sizes and genre/provider lists ---------------------------------------------------------

    @property
    def tv_count(self) -> int:
        """How many synthetic TV shows exist (a tenth of the films unless set)."""
        if self.synthetic_tv_count is not None:
            return self.synthetic_tv_count
        return self.synthetic_count // 10

    def genres(self, media: str) -> list[dict[str, Any]]:
        """TMDB's official genre list for ``movie`` or ``tv``."""
        return self._data[f"{media}_genres"]

    def providers(self) -> list[dict[str, Any]]:
        """The bundled watch providers (with hostile logos applied when the knob is on)."""
        return [self._provider_view(p) for p in self._data["providers"]]

    def _provider_view(self, provider: dict[str, Any]) -> dict[str, Any]:
        if self.hostile and is_hostile_target(provider["provider_id"]):
            return {**provider, "logo_path": hostile_path(provider["provider_id"])}
        return provider

    # --- lookups --------------------------------------------------------------------------------

    def movie(self, tmdb_id: int) -> dict[str, Any] | None:
        """The film with this TMDB id, or None."""
        record = self._movies.get(tmdb_id)
        if record is None:
            n = synthetic.movie_index(tmdb_id, self.synthetic_count)
            record = None if n is None else synthetic.synthetic_movie(n)
        return self._hostile_view(self.changes.overlay("movie", record))

    def tv(self, tmdb_id: int) -> dict[str, Any] | None:
        """The TV show with this TMDB id, or None."""
        record = self._tv.get(tmdb_id)
        if record is None:
            n = synthetic.tv_index(tmdb_id, self.tv_count)
            record = None if n is None else synthetic.synthetic_tv(n)
        return self._hostile_view(self.changes.overlay("tv", record))

    def _hostile_view(self, record: dict[str, Any] | None) -> dict[str, Any] | None:
        if record is not None and self.hostile and is_hostile_target(record["id"]):
            return {**record, "poster_path": hostile_path(record["id"])}
        return record

    def movie_by_imdb(self, imdb_id: str) -> dict[str, Any] | None:
        """The film with this IMDb id (as YTS looks films up), or None."""
        record = self._by_imdb.get(imdb_id.strip().lower())
        if record is None:
            n = synthetic.find_by_imdb(imdb_id, self.synthetic_count)
            record = None if n is None else synthetic.synthetic_movie(n)
        return self._hostile_view(self.changes.overlay("movie", record))

    def search_movies(self, query: str, year: int | None) -> list[dict[str, Any]]:
        """Films matching like TMDB: the query's words in the title's (accent-, case- and
        punctuation-folded), most popular first ("leon the professional" finds "Léon: The Professional").

        Synthetic films are matched by exact title only, so a million of them stay lazy.
        """
        needle = _words(query)
        if not needle:
            return []
        found = [
            m for m in self._movies_by_pop
            if needle in _words(m["title"]) or needle in _words(m["original_title"])
        ]
        found += [synthetic.synthetic_movie(n) for n in synthetic.find_movies(query, self.synthetic_count)]
        if year is not None:
            found = [m for m in found if m["release_date"][:4] == str(year)]
        found.sort(key=lambda m: (-m["popularity"], m["id"]))
        return [r for r in map(self._hostile_view, found) if r is not None]

    def search_tv(self, query: str) -> list[dict[str, Any]]:
        """Bundled TV shows whose name contains the query, most popular first."""
        needle = synthetic.fold(query)
        return [t for t in self._tv_by_pop if needle and needle in synthetic.fold(t["name"])]

    def popular(self, media: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A slice of the popular list (real titles by popularity, then synthetic) and its total."""
        real = self._movies_by_pop if media == "movie" else self._tv_by_pop
        extra = self.synthetic_count if media == "movie" else self.tv_count
        make = synthetic.synthetic_movie if media == "movie" else synthetic.synthetic_tv
        out = real[offset: offset + limit]
        first = max(0, offset - len(real))
        last = min(extra, offset + limit - len(real))
        out = out + [make(n) for n in range(first, max(first, last))]
        return [r for r in map(self._hostile_view, out) if r is not None], len(real) + extra

    def image_known(self, file_path: str) -> bool:
        """Whether an image path names a file the catalogue refers to (bundled or synthetic)."""
        if file_path in self._images:
            return True
        owner = synthetic.image_owner(file_path)
        if owner is None:
            return False
        kind, item_id = owner
        record = self.movie(item_id) if kind == "m" else self.tv(item_id)
        return record is not None
