"""Offline DVD commands: add, import, load-sample-data, normalize-uk-certifications, cleanup."""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from events.types import DvdAdded, DvdUkCertificationNormalized, PosterFileDeleted
from projections import dvds
from projections.catalogue import posters_in_use
from projections.dvds import HeldKeys, added_by, titles_and_years
from tracker.commands import matching, validate
from tracker.commands.base import FAILED, SKIPPED, UPDATED, Command, Item, Outcome, Run, arg
from tracker.commands.csv_rows import COLUMNS, check_csv_header, read_csv_rows
from tracker.errors import BadInputError, TrackerError

TEMP_GRACE_S = 600  # a temp file younger than this may be a download in progress


@dataclass
class Adding:
    """Run state of the commands that add DVDs: what is held, and the file's ignored columns."""

    held: HeldKeys
    ignored_columns: list[str] = field(default_factory=list)


class _Adding(Command):
    """Shared by the commands that add DVDs: duplicate checks against the collection."""

    concurrency = 1  # each row's duplicate check depends on the rows before it
    batched = True
    source = "add"
    dedupe_title_year = False

    def prepare(self, run: Run) -> Adding:
        """The ids (and titles) already in the collection; each DVD added joins them."""
        return Adding(dvds.held_keys(run.db.conn))

    def _duplicate(self, held: HeldKeys, dvd: DvdAdded) -> str | None:
        """Why this DVD duplicates one already held, or None."""
        if dvd.tmdb_id is not None and dvd.tmdb_id in held.tmdb_ids:
            return f"duplicate: TMDB id {dvd.tmdb_id} is already in the collection"
        if dvd.imdb_id is not None and dvd.imdb_id in held.imdb_ids:
            return f"duplicate: IMDb id {dvd.imdb_id} is already in the collection"
        if self.dedupe_title_year and (dvd.title.casefold(), dvd.year) in held.title_years:
            return f"duplicate: {dvd.title} ({dvd.year}) is already in the collection"
        return None

    def _add(self, run: Run, dvd: DvdAdded) -> Outcome:
        """Skip a duplicate, else record ``dvd`` (its id is given when recorded)."""
        held: HeldKeys = run.state.held
        reason = self._duplicate(held, dvd)
        if reason:
            return Outcome(SKIPPED, reason=reason)
        if dvd.tmdb_id is not None:
            held.tmdb_ids.add(dvd.tmdb_id)
        if dvd.imdb_id is not None:
            held.imdb_ids.add(dvd.imdb_id)
        if self.dedupe_title_year:  # no other command looks at titles here
            held.title_years.add((dvd.title.casefold(), dvd.year))
        return Outcome(UPDATED, [dvd], changes=_added_changes(dvd))


def _added_changes(dvd: DvdAdded) -> dict[str, list[Any]]:
    """``{field: [None, value]}`` for each value the DVD was added with, in column order."""
    # Spelled out rather than a loop over the fields: an import builds one per row.
    changes: dict[str, list[Any]] = {"title": [None, dvd.title]}
    if dvd.year is not None:
        changes["year"] = [None, dvd.year]
    if dvd.tmdb_id is not None:
        changes["tmdb_id"] = [None, dvd.tmdb_id]
    if dvd.imdb_id is not None:
        changes["imdb_id"] = [None, dvd.imdb_id]
    if dvd.uk_certification is not None:
        changes["uk_certification"] = [None, dvd.uk_certification]
    return changes


class Add(_Adding):
    """add TITLE: one DVD."""

    name = "add"
    help = "Add one DVD to the collection; prints its id."
    walks_items = False
    arguments = (
        arg("title", help="the film's title"),
        arg("--year", help="release year (default unknown)"),
        arg("--tmdb-id", help="TMDB movie id (default none: match-tmdb-ids finds one)"),
        arg("--imdb-id", help="IMDb id such as tt0137523 (default none: populate-imdb-ids finds one)"),
        arg("--uk-certification", help="UK certificate as printed (15, 12A); stored trimmed (default none)"),
        arg("--allow-duplicate", action="store_true",
            help="add it even if a DVD with the same title and year is held, a second copy (default: refuse)"),
    )

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Every value checked, and no DVD of the same title and year held, before anything is written."""
        values = validate.dvd_values(options)
        if options.get("allow_duplicate"):
            return {**values, "allow_duplicate": True}
        from tracker.db import open_database
        with open_database(settings.db_path, must_exist=False) as db:
            held = titles_and_years(db.conn)
        wanted = matching.fold(values["title"])
        for dvd_id, title, year in held:
            if year == values["year"] and matching.fold(title) == wanted:
                when = f" ({year})" if year else ""
                raise BadInputError(f"DVD {dvd_id} is already {title}{when}; add "
                                    "--allow-duplicate to add a second copy")
        return values

    def select(self, run: Run) -> Iterable[Item]:
        """One item: the DVD given."""
        return [Item("add", {k: v for k, v in run.options.items() if k != "allow_duplicate"})]

    def process_now(self, run: Run, item: Item) -> Outcome:
        """Add it unless it is a duplicate."""
        return self._add(run, DvdAdded(dvd_id=0, source=self.source, **item.payload))

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """The new DVD's id (and title and year)."""
        added = added_by(db.conn, run.command_id)
        if not added:
            return {}
        dvd_id, title, year = added[0]
        return {"id": dvd_id, "title": title, "year": year}

    def headline(self, summary: dict[str, Any]) -> str | None:
        """``added DVD 42: Oldboy (2003)``."""
        if "id" not in summary:
            return None
        verb = "would add" if summary.get("dry_run") else "added"
        year = f" ({summary['year']})" if summary.get("year") else ""
        return f"{verb} DVD {summary['id']}: {summary['title']}{year}"


