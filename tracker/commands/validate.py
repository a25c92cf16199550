"""Checks on user-given DVD values, shared by add and import; each says what is wrong."""

from __future__ import annotations

import re
from typing import Any

from tracker.errors import BadInputError
from tracker.values import INT64_MAX, clean_text, quote

IMDB_ID = re.compile(r"^tt\d{7,10}$")
# One C-level search per value: an import checks a quarter of a million rows of them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,30}")
MIN_YEAR, MAX_YEAR = 1870, 2100
MAX_TITLE, MAX_CERTIFICATION = 500, 10  # characters


def _no_control(text: str, name: str) -> str:
    """Refuse control characters (NUL, newlines); drop bidi overrides and zero-width characters.

    A control character would corrupt one-line output and CSV, so the value is refused; the
    invisible ones mostly come along with a title pasted from a web page, so they are removed.
    Callers pass ``text`` already trimmed.
    """
    if text and text.isascii() and text.isprintable():
        return text  # the common case, told in C: nothing to refuse, nothing to remove
    if _CONTROL.search(text):
        raise BadInputError(f"{name} {quote(text)} contains control characters")
    cleaned = clean_text(text).strip()
    if not cleaned:
        raise BadInputError(f"{name} {quote(text)} holds only invisible characters")
    return cleaned


def _whole_number(value: str | int, name: str) -> int:
    """A whole number written in plain digits (no "1_000", no other scripts' digits)."""
    text = str(value).strip()
    if text.isdigit() and text.isascii() and len(text) <= 30:
        return int(text)  # the common case, told in C: plain digits
    if not _WHOLE_NUMBER.fullmatch(text):
        raise BadInputError(f"{name} {quote(value)} is not a whole number")
    return int(text)


def title(value: str | None) -> str:
    """A non-empty title, trimmed."""
    text = (value or "").strip()
    if not text:
        raise BadInputError("title is empty")
    if len(text) > MAX_TITLE:
        raise BadInputError(f"title is longer than {MAX_TITLE} characters")
    return _no_control(text, "title")


def year(value: str | int | None) -> int | None:
    """A release year between 1870 and 2100, or None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _whole_number(value, "year")
    if not MIN_YEAR <= number <= MAX_YEAR:
        raise BadInputError(f"year {number} is outside {MIN_YEAR}-{MAX_YEAR}")
    return number


def tmdb_id(value: str | int | None) -> int | None:
    """A positive TMDB id, or None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _whole_number(value, "tmdb_id")
    if number <= 0:
        raise BadInputError(f"tmdb_id {number} must be greater than 0")
    if number > INT64_MAX:  # SQLite's limit; no TMDB id comes near it
        raise BadInputError(f"tmdb_id {quote(number)} is too large (at most {INT64_MAX})")
    return number


def imdb_id(value: str | None) -> str | None:
    """An IMDb id like tt0137523, or None when absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not IMDB_ID.match(text):
        raise BadInputError(f"imdb_id {quote(text)} is not an IMDb id like tt0137523")
    return text


def certification(value: str | None) -> str | None:
    """A UK certification as given, trimmed, or None when absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > MAX_CERTIFICATION:
        raise BadInputError(f"uk_certification {quote(text)} is longer than {MAX_CERTIFICATION} characters")
    return _no_control(text, "uk_certification")


def free_text(value: str | None) -> str:
    """A free text field (director, tagline), trimmed; empty is allowed (TMDB's own empty)."""
    text = (value or "").strip()
    if len(text) > 1000:
        raise BadInputError("text is longer than 1000 characters")
    return _no_control(text, "text")


def dvd_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Validated DVD values from user-given strings (raises BadInputError naming the field)."""
    return {"title": title(raw.get("title")), "year": year(raw.get("year")),
            "tmdb_id": tmdb_id(raw.get("tmdb_id")),
            "imdb_id": imdb_id(raw.get("imdb_id")),
            "uk_certification": certification(raw.get("uk_certification"))}
