"""Hostile inputs, table-driven: each ends in one clear line and the right exit code, nothing lost.

Flags, environment and tracker.toml come from ``hostile_cases.py``; homes, database files, CSV
files, replay targets and poisoned API answers (served by the sandbox) are tables here. Every
case also checks that no "internal error" was printed and that the home was not changed by a
refused input (same events, same exports, same media files, no temporary file left).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hostile_cases import ALL, BIG, Case
from tests.offline_support import Cli
from tracker.cli.main import main
from tracker.db import Database

SEED_CSV = "title,year,tmdb_id\nFight Club,1999,550\nThe Matrix,1999,603\nAlien,1979,348\n"
CLEAN_ENV = ("TRACKER_HOME", "TMDB_API_KEY", "TMDB_ACCESS_TOKEN", "TMDB_BASE_URL", "TMDB_IMAGE_BASE_URL",
             "YTS_BASE_URL", "TRACKER_TMDB_RATE", "TRACKER_YTS_RATE", "TRACKER_CONCURRENCY",
             "TRACKER_TIMEOUT_S", "TRACKER_RETRY_ATTEMPTS", "TRACKER_RETRY_BASE_DELAY_S")


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding three DVDs, built once and copied for each case."""
    home = tmp_path_factory.mktemp("seed") / "home"
    csv_path = home.parent / "seed.csv"
    csv_path.write_text(SEED_CSV)
    assert main(["--home", str(home), "import", str(csv_path)]) == 0
    return home


@pytest.fixture
def seeded(seed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
           monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI over a fresh copy of the seed home, with no tracker variable set."""
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    shutil.copytree(seed, home)
    return Cli(home, capsys)


def untouched(cli: Cli, before: dict[str, Any]) -> None:
    """The home holds exactly what it held, and no temporary file."""
    assert cli.snapshot() == before
    leftovers = [p.name for p in cli.home.rglob("*") if p.name.endswith((".tmp", ".part"))]
    assert leftovers == []


def one_line(err: str) -> str:
    """The one stderr line, insisting there is one and that it is no internal error."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "internal error" not in lines[0] and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_refused_in_one_line_nothing_written(case: Case, seeded: Cli, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile flag, variable or setting: its exit code, one line naming it, the home unchanged."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.replace("{file}", str(a_file)))
    if case.toml is not None:
        (seeded.home / "tracker.toml").write_text(case.toml + "\n")
    before = seeded.snapshot()
    args = case.args if "TRACKER_HOME" in case.env else ("--home", str(seeded.home), *case.args)
    seeded.capsys.readouterr()
    try:
        rc = main(list(args))
    except SystemExit as exc:  # argparse's own refusals
        rc = exc.code
    out, err = seeded.capsys.readouterr()
    line = one_line(err)
    assert rc == case.rc, (rc, line)
    assert case.message.replace("{file}", str(a_file)) in line
    if case.secret:
        assert case.secret not in out + err
    assert not [a for a in case.args if len(a) > 80 and a in line]  # quoted briefly, never whole
    untouched(seeded, before)
    assert a_file.read_text() == "not a folder"


# --- homes and database files -----------------------------------------------------------------


def _home_file(tmp: Path) -> str:
    (tmp / "f").write_text("x")
    return str(tmp / "f")


def _home_under_file(tmp: Path) -> str:
    (tmp / "f").write_text("x")
    return str(tmp / "f" / "sub")


def _db_folder(tmp: Path) -> str:
    (tmp / "h" / "tracker.db").mkdir(parents=True)
    return str(tmp / "h")


def _db_text(tmp: Path) -> str:
    (tmp / "h").mkdir()
    (tmp / "h" / "tracker.db").write_text("these are my notes, not a database " * 40)
    return str(tmp / "h")


def _db_foreign(tmp: Path) -> str:
    (tmp / "h").mkdir()
    conn = sqlite3.connect(tmp / "h" / "tracker.db")
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    return str(tmp / "h")


def _db_newer(tmp: Path) -> str:
    with Database(tmp / "h" / "tracker.db") as db, db.atomic():
        db.store.set_meta("schema_version", "999")
    return str(tmp / "h")


