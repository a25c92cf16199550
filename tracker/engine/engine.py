"""The engine: one per database; takes intents in order and runs them, resuming interrupted ones."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog

from events.types import CommandCancelled, CommandFailed, CommandInterrupted
from projections import commands as command_table
from projections.commands import TERMINAL, Runnable
from tracker.checkpoint_saver import BackgroundSaver
from tracker.commands import COMMANDS
from tracker.commands.base import Item, Outcome, Run
from tracker.config import Settings
from tracker.db import Database
from tracker.engine.runner import CommandAborted, RunControl, run_command, summarize
from tracker.engine.schedule import Scheduler
from tracker.engine.stats import EngineStats
from tracker.engine.wake import WakeListener
from tracker.engine.writer import Writer
from tracker.engine_lock import EngineLock
from tracker.errors import KNOWN_ERRORS, DiskFull, EngineBusy
from tracker.log import get_logger
from tracker.textfmt import reason_text

if TYPE_CHECKING:  # aiohttp takes 0.3 s to import: offline commands never load it
    from tracker.clients.http import HttpStats
    from tracker.clients.session import Clients

log = get_logger("tracker.engine")
# How often an idle engine looks for new intents when no poke arrives (the poke through the
# wake FIFO is the normal way; this is the fallback, a cheap PRAGMA, no busy loop).
IDLE_CHECK_S = 1.0
CANCEL_CHECK_S = 1.0  # the same fallback for cancel requests (`tracker cancel` pokes too)
# After the first signal, in-flight items this close to an answer are still recorded; the
# rest are abandoned (nothing of theirs was recorded, so they are redone on resume).
STOP_GRACE_S = 0.5
# A command that starts this many times in a row and records no item before its process stops
# is failed with that reason instead of being started again: it would stop the daemon forever.
MAX_BARREN_STARTS = 5
OnItems = Callable[[str, list[tuple[Item, Outcome]]], None]  # command id, items finished
OnTotal = Callable[[str, "int | None", int], None]  # command id, items selected, already done
Announce = Callable[..., None]  # (text, **fields): printed for a person, or logged


def _log_announce(text: str, **fields: Any) -> None:
    """A daemon says what it does through its log."""
    log.info(text, **fields)


class Engine:
    """Consumes intents from the log; ``async with`` takes the lock and opens what it needs."""

    def __init__(self, settings: Settings, *, on_items: OnItems | None = None,
                 on_total: OnTotal | None = None, scheduler: Scheduler | None = None,
                 role: str = "run", announce: Announce = _log_announce) -> None:
        """Nothing is opened until ``async with``; the callbacks see every command's progress.

        With a ``scheduler`` (the daemon's), due entries are enqueued before each pick and an
        idle wait ends when the next one falls due.
        """
        self.settings = settings
        self.scheduler = scheduler
        self.on_items = on_items
        self.on_total = on_total
        self.announce = announce
        self.lock = EngineLock(settings.db_path, role=role)
        self.stopping = False
        self.stop_signal: int | None = None  # the signal that stopped us, if one did
        self.stats = EngineStats()
        self._wake = asyncio.Event()
        self._cancel_poke = asyncio.Event()
        self._cancelled: set[str] = set()
        self._control: RunControl | None = None  # the running command's, if any
        self._stack = AsyncExitStack()
        self._clients: Clients | None = None

    async def __aenter__(self) -> Engine:
        if not self.lock.acquire():
            holder = self.lock.holder()
            raise EngineBusy(holder.describe() if holder else f"another engine holds {self.settings.db_path}",
                             holder=holder)
        self._stack.callback(self.lock.release)
        self.reader = Database(self.settings.db_path)
        self._stack.callback(self.reader.close)
        writer_db = Database(self.settings.db_path)
        self._stack.callback(writer_db.close)
        # Checkpoints inside long commands; closed once the writer has stopped (a stop abandons one).
        self.saver = BackgroundSaver(writer_db)
        self._stack.callback(lambda: self.saver.close(abandon=self.stopping))
        self.writer = await self._stack.enter_async_context(
            Writer(writer_db, on_recorded=self.stats.recorded, after_commit=self.saver.after_commit))
        listener = WakeListener(self.settings.db_path, self._on_poke)
        if listener.open():
            self._stack.callback(listener.close)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def _on_poke(self) -> None:
        """Someone appended (an intent, a cancel): look now rather than at the next poll."""
        self._wake.set()
        self._cancel_poke.set()

    def stop(self) -> None:
        """Take no new items; record what answers within STOP_GRACE_S, abandon the rest, stop."""
        self.stopping = True
        self._wake.set()
        control = self._control
        if control is not None:
            asyncio.get_running_loop().call_later(STOP_GRACE_S, control.abandon.set)

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
        """SIGTERM and SIGINT stop within about a second; a second one exits at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        if self.stop_signal is not None:
            self._exit_now(sig)
            return
        self.stop_signal = sig
        control = self._control
        self.stop()  # first: a stderr nobody reads any more must not keep us running
        if control is not None and control.batched:  # "0 items in flight" read as if nothing would be kept
            text = "stopping: recording the items done so far (again to stop at once)"
        else:
            text = f"stopping: {control.in_flight if control else 0} items in flight (again to stop at once)"
        self._say(text, signal=signal.Signals(sig).name)

    def _say(self, text: str, **fields: Any) -> None:
        """Announce, unless stderr is gone (a closed pipe): stopping matters more than saying so."""
        with suppress(OSError, ValueError):
            self.announce(text, **fields)

    def _exit_now(self, sig: int) -> None:
        """The second signal: leave at once; the log holds only whole transactions, so it is safe."""
        self._say("stopped at once: recorded work is kept; the command resumes on the next run",
                  signal=signal.Signals(sig).name)
        self.lock.release()
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        os._exit(128 + sig)

    async def run(self, *, until: str | None = None, until_idle: bool = False) -> None:
        """Run intents in order: until command ``until`` ends, until idle, or until stopped."""
        watcher = asyncio.create_task(self._watch_cancels())
        try:
            while not self.stopping:
                if until is not None and command_table.status_of(self.reader.conn, until) in TERMINAL:
                    break  # (not return: a save under way is settled below, not left to close)
                self._enqueue_due()
                runnable = command_table.next_runnable(self.reader.conn)
                if runnable is None:
                    if until_idle or until is not None:
                        break
                    await self._catch_up()  # idle: the save the last command left, off anyone's clock
                    await self._wait_for_work()
                    continue
                # The checkpoint at the last command's end is saved now, in the background, while
                # this one runs (see BackgroundSaver.catch_up): no command waits at its end for it.
                await self._catch_up()
                await self._run_one(runnable)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        if not self.stopping:  # stopping: the engine's close stops a save under way at once
            await self._settle_saver()

    async def _settle_saver(self) -> None:
        """Let a checkpoint save under way end (see BackgroundSaver.settle); Ctrl-C stops it, and
        a wait long enough to notice is said, not silent."""
        loop = asyncio.get_running_loop()
        text = "saving a checkpoint of the read tables (Ctrl-C skips it; the next command saves it)"
        await asyncio.to_thread(self.saver.settle, stopped=lambda: self.stopping,
                                on_long_wait=lambda: loop.call_soon_threadsafe(self._say, text))

    async def _catch_up(self) -> None:
        """Begin, in the background, the checkpoint the log's head is due (on the writer's thread,
        after what is recorded)."""
        await self.writer.call(lambda _db: self.saver.catch_up())

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
        """Notice cancel requests for running commands: at once when poked, else every second."""
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._cancel_poke.wait(), timeout=CANCEL_CHECK_S)
            self._cancel_poke.clear()
            self._cancelled.update(command_table.cancel_requested_running(self.reader.conn))

    async def _clients_for(self, network: bool) -> Clients | None:
        """The network clients, opened on first need and kept for the engine's life."""
        if network and self._clients is None:
            from tracker.clients.session import Clients
            self._clients = await self._stack.enter_async_context(Clients(self.settings))
        return self._clients if network else None

    async def _run_one(self, runnable: Runnable) -> None:
        """Run (or resume) one command, with its id on every log line and in the lock file."""
        self.lock.note(runnable.command_id, runnable.name)
        with structlog.contextvars.bound_contextvars(command_id=runnable.command_id):
            try:
                await self._run_command(runnable)
            finally:
                self.lock.note(None, None)

    async def _run_command(self, runnable: Runnable) -> None:
        """Run the command and record how it ended (a full disk stops the engine instead)."""
        command_id, name = runnable.command_id, runnable.name
        cmd = COMMANDS.get(name)
        if cmd is None:
            await self._fail(command_id, name, f"unknown command {name!r}")
            return
        if runnable.cancel_requested:
            await self._end(CommandCancelled(command_id=command_id))
            return
        if await self._refused_as_barren(command_id, name):
            return
        control = self._control = RunControl(
            should_stop=lambda: self.stopping or command_id in self._cancelled)
        started = time.monotonic()
        log.info("command.started", command=name, options=runnable.options)
        try:
            run = Run(command_id, name, runnable.options, self.settings, self.reader,
                      clients=await self._clients_for(cmd.network))
            summary = await run_command(cmd, run, self.writer, concurrency=self.settings.concurrency,
                                        on_items=self._items_callback(command_id),
                                        on_total=self._total_callback(command_id), control=control)
        except CommandAborted as exc:
            log.warning("command.failed", command=name, reason=str(exc))
            return
        except DiskFull:
            raise  # the engine cannot go on; the command resumes once there is room
        except KNOWN_ERRORS as exc:
            await self._fail(command_id, name, str(exc))
            return
        except Exception as exc:  # a daemon outlives a command's bug
            log.debug("command.crashed", command=name, exc_info=True)
            await self._fail(command_id, name, f"internal error: {type(exc).__name__}: {exc}")
            return
        finally:
            self._control = None
        status = "completed" if summary is not None else "interrupted"
        if summary is None and command_id in self._cancelled:
            summary, status = await summarize(cmd, run, self.writer), "cancelled"
            await self._end(CommandCancelled(command_id=command_id, summary=summary))
        elif summary is None:
            await self._end(CommandInterrupted(command_id=command_id))  # a clean stop, not a crash
        _log_end(name, status, summary, time.monotonic() - started, warn=self.lock.role == "daemon")

    async def _refused_as_barren(self, command_id: str, name: str) -> bool:
        """Fail a command that keeps stopping its process before recording an item; True if so."""
        barren = self._barren_starts(command_id)
        if barren < MAX_BARREN_STARTS:
            return False
        # Whatever stops the process (a crash, the kernel's OOM killer) would stop it again:
        # give up on this command, so the queue and the daemon go on.
        await self._fail(command_id, name, (
            f"started {barren} times in a row and stopped each time before recording an "
            f"item; not started again (tracker {name} runs it anew)"))
        return True

    def _items_callback(self, command_id: str) -> Callable[[list[tuple[Item, Outcome]]], None] | None:
        return partial(self.on_items, command_id) if self.on_items else None

    def _total_callback(self, command_id: str) -> Callable[[int | None, int], None] | None:
        on_total = self.on_total
        return (lambda total, done: on_total(command_id, total, done)) if on_total else None

    async def _fail(self, command_id: str, name: str, reason: str) -> None:
        log.warning("command.failed", command=name, reason=reason)
        await self._end(CommandFailed(command_id=command_id, reason=reason))

    def _barren_starts(self, command_id: str) -> int:
        """How many times in a row the command started without recording an item since."""
        count = 0
        for type_ in self.reader.store.last_types(command_id, 2 * MAX_BARREN_STARTS + 2):
            if type_ in ("ItemProcessed", "CommandInterrupted"):  # progress, or a clean stop
                break
            count += type_ == "CommandStarted"
        return count

    async def _end(self, event: Any) -> None:
        await self.writer.write([event], event.command_id)
        await self.writer.flush()


