"""Living with the collection against the sandbox: locks, no false changes, matching, identify, --dvd."""

from __future__ import annotations

import json
from pathlib import Path

from tests.catalogue_support import Home


def _ids(home: Home) -> dict[str, int]:
    return {d["title"]: d["id"] for d in home.export("dvds")}


def _dvd(home: Home, dvd_id: int) -> dict:
    code, out, err = home.run("show", str(dvd_id), "--json")
    assert code == 0, err
    return json.loads(out)


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_edited_certificate_survives_a_forced_refresh(home: Home) -> None:
    """edit locks uk_certification: refresh-missing-details --force keeps it, --unlock lets TMDB's back."""
    home.summary("add", "Toy Story", "--year", "1995", "--tmdb-id", "862")
    home.summary("refresh-missing-details")
    assert home.export("dvds")[0]["uk_certification"] == "PG"
    home.summary("edit", "1", "--uk-certification", "U")
    forced = home.summary("refresh-missing-details", "--force")
    assert (forced["processed"], forced["updated"]) == (1, 0)
    (dvd,) = home.export("dvds")
    assert (dvd["uk_certification"], dvd["locked_fields"]) == ("U", ["uk_certification"])
    home.summary("edit", "1", "--unlock", "uk_certification")
    again = home.summary("refresh-missing-details", "--force")
    assert again["updated"] == 1
    assert home.export("dvds")[0]["uk_certification"] == "PG"


def test_force_twice_changes_nothing_the_second_time(home: Home) -> None:
    """A second --force with nothing changed at TMDB: 0 updated, no details event, lists compared as lists."""
    home.summary("add", "Toy Story", "--year", "1995", "--tmdb-id", "862")
    home.summary("add", "Inception", "--year", "2010", "--tmdb-id", "27205")
    first = home.summary("refresh-missing-details", "--force")
    assert first["updated"] == 2
    details = len(home.events("DvdDetailsRefreshed"))
    code, out, _ = home.run("refresh-missing-details", "--force", "--verbose")
    assert code == 0
    assert sorted(line for line in out.splitlines() if line.startswith("dvd:")) == [
        "dvd:1 (Toy Story): skipped (no change)", "dvd:2 (Inception): skipped (no change)"]
    assert [line for line in out.splitlines() if line.startswith("  updated")] == ["  updated          0"]
    assert len(home.events("DvdDetailsRefreshed")) == details


def test_a_normalized_certificate_is_not_turned_back(home: Home) -> None:
    """After normalize-uk-certifications, a refresh keeps "pg" (equal to TMDB's "PG" ignoring case)."""
    home.summary("add", "Toy Story", "--year", "1995", "--tmdb-id", "862")
    home.summary("refresh-missing-details")
    home.summary("normalize-uk-certifications")
    forced = home.summary("refresh-missing-details", "--force")
    assert forced["updated"] == 0
    assert home.export("dvds")[0]["uk_certification"] == "pg"


def test_history_of_a_field_names_each_command_in_order(home: Home) -> None:
    """history --dvd N --field uk_certification: add, refresh, normalize, edit, one line each."""
    home.summary("add", "Toy Story", "--year", "1995", "--tmdb-id", "862", "--uk-certification", "u")
    home.summary("refresh-missing-details")
    home.summary("normalize-uk-certifications")
    home.summary("edit", "1", "--uk-certification", "U")
    code, out, _ = home.run("history", "--dvd", "1", "--field", "uk_certification")
    assert code == 0
    assert [line.split()[2:] for line in out.splitlines()] == [
        ["add", "dvd:1", "uk_certification:", "-", "->", '"u"'],
        ["refresh-missing-details", "dvd:1", "uk_certification:", '"u"', "->", '"PG"'],
        ["normalize-uk-certifications", "dvd:1", "uk_certification:", '"PG"', "->", '"pg"'],
        ["edit", "dvd:1", "uk_certification:", '"pg"', "->", '"U"']]


def test_amelie_and_matrix_match_and_the_dated_dune_keeps_its_id(home: Home, tmp_path: Path) -> None:
    """Accents and articles fold; an undated Dune never takes the id the dated Dune 2021 row needs."""
    path = _csv(tmp_path / "messy.csv", "title,year\nDune,\nAmelie,2001\nMatrix,\nDune,2021\n\"matrix, the\",1999\n")
    summary = home.summary("import", str(path))
    assert summary["updated"] == 5
    result = home.summary("match-tmdb-ids")
    assert (result["updated"], result["skipped"], result["failed"]) == (3, 2, 0)
    by_id = {d["id"]: d["tmdb_id"] for d in home.export("dvds")}
    assert by_id == {1: None, 2: 194, 3: None, 4: 438631, 5: 603}
    reasons = {s["item"]: s["reason"] for s in result["skips"]}
    assert reasons["dvd:1"] == ("duplicate: TMDB id 438631 is already DVD 4 (Dune, 2021); if they are one "
                                "DVD, tracker merge 4 1")
    assert reasons["dvd:3"].startswith("duplicate: TMDB id 603 is already DVD 5 ")


