"""The web page while the engine works: response times of every kind of page while a daemon
refreshes a 10,000-DVD collection (details and posters, one request each) against the sandbox,
next to the same pages on an idle daemon; and the refresh's own pace with the page being read.

Run: .venv/bin/python bench/web_bench.py [--dvds N]
The sandbox runs in its own process (as TMDB would), the daemon in another (as in production),
and one client here asks for one page after another, as fast as they come back.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine_bench import free_port, seed_collection, settings_for, start_sandbox

from projections import commands as command_table
from projections.commands import Status
from tracker.db import Database
from tracker.engine.submit import enqueue

RATE_PER_S, CONCURRENCY = 200, 48


def routes(count: int) -> list[tuple[str, str]]:
    """(kind, path) of one round of page views."""
    dvd = random.randint(1, count)
    return [("collection", "/"), ("search", "/?search=Film%2000012"), ("dvd page", f"/dvds/{dvd}"),
            ("api dvds (100)", f"/api/dvds?limit=100&offset={random.randint(0, count - 100)}"),
            ("api dvd", f"/api/dvds/{dvd}"), ("commands", "/commands"), ("api commands", "/api/commands"),
            ("badges", "/badges"), ("healthz", "/healthz"), ("metrics", "/metrics")]


def get(url: str) -> tuple[int, float]:
    """Status and milliseconds of one GET."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, (time.perf_counter() - started) * 1000


def browse(base: str, count: int, until, min_rounds: int = 0) -> dict[str, list[tuple[int, float]]]:
    """Round after round of page views until ``until()`` (and at least ``min_rounds`` rounds)."""
    seen: dict[str, list[tuple[int, float]]] = {}
    rounds = 0
    while rounds < min_rounds or not until():
        for kind, path in routes(count):
            seen.setdefault(kind, []).append(get(base + path))
        rounds += 1
    return seen


def command_state(db_path: Path, command_id: str) -> tuple[str, str | None, str | None, int]:
    """status, started_at, finished_at and processed of a command."""
    with Database(db_path) as db:
        row = command_table.status_row(db.conn, command_id)
    assert row is not None  # queued before the benchmark watches it
    return row.status, row.started_at, row.finished_at, row.processed


def table(idle: dict, busy: dict) -> list[str]:
    """Markdown rows: per kind, p50/p95/max ms idle and during the refresh, and non-200 answers."""
    rows = ["| page | idle p50 ms | idle p95 ms | refresh: views | p50 ms | p95 ms | max ms | not 200 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in busy:
        i = sorted(ms for _, ms in idle[kind])
        b = sorted(ms for _, ms in busy[kind])
        bad = sum(status != 200 for status, _ in busy[kind] + idle[kind])
        rows.append(f"| {kind} | {statistics.median(i):.1f} | {i[int(len(i) * .95)]:.1f} | {len(b)} | "
                    f"{statistics.median(b):.1f} | {b[int(len(b) * .95)]:.1f} | {b[-1]:.1f} | {bad} |")
    return rows


def refresh(count: int, *, read_pages: bool) -> tuple[float, int, dict, dict]:
    """A daemon refreshing ``count`` DVDs, its page read meanwhile or not: seconds, DVDs, views."""
    port = free_port()
    sandbox = start_sandbox(port, count, RATE_PER_S)
    daemon = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(Path(tmp), port, RATE_PER_S, CONCURRENCY)
            seed_collection(settings, count)
            web = free_port()
            env = {**os.environ, "TRACKER_HOME": tmp, "TMDB_API_KEY": "sandbox-key",
                   "TMDB_BASE_URL": settings.tmdb_base_url, "TMDB_IMAGE_BASE_URL": settings.tmdb_image_base_url,
                   "YTS_BASE_URL": settings.yts_base_url, "TRACKER_TMDB_RATE": str(RATE_PER_S),
                   "TRACKER_CONCURRENCY": str(CONCURRENCY)}
            daemon = subprocess.Popen([sys.executable, "-m", "tracker.cli", "daemon", "--http", f"127.0.0.1:{web}"],
                                      env=env, stderr=subprocess.PIPE, text=True)
            while "web page at" not in (line := daemon.stderr.readline()):  # then it listens
                if not line:
                    raise SystemExit("the daemon stopped before serving its page")
            base = f"http://127.0.0.1:{web}"
            idle_until = time.monotonic() + 5
            idle = browse(base, count, lambda: time.monotonic() > idle_until, min_rounds=5) if read_pages else {}
            with Database(settings.db_path) as db:
                command_id, _ = enqueue(db, "refresh-missing-details", {})
            done = lambda: command_state(settings.db_path, command_id)[0] == Status.COMPLETED  # noqa: E731
            if read_pages:
                busy = browse(base, count, done)
            else:
                busy = {}
                while not done():
                    time.sleep(0.2)
            _, started, finished, processed = command_state(settings.db_path, command_id)
        elapsed_s = (datetime.fromisoformat(finished[:-1]) - datetime.fromisoformat(started[:-1])).total_seconds()
        return elapsed_s, processed, idle, busy
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait()
        sandbox.terminate()
        sandbox.wait()


def main() -> None:
    """The refresh with its pages read, then without; prints the figures as markdown."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dvds", type=int, default=10_000)
    args = parser.parse_args()
    elapsed_s, processed, idle, busy = refresh(args.dvds, read_pages=True)
    views = sum(len(v) for v in busy.values())
    alone_s, alone_processed, _, _ = refresh(args.dvds, read_pages=False)
    print(f"refresh-missing-details of {args.dvds} DVDs at a TMDB rate of {RATE_PER_S}/s "
          f"(TRACKER_CONCURRENCY={CONCURRENCY}):")
    print(f"- pages read all along ({views} views, {views / elapsed_s:.0f}/s): {processed} DVDs in "
          f"{elapsed_s:.1f} s, {processed / elapsed_s / RATE_PER_S:.2f} of the ceiling")
    print(f"- no page read: {alone_processed} DVDs in {alone_s:.1f} s, "
          f"{alone_processed / alone_s / RATE_PER_S:.2f} of the ceiling\n")
    print("\n".join(table(idle, busy)))


if __name__ == "__main__":
    main()