HOMES: list[tuple[str, Callable[[Path], str], int, str]] = [
    ("home-empty", lambda tmp: "", 2, "--home: the home folder is empty"),
    ("home-is-file", _home_file, 2, "is a file, not a folder"),
    ("home-is-device", lambda tmp: "/dev/null", 2, "'/dev/null' is a device or special file, not a folder"),
    ("home-under-file", _home_under_file, 2, "which is a file, not a folder"),
    ("home-no-such-user", lambda tmp: "~no-such-user-here/x", 2, "no such user's home"),
    ("home-name-too-long", lambda tmp: str(tmp / ("a" * 300)), 2, "File name too long"),
    ("home-nul", lambda tmp: str(tmp) + "/a\x00b", 2, "holds a NUL character"),
    ("home-in-proc", lambda tmp: "/proc/no-such-thing/home", 2, "cannot create the home folder"),
    ("db-is-folder", _db_folder, 2, "is a folder, not a tracker database"),
    ("db-is-text", _db_text, 2, "not a tracker database"),
    ("db-of-another-app", _db_foreign, 2, "not a tracker database (a SQLite file of another application)"),
    ("db-from-newer-tracker", _db_newer, 2, "written by a newer tracker"),
]


READ_EMPTY = {"home-in-proc"}


@pytest.mark.parametrize("command", [("add", "X"), ("status",)], ids=["add", "status"])
@pytest.mark.parametrize("name, make, rc, message", HOMES, ids=[h[0] for h in HOMES])
def test_bad_home_is_one_line(name: str, make: Callable[[Path], str], rc: int, message: str,
                              command: tuple[str, ...], tmp_path: Path, capsys, monkeypatch) -> None:
    """A home that cannot be one, or a database that is not tracker's: one line, nothing changed."""
    monkeypatch.delenv("TRACKER_HOME", raising=False)
    home = make(tmp_path)
    before = sorted((str(p), p.stat().st_size) for p in tmp_path.rglob("*"))
    code = main(["--home", home, *command])
    out, err = capsys.readouterr()
    if command == ("status",) and name in READ_EMPTY:  # reading a home not made yet: it is empty
        assert code == 0 and out.startswith("no commands yet\n")
    else:
        assert code == rc and message in one_line(err)
    assert sorted((str(p), p.stat().st_size) for p in tmp_path.rglob("*")) == before


# --- replay --into ------------------------------------------------------------------------------


def _into_existing(cli: Cli, tmp: Path) -> tuple[list[str], str]:
    other = tmp / "other" / "tracker.db"
    other.parent.mkdir()
    other.write_bytes(cli.db.read_bytes())
    return ["--into", str(other)], "already exists; give a new file name, or --force to replace it"


def _into_live_by_link(cli: Cli, tmp: Path) -> tuple[list[str], str]:
    link = tmp / "link.db"
    link.symlink_to(cli.db)
    return ["--into", str(link), "--force"], "must not be the live database"


REPLAYS: list[tuple[str, Callable[[Cli, Path], tuple[list[str], str]]]] = [
    ("existing-file", _into_existing),
    ("live-database", lambda cli, tmp: (["--into", str(cli.db), "--force"], "must not be the live database")),
    ("live-by-symlink", _into_live_by_link),
    ("a-folder", lambda cli, tmp: (["--into", str(tmp)], "is a folder; give a file name")),
    ("proc-file", lambda cli, tmp: (["--into", "/proc/version"], "already exists")),
    ("proc-file-forced", lambda cli, tmp: (["--into", "/proc/version", "--force"], "--into: cannot write")),
    ("device", lambda cli, tmp: (["--into", "/dev/null", "--force"], "is not a regular file")),
    ("missing-folder", lambda cli, tmp: (["--into", str(tmp / "no" / "x.db")], "does not exist")),
    ("no-such-user", lambda cli, tmp: (["--into", "~no-such-user-here/x.db"], "no such user")),
]


@pytest.mark.parametrize("name, make", REPLAYS, ids=[r[0] for r in REPLAYS])
def test_replay_into_refuses_without_harm(name: str, make: Callable, seeded: Cli, tmp_path: Path) -> None:
    """replay --into never overwrites by surprise, never the live database, never half a file."""
    args, message = make(seeded, tmp_path)
    before = seeded.snapshot()
    files_before = sorted((str(p), p.read_bytes()) for p in tmp_path.rglob("*.db") if p.is_file())
    rc, _, err = seeded("replay", *args)
    assert rc in (1, 2) and message in one_line(err)
    untouched(seeded, before)
    assert sorted((str(p), p.read_bytes()) for p in tmp_path.rglob("*.db") if p.is_file()) == files_before
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def test_replay_into_with_force_replaces_whole(seeded: Cli, tmp_path: Path) -> None:
    """--force replaces an existing file with a complete replay, written then renamed."""
    target = tmp_path / "old.db"
    target.write_text("old")
    rc, _out, err = seeded("replay", "--into", str(target), "--force")
    assert rc == 0, err
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT COUNT(*) FROM dvds").fetchone()[0] == 3
    conn.close()


