"""Waking an idle engine at once: a FIFO beside the database that the CLI pokes after appending.

The engine keeps ``tracker.db.wake`` open for reading (and writing, so it never sees end-of-file)
and is woken by the event loop when a byte arrives; the CLI writes one byte without blocking.
With no engine listening, opening the FIFO for writing fails at once (ENXIO) and nothing waits.
The engine's slow poll of the database stays as the fallback (a read-only home, a lost poke).
A FIFO rather than a Unix socket: its path has no 108-byte limit.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.log import get_logger

if TYPE_CHECKING:
    import asyncio

log = get_logger("tracker.engine.wake")
READ_CHUNK = 4096


def wake_path(db_path: Path) -> Path:
    """The FIFO beside the database: ``tracker.db.wake``."""
    return db_path.with_name(db_path.name + ".wake")


class WakeListener:
    """The engine's end of the FIFO; calls ``on_wake`` from the event loop on each poke."""

    def __init__(self, db_path: Path, on_wake: Callable[[], None]) -> None:
        """Nothing is opened until ``open``."""
        self.path = wake_path(db_path)
        self.on_wake = on_wake
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> bool:
        """Create the FIFO if needed and listen; False (slow poll only) if that cannot be done."""
        try:
            if not self.path.exists():
                os.mkfifo(self.path, 0o660)
            fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError as exc:
            log.debug("wake.unavailable", path=str(self.path), reason=exc.strerror or str(exc))
            return False
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.close(fd)
            log.warning("wake.unavailable", path=str(self.path), reason="not a FIFO")
            return False
        import asyncio  # the CLI only pokes: it loads no asyncio for that
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._drain)
        return True

    def _drain(self) -> None:
        """Empty the FIFO (many pokes are one wake-up) and wake the engine."""
        assert self._fd is not None
        try:
            while os.read(self._fd, READ_CHUNK):
                pass
        except BlockingIOError:
            pass
        self.on_wake()

    def close(self) -> None:
        """Stop listening and remove the FIFO, so a plain copy of the home meets no special file.

        No other engine can be using it: it is closed while this one still holds the engine lock.
        """
        if self._fd is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        with contextlib.suppress(OSError):
            if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(self._fd).st_ino:
                self.path.unlink()
        os.close(self._fd)
        self._fd = None


def poke(db_path: Path) -> bool:
    """Wake the engine listening beside ``db_path``, if any, without ever blocking; True if woken."""
    try:
        fd = os.open(wake_path(db_path), os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return False  # no FIFO, or no engine listening (ENXIO): the poll will do
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False  # never write into a regular file that took the FIFO's name
        os.write(fd, b"\n")
        return True
    except OSError:
        return False  # a full FIFO already holds a wake-up
    finally:
        os.close(fd)
