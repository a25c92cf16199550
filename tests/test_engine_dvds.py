"""The network DVD commands through the engine, against the sandbox over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine_support import FAST_RETRIES, cli, export, query, write_csv
from tracker.sandbox.server import SandboxThread


@pytest.fixture
def sandbox():
    """A sandbox with a small synthetic catalogue beside the real films."""
    with SandboxThread(synthetic_count=300) as sb:
        yield sb


@pytest.fixture
def home(tmp_path: Path, sandbox, monkeypatch) -> Path:
    """A fresh home wired to the sandbox."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    for key, value in {**sandbox.env(), **FAST_RETRIES, "TRACKER_YTS_RATE": "50"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TMDB_ACCESS_TOKEN", raising=False)
    return tmp_path


def by_title(rows: list[dict]) -> dict[tuple[str, int | None], dict]:
    """Exported rows by (title, year)."""
    return {(r["title"], r["year"]): r for r in rows}


def test_sample_workflow_fills_real_facts(home: Path, capsys) -> None:
    """load, match, IMDb ids and details give the real facts of the sample films, with posters."""
    for step in ("load-sample-data", "match-tmdb-ids", "populate-imdb-ids", "refresh-missing-details"):
        code, out, err = cli(capsys, step)
        assert code == 0, (step, out, err)
    dvds = by_title(export(capsys, "dvds"))
    fight = dvds[("Fight Club", 1999)]
    assert fight["tmdb_id"] == 550 and fight["imdb_id"] == "tt0137523"
    assert fight["director"] == "David Fincher"
    assert fight["poster"].startswith("media/posters/") and (home / fight["poster"]).is_file()
    assert dvds[("Dune", 1984)]["tmdb_id"] != dvds[("Dune", 2021)]["tmdb_id"]
    matrix = dvds[("The Matrix", 1999)]
    assert ", " in matrix["director"]  # two directors, joined in crew order
    assert all(d["details_refreshed_at"] for d in dvds.values())


