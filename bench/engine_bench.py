"""Engine throughput against the sandbox: achieved DVDs/s over the rate ceiling, requests per
DVD and 429s, for refresh-missing-details; and the old Django way (one DVD at a time, one
request per kind of data) as a baseline.

Run: .venv/bin/python bench/engine_bench.py [--quick] [--repeat N] [--rate R ...]
The sandbox runs in its own process, as TMDB would; figures go to stdout as a markdown table.
With --repeat, each rate runs N times and the run with the median DVDs/s is reported.

Concurrency: the items in flight must cover rate x latency x round trips per item (Little's
law). An item here is two round trips, the details and then the poster, and the sandbox serves
both from one host, so its per-host gate must hold them all: R=200 at L=100 ms needs
TRACKER_CONCURRENCY >= 200 x 0.1 x 2 = 40 (48 here, for the queue at the limiter); R=40 needs
8 (the default 16 is plenty).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from projections import dvds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.clients.session import Clients
from tracker.config import load_settings
from tracker.db import Database
from tracker.engine.engine import run_engine
from tracker.engine.submit import enqueue
from tracker.sandbox.synthetic import synthetic_titles

LATENCY_S = 0.1


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(port: int, count: int, rate: float, **knobs: object) -> subprocess.Popen:
    """The sandbox in its own process: latency on TMDB and YTS, a rate limit answered with 429
    (and any other ``knobs``)."""
    extra = "".join(f", {name}={value!r}" for name, value in knobs.items())
    code = ("from tracker.sandbox.server import run_sandbox; "
            f"run_sandbox({port}, synthetic_count={count}, latency_s={LATENCY_S}, "
            f"rate_per_s={rate}, fault_hosts=('tmdb', 'yts'){extra})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # the first export line: it is listening
    return proc


def sandbox_call(port: int, path: str, body: dict | None = None) -> dict:
    """GET (or POST ``body`` to) one of the sandbox's control paths."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/__sandbox/{path}", data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"{}")


def settings_for(home: Path, port: int, rate: float, concurrency: int):
    """Settings pointing every host at the sandbox, at TMDB rate ``rate``."""
    env = {"TMDB_BASE_URL": f"http://127.0.0.1:{port}/3", "TMDB_IMAGE_BASE_URL": f"http://127.0.0.1:{port}/t/p",
           "YTS_BASE_URL": f"http://127.0.0.1:{port}/api/v2", "TMDB_API_KEY": "sandbox-key",
           "TRACKER_TMDB_RATE": str(rate), "TRACKER_CONCURRENCY": str(concurrency)}
    return load_settings(home=home, env=env)


def seed_collection(settings, count: int) -> None:
    """``count`` DVDs with TMDB ids, recorded directly (the import is not what is measured)."""
    from events.types import DvdAdded
    with Database(settings.db_path) as db:
        events = [DvdAdded(dvd_id=i + 1, title=t, year=y, tmdb_id=tid)
                  for i, (t, y, tid, _) in enumerate(synthetic_titles(count))]
        db.record(events)


async def engine_run(settings) -> tuple[float, float]:
    """refresh-missing-details through the engine; elapsed seconds and CPU seconds (all threads)."""
    with Database(settings.db_path) as db:
        command_id, _ = enqueue(db, "refresh-missing-details", {})
    started, cpu_started = time.perf_counter(), time.process_time()
    await run_engine(settings, until=command_id)
    return time.perf_counter() - started, time.process_time() - cpu_started


async def baseline_run(settings, count: int) -> float:
    """The Django command's way: one DVD at a time, details + credits + release dates + ids + poster."""
    from tracker.clients.files import safe_file_name
    from tracker.clients.tmdb import image_url
    settings.posters_dir.mkdir(parents=True, exist_ok=True)
    async with Clients(settings) as c:
        started = time.perf_counter()
        for _, _, tmdb_id, _ in synthetic_titles(count):
            d = await c.tmdb.movie_details(tmdb_id, append=())
            await c.tmdb.movie_credits(tmdb_id)
            await c.tmdb.movie_release_dates(tmdb_id)
            await c.tmdb.movie_external_ids(tmdb_id)
            if d.poster_path:
                dest = settings.posters_dir / safe_file_name(d.poster_path)
                await c.http.download("images", image_url(settings, "w500", d.poster_path), dest)
        return time.perf_counter() - started


def measure(rate: float, count: int, concurrency: int, baseline_count: int) -> dict:
    """One engine run (and optionally the baseline) against a fresh sandbox; one table row."""
    port = free_port()
    sandbox = start_sandbox(port, count, rate)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(Path(tmp), port, rate, concurrency)
            seed_collection(settings, count)
            sandbox_call(port, "reset-stats", {})
            elapsed, cpu_s = asyncio.run(engine_run(settings))
            stats = sandbox_call(port, "stats")
            with Database(settings.db_path) as db:
                done = dvds.counts(db.conn).with_details
        row = {"rate": rate, "dvds": count, "concurrency": concurrency, "elapsed_s": round(elapsed, 2),
               "dvds_per_s": round(count / elapsed, 1), "of_ceiling": round(count / elapsed / rate, 3),
               "cpu_ms_per_dvd": round(cpu_s * 1000 / count, 2),
               "requests_per_dvd": round(stats["by_route"].get("movie_details", 0) / count, 3),
               "http_429": stats.get("rate_limited", 0), "requests": stats["requests"], "refreshed": done}
        if baseline_count:
            with tempfile.TemporaryDirectory() as tmp:
                settings = settings_for(Path(tmp), port, rate, concurrency)
                sandbox_call(port, "reset-stats", {})
                b_elapsed = asyncio.run(baseline_run(settings, baseline_count))
                b_stats = sandbox_call(port, "stats")
            row["baseline_dvds_per_s"] = round(baseline_count / b_elapsed, 2)
            row["baseline_requests_per_dvd"] = round(
                (b_stats["by_host"].get("tmdb", 0)) / baseline_count, 2)
            row["speedup"] = round(row["dvds_per_s"] / row["baseline_dvds_per_s"], 1)
        return row
    finally:
        sandbox.terminate()
        sandbox.wait()


# rate -> (DVDs, TRACKER_CONCURRENCY, baseline DVDs) of a full run
PLANS = {40: (600, 16, 40), 200: (2000, 48, 0)}


def median_run(rate: int, scale: float, repeat: int) -> dict:
    """``repeat`` runs at ``rate``; the one with the median DVDs/s."""
    count, concurrency, baseline = PLANS[rate]
    rows = [measure(rate, int(count * scale), concurrency, int(baseline * scale)) for _ in range(repeat)]
    rows.sort(key=lambda r: r["dvds_per_s"])
    row = rows[len(rows) // 2]
    if repeat > 1:
        row["runs_of_ceiling"] = " / ".join(str(r["of_ceiling"]) for r in rows)
    return row


def main() -> None:
    """Run the plans asked for and print one markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--repeat", type=int, default=1, help="runs per rate; the median is shown")
    parser.add_argument("--rate", type=int, action="append", choices=sorted(PLANS),
                        help="only this rate (repeatable)")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    runs = [median_run(rate, scale, args.repeat) for rate in (args.rate or sorted(PLANS))]
    cols = list(dict.fromkeys(c for r in runs for c in r))
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in runs:
        print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")


if __name__ == "__main__":
    main()
