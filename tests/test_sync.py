"""tracker sync against the sandbox's change lists: only tracked titles that changed are refreshed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.engine_support import FAST_RETRIES, cli, export, query, write_csv
from tracker.sandbox.server import SandboxThread

DVD_IDS = [5_000_000 + n for n in range(12)]
UNTRACKED = 5_000_150
NOISE = 150  # ids a day the lists name besides edited titles: two pages a day


def today() -> date:
    """Today in UTC, the calendar of TMDB's change lists."""
    return datetime.now(UTC).date()


@pytest.fixture
def sandbox():
    """A sandbox whose change lists name 150 unknown ids a day besides edited titles."""
    with SandboxThread(synthetic_count=200, change_noise_per_day=NOISE) as sb:
        yield sb


@pytest.fixture
def home(tmp_path: Path, sandbox, monkeypatch, capsys) -> Path:
    """12 DVDs and a popular page of movies and shows, all with details, wired to the sandbox."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    for key, value in {**sandbox.env(), **FAST_RETRIES}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TMDB_ACCESS_TOKEN", raising=False)
    rows = [(f"Synthetic Film {i - 5_000_000:06d}", None, i, None, None) for i in DVD_IDS]
    steps = (("import", str(write_csv(tmp_path / "c.csv", rows))), ("refresh-missing-details",),
             ("populate-db", "--pages", "1"), ("update-details",))
    for step in steps:
        code, out, err = cli(capsys, *step)
        assert code == 0, (step, out, err)
    sandbox.reset_stats()
    return tmp_path


def sync(capsys, *args: str) -> dict:
    """Run sync with --json; its summary (exit 0 asserted)."""
    code, out, err = cli(capsys, "sync", "--json", *args)
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def items_of(home: Path, command_id: str) -> set[str]:
    """The items a command processed, from the log's read table."""
    return {r[0] for r in query(home, "SELECT item FROM command_items WHERE command_id = ?", command_id)}


def detail_requests(sandbox) -> int:
    """Detail requests the sandbox answered (movies and shows)."""
    routes = sandbox.stats()["by_route"]
    return routes.get("movie_details", 0) + routes.get("tv_details", 0)


def test_sync_refreshes_exactly_the_edited_tracked_titles(home: Path, sandbox, capsys) -> None:
    """Edited DVDs, catalogue movies and shows are refreshed, one request each; nothing else is."""
    movies = [m["tmdb_id"] for m in export(capsys, "movies")][:2]
    show = export(capsys, "tv")[0]["tmdb_id"]
    edited = sandbox.edit("movie", [DVD_IDS[3], DVD_IDS[7], *movies, UNTRACKED])
    sandbox.edit("tv", [show])
    summary = sync(capsys)
    expected = {f"dvd:{4}", f"dvd:{8}", *(f"movie:{m}" for m in movies), f"tv:{show}"}
    assert items_of(home, summary["command_id"]) == expected
    assert detail_requests(sandbox) == len(expected)
    routes = sandbox.stats()["by_route"]
    pages = routes["movie_changes"] + routes["tv_changes"]
    assert summary["change_list_pages"] == pages == 4  # one day, 150 + edits ids: 2 pages a list
    assert summary["updated"] == len(expected) and summary["failed"] == 0
    dvd = {d["id"]: d for d in export(capsys, "dvds")}[4]
    assert dvd["vote_count"] == edited[str(DVD_IDS[3])]["vote_count"]
    assert query(home, "SELECT end_date FROM sync_points") == [(today().isoformat(),)]


def test_second_sync_asks_only_what_the_lists_name(home: Path, sandbox, capsys) -> None:
    """A second sync today refreshes only titles the lists still name (edited today), nothing more."""
    sandbox.edit("movie", [DVD_IDS[0]], day=today() - timedelta(days=1))
    sandbox.edit("movie", [DVD_IDS[1]])
    sync(capsys)
    sandbox.reset_stats()
    second = sync(capsys)
    assert items_of(home, second["command_id"]) == {"dvd:2"}  # edited today; yesterday's is past
    assert detail_requests(sandbox) == 1
    assert second["window"] == f"{today().isoformat()} to {today().isoformat()}"


def test_sync_naming_no_tracked_title_makes_no_detail_request(home: Path, sandbox, capsys) -> None:
    """Lists full of untracked ids cost their pages and not one detail request; the point moves."""
    sandbox.edit("movie", [UNTRACKED])
    summary = sync(capsys)
    assert summary["processed"] == 0 and detail_requests(sandbox) == 0
    assert summary["change_list_pages"] == 4
    assert query(home, "SELECT COUNT(*) FROM events WHERE type = 'ChangesSynced'") == [(1,)]


def test_windows_longer_than_14_days_are_split(home: Path, sandbox, capsys) -> None:
    """--since 30 days ago reads 31 days as windows of 14, 14 and 3 days; an old edit is found."""
    since = today() - timedelta(days=30)
    sandbox.edit("movie", [DVD_IDS[5]], day=today() - timedelta(days=20))
    sandbox.configure(change_noise_per_day=0)
    try:
        summary = sync(capsys, "--since", since.isoformat())
    finally:
        sandbox.configure(change_noise_per_day=NOISE)
    routes = sandbox.stats()["by_route"]
    assert routes["movie_changes"] == routes["tv_changes"] == 3  # the sandbox refuses > 14 days
    assert summary["window"] == f"{since.isoformat()} to {today().isoformat()}"
    assert items_of(home, summary["command_id"]) == {"dvd:6"}


def test_dry_run_names_titles_without_asking_for_them(home: Path, sandbox, capsys) -> None:
    """sync --dry-run lists what would be refreshed, asks no details and keeps the sync point."""
    sandbox.edit("movie", [DVD_IDS[2]])
    code, out, _ = cli(capsys, "sync", "--dry-run")
    assert code == 0 and "would refresh: dvd:3 (Synthetic Film 000002)" in out
    assert detail_requests(sandbox) == 0
    assert query(home, "SELECT COUNT(*) FROM sync_points") == [(0,)]


def test_since_in_the_future_is_refused(home: Path, capsys) -> None:
    """--since tomorrow is bad usage: one line, exit 2, nothing queued."""
    tomorrow = (today() + timedelta(days=1)).isoformat()
    code, _out, err = cli(capsys, "sync", "--since", tomorrow)
    assert code == 2 and err.strip() == (f"tracker sync: error: --since: {tomorrow} is in the "
                                         f"future (today is {today().isoformat()} UTC)")
    assert query(home, "SELECT COUNT(*) FROM commands WHERE name = 'sync'") == [(0,)]


def test_a_failed_title_keeps_the_sync_point(home: Path, sandbox, capsys) -> None:
    """A title whose refresh fails leaves the sync point where it was, so the next sync asks again."""
    sync(capsys)
    before = query(home, "SELECT end_date, command_id FROM sync_points")
    sandbox.edit("movie", [DVD_IDS[4]], {"poster_path": "/../../etc/passwd.jpg"})
    code, out, _ = cli(capsys, "sync", "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 1 and summary["failed"] == 1 and summary["failures"][0]["item"] == "dvd:5"
    assert summary["sync_point"].startswith("not moved (some titles failed)")
    assert query(home, "SELECT end_date, command_id FROM sync_points") == before