def test_refresh_is_one_request_per_dvd_and_not_repeated(home: Path, sandbox, capsys) -> None:
    """refresh-missing-details makes exactly one TMDB request per DVD; a second run selects none."""
    rows = [(t, y, i, None, None) for t, y, i, _ in _synthetic(40)]
    cli(capsys, "import", str(write_csv(home / "s.csv", rows)))
    sandbox.reset_stats()
    code, out, _ = cli(capsys, "refresh-missing-details", "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and summary["processed"] == 40
    details = _movie_detail_requests(sandbox.stats())
    assert details == 40
    code, out, _ = cli(capsys, "refresh-missing-details", "--json")
    assert json.loads(out)["processed"] == 0  # empties stored as empties are not fetched again


def test_missing_poster_and_empty_values_stored_as_empty(home: Path, capsys) -> None:
    """A film with no poster keeps poster null; TMDB's empties are "" / 0 / [] rather than null."""
    rows = [(t, y, i, None, None) for t, y, i, _ in _synthetic(300)]
    cli(capsys, "import", str(write_csv(home / "s.csv", rows)))
    assert cli(capsys, "refresh-missing-details")[0] == 0
    dvds = export(capsys, "dvds")
    assert any(d["poster"] is None for d in dvds)
    for d in dvds:
        for field in ("tagline", "budget", "revenue", "production_companies", "director",
                      "uk_certification", "rating", "vote_count"):
            assert d[field] is not None, (d["title"], field)
    assert any(d["tagline"] == "" for d in dvds) and any(d["budget"] == 0 for d in dvds)
    assert any(d["uk_certification"] == "" for d in dvds)
    assert all(c == c.strip() for c in (d["uk_certification"] for d in dvds))


def test_not_found_is_a_failed_item_not_retried(home: Path, sandbox, capsys) -> None:
    """A 404 is recorded at once as a failed item naming the DVD; exit 1; one request only."""
    cli(capsys, "add", "Nowhere", "--tmdb-id", "999999999")
    cli(capsys, "add", "Fight Club", "--tmdb-id", "550")
    sandbox.reset_stats()
    code, out, _ = cli(capsys, "refresh-missing-details", "--json")
    summary = json.loads(out)
    assert code == 1 and summary["failed"] == 1 and summary["updated"] == 1
    assert summary["failures"][0]["item"] == "dvd:1"
    assert "not found" in summary["failures"][0]["reason"]
    assert _movie_detail_requests(sandbox.stats()) == 2


def test_bad_key_fails_the_command_once(home: Path, sandbox, capsys, monkeypatch) -> None:
    """A 401 fails the whole command at once with a message about the key, which is never shown."""
    for i in range(5):
        cli(capsys, "add", f"Film {i}", "--tmdb-id", str(5_000_000 + i))
    monkeypatch.setenv("TMDB_API_KEY", "wrong-secret-key-123")
    sandbox.reset_stats()
    code, out, err = cli(capsys, "refresh-missing-details")
    assert code == 1
    assert "TMDB_API_KEY" in err and "wrong-secret-key-123" not in out + err
    assert _movie_detail_requests(sandbox.stats()) <= 1 + 16  # in flight when the 401 came back
    status = query(home, "SELECT status, reason FROM commands WHERE name = 'refresh-missing-details'")
    assert status[0][0] == "failed" and "wrong-secret" not in status[0][1]
    events = query(home, "SELECT data FROM events")
    assert not any("wrong-secret-key-123" in d for (d,) in events)


def test_faults_are_retried_to_a_correct_result(home: Path, sandbox, capsys) -> None:
    """5xx, dropped connections and truncated JSON are retried; every DVD ends correct."""
    rows = [(t, y, i, None, None) for t, y, i, _ in _synthetic(30)]
    cli(capsys, "import", str(write_csv(home / "s.csv", rows)))
    sandbox.configure(fault_5xx_rate=0.15, fault_drop_rate=0.05, fault_truncated_rate=0.05,
                      fault_hosts=["tmdb"])
    code, out, err = cli(capsys, "refresh-missing-details", "--json")
    assert code == 0, out + err
    sandbox.configure(fault_5xx_rate=0, fault_drop_rate=0, fault_truncated_rate=0)
    faulty = {d["id"]: d for d in export(capsys, "dvds")}
    assert all(d["details_refreshed_at"] for d in faulty.values())
    count = query(home, "SELECT COUNT(*) FROM events WHERE type = 'DvdDetailsRefreshed'")[0][0]
    assert count == 30


def test_yts_outage_never_records_no_torrents(home: Path, sandbox, capsys) -> None:
    """With YTS down, DVDs fail with a reason and keep torrents unknown, never an empty list."""
    cli(capsys, "add", "Fight Club", "--tmdb-id", "550", "--imdb-id", "tt0137523")
    sandbox.configure(fault_5xx_rate=1.0, fault_hosts=["yts"])
    code, out, _ = cli(capsys, "refresh-torrent-data", "--json")
    summary = json.loads(out)
    reason = summary["failures"][0]["reason"]
    assert code == 1 and summary["failed"] == 1 and reason.startswith("HTTP 5"), reason
    dvd = export(capsys, "dvds")[0]
    assert dvd["torrents"] is None and dvd["torrents_checked_at"] is None
    sandbox.configure(fault_5xx_rate=0.0)
    assert cli(capsys, "refresh-torrent-data")[0] == 0
    dvd = export(capsys, "dvds")[0]
    assert dvd["torrents"] and {"quality", "type", "seeds", "peers", "size_bytes", "hash"} <= set(dvd["torrents"][0])


def test_dry_run_of_network_command_changes_nothing(home: Path, capsys) -> None:
    """A dry run counts what would change but appends nothing and writes no poster."""
    cli(capsys, "add", "Fight Club", "--tmdb-id", "550")
    before = query(home, "SELECT COUNT(*) FROM events")[0][0]
    code, out, _ = cli(capsys, "refresh-missing-details", "--dry-run", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["dry_run"] is True and summary["updated"] == 1
    assert summary["fields_held"]["director"] == 1  # counted inside the rolled-back transaction
    assert query(home, "SELECT COUNT(*) FROM events")[0][0] == before
    assert export(capsys, "dvds")[0]["director"] is None
    assert not (home / "media" / "posters").exists() or not any((home / "media" / "posters").iterdir())


def test_verbose_shows_field_changes(home: Path, capsys) -> None:
    """--verbose prints each changed field old -> new."""
    cli(capsys, "add", "Fight Club", "--tmdb-id", "550")
    code, out, _ = cli(capsys, "refresh-missing-details", "--verbose")
    assert code == 0
    assert 'dvd:1 (Fight Club): updated  ' in out and 'director: - -> "David Fincher"' in out


def test_match_without_year_takes_most_popular_exact(home: Path, capsys) -> None:
    """Without a year the most popular exact title match wins; with a year, that year's film."""
    cli(capsys, "add", "Dune")
    cli(capsys, "add", "Dune", "--year", "1984")
    assert cli(capsys, "match-tmdb-ids")[0] in (0, 1)
    rows = {(r["year"]): r["tmdb_id"] for r in export(capsys, "dvds")}
    assert rows[1984] == 841
    assert rows[None] == 438631  # Dune (2021) is the more popular


def test_no_credentials_is_bad_usage(home: Path, capsys, monkeypatch) -> None:
    """Without a TMDB key or token a TMDB command exits 2 with one line and writes nothing."""
    monkeypatch.delenv("TMDB_API_KEY")
    cli(capsys, "add", "Fight Club")
    before = query(home, "SELECT COUNT(*) FROM events")[0][0]
    code, _, err = cli(capsys, "match-tmdb-ids")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "TMDB_API_KEY" in err
    assert query(home, "SELECT COUNT(*) FROM events")[0][0] == before


def _synthetic(n: int) -> list[tuple]:
    from tracker.sandbox.synthetic import synthetic_titles
    return synthetic_titles(n)


def _movie_detail_requests(stats: dict) -> int:
    """How many /3/movie/{id} detail requests the sandbox answered."""
    return stats["by_route"].get("movie_details", 0)


def test_two_dvds_matched_at_once_never_share_a_tmdb_id(home: Path, capsys) -> None:
    """Two copies of one title matched in the same run: one gets the id, the other is skipped."""
    cli(capsys, "add", "Fight Club", "--year", "1999")
    cli(capsys, "add", "Fight Club", "--year", "1999", "--allow-duplicate")
    code, out, _ = cli(capsys, "match-tmdb-ids", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["updated"], summary["skipped"]) == (1, 1)
    assert "duplicate: TMDB id 550 is already DVD" in summary["skips"][0]["reason"]
    assert sorted(str(d["tmdb_id"]) for d in export(capsys, "dvds")) == ["550", "None"]
