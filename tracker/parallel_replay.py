"""Replay on two cores: a second process folds some groups of read tables while this one folds
the rest, then its tables are copied in.

The read tables fall into groups that share no fold (projections/scope.py), so folding each
group apart gives the very rows a single fold would. Any failure of the second process (it
died, the disk filled, a row it could not read) makes the caller replay in one process, which
then says what is wrong exactly as it always did.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, Protocol

from events.connection import take_write_lock
from events.reading import sample_types
from events.store import EventStore
from projections import side_files
from projections.rebuild import Replay, Share, rebuild
from projections.scope import Group, groups
from tracker.log import get_logger
from tracker.pids import alive, helper

log = get_logger("tracker.replay")

# Below this the second process gains little: it needs 0.25 s to start (at 100,000 events a
# replay took 1.3 s either way).
MIN_EVENTS = 200_000
# The second process gets most of the row cache, and the catalogue with it (a catalogue that
# fits no longer reloads titles: its share took 4.5 CPU s instead of 8.4 at half the cells; with
# 650,000 cells rather than 400,000 it flushed less often and wrote the titles listed again and
# again fewer times; 550,000 took within 1% of 650,000's time and 9 MB less). This one, which also
# holds the CLI's modules, holds the offers: added and removed by puts alone, each flush that
# forgot them wrote them again (142,736 rows and 71,367 deletes for the mix's 20,000 offers, 0.8
# CPU s); now that command items go on their own (see RowCache.maybe_flush), 300,000 cells keep
# the offers' 30,000 keys to the end. Each gets a quarter of SQLite's page cache (2 MB here instead:
# 6 MB less, 0.2-0.9 s more). The two stay within the 150 MB a replay may take (the README's
# figures for both shapes).
CELLS_HERE, CELLS_THERE = 300_000, 550_000
SHARE_PAGE_CACHE_KIB = 8 * 1024
SAMPLE_POINTS = 1000  # rows looked up to weigh the groups (a millisecond or two)
# What an event costs to fold, by the module folding it, in microseconds of CPU: each group
# folded alone from the store benchmark's mix of 1,000,000 events, walking the whole log for its
# rows (a DVD's row is 25 columns; an offer's 6). Weighed by count alone, the DVDs and the offers
# went to one process, which took 4.5 s against the other's 3.9.
FOLD_COST_US = {"projections.dvds": 12.3, "projections.catalogue": 8.6, "projections.providers": 6.1,
                "projections.commands": 8.2}
DEFAULT_FOLD_COST_US = 8.0
# Folds that read their rows back again and again (a popular list's titles come back every
# time): with half the cache, the mix's catalogue reloaded them, and this process's share took
# 5.7 CPU s against 4.8 with the offers instead. Their groups go to the second process.
WHOLE_CACHE_MODULES = frozenset({"projections.catalogue"})
# What this process does besides its share, per event replayed, in the same units: dropping the
# old tables, copying the second's in, building every index, committing (0.03 + 0.18 + 0.08 +
# 0.05 s in the mix's million; 0.9 us before freed pages went unzeroed, the copy journaled
# nothing and the COMMIT left the WAL checkpoint to its thread).
OVERHEAD_US_PER_EVENT = 0.35
WORKER_MODULE = "tracker.replay_worker"  # what the second process runs
RUNNABLE_LOOKS, RUNNABLE_LOOK_S = 5, 0.0025  # looks at the run queue (see _runnable_now)
LOADAVG = Path("/proc/loadavg")  # its fourth field: tasks runnable now / all tasks
LOCK_WAIT_MS = 1000  # how long a split live replay waits for another writer
SCRATCH_PREFIX = ".replay-"  # scratch folders beside the log, named .replay-<pid>-<random>


class WorkerFailed(Exception):
    """The second process did not finish its share (the caller replays in one process)."""


class Split(NamedTuple):
    """Which groups this process folds and which the second one does."""

    here: tuple[int, ...]  # indexes into projections.scope.groups()
    there: tuple[int, ...]


class Source(Protocol):
    """What a parallel replay needs of the Database (tracker.db imports this module)."""

    path: Path
    store: EventStore

    def replay_source(self, *, until_seq: int, types: tuple[str, ...]) -> Replay:
        """The rows of ``types`` up to ``until_seq``, to fold."""


def plan(store: EventStore, until_seq: int) -> Split | None:
    """How to split a replay of seqs 1..until_seq in two, or None when one process is better."""
    if until_seq < MIN_EVENTS or not _second_core_free():
        return None
    seen = Counter(sample_types(store.conn, until_seq=until_seq, points=SAMPLE_POINTS))
    return best_split([sum(seen[tag] for tag in g.tags) * _cost_us(g) for g in groups()],
                      [bool(g.modules & WHOLE_CACHE_MODULES) for g in groups()],
                      overhead=sum(seen.values()) * OVERHEAD_US_PER_EVENT)


def best_split(weights: list[float], whole_cache: list[bool], *, overhead: float) -> Split | None:
    """The split whose slower process ends first: this one carries ``overhead`` on top of its
    groups' weights, the second takes every group that wants the whole cache; None if no split
    gives both some work. Every assignment is tried: there are six groups."""
    best: tuple[float, Split] | None = None
    for there_bits in range(1, 1 << len(weights)):
        there = tuple(i for i in range(len(weights)) if there_bits >> i & 1)
        here = tuple(i for i in range(len(weights)) if not there_bits >> i & 1)
        if any(whole_cache[i] for i in here):
            continue
        load_there, load_here = sum(weights[i] for i in there), sum(weights[i] for i in here)
        if not load_there or not load_here:
            continue  # one group holds (nearly) every event: nothing to share
        finish = max(load_there, load_here + overhead)
        if best is None or finish < best[0]:
            best = (finish, Split(here=here, there=there))
    return None if best is None else best[1]


def _cost_us(group: Group) -> float:
    """What one of the group's events costs to fold, as measured for its costliest module."""
    return max(FOLD_COST_US.get(m, DEFAULT_FOLD_COST_US) for m in group.modules)


