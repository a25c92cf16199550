"""The soak suite (`make soak`): kills, double Ctrl-C, full disks and exports against a faulty sandbox.

Run: .venv/bin/python -m tests.soak [--kills 100] [--sigints 20] [--full-disks 10] [--dvds 300]
Every scenario runs real `tracker` processes on a real home against the sandbox on loopback with
10% injected faults (5xx, dropped connections, cut bodies, stalls) and a rate limit answered with
429 + Retry-After. Each interruption is followed by resuming; at the end every command must be
completed with each of its items recorded exactly once, every DVD must equal a clean run's, and
`verify` must pass. A markdown table of the figures goes to stdout; exit 1 if anything was lost
or doubled. The quick version of each scenario runs in `make test` (tests/test_soak_quick.py).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.engine_support import FAST_RETRIES, query, run, spawn, write_csv
from tracker.sandbox.server import SandboxThread
from tracker.sandbox.synthetic import synthetic_titles

FAULTS = {"fault_5xx_rate": 0.04, "fault_drop_rate": 0.02, "fault_truncated_rate": 0.02,
          "fault_timeout_rate": 0.02, "timeout_sleep_s": 2.0}  # 10% of answers go wrong
SANDBOX_RATE_PER_S = 20.0  # below what the client is allowed: 429s happen
CLIENT = {**FAST_RETRIES, "TRACKER_TIMEOUT_S": "1", "TRACKER_RETRY_ATTEMPTS": "8",
          "TRACKER_TMDB_RATE": "80", "TRACKER_YTS_RATE": "80", "TRACKER_CONCURRENCY": "16"}
# Alternating work, so there is always something to interrupt: every DVD each time.
WORK = (("refresh-missing-details", "--force"), ("refresh-torrent-data",))
TIMESTAMPS = ("details_refreshed_at", "torrents_checked_at", "added_at")
NOISE = ("Traceback", "Task was destroyed", "Event loop is closed", "internal error")


@dataclass
class Figures:
    """What a scenario did and found."""

    name: str
    interruptions: int = 0
    survived: int = 0
    lost: int = 0
    duplicates: int = 0
    wrong_dvds: int = 0
    verify_ok: bool = False
    stop_times_s: list[float] = field(default_factory=list)  # first Ctrl-C to exit
    problems: list[str] = field(default_factory=list)  # what went wrong, for the person reading
    disk_full_exits: int = 0  # runs that met the file-size cap (the rest finished under it)

    def ok(self) -> bool:
        """Nothing lost, nothing doubled, every DVD right, the log verifiable, every stop clean."""
        return (self.survived == self.interruptions and self.lost == 0 and self.duplicates == 0
                and self.wrong_dvds == 0 and self.verify_ok)


def new_home(root: Path, name: str, env: dict[str, str], dvds: int) -> Path:
    """A home holding ``dvds`` synthetic DVDs with TMDB ids (and so IMDb ids after a refresh)."""
    home = root / name
    home.mkdir()
    rows = [(t, y, i, None, None) for t, y, i, _ in synthetic_titles(dvds)]
    result = run(home, env, "import", str(write_csv(root / f"{name}.csv", rows)))
    assert result.returncode == 0, result.stderr
    return home


def reference_dvds(root: Path, env: dict[str, str], dvds: int, sandbox: SandboxThread) -> dict[int, dict]:
    """The DVDs as a clean run (no faults, no interruptions) leaves them, by id."""
    sandbox.configure(**{k: 0.0 for k in FAULTS if k.endswith("_rate")}, rate_per_s=None)
    home = new_home(root, "reference", env, dvds)
    for args in WORK:
        assert run(home, env, *args, timeout_s=600).returncode == 0
    sandbox.configure(**FAULTS, rate_per_s=SANDBOX_RATE_PER_S)
    return _dvds(home, env)


def _dvds(home: Path, env: dict[str, str]) -> dict[int, dict]:
    out = run(home, env, "export", "dvds", timeout_s=600).stdout
    return {d["id"]: {k: v for k, v in d.items() if k not in TIMESTAMPS} for d in json.loads(out)}


def interrupt_once(home: Path, env: dict[str, str], rng: random.Random, kind: str,
                   figures: Figures, step: int) -> None:
    """Start the next piece of work and interrupt it at a random moment in the way ``kind`` says."""
    args = WORK[step % len(WORK)]
    run(home, env, *args, "--enqueue")  # requested first: a kill during start-up still leaves work
    limit = _disk_limit(home, rng) if kind == "full-disk" else None
    proc = spawn(home, env, *args, max_file_bytes=limit)
    time.sleep(rng.uniform(0.2, 3.0))
    figures.interruptions += 1
    sent = time.monotonic()
    if kind == "kill":
        proc.kill()
    elif kind == "sigint":
        proc.send_signal(signal.SIGINT)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if kind == "sigint":
        figures.stop_times_s.append(time.monotonic() - sent)
    clean = _clean_exit(kind, proc.returncode, err)
    figures.disk_full_exits += kind == "full-disk" and proc.returncode == 1
    print(f"{kind} {step + 1}: exit {proc.returncode}", file=sys.stderr, flush=True)
    figures.survived += clean
    if not clean:
        figures.problems.append(f"{kind} #{step}: exit {proc.returncode}: {err.strip()[-300:]}")


def _disk_limit(home: Path, rng: random.Random) -> int:
    """A file-size cap a little above the biggest database file now: writes soon hit it."""
    biggest = max(p.stat().st_size for p in home.glob("tracker.db*"))
    return biggest + rng.randint(8, 512) * 1024


def _clean_exit(kind: str, code: int, err: str) -> bool:
    """Whether the process ended the way this kind of interruption should end it."""
    if any(noise in err for noise in NOISE):
        return False
    if kind == "kill":
        return code == -signal.SIGKILL or code == 0
    if kind == "sigint":
        # 130: stopped; 0: it had finished first; killed by SIGINT: the second one came while
        # Python was loading or shutting down (a shell shows 130 for that too), still no traceback.
        return code in (0, 130, -signal.SIGINT)
    lines = err.strip().splitlines()
    return code == 0 or (code == 1 and len(lines) == 1 and "the disk is full" in lines[0])


def finish_and_check(home: Path, env: dict[str, str], expected: dict[int, dict], figures: Figures) -> None:
    """Resume everything with a daemon, then count lost and doubled items and wrong DVDs."""
    for args in WORK:  # with fewer interruptions than kinds of work, the rest is asked for here
        if not query(home, "SELECT 1 FROM commands WHERE name = ?", args[0]):
            run(home, env, *args, "--enqueue")
    result = run(home, env, "daemon", "--until-idle", timeout_s=1800)
    assert result.returncode == 0, result.stderr
    unfinished = query(home, "SELECT COUNT(*) FROM commands WHERE status IN ('queued', 'running')")[0][0]
    figures.lost += unfinished + query(
        home, "SELECT COALESCE(SUM(total - processed), 0) FROM commands"
              " WHERE status = 'completed' AND total IS NOT NULL")[0][0]
    figures.duplicates = query(
        home, "SELECT COUNT(*) FROM (SELECT command_id, json_extract(data, '$.item') AS item"
              " FROM events WHERE type = 'ItemProcessed' GROUP BY 1, 2 HAVING COUNT(*) > 1)")[0][0]
    got = _dvds(home, env)
    wrong = sorted(i for i in expected.keys() | got.keys() if got.get(i) != expected.get(i))
    figures.wrong_dvds = len(wrong)
    for i in wrong[:3]:
        differ = sorted(k for k in {**expected.get(i, {}), **got.get(i, {})}
                        if expected.get(i, {}).get(k) != got.get(i, {}).get(k))
        first = differ[0]
        figures.problems.append(f"DVD {i}: {', '.join(differ)} differ from a clean run ({first}:"
                                f" {json.dumps(got.get(i, {}).get(first))[:120]} instead of"
                                f" {json.dumps(expected.get(i, {}).get(first))[:120]})")
    figures.verify_ok = run(home, env, "verify", timeout_s=600).returncode == 0


def interruption_scenario(root: Path, env: dict[str, str], expected: dict[int, dict], dvds: int,
                          kind: str, count: int, seed: int) -> Figures:
    """``count`` interruptions of one kind, each followed by the next run resuming the work."""
    rng = random.Random(seed)
    home = new_home(root, kind, env, dvds)
    figures = Figures(kind)
    for step in range(count):
        interrupt_once(home, env, rng, kind, figures, step)
    finish_and_check(home, env, expected, figures)
    return figures


def export_scenario(root: Path, env: dict[str, str], expected: dict[int, dict], dvds: int) -> Figures:
    """Exports over and over while a daemon rewrites every DVD: each one whole and consistent."""
    home = new_home(root, "export", env, dvds)
    for args in WORK:
        run(home, env, *args, "--enqueue")
    daemon = spawn(home, env, "daemon", "--until-idle")
    figures = Figures("export beside the daemon")
    while daemon.poll() is None:
        out = run(home, env, "export", "dvds", "--format", "jsonl", timeout_s=600)
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        figures.interruptions += 1
        figures.survived += out.returncode == 0 and len(rows) == dvds and len({r["id"] for r in rows}) == dvds
    assert daemon.returncode == 0, daemon.stderr.read() if daemon.stderr else ""
    finish_and_check(home, env, expected, figures)
    return figures


def soak(kills: int, sigints: int, full_disks: int, dvds: int, seed: int = 1) -> list[Figures]:
    """Every scenario against one faulty, rate-limited sandbox; their figures."""
    with tempfile.TemporaryDirectory() as tmp, SandboxThread(synthetic_count=dvds, latency_s=0.05) as sb:
        root, env = Path(tmp), {**sb.env(), **CLIENT}
        expected = reference_dvds(root, env, dvds, sb)
        results = [interruption_scenario(root, env, expected, dvds, "kill", kills, seed)]
        results.append(interruption_scenario(root, env, expected, dvds, "sigint", sigints, seed + 1))
        results.append(interruption_scenario(root, env, expected, dvds, "full-disk", full_disks, seed + 2))
        results.append(export_scenario(root, env, expected, dvds))
        stats = sb.stats()
    print(f"sandbox: {stats['requests']} requests, {stats['rate_limited']} answered 429,"
          f" faults {json.dumps(stats['faults'])}", file=sys.stderr)
    return results


def table(results: list[Figures]) -> str:
    """The figures as a markdown table (the README quotes it)."""
    lines = ["| scenario | interruptions | clean stops | items lost | duplicates | wrong DVDs |"
             " verify | stop time s (median / max) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for f in results:
        times = f.stop_times_s
        timing = f"{statistics.median(times):.2f} / {max(times):.2f}" if times else "-"
        lines.append(f"| {f.name} | {f.interruptions} | {f.survived} | {f.lost} | {f.duplicates} |"
                     f" {f.wrong_dvds} | {'ok' if f.verify_ok else 'FAILED'} | {timing} |")
    full = next((f for f in results if f.name == "full-disk"), None)
    if full is not None:
        lines.append(f"\nfull disk: {full.disk_full_exits} of {full.interruptions} capped runs met the cap"
                     " (exit 1, one line); the others finished under it")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its table; 1 if any scenario lost, doubled or broke something."""
    parser = argparse.ArgumentParser(description="tracker's soak suite")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--sigints", type=int, default=20)
    parser.add_argument("--full-disks", type=int, default=10)
    parser.add_argument("--dvds", type=int, default=300)
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = soak(args.kills, args.sigints, args.full_disks, args.dvds)
    for f in results:
        for problem in f.problems:
            print(f"{f.name}: {problem}", file=sys.stderr)
    print(table(results))
    print(f"\n{args.dvds} DVDs, {time.monotonic() - started:.0f} s in all")
    return 0 if all(f.ok() for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
