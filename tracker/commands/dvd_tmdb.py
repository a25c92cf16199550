"""DVD commands that ask TMDB: match ids, IMDb ids, details with posters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from events.types import DvdDetailsRefreshed, DvdImdbIdPopulated, DvdPosterSaved, DvdTmdbIdMatched, Event
from projections import dvds
from projections.dvds import DETAIL_FIELDS, locked
from projections.rows import from_json
from tracker.clients.tmdb_terms import POSTER_SIZE
from tracker.commands.base import FAILED, SKIPPED, UPDATED, Item, Outcome, Run, TmdbCommand, arg
from tracker.commands.matching import best_match, no_match_reason, search_query
from tracker.errors import ApiError, BadInputError, TrackerError, UnsafePath
from tracker.values import positive_int

if TYPE_CHECKING:
    import asyncio

DVD_ARG = arg("--dvd", type=positive_int, action="append", metavar="ID",
              help="only this DVD; repeat for more (default: every DVD the command selects)")


def checked_dvd_ids(options: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Refuse (exit 2) a --dvd id that names no DVD in the collection; options with the ids sorted."""
    if not options.get("dvd"):
        return options
    from tracker.db import open_database
    with open_database(settings.db_path) as db:
        unknown = dvds.not_in_collection(db.conn, options["dvd"])
    if unknown:
        raise BadInputError(f"--dvd: no DVD {unknown[0]} in the collection")
    return {**options, "dvd": sorted(set(options["dvd"]))}


class DvdTmdbCommand(TmdbCommand):
    """A TMDB command over DVDs: credentials checked, and --dvd ID to work on those only."""

    arguments: tuple = (DVD_ARG,)

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Credentials first, then the --dvd ids."""
        return checked_dvd_ids(super().validate(options, settings), settings)


def dvd_items(rows: list[Any]) -> list[Item]:
    """One item per DVD row, keyed like its events' subject (``dvd:12``)."""
    return [Item(f"dvd:{r.id}", r) for r in rows]


def _who(row: Any) -> str:
    """``DVD 4 (Dune, 2021)``."""
    year = f", {row.year}" if row.year else ""
    return f"DVD {row.id} ({row.title}{year})"


def _new_event() -> asyncio.Event:
    """An asyncio.Event; asyncio is imported here, not at the top: `tracker status` reads this module."""
    import asyncio
    return asyncio.Event()


@dataclass
class Claims:
    """match-tmdb-ids' run state: the TMDB ids this run's items claimed (by the DVD row claiming),
    and the dated DVDs still searching: undated ones wait for them, so a DVD whose year agrees
    wins an id over one without a year."""

    owners: dict[int, Any] = field(default_factory=dict)
    dated_searching: int = 0
    dated_done: asyncio.Event = field(default_factory=_new_event)

    def start_dated(self) -> None:
        """A dated DVD began its search."""
        self.dated_searching += 1
        self.dated_done.clear()

    def end_dated(self) -> None:
        """A dated DVD has claimed its id (or found none)."""
        self.dated_searching -= 1
        if self.dated_searching == 0:
            self.dated_done.set()

    async def wait_for_dated(self) -> None:
        """Until every dated DVD of the run has claimed (they are all selected before any undated)."""
        while self.dated_searching:
            await self.dated_done.wait()


class MatchTmdbIds(DvdTmdbCommand):
    """match-tmdb-ids: find TMDB ids by title and year."""

    name = "match-tmdb-ids"
    help = ("Give DVDs without a TMDB id one: titles compared ignoring case, accents, punctuation "
            "and a leading article; the year when known, else the most popular; no equal title "
            "fails naming the candidates (settle it with identify).")

    def prepare(self, run: Run) -> Claims:
        """No TMDB id claimed yet."""
        return Claims()

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs without a TMDB id, the dated ones first."""
        rows = dvds.without_tmdb_id(run.db.conn, limit=run.limit, ids=run.options.get("dvd"))
        return dvd_items(sorted(rows, key=lambda r: r.year is None))

    async def process(self, run: Run, item: Item) -> Outcome:
        """Search; the equal title (in the year), most popular; claimed once per TMDB id."""
        dvd, claims = item.payload, run.state
        dated = dvd.year is not None
        if dated:
            claims.start_dated()  # before the first await: undated items are pulled after this
        try:
            hits = await run.clients.tmdb.search_movie(search_query(dvd.title), year=dvd.year)
            best = best_match(hits, dvd.title, dvd.year)
            if best is not None:
                if not dated:
                    await claims.wait_for_dated()
                return self._claim(run, dvd, best.id)
        finally:
            if dated:
                claims.end_dated()
        if dated:  # the candidates of every year, so the reason can name the right one
            hits = await run.clients.tmdb.search_movie(search_query(dvd.title)) or hits
        return Outcome(FAILED, reason=no_match_reason(dvd.title, dvd.year, hits))

    def _claim(self, run: Run, dvd: Any, tmdb_id: int) -> Outcome:
        """The id, unless a DVD in the collection or earlier in this run has it (no await here:
        the check and the claim are one step)."""
        claims: Claims = run.state
        holder = dvds.holder_of_tmdb_id(run.db.conn, tmdb_id)
        owner = dvds.by_id(run.db.conn, holder) if holder is not None else claims.owners.get(tmdb_id)
        if owner is not None:
            return Outcome(SKIPPED, reason=f"duplicate: TMDB id {tmdb_id} is already {_who(owner)}; "
                                           f"if they are one DVD, tracker merge {owner.id} {dvd.id}")
        claims.owners[tmdb_id] = dvd
        return Outcome(UPDATED, [DvdTmdbIdMatched(dvd_id=dvd.id, tmdb_id=tmdb_id)],
                       changes={"tmdb_id": [None, tmdb_id]})


class PopulateImdbIds(DvdTmdbCommand):
    """populate-imdb-ids: IMDb ids for DVDs with a TMDB id."""

    name = "populate-imdb-ids"
    help = "Fetch IMDb ids for DVDs that have a TMDB id and no IMDb id."

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs with a TMDB id whose IMDb id was never looked up."""
        return dvd_items(dvds.without_imdb_id(run.db.conn, limit=run.limit, ids=run.options.get("dvd")))

    async def process(self, run: Run, item: Item) -> Outcome:
        """One external_ids request; TMDB's "none" is stored as "" so it is not asked again."""
        dvd = item.payload
        ids = await run.clients.tmdb.movie_external_ids(dvd.tmdb_id)
        imdb = (ids.imdb_id or "").strip()
        return Outcome(UPDATED if imdb else SKIPPED, [DvdImdbIdPopulated(dvd_id=dvd.id, imdb_id=imdb)],
                       reason="" if imdb else "TMDB has no IMDb id", changes={"imdb_id": [None, imdb]})


