"""Offline DVD commands: add, import, load-sample-data, normalize-uk-certifications, cleanup."""

from __future__ import annotations

import csv
import hashlib
import itertools
import os
import re
import time
from collections.abc import Iterable, Iterator
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
from tracker.errors import BadInputError, TrackerError

COLUMNS = ("title", "year", "tmdb_id", "imdb_id", "uk_certification")
MAX_HEADER_BYTES = 64 * 1024  # a header longer than this is not a DVD CSV header
_LINE_END = re.compile(r"\r\n|\r|\n")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of such bytes
TEMP_GRACE_S = 600  # a temp file younger than this may be a download in progress


def _dvd_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Validated DVD values from user-given strings (raises BadInputError naming the field)."""
    return {"title": validate.title(raw.get("title")), "year": validate.year(raw.get("year")),
            "tmdb_id": validate.tmdb_id(raw.get("tmdb_id")),
            "imdb_id": validate.imdb_id(raw.get("imdb_id")),
            "uk_certification": validate.certification(raw.get("uk_certification"))}


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

    def _duplicate(self, held: HeldKeys, v: dict[str, Any]) -> str | None:
        """Why these values duplicate a DVD already held, or None."""
        if v["tmdb_id"] is not None and v["tmdb_id"] in held.tmdb_ids:
            return f"duplicate: TMDB id {v['tmdb_id']} is already in the collection"
        if v["imdb_id"] is not None and v["imdb_id"] in held.imdb_ids:
            return f"duplicate: IMDb id {v['imdb_id']} is already in the collection"
        if self.dedupe_title_year and (v["title"].casefold(), v["year"]) in held.title_years:
            return f"duplicate: {v['title']} ({v['year']}) is already in the collection"
        return None

    def _add(self, run: Run, v: dict[str, Any]) -> Outcome:
        """Skip a duplicate, else the DvdAdded event (its id is given when recorded)."""
        held: HeldKeys = run.state.held
        reason = self._duplicate(held, v)
        if reason:
            return Outcome(SKIPPED, reason=reason)
        if v["tmdb_id"] is not None:
            held.tmdb_ids.add(v["tmdb_id"])
        if v["imdb_id"] is not None:
            held.imdb_ids.add(v["imdb_id"])
        held.title_years.add((v["title"].casefold(), v["year"]))
        event = DvdAdded(dvd_id=0, source=self.source, **v)
        return Outcome(UPDATED, [event], changes={k: [None, x] for k, x in v.items() if x is not None})


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
        values = _dvd_values(options)
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
        return self._add(run, item.payload)

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


SEPARATORS = (",", ";", "\t")


def _separator(header_line: str) -> str:
    """The separator a header uses: the most frequent of , ; and tab (a comma when none)."""
    return max(SEPARATORS, key=lambda sep: (header_line.count(sep), sep == ","))


def check_csv_header(path: Path) -> list[str]:
    """Refuse, before anything is written, a file that cannot be a DVD CSV (exit 2); the
    header's unknown columns (ignored)."""
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if not path.is_file():
        raise BadInputError(f"{path}: not a file")
    try:
        with path.open("rb") as f:
            first = f.readline(MAX_HEADER_BYTES)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror}") from exc
    if not first:
        raise BadInputError(f"{path}: line 1: the file is empty (expected a header row)")
    try:
        # A file from an old Mac ends its lines with CR alone: the header ends at the first one.
        text = _LINE_END.split(first.decode("utf-8-sig"), maxsplit=1)[0]
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: line 1: not UTF-8 text") from exc
    if not text.strip():
        raise BadInputError(f"{path}: line 1: expected a header row, found an empty line")
    try:
        header = [h.strip().lower() for h in next(csv.reader([text], delimiter=_separator(text)))]
    except csv.Error as exc:
        raise BadInputError(f"{path}: line 1: not readable as a CSV header ({exc})") from exc
    if "title" not in header:
        raise BadInputError(f"{path}: line 1: header has no 'title' column (found: {','.join(header)})")
    known = [h for h in header if h in COLUMNS]
    if len(set(known)) != len(known):
        raise BadInputError(f"{path}: line 1: a column is named twice")
    return [h for h in header if h not in COLUMNS]


def read_csv_rows(path: Path) -> Iterator[Item]:
    """Stream the rows as items ``line:N``; a bad row's payload is the reason it is bad."""
    try:
        f = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:  # removed or made unreadable since the header was checked
        raise TrackerError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with f:
        separator = _separator(f.readline())
        f.seek(0)
        reader = csv.reader(f, delimiter=separator)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except (StopIteration, csv.Error) as exc:
            raise TrackerError(f"{path}: line 1: no readable header row any more") from exc
        start = reader.line_num + 1
        while True:
            line = start
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a field over the size limit, say: this row only is bad
                start = reader.line_num + 1
                yield Item(f"line:{line}", f"line {line}: not readable as CSV ({exc})")
                continue
            start = reader.line_num + 1
            if "".join(cells).strip():  # not a blank row
                yield Item(f"line:{line}", _row_payload(line, header, cells))


def _row_payload(line: int, header: list[str], cells: list[str]) -> dict[str, Any] | str:
    """The validated values of a row, or the one-line reason it is refused."""
    if _NOT_UTF8.search("".join(cells)):
        return f"line {line}: bytes that are not UTF-8 text"
    if len(cells) != len(header):
        return f"line {line}: expected {len(header)} fields, found {len(cells)}"
    try:
        return _dvd_values(dict(zip(header, cells, strict=True)))
    except BadInputError as exc:
        return f"line {line}: {exc}"


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
        rows = read_csv_rows(path)
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
            yield from read_csv_rows(path)


class NormalizeUkCertifications(Command):
    """normalize-uk-certifications: every stored certificate to lower case."""

    name = "normalize-uk-certifications"
    help = 'Lower-case every stored UK certification ("12A" -> "12a").'
    batched = True

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs whose certificate has upper-case letters."""
        return [Item(f"dvd:{r.id}", r.uk_certification)
                for r in dvds.with_uppercase_certification(run.db.conn, limit=run.limit)]

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
