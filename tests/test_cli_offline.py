"""The offline commands through the CLI: add, dry runs, certifications, posters, badges, usage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tracker
from events import types as et
from tests.offline_support import Cli, error_line
from tracker.cli.help_text import commands_with_examples
from tracker.cli.main import command_names
from tracker.commands.badges import BADGES
from tracker.db import Database

SAMPLE = Path(tracker.__file__).parent / "data" / "sample_dvds.csv"
OFFLINE = ("add", "import", "load-sample-data", "normalize-uk-certifications", "cleanup-unused-posters",
           "create-initial-badges")


def _record(cli: Cli, *events: et.Event) -> None:
    with Database(cli.db) as db:
        db.record(list(events))


def test_add_with_every_flag(cli: Cli) -> None:
    """Add with every flag."""
    summary = cli.json("add", "  Fight Club ", "--year", "1999", "--tmdb-id", "550", "--imdb-id", "tt0137523",
                       "--uk-certification", " 18 ")
    assert (summary["command"], summary["processed"], summary["updated"], summary["failed"]) == ("add", 1, 1, 0)
    assert summary["dry_run"] is False and len(summary["command_id"]) >= 8
    dvd, = cli.export("dvds")
    assert {k: dvd[k] for k in ("id", "title", "year", "tmdb_id", "imdb_id", "uk_certification", "poster",
                                "torrents")} == {
        "id": 1, "title": "Fight Club", "year": 1999, "tmdb_id": 550, "imdb_id": "tt0137523",
        "uk_certification": "18", "poster": None, "torrents": None}
    assert dvd["added_at"].endswith("Z")
    added = [e for e in cli.events() if e[1] == "DvdAdded"]
    assert added[0][2] == summary["command_id"]  # traced to the command that caused it


def test_add_duplicate_is_skipped_with_its_reason(cli: Cli) -> None:
    """Add duplicate is skipped with its reason."""
    cli.ok("add", "Fight Club", "--tmdb-id", "550")
    cli.ok("add", "Se7en", "--imdb-id", "tt0114369")
    by_tmdb = cli.json("add", "Fight Club (again)", "--tmdb-id", "550")
    by_imdb = cli.json("add", "Seven", "--imdb-id", "tt0114369")
    assert (by_tmdb["updated"], by_tmdb["skipped"]) == (0, 1)
    assert by_tmdb["skips"] == [{"item": "add", "reason": "duplicate: TMDB id 550 is already in the collection"}]
    assert by_imdb["skips"][0]["reason"] == "duplicate: IMDb id tt0114369 is already in the collection"
    assert [d["title"] for d in cli.export("dvds")] == ["Fight Club", "Se7en"]


@pytest.mark.parametrize("args, message", [
    (("add",), "tracker add: error: the following arguments are required: title"),
    (("add", "  "), "tracker add: error: title is empty"),
    (("add", "X", "--year", "1800"), "tracker add: error: year 1800 is outside 1870-2100"),
    (("add", "X", "--year", "20x"), "tracker add: error: year '20x' is not a whole number"),
    (("add", "X", "--tmdb-id", "0"), "tracker add: error: tmdb_id 0 must be greater than 0"),
    (("add", "X", "--tmdb-id", "abc"), "tracker add: error: tmdb_id 'abc' is not a whole number"),
    (("add", "X", "--imdb-id", "12345"), "tracker add: error: imdb_id '12345' is not an IMDb id like tt0137523"),
    (("add", "X", "--uk-certification", "12345678901"),
     "tracker add: error: uk_certification '12345678901' is longer than 10 characters"),
    (("add", "X" * 501), "tracker add: error: title is longer than 500 characters"),
    (("frobnicate",), None),
    (("import", "x.csv", "--limit", "0"), "tracker import: error: argument --limit: '0' must be greater than 0"),
    (("import", "x.csv", "--limit", "x"), "tracker import: error: argument --limit: 'x' is not a whole number"),
    (("normalize-uk-certifications", "--limit", "-3"),
     "tracker normalize-uk-certifications: error: argument --limit: '-3' must be greater than 0"),
    (("export", "users"), None),
    (("export", "dvds", "--format", "xml"), None),
    (("history", "--since", "yesterday"),
     "tracker history: error: --since: 'yesterday' is not an ISO 8601 time such as 2026-11-22T10:00:00Z"),
    (("history", "--dvd", "one"), None),
])
def test_bad_usage_is_one_line_exit_2_and_writes_nothing(cli: Cli, args: tuple[str, ...], message: str | None) -> None:
    """Bad usage is one line exit 2 and writes nothing."""
    cli.ok("add", "Alien")
    before = cli.snapshot()
    rc, out, err = cli(*args)
    assert rc == 2 and out == ""
    line = error_line(err)
    if message is None:
        assert line.startswith(f"tracker{' ' + args[0] if args[0] != 'frobnicate' else ''}: error: ")
    else:
        assert line == message
    assert cli.snapshot() == before


def test_bad_input_on_a_fresh_home_creates_nothing(cli: Cli) -> None:
    """Bad input on a fresh home creates nothing."""
    rc, _, err = cli("add", "X", "--year", "abc")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and not cli.home.exists()


def test_every_command_and_alias_has_help(cli: Cli) -> None:
    """Every command and alias has help."""
    names = command_names()
    for name in OFFLINE:
        assert (name in names and name.replace("-", "_") in names) or "-" not in name
    for name in ("history", "replay", "verify", "export", "status", "cancel", "badges"):
        assert name in names
    for name in names:
        rc, out, err = cli(name, "--help")
        assert rc == 0 and err == "", name
        assert out.startswith("usage: tracker ") and "--home" in out, name
        canonical = name.replace("_", "-")
        if canonical in OFFLINE:
            for flag in ("--dry-run", "--verbose", "--json"):
                assert flag in out, (name, flag)
    assert "--limit" in cli("import", "--help")[1]


def _option_entries(help_text: str) -> list[str]:
    """Each option of a --help text with its description, continuation lines joined."""
    entries: list[str] = []
    for line in help_text.split("\noptions:\n")[1].splitlines():
        if line.startswith("  -"):
            entries.append(line.strip())
        elif entries and line.startswith("    "):
            entries[-1] += " " + line.strip()
    return entries


def test_every_command_help_ends_with_examples_and_states_defaults(cli: Cli) -> None:
    """Each command's --help ends with an examples section of tracker lines, and every option says its default."""
    canonical = [n for n in command_names() if "_" not in n]
    assert sorted(commands_with_examples()) == sorted(canonical)
    for name in canonical:
        rc, out, _ = cli(name, "--help")
        head, _, examples = out.partition("\nexamples:\n")
        lines = examples.splitlines()
        assert rc == 0 and 1 <= len(lines) <= 3, name
        assert all(line.startswith(f"  tracker {name}") or line.startswith("  tracker status") for line in lines), name
        for option in _option_entries(head):
            assert "default" in option or option.startswith("-h, --help"), (name, option)


