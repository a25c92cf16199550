"""Checkpoints saved inside long commands: the writer fixes the moment, a thread copies it.

A command that appends half a million events would otherwise leave no checkpoint inside its
span, and the first time travel into it would fold most of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from events.store import EventStore
from tracker import checkpoints
from tracker.db import Database
from tracker.errors import StoreError
from tracker.log import get_logger

log = get_logger("tracker.checkpoint_saver")
END_WAIT_S = 1.0  # how long an engine's end waits for a save begun inside a command
LONG_WAIT_S = 0.3  # an engine's end waiting longer than this for a save says so
# After a copy that took t seconds, the next waits t * (1 / COPY_SHARE - 1): copies take at most
# this share of a command's time, whatever the spacing in events says. Copies of a collection's
# tables take milliseconds; at 250,000 DVDs ~0.6-1 s each, and one every 50,000 events made
# normalize 25-40% slower on this shared 2-core machine (README, checkpoints inside long commands).
COPY_SHARE = 0.2


class BackgroundSaver:
    """Saves checkpoints while a writer records, off its thread, spaced by ``checkpoints.spacing``.

    Right after the writer commits a batch that crosses the interval, a second connection opens
    a read transaction (WAL: it sees exactly that commit while the writer goes on) and a thread
    copies the read tables as of it into the checkpoint file. The copy runs inside SQLite with
    the GIL released, so the writer is not held up by it; it does take a core (0.8 s of CPU at
    250,000 DVDs). At most one save at a time: one still running when the next falls due puts
    that one off until it ends, and copies take at most COPY_SHARE of the time.
    """

    def __init__(self, db: Database) -> None:
        """``db`` is the writer's database; ``after_commit`` runs on the thread that commits there."""
        self.db = db
        self._side: EventStore | None = None
        self._thread: threading.Thread | None = None
        self._newest: int | None = None  # the seq of the newest checkpoint, or of the save under way
        self._spacing = checkpoints.EVERY_EVENTS  # events from _newest to the next save
        self._closed = False
        self._abandon = threading.Event()
        self._ready_at = 0.0  # monotonic time before which no copy starts (see COPY_SHARE)
        self._catching_up = False  # the save under way is the one a command's end left (catch_up)

    def after_commit(self) -> None:
        """Begin a save if one is due and none runs (on the committing thread, between batches)."""
        if not self._may_save():
            return
        head = self.db.store.count()
        if self._newest is None or head - self._newest >= self._spacing:
            self._look_at_newest()
        if head - self._newest < self._spacing:
            return
        if self.busy():
            return  # at most one copy at a time: this one is put off until it ends
        if time.monotonic() < self._ready_at:
            return  # copies of big tables take at most COPY_SHARE of the command's time
        self._start(head, catching_up=False)

    def catch_up(self) -> None:
        """Begin a save at the head if the newest checkpoint is EVERY_EVENTS or more behind it and
        none runs (on the writer's thread, between commands): the save after a command, made
        while the next one runs (or the engine idles) rather than while its caller waits."""
        if not self._may_save():
            return
        head = self.db.store.count()
        self._look_at_newest()
        if head - self._newest < checkpoints.EVERY_EVENTS or self.busy():
            return
        self._start(head, catching_up=True)

    def busy(self) -> bool:
        """Whether a copy is under way."""
        return self._thread is not None and self._thread.is_alive()

    def _may_save(self) -> bool:
        """Whether saves can be made at all (open, writable, a folder for them)."""
        return not self._closed and not self.db.read_only and checkpoints.folder(self.db) is not None

    def _look_at_newest(self) -> None:
        """Go on from the newest checkpoint file, by name (cheap): one saved meanwhile (after a
        command, by time travel) counts, and the rows it holds set the spacing."""
        newest = checkpoints.newest_seq(self.db)
        if self._newest is None or newest > self._newest:
            self._newest = newest
            self._spacing = checkpoints.spacing(checkpoints.rows_at(self.db, newest))

    def _start(self, head: int, *, catching_up: bool) -> None:
        """Fix the moment on the side connection (quick) and start the copy's thread."""
        # A save that fails is tried again an interval later, not at each batch.
        self._newest, self._catching_up = head, catching_up
        try:
            if self._side is None:
                self._side = self.db.side_store()
            pending = checkpoints.begin_save(self.db, self._side)
        except (StoreError, OSError) as exc:  # a read-only folder, a full disk: no reason to fail a command
            log.info("checkpoint_not_saved", reason=str(exc))
            return
        self._thread = threading.Thread(target=self._finish, args=(pending,), name="checkpoint-save",
                                        daemon=True)  # a second Ctrl-C exits without waiting; the sweep cleans up
        self._thread.start()

    def _finish(self, pending: checkpoints.Pending) -> None:
        """Copy the tables and put the file in place (on the save's thread); a failure is logged."""
        started = time.monotonic()
        try:
            saved = checkpoints.finish_save(self.db, pending, self._abandon.is_set)
        except StoreError as exc:
            if not self._abandon.is_set():  # an abandoned copy fails with "interrupted": as asked
                log.info("checkpoint_not_saved", reason=str(exc))
            return
        finally:
            took_s = time.monotonic() - started
            self._ready_at = time.monotonic() + took_s * (1 / COPY_SHARE - 1)
        if saved is not None:
            self._spacing = checkpoints.spacing(saved.rows)
            log.debug("checkpoint_saved", seq=saved.seq, rows=saved.rows)

    def settle(self, wait_s: float = END_WAIT_S, *, stopped: Callable[[], bool] = lambda: False,
               on_long_wait: Callable[[], None] | None = None) -> None:
        """Let a save under way end (an engine's end): one inside a command gets ``wait_s`` at
        most, a command's end must not wait long for a copy that gave way to others; the save a
        command's end left (catch_up) is waited for whole, or each small command after a big one
        would begin it and stop it again. Past that, or once ``stopped()``, it is stopped (no file
        is left). ``on_long_wait`` is told once if the wait passes LONG_WAIT_S."""
        thread = self._thread
        if thread is None:
            return
        started = time.monotonic()
        told = on_long_wait is None
        while thread.is_alive() and not stopped():
            waited_s = time.monotonic() - started
            if not self._catching_up and waited_s >= wait_s:
                break
            if not told and waited_s >= LONG_WAIT_S:
                told = True
                on_long_wait()
            thread.join(0.05)
        if thread.is_alive():
            self._stop(thread)
            self._abandon.clear()  # the next save may run
        self._thread = None

    def close(self, *, abandon: bool = False) -> None:
        """Wait for a save under way (or, with ``abandon``, stop it: no file is left), then close."""
        self._closed = True
        if self._thread is not None:
            self._stop(self._thread) if abandon else self._thread.join()
        if self._side is not None:
            self._side.close()
            self._side = None

    def _stop(self, thread: threading.Thread) -> None:
        """Stop the copy on ``thread`` and wait for it to clean up."""
        self._abandon.set()
        while thread.is_alive():
            # The copy's statement stops with "interrupted" and its file is deleted; again in
            # case it was between two statements (an interrupt then is a no-op).
            if self._side is not None:
                self._side.conn.interrupt()
            thread.join(0.05)

