"""The engine lock: an OS file lock beside the database, released by the kernel if we die.

The lock file also says who holds it (pid, whether a daemon or a command run from the CLI, and
the command it is running), so another process can name the holder instead of guessing.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

# A probe (held_elsewhere) holds the lock for a moment; an engine starting just then retries.
ACQUIRE_RETRIES = 5
ACQUIRE_RETRY_S = 0.01


@dataclass(frozen=True)
class Holder:
    """Who holds the engine lock, as the holder wrote it into the lock file."""

    pid: int | None
    role: str = "engine"  # "daemon", or "run" for a command run from the CLI
    command_id: str | None = None
    command: str | None = None

    def describe(self) -> str:
        """One phrase naming the holder for people: what runs, as which process."""
        who = "a tracker daemon" if self.role == "daemon" else "another tracker process"
        who += f" (pid {self.pid})" if self.pid else ""
        if self.command_id:
            return f"{who} is running command {self.command_id} ({self.command})"
        return f"{who} is running" + (" idle" if self.role == "daemon" else "")


class EngineLock:
    """Exactly one engine per database; a crashed holder cannot keep it (flock dies with it)."""

    def __init__(self, db_path: Path, *, role: str = "engine") -> None:
        """The lock file is ``tracker.db.lock`` beside the database."""
        self.path = db_path.with_name(db_path.name + ".lock")
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting (a few quick retries); False if another engine holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(ACQUIRE_RETRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == ACQUIRE_RETRIES - 1:
                    os.close(fd)
                    return False
                time.sleep(ACQUIRE_RETRY_S)
        self._fd = fd
        self.note(None, None)
        return True

    def note(self, command_id: str | None, command: str | None) -> None:
        """Record in the lock file what this holder is running now (None: idle)."""
        if self._fd is None:
            return
        text = msgspec.json.encode({"pid": os.getpid(), "role": self.role,
                                    "command_id": command_id, "command": command})
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, text, 0)
        except OSError:
            pass  # a full disk must not stop the engine over a courtesy note

    def release(self) -> None:
        """Let another engine start."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock right now (never creates or writes the file)."""
        if self._fd is not None:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        except OSError:
            return False  # unreadable lock file: nobody we could follow anyway
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the probe's shared lock at once
        return False

    def holder(self) -> Holder | None:
        """Who holds the lock, or None if nobody does."""
        if not self.held_elsewhere():
            return None
        try:
            data = msgspec.json.decode(self.path.read_bytes())
            return Holder(pid=data.get("pid"), role=data.get("role") or "engine",
                          command_id=data.get("command_id"), command=data.get("command"))
        except (OSError, msgspec.DecodeError, AttributeError):
            return Holder(pid=None)  # an older tracker wrote only its pid, or a torn write

    def __enter__(self) -> EngineLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