def test_no_match_fails_naming_candidates_then_identify_settles_it(home: Home) -> None:
    """A title TMDB has only in other years fails with candidates; identify lists them and sets one, locked."""
    home.summary("add", "Solaris", "--year", "1999")
    result = home.summary("match-tmdb-ids", rc=1)
    assert result["failures"] == [{"item": "dvd:1", "reason": (
        "no TMDB title equal to 'Solaris' (1999); candidates: Solaris (1972, TMDB 593); "
        "Solaris (2002, TMDB 2103)")}]
    code, out, _ = home.run("identify", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "TMDB candidates for DVD 1: Solaris (1999)"
    assert lines[-1] == "set one with: tracker identify 1 --tmdb-id 593"
    code, out, _ = home.run("identify", "1", "--json")
    assert code == 0
    assert [(c["tmdb_id"], c["title"], c["year"]) for c in json.loads(out)] == [
        (593, "Solaris", 1972), (2103, "Solaris", 2002)]
    code, out, _ = home.run("identify", "1", "--tmdb-id", "2103")
    assert code == 0
    assert "next: tracker refresh-missing-details --dvd 1 fills the details of TMDB 2103" in out.splitlines()
    assert _dvd(home, 1)["locked_fields"] == ["tmdb_id"]
    assert home.summary("match-tmdb-ids")["processed"] == 0
    home.summary("refresh-missing-details")
    assert home.export("dvds")[0]["uk_certification"] == "12A"


def test_identify_clears_the_details_of_the_old_id(home: Home) -> None:
    """identify with another id clears the old film's details (not locked ones); the next refresh fills them."""
    home.summary("add", "Dune", "--year", "1984", "--tmdb-id", "438631")
    home.summary("refresh-missing-details")
    home.summary("edit", "1", "--tagline", "A beginning")
    home.summary("identify", "1", "--tmdb-id", "841")
    dvd = _dvd(home, 1)
    held = (dvd["tmdb_id"], dvd["director"], dvd["uk_certification"], dvd["tagline"])
    assert held == (841, None, None, "A beginning")
    assert home.summary("refresh-missing-details")["updated"] == 1
    dvd = _dvd(home, 1)
    assert (dvd["director"], dvd["uk_certification"], dvd["tagline"]) == ("David Lynch", "PG", "A beginning")


def test_dvd_narrows_every_network_command(home: Home) -> None:
    """--dvd ID (repeatable) works on just those DVDs; an id not in the collection is exit 2."""
    for title, year in (("Fight Club", "1999"), ("Alien", "1979"), ("Heat", "1995"), ("Se7en", "1995")):
        home.summary("add", title, "--year", year)
    assert home.summary("match-tmdb-ids", "--dvd", "2", "--dvd", "4")["processed"] == 2
    assert [d["id"] for d in home.export("dvds") if d["tmdb_id"]] == [2, 4]
    assert home.summary("populate-imdb-ids", "--dvd", "4")["processed"] == 1
    assert home.summary("refresh-missing-details", "--dvd", "2")["processed"] == 1
    home.summary("populate-imdb-ids")
    assert home.summary("refresh-torrent-data", "--dvd", "4")["processed"] == 1
    checked = [d["id"] for d in home.export("dvds") if d["torrents_checked_at"]]
    assert checked == [4]
    before = home.count()
    code, out, err = home.run("refresh-torrent-data", "--dvd", "9")
    assert code == 2 and out == ""
    assert err.strip() == "tracker refresh-torrent-data: error: --dvd: no DVD 9 in the collection"
    assert home.count() == before


def test_a_locked_empty_tmdb_id_stops_matching(home: Home) -> None:
    """edit --lock tmdb_id on an unmatched DVD: match-tmdb-ids leaves it alone until --unlock."""
    home.summary("add", "Solaris", "--year", "1999")
    home.summary("edit", "1", "--lock", "tmdb_id")
    assert home.summary("match-tmdb-ids")["processed"] == 0
    home.summary("edit", "1", "--unlock", "tmdb_id")
    assert home.summary("match-tmdb-ids", rc=1)["failed"] == 1


def test_an_id_held_since_an_earlier_run_is_named_with_its_dvd(home: Home) -> None:
    """A DVD matching an id another DVD got in an earlier run is skipped, naming that DVD and the merge."""
    home.summary("add", "Dune", "--year", "2021")
    assert home.summary("match-tmdb-ids")["updated"] == 1
    home.summary("add", "Dune")
    result = home.summary("match-tmdb-ids")
    assert result["skips"] == [{"item": "dvd:2", "reason": (
        "duplicate: TMDB id 438631 is already DVD 1 (Dune, 2021); if they are one DVD, tracker merge 1 2")}]
