"""The writer's pipeline: a batch's Python (encoding, hash chain, folds) done while the batch
before it is still in SQLite (its INSERTs and its commit), on another thread.

Recorded one after the other, a batch of an import spent about half its time in each; SQLite
lets go of the GIL in its half, so the next batch's Python can run meanwhile. What makes that
safe is the state a batch is prepared on, carried from the batch before rather than read from
SQL (which does not hold that batch yet): the log's head, the next DVD id, and the rows that
batch writes (kept in the row cache; a row it sets blind is read only once it is written).
A batch is applied only if SQL is then what it was prepared on: the log's head is the one it
follows and no other connection committed in between (another process, a replay). Anything
else (that, or a batch before it that failed) has it recorded the plain way, from SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from events.appending import utc_now
from events.chain import chained_rows
from events.types import SCHEMA_VERSION, Event, log_items
from projections import RowCache
from projections.fold import fold_run
from projections.row_sql import execute_writes
from tracker.db import Database

Entry = tuple[Sequence[Event], str | None]


@dataclass
class Prepared:
    """A batch's Python done: its rows held for INSERT, its writes, and what it was prepared on."""

    entries: list[Entry]
    follows: tuple[int, str]  # the log's head (seq, hash) the batch's first row follows
    held: list = field(default_factory=list)  # the events' INSERTs (EventStore.insert_held)
    writes: list = field(default_factory=list)  # the read tables' (RowCache.execute)
    generation: int = 0  # the pipeline's, when prepared: a reset since means SQL is not that state


class Pipeline:
    """Prepares batches on the writer's thread on what the last one prepared leaves, and
    applies them (on another thread) in the order prepared."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._rows: RowCache | None = None  # carries the rows of the batch last prepared
        self._head: tuple[int, str, str] | None = None  # after the batch last prepared
        self._next_dvd_id = 0
        self._version = 0  # data_version after our last commit (or our last look at SQL)
        self._stale = True  # start again from SQL at the next prepare
        self._generation = 0  # one more at each reset: batches prepared before are not applied

    def reset(self) -> None:
        """Forget the carried state: the next batch is prepared from SQL (after a failure, or
        once another writer may have written)."""
        with self._lock:
            self._stale = True
            self._generation += 1

    def prepare(self, entries: list[Entry], settle: Callable[[], None]) -> Prepared:
        """Encode, hash and fold ``entries`` on the carried state (on the writer's thread);
        ``settle`` waits for every batch prepared before to be applied."""
        with self._lock:  # together: a reset after this has the batch applied the plain way
            stale, self._stale = self._stale, False
            generation = self._generation
        if stale or self._rows is None or self._head is None:
            settle()  # every batch before applied: SQL is whole, start from it
            self._rows = RowCache(self.db.conn)
            self._head = self._read_head()
            self._next_dvd_id = 0
            self._version = self.db.data_version()
            with self._lock:  # a reset while settling is covered: SQL was read after it
                self._stale, generation = False, self._generation
        self._rows.settle = settle
        prepared = Prepared(entries, self._head[:2], generation=generation)
        try:
            for events, command_id in _runs(entries):
                self._prepare_run(prepared, events, command_id)
            prepared.writes = self._rows.carry_statements()
        except BaseException:
            self.reset()  # the carried state is half way through this batch
            raise
        return prepared

    def _prepare_run(self, prepared: Prepared, events: list[Event], command_id: str | None) -> None:
        """One command's consecutive events: ids, encoding, chained rows, folds."""
        seq, prev, last_at = self._head
        events, self._next_dvd_id = self.db.assign_dvd_ids(events, self._next_dvd_id)
        at = max(utc_now(), last_at)  # never before the newest row's, as EventStore._next_at
        values, prev = chained_rows(log_items(events), seq, prev, at, command_id, SCHEMA_VERSION)
        prepared.held.append((values, at, command_id, SCHEMA_VERSION))
        fold_run(self._rows, events, command_id, seq, at)
        self._head = (seq + len(events), prev, at)

    def _read_head(self) -> tuple[int, str, str]:
        """The log's head as SQL holds it (every batch before applied)."""
        store = self.db.store
        seq, hash_ = store.head()
        return seq, hash_, store.last_at()

    def apply(self, prepared: Prepared, plain: Callable[[list[Entry]], None]) -> None:
        """Record a prepared batch in one transaction (on the applying thread), or the plain way
        (``plain(entries)``) when SQL is not what it was prepared on."""
        db = self.db
        with db.atomic():
            if self._follows(prepared):
                db.store.insert_held(prepared.held)
                execute_writes(db.conn, prepared.writes)
                applied = True
            else:
                self.reset()
                applied = False
        if not applied:
            plain(prepared.entries)
        self._version = db.data_version()

    def _follows(self, prepared: Prepared) -> bool:
        """Whether SQL is what ``prepared`` was prepared on (inside the writing transaction)."""
        with self._lock:
            if prepared.generation != self._generation:
                return False
        return self.db.data_version() == self._version and self.db.store.head() == prepared.follows


def _runs(entries: list[Entry]) -> list[tuple[list[Event], str | None]]:
    """Consecutive entries of one command joined (one hash run and one ``at`` each)."""
    runs: list[tuple[list[Event], str | None]] = []
    for events, command_id in entries:
        if runs and runs[-1][1] == command_id:
            runs[-1][0].extend(events)
        else:
            runs.append((list(events), command_id))
    return runs
