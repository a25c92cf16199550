"""The sandbox's change lists: titles edited on a date (by tests, via /__sandbox/edit) plus noise.

TMDB's ``/3/{movie,tv}/changes`` name the ids edited between ``start_date`` and ``end_date``
(inclusive, at most 14 days apart, 100 ids a page). Here an edit overlays fields on a title from
its date on, and puts its id on that day's list. ``change_noise_per_day`` adds, for every day,
that many ids the catalogue does not hold (real lists name far more titles than anyone tracks).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tracker.sandbox.synthetic import mix

CHANGES_PAGE_SIZE = 100
MAX_RANGE_DAYS = 14
NOISE_BASE = {"movie": 20_000_000, "tv": 21_000_000}  # past every bundled and synthetic id
RANGE_TOO_LONG = {"errors": ["Invalid date range: Should be a range no longer than 14 days."]}


@dataclass
class ChangeLog:
    """Edits per (media type, id): the day each happened and the fields it set, in order."""

    edits: dict[tuple[str, int], list[tuple[date, dict[str, Any]]]] = field(default_factory=dict)

    def edit(self, media: str, record: dict[str, Any], changes: dict[str, Any], day: date) -> dict[str, Any]:
        """Record an edit of ``record`` (as currently served); the fields it set."""
        if not changes:
            changes = default_change(media, self.overlay(media, record))
        unknown = sorted(set(changes) - set(record))
        if unknown:
            raise ValueError(f"unknown field(s) for a {media}: {', '.join(unknown)}")
        self.edits.setdefault((media, record["id"]), []).append((day, dict(changes)))
        return changes

    def overlay(self, media: str, record: dict[str, Any] | None) -> dict[str, Any] | None:
        """The record with every edit's fields applied, oldest first (a copy when edited)."""
        if record is None:
            return None
        edits = self.edits.get((media, record["id"]))
        if not edits:
            return record
        out = copy.deepcopy(record)
        for _, fields in edits:
            out.update(copy.deepcopy(fields))
        return out

    def changed_ids(self, media: str, start: date, end: date, noise_per_day: int) -> list[int]:
        """Ids edited from ``start`` to ``end`` (inclusive), plus the noise, each once, sorted."""
        ids = {tmdb_id for (m, tmdb_id), edits in self.edits.items() if m == media
               and any(start <= day <= end for day, _ in edits)}
        day = start
        while day <= end and noise_per_day:
            ids.update(NOISE_BASE[media] + mix("noise", media, day.isoformat(), k) % 1_000_000
                       for k in range(noise_per_day))
            day += timedelta(days=1)
        return sorted(ids)


def default_change(media: str, record: dict[str, Any]) -> dict[str, Any]:
    """An edit every refresh notices: one more vote and a minute longer (movies), one more episode (TV)."""
    if media == "movie":
        return {"vote_count": record["vote_count"] + 1, "runtime": record["runtime"] + 1}
    seasons = list(record["seasons"]) or [0]
    seasons[-1] += 1
    return {"seasons": seasons, "vote_count": record["vote_count"] + 1}


def parse_range(query: Any, today: date) -> tuple[date, date] | str:
    """(start, end) from start_date/end_date (TMDB's default: the last 24 hours), or an error text."""
    try:
        end = date.fromisoformat(query.get("end_date") or today.isoformat())
        start = date.fromisoformat(query.get("start_date") or (end - timedelta(days=1)).isoformat())
    except ValueError:
        return "start_date and end_date must be dates such as 2026-11-27"
    if start > end:
        return "Invalid date range: start_date is after end_date."
    if (end - start).days + 1 > MAX_RANGE_DAYS:  # both dates count: 14 days at most
        return RANGE_TOO_LONG["errors"][0]
    return start, end


def changes_page(ids: list[int], page: int) -> dict[str, Any]:
    """One page of a change list, shaped like TMDB's."""
    total_pages = max(1, -(-len(ids) // CHANGES_PAGE_SIZE))
    window = ids[(page - 1) * CHANGES_PAGE_SIZE: page * CHANGES_PAGE_SIZE]
    return {"results": [{"id": i, "adult": False} for i in window], "page": page,
            "total_pages": total_pages, "total_results": len(ids)}