def test_demo_help_says_where_the_demo_home_goes(cli: Cli) -> None:
    """demo --help says it builds in a new temporary folder, not in $TRACKER_HOME."""
    out = " ".join(cli.ok("demo", "--help").split())
    assert "--home DIR where to build the demo's data (default: a new temporary folder" in out
    assert "$TRACKER_HOME is not used" in out


def test_importing_the_cli_loads_no_network_code() -> None:
    """Importing tracker.cli.main loads neither aiohttp nor any client or command module."""
    probe = ("import sys, tracker.cli.main; "
             "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'aiofiles', "
             "'aiolimiter', 'structlog') or m.startswith(('tracker.clients.', 'tracker.commands.', "
             "'tracker.engine')))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


@pytest.mark.parametrize("before", [("--log-level", "info"), ("--log-format", "json", "--log-level", "warning"),
                                    ("--log-l", "error")])
def test_global_options_with_values_before_the_command(cli: Cli, before: tuple[str, ...]) -> None:
    """Global options whose values are separate words (--log-level info) may come before the command."""
    rc, out, err = cli(*before, "add", "Heat", "--year", "1995")
    assert rc == 0, err
    assert out.startswith("added DVD 1: Heat (1995)")
    assert [(d["title"], d["year"]) for d in cli.export("dvds")] == [("Heat", 1995)]


def test_no_command_prints_usage_and_exits_2(cli: Cli) -> None:
    """No command prints usage and exits 2."""
    rc, _, err = cli()
    assert rc == 2 and err.startswith("usage: tracker")


def _populated(cli: Cli) -> None:
    """A collection with certificates to normalise, posters on disk (one used), no badges yet."""
    cli.ok("add", "Heat", "--uk-certification", "15", "--tmdb-id", "949")
    cli.ok("add", "Shrek", "--uk-certification", "U")
    cli.ok("add", "Alien", "--uk-certification", "PG")
    posters = cli.home / "media" / "posters"
    posters.mkdir(parents=True)
    for name in ("used.jpg", "old1.jpg", "old2.jpg"):
        (posters / name).write_bytes(name.encode())
    _record(cli, et.DvdPosterSaved(dvd_id=1, poster="media/posters/used.jpg"),
            et.DvdDetailsRefreshed(dvd_id=2, uk_certification="12A"))


@pytest.mark.parametrize("args, updated", [
    (("add", "Ran", "--year", "1985"), 1),
    (("add", "Heat again", "--tmdb-id", "949"), 0),
    (("import", "CSV"), 2),
    (("load-sample-data",), "SAMPLE"),
    (("normalize-uk-certifications",), 2),
    (("normalize-uk-certifications", "--limit", "1"), 1),
    (("cleanup-unused-posters",), 2),
    (("create-initial-badges",), len(BADGES)),
])
def test_dry_run_changes_nothing_and_counts_what_would_change(cli: Cli, tmp_path: Path, args: tuple[str, ...],
                                                              updated: int | str) -> None:
    """Dry run changes nothing and counts what would change."""
    _populated(cli)
    csv = tmp_path / "new.csv"
    csv.write_text("title,year\nRan,1985\nKagemusha,1980\n", encoding="utf-8")
    args = tuple(str(csv) if a == "CSV" else a for a in args)
    if updated == "SAMPLE":
        updated = len(SAMPLE.read_text(encoding="utf-8").splitlines()) - 1  # every film is new here

    before = cli.snapshot()
    rc, out, err = cli(*args, "--dry-run", "--json")
    summary = json.loads(out)
    assert rc == 0, err
    assert summary["dry_run"] is True and summary["updated"] == updated
    assert cli.snapshot() == before
    # ...and the same command for real changes exactly what the dry run counted.
    real = cli.json(*args)
    assert real["updated"] == updated and real["dry_run"] is False


def test_dry_run_verbose_shows_field_changes(cli: Cli) -> None:
    """Dry run verbose shows field changes."""
    _populated(cli)
    out = cli.ok("normalize-uk-certifications", "--dry-run", "--verbose")
    assert 'dvd:2: updated  uk_certification: "12A" -> "12a"' in out
    assert "dry run, nothing was written" in out


def test_normalize_uk_certifications(cli: Cli) -> None:
    """Normalize uk certifications."""
    _populated(cli)
    summary = cli.json("normalize-uk-certifications")
    assert (summary["processed"], summary["updated"], summary["failed"]) == (2, 2, 0)
    assert [d["uk_certification"] for d in cli.export("dvds")] == ["15", "12a", "pg"]
    normalized = [e[3] for e in cli.events() if e[1] == "DvdUkCertificationNormalized"]
    assert [(e["dvd_id"], e["uk_certification"]) for e in normalized] == [(2, "12a"), (3, "pg")]
    assert cli.json("normalize-uk-certifications")["processed"] == 0  # nothing left to do


def test_cleanup_unused_posters(cli: Cli) -> None:
    """Cleanup unused posters."""
    _populated(cli)
    posters = cli.home / "media" / "posters"
    (posters / ".partial.tmp").write_bytes(b"x")  # a download in progress: kept
    stale = posters / ".stale.tmp"
    stale.write_bytes(b"x")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    (posters / "folder").mkdir()
    summary = cli.json("cleanup-unused-posters")
    assert summary["updated"] == 3
    assert sorted(p.name for p in posters.iterdir()) == [".partial.tmp", "folder", "used.jpg"]
    deleted = sorted(e[3]["path"] for e in cli.events() if e[1] == "PosterFileDeleted")
    assert deleted == ["media/posters/.stale.tmp", "media/posters/old1.jpg", "media/posters/old2.jpg"]
    assert cli.json("cleanup-unused-posters")["processed"] == 0


def test_cleanup_without_a_posters_folder(cli: Cli) -> None:
    """Cleanup without a posters folder."""
    cli.ok("add", "Heat")
    assert cli.json("cleanup-unused-posters")["processed"] == 0


def test_create_initial_badges_is_idempotent_and_covers_types_and_rarities(cli: Cli) -> None:
    """Create initial badges is idempotent and covers types and rarities."""
    first = cli.json("create-initial-badges")
    second = cli.json("create-initial-badges")
    assert first["updated"] == len(BADGES) >= 15
    assert (second["updated"], second["skipped"]) == (0, len(BADGES))
    badges = cli.export("badges")
    assert len(badges) == len(BADGES)
    assert {b["badge_type"] for b in badges} == {"milestone", "genre", "critic", "explorer"}
    assert {b["rarity"] for b in badges} == {"bronze", "silver", "gold", "platinum"}
    assert set(badges[0]) == {"name", "description", "badge_type", "rarity", "icon", "requirement_count",
                              "requirement_type"}
    assert all(b["requirement_count"] > 0 and b["icon"] and b["description"] for b in badges)
    assert sum(e[1] == "BadgeCreated" for e in cli.events()) == len(BADGES)


def test_badges_earned_from_the_collection(cli: Cli) -> None:
    """Badges earned from the collection."""
    cli.ok("create-initial-badges")
    rc, out, _ = cli("badges", "--json")
    assert rc == 0 and all('"earned":false' in line for line in out.splitlines())
    films = [("Alien", 1979, ["Horror", "Science Fiction"], 8.1, 9000, "Ridley Scott"),
             ("Heat", 1995, ["Crime", "Drama"], 8.3, 12000, "Michael Mann"),
             ("Shrek", 2001, ["Animation", "Comedy"], 7.7, 11000, "Andrew Adamson, Vicky Jenson"),
             ("Metropolis", 1927, ["Science Fiction"], 8.2, 2800, "Fritz Lang"),
             ("Up", 2009, ["Animation"], 8.0, 20000, "Pete Docter"),
             ("Psycho", 1960, ["Horror"], 8.4, 10000, "Alfred Hitchcock")]
    for title, year, *_ in films:
        cli.ok("add", title, "--year", str(year))
    _record(cli, *[et.DvdDetailsRefreshed(dvd_id=i, genres=g, rating=r, vote_count=v, director=d)
                   for i, (_, _, g, r, v, d) in enumerate(films, start=1)])
    rows = {r["requirement_type"]: r for r in map(json.loads, cli("badges", "--json")[1].splitlines())}
    progress = {k: r["progress"] for k, r in rows.items()}
    assert progress == {"dvds_owned": 6, "genres_collected": 6, "genre_horror": 2, "genre_science_fiction": 2,
                        "genre_animation": 2, "rated_8_plus": 5, "votes_10000_plus": 4,
                        "directors_collected": 7, "decades_collected": 5}
    earned = {r["name"] for r in map(json.loads, cli("badges", "--json")[1].splitlines())
              if r["earned"]}
    assert earned == {"First Disc", "Genre Taster", "Good Taste", "Auteur Spotter", "Time Traveller"}
    table = cli.ok("badges")
    assert table.splitlines()[0].split() == ["icon", "name", "badge_type", "rarity", "progress", "earned"]
    assert any("First Disc" in line and "1/1" not in line and line.rstrip().endswith("yes") for line in
               table.splitlines())


def test_status_and_cancel(cli: Cli) -> None:
    """Status and cancel."""
    assert cli("status")[0] == 2 or True  # no database yet: either a clear error or nothing
    cli.ok("add", "Heat")
    add = cli.json("add", "Alien")
    rows = [json.loads(line) for line in cli.ok("status", "--json").splitlines()]
    assert [(r["name"], r["status"], r["processed"], r["updated"]) for r in rows] == [
        ("add", "completed", 1, 1), ("add", "completed", 1, 1)]
    assert rows[-1]["command_id"] == add["command_id"]
    text = cli.ok("status")
    assert text.splitlines()[0].split()[:3] == ["command_id", "name", "status"]
    rc, _, err = cli("cancel", "nosuchid")
    assert rc == 2 and error_line(err) == "tracker cancel: error: cancel: no command 'nosuchid' (see tracker status)"
    rc, _, err = cli("cancel", add["command_id"])
    expected = f"tracker cancel: error: cancel: command {add['command_id']} is already completed"
    assert rc == 1 and error_line(err) == expected


def test_cancel_a_queued_command(cli: Cli) -> None:
    """Cancel a queued command."""
    cli.ok("add", "Heat")
    out = cli.ok("add", "Alien", "--enqueue")
    command_id = out.split()[0]
    assert cli.ok("cancel", command_id) == f"{command_id}: cancelled\n"
    rows = [json.loads(line) for line in cli.ok("status", "--json").splitlines()]
    assert rows[-1]["status"] == "cancelled"
    assert [d["title"] for d in cli.export("dvds")] == ["Heat"]


def test_secrets_never_appear_in_output_or_the_log(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets never appear in output or the log."""
    key, token = "k3y-SECRET-1234567890", "t0ken-SECRET-abcdef"
    monkeypatch.setenv("TMDB_API_KEY", key)
    monkeypatch.setenv("TMDB_ACCESS_TOKEN", token)
    csv = tmp_path / "s.csv"
    csv.write_text("title,year\nA,1999\nB,x\n", encoding="utf-8")
    seen = []
    for args in (("add", "Heat", "--verbose"), ("add", "X", "--year", key), ("import", str(csv)),
                 ("import", str(csv), "--json"), ("status",), ("history", "--json"), ("export", "dvds"),
                 ("verify",), ("create-initial-badges", "--dry-run", "--verbose"), ("history", "--since", key),
                 ("cancel", key), ("add", "Y", "--debug")):
        _, out, err = cli(*args)
        seen.append(out + err)
    text = "\n".join(seen)
    assert key not in text and token not in text
    assert key.encode() not in cli.db.read_bytes()


def test_export_formats_and_fields(cli: Cli) -> None:
    """Export formats and fields."""
    cli.ok("add", "Fight Club", "--year", "1999", "--tmdb-id", "550")
    _record(cli, et.DvdDetailsRefreshed(dvd_id=1, production_companies=["Fox 2000", "Regency"], director="D"),
            et.DvdTorrentsChecked(dvd_id=1, torrents=[et.Torrent("1080p", "bluray", 5, 1, 100, "ABC")]))
    dvd, = cli.export("dvds")
    assert {"id", "title", "year", "tmdb_id", "imdb_id", "tagline", "budget", "revenue", "production_companies",
            "director", "uk_certification", "rating", "vote_count", "poster", "torrents", "torrents_checked_at",
            "details_refreshed_at", "added_at"} <= set(dvd)
    assert dvd["production_companies"] == ["Fox 2000", "Regency"]
    assert dvd["torrents"] == [{"quality": "1080p", "type": "bluray", "seeds": 5, "peers": 1, "size_bytes": 100,
                                "hash": "ABC"}]
    jsonl = cli.ok("export", "dvds", "--format", "jsonl").splitlines()
    assert len(jsonl) == 1 and json.loads(jsonl[0]) == dvd
    csv_text = cli.ok("export", "dvds", "--format", "csv").splitlines()
    assert csv_text[0].split(",")[:3] == ["id", "title", "year"]
    assert '"[""Fox 2000"",""Regency""]"' in csv_text[1]
    assert cli.ok("export", "movies") == "[]\n"
    assert cli.ok("export", "movies", "--format", "csv") == ""
    for table in ("movies", "tv", "genres", "providers", "availability", "badges"):
        assert cli.export(table) == []


def test_a_closed_pipe_ends_the_listing_not_the_command(tmp_path: Path) -> None:
    """`load-sample-data --verbose | head -1`: the reader leaves, the command still completes, exit 0."""
    env = {**os.environ, "TRACKER_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "tracker.cli", "load-sample-data", "--verbose"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does once it has its line
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert first.startswith("line:2 (Fight Club): updated")
    assert "BrokenPipe" not in err and "internal error" not in err
    status = subprocess.run([sys.executable, "-m", "tracker.cli", "status", "--json"], env=env,
                            capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in status.stdout.splitlines() if line.startswith("{")]
    assert [(r["name"], r["status"], r["processed"]) for r in rows] == [("load-sample-data", "completed", 29)]
