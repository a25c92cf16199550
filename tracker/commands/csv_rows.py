"""Reading a DVD CSV: its header checked up front, its rows streamed as items ``line:N``."""

from __future__ import annotations

import csv
import operator
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from events.types import DvdAdded
from tracker.commands import validate
from tracker.commands.base import Item
from tracker.errors import BadInputError, TrackerError

COLUMNS = ("title", "year", "tmdb_id", "imdb_id", "uk_certification")
MAX_HEADER_BYTES = 64 * 1024  # a header longer than this is not a DVD CSV header
_LINE_END = re.compile(r"\r\n|\r|\n")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of such bytes
SEPARATORS = (",", ";", "\t")
# The values a plain row holds, told without int() or a range check: years by a dict look-up.
_PLAIN_YEARS = {str(year): year for year in range(validate.MIN_YEAR, validate.MAX_YEAR + 1)}
_PLAIN_IMDB_ID = re.compile("tt[0-9]{7,10}")


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


def read_csv_rows(path: Path, source: str) -> Iterator[Item]:
    """Stream the rows as items ``line:N``: a good row's payload is its DvdAdded event (from
    ``source``, id to be given), a bad row's the reason it is bad."""
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
        rows = _Rows(header, source)
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
            joined = "".join(cells)
            if joined and not joined.isspace():  # not a blank row (isspace: no stripped copy)
                yield Item(f"line:{line}", rows.payload(line, cells, joined))


class _Rows:
    """A file's rows as payloads: the plain row checked by position, any other by ``_row_payload``.

    An import reads hundreds of thousands of rows, nearly all of them plain ASCII with values
    in their usual form; those are checked here without a dict per row. Whatever is unusual
    (non-ASCII, a wrong field count, a value in any other form) goes through the general
    checks, so a refused row's line is the same whichever way it came.
    """

    def __init__(self, header: list[str], source: str) -> None:
        self.header, self.source, self.width = header, source, len(header)
        at = {name: i for i, name in enumerate(header)}  # a name given twice: the last, as dict(zip)
        # An absent column reads the "" that payload() puts past the row's end.
        self.pick = operator.itemgetter(*(at.get(name, len(header)) for name in COLUMNS))

    def payload(self, line: int, cells: list[str], joined: str) -> DvdAdded | str:
        """Row ``line``'s DvdAdded event, or the one-line reason it is refused."""
        # isascii is one flag test: no surrogate-escaped bytes, and isdigit/isprintable mean ASCII's
        if len(cells) == self.width and joined.isascii():
            cells.append("")
            dvd = self._plain(*self.pick(cells))
            cells.pop()
            if dvd is not None:
                return dvd
        values = _row_payload(line, self.header, cells)
        return values if isinstance(values, str) else DvdAdded(dvd_id=0, source=self.source, **values)

    def _plain(self, title: str, year: str, tmdb_id: str, imdb_id: str, cert: str) -> DvdAdded | None:
        """The DVD of ASCII values each valid in its usual form, else None (the general checks decide)."""
        title, year, tmdb_id, imdb_id, cert = title.strip(), year.strip(), tmdb_id.strip(), \
            imdb_id.strip(), cert.strip()
        if not title or len(title) > validate.MAX_TITLE or not title.isprintable():
            return None
        year_number = _PLAIN_YEARS.get(year)
        if year and year_number is None:
            return None
        tmdb_number = int(tmdb_id) if tmdb_id.isdigit() and len(tmdb_id) <= 18 else None
        if tmdb_id and not tmdb_number:  # 18 digits: under SQLite's limit, checked by the general path
            return None
        if imdb_id and _PLAIN_IMDB_ID.fullmatch(imdb_id) is None:
            return None
        if len(cert) > validate.MAX_CERTIFICATION or not cert.isprintable():
            return None
        return DvdAdded(dvd_id=0, source=self.source, title=title, year=year_number, tmdb_id=tmdb_number,
                        imdb_id=imdb_id or None, uk_certification=cert or None)


def _row_payload(line: int, header: list[str], cells: list[str]) -> dict[str, Any] | str:
    """The validated values of a row, or the one-line reason it is refused."""
    if _NOT_UTF8.search("".join(cells)):
        return f"line {line}: bytes that are not UTF-8 text"
    if len(cells) != len(header):
        return f"line {line}: expected {len(header)} fields, found {len(cells)}"
    try:
        return validate.dvd_values(dict(zip(header, cells, strict=True)))
    except BadInputError as exc:
        return f"line {line}: {exc}"
