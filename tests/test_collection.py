"""Living with the collection offline: list, show, edit and locks, remove, merge, add, import."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.offline_support import Cli, error_line


def _csv(tmp_path: Path, text: str, name: str = "dvds.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _moment(cli: Cli) -> str:
    """The newest event's time, with pauses so events before and after are strictly apart."""
    time.sleep(0.01)
    at = json.loads(cli.ok("history", "--json", "--limit", "1"))["at"]
    time.sleep(0.01)
    return at


def _dvd(cli: Cli, dvd_id: int) -> dict:
    return json.loads(cli.ok("show", str(dvd_id), "--json"))


def test_add_prints_the_new_id_and_refuses_the_same_title_and_year(cli: Cli) -> None:
    """add prints the new id (text and --json); the same title and year again is exit 2 unless --allow-duplicate."""
    out = cli.ok("add", "Oldboy", "--year", "2003")
    assert out.splitlines()[0] == "added DVD 1: Oldboy (2003)"
    assert cli.json("add", "Heat")["id"] == 2
    before = cli.count()
    rc, out, err = cli("add", "oldboy", "--year", "2003")
    assert rc == 2 and out == ""
    assert error_line(err) == ("tracker add: error: DVD 1 is already Oldboy (2003); "
                               "add --allow-duplicate to add a second copy")
    assert cli.count() == before
    assert cli.json("add", "Oldboy", "--year", "2003", "--allow-duplicate")["id"] == 3
    assert cli.json("add", "Oldboy", "--year", "2004")["id"] == 4  # another year is another film
    assert [d["id"] for d in cli.export("dvds")] == [1, 2, 3, 4]


def test_import_reads_semicolons_and_tabs_and_ignores_unknown_columns(cli: Cli, tmp_path: Path) -> None:
    """import detects ; and tab separators and ignores unknown columns with one warning naming them."""
    semi = _csv(tmp_path, "Title;Year;Notes;uk_certification;Shelf\nAmélie;2001;lovely;15;A3\n"
                          "Crouching Tiger, Hidden Dragon;2000;;12;\n", "semi.csv")
    rc, out, _ = cli("import", str(semi))
    assert rc == 0
    warnings = [line for line in out.splitlines() if "warning" in line]
    assert warnings == ["  warning: ignored unknown columns 'notes', 'shelf' "
                        "(known: title,year,tmdb_id,imdb_id,uk_certification)"]
    tabbed = _csv(tmp_path, "title\tyear\ttmdb_id\nHeat\t1995\t949\n", "tab.tsv")
    summary = cli.json("import", str(tabbed))
    assert summary["updated"] == 1 and "warnings" not in summary
    dvds = cli.export("dvds")
    assert [(d["title"], d["year"], d["tmdb_id"], d["uk_certification"]) for d in dvds] == [
        ("Amélie", 2001, None, "15"), ("Crouching Tiger, Hidden Dragon", 2000, None, "12"),
        ("Heat", 1995, 949, None)]


def test_list_shows_searches_and_finds_what_is_missing(cli: Cli) -> None:
    """list prints the table, --search folds accents and articles, --missing and --limit narrow it."""
    cli.ok("add", "Amélie", "--year", "2001", "--uk-certification", "15")
    cli.ok("add", "The Matrix", "--year", "1999", "--tmdb-id", "603")
    cli.ok("add", "Heat", "--year", "1995")
    lines = cli.ok("list").splitlines()
    assert lines[0].split() == ["id", "title", "year", "tmdb_id", "imdb_id", "certificate", "director", "torrents"]
    assert lines[1].split() == ["1", "Amélie", "2001", "15", "-"]
    assert lines[-1] == "3 DVDs"
    assert [r["id"] for r in json.loads(cli.ok("list", "--search", "amelie", "--json"))] == [1]
    assert [r["id"] for r in json.loads(cli.ok("list", "--search", "the matrix", "--json"))] == [2]
    assert [r["id"] for r in json.loads(cli.ok("list", "--missing", "tmdb_id", "--json"))] == [1, 3]
    assert cli.ok("list", "--limit", "1").splitlines()[-1] == "3 DVDs (first 1 shown, 2 more)"
    rc, _, err = cli("list", "--missing", "colour")
    assert rc == 2 and error_line(err).startswith("tracker list: error: --missing: 'colour' is not a DVD field")


