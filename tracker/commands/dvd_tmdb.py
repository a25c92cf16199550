"""DVD commands that ask TMDB: match ids, IMDb ids, details with posters."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from events.types import DvdDetailsRefreshed, DvdImdbIdPopulated, DvdPosterSaved, DvdTmdbIdMatched
from projections import dvds
from projections.dvds import DETAIL_FIELDS
from tracker.clients.tmdb_terms import POSTER_SIZE
from tracker.commands.base import FAILED, SKIPPED, UPDATED, Item, Outcome, Run, TmdbCommand, arg, changes_between
from tracker.errors import UnsafePath


def dvd_items(rows: list[Any]) -> list[Item]:
    """One item per DVD row, keyed like its events' subject (``dvd:12``)."""
    return [Item(f"dvd:{r.id}", r) for r in rows]


@dataclass
class Claims:
    """match-tmdb-ids' run state: TMDB ids claimed by this run's items, by the DVD claiming."""

    by_tmdb_id: dict[int, int] = field(default_factory=dict)


def normalise_title(title: str) -> str:
    """A title folded for comparison: Unicode-normalised, case-folded, single-spaced."""
    text = unicodedata.normalize("NFKC", title).casefold().strip()
    return re.sub(r"\s+", " ", text)


class MatchTmdbIds(TmdbCommand):
    """match-tmdb-ids: find TMDB ids by title and year."""

    name = "match-tmdb-ids"
    help = ("Give DVDs without a TMDB id one, by exact title (and year when known; "
            "without a year, the most popular exact match).")

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs without a TMDB id."""
        return dvd_items(dvds.without_tmdb_id(run.db.conn, limit=run.limit))

    def prepare(self, run: Run) -> Claims:
        """No TMDB id claimed yet."""
        return Claims()

    async def process(self, run: Run, item: Item) -> Outcome:
        """Search once; keep exact title matches (in that year), take the most popular."""
        dvd = item.payload
        results = await run.clients.tmdb.search_movie(dvd.title, year=dvd.year)
        wanted = normalise_title(dvd.title)
        exact = [r for r in results
                 if wanted in (normalise_title(r.title or ""), normalise_title(r.original_title or ""))
                 and (dvd.year is None or r.year == dvd.year)]
        if not exact:
            where = f" ({dvd.year})" if dvd.year else ""
            return Outcome(FAILED, reason=f"no exact TMDB match for {dvd.title!r}{where}")
        best = max(exact, key=lambda r: r.popularity or 0.0)
        # Items run concurrently and their results are committed in batches, so ids claimed in
        # this run are checked here too; between awaits the check and the claim are one step.
        claimed: dict[int, int] = run.state.by_tmdb_id
        owner = dvds.holder_of_tmdb_id(run.db.conn, best.id)
        owner = owner if owner is not None else claimed.get(best.id)
        if owner is not None:
            return Outcome(SKIPPED, reason=f"duplicate: TMDB id {best.id} is already DVD {owner}")
        claimed[best.id] = dvd.id
        return Outcome(UPDATED, [DvdTmdbIdMatched(dvd_id=dvd.id, tmdb_id=best.id)],
                       changes={"tmdb_id": [None, best.id]})


class PopulateImdbIds(TmdbCommand):
    """populate-imdb-ids: IMDb ids for DVDs with a TMDB id."""

    name = "populate-imdb-ids"
    help = "Fetch IMDb ids for DVDs that have a TMDB id and no IMDb id."

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs with a TMDB id whose IMDb id was never looked up."""
        return dvd_items(dvds.without_imdb_id(run.db.conn, limit=run.limit))

    async def process(self, run: Run, item: Item) -> Outcome:
        """One external_ids request; TMDB's "none" is stored as "" so it is not asked again."""
        dvd = item.payload
        ids = await run.clients.tmdb.movie_external_ids(dvd.tmdb_id)
        imdb = (ids.imdb_id or "").strip()
        return Outcome(UPDATED if imdb else SKIPPED, [DvdImdbIdPopulated(dvd_id=dvd.id, imdb_id=imdb)],
                       reason="" if imdb else "TMDB has no IMDb id", changes={"imdb_id": [None, imdb]})


class RefreshMissingDetails(TmdbCommand):
    """refresh-missing-details: details and poster, one request per DVD."""

    name = "refresh-missing-details"
    help = ("Fetch tagline, budget, revenue, companies, director, UK certification, rating, "
            "votes and poster for DVDs missing any (all DVDs with a TMDB id under --force).")
    arguments = (arg("--force", action="store_true",
                     help="refresh every DVD with a TMDB id (default: only those missing a detail)"),)

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs missing a detail, or a poster TMDB has and we have not saved."""
        query = dvds.with_tmdb_id if run.options.get("force") else dvds.missing_details
        return dvd_items(query(run.db.conn, limit=run.limit))

    async def process(self, run: Run, item: Item) -> Outcome:
        """One request with credits, release dates and external ids appended; then the poster."""
        dvd = item.payload
        d = await run.clients.tmdb.movie_details(dvd.tmdb_id)
        cert = d.uk_certification or ""
        new = {"tagline": d.tagline or "", "budget": d.budget or 0, "revenue": d.revenue or 0,
               "production_companies": d.company_names, "director": d.director or "",
               # a certificate the user gave is kept when TMDB has none for GB
               "uk_certification": cert or dvd.uk_certification or "",
               "rating": float(d.vote_average or 0.0), "vote_count": d.vote_count or 0}
        imdb = d.imdb or None
        event = DvdDetailsRefreshed(dvd_id=dvd.id, poster_path=d.poster_path or "", imdb_id=imdb,
                                    genres=[g.name for g in d.genres], **new)
        changes = changes_between(msgspec.structs.asdict(dvd), new)
        if imdb and not dvd.imdb_id:
            changes["imdb_id"] = [dvd.imdb_id, imdb]
        events: list[Any] = [event]
        if d.poster_path and (run.options.get("force") or not dvd.poster):
            try:
                poster = await run.clients.save_image(d.poster_path, run.settings.posters_dir,
                                                      size=POSTER_SIZE, dry_run=run.dry_run)
            except UnsafePath as exc:
                return Outcome(FAILED, events, reason=str(exc), changes=changes)
            if poster != dvd.poster:
                events.append(DvdPosterSaved(dvd_id=dvd.id, poster=poster))
                changes["poster"] = [dvd.poster, poster]
        return Outcome(UPDATED if changes else SKIPPED, events,
                       reason="" if changes else "no change", changes=changes)

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """How many DVDs with a TMDB id now hold each detail field (and a poster)."""
        total, held = dvds.fields_held(db.conn, (*DETAIL_FIELDS, "poster"))
        return {"dvds_with_tmdb_id": total, "fields_held": held}