def _log_end(name: str, status: str, summary: dict[str, Any] | None, duration_s: float, *,
             warn: bool) -> None:
    """One line per command end: its counts, and the first failures with their reasons.

    Failures raise it to a warning only in a daemon (``warn``): a run in the foreground has
    just printed the same failures in its summary, and saying them twice is noise.
    """
    if summary is None:
        log.info("command.stopped", command=name, status=status, duration_s=round(duration_s, 2))
        return
    counts = {k: summary.get(k, 0) for k in ("processed", "updated", "skipped", "failed")}
    failures = [f"{f['item']}: {reason_text(f['item'], f['reason'])}" for f in summary.get("failures", [])[:5]]
    level = log.warning if counts["failed"] and warn else log.info
    level("command.finished", command=name, status=status, duration_s=round(duration_s, 2),
          **counts, **({"failures": failures} if failures else {}))


async def run_engine(settings: Settings, *, until: str | None = None, until_idle: bool = False,
                     on_items: OnItems | None = None, on_total: OnTotal | None = None,
                     http: str | None = None, scheduler: Scheduler | None = None, role: str = "run",
                     announce: Announce = _log_announce,
                     on_ready: Callable[[], None] | None = None) -> int | None:
    """Take the lock and run (serving the web page on ``http``, HOST:PORT, if given).

    Returns the signal that stopped it, if one did; EngineBusy if another engine holds the lock.
    """
    engine = Engine(settings, on_items=on_items, on_total=on_total, scheduler=scheduler, role=role,
                    announce=announce)
    # Before the lock is taken: a SIGTERM while the engine opens (systemd stopping it as it
    # starts) must stop it cleanly, not kill it with Python's default action.
    engine.install_signal_handlers()
    async with engine:
        async with AsyncExitStack() as stack:
            if http:
                from tracker.web.app import serve_web  # aiohttp.web, jinja2: only when asked for
                await stack.enter_async_context(serve_web(settings, engine, http))
            if on_ready is not None:
                on_ready()
            await engine.run(until=until, until_idle=until_idle)
        return engine.stop_signal
