"""The engine lock: an OS file lock beside the database, released by the kernel if we die."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class EngineLock:
    """Exactly one engine per database; a crashed holder cannot keep it (flock dies with it)."""

    def __init__(self, db_path: Path) -> None:
        """The lock file is ``tracker.db.lock`` beside the database."""
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False if another engine holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Let another engine start."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock right now."""
        if self.acquire():
            self.release()
            return False
        return True

    def __enter__(self) -> EngineLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