def _second_core_free() -> bool:
    """Whether a second CPU is free: two or more this process may use, and either the last
    minute's load average (this process's own work included) leaving more than half of one idle,
    or nothing but this process runnable right now.

    With both CPUs busy elsewhere, measured here, a split replay of 1,000,000 events took
    19.5-23 s against 15.6-20.6 s in one process: the split costs a tenth more CPU in all. The
    average lags by a minute: right after an import (~1.5 CPUs for 12 s) it said busy on an
    idle machine, and the replay that followed ran in one process, 7.5 s instead of 5.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average to read
        load = 0.0
    return cores >= 2 and (load < cores - 0.5 or _runnable_now() <= cores - 1)


def _runnable_now() -> int:
    """The fewest tasks runnable at once (this one included) in a few looks at /proc/loadavg over
    ~10 ms: a busy process elsewhere is runnable at every look, a passing one (a kernel worker,
    a process exiting) at one; with the most instead, the store benchmark's wide replay once ran
    in one process, 16.6 s instead of 5.4. A large number where there is no such file."""
    fewest = 1 << 30
    for look in range(RUNNABLE_LOOKS):
        try:
            fewest = min(fewest, int(LOADAVG.read_text(encoding="ascii").split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return 1 << 30
        if look < RUNNABLE_LOOKS - 1:
            time.sleep(RUNNABLE_LOOK_S)
    return fewest


def union_of(indexes: tuple[int, ...] | list[int]) -> Group:
    """The groups at these indexes as one: their tables, modules and tags together."""
    chosen = [groups()[i] for i in indexes]
    return Group(tuple(t for g in chosen for t in g.tables), frozenset().union(*(g.modules for g in chosen)),
                 tuple(sorted({tag for g in chosen for tag in g.tags})))


def fold_in_parallel(db: Source, conn: sqlite3.Connection, begin: Callable[[], ContextManager[object]],
                     until_seq: int | None, split: Split) -> int:
    """Rebuild every read table from seqs 1..until_seq (None: the whole log), this process and a
    second one each folding their share; the events read. WorkerFailed if the second failed.

    ``begin()`` starts a transaction on ``conn`` that has not written yet: the side file is
    attached before it begins (SQLite attaches only outside one), so the first write takes
    ``conn``'s lock and never the side file's, which the second process writes meanwhile.
    """
    here, there = union_of(split.here), union_of(split.there)
    log.info("replay_split", this_process=" ".join(here.tables), second_process=" ".join(there.tables))
    with _scratch(db.path.parent) as folder:
        side = folder / "side.db"
        with side_files.attached(conn, side), begin():
            if conn is db.store.conn:  # the live tables: from here on no one appends, the end stays put
                # Another writer at work: give up within a second, and the replay in one process
                # waits behind it, saying so, instead of this one waiting silently.
                take_write_lock(conn, wait_ms=LOCK_WAIT_MS)
            until = db.store.count() if until_seq is None else until_seq
            with Worker.start(db.path, side, until, split.there) as worker:  # it starts as the tables drop
                share = Share(here.modules, CELLS_HERE, page_cache_kib=SHARE_PAGE_CACHE_KIB,
                              then=lambda c: _take_side(c, worker, there.tables))
                rebuild(db.replay_source(until_seq=until, types=here.tags), conn, fresh=True, share=share)
    # Every event of 1..until was read, including those no fold takes (CommandInterrupted), which
    # neither share counts: said as a replay in one process says it.
    return until


def _take_side(conn: sqlite3.Connection, worker: Worker, tables: tuple[str, ...]) -> None:
    """Wait for the second process, then copy its tables in."""
    worker.wait()
    side_files.copy_tables(conn, tables)


@contextmanager
def _scratch(home: Path) -> Iterator[Path]:
    """A fresh folder beside the log for the side file, removed after (and any left by a
    replay that was killed: its process is gone)."""
    _sweep(home)
    folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=home))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sweep(home: Path) -> None:
    """Remove scratch folders whose replay's process no longer runs."""
    for folder in home.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


class Worker:
    """The second process (``python -m tracker.replay_worker``), killed if left behind."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        """Wrap a started worker process."""
        self.proc = proc

    @classmethod
    @contextmanager
    def start(cls, log_path: Path, side: Path, until_seq: int, groups_there: tuple[int, ...]) -> Iterator[Worker]:
        """Start folding ``groups_there`` into ``side`` (OSError if no process can start: the
        caller then replays in one); kill the process on the way out if it still runs."""
        with helper(WORKER_MODULE, str(log_path), str(side), str(until_seq), str(CELLS_THERE),
                    str(SHARE_PAGE_CACHE_KIB), ",".join(map(str, groups_there))) as proc:
            yield cls(proc)

    def wait(self) -> None:
        """Wait for the worker to finish: WorkerFailed unless it exited 0 and printed its count of
        events folded (the replay reports every event read, so the count itself is not used)."""
        out, err = self.proc.communicate()
        if self.proc.returncode != 0 or not out.strip().isdigit():
            why = err.strip().splitlines()[-1:] or [f"exit status {self.proc.returncode}"]
            raise WorkerFailed(why[0])
