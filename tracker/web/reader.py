"""Reads for the web page: their own connection, on their own thread, never the engine's."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from tracker.db import Database
from tracker.errors import KNOWN_ERRORS, StoreError

T = TypeVar("T")


class Reader:
    """One read connection used by one worker thread, so a slow read never holds up the loop.

    The connection opens on first use (the engine has made the schema by then) and is opened
    again after a failure, so a database that could not be read once is tried afresh next time.
    """

    def __init__(self, db_path: Path) -> None:
        """Nothing opens until the first read."""
        self.db_path = db_path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-web-reader")
        self._db: Database | None = None

    async def read(self, fn: Callable[[Database], T]) -> T:
        """``fn(db)`` on the reader thread; StoreError when the database cannot be read."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, fn)

    def _run(self, fn: Callable[[Database], T]) -> T:
        try:
            if self._db is None:
                self._db = Database(self.db_path)
            return fn(self._db)
        except (sqlite3.Error, *KNOWN_ERRORS) as exc:
            self._drop()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot read {self.db_path}: {exc}") from exc

    def _drop(self) -> None:
        """Forget a connection that failed; the next read opens a new one."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def close(self) -> None:
        """Close the connection on its own thread, then stop the thread."""
        self._pool.submit(self._drop).result()
        self._pool.shutdown(wait=True)
