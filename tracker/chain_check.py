"""The log's hash chain checked in a process of its own while verify folds the log.

``python -m tracker.chain_check LOG UNTIL`` prints each problem of seqs 1..UNTIL on a line. At a
million events the check is 6.5 CPU s that verify's replay need not wait for: the two run on
two CPUs. Rows never change once written, so the second process reads the very rows verify's
snapshot holds. If it cannot run, verify checks the chain itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from events.chain import verify_chain
from events.read_only import connect_read_only
from tracker.pids import exit_with_parent, helper

MIN_EVENTS = 200_000  # below this a second interpreter's start-up costs more than the check
CHECK_MODULE = "tracker.chain_check"  # what the second process runs


class ChainCheck:
    """The chain check of seqs 1..until_seq, in a second process when that pays."""

    def __init__(self, proc: subprocess.Popen[str] | None) -> None:
        """Wrap the started process (None: check here when asked)."""
        self.proc = proc

    def problems(self) -> list[str] | None:
        """The second process's problems, or None if it did not run or failed (then check here)."""
        if self.proc is None:
            return None
        out, _err = self.proc.communicate()
        return out.splitlines() if self.proc.returncode == 0 else None


@contextmanager
def started(log_path: Path, until_seq: int) -> Iterator[ChainCheck]:
    """A chain check of seqs 1..until_seq running meanwhile (none for a small log, or a machine
    with one CPU); the process is killed on the way out if it still runs."""
    if until_seq < MIN_EVENTS or (os.cpu_count() or 1) < 2 or str(log_path) == ":memory:":
        yield ChainCheck(None)
        return
    with ExitStack() as stack:
        try:
            proc = stack.enter_context(helper(CHECK_MODULE, str(log_path), str(until_seq)))
        except OSError:  # no second process: verify checks the chain itself
            proc = None
        yield ChainCheck(proc)


def main(argv: list[str]) -> int:
    """Check the chain of seqs 1..UNTIL of LOG; each problem on a line, or exit status 1."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops on Ctrl-C and kills this one
    exit_with_parent()
    log_path, until_seq = argv
    try:
        conn = connect_read_only(Path(log_path))
        try:
            problems = verify_chain(conn, int(until_seq))
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - said in one line; verify then checks it itself
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
