"""sync: read TMDB's change lists since the last sync and refresh only the tracked titles named.

The lists name ids per UTC day, at most 14 days a request and 100 ids a page. A sync reads every
page of each window from its start day to today, then refreshes the DVDs, catalogue movies and
shows whose ids the lists named, each with the very code (and request) of refresh-missing-details
or update-details. Once every title is refreshed, ``ChangesSynced`` moves the sync point to
today; the next sync starts there (today again: a title edited later today is named again).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from events.types import ChangesSynced, Event
from projections import catalogue as catalogue_queries
from projections import dvds as dvd_queries
from projections.upkeep import last_sync_end
from tracker.clients.tmdb_terms import MEDIA_TYPES
from tracker.commands.base import SKIPPED, Item, Outcome, Run, TmdbCommand, arg
from tracker.commands.catalogue import UpdateDetails
from tracker.commands.dvd_tmdb import RefreshMissingDetails
from tracker.errors import ApiError, AuthError, TrackerError, UsageError

WOULD_REFRESH_SHOWN = 50  # titles a dry run's summary names
WINDOW_DAYS = 14  # TMDB serves at most 14 days of changes a request (both ends count)
DVD_REFRESH = RefreshMissingDetails()
TITLE_REFRESH = UpdateDetails()


def today_utc() -> date:
    """Today's date in UTC, the calendar TMDB's change lists use."""
    return datetime.now(UTC).date()


def windows(start: date, end: date) -> list[tuple[date, date]]:
    """``start``..``end`` (inclusive) cut into windows of at most WINDOW_DAYS days."""
    out = []
    while start <= end:
        last = min(end, start + timedelta(days=WINDOW_DAYS - 1))
        out.append((start, last))
        start = last + timedelta(days=1)
    return out


@dataclass
class SyncPlan:
    """What the change lists said: the window read, pages asked, ids named per media type."""

    start: date
    end: date
    pages: int = 0
    named: dict[str, set[int]] = field(default_factory=lambda: {m: set() for m in MEDIA_TYPES})
    runs: dict[str, Run] = field(default_factory=dict)  # the refresh commands' runs, by prefix
    selected: list[str] = field(default_factory=list)  # the titles to refresh, as people read them

    @property
    def window(self) -> str:
        """The window as people read it."""
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def parse_since(text: str) -> date:
    """A --since value: a YYYY-MM-DD day not after today (UTC), or UsageError (exit 2)."""
    try:
        day = date.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise UsageError(f"--since: {text!r} is not a date such as 2026-11-13") from exc
    if day > today_utc():
        raise UsageError(f"--since: {day.isoformat()} is in the future (today is "
                         f"{today_utc().isoformat()} UTC)")
    return day


def first_day(run: Run) -> date:
    """--since, else the last sync point, else the oldest detail refresh of a tracked title."""
    if run.options.get("since"):
        return parse_since(run.options["since"])
    conn = run.db.conn
    last = last_sync_end(conn)
    if last:
        return date.fromisoformat(last)
    oldest = [t for t in (dvd_queries.oldest_details_refresh(conn),
                          *(catalogue_queries.oldest_details_refresh(conn, m) for m in MEDIA_TYPES))
              if t]
    # Nothing refreshed yet: nothing can be stale; refresh-missing-details fills new titles.
    return date.fromisoformat(min(oldest)[:10]) if oldest else today_utc()


class Sync(TmdbCommand):
    """sync: refresh only what changed at TMDB since the last sync."""

    name = "sync"
    help = ("Ask TMDB's change lists which titles changed since the last sync (14 days a "
            "request, 100 ids a page) and refresh only the tracked ones named: DVDs with a TMDB "
            "id, catalogue movies and shows, one request each, exactly as refresh-missing-details "
            "and update-details do. The first sync starts at the oldest detail refresh.")
    arguments = (arg("--since", metavar="YYYY-MM-DD",
                     help="read the change lists from this day (default: the last sync point)"),)

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Credentials, and --since a real day not in the future."""
        options = super().validate(options, settings)
        if options.get("since") is not None:
            options["since"] = parse_since(options["since"]).isoformat()
        return options

    def prepare(self, run: Run) -> SyncPlan:
        """The window, and the refresh commands' runs: a changed title is refreshed whole."""
        plan = SyncPlan(first_day(run), today_utc())
        for key, cmd in (("dvd", DVD_REFRESH), ("title", TITLE_REFRESH)):
            sub = dataclasses.replace(run, options={"force": True})
            sub.state = cmd.prepare(sub)
            plan.runs[key] = sub
        return plan

    async def plan(self, run: Run) -> None:
        """Read every page of every window of both change lists."""
        import asyncio
        plan: SyncPlan = run.state
        try:
            await asyncio.gather(*(self._walk(run, plan, media, start, end)
                                   for media in MEDIA_TYPES for start, end in windows(plan.start, plan.end)))
        except AuthError:
            raise
        except ApiError as exc:
            raise TrackerError(f"TMDB's change list could not be read: {exc}; nothing was "
                               "refreshed and the sync point stays where it was") from exc

    async def _walk(self, run: Run, plan: SyncPlan, media: str, start: date, end: date) -> None:
        """One window of one list: page 1, then the other pages at once."""
        import asyncio
        tmdb = run.clients.tmdb
        first = await tmdb.changes(media, start.isoformat(), end.isoformat(), 1)
        rest = await asyncio.gather(*(tmdb.changes(media, start.isoformat(), end.isoformat(), p)
                                      for p in range(2, first.total_pages + 1)))
        for page in (first, *rest):
            plan.pages += 1
            plan.named[media].update(c.id for c in page.results)

    def select(self, run: Run) -> Iterable[Item]:
        """The tracked titles the lists named: DVDs, then catalogue movies, then shows."""
        plan: SyncPlan = run.state
        conn = run.db.conn
        movies = plan.named["movie"] & dvd_queries.tracked_tmdb_ids(conn)
        items = [Item(f"dvd:{r.id}", r) for r in dvd_queries.with_tmdb_ids(conn, movies)]
        for media in MEDIA_TYPES:
            ids = sorted(plan.named[media] & catalogue_queries.tracked_ids(conn, media))
            if ids:
                items += [Item(f"{media}:{r.tmdb_id}", (media, r))
                          for r in catalogue_queries.titles(conn, media, ids)]
        items = items[:run.limit] if run.limit else items
        plan.selected = [f"{i.key} {_label(i.payload)}" for i in items]
        return items

    async def process(self, run: Run, item: Item) -> Outcome:
        """Refresh one title with its refresh command's own code; a dry run only names it."""
        if run.dry_run:
            return Outcome(SKIPPED, reason="changed at TMDB: would be refreshed")
        plan: SyncPlan = run.state
        if item.key.startswith("dvd:"):
            return await DVD_REFRESH.process(plan.runs["dvd"], item)
        return await TITLE_REFRESH.process(plan.runs["title"], item)

    def closing_events(self, run: Run, summary: dict[str, Any]) -> list[Event]:
        """The new sync point, unless a title failed (the next sync reads the window again)."""
        plan: SyncPlan = run.state
        if summary.get("failed") or run.limit:
            why = "some titles failed" if summary.get("failed") else "--limit left titles out"
            summary["sync_point"] = (f"not moved ({why}): the next sync reads from "
                                     f"{plan.start.isoformat()} again")
            return []
        summary["sync_point"] = (f"would move to {plan.end.isoformat()}" if run.dry_run
                                 else f"{plan.end.isoformat()} (the next sync reads from there)")
        return [ChangesSynced(command_id=run.command_id, start_date=plan.start.isoformat(),
                              end_date=plan.end.isoformat(), pages=plan.pages,
                              refreshed=summary.get("processed", 0))]

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """The window read, pages asked, ids named, and where the next sync starts."""
        plan: SyncPlan | None = run.state
        if plan is None:
            return {}
        shown = plan.selected[:WOULD_REFRESH_SHOWN]
        more = len(plan.selected) - len(shown)
        would = {"would_refresh": [*shown, *([f"... and {more} more"] if more > 0 else [])] or ["none"]}
        return {**(would if run.dry_run else {}), "window": plan.window, "change_list_pages": plan.pages,
                "named_by_change_lists": {"movies": len(plan.named["movie"]),
                                    "tv": len(plan.named["tv"])}}


def _label(payload: Any) -> str:
    """A title as people read it, from a DVD row or a (media type, movie or show row) pair."""
    row = payload[1] if isinstance(payload, tuple) else payload
    return f"({getattr(row, 'title', None) or getattr(row, 'name', None) or '?'})"