def test_edit_sets_and_locks_fields_and_unlock_frees_them(cli: Cli) -> None:
    """edit sets fields and locks them; --lock/--unlock change locks only; show and export list them."""
    cli.ok("add", "Heat", "--year", "1995", "--uk-certification", "18")
    out = cli.ok("edit", "1", "--uk-certification", "15", "--director", "Michael Mann")
    assert out.splitlines()[0] == ('dvd:1: updated  uk_certification: "18" -> "15"; director: - -> '
                                   '"Michael Mann"; locked_fields: [] -> ["director","uk_certification"]')
    assert cli.export("dvds")[0]["locked_fields"] == ["director", "uk_certification"]
    cli.ok("edit", "1", "--unlock", "director", "--lock", "year")
    dvd = _dvd(cli, 1)
    assert (dvd["uk_certification"], dvd["director"]) == ("15", "Michael Mann")
    assert dvd["locked_fields"] == ["uk_certification", "year"]
    text = cli.ok("show", "1")
    assert "  uk_certification       15  (locked)" in text.splitlines()
    assert "  locked_fields          uk_certification, year" in text.splitlines()
    again = cli.json("edit", "1", "--uk-certification", "15")
    assert (again["updated"], again["skipped"]) == (0, 1)  # same value, already locked


@pytest.mark.parametrize("args, message", [
    (("edit", "9", "--year", "2000"), "no DVD 9 in the collection (tracker list shows the ids)"),
    (("edit", "1"), "nothing to edit: give a field (--title, --year, ...) or --lock / --unlock FIELD"),
    (("edit", "1", "--year", "20x0"), "year '20x0' is not a whole number"),
    (("edit", "1", "--title", " "), "title is empty"),
    (("edit", "1", "--year", "2000", "--unlock", "year"), "--unlock year: that field is also set or locked here"),
    (("edit", "1", "--tmdb-id", "550"), "TMDB id 550 is already DVD 2; if they are the same film, tracker merge 2 1"),
    (("remove", "7"), "no DVD 7 in the collection (tracker list shows the ids)"),
    (("merge", "1", "1"), "cannot merge DVD 1 with itself"),
    (("merge", "1", "8"), "no DVD 8 in the collection (tracker list shows the ids)"),
])
def test_bad_edits_are_refused_with_exit_2_and_nothing_written(cli: Cli, args: tuple, message: str) -> None:
    """A wrong id, value or combination is one line, exit 2, nothing appended."""
    cli.ok("add", "Heat", "--year", "1995")
    cli.ok("add", "Fight Club", "--tmdb-id", "550")
    before = cli.count()
    rc, out, err = cli(*args)
    assert rc == 2 and out == ""
    assert error_line(err) == f"tracker {args[0]}: error: {message}"
    assert cli.count() == before


def test_remove_keeps_history_and_the_past(cli: Cli) -> None:
    """A removed DVD leaves exports and list, stays in export --as-of before it, in show and history."""
    cli.ok("add", "Heat", "--year", "1995")
    cli.ok("add", "Alien", "--year", "1979")
    before = _moment(cli)
    out = cli.ok("remove", "1")
    assert "DVD 1 removed: tracker show 1 and tracker history --dvd 1 still find it" in out.splitlines()
    assert [d["id"] for d in cli.export("dvds")] == [2]
    assert [d["title"] for d in cli.export("dvds", "--as-of", before)] == ["Heat", "Alien"]
    assert "Heat" not in cli.ok("list")
    assert "  removed at " in cli.ok("show", "1")
    lines = cli.ok("history", "--dvd", "1").splitlines()
    assert lines[-1].split()[2:] == ["remove", "dvd:1", "removed:", "no", "->", "yes"]
    rc, _, err = cli("remove", "1")
    assert rc == 2 and "DVD 1 was removed at " in err
    assert cli.json("add", "Ran")["id"] == 3  # a removed DVD's id is never given again


def test_merge_fills_empty_fields_and_removes_the_other(cli: Cli) -> None:
    """merge KEEP DROP: DROP's values fill KEEP's empty ones (its locks come along), DROP is removed."""
    cli.ok("add", "Dune", "--year", "2021")
    cli.ok("add", "Dune", "--tmdb-id", "438631", "--uk-certification", "12A")
    cli.ok("edit", "2", "--director", "Denis Villeneuve")
    out = cli.ok("merge", "1", "2")
    assert out.splitlines()[0].startswith("dvd:1: updated  tmdb_id: - -> 438631; ")
    (dune,) = cli.export("dvds")
    assert (dune["id"], dune["year"], dune["tmdb_id"], dune["uk_certification"], dune["director"]) == (
        1, 2021, 438631, "12A", "Denis Villeneuve")
    assert dune["locked_fields"] == ["director"]
    assert _dvd(cli, 2)["merged_into"] == 1
    text = cli.ok("history", "--dvd", "2").splitlines()
    assert text[-1].endswith("merge                        dvd:2        removed: no -> yes (merged into DVD 1)")


