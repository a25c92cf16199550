"""Keeping the collection right by hand: edit (with field locks), remove, merge, identify."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from events.types import DvdEdited, DvdFieldsLocked, DvdFieldsUnlocked, DvdIdentified, DvdMerged, DvdRemoved, Event
from projections.dvds import EDITABLE, LOCKABLE, decoded, dvd_row, holder_of_tmdb_id, locked
from tracker.commands import validate
from tracker.commands.base import SKIPPED, UPDATED, Command, Item, Outcome, Run, TmdbCommand, arg
from tracker.errors import BadInputError

# Fields merge fills on the kept DVD from the dropped one when the kept one's are empty.
MERGED_FIELDS = ("year", "tmdb_id", "imdb_id", "tagline", "budget", "revenue",
                 "production_companies", "director", "uk_certification", "rating", "vote_count",
                 "genres", "poster", "tmdb_poster_path", "torrents", "torrents_checked_at",
                 "details_refreshed_at")
EMPTY = (None, "", 0, 0.0, [])
_CHECKS = {"title": validate.title, "year": validate.year, "imdb_id": validate.imdb_id,
           "uk_certification": validate.certification, "director": validate.free_text,
           "tagline": validate.free_text}


def _year(date: str | None) -> int | None:
    """The year of a TMDB date ("" when unknown)."""
    return int(date[:4]) if (date or "")[:4].isdigit() else None


def held_dvd(settings: Any, dvd_id: int) -> dict[str, Any]:
    """The row of a DVD in the collection, or BadInputError (exit 2) saying why not."""
    from tracker.db import open_database
    with open_database(settings.db_path) as db:
        row = dvd_row(db.conn, dvd_id)
    if row is None:
        raise BadInputError(f"no DVD {dvd_id} in the collection (tracker list shows the ids)")
    if row["removed_at"]:
        into = f" (merged into DVD {row['merged_into']})" if row["merged_into"] else ""
        raise BadInputError(f"DVD {dvd_id} was removed at {row['removed_at']}{into}")
    return row


def fields_arg(value: str) -> str:
    """A lockable field name (for --lock / --unlock), as argparse's type."""
    import argparse
    name = value.strip().replace("-", "_")
    if name not in LOCKABLE:
        raise argparse.ArgumentTypeError(f"{value!r} is not a field that can be locked "
                                         f"(one of {', '.join(LOCKABLE)})")
    return name


def _lock_events(dvd_id: int, held: set[str], lock: Iterable[str], unlock: Iterable[str]) -> list[Event]:
    """The lock and unlock events that change something."""
    events: list[Event] = []
    if to_lock := sorted(set(lock) - held):
        events.append(DvdFieldsLocked(dvd_id=dvd_id, fields=to_lock))
    if to_unlock := sorted(set(unlock) & held):
        events.append(DvdFieldsUnlocked(dvd_id=dvd_id, fields=to_unlock))
    return events


def _lock_change(held: set[str], lock: Iterable[str], unlock: Iterable[str]) -> dict[str, list[Any]]:
    """``{"locked_fields": [before, after]}`` when the locks change, else nothing."""
    after = (held | set(lock)) - set(unlock)
    return {"locked_fields": [sorted(held), sorted(after)]} if after != held else {}


class _OneDvd(Command):
    """A command about one DVD (its id in option ``id_option``): one item, its change shown."""

    walks_items = False
    shows_changes = True
    concurrency = 1
    id_option = "dvd_id"

    # What to say once it is done ({dvd_id}, {keep_id}, ... from the options), or "".
    next_step: ClassVar[str] = ""

    def select(self, run: Run) -> Iterable[Item]:
        """The one DVD, the options as its payload."""
        return [Item(f"dvd:{run.options[self.id_option]}", run.options)]

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """The DVD ids the command was about."""
        return {k: v for k, v in run.options.items() if k.endswith("_id")}

    def headline(self, summary: dict[str, Any]) -> str | None:
        """What to do next, once something changed for real."""
        if not self.next_step or not summary.get("updated") or summary.get("dry_run"):
            return None
        return self.next_step.format(**summary)


def _still_held(run: Run, dvd_id: int) -> dict[str, Any] | None:
    """The DVD's row if it is still in the collection (it may have gone since validation)."""
    row = dvd_row(run.db.conn, dvd_id)
    return None if row is None or row["removed_at"] else row


def _gone(dvd_id: int) -> Outcome:
    return Outcome(SKIPPED, reason=f"DVD {dvd_id} is no longer in the collection")


