"""Runs one command: its items with bounded concurrency, each outcome through the writer."""

from __future__ import annotations

import asyncio
import gc
import itertools
import sys
from collections.abc import Callable, Iterator, Sized
from dataclasses import dataclass, field
from typing import Any, ClassVar

from events.types import CommandCompleted, CommandFailed, CommandStarted, Event, ItemProcessed
from projections import commands as command_table
from tracker.commands.base import FAILED, Command, Item, Outcome, Run
from tracker.engine.writer import Writer
from tracker.errors import KNOWN_ERRORS, ApiError, AuthError, BadInputError, NotFound, TrackerError, UnsafePath
from tracker.log import get_logger

log = get_logger("tracker.engine.runner")
# Items finished, with their outcomes: a batched command's chunk at once, one by one otherwise (a
# call per item through the CLI's callbacks cost an import of 250,000 rows ~0.3 s).
OnItems = Callable[[list[tuple[Item, Outcome]]], None]
Entry = tuple[list[Event], str | None]  # what the writer records as one unit: events, command id
# A batched command's items processed between two looks at the stop flag, queued as one unit:
# a chunk takes milliseconds, so a stop is still prompt, and the writer gets whole batches.
CHUNK_ITEMS = 1000
# Python's cyclic GC runs every 700 new containers by default; a batched command makes
# millions of short-lived ones (no cycles among them), and those passes cost a tenth of an
# import's CPU. This threshold bounds what waits for a pass to a few megabytes.
BATCHED_GC_THRESHOLD = 20_000
# The interpreter's switch interval while a batched command runs (Python's default is 5 ms):
# the writer lets go of the GIL inside each SQLite statement (~0.5 ms), this thread takes it to
# prepare the next chunk, and the writer waits this long at most to get it back; at 5 ms it
# waited longer than its statements ran, and this thread's Python did not overlap them.
BATCHED_SWITCH_INTERVAL_S = 0.0005


class CommandAborted(TrackerError):
    """The command as a whole cannot go on (a refused key, a host that stopped answering)."""


@dataclass
class RunControl:
    """How the engine steers a running command: stop taking items, abandon those in flight.

    Abandoning is safe: an item's events are queued for the writer as one unit only once its
    answers are in, so a cancelled item left nothing recorded and is redone on resume.
    """

    should_stop: Callable[[], bool] = lambda: False
    abandon: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    batched: bool = False  # items done at once, a chunk at a time: none is ever in flight


@dataclass
class HostWatch:
    """Counts consecutive items that failed because one host did not answer; says when to stop.

    Stop after ``RUN_LIMIT`` such items in a row, or when the first ``FIRST_LIMIT`` items all
    failed so: a host that is down (or a mistyped base URL) then costs seconds, not a pass over
    the whole collection. One flaky item, or a 404, still fails alone and resets the count.
    """

    RUN_LIMIT: ClassVar[int] = 10
    FIRST_LIMIT: ClassVar[int] = 5
    host: str = ""
    streak: int = 0
    finished: int = 0
    stop_reason: str = ""

    def record(self, error: ApiError | None) -> None:
        """One item ended: ``error`` is the API error it failed with, None if it did not fail so."""
        self.finished += 1
        if error is None or not error.host_down:
            self.host, self.streak = "", 0
            return
        if error.host != self.host:
            self.host, self.streak = error.host, 0
        self.streak += 1
        if self.stop_reason:
            return
        if self.streak >= self.RUN_LIMIT:
            how = f"{self.streak} items in a row failed with {error.reason}"
        elif self.streak == self.finished >= self.FIRST_LIMIT:
            how = f"the first {self.streak} items all failed with {error.reason}"
        else:
            return
        self.stop_reason = (f"{self.host} is not answering: {how}; nothing was recorded as empty; "
                            "the command resumes on its next run")


