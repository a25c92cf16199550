"""Title matching as a collector would call it: folded titles, the year when known, ranked hits."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol

# Leading articles dropped before titles are compared ("The Matrix" = "Matrix", "Le Samouraï" =
# "Samouraï"). Words that open many titles in other senses ("I", "O", "De") are left out.
ARTICLES = ("the", "a", "an", "le", "la", "les", "der", "die", "das", "el", "los", "las", "il",
            "lo", "gli", "un", "une", "ein", "eine", "het", "een")
_WORDS = "|".join(ARTICLES)
_LEADING = re.compile(rf"^(?:(?:{_WORDS})\s+|l'\s*)")
_TRAILING = re.compile(rf"^(.+),\s*({_WORDS}|l')$")  # "Matrix, The"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
CANDIDATES_SHOWN = 3


class Hit(Protocol):
    """A search hit: TMDB's SearchResult has these."""

    id: int
    title: str | None
    original_title: str | None
    popularity: float | None

    @property
    def year(self) -> int | None:
        """The release year, if known."""


def as_typed(title: str) -> str:
    """A title as typed, only Unicode-normalised, case-folded and single-spaced."""
    return " ".join(unicodedata.normalize("NFC", title).casefold().split())


def fold(title: str) -> str:
    """A title folded for comparison: no case, accents, punctuation or leading article."""
    text = unicodedata.normalize("NFKD", title.translate(_APOSTROPHES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().strip()
    text = text.replace("&", " and ")
    if (m := _TRAILING.match(text)) is not None:
        text = f"{m.group(2)} {m.group(1)}"
    stripped = _LEADING.sub("", text, count=1)
    text = stripped if stripped.strip() else text
    text = text.replace("'", "")  # "It's" = "Its"
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text)
    return " ".join(text.split())


def search_query(title: str) -> str:
    """What to ask TMDB's search: the title, with a trailing article put back in front."""
    m = _TRAILING.match(title.strip().translate(_APOSTROPHES).casefold())
    if m is None:
        return title.strip()
    cut = title.strip().rfind(",")
    return f"{title.strip()[cut + 1:].strip()} {title.strip()[:cut].strip()}"


def tier(hit: Hit, title: str) -> int | None:
    """0: the hit's title (or original title) equals the typed one; 1: equal once folded; None."""
    names = [n for n in (hit.title, hit.original_title) if n]
    if any(as_typed(n) == as_typed(title) for n in names):
        return 0
    if any(fold(n) == fold(title) for n in names):
        return 1
    return None


def best_match(hits: Sequence[Hit], title: str, year: int | None) -> Hit | None:
    """The hit a collector would call right: equal title (as typed before folded), in the year
    when one is known, the most popular of those; None when no title is equal."""
    ranked = [(t, -(h.popularity or 0.0), h.id, h) for h in hits
              if (t := tier(h, title)) is not None and (year is None or h.year == year)]
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None


def candidates(hits: Sequence[Hit], title: str, count: int = CANDIDATES_SHOWN) -> list[Hit]:
    """The hits most like the title (then the most popular), best first."""
    wanted = fold(title)

    def closeness(h: Hit) -> float:
        return max(difflib.SequenceMatcher(None, wanted, fold(n)).ratio()
                   for n in (h.title or "", h.original_title or ""))
    return sorted(hits, key=lambda h: (-round(closeness(h), 2), -(h.popularity or 0.0), h.id))[:count]


def describe(hit: Hit) -> str:
    """A hit for people: ``Dune (2021, TMDB 438631)``."""
    year = hit.year if hit.year is not None else "no year"
    return f"{hit.title or hit.original_title or '?'} ({year}, TMDB {hit.id})"


def no_match_reason(title: str, year: int | None, hits: Sequence[Hit]) -> str:
    """Why a DVD got no TMDB id, naming the best candidates so identify can settle it."""
    where = f" ({year})" if year else ""
    head = f"no TMDB title equal to {title!r}{where}"
    found = candidates(hits, title)
    if not found:
        return f"{head}; TMDB found nothing for it"
    return f"{head}; candidates: {'; '.join(map(describe, found))}"


def hit_dict(hit: Hit) -> dict[str, Any]:
    """A hit as a JSON object (identify --json)."""
    return {"tmdb_id": hit.id, "title": hit.title, "original_title": hit.original_title,
            "year": hit.year, "popularity": hit.popularity}
