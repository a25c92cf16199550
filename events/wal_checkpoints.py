"""SQLite's WAL checkpoints on a thread of their own, so a writer does not wait for them.

Not the read tables' checkpoints: those are tracker/checkpoints.py.
"""

from __future__ import annotations

import sqlite3
import threading
from urllib.parse import quote

IDLE_EXIT_S = 30.0  # the thread ends after this long without work (a new one starts when needed)


class WalCheckpointer:
    """Runs PASSIVE checkpoints of one database file on a thread of its own when nudged.

    A checkpoint writes every page the log holds into the file and syncs it: ~0.35 s per 40 MB,
    which a writer doing its own paid in the middle of an append (4 us per event at a million
    events). Here it overlaps the writer's work. The writer's own checkpoint stays as a fallback,
    and finds little left to copy: only after a complete one can SQLite start the log afresh.
    """

    def __init__(self, path: str) -> None:
        self._uri = f"file:{quote(path)}?mode=rw"  # never creates a file (one deleted meanwhile, say)
        self._wake = threading.Event()
        self._stop = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def nudge(self) -> None:
        """Ask for a checkpoint soon; the thread starts at need."""
        with self._lock:
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._stop = False
                self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Let a checkpoint under way finish, then stop the thread (before the writer closes)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop = True
            self._wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        """Checkpoint at each nudge until stopped or idle."""
        while self._wake.wait(IDLE_EXIT_S):
            self._wake.clear()
            if self._stop:
                return
            try:
                conn = sqlite3.connect(self._uri, uri=True, isolation_level=None)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    conn.close()
            except sqlite3.Error:
                pass  # the writer's own checkpoint copies what this one could not
