"""The wide shape, from the CLI: many DVDs imported from a CSV, then their certificates normalized.

250,000 rows give 1,000,006 events over 250,000 distinct DVDs (the replay's row cache cannot
hold them all). Run by store_bench.py (``--wide N``, in the same run as the mix); alone:
python bench/wide_bench.py [--rows N].
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from store_bench import _cli_s, replay_against_scan, run_child  # noqa: E402

from tracker.db import Database  # noqa: E402

CERTIFICATES = ("12A", "PG", "U", "R18", "15A", "18U")  # every one has a letter to lower-case


def write_csv(path: Path, rows: int) -> None:
    """A DVD CSV of ``rows`` distinct films."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["title", "year", "tmdb_id", "imdb_id", "uk_certification"])
        for i in range(rows):
            out.writerow([f"Film {i}", 1950 + i % 75, i + 1, f"tt{i + 1:07d}", CERTIFICATES[i % 6]])


def timed_cli(home: Path, *args: str) -> dict:
    """Wall and CPU seconds and peak MB of one ``tracker`` command from the shell."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tracker", "--home", str(home), *args],
                            stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    assert os.waitstatus_to_exitcode(status) == 0, args
    return {"seconds": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def import_and_normalize(home: Path, source: Path) -> tuple[dict, dict, str]:
    """Import ``source`` into a new home, then normalize it: both commands' figures, and the
    moment between them."""
    home.mkdir()
    imported = timed_cli(home, "import", str(source))
    with Database(home / "tracker.db") as db:
        between = next(db.store.read(after_seq=db.store.count() - 1)).at
    time.sleep(0.01)  # the next command's events come strictly after the moment
    return imported, timed_cli(home, "normalize-uk-certifications"), between


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time, with every run's wall time beside it."""
    middle = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**middle, "runs_s": [round(r["seconds"], 2) for r in runs]}


def run_wide(folder: Path, rows: int, repeat: int) -> dict:
    """Import and normalize ``repeat`` times (each into a new home: the medians), then replay
    against a scan, audit queries and time travel on the last home."""
    source = folder / "wide.csv"
    write_csv(source, rows)
    runs = []
    for n in range(repeat):
        home = folder / f"wide-{n}"
        runs.append(import_and_normalize(home, source))
        if n < repeat - 1:
            shutil.rmtree(home)  # 400 MB each
    between = runs[-1][2]
    results = {"rows": rows, "import": median_run([r[0] for r in runs]),
               "normalize": median_run([r[1] for r in runs])}
    db_path = home / "tracker.db"
    with Database(db_path) as db:
        total = db.store.count()
        near_end = next(db.store.read(after_seq=total - total // 100 - 1)).at
    results["events"] = total
    results["replay"] = replay_against_scan(db_path, total, repeat)
    results["replay_cli"] = timed_cli(home, "replay")
    results["audit"] = run_child("audit", db_path, total)
    for name, moment in (("between", between), ("near_end", near_end), ("export_now", None)):
        as_of = ("--as-of", moment) if moment else ()
        runs = [_cli_s(home, "export", "dvds", *as_of, "--format", "jsonl") for _ in range(3)]
        results[name], results[f"{name}_first"] = statistics.median(runs), runs[0]
    results["db_mb"] = db_path.stat().st_size / 2**20
    return results


def wide_table(r: dict) -> str:
    """The wide shape's results as markdown."""
    imp, norm, rp, a = r["import"], r["normalize"], r["replay"], r["audit"]
    per_s = (r["events"] - 6) / 2  # each command appended half the events (3 of its own)
    return "\n".join([
        f"Wide shape: {r['rows']:,} DVDs imported from a CSV, then certificates normalized "
        f"({r['events']:,} events, db {r['db_mb']:.0f} MB), every command from the CLI.",
        "",
        "| step | wall s | CPU s | events/s (wall) | peak MB |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| import (median of {_runs(imp)}) | {imp['seconds']:.1f} | {imp['cpu_s']:.1f} "
        f"| {per_s / imp['seconds']:,.0f} | {imp['peak_mb']:.0f} |",
        f"| normalize-uk-certifications (median of {_runs(norm)}) | {norm['seconds']:.1f} "
        f"| {norm['cpu_s']:.1f} | {per_s / norm['seconds']:,.0f} | {norm['peak_mb']:.0f} |",
        f"| replay (Database.replay, median; {rp['splits']} of {len(rp['ratios'])} split in two processes) "
        f"| {rp['replay_s']:.2f} | {rp['replay_cpu_s']:.2f} | {r['events'] / rp['replay_s']:,.0f} "
        f"| {rp['peak_mb']:.0f} |",
        f"| scan + decode (median) | {rp['scan_s']:.2f} | | | |",
        f"| tracker replay (CLI, with its checkpoint) | {r['replay_cli']['seconds']:.2f} "
        f"| {r['replay_cli']['cpu_s']:.2f} | | {r['replay_cli']['peak_mb']:.0f} |",
        "",
        f"Replay / scan: {rp['ratio']:.2f}x (pairs: {', '.join(map(str, rp['ratios']))}). "
        f"history --dvd {a['history_dvd_ms']:.1f} ms, history --command (first 100) "
        f"{a['history_command_ms']:.1f} ms, show {a['show_ms']:.1f} ms. export dvds (CLI, medians of 3): "
        f"--as-of between the two commands {r['between']:.2f} s (the first {r['between_first']:.2f} s), "
        f"--as-of 1% before the end {r['near_end']:.2f} s (the first {r['near_end_first']:.2f} s), "
        f"now {r['export_now']:.2f} s (the first {r['export_now_first']:.2f} s).",
        ""])


def _runs(step: dict) -> str:
    """A step's runs, each into a new home: "3: 10.1, 9.9, 10.0 s"."""
    return f"{len(step['runs_s'])}: {', '.join(f'{s:.1f}' for s in step['runs_s'])} s"


def main() -> None:
    """Run the wide shape alone and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures and the table as one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wide-bench-") as tmp:
        results = run_wide(Path(tmp), args.rows, args.repeat)
    table = wide_table(results)
    print(json.dumps({**results, "table": table}) if args.json else table)


if __name__ == "__main__":
    main()