class Edit(_OneDvd):
    """edit ID: set fields by hand; each field set is locked against refreshes."""

    name = "edit"
    help = ("Set a DVD's fields by hand; a field set here is locked: no refresh (not even "
            "--force) overwrites it until --unlock FIELD.")
    arguments = (
        arg("dvd_id", type=int, metavar="ID", help="the DVD's id (tracker list shows them)"),
        arg("--title", help="the title (default: unchanged)"),
        arg("--year", help="the release year (default: unchanged)"),
        arg("--tmdb-id", help="TMDB id, as identify --tmdb-id (default: unchanged)"),
        arg("--imdb-id", help="IMDb id such as tt0137523 (default: unchanged)"),
        arg("--uk-certification", help="UK certificate as printed: U, 12A, 15 (default: unchanged)"),
        arg("--director", help="the director (default: unchanged)"),
        arg("--tagline", help="the tagline (default: unchanged)"),
        arg("--lock", nargs="+", action="extend", type=fields_arg, metavar="FIELD",
            help="lock fields as they are, so no refresh overwrites them (default: none)"),
        arg("--unlock", nargs="+", action="extend", type=fields_arg, metavar="FIELD",
            help="let refreshes fill these fields again (default: none)"),
    )

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Every value checked, the DVD held, something to do; else exit 2 with nothing written."""
        values = {f: _CHECKS[f](options[f]) for f in EDITABLE if f in options}
        if "tmdb_id" in options:
            values["tmdb_id"] = validate.tmdb_id(options["tmdb_id"])
            if values["tmdb_id"] is None:
                raise BadInputError("--tmdb-id: give an id (unlock tmdb_id to let "
                                    "match-tmdb-ids choose one)")
        lock, unlock = options.get("lock", []), options.get("unlock", [])
        if not values and not lock and not unlock:
            raise BadInputError("nothing to edit: give a field (--title, --year, ...) or "
                                "--lock / --unlock FIELD")
        if clash := (set(lock) | set(values)) & set(unlock):
            raise BadInputError(f"--unlock {sorted(clash)[0]}: that field is also set or locked here")
        row = held_dvd(settings, options["dvd_id"])
        _check_tmdb_free(settings, values.get("tmdb_id"), row["id"])
        return {"dvd_id": row["id"], "values": values, "lock": sorted(set(lock)),
                "unlock": sorted(set(unlock))}

    async def process(self, run: Run, item: Item) -> Outcome:
        """DvdEdited for the values that differ, DvdIdentified for a new TMDB id, then locks."""
        opts = item.payload
        if (row := _still_held(run, opts["dvd_id"])) is None:
            return _gone(opts["dvd_id"])
        values = dict(opts["values"])
        dvd_id, held = row["id"], locked(row)
        events: list[Event] = []
        tmdb = values.pop("tmdb_id", None)
        changes = {f: [row[f], v] for f, v in values.items() if row[f] != v}
        if changes:
            events.append(DvdEdited(dvd_id=dvd_id, fields={f: v for f, (_, v) in changes.items()}))
        if tmdb is not None and tmdb != row["tmdb_id"]:
            events.append(DvdIdentified(dvd_id=dvd_id, tmdb_id=tmdb, previous_tmdb_id=row["tmdb_id"]))
            changes["tmdb_id"] = [row["tmdb_id"], tmdb]
            held = held | {"tmdb_id"}  # DvdIdentified locks it
        lock = [*opts["lock"], *values]
        events += _lock_events(dvd_id, held, lock, opts["unlock"])
        changes.update(_lock_change(locked(row), [*lock, *(["tmdb_id"] if tmdb else [])],
                                    opts["unlock"]))
        if not events:
            return Outcome(SKIPPED, reason="no change: the DVD already holds these values")
        return Outcome(UPDATED, events, changes=changes)


def _check_tmdb_free(settings: Any, tmdb_id: int | None, dvd_id: int) -> None:
    """Refuse a TMDB id another DVD in the collection already has (exit 2)."""
    if tmdb_id is None:
        return
    from tracker.db import open_database
    with open_database(settings.db_path) as db:
        owner = holder_of_tmdb_id(db.conn, tmdb_id)
    if owner is not None and owner != dvd_id:
        raise BadInputError(f"TMDB id {tmdb_id} is already DVD {owner}; if they are the same "
                            f"film, tracker merge {owner} {dvd_id}")


class Remove(_OneDvd):
    """remove ID: the DVD leaves the collection; its history stays."""

    name = "remove"
    next_step = "DVD {dvd_id} removed: tracker show {dvd_id} and tracker history --dvd {dvd_id} still find it"
    help = ("Remove a DVD from the collection (exports leave it out; export --as-of before now "
            "and history still show it).")
    arguments = (arg("dvd_id", type=int, metavar="ID", help="the DVD's id"),)

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """The DVD must be in the collection."""
        return {"dvd_id": held_dvd(settings, options["dvd_id"])["id"]}

    async def process(self, run: Run, item: Item) -> Outcome:
        """DvdRemoved (unless it went meanwhile)."""
        if (row := _still_held(run, item.payload["dvd_id"])) is None:
            return _gone(item.payload["dvd_id"])
        return Outcome(UPDATED, [DvdRemoved(dvd_id=row["id"])], changes={"removed": [False, True]})


class Merge(_OneDvd):
    """merge KEEP_ID DROP_ID: DROP's values fill KEEP's empty ones, then DROP is removed."""

    name = "merge"
    help = "Merge two DVDs that are one: DROP's non-empty values fill KEEP's empty ones, then DROP is removed."
    id_option = "keep_id"  # the item is named after the DVD that stays
    next_step = "DVD {drop_id} merged into DVD {keep_id} and removed"
    arguments = (arg("keep_id", type=int, metavar="KEEP_ID", help="the DVD that stays"),
                 arg("drop_id", type=int, metavar="DROP_ID", help="the DVD that goes"))

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Two different DVDs, both in the collection."""
        if options["keep_id"] == options["drop_id"]:
            raise BadInputError(f"cannot merge DVD {options['keep_id']} with itself")
        return {"keep_id": held_dvd(settings, options["keep_id"])["id"],
                "drop_id": held_dvd(settings, options["drop_id"])["id"]}

    async def process(self, run: Run, item: Item) -> Outcome:
        """DvdMerged on KEEP with the values it takes, DvdRemoved for DROP."""
        keep_id, drop_id = item.payload["keep_id"], item.payload["drop_id"]
        keep, drop = _still_held(run, keep_id), _still_held(run, drop_id)
        if keep is None or drop is None:
            return _gone(drop_id if keep else keep_id)
        keep, drop = decoded(keep), decoded(drop)
        taken = {f: drop[f] for f in MERGED_FIELDS if keep[f] in EMPTY and drop[f] not in EMPTY}
        changes: dict[str, list[Any]] = {f: [keep[f], v] for f, v in taken.items()}
        changes["merged_from"] = [None, drop_id]
        new_locks = locked(drop) & set(taken)
        if new_locks:
            changes["locked_fields"] = [sorted(locked(keep)), sorted(locked(keep) | new_locks)]
        events: list[Event] = [DvdMerged(dvd_id=keep_id, merged_id=drop_id, fields=taken),
                               DvdRemoved(dvd_id=drop_id, merged_into=keep_id)]
        return Outcome(UPDATED, events, changes=changes)


