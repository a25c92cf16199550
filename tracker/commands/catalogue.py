"""Catalogue commands: TMDB's genre lists, the popular movie and TV lists with posters, details."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from events.types import (
    CataloguePosterSaved,
    Event,
    GenreNamed,
    MovieDetailsRefreshed,
    MovieListed,
    TvDetailsRefreshed,
    TvShowListed,
)
from projections import catalogue
from projections import commands as command_table
from projections.catalogue import MEDIA_TABLE
from tracker.clients.tmdb_terms import MAX_LIST_PAGE, MEDIA_TYPES, POSTER_SIZE
from tracker.commands.base import FAILED, SKIPPED, UPDATED, Item, Outcome, Run, TmdbCommand, arg, changes_between
from tracker.errors import ApiError, TrackerError, UnsafePath, UsageError
from tracker.values import positive_int

if TYPE_CHECKING:  # the TMDB client (and aiohttp under it) loads only when a command runs
    import asyncio

    from tracker.clients.tmdb import ListItem

RECENT_DAYS = 7  # update-details leaves titles refreshed within this many days alone
DEFAULT_PAGES = 5
MEDIA_CHOICES = ("movie", "tv", "both")


def media_type_arg() -> Any:
    """The shared --media-type option (argparse checks the choice: exit 2 otherwise)."""
    return arg("--media-type", choices=MEDIA_CHOICES, default="both",
               help="movie, tv or both (default both)")


def media_types(options: dict[str, Any]) -> tuple[str, ...]:
    """The media types a run covers, from --media-type."""
    chosen = options.get("media_type") or "both"
    return MEDIA_TYPES if chosen == "both" else (chosen,)


def check_media_type(options: dict[str, Any]) -> None:
    """Refuse a bad media type given without argparse (the demo, a queued intent)."""
    if options.get("media_type", "both") not in MEDIA_CHOICES:
        raise UsageError(f"--media-type must be one of {', '.join(MEDIA_CHOICES)}")


def json_list(text: str | None) -> list[Any]:
    """A JSON list column as a list ([] when null)."""
    return msgspec.json.decode(text) if text else []


def as_dict(row: Any) -> dict[str, Any]:
    """A table row's columns by name (to diff against new values)."""
    return {} if row is None else msgspec.structs.asdict(row)


@dataclass
class Downloads:
    """Run state of the commands that save images: each file's download, started once a run."""

    started: dict[tuple[str, str], asyncio.Future[str]] = field(default_factory=dict)


async def save_once(run: Run, downloads: Downloads, api_path: str, dest_dir: Any, size: str) -> str:
    """``save_image``, downloading a file once a run even when several items name it at once."""
    # TMDB gives some providers (and titles) the same image file: without this, two concurrent
    # items would both find it missing on disk and fetch it twice.
    import asyncio  # here, not at the top: `tracker status` reads this module's commands
    key = (str(dest_dir), api_path)
    if key not in downloads.started:
        downloads.started[key] = asyncio.ensure_future(
            run.clients.save_image(api_path, dest_dir, size=size, dry_run=run.dry_run))
    return await downloads.started[key]


def merged(outcomes: Iterable[Outcome], events: list[Event], changes: dict[str, list[Any]]) -> Outcome:
    """One item's outcome from its own events and changes plus its parts' (failed if any failed)."""
    failures = []
    for part in outcomes:
        events.extend(part.events)
        changes.update(part.changes)
        if part.kind == FAILED:
            failures.append(part.reason)
    if failures:
        return Outcome(FAILED, events, reason="; ".join(failures), changes=changes)
    return Outcome(UPDATED if changes else SKIPPED, events,
                   reason="" if changes else "no change", changes=changes)


@dataclass
class ListPages(Downloads):
    """populate-db's run state: per list, a gate held until its first page has answered."""

    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    last_page: dict[str, int] = field(default_factory=dict)


