"""``tracker daemon``: the engine left running, saying in its log when it starts and stops."""

from __future__ import annotations

import asyncio
import os
import signal

from tracker import __version__
from tracker.config import Settings
from tracker.engine.engine import run_engine
from tracker.engine.schedule import Scheduler, load_schedule
from tracker.errors import DiskFull, EngineBusy, TrackerError
from tracker.log import get_logger

log = get_logger("tracker.daemon")


def run_daemon(settings: Settings, *, until_idle: bool = False, http: str | None = None) -> int:
    """Run until SIGTERM/SIGINT (exit 0) or, with --until-idle, until nothing is queued.

    The long-running daemon keeps the schedule (a bad entry is refused here, exit 2); with
    --until-idle it only drains what is queued, as cron, the schedule there, expects.
    """
    scheduler, schedule_text = None, "none (--until-idle runs only what is queued)"
    if not until_idle:
        schedule = load_schedule(settings)
        entries = ", ".join(f"{e.label} every {e.every}" for e in schedule.entries)
        schedule_text = f"{schedule.source}: {entries or 'off'}"
        scheduler = Scheduler(schedule) if schedule.entries else None

    def started() -> None:
        log.info("daemon.started", version=__version__, home=str(settings.home), pid=os.getpid(),
                 until_idle=until_idle, http=http, schedule=schedule_text, **start_details(settings))
    try:
        sig = asyncio.run(run_engine(settings, until_idle=until_idle, role="daemon", http=http,
                                     scheduler=scheduler, on_ready=started))
    except EngineBusy as exc:
        raise TrackerError(f"already running: {exc}; one engine per database") from exc
    except DiskFull as exc:
        log.error("daemon.stopped", reason="disk full", detail=str(exc))
        raise
    reason = f"signal {signal.Signals(sig).name}" if sig else "idle" if until_idle else "stopped"
    log.info("daemon.stopped", reason=reason)
    return 0


def start_details(settings: Settings) -> dict[str, object]:
    """What the start line reports beside version and home: the limits in force."""
    return {"tmdb_rate_per_s": settings.tmdb_rate_per_s, "yts_rate_per_s": settings.yts_rate_per_s,
            "concurrency": settings.concurrency}
