"""``tracker demo``: the sandbox in-process, the sample collection, and the whole set-up workflow."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from projections import badges, dvds, providers
from projections import commands as command_table
from projections.commands import Status
from projections.tables import row_count
from tracker.cli import output
from tracker.commands import COMMANDS
from tracker.config import DEFAULT_HTTP, Settings, load_settings
from tracker.db import Database
from tracker.engine.engine import run_engine
from tracker.engine.submit import enqueue
from tracker.errors import CannotListen
from tracker.textfmt import reason_text

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
        end = command_table.ending(db.conn, command_id)
    assert end is not None  # queued just above
    result = end.summary if end.summary is not None else {"command": name, "command_id": command_id}
    result.update(status=end.status, reason=end.reason)
    return result


def collection_summary(db: Database) -> list[dict[str, Any]]:
    """What the workflow built: one row per thing counted."""
    conn = db.conn
    dvd = dvds.counts(conn)
    logos = providers.with_logo(conn)
    counted = [
        ("DVDs", dvd.total), ("  with a TMDB id", dvd.with_tmdb_id),
        ("  with an IMDb id", dvd.with_imdb_id), ("  with details", dvd.with_details),
        ("  with a poster", dvd.with_poster), ("  with torrents on YTS", dvd.with_torrents),
        ("movies", row_count(conn, "movies")), ("TV shows", row_count(conn, "tv")),
        ("genres", row_count(conn, "genres")),
        ("providers", logos.total), ("  with a logo", logos.with_it),
        ("offers", row_count(conn, "availability")), ("badges", row_count(conn, "badges")),
        ("  earned by the collection", sum(b.earned for b in badges.earned(conn))),
        ("events in the log", db.store.count()),
    ]
    return [{"what": what, "count": count} for what, count in counted]


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
            failed += s.get("failed", 0) + (s["status"] != Status.COMPLETED)
            rows.append({"step": name, "status": s["status"], "processed": s.get("processed", 0),
                         "updated": s.get("updated", 0), "skipped": s.get("skipped", 0),
                         "failed": s.get("failed", 0)})
            for f in s.get("failures", []):
                print(f"  {name}: failed {f['item']}: {reason_text(f['item'], f['reason'])}")
    print(output.table(rows, ["step", "status", "processed", "updated", "skipped", "failed"]))
    with Database(settings.db_path) as db:
        print(output.table(collection_summary(db), ["what", "count"]))
    print(f"Explore it: tracker --home {home} export dvds | less;  tracker --home {home} history")
    return 1 if failed else 0


async def _serve(home: Path) -> None:
    """Serve the demo's home on loopback until Ctrl-C (another port if the usual one is taken)."""
    settings = load_settings(home=home)
    print("\nServing it on loopback: open the address below in a browser. Ctrl-C stops.", flush=True)

    def say(text: str, **_fields: Any) -> None:
        print(f"tracker demo: {text}", flush=True)
    try:
        await run_engine(settings, http=DEFAULT_HTTP, announce=say)
    except CannotListen:  # the usual port is taken (say, by `tracker sandbox`): let the OS pick
        await run_engine(settings, http="127.0.0.1:0", announce=say)


def run_demo(home: str | None, *, serve: bool = False) -> int:
    """``tracker demo``: a fresh temp home unless --home is given; ``serve``: then its web page."""
    path = Path(home).expanduser() if home else Path(tempfile.mkdtemp(prefix="tracker-demo-"))
    code = asyncio.run(_demo(path))
    if serve:
        asyncio.run(_serve(path))
    return code
