"""sync against a --force refresh: 10,000 tracked titles of which 1% changed at TMDB.

The sandbox runs in its own process at TMDB's 40 requests/s with 100 ms latency; its change
lists name 2,000 untracked ids a day per media type (TMDB's real lists name thousands) besides
the 100 edited DVDs. Both legs start from the same collection, every DVD holding details and a
poster on disk. Figures: TMDB requests (details, change-list pages), image downloads, seconds,
and sync's requests against the target (change-list pages + changed tracked titles, within 5%).

The --force leg takes 10,000 / 40 = 250 s at the rate ceiling alone, so by default it runs on a
sample of 1,000 DVDs (--limit) and the full figure is extrapolated linearly (requests scale 1:1
with DVDs, time with requests at a fixed rate); --full runs all 10,000.

Run: .venv/bin/python bench/sync_bench.py [--full] [--titles N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import free_port, sandbox_call, settings_for, start_sandbox

from events.types import DvdAdded, DvdDetailsRefreshed, DvdPosterSaved
from tracker.db import Database
from tracker.engine.engine import run_engine
from tracker.engine.submit import enqueue
from tracker.sandbox.synthetic import MOVIE_ID_BASE, synthetic_movie

RATE = 40.0
NOISE_PER_DAY = 2000
CHANGED_SHARE = 0.01
FORCE_SAMPLE = 1000


def seed_collection(settings, count: int) -> None:
    """``count`` DVDs with details and posters on disk, recorded directly (not what is measured)."""
    settings.posters_dir.mkdir(parents=True, exist_ok=True)
    events = []
    for n in range(count):
        film = synthetic_movie(n)
        dvd_id, path = n + 1, film["poster_path"] or ""
        events += [DvdAdded(dvd_id=dvd_id, title=film["title"], tmdb_id=film["id"]),
                   DvdDetailsRefreshed(dvd_id=dvd_id, tagline=film["tagline"], poster_path=path,
                                       vote_count=film["vote_count"])]
        if path:
            (settings.posters_dir / path.lstrip("/")).touch()
            events.append(DvdPosterSaved(dvd_id=dvd_id, poster=f"media/posters/{path.lstrip('/')}"))
    with Database(settings.db_path) as db:
        db.record(events)


async def timed(settings, name: str, options: dict) -> float:
    """Seconds the engine takes to run one command to its end."""
    with Database(settings.db_path) as db:
        command_id, _ = enqueue(db, name, options)
    started = time.perf_counter()
    await run_engine(settings, until=command_id)
    return time.perf_counter() - started


def leg(settings, port: int, name: str, options: dict) -> dict:
    """One command's seconds and the sandbox's counts of what it was asked."""
    sandbox_call(port, "reset-stats", {})
    elapsed_s = asyncio.run(timed(settings, name, options))
    routes = sandbox_call(port, "stats")["by_route"]
    pages = routes.get("movie_changes", 0) + routes.get("tv_changes", 0)
    details = routes.get("movie_details", 0) + routes.get("tv_details", 0)
    with Database(settings.db_path) as db:
        failed = db.conn.execute("SELECT COALESCE(SUM(failed), 0) FROM commands WHERE name = ?",
                                 (name,)).fetchone()[0]
    return {"elapsed_s": elapsed_s, "pages": pages, "details": details,
            "images": routes.get("image", 0), "failed": failed}


def run(titles: int, full: bool) -> list[dict]:
    """Both legs against one sandbox; the table rows."""
    changed = [MOVIE_ID_BASE + n for n in range(0, titles, int(1 / CHANGED_SHARE))]
    port = free_port()
    sandbox = start_sandbox(port, titles, RATE, change_noise_per_day=NOISE_PER_DAY)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(Path(tmp), port, RATE, 16)
            seed_collection(settings, titles)
            sandbox_call(port, "edit", {"media_type": "movie", "ids": changed})
            s = leg(settings, port, "sync", {})
            sample = titles if full else min(titles, FORCE_SAMPLE)
            f = leg(settings, port, "refresh-missing-details", {"force": True, "limit": sample})
    finally:
        sandbox.terminate()
        sandbox.wait()
    scale = titles / sample
    target = s["pages"] + len(changed)
    sync_requests = s["pages"] + s["details"]
    force_requests = round(f["details"] * scale)
    return [
        {"leg": "sync", "titles": titles, "changed": len(changed), "change_list_pages": s["pages"],
         "detail_requests": s["details"], "tmdb_requests": sync_requests, "images": s["images"],
         "seconds": round(s["elapsed_s"], 1), "failed": s["failed"],
         "vs_target": f"{sync_requests}/{target} = {sync_requests / target:.3f}"},
        {"leg": "refresh --force" + ("" if full else f" (sample {sample}, x{scale:g})"),
         "titles": titles, "changed": len(changed), "change_list_pages": 0,
         "detail_requests": force_requests, "tmdb_requests": force_requests,
         "images": round(f["images"] * scale), "seconds": round(f["elapsed_s"] * scale, 1),
         "failed": f["failed"], "vs_target": f"{force_requests / target:.1f}x the target"},
    ]


def main() -> None:
    """Run and print one markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--titles", type=int, default=10_000, help="tracked DVDs (default 10000)")
    parser.add_argument("--full", action="store_true", help="run --force on every DVD, not a sample")
    args = parser.parse_args()
    rows = run(args.titles, args.full)
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