class Identify(_OneDvd, TmdbCommand):
    """identify ID --tmdb-id N: the DVD is that TMDB film (locked); old details cleared."""

    name = "identify"
    help = ("Settle which TMDB film a DVD is: without --tmdb-id, list TMDB's candidates for its "
            "title; with it, set that id (locked) and clear the details fetched for the old one.")
    next_step = "next: tracker refresh-missing-details --dvd {dvd_id} fills the details of TMDB {tmdb_id}"
    arguments = (arg("dvd_id", type=int, metavar="ID", help="the DVD's id"),
                 arg("--tmdb-id", help="the TMDB id to set (default: list TMDB's candidates, set nothing)"))

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Credentials, the DVD held, the id well-formed and not another DVD's."""
        super().validate(options, settings)
        row = held_dvd(settings, options["dvd_id"])
        tmdb_id = validate.tmdb_id(options.get("tmdb_id"))
        if tmdb_id is None:
            raise BadInputError("--tmdb-id: give an id (without it, identify lists candidates)")
        _check_tmdb_free(settings, tmdb_id, row["id"])
        return {"dvd_id": row["id"], "tmdb_id": tmdb_id}

    async def process(self, run: Run, item: Item) -> Outcome:
        """Confirm the id at TMDB (a 404 fails the item), then DvdIdentified (it locks the id)."""
        opts = item.payload
        if (row := _still_held(run, opts["dvd_id"])) is None:
            return _gone(opts["dvd_id"])
        film = await run.clients.tmdb.movie_details(opts["tmdb_id"], append=())
        held = locked(row)
        if opts["tmdb_id"] == row["tmdb_id"] and "tmdb_id" in held:
            return Outcome(SKIPPED, reason=f"no change: already TMDB {row['tmdb_id']}, locked")
        event = DvdIdentified(dvd_id=row["id"], tmdb_id=opts["tmdb_id"],
                              previous_tmdb_id=row["tmdb_id"], tmdb_title=film.title or "",
                              tmdb_year=_year(film.release_date))
        changes: dict[str, list[Any]] = {}
        if opts["tmdb_id"] != row["tmdb_id"]:
            changes["tmdb_id"] = [row["tmdb_id"], opts["tmdb_id"]]
        changes.update(_lock_change(held, ["tmdb_id"], []))
        return Outcome(UPDATED, [event], changes=changes)
