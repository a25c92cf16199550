"""import FILE.csv and load-sample-data: bad rows by line number, bad files refused whole."""

from __future__ import annotations

import csv
import json
import resource
import sqlite3
import time
from pathlib import Path

import pytest

import tracker
from tests.offline_support import Cli, error_line

HEADER = "title,year,tmdb_id,imdb_id,uk_certification\n"


def _csv(tmp_path: Path, body: bytes | str, name: str = "dvds.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def test_bad_rows_are_reported_by_line_and_skipped_while_good_rows_land(cli: Cli, tmp_path: Path) -> None:
    """Bad rows are reported by line and skipped while good rows land."""
    cli.ok("add", "Already", "--tmdb-id", "603", "--imdb-id", "tt0133093")
    path = _csv(tmp_path, (HEADER
                           + "Fight Club,1999,550,tt0137523, 18 \n"      # 2 good
                           + ",2000,,,\n"                                # 3 no title
                           + "Bad year,19x9,,,\n"                        # 4
                           + "Too,many,cells,,,,\n"                      # 5
                           + '"Two\nlines",2001,,,\n'                    # 6-7: a title with a newline
                           + "Dup tmdb,2002,603,,\n"                     # 8
                           + "Dup imdb,2003,,tt0133093,\n"               # 9
                           + "\n"                                        # 10 blank: ignored
                           + "Dup in file,1999,550,,\n"                  # 11 duplicate of line 2
                           + "Bad imdb,2004,,nm0000001,\n"               # 12
                           + "Short,2005\n").encode() + "Amélie,2001,,,12A\n".encode()
                + "Caf\xe9,2005,,,\n".encode("latin-1") + b"Last,2006,,,\n")  # 13 short, 14 good, 15 latin-1, 16 good
    rc, out, err = cli("import", str(path), "--json")
    assert rc == 1, err
    summary = json.loads(out)
    assert (summary["processed"], summary["updated"], summary["skipped"], summary["failed"]) == (13, 3, 3, 7)
    reasons = {f["item"]: f["reason"] for f in summary["failures"]}
    assert reasons["line:3"] == "line 3: title is empty"
    assert reasons["line:4"] == "line 4: year '19x9' is not a whole number"
    assert reasons["line:5"] == "line 5: expected 5 fields, found 7"
    assert reasons["line:6"] == "line 6: title 'Two\\nlines' contains control characters"
    assert reasons["line:12"] == "line 12: imdb_id 'nm0000001' is not an IMDb id like tt0137523"
    assert reasons["line:13"] == "line 13: expected 5 fields, found 2"
    assert reasons["line:15"] == "line 15: bytes that are not UTF-8 text"
    assert {s["item"]: s["reason"] for s in summary["skips"]} == {
        "line:8": "duplicate: TMDB id 603 is already in the collection",
        "line:9": "duplicate: IMDb id tt0133093 is already in the collection",
        "line:11": "duplicate: TMDB id 550 is already in the collection"}
    dvds = cli.export("dvds")
    assert [(d["title"], d["year"], d["tmdb_id"], d["uk_certification"]) for d in dvds] == [
        ("Already", None, 603, None), ("Fight Club", 1999, 550, "18"), ("Amélie", 2001, None, "12A"),
        ("Last", 2006, None, None)]
    assert len(summary["failures"]) == 7


def test_the_text_summary_names_each_failed_line(cli: Cli, tmp_path: Path) -> None:
    """The text summary names each failed line."""
    path = _csv(tmp_path, HEADER + "Good,1999,,,\n,,,,\nX,abc,,,\n")
    rc, out, _ = cli("import", str(path))
    assert rc == 1
    assert "  failed line:4: year 'abc' is not a whole number" in out.splitlines()
    assert [d["title"] for d in cli.export("dvds")] == ["Good"]


@pytest.mark.parametrize("body, message", [
    (b"", "line 1: the file is empty (expected a header row)"),
    (b"\ntitle\nX\n", "line 1: expected a header row, found an empty line"),
    (b"name,year\nX,1999\n", "line 1: header has no 'title' column (found: name,year)"),
    (b"title,title\nX,Y\n", "line 1: a column is named twice"),
    (b"t\xeftle,year\nX,1999\n", "line 1: not UTF-8 text"),
])
def test_a_bad_file_is_refused_whole_with_exit_2(cli: Cli, tmp_path: Path, body: bytes, message: str) -> None:
    """A bad file is refused whole with exit 2."""
    cli.ok("add", "Heat")
    path = _csv(tmp_path, body)
    rc, out, err = cli("import", str(path))
    assert rc == 2 and out == ""
    assert error_line(err) == f"tracker import: error: {path}: {message}"
    assert cli.count() == 5  # only the add's events


def test_missing_file_and_folder(cli: Cli, tmp_path: Path) -> None:
    """Missing file and folder."""
    for target, message in ((tmp_path / "nope.csv", "no such file"), (tmp_path, "not a file")):
        rc, _, err = cli("import", str(target))
        assert rc == 2 and error_line(err) == f"tracker import: error: {target}: {message}"
    assert not cli.db.exists()


def test_header_only_bom_and_case(cli: Cli, tmp_path: Path) -> None:
    """Header only bom and case."""
    assert cli.json("import", str(_csv(tmp_path, "title\n")))["processed"] == 0
    path = _csv(tmp_path, "\ufeffTitle , YEAR\nBOM film,1999\n", "bom.csv")
    assert cli.json("import", str(path))["updated"] == 1
    assert [(d["title"], d["year"]) for d in cli.export("dvds")] == [("BOM film", 1999)]


def test_an_unreadable_row_fails_alone(cli: Cli, tmp_path: Path) -> None:
    """An unreadable row fails alone."""
    path = tmp_path / "long.csv"
    path.write_text('title,year\nA,1999\n"' + "x" * 200_000 + '",2000\nC,2001\n', encoding="utf-8")
    summary = cli.json("import", str(path))
    assert (summary["updated"], summary["failed"]) == (2, 1)
    assert summary["failures"][0]["item"] == "line:3"
    assert "field larger than field limit" in summary["failures"][0]["reason"]
    assert cli.json("add", "Next")["updated"] == 1  # nothing left half-run to trip later commands


def test_limit_takes_the_first_rows(cli: Cli, tmp_path: Path) -> None:
    """Limit takes the first rows."""
    path = _csv(tmp_path, HEADER + "".join(f"F{i},,,,\n" for i in range(10)))
    assert cli.json("import", str(path), "--limit", "3")["processed"] == 3
    assert [d["title"] for d in cli.export("dvds")] == ["F0", "F1", "F2"]


def test_load_sample_data_twice_adds_nothing_twice(cli: Cli) -> None:
    """Load sample data twice adds nothing twice."""
    first = cli.json("load-sample-data")
    sample = Path(tracker.__file__).parent / "data" / "sample_dvds.csv"
    with sample.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 25 and first["updated"] == len(rows) and first["failed"] == 0
    second = cli.json("load-sample-data")
    assert (second["updated"], second["skipped"]) == (0, len(rows))
    dvds = cli.export("dvds")
    assert [(d["title"], d["year"]) for d in dvds] == [(r["title"], int(r["year"]) if r["year"] else None)
                                                       for r in rows]
    assert cli("load_sample_data", "--json")[0] == 0  # the Django alias
    assert len(cli.export("dvds")) == len(rows)


def _big_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            f.write(f"Film {i},{1950 + i % 70},{i + 1},tt{i + 1:07d},15\n")


def test_a_100000_row_file_is_streamed(cli: Cli, tmp_path: Path) -> None:
    """A 100000 row file is streamed."""
    path = tmp_path / "big.csv"
    _big_csv(path, 100_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    summary = cli.json("import", str(path))
    elapsed = time.monotonic() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert (summary["processed"], summary["updated"], summary["failed"]) == (100_000, 100_000, 0)
    assert elapsed < 60, elapsed
    assert grown_mb < 150, grown_mb  # streamed: the file and the log are never held whole
    conn = sqlite3.connect(cli.db)
    assert conn.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM dvds").fetchone() == (100_000, 1, 100_000)
    conn.close()