# --- CSV files ------------------------------------------------------------------------------------

HEADER = "title,year,tmdb_id,imdb_id,uk_certification\n"
CSVS: list[tuple[str, bytes, int, dict[str, str], list[str]]] = [
    # (id, file bytes, exit code, {line item: reason fragment} of failed rows, titles that land)
    ("cr-only-endings", b"title,year\rA,2000\rB,2001\r", 0, {}, ["A", "B"]),
    ("crlf-endings-bom", b"\xef\xbb\xbftitle,year\r\nA,2000\r\n", 0, {}, ["A"]),
    ("tmdb-id-10^20", f"{HEADER}Good,2000,,,\nBad,2000,{BIG},,\nAlso good,2001,,,\n".encode(), 1,
     {"line:3": "tmdb_id 99999999999999999999 is too large"}, ["Good", "Also good"]),
    ("year-huge", f"{HEADER}Bad,{BIG}0,,,\nGood,1999,,,\n".encode(), 1, {"line:2": "is outside 1870-2100"}, ["Good"]),
    ("nul-in-title", f"{HEADER}Ba\x00d,2000,,,\nGood,1999,,,\n".encode(), 1, {"line:2": "line 2:"}, ["Good"]),
    ("not-utf8-row", HEADER.encode() + b"Caf\xe9,2000,,,\nGood,1999,,,\n", 1,
     {"line:2": "bytes that are not UTF-8 text"}, ["Good"]),
    ("escape-in-title", f"{HEADER}\x1b]0;pwned\x07,2000,,,\nGood,1999,,,\n".encode(), 1,
     {"line:2": "contains control characters"}, ["Good"]),
    ("bidi-and-zero-width", f"{HEADER}Evil\u202egnp.exe\u200b,2000,,,\n".encode(), 0, {}, ["Evilgnp.exe"]),
    ("formula-title", f'{HEADER}"=cmd|\' /C calc\'!A0",2000,,,\n'.encode(), 0, {}, ["=cmd|' /C calc'!A0"]),
    ("too-many-fields", f"{HEADER}A,2000,,,,extra\nGood,1999,,,\n".encode(), 1, {"line:2": "expected 5 fields"},
     ["Good"]),
    ("huge-field", HEADER.encode() + b'"' + b"x" * 200_000 + b'",2000,,,\nGood,1999,,,\n', 1, {"line:2": "line 2"},
     ["Good"]),
    ("long-title-quoted-briefly", f"{HEADER}{'y' * 600},2000,,,\n".encode(), 1,
     {"line:2": "title is longer than 500 characters"}, []),
]


@pytest.mark.parametrize("name, body, rc, failures, titles", CSVS, ids=[c[0] for c in CSVS])
def test_hostile_csv_rows(name: str, body: bytes, rc: int, failures: dict[str, str], titles: list[str],
                          cli: Cli, tmp_path: Path) -> None:
    """A bad row fails alone with its line and a short reason; every good row lands as written."""
    path = tmp_path / "in.csv"
    path.write_bytes(body)
    code, out, err = cli("import", str(path), "--json")
    assert "internal error" not in err and code == rc, err
    summary = json.loads(out)
    reasons = {f["item"]: f["reason"] for f in summary["failures"]}
    assert set(reasons) == set(failures)
    for item, fragment in failures.items():
        assert fragment in reasons[item] and len(reasons[item]) < 200
    assert [d["title"] for d in cli.export("dvds")] == titles


CSV_FILES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "the file is empty"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
    ("no-title-column", b"name,year\nA,1\n", "header has no 'title' column"),
    ("header-nul", b"ti\x00tle,year\nA,1\n", "header has no 'title' column"),
    ("header-only-blank", b"\r\n", "expected a header row"),
    ("duplicate-column", b"title,title\nA,B\n", "a column is named twice"),
]


@pytest.mark.parametrize("name, body, message", CSV_FILES, ids=[c[0] for c in CSV_FILES])
def test_hostile_csv_files_refused_whole(name: str, body: bytes, message: str, seeded: Cli, tmp_path: Path) -> None:
    """A file that cannot be a DVD CSV is refused whole: exit 2, one line, nothing written."""
    path = tmp_path / "in.csv"
    path.write_bytes(body)
    before = seeded.snapshot()
    rc, _, err = seeded("import", str(path))
    assert rc == 2 and message in one_line(err)
    untouched(seeded, before)


