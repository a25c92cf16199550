"""How fast an idle daemon starts an enqueued command, and what idling costs it in CPU.

Run: .venv/bin/python bench/wake_bench.py [--commands N] [--idle-s S]
A daemon runs in its own process on a fresh home. Each round appends one `add` intent (as
`tracker add ... --enqueue` does) after the daemon has gone idle, and the latency is the gap
between the intent's `at` and its CommandStarted's `at` in the log (both stamped by SQLite
writers on this machine). Rounds with the wake-up poke and without it (the fallback poll) are
reported side by side, then the daemon's CPU use over an idle stretch.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tracker.engine.submit as submit_module
from tracker.db import Database
from tracker.engine.submit import enqueue
from tracker.engine_lock import EngineLock


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def start_daemon(home: Path) -> subprocess.Popen:
    """`tracker daemon` on ``home``, once it holds the engine lock."""
    env = {**os.environ, "TRACKER_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "tracker.cli", "daemon", "--log-level", "error"],
                            env=env)
    lock = EngineLock(home / "tracker.db")
    deadline = time.monotonic() + 30
    while lock.holder() is None or lock.holder().role != "daemon":
        if time.monotonic() > deadline:
            raise SystemExit("the daemon did not start")
        time.sleep(0.05)
    return proc


def one_round(db_path: Path, n: int, *, poke: bool) -> float:
    """Enqueue one command and wait for it to start; the latency in ms."""
    real_poke = submit_module.poke
    if not poke:
        submit_module.poke = lambda _path: False
    try:
        with Database(db_path) as db:
            command_id, _ = enqueue(db, "add", {"title": f"Wake {n} {'poke' if poke else 'poll'}"})
    finally:
        submit_module.poke = real_poke
    with Database(db_path) as db:
        while True:
            rows = dict(db.conn.execute(
                "SELECT type, at FROM events WHERE command_id = ? AND type IN"
                " ('CommandRequested', 'CommandStarted')", (command_id,)).fetchall())
            if "CommandStarted" in rows:
                return (_at(rows["CommandStarted"]) - _at(rows["CommandRequested"])).total_seconds() * 1000
            time.sleep(0.005)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def describe(label: str, latencies_ms: list[float]) -> str:
    """One markdown row: median, 90th percentile and worst latency."""
    ordered = sorted(latencies_ms)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (f"| {label} | {len(ordered)} | {statistics.median(ordered):.1f} | {p90:.1f} |"
            f" {ordered[-1]:.1f} |")


def main() -> None:
    """Measure and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=20, help="rounds of each kind")
    parser.add_argument("--idle-s", type=float, default=10.0, help="idle stretch for the CPU figure")
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        db_path = home / "tracker.db"
        Database(db_path).close()
        daemon = start_daemon(home)
        try:
            results = {}
            for poke in (True, False):
                latencies = []
                for n in range(args.commands):
                    time.sleep(rng.uniform(0.3, 0.6))  # the daemon is idle again, mid-wait
                    latencies.append(one_round(db_path, n, poke=poke))
                results[poke] = latencies
            time.sleep(1.0)
            before = cpu_s(daemon.pid)
            time.sleep(args.idle_s)
            idle_pct = (cpu_s(daemon.pid) - before) / args.idle_s * 100
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
    print("| wake-up | commands | median ms | p90 ms | max ms |")
    print("| --- | --- | --- | --- | --- |")
    print(describe("poke through tracker.db.wake", results[True]))
    print(describe("fallback poll only (no poke)", results[False]))
    print(f"\nIdle daemon CPU over {args.idle_s:.0f} s: {idle_pct:.2f}%")


if __name__ == "__main__":
    main()
