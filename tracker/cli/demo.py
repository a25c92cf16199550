"""``tracker demo``: the sandbox in-process, the sample collection, and the whole set-up workflow."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from tracker.cli import output
from tracker.commands import COMMANDS
from tracker.commands.badges import earned
from tracker.config import DEFAULT_HTTP, Settings, load_settings
from tracker.db import Database
from tracker.engine.engine import run_engine
from tracker.engine.submit import enqueue
from tracker.errors import CannotListen

# The initial-setup workflow, in the order a new user runs it.
STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("load-sample-data", {}),
    ("match-tmdb-ids", {}),
    ("populate-imdb-ids", {}),
    ("refresh-missing-details", {}),
    ("normalize-uk-certifications", {}),
    ("refresh-torrent-data", {}),
    ("populate-genres", {}),
    ("populate-db", {"media_type": "both", "pages": 2}),
    ("update-details", {"media_type": "both"}),
    ("update-watch-providers", {"media_type": "both", "region": ["GB", "US"]}),
    ("get-providers-logo", {}),
    ("create-initial-badges", {}),
)


async def run_step(settings: Settings, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Queue one command and run it here as the engine; its recorded summary and status."""
    options = COMMANDS[name].validate(dict(options), settings)
    with Database(settings.db_path) as db:
        command_id, _ = enqueue(db, name, options)
    await run_engine(settings, until=command_id)
    with Database(settings.db_path) as db:
        status, summary, reason = db.conn.execute(
            "SELECT status, summary, reason FROM commands WHERE command_id = ?", (command_id,)).fetchone()
    result = msgspec.json.decode(summary) if summary else {"command": name, "command_id": command_id}
    result.update(status=status, reason=reason)
    return result


def collection_summary(db: Database) -> list[dict[str, Any]]:
    """What the workflow built: one row per thing counted."""
    q = lambda sql: db.conn.execute(sql).fetchone()[0]  # noqa: E731
    return [
        {"what": "DVDs", "count": q("SELECT COUNT(*) FROM dvds")},
        {"what": "  with a TMDB id", "count": q("SELECT COUNT(tmdb_id) FROM dvds")},
        {"what": "  with an IMDb id", "count": q("SELECT COUNT(*) FROM dvds WHERE imdb_id > ''")},
        {"what": "  with details", "count": q("SELECT COUNT(details_refreshed_at) FROM dvds")},
        {"what": "  with a poster", "count": q("SELECT COUNT(poster) FROM dvds")},
        {"what": "  with torrents on YTS", "count": q("SELECT COUNT(*) FROM dvds WHERE torrents > '[]'")},
        {"what": "movies", "count": q("SELECT COUNT(*) FROM movies")},
        {"what": "TV shows", "count": q("SELECT COUNT(*) FROM tv")},
        {"what": "genres", "count": q("SELECT COUNT(*) FROM genres")},
        {"what": "providers", "count": q("SELECT COUNT(*) FROM providers")},
        {"what": "  with a logo", "count": q("SELECT COUNT(logo) FROM providers")},
        {"what": "offers", "count": q("SELECT COUNT(*) FROM availability")},
        {"what": "badges", "count": q("SELECT COUNT(*) FROM badges")},
        {"what": "  earned by the collection", "count": sum(b["earned"] for b in earned(db.conn))},
        {"what": "events in the log", "count": q("SELECT COUNT(*) FROM events")},
    ]


async def _demo(home: Path) -> int:
    """Run every step against the in-process sandbox; 0 when nothing failed."""
    from tracker.sandbox.server import Sandbox
    failed = 0
    async with Sandbox() as sb:
        env = {**sb.env(), "TRACKER_YTS_RATE": "20"}  # the sandbox is local: no need to crawl
        settings = load_settings(home=home, env=env)
        print(f"tracker demo: sandbox at {sb.tmdb_base_url}, home {home}\n")
        rows = []
        for name, options in STEPS:
            if name not in COMMANDS:
                continue
            s = await run_step(settings, name, options)
            failed += s.get("failed", 0) + (s["status"] != "completed")
            rows.append({"step": name, "status": s["status"], "processed": s.get("processed", 0),
                         "updated": s.get("updated", 0), "skipped": s.get("skipped", 0),
                         "failed": s.get("failed", 0)})
            for f in s.get("failures", []):
                print(f"  {name}: failed {f['item']}: {f['reason']}")
    print(output.table(rows, ["step", "status", "processed", "updated", "skipped", "failed"]))
    with Database(settings.db_path) as db:
        print(output.table(collection_summary(db), ["what", "count"]))
    print(f"Explore it: tracker --home {home} export dvds | less;  tracker --home {home} history")
    return 1 if failed else 0


async def _serve(home: Path) -> None:
    """Serve the demo's home on loopback until Ctrl-C (another port if the usual one is taken)."""
    settings = load_settings(home=home)
    print("\nServing it on loopback; open the address below in a browser. Ctrl-C stops.", flush=True)
    try:
        await run_engine(settings, http=DEFAULT_HTTP)
    except CannotListen:  # the usual port is taken (say, by `tracker sandbox`): let the OS pick
        await run_engine(settings, http="127.0.0.1:0")


def run_demo(home: str | None, *, serve: bool = False) -> int:
    """``tracker demo``: a fresh temp home unless --home is given; ``serve``: then its web page."""
    path = Path(home).expanduser() if home else Path(tempfile.mkdtemp(prefix="tracker-demo-"))
    code = asyncio.run(_demo(path))
    if serve:
        asyncio.run(_serve(path))
    return code