def test_history_for_people_field_limit_and_unknown_ids(cli: Cli) -> None:
    """history prints one line per change with the command's name; --field, --limit, --json; unknown ids exit 2."""
    cli.ok("add", "Heat", "--uk-certification", "12A")
    cli.ok("normalize-uk-certifications")
    cli.ok("edit", "1", "--uk-certification", "15", "--year", "1995")
    lines = cli.ok("history", "--dvd", "1", "--field", "uk_certification").splitlines()
    assert [line.split()[2:] for line in lines] == [
        ["add", "dvd:1", "uk_certification:", "-", "->", '"12A"'],
        ["normalize-uk-certifications", "dvd:1", "uk_certification:", '"12A"', "->", '"12a"'],
        ["edit", "dvd:1", "uk_certification:", '"12a"', "->", '"15"']]
    newest = cli.ok("history", "--dvd", "1", "--limit", "2").splitlines()
    assert [line.split()[4] for line in newest] == ["locked_fields:", "uk_certification:"]
    out = cli.ok("history", "--dvd", "1", "--json", "--field", "uk_certification")
    events = [json.loads(x) for x in out.splitlines()]
    assert [e["command"] for e in events] == ["add", "normalize-uk-certifications", "normalize-uk-certifications",
                                              "edit", "edit", "edit"]
    assert [e["type"] for e in events][:3] == ["DvdAdded", "DvdUkCertificationNormalized", "ItemProcessed"]
    for args, message in ((("--dvd", "5"), "--dvd: no DVD 5 (tracker list shows the ids)"),
                          (("--command", "abc"), "--command: no command 'abc' (tracker status shows recent ones)")):
        rc, out, err = cli("history", *args)
        assert rc == 2 and out == "" and error_line(err) == f"tracker history: error: {message}"


def test_dry_runs_show_the_change_and_write_nothing(cli: Cli) -> None:
    """edit, remove and merge with --dry-run print what would change and append nothing."""
    cli.ok("add", "Heat", "--year", "1995")
    cli.ok("add", "Heat (1995)", "--uk-certification", "18")
    before = cli.count()
    for args, shown in ((("edit", "1", "--uk-certification", "15"), 'dvd:1: updated  uk_certification: - -> "15"'),
                        (("remove", "2"), "dvd:2: updated  removed: no -> yes"),
                        (("merge", "1", "2"), 'dvd:1: updated  uk_certification: - -> "18"')):
        out = cli.ok(*args, "--dry-run")
        assert out.splitlines()[0].startswith(shown), out
        assert "dry run, nothing was written" in out
    summary = cli.json("edit", "1", "--year", "1996", "--dry-run")
    assert (summary["dry_run"], summary["updated"]) == (True, 1)
    assert cli.count() == before
    assert [(d["id"], d["year"], d["uk_certification"]) for d in cli.export("dvds")] == [
        (1, 1995, None), (2, None, "18")]


def test_a_merged_dvd_is_in_exports_before_the_merge(cli: Cli) -> None:
    """export --as-of before a merge still shows the dropped DVD; after it, only the kept one."""
    cli.ok("add", "Ran", "--year", "1985")
    cli.ok("add", "Ran", "--tmdb-id", "11645")
    before = _moment(cli)
    cli.ok("merge", "1", "2")
    assert [(d["id"], d["tmdb_id"]) for d in cli.export("dvds", "--as-of", before)] == [(1, None), (2, 11645)]
    assert [(d["id"], d["tmdb_id"]) for d in cli.export("dvds")] == [(1, 11645)]
    assert cli.ok("verify").startswith("verify: ok")


def test_identify_without_credentials_is_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """identify (listing or setting) needs TMDB credentials: exit 2 and one line, nothing written."""
    monkeypatch.delenv("TMDB_API_KEY", raising=False)
    monkeypatch.delenv("TMDB_ACCESS_TOKEN", raising=False)
    cli.ok("add", "Heat")
    before = cli.count()
    for args in (("identify", "1"), ("identify", "1", "--tmdb-id", "949")):
        rc, out, err = cli(*args)
        assert rc == 2 and out == ""
        assert error_line(err).startswith("tracker identify: error: no TMDB credentials")
    assert cli.count() == before


def test_history_of_an_add_shows_each_field_once(cli: Cli) -> None:
    """add's fields are shown once, under the new DVD, between its request and its end."""
    command_id = cli.json("add", "Heat", "--year", "1995")["command_id"]
    lines = cli.ok("history", "--command", command_id).splitlines()
    assert [line.split(None, 3)[3] for line in lines] == [
        '-            requested title="Heat" year=1995',
        'dvd:1        title: - -> "Heat"',
        "dvd:1        year: - -> 1995",
        "-            completed: processed 1, updated 1, skipped 0, failed 0"]