class PopulateGenres(TmdbCommand):
    """populate-genres: TMDB's official movie and TV genre lists."""

    name = "populate-genres"
    help = ("Fetch TMDB's official movie and TV genre lists: every genre gets its name, and "
            "media_types records which lists it is on.")
    walks_items = False

    def select(self, run: Run) -> Iterable[Item]:
        """One item per list: one request each."""
        return [Item(f"genres:{m}", m) for m in MEDIA_TYPES]

    async def process(self, run: Run, item: Item) -> Outcome:
        """Name each genre whose name or list membership is new."""
        media = item.payload
        genres = await run.clients.tmdb.genres(media)
        known = catalogue.genres(run.db.conn)
        events: list[Event] = []
        changes: dict[str, list[Any]] = {}
        for g in genres:
            row = known.get(g.id)
            types = json_list(row.media_types) if row else []
            if row and row.name == g.name and media in types:
                continue
            events.append(GenreNamed(tmdb_id=g.id, name=g.name, media_type=media))
            new_types = sorted({*types, media})
            changes[f"genre:{g.id}"] = [_genre_text(row.name, types) if row else None,
                                        _genre_text(g.name, new_types)]
        if not events:
            return Outcome(SKIPPED, reason="no change")
        return Outcome(UPDATED, events, changes=changes)

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """How many genres are known, named, and on each list."""
        return {"genres": asdict(catalogue.genre_counts(db.conn))}


def _genre_text(name: str | None, media_types: list[str]) -> str:
    """A genre as its change reads: ``Action (movie, tv)``; ``- (no list)`` when nothing is known."""
    return f"{name or '-'} ({', '.join(media_types) or 'no list'})"


def _listing(media: str, entry: ListItem) -> dict[str, Any]:
    """A popular-list entry as the row fields it sets."""
    fields = {"overview": entry.overview, "popularity": entry.popularity,
              "rating": float(entry.vote_average), "vote_count": entry.vote_count,
              "genre_ids": list(entry.genre_ids), "tmdb_poster_path": entry.poster_path}
    if media == "movie":
        return {"title": entry.title, "release_date": entry.release_date, **fields}
    return {"name": entry.name, "first_air_date": entry.first_air_date, **fields}


def _listed_event(media: str, entry: ListItem) -> Event:
    """The MovieListed or TvShowListed event of a popular-list entry."""
    f = _listing(media, entry)
    f["poster_path"] = f.pop("tmdb_poster_path")
    cls = MovieListed if media == "movie" else TvShowListed
    return cls(tmdb_id=entry.id, **f)


def refuse_stale_resume(run: Run) -> None:
    """Refuse to resume a page walk begun on an earlier UTC day.

    Items are page numbers of lists that TMDB reorders every day: yesterday's page 3 is not
    today's, so a resume would skip titles it never saw. The command fails with its reason
    (the queue goes on) and a new run walks every page afresh.
    """
    if not command_table.done_items(run.db.conn, run.command_id):
        return
    began = command_table.status_row(run.db.conn, run.command_id)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    if began is None or not began.started_at or began.started_at[:10] == today:
        return
    raise TrackerError(
        f"{run.name} {run.command_id} began on {began.started_at[:10]} and TMDB's popular lists "
        f"have changed since: not resumed, so no title is skipped unseen; run tracker {run.name} "
        "again to walk every page afresh")