async def run_command(cmd: Command, run: Run, writer: Writer, *, concurrency: int,
                      on_items: OnItems | None = None,
                      on_total: Callable[[int | None, int], None] | None = None,
                      control: RunControl | None = None) -> dict[str, Any] | None:
    """Process every not-yet-done item; the summary, or None if stopped before the end."""
    control = control or RunControl()
    run.state = cmd.prepare(run)
    await cmd.plan(run)
    done = command_table.done_items(run.db.conn, run.command_id)  # committed only: a dry run has none
    selection = cmd.select(run)
    # A fresh run has nothing done: no filter (a generator step per item, a million for some)
    items: Iterator[Item] = (item for item in selection if item.key not in done) if done else iter(selection)
    total = None  # a streamed file: unknown
    if isinstance(selection, Sized):
        # A resumed command counts what it did before, whether or not its select still lists it.
        pending = list(items)
        items, total = iter(pending), len(pending) + len(done)
    await writer.write([CommandStarted(command_id=run.command_id, total=total)], run.command_id)
    await writer.flush()  # on record before any item (crash loops are counted; status shows it)
    if on_total is not None:
        on_total(total, len(done))
    workers = 1 if cmd.concurrency == 1 else max(1, cmd.concurrency or concurrency)
    try:
        if cmd.batched:
            control.batched = True
            finished = await _drain_batched(cmd, run, writer, items, on_items, control)
        else:
            finished = await _drain(cmd, run, writer, items, workers, on_items, control)
    except CommandAborted as exc:
        summary = await summarize(cmd, run, writer)
        await writer.write([CommandFailed(command_id=run.command_id, reason=str(exc), summary=summary)],
                           run.command_id)
        await writer.flush()
        raise
    if not finished:
        await writer.flush()
        return None
    summary = await summarize(cmd, run, writer)
    closing = cmd.closing_events(run, summary)
    await writer.write([*closing, CommandCompleted(command_id=run.command_id, summary=summary)],
                       run.command_id)
    await writer.flush()
    return summary


async def _drain(cmd: Command, run: Run, writer: Writer, items: Iterator[Item], workers: int,
                 on_items: OnItems | None, control: RunControl) -> bool:
    """Workers pull items from one shared iterator; True when every item was processed.

    A host that stops answering ends the drain early (CommandAborted with the reason), so a
    dead host costs a few items' retries rather than a pass over the whole collection.
    """
    exhausted = False
    watch = HostWatch()

    async def worker() -> None:
        nonlocal exhausted
        while not control.should_stop() and not watch.stop_reason:
            item = next(items, None)
            if item is None:
                exhausted = True
                return
            control.in_flight += 1
            try:
                outcome = await process_item(cmd, run, item, watch)
            finally:
                control.in_flight -= 1
            await writer.write(item_events(run, item, outcome), run.command_id)
            if on_items is not None:
                on_items([(item, outcome)])

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        abandoned = await _until_done_or_abandoned(tasks, control.abandon)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    if watch.stop_reason and not abandoned:
        log.warning("host_down", command=run.name, command_id=run.command_id, host=watch.host,
                    reason=watch.stop_reason)
        raise CommandAborted(watch.stop_reason)
    return exhausted and not abandoned


def item_events(run: Run, item: Item, outcome: Outcome) -> list[Event]:
    """An item's events and its ItemProcessed: one unit, recorded together or not at all."""
    return [*outcome.events, ItemProcessed(command_id=run.command_id, item=item.key, outcome=outcome.kind,
                                           reason=outcome.reason, changes=outcome.changes)]


async def _drain_batched(cmd: Command, run: Run, writer: Writer, items: Iterator[Item],
                         on_items: OnItems | None, control: RunControl) -> bool:
    """A command that needs no network: items processed at once, a chunk at a time.

    Each chunk goes to the writer as one unit of per-item entries (an item that cannot be
    recorded still fails alone), and the next chunk is processed while the writer records
    this one; no more than two wait, so a stop finds little left to record.
    """
    async def chunks() -> bool:
        behind: asyncio.Future | None = None
        while not control.should_stop():
            chunk = list(itertools.islice(items, CHUNK_ITEMS))
            if not chunk:
                return True
            done, entries = outcomes_now(cmd, run, chunk)
            recorded = await writer.write_many(entries)
            if on_items is not None:
                on_items(done)
            if behind is not None:
                await behind
            behind = recorded
            await asyncio.sleep(0)  # the loop runs a signal's handler between chunks
        return False

    task = asyncio.create_task(chunks())
    thresholds, switch_s = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(max(thresholds[0], BATCHED_GC_THRESHOLD), *thresholds[1:])
    sys.setswitchinterval(min(switch_s, BATCHED_SWITCH_INTERVAL_S))
    try:
        abandoned = await _until_done_or_abandoned([task], control.abandon)
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(switch_s)
    return task.result() if not abandoned else False