def test_export_csv_neutralises_formulas_json_stays_exact(cli: Cli, tmp_path: Path) -> None:
    """CSV cells a spreadsheet would run get a leading quote; json keeps the title exact."""
    titles = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "Plain"]
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f'"{t}",2000,,,\n' for t in titles))
    cli.ok("import", str(path))
    lines = cli.ok("export", "dvds", "--format", "csv").splitlines()[1:]
    cells = [line.split(",")[1] for line in lines]
    assert cells == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1)", "Plain"]
    assert [d["title"] for d in cli.export("dvds")] == titles
    assert [json.loads(x)["title"] for x in cli.ok("export", "dvds", "--format", "jsonl").splitlines()] == titles


# --- the import resumes only over the same file -----------------------------------------------


def test_changed_file_is_not_resumed(cli: Cli, tmp_path: Path) -> None:
    """An interrupted import whose file changed is failed with the choices; importing again gets all."""
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "".join(f"Old {i},2000,,,\n" for i in range(5)))
    cli.ok("import", str(path), "--enqueue")
    command_id = _only_queued(cli)
    path.write_text(HEADER + "".join(f"New {i},2000,,,\n" for i in range(8)))
    rc, _, err = cli("daemon", "--until-idle")
    assert rc == 0, err
    status = json.loads(cli.ok("status", "--json").splitlines()[0])
    assert status["command_id"] == command_id and status["status"] == "failed"
    assert "changed since import" in status["reason"] and "run tracker import" in status["reason"]
    assert cli.export("dvds") == []
    cli.ok("import", str(path))
    assert len(cli.export("dvds")) == 8


def _only_queued(cli: Cli) -> str:
    with Database(cli.db) as db:
        rows = db.conn.execute("SELECT command_id FROM commands WHERE status = 'queued'").fetchall()
    assert len(rows) == 1
    return rows[0][0]


def test_same_file_resumes(cli: Cli, tmp_path: Path) -> None:
    """An import queued over a file that did not change runs as usual."""
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "A,2000,,,\n")
    cli.ok("import", str(path), "--enqueue")
    assert cli("daemon", "--until-idle")[0] == 0
    assert [d["title"] for d in cli.export("dvds")] == ["A"]


# --- poison already in the log: contained, the queue goes on -------------------------------------


def test_a_poisoned_intent_fails_alone_and_the_queue_goes_on(cli: Cli) -> None:
    """An add queued with a 10^20 TMDB id (by an older tracker) fails its item; the next command runs."""
    from events.types import CommandRequested
    cli.ok("add", "First")
    with Database(cli.db) as db:
        db.record([CommandRequested(command_id="poison", name="add",
                                    options={"title": "P", "tmdb_id": 10**20})], "poison")
    rc, _out, err = cli("add", "After")
    assert rc == 0 and "internal error" not in err, err
    assert [d["title"] for d in cli.export("dvds")] == ["First", "After"]
    rows = {r["command_id"]: r for r in map(json.loads, cli.ok("status", "--json").splitlines())}
    assert rows["poison"]["status"] == "completed" and rows["poison"]["failed"] == 1
    assert cli("verify")[0] == 0


def test_a_command_that_keeps_dying_on_start_is_failed(cli: Cli) -> None:
    """A command started five times in a row with no item recorded is failed; the next one runs."""
    from events.types import CommandRequested, CommandStarted
    with Database(cli.db) as db:
        db.record([CommandRequested(command_id="dies", name="add", options={"title": "D"}),
                   *[CommandStarted(command_id="dies") for _ in range(5)]], "dies")
    rc, _, err = cli("add", "Next")
    assert rc == 0, err
    rows = {r["command_id"]: r for r in map(json.loads, cli.ok("status", "--json").splitlines())}
    assert rows["dies"]["status"] == "failed" and "started 5 times in a row" in rows["dies"]["reason"]
    assert [d["title"] for d in cli.export("dvds")] == ["Next"]



def test_clean_stops_do_not_count_as_dying_on_start(cli: Cli) -> None:
    """Five starts each ended by a clean stop (Ctrl-C, SIGTERM) are not a crash loop: the command runs."""
    from events.types import CommandInterrupted, CommandRequested, CommandStarted
    stops = [e for _ in range(5) for e in (CommandStarted(command_id="paused"),
                                           CommandInterrupted(command_id="paused"))]
    with Database(cli.db) as db:
        options = {"title": "P", "year": None, "tmdb_id": None, "imdb_id": None, "uk_certification": None}
        db.record([CommandRequested(command_id="paused", name="add", options=options), *stops], "paused")
    assert cli("daemon", "--until-idle")[0] == 0
    rows = {r["command_id"]: r for r in map(json.loads, cli.ok("status", "--json").splitlines())}
    assert rows["paused"]["status"] == "completed"
    assert [d["title"] for d in cli.export("dvds")] == ["P"]

