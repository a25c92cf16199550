"""Start-up time of the CLI as a user sees it: whole-process wall time, median of N runs.

Measures ``tracker --help`` and ``tracker status`` on an empty home (targets: 150 ms and 250 ms on
the reference machine), with a bare ``python -c pass`` for scale, and lists the modules that would
drag in the network stack if importing the CLI pulled them in.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS_MS = {"tracker --help": 150.0, "tracker status (empty home)": 250.0}
NETWORK_MODULES = ("aiohttp", "aiofiles", "aiolimiter", "tracker.clients.http", "tracker.clients.tmdb",
                   "tracker.clients.yts")


def tracker_command(source: Path | None) -> list[str]:
    """The installed ``tracker`` script next to this interpreter; ``python -m tracker.cli`` for a checkout."""
    script = Path(sys.executable).with_name("tracker")
    return [str(script)] if script.exists() and source is None else [sys.executable, "-m", "tracker.cli"]


def timed_runs(argv: list[str], env: dict[str, str], runs: int, cwd: Path | None = None,
               ) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) milliseconds of ``runs`` whole-process runs; a failure stops the bench."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
        wall.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return wall, cpu


def network_modules_on_import(env: dict[str, str], cwd: Path | None) -> list[str]:
    """Which network modules ``import tracker.cli.main`` loads (should be none)."""
    probe = ("import sys, tracker.cli.main; "
             f"print(' '.join(m for m in {NETWORK_MODULES!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def main() -> None:
    """Run each case ``--runs`` times after one warm-up; print wall and CPU medians against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per case (default 7)")
    parser.add_argument("--source", type=Path, metavar="DIR",
                        help="time the tracker in this checkout (say, an older one) via python -m tracker.cli "
                             "(default: the installed tracker script)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tracker-bench-")) / "home"
    env = {**os.environ, "TRACKER_HOME": str(home)}
    # As installed: compiled modules are cached after the first (warm-up) run, not compiled every time.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cases = {"python -c pass": [sys.executable, "-c", "pass"],
             "tracker --help": [*tracker_command(args.source), "--help"],
             "tracker status (empty home)": [*tracker_command(args.source), "status"]}
    try:
        for name, argv in cases.items():
            timed_runs(argv, env, 1, args.source)  # warm the file cache
            wall, cpu = timed_runs(argv, env, args.runs, args.source)
            median_ms = statistics.median(wall)
            target_ms = TARGETS_MS.get(name)
            verdict = "" if target_ms is None else \
                f"  target {target_ms:.0f} ms: {'ok' if median_ms <= target_ms else 'MISSED'}"
            print(f"{name:28} median {median_ms:6.1f} ms wall, {statistics.median(cpu):6.1f} ms CPU  "
                  f"(wall min {min(wall):.1f}, max {max(wall):.1f}, n={args.runs}){verdict}")
        loaded = network_modules_on_import(env, args.source)
        print(f"network modules loaded by importing the CLI: {', '.join(loaded) or 'none'}")
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