async def _until_done_or_abandoned(tasks: list[asyncio.Task], abandon: asyncio.Event) -> bool:
    """Wait for the workers; True if told to abandon them first (they are then cancelled)."""
    everyone = asyncio.gather(*tasks)
    told = asyncio.ensure_future(abandon.wait())
    try:
        await asyncio.wait({everyone, told}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        told.cancel()
    if everyone.done():
        everyone.result()  # a worker's error surfaces here
        return False
    for t in tasks:
        t.cancel()
    await asyncio.gather(everyone, return_exceptions=True)
    return True


async def process_item(cmd: Command, run: Run, item: Item, watch: HostWatch | None = None) -> Outcome:
    """One item's outcome; API errors become a failed item, a refused key aborts the command.

    ``watch`` hears how each item ended, to notice a host that no longer answers.
    """
    watch = watch or HostWatch()
    try:
        outcome = await cmd.process(run, item)
    except Exception as exc:  # noqa: BLE001 - failed_outcome raises on what ends the command
        return failed_outcome(run, item, exc, watch)
    watch.record(None)
    return outcome


def outcomes_now(cmd: Command, run: Run, chunk: list[Item]) -> tuple[list[tuple[Item, Outcome]], list[Entry]]:
    """A batched command's chunk processed at once: each item's outcome, and the writer's entries.

    An error fails its item alone. One loop (no call per item around ``process_now``): an
    import's main thread spends a good part of each row here.
    """
    process_now, command_id = cmd.process_now, run.command_id
    done: list[tuple[Item, Outcome]] = []
    entries: list[Entry] = []
    for item in chunk:
        try:
            outcome = process_now(run, item)
        except Exception as exc:  # noqa: BLE001 - failed_outcome raises on what ends the command
            outcome = failed_outcome(run, item, exc, HostWatch())
        done.append((item, outcome))
        entries.append((item_events(run, item, outcome), command_id))
    return done, entries


def failed_outcome(run: Run, item: Item, exc: Exception, watch: HostWatch) -> Outcome:
    """The outcome of an item that raised ``exc``; raised on if it ends the command instead."""
    if isinstance(exc, AuthError):
        raise CommandAborted(str(exc)) from exc
    if isinstance(exc, NotFound):
        watch.record(exc)
        return Outcome(FAILED, reason=f"not found: {exc}")
    if isinstance(exc, (ApiError, UnsafePath, BadInputError)):  # this item's data, not the command
        log.info("item_failed", command=run.name, item=item.key, reason=str(exc))
        watch.record(exc if isinstance(exc, ApiError) else None)
        return Outcome(FAILED, reason=str(exc))
    if isinstance(exc, KNOWN_ERRORS):
        raise exc
    log.debug("item_crashed", command=run.name, item=item.key, exc_info=True)
    watch.record(None)
    return Outcome(FAILED, reason=f"unexpected error: {type(exc).__name__}: {exc}")


async def summarize(cmd: Command, run: Run, writer: Writer) -> dict[str, Any]:
    """The summary of a command from its projection row (so resumed runs add up), plus extras."""
    def read(db: Any) -> dict[str, Any]:
        n = command_table.counts(db.conn, run.command_id)
        failures = command_table.failures(db.conn, run.command_id)
        skips = command_table.skips_with_reason(db.conn, run.command_id)
        summary = {"command_id": run.command_id, "command": run.name, "dry_run": run.dry_run,
                   "processed": n.processed, "updated": n.updated, "skipped": n.skipped,
                   "failed": n.failed,
                   "failures": [{"item": f.item, "reason": f.reason} for f in failures],
                   "skips": [{"item": s.item, "reason": s.reason} for s in skips]}
        summary.update(cmd.summary_extra(run, db))
        return summary
    await writer.flush()
    return await writer.call(read)
