"""The single writer: batches of events prepared on one thread and recorded on another, in one
transaction a batch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, NamedTuple, TypeVar

import msgspec

from events.types import Event, ItemProcessed
from tracker.db import Database
from tracker.engine.pipeline import Pipeline, Prepared
from tracker.log import get_logger
from tracker.values import shorten

T = TypeVar("T")
log = get_logger("tracker.engine.writer")
# Errors that come from a value, not from the database: an integer beyond 64 bits, text that
# is not UTF-8, a constraint a fold's row breaks.
_BAD_VALUE_ERRORS = (OverflowError, ValueError, TypeError, sqlite3.InterfaceError,
                     sqlite3.IntegrityError, sqlite3.DataError, msgspec.EncodeError)
BATCH_EVENTS = 2000
# How long the writer lets events gather before a transaction (a flush never waits for it).
# Each transaction has a fixed cost on the writer's thread, which holds the GIL the event loop
# needs: at 200 items/s, one transaction per item or two starved the loop. A crash loses at most
# this much work, which the resumed run does again (nothing was recorded, so nothing twice).
LINGER_S = 0.05
MAX_IN_FLIGHT = 2  # batches handed to the writer's thread at once (see Writer._run)


class Writer:
    """Queue events from many coroutines; one thread prepares them in batches, another records them.

    In a dry run the writer keeps events in memory and records them only when asked to read
    (the summary, at the end), inside a transaction that is rolled back on exit: nothing is
    ever committed, and a daemon's writes are not held up while the dry run talks to the APIs.
    """

    def __init__(self, db: Database, *, dry_run: bool = False,
                 on_recorded: Callable[[list[tuple[list[Event], str | None]]], None] | None = None,
                 after_commit: Callable[[], None] | None = None) -> None:
        """``on_recorded`` sees each batch once it is committed (the engine's metrics);
        ``after_commit`` runs on the applying thread right after each commit, before the next."""
        self.db = db
        self.dry_run = dry_run
        self.on_recorded = on_recorded
        self.after_commit = after_commit
        self._queue: asyncio.Queue[tuple[list[Event], str | None] | _Chunk | asyncio.Future] = \
            asyncio.Queue(maxsize=4096)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-writer")
        # A batch's SQL and commit run on this thread while the writer's thread prepares the
        # next one (see tracker/engine/pipeline.py); batches are applied in the order prepared.
        self._apply_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-apply")
        self._pipeline = Pipeline(db)
        self._applies: deque[concurrent.futures.Future] = deque()
        self._task: asyncio.Task | None = None
        self._stack = ExitStack()
        self._error: BaseException | None = None
        self._held: list[tuple[list[Event], str | None]] = []  # a dry run's events, not yet applied
        self._open = False
        self._lingering: asyncio.Future | None = None  # set while the writer lets events gather
        self._flushes = 0  # flushes waiting: no linger then
        self._thread_error: BaseException | None = None  # set by a failed prepare or apply

    async def __aenter__(self) -> Writer:
        if not self.dry_run:
            self._task = asyncio.create_task(self._run(), name="tracker-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                await self.flush()
        finally:
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(self._pool, self._stack.close)
            self._pool.shutdown(wait=True)
            self._apply_pool.shutdown(wait=True)

    async def write(self, events: list[Event], command_id: str | None) -> None:
        """Queue events for recording (waits when the queue is full: back-pressure)."""
        self._raise_if_failed()
        if self.dry_run:
            self._held.append((events, command_id))
            return
        await self._queue.put((events, command_id))

    async def write_many(self, entries: list[tuple[list[Event], str | None]]) -> asyncio.Future:
        """Queue many entries as one unit (a batched command's chunk); the future is resolved
        once the writer has taken them up (their Python done, their SQL under way: the caller
        may prepare more meanwhile), or fails with the writer's error. ``flush`` waits for them
        to be recorded; a failure to record them is raised by the next write or flush."""
        self._raise_if_failed()
        taken: asyncio.Future = asyncio.get_running_loop().create_future()
        if self.dry_run:
            self._held.extend(entries)
            taken.set_result(None)
            return taken
        await self._queue.put(_Chunk(entries, taken))
        return taken

    async def flush(self) -> None:
        """Wait until everything queued so far is recorded."""
        self._raise_if_failed()
        if self.dry_run:
            return
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._flushes += 1  # seen by a linger that has not begun yet
        try:
            await self._queue.put(done)
            if self._lingering is not None:
                _resolve(self._lingering)  # a flush waits for no more events than it has to
            await done
        finally:
            self._flushes -= 1

    async def call(self, fn: Callable[[Database], T]) -> T:
        """Run ``fn(db)`` on the writer's thread, after what is already recorded."""
        loop = asyncio.get_running_loop()
        if self.dry_run:
            held, self._held = self._held, []
            return await loop.run_in_executor(self._pool, self._apply_held, held, fn)
        return await loop.run_in_executor(self._pool, self._call_settled, fn)

    def _call_settled(self, fn: Callable[[Database], T]) -> T:
        """``fn(db)`` once every batch handed over is applied; the next batch is prepared from
        SQL again (``fn`` may write)."""
        self._settle_applies(0)
        self._pipeline.reset()
        return fn(self.db)

    def _apply_held(self, held: list[tuple[list[Event], str | None]], fn: Callable[[Database], T]) -> T:
        """Dry run: open the never-committed transaction if needed, apply held events, run fn."""
        if not self._open:
            self._stack.enter_context(self.db.dry_run())
            self._open = True
        if held:
            _record_all(self.db, held)
        return fn(self.db)

    @property
    def failed(self) -> bool:
        """True once a batch could not be recorded: nothing more will be."""
        return self._error is not None

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    async def _run(self) -> None:
        """Take what is queued, up to a batch, and hand it to the writer's thread; wake its
        waiters once it is recorded.

        The next batch is handed over while one is being recorded (MAX_IN_FLIGHT at most): handed
        over only once the last had ended, each batch waited for this loop, whose thread is the
        one preparing the next chunks (~3 ms a batch, 0.7 s of an import of 250,000 rows).
        """
        in_flight: deque[_InFlight] = deque()
        getter: asyncio.Future | None = None
        try:
            while True:
                if getter is None and len(in_flight) < MAX_IN_FLIGHT:
                    getter = asyncio.ensure_future(self._queue.get())
                pending = set() if getter is None else {getter}
                if in_flight:
                    pending.add(in_flight[0].recorded)
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if in_flight and in_flight[0].recorded.done():
                    if not self._settle(in_flight.popleft()):
                        _fail_all(in_flight, self._error)
                        return
                elif getter is not None and getter.done():
                    first, getter = getter.result(), None
                    await self._hand_over(first, in_flight)
        finally:
            if getter is not None:
                getter.cancel()

    async def _hand_over(self, first: Any, in_flight: deque[_InFlight]) -> None:
        """Collect a batch that begins with ``first`` and hand it to the writer's thread; waiters
        with nothing to record (a flush) are woken with the last batch in flight, or at once."""
        if not isinstance(first, (asyncio.Future, _Chunk)) and not self._flushes:  # a chunk is a batch
            await self._linger()
        batch, waiters, taken = self._collect(first)
        if batch:
            recorded = asyncio.ensure_future(self._record(batch, taken))
            in_flight.append(_InFlight(recorded, batch, waiters))
        elif in_flight:
            in_flight[-1].waiters.extend(waiters)
        else:
            _resolve_all(waiters)

    def _settle(self, done: _InFlight) -> bool:
        """Wake the waiters of a batch that ended; False if it failed (then nothing more is)."""
        exc = done.recorded.exception()
        if exc is not None:
            self._error = exc  # surfaced to the next write or flush
            _fail_all([done], exc)
            return False
        if self.on_recorded is not None:
            self.on_recorded(done.batch)
        _resolve_all(done.waiters)
        return True

    def _prepare(self, batch: list[tuple[list[Event], str | None]],
                 taken: list[asyncio.Future]) -> concurrent.futures.Future:
        """Prepare a batch on the writer's thread and hand it to the applying one; the future of
        its recording. The chunks' futures are resolved once its Python is done, before its SQL.
        Once one batch failed, the batches handed over behind it fail with the same error,
        unrecorded."""
        if self._thread_error is not None:
            raise self._thread_error
        self._settle_applies(1)  # the rows carried are the last batch's: those before are in SQL
        try:
            prepared: Prepared | None = self._pipeline.prepare(batch, lambda: self._settle_applies(0))
        except Exception as exc:
            if not _is_bad_value(exc):
                self._thread_error = exc
                raise
            prepared = None  # recorded the plain way, entry by entry if need be (see _apply)
        if taken:
            taken[0].get_loop().call_soon_threadsafe(_resolve_all, taken)
        applying = self._apply_pool.submit(self._apply, prepared, batch)
        self._applies.append(applying)
        return applying

    def _settle_applies(self, left: int) -> None:
        """Wait until no more than ``left`` batches handed to the applying thread are not applied
        (their errors are raised to their own waiters, not here)."""
        while len(self._applies) > left:
            concurrent.futures.wait([self._applies.popleft()])

    def _apply(self, prepared: Prepared | None, batch: list[tuple[list[Event], str | None]]) -> None:
        """Record a batch (on the applying thread), then run ``after_commit``: as prepared, or
        the plain way when it could not be (see ``_record_all``)."""
        if self._thread_error is not None:
            raise self._thread_error
        try:
            if prepared is None:
                _record_all(self.db, batch)
            else:
                self._apply_prepared(prepared, batch)
            if self.after_commit is not None:
                self.after_commit()
        except BaseException as exc:
            self._thread_error = exc
            self._pipeline.reset()
            raise

    def _apply_prepared(self, prepared: Prepared, batch: list[tuple[list[Event], str | None]]) -> None:
        """Apply a prepared batch; a value SQLite refuses has it recorded the plain way."""
        try:
            self._pipeline.apply(prepared, lambda entries: _record_all(self.db, entries))
        except Exception as exc:
            if not _is_bad_value(exc):
                raise
            self._pipeline.reset()
            _record_all(self.db, batch)

    async def _record(self, batch: list[tuple[list[Event], str | None]], taken: list[asyncio.Future]) -> None:
        """Prepare a batch on the writer's thread, then wait for it to be applied."""
        applying = await asyncio.get_running_loop().run_in_executor(self._pool, self._prepare, batch, taken)
        await asyncio.wrap_future(applying)

    async def _linger(self) -> None:
        """Let events gather for LINGER_S, or less if someone starts waiting for a flush."""
        loop = asyncio.get_running_loop()
        self._lingering = loop.create_future()
        timer = loop.call_later(LINGER_S, _resolve, self._lingering)
        try:
            await self._lingering
        finally:
            timer.cancel()
            self._lingering = None

    def _collect(self, first: Any) -> tuple[list[tuple[list[Event], str | None]], list[asyncio.Future],
                                            list[asyncio.Future]]:
        """A batch from the queue: its entries, every future to resolve once it is recorded, and
        those of its chunks (resolved before its SQL, see ``write_many``)."""
        batch: list[tuple[list[Event], str | None]] = []
        waiters: list[asyncio.Future] = []
        taken: list[asyncio.Future] = []
        item, size = first, 0
        while True:
            if isinstance(item, asyncio.Future):
                waiters.append(item)
            elif isinstance(item, _Chunk):
                batch.extend(item.entries)
                waiters.append(item.taken)
                taken.append(item.taken)
                size += sum(len(events) for events, _command_id in item.entries)
            else:
                batch.append(item)
                size += len(item[0])
            if size >= BATCH_EVENTS or self._queue.empty():
                return batch, waiters, taken
            item = self._queue.get_nowait()


class _InFlight(NamedTuple):
    """A batch handed to the writer's thread: the future of its recording, its entries, and the
    futures to resolve once it is recorded."""

    recorded: asyncio.Future
    batch: list[tuple[list[Event], str | None]]
    waiters: list[asyncio.Future]


class _Chunk(NamedTuple):
    """Entries queued as one unit by ``write_many``, and the future resolved once taken up."""

    entries: list[tuple[list[Event], str | None]]
    taken: asyncio.Future


def _resolve(future: asyncio.Future) -> None:
    """End a wait unless it has ended already."""
    if not future.done():
        future.set_result(None)


def _resolve_all(futures: list[asyncio.Future]) -> None:
    """End these waits (those not ended already)."""
    for future in futures:
        _resolve(future)


def _fail_all(entries: Iterable[_InFlight], exc: BaseException | None) -> None:
    """Fail the waiters of these batches with ``exc``; their recordings' own errors (they fail
    too: see ``Writer._record``) are retrieved, so none is reported as never retrieved."""
    for entry in entries:
        for waiter in entry.waiters:
            if not waiter.done():
                waiter.set_exception(exc or RuntimeError("the writer stopped"))
        entry.recorded.add_done_callback(_retrieved)


def _retrieved(future: asyncio.Future) -> None:
    """Look at a future's outcome (an error nobody else will read)."""
    if not future.cancelled():
        future.exception()


def _record_all(db: Database, batch: list[tuple[list[Event], str | None]]) -> None:
    """Record a batch in one transaction; if a value in it cannot be stored, one entry at a time.

    One item whose events cannot be recorded (a value SQLite refuses, a fold that trips on it)
    must not take the rest of the batch, nor the command, with it: that item alone is recorded
    as failed, with the reason. Failures of the database itself (locked, full, read-only) are
    not contained: they are raised, and the work is redone by the next run.
    """
    try:
        db.record_all(batch)
    except Exception as exc:
        if not _is_bad_value(exc):
            raise
        for entry in batch:
            _record_alone(db, entry)


def _record_alone(db: Database, entry: tuple[list[Event], str | None]) -> None:
    """One entry in its own transaction; an item that fails is recorded as a failed item."""
    events, command_id = entry
    try:
        _record_batch(db, [entry])
        return
    except Exception as exc:
        item = next((e for e in events if isinstance(e, ItemProcessed)), None)
        if item is None or not _is_bad_value(exc):
            raise
        reason = f"cannot be recorded: {type(exc).__name__}: {shorten(str(exc), 200)}"
    log.warning("item_unrecordable", command_id=command_id, item=item.item,
                reason=reason)
    failed = ItemProcessed(command_id=item.command_id, item=item.item, outcome="failed", reason=reason)
    _record_batch(db, [([failed], command_id)])


def _is_bad_value(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) comes from a value, not from the database or the disk."""
    while exc is not None:
        if isinstance(exc, _BAD_VALUE_ERRORS):
            return True
        if isinstance(exc, sqlite3.OperationalError):
            return False
        exc = exc.__cause__  # type: ignore[assignment]
    return False


def _record_batch(db: Database, batch: list[tuple[list[Event], str | None]]) -> None:
    """Record a batch in one transaction (consecutive events of one command appended together)."""
    db.record_all(batch)
