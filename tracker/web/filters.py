"""How the pages show values: people's text, never Python reprs (None, lists, True)."""

from __future__ import annotations

from typing import Any

NOTHING = "—"


def show(value: Any) -> str:
    """A value as text: nothing as a dash, lists joined, whole floats without .0."""
    if value is None or value == "" or value == []:
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def money(value: Any) -> str:
    """A budget or revenue in dollars; TMDB's 0 means unknown."""
    return f"${value:,}" if isinstance(value, int) and value > 0 else NOTHING


def size(value: Any) -> str:
    """A byte count as MB or GB."""
    if not isinstance(value, int) or value <= 0:
        return NOTHING
    return f"{value / 1e9:.1f} GB" if value >= 1e9 else f"{value / 1e6:.0f} MB"


def when(value: Any) -> str:
    """An ``at`` time (UTC ISO 8601) to the minute: 2026-11-27 10:42 UTC."""
    if not isinstance(value, str) or len(value) < 16:
        return show(value)
    return f"{value[:10]} {value[11:16]} UTC"


def certificate(value: Any) -> str:
    """A UK certificate as printed on the box (12a -> 12A)."""
    return value.upper() if isinstance(value, str) and value.strip() else ""


def percent(done: Any, total: Any) -> int:
    """How far along, 0-100 (0 without a known total)."""
    if not isinstance(total, int) or total <= 0 or not isinstance(done, int):
        return 0
    return max(0, min(100, round(100 * done / total)))


def number(value: Any) -> str:
    """A count with thousands separators."""
    return f"{value:,}" if isinstance(value, int) else show(value)


FILTERS = {"show": show, "money": money, "size": size, "when": when, "certificate": certificate,
           "percent": percent, "number": number}
