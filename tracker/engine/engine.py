"""The engine: one per database; takes intents in order and runs them, resuming interrupted ones."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from typing import Any

from events.types import CommandCancelled, CommandFailed
from projections import commands as command_table
from projections.commands import TERMINAL, Runnable
from tracker import checkpoints
from tracker.clients.http import HttpStats
from tracker.clients.session import Clients
from tracker.commands import COMMANDS
from tracker.commands.base import Item, Outcome, Run
from tracker.config import Settings
from tracker.db import Database
from tracker.engine.lock import EngineLock
from tracker.engine.runner import CommandAborted, run_command, summarize
from tracker.engine.schedule import Scheduler, load_schedule
from tracker.engine.stats import EngineStats
from tracker.engine.writer import Writer
from tracker.errors import KNOWN_ERRORS, EngineBusy, TrackerError
from tracker.log import get_logger

log = get_logger("tracker.engine")
IDLE_CHECK_S = 1.0  # how often an idle engine looks for new intents (a cheap PRAGMA, no busy loop)
CANCEL_CHECK_S = 0.5
# A command that starts this many times in a row and records no item before its process stops
# is failed with that reason instead of being started again: it would stop the daemon forever.
MAX_BARREN_STARTS = 5
OnItem = Callable[[str, Item, Outcome], None]
OnTotal = Callable[[str, "int | None", int], None]  # command id, items selected, already done


class Engine:
    """Consumes intents from the log; ``async with`` takes the lock and opens what it needs."""

    def __init__(self, settings: Settings, *, on_item: OnItem | None = None,
                 on_total: OnTotal | None = None, scheduler: Scheduler | None = None) -> None:
        """Nothing is opened until ``async with``; the callbacks see every command's progress.

        With a ``scheduler`` (the daemon's), due entries are enqueued before each pick and an
        idle wait ends when the next one falls due.
        """
        self.settings = settings
        self.scheduler = scheduler
        self.on_item = on_item
        self.on_total = on_total
        self.lock = EngineLock(settings.db_path)
        self.stopping = False
        self.stats = EngineStats()
        self._wake = asyncio.Event()
        self._cancelled: set[str] = set()
        self._stack = AsyncExitStack()
        self._clients: Clients | None = None

    async def __aenter__(self) -> Engine:
        if not self.lock.acquire():
            raise EngineBusy(f"another engine holds {self.settings.db_path}")
        self._stack.callback(self.lock.release)
        self.reader = Database(self.settings.db_path)
        self._stack.callback(self.reader.close)
        writer_db = Database(self.settings.db_path)
        self._stack.callback(writer_db.close)
        self.writer = await self._stack.enter_async_context(
            Writer(writer_db, on_recorded=self.stats.recorded))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def stop(self) -> None:
        """Finish in-flight items, record them, and stop (the command resumes next time)."""
        self.stopping = True
        self._wake.set()

    @property
    def state(self) -> str:
        """"running" while it takes commands; "stopping" once asked to; "failed" if it cannot record."""
        if self.writer.failed:
            return "failed"
        return "stopping" if self.stopping else "running"

    @property
    def http_stats(self) -> HttpStats | None:
        """What the HTTP client has done, once a command has needed the network."""
        return self._clients.http.stats if self._clients is not None else None

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT checkpoint and stop; a second one stops at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        log.info("engine_stopping", signal=signal.Signals(sig).name)
        loop = asyncio.get_running_loop()
        loop.remove_signal_handler(sig)  # a second signal takes the default (immediate) way
        self.stop()

    async def run(self, *, until: str | None = None, until_idle: bool = False) -> None:
        """Run intents in order: until command ``until`` ends, until idle, or until stopped."""
        watcher = asyncio.create_task(self._watch_cancels())
        try:
            while not self.stopping:
                if until is not None and command_table.status_of(self.reader.conn, until) in TERMINAL:
                    return
                self._enqueue_due()
                runnable = command_table.next_runnable(self.reader.conn)
                if runnable is None:
                    if until_idle or until is not None:
                        return
                    await self._wait_for_work()
                    continue
                await self._run_one(runnable)
                # After a big command, a checkpoint: time travel to now starts there.
                await self.writer.call(checkpoints.save_if_due)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    def _enqueue_due(self) -> None:
        """Queue the schedule's due entries (an equal queued or running one is not doubled)."""
        if self.scheduler is None:
            return
        for entry, command_id in self.scheduler.enqueue_due(self.reader):
            log.info("schedule_due", command=entry.label, every=entry.every, command_id=command_id)

    def _due_in_s(self) -> float | None:
        """Seconds until the schedule's next entry falls due (None: nothing scheduled)."""
        return None if self.scheduler is None else self.scheduler.seconds_until_due(self.reader)

    async def _wait_for_work(self) -> None:
        """Sleep until the database changes (another process appended), a scheduled entry falls
        due, or we are stopped."""
        version = self.reader.data_version()
        due_in_s = self._due_in_s()
        due_at = None if due_in_s is None else time.monotonic() + due_in_s
        while not self.stopping:
            left_s = IDLE_CHECK_S if due_at is None else min(IDLE_CHECK_S, due_at - time.monotonic())
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, left_s))
            self._wake.clear()
            if due_at is not None and time.monotonic() >= due_at:
                return
            if self.reader.data_version() != version:
                return

    async def _watch_cancels(self) -> None:
        """Notice cancel requests for running commands without asking the database per item."""
        while True:
            await asyncio.sleep(CANCEL_CHECK_S)
            self._cancelled.update(command_table.cancel_requested_running(self.reader.conn))

    async def _clients_for(self, network: bool) -> Clients | None:
        """The network clients, opened on first need and kept for the engine's life."""
        if network and self._clients is None:
            self._clients = await self._stack.enter_async_context(Clients(self.settings))
        return self._clients if network else None

    async def _run_one(self, runnable: Runnable) -> None:
        """Run (or resume) one command and record how it ended."""
        command_id, name = runnable.command_id, runnable.name
        cmd = COMMANDS.get(name)
        if cmd is None:
            await self._end(CommandFailed(command_id=command_id, reason=f"unknown command {name!r}"))
            return
        if runnable.cancel_requested:
            await self._end(CommandCancelled(command_id=command_id))
            return
        barren = self._barren_starts(command_id)
        if barren >= MAX_BARREN_STARTS:
            # Whatever stops the process (a crash, the kernel's OOM killer) would stop it again:
            # give up on this command, so the queue and the daemon go on.
            await self._end(CommandFailed(command_id=command_id, reason=(
                f"started {barren} times in a row and stopped each time before recording an "
                f"item; not started again (tracker {name} runs it anew)")))
            return
        on_item = (lambda item, outcome: self.on_item(command_id, item, outcome)) if self.on_item else None
        on_total = (lambda total, done: self.on_total(command_id, total, done)) if self.on_total else None
        stop = lambda: self.stopping or command_id in self._cancelled  # noqa: E731
        log.info("command_started", command=name, command_id=command_id)
        try:
            run = Run(command_id, name, runnable.options, self.settings, self.reader,
                      clients=await self._clients_for(cmd.network))
            summary = await run_command(cmd, run, self.writer, concurrency=self.settings.concurrency,
                                        on_item=on_item, on_total=on_total, should_stop=stop)
        except CommandAborted as exc:
            log.warning("command_failed", command=name, command_id=command_id, reason=str(exc))
            return
        except KNOWN_ERRORS as exc:
            await self._end(CommandFailed(command_id=command_id, reason=str(exc)))
            return
        except Exception as exc:
            log.debug("command_crashed", command=name, command_id=command_id, exc_info=True)
            await self._end(CommandFailed(command_id=command_id,
                                          reason=f"internal error: {type(exc).__name__}: {exc}"))
            return
        if summary is None and command_id in self._cancelled:
            summary = await summarize(cmd, run, self.writer)
            await self._end(CommandCancelled(command_id=command_id, summary=summary))

    def _barren_starts(self, command_id: str) -> int:
        """How many times in a row the command started without recording an item since."""
        count = 0
        for type_ in self.reader.store.last_types(command_id, 2 * MAX_BARREN_STARTS + 2):
            if type_ == "ItemProcessed":
                break
            count += type_ == "CommandStarted"
        return count

    async def _end(self, event: Any) -> None:
        await self.writer.write([event], event.command_id)
        await self.writer.flush()


