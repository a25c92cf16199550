"""The second process of a parallel replay: ``python -m tracker.replay_worker LOG SIDE UNTIL CELLS KIB GROUPS``.

It folds the events of some groups of read tables (indexes into projections.scope.groups())
into a side file, prints how many events it folded, and exits; tracker/parallel_replay.py
starts it and copies the tables in. Ctrl-C is left to the parent, which kills it.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from events.read_only import connect_read_only
from events.store import EventStore
from projections import side_files
from projections.rebuild import Replay, Share
from tracker.db import decode_record
from tracker.parallel_replay import union_of
from tracker.pids import exit_with_parent


def fold_share(log_path: Path, side: Path, until_seq: int, share: Share, indexes: list[int]) -> int:
    """Fold the groups at ``indexes`` from seqs 1..until_seq of the log into ``side``; how many."""
    chosen = union_of(indexes)
    conn = connect_read_only(log_path)
    try:
        store = EventStore(conn)
        replay = Replay(lambda: store.fold_chunks(until_seq=until_seq, types=chosen.tags),
                        lambda after, until: store.fold_rows(after_seq=after, until_seq=until, types=chosen.tags),
                        lambda seq: decode_record(next(store.read(after_seq=seq - 1, until_seq=seq))))
        return side_files.fold_into_file(replay, side, replace(share, modules=chosen.modules))
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    """Run one share; its count on stdout, or one line on stderr and exit status 1."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops on Ctrl-C and kills this one
    exit_with_parent()
    log_path, side, until_seq, max_cells, page_cache_kib, indexes = argv
    try:
        count = fold_share(Path(log_path), Path(side), int(until_seq),
                           Share(max_cells=int(max_cells), page_cache_kib=int(page_cache_kib)),
                           [int(i) for i in indexes.split(",") if i])
    except Exception as exc:  # noqa: BLE001 - said in one line; the parent replays in one process
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(count)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # The parent waits for this process to end before it copies the tables in: the share is
    # committed and its file closed, so the interpreter's teardown (~30 ms of freeing modules
    # and objects, on the replay's critical path) is skipped.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
