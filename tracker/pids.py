"""Process ids: whether the process that left a file behind still runs; a helper process that
ends with the one that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARENT_POLL_S = 1.0


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts: it is not ours to clean up)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def exit_with_parent() -> None:
    """Exit as soon as the process that started this one is gone (killed -9, say): a helper
    process must not go on working for nobody."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


@contextmanager
def helper(module: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m module args`` running meanwhile, with text pipes for its answer and its
    one-line error, killed on the way out if it still runs (OSError if it cannot start).

    The folder holding tracker goes first on its path: tracker run from a checkout (not
    installed) must find the same code in the helper.
    """
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    proc = subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield proc
    finally:
        if proc.returncode is None:  # not waited for: its caller failed or was stopped
            proc.kill()
            proc.communicate()