class PopulateDb(TmdbCommand):
    """populate-db: the popular movie and TV lists, page by page, with posters."""

    name = "populate-db"
    help = (f"Fetch TMDB's popular movies and/or TV shows page by page (one request a page; "
            f"TMDB serves up to page {MAX_LIST_PAGE}, more is clamped), link their genres by id "
            "and download their posters to media/posters/. Items are pages: --limit N reads at "
            "most N pages.")
    arguments = (media_type_arg(),
                 arg("--pages", type=positive_int, default=DEFAULT_PAGES, metavar="N",
                     help=f"pages of each list (20 titles a page; default {DEFAULT_PAGES}, "
                          f"at most {MAX_LIST_PAGE})"))

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Credentials, media type, and pages clamped to what TMDB serves (the summary says so)."""
        options = super().validate(options, settings)
        check_media_type(options)
        pages = options.get("pages", DEFAULT_PAGES)
        if not isinstance(pages, int) or isinstance(pages, bool) or pages < 1:
            raise UsageError(f"--pages must be a whole number greater than 0, got {pages!r}")
        if pages > MAX_LIST_PAGE:
            options["pages_requested"] = pages
            pages = MAX_LIST_PAGE
        return {**options, "pages": pages}

    def select(self, run: Run) -> Iterable[Item]:
        """Pages 1..N of each list, at most --limit of them (a resume only on the day it began)."""
        refuse_stale_resume(run)
        pages = run.options.get("pages", DEFAULT_PAGES)
        items = [Item(f"popular:{m}:{p}", (m, p)) for m in media_types(run.options)
                 for p in range(1, pages + 1)]
        return items[: run.limit]

    def prepare(self, run: Run) -> ListPages:
        """Per-list gates: the first page answered tells how many pages the list has."""
        return ListPages()

    async def _page(self, run: Run, media: str, page: int) -> Any:
        """The page, or None past the list's end: later pages wait for the first answer."""
        state: ListPages = run.state
        import asyncio
        gate = state.gates.get(media)
        if gate is None:
            gate = state.gates[media] = asyncio.Event()
        else:
            await gate.wait()
            last = state.last_page.get(media)
            if last is not None and page > last:
                return None  # never ask for a page TMDB does not serve
        try:
            listing = await run.clients.tmdb.popular(media, page)
            state.last_page[media] = listing.last_page
        finally:
            gate.set()
        return listing if listing.results else None

    async def process(self, run: Run, item: Item) -> Outcome:
        """One request for the page; list its titles and save their posters."""
        media, page = item.payload
        listing = await self._page(run, media, page)
        if listing is None:
            last = run.state.last_page.get(media)
            return Outcome(SKIPPED, reason=f"past the last page of popular {media} ({last})")
        known = {r.tmdb_id: r for r in catalogue.titles(run.db.conn, media,
                                                        [e.id for e in listing.results])}
        events: list[Event] = []
        changes: dict[str, list[Any]] = {}
        for entry in listing.results:
            _diff_listing(media, entry, known.get(entry.id), events, changes)
        import asyncio
        posters = await asyncio.gather(*(self._poster(run, media, e, known.get(e.id))
                                         for e in listing.results if e.poster_path))
        return merged(posters, events, changes)

    async def _poster(self, run: Run, media: str, entry: ListItem, row: Any) -> Outcome:
        """Save one poster: updated, skipped when already saved, or failed."""
        subject = f"{media}:{entry.id}"
        try:
            poster = await save_once(run, run.state, entry.poster_path, run.settings.posters_dir,
                                     POSTER_SIZE)
        except (UnsafePath, ApiError) as exc:
            return Outcome(FAILED, reason=f"poster of {subject}: {exc}")
        old = row.poster if row else None
        if poster == old:
            return Outcome(SKIPPED, reason="poster saved")
        event = CataloguePosterSaved(media_type=media, tmdb_id=entry.id, poster=poster)
        return Outcome(UPDATED, [event], changes={f"{subject} poster": [old, poster]})

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """Titles held and with posters; a note when --pages was clamped."""
        extra: dict[str, Any] = {}
        requested = run.options.get("pages_requested")
        if requested:
            extra["pages_clamped"] = True
            extra["note"] = (f"--pages {requested} clamped to {MAX_LIST_PAGE}: TMDB serves no "
                             f"popular page past {MAX_LIST_PAGE}")
        for media in media_types(run.options):
            held = catalogue.with_poster(db.conn, media)
            extra[MEDIA_TABLE[media]] = {"total": held.total, "with_poster": held.with_it}
        return extra