# --- poisoned API answers, served by the sandbox -------------------------------------------------

POISON: list[tuple[str, dict[str, Any], str]] = [
    ("revenue-10^19", {"poison_fields": {"revenue": 10**19}}, "$.revenue: integer 10000000000000000000 is outside"),
    ("budget-minus-10^19", {"poison_fields": {"budget": -(10**19)}}, "$.budget: integer -10000000000000000000"),
    ("vote-count-2^64", {"poison_fields": {"vote_count": 2**64}}, "$.vote_count: integer"),
    ("rating-infinity", {"poison_fields": {"vote_average": float("inf")}}, "broken JSON body"),
    ("rating-as-text", {"poison_fields": {"vote_average": "1e999"}}, "unexpected JSON shape"),
    ("id-as-text", {"poison_fields": {"id": "550; DROP TABLE dvds"}}, "unexpected JSON shape"),
]


@pytest.fixture
def network_home(home, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The conftest home with the three seed DVDs imported, poison knobs cleared after."""
    path = home.path.parent / "seed.csv"
    path.write_text(SEED_CSV)
    assert home.run("import", str(path))[0] == 0
    yield home
    home.sandbox.configure(poison_fields={}, poison_torrent_fields={}, poison_ids=[], html_images=False)


@pytest.mark.parametrize("name, knobs, reason", POISON, ids=[p[0] for p in POISON])
def test_poisoned_api_answer_fails_that_item_alone(name: str, knobs: dict[str, Any], reason: str,
                                                   network_home: Any) -> None:
    """A poisoned TMDB answer fails the DVD it is about, with the reason; the others are refreshed."""
    network_home.sandbox.configure(poison_ids=[550], **knobs)
    summary = network_home.summary("refresh-missing-details", rc=1)
    assert [f["item"] for f in summary["failures"]] == ["dvd:1"]
    assert reason in summary["failures"][0]["reason"]
    dvds = {d["tmdb_id"]: d for d in network_home.export("dvds")}
    assert dvds[603]["revenue"] and dvds[348]["revenue"] and dvds[550]["revenue"] is None


def test_html_poster_fails_the_poster_keeps_the_details(network_home: Any) -> None:
    """An HTML page served as a poster is refused and not saved; the DVD's details are recorded."""
    network_home.sandbox.configure(html_images=True)
    summary = network_home.summary("refresh-missing-details", rc=1)
    assert summary["failed"] == 3
    assert all("poster not saved: " in f["reason"] and "sent HTML, not an image" in f["reason"]
               for f in summary["failures"])
    dvds = network_home.export("dvds")
    assert all(d["revenue"] and d["director"] and d["poster"] is None for d in dvds)
    assert not list(network_home.path.rglob("*.jpg")) and not list(network_home.path.rglob("*.part"))
    network_home.sandbox.configure(html_images=False)
    again = network_home.summary("refresh-missing-details")
    assert again["processed"] == 3 and all(d["poster"] for d in network_home.export("dvds"))


def test_poisoned_text_is_cleaned(network_home: Any) -> None:
    """NUL, bidi overrides and zero-width characters from TMDB never reach the tables."""
    network_home.sandbox.configure(poison_fields={"tagline": "Mis\u202echief\u200b\x00 ok\x1b[2J"})
    network_home.summary("refresh-missing-details")
    assert {d["tagline"] for d in network_home.export("dvds")} == {"Mischief ok[2J"}


def test_poisoned_torrent_fails_that_item_alone(network_home: Any) -> None:
    """A YTS torrent with seeds of 10^19 fails that DVD's check only."""
    network_home.summary("populate-imdb-ids")
    network_home.sandbox.configure(poison_ids=[603], poison_torrent_fields={"seeds": 10**19})
    summary = network_home.summary("refresh-torrent-data", rc=1)
    assert [f["item"] for f in summary["failures"]] == ["dvd:2"]
    assert "refused yts answer" in summary["failures"][0]["reason"]


def test_debug_traceback_masks_a_secret_in_the_wrong_setting(seeded: Cli) -> None:
    """--debug prints the traceback of a settings error without the key pasted into a URL setting."""
    (seeded.home / "tracker.toml").write_text('tmdb_api_key = "pa55w0rdx9"\nyts_base_url = "pa55w0rdx9"\n')
    rc, out, err = seeded("status", "--debug")
    assert rc == 2 and "Traceback" in err and "yts_base_url" in err
    assert "pa55w0rd" not in out + err