def file_identity(path: Path) -> dict[str, Any]:
    """The size and SHA-256 of a file, as recorded in an import's intent."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return {"file_size": size, "file_sha256": digest.hexdigest()}


def refuse_changed_file(path: Path, run: Run) -> None:
    """Refuse to go on over a file other than the one this import began with.

    Items are line numbers: resuming over other content would skip its first lines silently.
    """
    if not path.is_file():
        raise TrackerError(f"{path}: the file this import began with is gone; nothing more "
                           "was imported (import it again once it is back)")
    now = file_identity(path)
    if now == {k: run.options.get(k) for k in now}:
        return
    raise TrackerError(
        f"{path} changed since import {run.command_id} began ({run.options.get('file_size')} -> "
        f"{now['file_size']} bytes, different content): not resumed, so no line is skipped "
        f"unseen (the lines recorded so far came from the earlier file). To import the new "
        f"file, run tracker import {path} again (DVDs already held are skipped as duplicates)")


class Import(_Adding):
    """import FILE.csv: many DVDs, bad rows reported and skipped."""

    name = "import"
    help = ("Import DVDs from a CSV file (title,year,tmdb_id,imdb_id,uk_certification; "
            "comma, semicolon or tab separated; other columns are ignored).")
    source = "import"
    arguments = (arg("file", metavar="FILE.csv", help="header row; title required, empty cells are absent"),)

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """The header is checked up front; rows are checked as they stream.

        The file's size and content hash go into the intent: items are line numbers, so an
        interrupted import may resume only over the very same file.
        """
        path = Path(options["file"]).expanduser().resolve()
        check_csv_header(path)
        return {**options, "file": str(path), **file_identity(path)}

    def prepare(self, run: Run) -> Adding:
        """What is held, and the columns of the file's header that will be ignored."""
        path = Path(run.options["file"]) if run.options.get("file") else None
        ignored = check_csv_header(path) if path is not None and path.is_file() else []
        return Adding(dvds.held_keys(run.db.conn), ignored)

    def select(self, run: Run) -> Iterable[Item]:
        """The rows of the file, streamed (the first --limit rows only, if given)."""
        path = Path(run.options["file"])
        if "file_sha256" in run.options:
            refuse_changed_file(path, run)
        rows = read_csv_rows(path, self.source)
        return itertools.islice(rows, run.limit) if run.limit else rows

    def process_now(self, run: Run, item: Item) -> Outcome:
        """A bad row fails with its line; a good one is added unless a duplicate."""
        if isinstance(item.payload, str):
            return Outcome(FAILED, reason=item.payload)
        return self._add(run, item.payload)

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """One warning naming the columns that were ignored, if any."""
        ignored = run.state.ignored_columns
        if not ignored:
            return {}
        names = ", ".join(repr(c) for c in ignored)
        return {"warnings": [f"ignored unknown column{'s' if len(ignored) > 1 else ''} {names} "
                             f"(known: {','.join(COLUMNS)})"]}


class LoadSampleData(Import):
    """load-sample-data: the bundled sample collection, idempotent."""

    name = "load-sample-data"
    help = "Load the bundled sample DVD collection (running it twice adds nothing twice)."
    source = "sample"
    dedupe_title_year = True
    walks_items = False

    arguments = ()

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """No options."""
        return {}

    def select(self, run: Run) -> Iterable[Item]:
        """The bundled rows."""
        with resources.as_file(resources.files("tracker") / "data" / "sample_dvds.csv") as path:
            yield from read_csv_rows(path, self.source)


class NormalizeUkCertifications(Command):
    """normalize-uk-certifications: every stored certificate to lower case."""

    name = "normalize-uk-certifications"
    help = 'Lower-case every stored UK certification ("12A" -> "12a").'
    batched = True

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs whose certificate has upper-case letters."""
        return list(itertools.starmap(Item, dvds.uppercase_certifications(run.db.conn, limit=run.limit)))

    def process_now(self, run: Run, item: Item) -> Outcome:
        """The lower-cased certificate."""
        dvd_id = int(item.key.split(":")[1])
        new = item.payload.lower()
        return Outcome(UPDATED, [DvdUkCertificationNormalized(dvd_id=dvd_id, uk_certification=new)],
                       changes={"uk_certification": [item.payload, new]})


class CleanupUnusedPosters(Command):
    """cleanup-unused-posters: delete poster files no row references."""

    name = "cleanup-unused-posters"
    help = "Delete files in media/posters/ that no DVD, movie or show references."

    def select(self, run: Run) -> Iterable[Item]:
        """Unreferenced regular files, oldest name first."""
        folder = run.settings.posters_dir
        if not folder.is_dir():
            return []
        used = {Path(p).name for p in posters_in_use(run.db.conn)}
        now = time.time()
        names = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False) or entry.name in used:
                continue
            if entry.name.startswith(".") and now - entry.stat().st_mtime < TEMP_GRACE_S:
                continue  # a download may be writing it right now
            names.append(entry.name)
        return [Item(f"file:media/posters/{n}", n) for n in names[: run.limit]]

    async def process(self, run: Run, item: Item) -> Outcome:
        """Delete the file (not in a dry run) and record it."""
        rel = f"media/posters/{item.payload}"
        if not run.dry_run:
            try:
                (run.settings.posters_dir / item.payload).unlink()
            except FileNotFoundError:
                return Outcome(SKIPPED, reason="already gone")
            except OSError as exc:
                return Outcome(FAILED, reason=f"cannot delete {rel}: {exc.strerror}")
        return Outcome(UPDATED, [PosterFileDeleted(path=rel)], changes={"file": [rel, None]})