def _diff_listing(media: str, entry: ListItem, row: Any, events: list[Event],
                  changes: dict[str, list[Any]]) -> None:
    """Append the listing event when the entry is new or its basic fields changed."""
    subject = f"{media}:{entry.id}"
    new = _listing(media, entry)
    if row is None:
        events.append(_listed_event(media, entry))
        changes[subject] = [None, new["title" if media == "movie" else "name"]]
        return
    old = {**as_dict(row), "genre_ids": json_list(row.genre_ids)}
    diff = changes_between(old, new)
    if diff:
        events.append(_listed_event(media, entry))
        changes.update({f"{subject} {k}": v for k, v in diff.items()})


def _first_run_time(run_times: list[int]) -> int:
    """TMDB lists episode run times; the first non-zero one (0 when none)."""
    return next((t for t in run_times if t), 0)


def _unique(names: Iterable[str]) -> list[str]:
    """Trimmed non-empty names, first occurrence kept."""
    return list(dict.fromkeys(n.strip() for n in names if n and n.strip()))


class UpdateDetails(TmdbCommand):
    """update-details: runtime, genres and director of movies; seasons, episodes, creators of TV."""

    name = "update-details"
    help = (f"Fetch details, one request per title: runtime, genres and director (movies); "
            f"seasons, episodes, episode run time, genres and creators (TV). Titles refreshed in "
            f"the last {RECENT_DAYS} days are skipped unless --force.")
    arguments = (media_type_arg(),
                 arg("--force", action="store_true",
                     help=f"refresh every title, even those refreshed in the last {RECENT_DAYS} days (default off)"))

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Credentials and media type."""
        options = super().validate(options, settings)
        check_media_type(options)
        return options

    def select(self, run: Run) -> Iterable[Item]:
        """Titles never refreshed or refreshed over RECENT_DAYS ago (all under --force)."""
        cutoff = (datetime.now(UTC) - timedelta(days=RECENT_DAYS)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        before = None if run.options.get("force") else cutoff
        items = [Item(f"{m}:{r.tmdb_id}", (m, r)) for m in media_types(run.options)
                 for r in catalogue.titles_to_refresh(run.db.conn, m, before=before)]
        return items[: run.limit]

    async def process(self, run: Run, item: Item) -> Outcome:
        """One request (credits appended for movies: the director); the event is always kept."""
        media, row = item.payload
        if media == "movie":
            d = await run.clients.tmdb.movie_details(row.tmdb_id, append=("credits",))
            new = {"runtime": d.runtime or 0, "director": d.director or ""}
            event: Event = MovieDetailsRefreshed(tmdb_id=d.id, genres=d.genres, **new)
        else:
            d = await run.clients.tmdb.tv_details(row.tmdb_id)
            new = {"number_of_seasons": d.number_of_seasons or 0,
                   "number_of_episodes": d.number_of_episodes or 0,
                   "episode_run_time": _first_run_time(d.episode_run_time),
                   "creators": _unique(c.name for c in d.created_by)}
            event = TvDetailsRefreshed(tmdb_id=d.id, genres=d.genres, **new)
        held = as_dict(row)
        old = {**held, "genre_ids": json_list(held.get("genre_ids")),
               "creators": json_list(held.get("creators"))}
        changes = changes_between(old, {**new, "genre_ids": [g.id for g in d.genres]})
        return Outcome(UPDATED if changes else SKIPPED, [event],
                       reason="" if changes else "no change", changes=changes)

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """How many titles hold details, per table."""
        out = {}
        for media in media_types(run.options):
            held = catalogue.with_details(db.conn, media)
            out[MEDIA_TABLE[media]] = {"total": held.total, "with_details": held.with_it}
        return {"details_held": out}
