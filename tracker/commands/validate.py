"""Checks on user-given DVD values, shared by add and import; each says what is wrong."""

from __future__ import annotations

import re

from tracker.errors import BadInputError

IMDB_ID = re.compile(r"^tt\d{7,10}$")
MIN_YEAR, MAX_YEAR = 1870, 2100


def _no_control(text: str, name: str) -> str:
    """Refuse control characters (NUL, newlines): they would corrupt one-line output and CSV."""
    if any(ch < " " or ch == "\x7f" for ch in text):
        raise BadInputError(f"{name} {text!r} contains control characters")
    return text


def title(value: str | None) -> str:
    """A non-empty title, trimmed."""
    text = (value or "").strip()
    if not text:
        raise BadInputError("title is empty")
    if len(text) > 500:
        raise BadInputError("title is longer than 500 characters")
    return _no_control(text, "title")


def year(value: str | int | None) -> int | None:
    """A release year between 1870 and 2100, or None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise BadInputError(f"year {value!r} is not a whole number") from exc
    if not MIN_YEAR <= number <= MAX_YEAR:
        raise BadInputError(f"year {number} is outside {MIN_YEAR}-{MAX_YEAR}")
    return number


def tmdb_id(value: str | int | None) -> int | None:
    """A positive TMDB id, or None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise BadInputError(f"tmdb_id {value!r} is not a whole number") from exc
    if number <= 0:
        raise BadInputError(f"tmdb_id {number} must be greater than 0")
    return number


def imdb_id(value: str | None) -> str | None:
    """An IMDb id like tt0137523, or None when absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not IMDB_ID.match(text):
        raise BadInputError(f"imdb_id {text!r} is not an IMDb id like tt0137523")
    return text


def certification(value: str | None) -> str | None:
    """A UK certification as given, trimmed, or None when absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > 10:
        raise BadInputError(f"uk_certification {text!r} is longer than 10 characters")
    return _no_control(text, "uk_certification")


def free_text(value: str | None) -> str:
    """A free text field (director, tagline), trimmed; empty is allowed (TMDB's own empty)."""
    text = (value or "").strip()
    if len(text) > 1000:
        raise BadInputError("text is longer than 1000 characters")
    return _no_control(text, "text")