def certificate_to_store(stored: str | None, tmdb: str) -> str:
    """TMDB's GB certificate, unless TMDB has none (the user's is kept) or it equals the stored one
    ignoring case (as after normalize-uk-certifications: the stored spelling is kept)."""
    if not tmdb:
        return stored or ""
    return stored if stored and stored.casefold() == tmdb.casefold() else tmdb


def detail_changes(dvd: Any, new: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the unlocked fields whose decoded value differs (lists as lists)."""
    held = locked(dvd)
    old = {k: (from_json(getattr(dvd, k)) if k in dvds.JSON_COLUMNS else getattr(dvd, k)) for k in new}
    return {k: [old[k], v] for k, v in new.items() if k not in held and old[k] != v}


class RefreshMissingDetails(DvdTmdbCommand):
    """refresh-missing-details: details and poster, one request per DVD."""

    name = "refresh-missing-details"
    help = ("Fetch tagline, budget, revenue, companies, director, UK certification, rating, "
            "votes and poster for DVDs missing any (all DVDs with a TMDB id under --force); "
            "locked fields are never overwritten, unchanged DVDs record nothing.")
    arguments = (arg("--force", action="store_true",
                     help="refresh every DVD with a TMDB id (default: only those missing a detail)"), DVD_ARG)

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs missing an unlocked detail, or a poster TMDB has and we have not saved."""
        query = dvds.with_tmdb_id if run.options.get("force") else dvds.missing_details
        return dvd_items(query(run.db.conn, limit=run.limit, ids=run.options.get("dvd")))

    async def process(self, run: Run, item: Item) -> Outcome:
        """One request with credits, release dates and external ids appended; then the poster.
        Nothing is recorded for a DVD whose values all equal what TMDB says."""
        dvd = item.payload
        d = await run.clients.tmdb.movie_details(dvd.tmdb_id)
        new = {"tagline": d.tagline or "", "budget": d.budget or 0, "revenue": d.revenue or 0,
               "production_companies": d.company_names, "director": d.director or "",
               "uk_certification": certificate_to_store(dvd.uk_certification, d.uk_certification or ""),
               "rating": float(d.vote_average or 0.0), "vote_count": d.vote_count or 0}
        genres, imdb = [g.name for g in d.genres], d.imdb or None
        changes = detail_changes(dvd, {**new, "genres": genres})
        if imdb and not dvd.imdb_id and "imdb_id" not in locked(dvd):
            changes["imdb_id"] = [dvd.imdb_id, imdb]
        events: list[Event] = []
        if changes or dvd.details_refreshed_at is None or dvd.tmdb_poster_path != (d.poster_path or ""):
            events.append(DvdDetailsRefreshed(dvd_id=dvd.id, poster_path=d.poster_path or "",
                                              imdb_id=imdb, genres=genres, **new))
        try:
            events += await self._poster(run, dvd, d.poster_path or "", changes)
        except (UnsafePath, ApiError, TrackerError) as exc:
            # The details are in hand: record them, and fail only the poster (it is tried
            # again next run, since the DVD still has none).
            return Outcome(FAILED, events, reason=f"poster not saved: {exc}", changes=changes)
        return Outcome(UPDATED if changes else SKIPPED, events,
                       reason="" if changes else "no change", changes=changes)

    async def _poster(self, run: Run, dvd: Any, path: str, changes: dict[str, list[Any]]) -> list[Event]:
        """The poster, saved when TMDB has one we lack (or under --force; a file on disk is not
        fetched again); nothing when the poster is locked."""
        wanted = not dvd.poster or run.options.get("force") or path != dvd.tmdb_poster_path
        if not path or not wanted or "poster" in locked(dvd):
            return []
        poster = await run.clients.save_image(path, run.settings.posters_dir, size=POSTER_SIZE,
                                              dry_run=run.dry_run)
        if poster == dvd.poster:
            return []
        changes["poster"] = [dvd.poster, poster]
        return [DvdPosterSaved(dvd_id=dvd.id, poster=poster)]

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """How many DVDs with a TMDB id now hold each detail field (and a poster)."""
        total, held = dvds.fields_held(db.conn, (*DETAIL_FIELDS, "poster"))
        return {"dvds_with_tmdb_id": total, "fields_held": held}
