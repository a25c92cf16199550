"""The CSV rows' fast path: whatever it accepts or refuses, the payload is the general checks'."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from events.types import DvdAdded
from tracker.commands.csv_rows import COLUMNS, _row_payload, _Rows, read_csv_rows

# Characters that make the general checks speak: digits and signs for numbers, "t" for IMDb
# ids, spaces and tabs to trim, controls, zero-width and bidi marks, non-ASCII digits and
# letters, and a surrogate-escaped byte (what a file's non-UTF-8 bytes read as).
ODD = st.text(st.sampled_from("0123456789tT +-_ \t\x00\x1f\x7f\u200b\u202e\u0661\u00e9\udcff"),
              max_size=14)
PLAIN = st.sampled_from(["", "Film 1", " 1999 ", "1999", "1869", "2101", "0", "550", "tt0137523",
                         "tt012345", "tt01234567890", "12A", " 15 ", "R18 and more", "-5", "+7"])
CELL = st.one_of(PLAIN, ODD)
HEADERS = st.permutations([*COLUMNS, "notes"]).flatmap(
    lambda names: st.integers(1, len(names)).map(lambda n: [h for h in names[:n]] if "title" in names[:n]
                                                   else ["title", *names[:n]]))


def _general(line: int, header: list[str], cells: list[str]) -> DvdAdded | str:
    """What the general checks alone make of a row."""
    values = _row_payload(line, header, cells)
    return values if isinstance(values, str) else DvdAdded(dvd_id=0, source="import", **values)


@settings(max_examples=600, deadline=None)
@given(header=HEADERS, cells=st.lists(CELL, min_size=1, max_size=7))
@example(header=list(COLUMNS), cells=["Film 1", "1999", "550", "tt0137523", "12A"])
@example(header=list(COLUMNS), cells=["Film 1", "01999", "0550", " tt0137523 ", ""])
@example(header=list(COLUMNS), cells=["Film 1", "1999", "9" * 19, "tt0137523", "12"])
@example(header=list(COLUMNS), cells=["Film 1", "1999", "550", "", "12345678901"])
@example(header=list(COLUMNS), cells=["Film\x7f1", "1999", "550", "", ""])
@example(header=list(COLUMNS), cells=["x" * 501, "", "", "", ""])
@example(header=list(COLUMNS), cells=["Film 1", "2101", "", "", ""])
@example(header=list(COLUMNS), cells=["Film 1", "", "0", "", ""])
@example(header=list(COLUMNS), cells=["Film 1", "1869", "", "", ""])
@example(header=list(COLUMNS), cells=["Film 1", "", "", "tt012345", ""])
def test_a_row_reads_the_same_by_the_fast_path_as_by_the_general_checks(header: list[str],
                                                                        cells: list[str]) -> None:
    """Any row (odd cells, any column order, absent or extra columns) gives the general checks' payload."""
    rows = _Rows(header, "import")
    assert rows.payload(7, list(cells), "".join(cells)) == _general(7, header, cells)


def test_a_plain_row_takes_the_fast_path_and_keeps_its_cells() -> None:
    """A plain row is read without the general checks, and its cells are left as they were."""
    header = ["notes", "uk_certification", "title", "year"]
    cells = ["anything", " 15 ", " Oldboy ", "2003"]
    rows = _Rows(header, "import")
    assert rows._plain(*rows.pick([*cells, ""])) == DvdAdded(
        dvd_id=0, source="import", title="Oldboy", year=2003, uk_certification="15")
    kept = list(cells)
    assert rows.payload(2, kept, "".join(kept)) == _general(2, header, cells)
    assert kept == cells


def test_rows_of_blank_cells_are_no_items_and_others_keep_their_line(tmp_path: Path) -> None:
    """Rows of only whitespace (tab, NBSP, ideographic space, \\x1f) are skipped; lines still count."""
    path = tmp_path / "dvds.csv"
    path.write_text("title,year\n , \t\n\u00a0,\u3000\n\x1f,\nOldboy,2003\n\x00,\n", encoding="utf-8")
    items = list(read_csv_rows(path, "import"))
    assert [i.key for i in items] == ["line:5", "line:6"]
    assert items[0].payload == DvdAdded(dvd_id=0, source="import", title="Oldboy", year=2003)
    assert items[1].payload == "line 6: title '\\x00' contains control characters"
