"""A host that stops answering stops a command early; one flaky item still fails alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine_support import FAST_RETRIES, cli, export, write_csv
from tracker.engine.runner import HostWatch
from tracker.errors import ApiError, NotFound
from tracker.sandbox.server import SandboxThread

DVDS = 30


@pytest.fixture
def sandbox():
    """A sandbox with enough synthetic films for a collection of 30."""
    with SandboxThread(synthetic_count=100) as sb:
        yield sb


@pytest.fixture
def home(tmp_path: Path, sandbox, monkeypatch) -> Path:
    """A home of 30 DVDs with TMDB and IMDb ids, wired to the sandbox, 4 items in flight."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    env = {**sandbox.env(), **FAST_RETRIES, "TRACKER_CONCURRENCY": "4", "TRACKER_YTS_RATE": "100"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TMDB_ACCESS_TOKEN", raising=False)
    rows = [(f"Synthetic Film {n:06d}", None, 5_000_000 + n, f"tt9{n:07d}", None) for n in range(DVDS)]
    assert cli_quiet("import", str(write_csv(tmp_path / "c.csv", rows))) == 0
    return tmp_path


def cli_quiet(*args: str) -> int:
    """Run the CLI in-process, ignoring its output."""
    from tracker.cli.main import main
    return main(list(args))


def down(host: str = "api.example") -> ApiError:
    """The error an item fails with when its host gave 503 to every attempt."""
    return ApiError("HTTP 503 after 5 attempts (url)", status=503, retryable=True, host=host,
                    reason="HTTP 503 after 5 attempts")


def test_dead_tmdb_stops_refresh_early_and_the_next_run_finishes(home: Path, sandbox, capsys) -> None:
    """With every TMDB answer a 5xx the refresh stops after the first items; the next run does them all."""
    capsys.readouterr()
    sandbox.configure(fault_5xx_rate=1.0, fault_hosts=["tmdb"])
    code, out, err = cli(capsys, "refresh-missing-details")
    assert code == 1
    host = sandbox.tmdb_base_url.split("/")[2]
    line = [x for x in err.splitlines() if "is not answering" in x and x.startswith("tracker ")]
    assert len(line) == 1
    assert f"{host} is not answering: the first 5 items all failed with HTTP 5" in line[0]
    assert "nothing was recorded as empty; the command resumes on its next run" in line[0]
    status = json.loads(cli(capsys, "status", "--json")[1].splitlines()[-1])
    assert status["status"] == "failed" and status["processed"] < 10
    assert all(d["tagline"] is None for d in export(capsys, "dvds"))  # no failure stored as empty
    sandbox.configure(fault_5xx_rate=0.0)
    code, out, err = cli(capsys, "refresh-missing-details", "--json")
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["processed"] == DVDS
    assert all(d["details_refreshed_at"] for d in export(capsys, "dvds"))


def test_wrong_yts_base_url_stops_torrent_check_within_seconds(home: Path, monkeypatch, capsys) -> None:
    """A YTS base URL nobody answers on ends refresh-torrent-data after a few items, exit 1."""
    monkeypatch.setenv("YTS_BASE_URL", "http://127.0.0.1:9/api/v2")
    capsys.readouterr()
    code, _, err = cli(capsys, "refresh-torrent-data")
    assert code == 1
    assert "127.0.0.1:9 is not answering: the first 5 items all failed with connection failed" in err
    status = json.loads(cli(capsys, "status", "--json")[1].splitlines()[-1])
    assert status["name"] == "refresh-torrent-data" and status["processed"] < 10
    assert all(d["torrents_checked_at"] is None for d in export(capsys, "dvds"))


def test_one_flaky_item_fails_alone() -> None:
    """Down-host failures broken by an answered item, or a 404, never reach the limit."""
    watch = HostWatch()
    watch.record(None)  # the first item answered: the "first 5" rule cannot apply
    for _ in range(3):
        for _ in range(HostWatch.RUN_LIMIT - 1):
            watch.record(down())
        watch.record(None)
    watch.record(down())
    watch.record(NotFound("not found", status=404, host="api.example"))
    assert watch.stop_reason == ""


def test_ten_in_a_row_stop_even_after_successes() -> None:
    """After some good items, ten down-host failures in a row on one host stop the command."""
    watch = HostWatch()
    for _ in range(20):
        watch.record(None)
    for _ in range(HostWatch.RUN_LIMIT - 1):
        watch.record(down())
    watch.record(down("other.example"))  # a different host starts its own count
    assert watch.stop_reason == ""
    for _ in range(HostWatch.RUN_LIMIT - 1):
        watch.record(down("other.example"))
    assert watch.stop_reason.startswith(
        "other.example is not answering: 10 items in a row failed with HTTP 503 after 5 attempts;")