async def run_engine(settings: Settings, *, until: str | None = None, until_idle: bool = False,
                     on_item: OnItem | None = None, on_total: OnTotal | None = None,
                     http: str | None = None, scheduler: Scheduler | None = None) -> None:
    """Take the lock and run (serving the web page on ``http``, HOST:PORT, if given)."""
    async with Engine(settings, on_item=on_item, on_total=on_total, scheduler=scheduler) as engine:
        engine.install_signal_handlers()
        async with AsyncExitStack() as stack:
            if http:
                from tracker.web.app import serve_web  # aiohttp.web, jinja2: only when asked for
                await stack.enter_async_context(serve_web(settings, engine, http))
            await engine.run(until=until, until_idle=until_idle)


def run_daemon(settings: Settings, *, until_idle: bool = False, http: str | None = None) -> int:
    """``tracker daemon``: 0 after SIGTERM/SIGINT or (with --until-idle) once idle.

    The long-running daemon keeps the schedule (a bad entry is refused here, exit 2); with
    --until-idle it only drains what is queued, as cron, the schedule there, expects.
    """
    scheduler = None
    if not until_idle:
        schedule = load_schedule(settings)
        log.info("schedule", source=schedule.source, entries=[e.label for e in schedule.entries],
                 left_out=list(schedule.left_out))
        scheduler = Scheduler(schedule) if schedule.entries else None
    try:
        asyncio.run(run_engine(settings, until_idle=until_idle, http=http, scheduler=scheduler))
    except EngineBusy as exc:
        raise TrackerError(f"{exc}: a daemon is already running") from exc
    return 0
