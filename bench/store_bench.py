"""Store benchmark: append and replay rates, peak memory, replay against a bare scan + decode,
audit queries and time travel from checkpoints, on the realistic mix of events.

Usage: python bench/store_bench.py [--sizes 100000 1000000] [--wide 250000] [--out bench/RESULTS-store.md]

Each measurement runs in a fresh subprocess so its peak memory (ru_maxrss) is its own. Replay
and the bare scan run in turns (scan, replay, scan, replay, ...) and the medians are reported,
with the ratio of each pair's replay to its scan. Targets (issue 12): replay of 1,000,000 events
<= 5 s and <= 3x the scan, peak memory <= 150 MB; appends >= 100,000 events/s batched and
Database.record >= 50,000; history and show < 100 ms; export --as-of near the end < 1 s.
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from events import types as et  # noqa: E402
from events.store import EventStore, NewRecord, connect  # noqa: E402
from projections.dvds import dvd_row  # noqa: E402
from tracker import audit, changelog, checkpoints  # noqa: E402
from tracker.db import Database  # noqa: E402

BATCH = 1000
TORRENTS = [et.Torrent("720p", "web", 120, 30, 900_000_000, "A" * 40),
            et.Torrent("1080p", "bluray", 80, 12, 2_100_000_000, "B" * 40)]


def _dvd_events(n: int, cid: str) -> list[et.Event]:
    """One DVD's life: imported, details refreshed, torrents checked, each with its ItemProcessed."""
    # The id Database.record gives the k-th DVD added to a fresh log (the n-th stream item is odd):
    # the refresh and the check must name the DVD just added, or their folds change nothing.
    dvd = (n + 1) // 2
    item = f"dvd:{dvd}"
    return [
        et.DvdAdded(dvd_id=0, title=f"Film number {n}", year=1950 + n % 75, tmdb_id=n, imdb_id=f"tt{n:07d}",
                    uk_certification="15", source="import"),
        et.ItemProcessed(command_id=cid, item=f"line:{n + 1}", outcome="updated",
                         changes={"title": [None, f"Film number {n}"], "tmdb_id": [None, n]}),
        et.DvdDetailsRefreshed(dvd_id=dvd, tagline="A tagline that says something", budget=63_000_000,
                               revenue=100_853_753, production_companies=["Fox 2000 Pictures", "Regency"],
                               director="David Fincher", uk_certification="18", rating=8.4,
                               vote_count=30_000, poster_path=f"/p{n}.jpg", genres=["Drama", "Thriller"]),
        et.ItemProcessed(command_id=cid, item=item, outcome="updated",
                         changes={"tagline": [None, "A tagline that says something"], "budget": [None, 63_000_000]}),
        et.DvdTorrentsChecked(dvd_id=dvd, torrents=TORRENTS),
        et.ItemProcessed(command_id=cid, item=item, outcome="updated", changes={"torrents": [None, 2]}),
    ]


def _catalogue_events(n: int, cid: str) -> list[et.Event]:
    """One movie listed, detailed and offered in a few regions (one offer withdrawn)."""
    mid = n % 20_000 + 1  # popular lists repeat: the catalogue is smaller than the log
    offers = [et.OfferAdded(media_type="movie", tmdb_id=mid, region=r, offer_type="flatrate",
                            provider_id=8 + n % 5) for r in ("GB", "US", "DE")]
    return [
        et.MovieListed(tmdb_id=mid, title=f"Movie {mid}", overview="An overview " * 8, release_date="1999-10-15",
                       popularity=61.4, rating=8.4, vote_count=26_280, genre_ids=[18, 53], poster_path=f"/m{mid}.jpg"),
        et.MovieDetailsRefreshed(tmdb_id=mid, runtime=139, genres=[et.GenreRef(18, "Drama")], director="D"),
        *offers,
        et.OfferRemoved(media_type="movie", tmdb_id=mid, region="DE", offer_type="flatrate", provider_id=8 + n % 5),
        et.WatchProvidersChecked(media_type="movie", tmdb_id=mid),
        et.ItemProcessed(command_id=cid, item=f"movie:{mid}", outcome="updated"),
    ]


def event_stream() -> Iterator[tuple[str, et.Event]]:
    """An endless realistic mix of (command id, event): commands wrapping DVD and catalogue work."""
    n = 0
    while True:
        cid = f"cmd{n // 500:06d}"
        yield cid, et.CommandRequested(command_id=cid, name="import", options={"file": "dvds.csv"})
        yield cid, et.CommandStarted(command_id=cid, total=500)
        for _ in range(250):
            n += 1
            for e in _dvd_events(n, cid):
                yield cid, e
            for e in _catalogue_events(n, cid):
                yield cid, e
            n += 1
        yield cid, et.CommandCompleted(command_id=cid, summary={"processed": 500, "updated": 500})


def batches(total: int) -> Iterator[list[tuple[str, et.Event]]]:
    """``total`` events in batches of BATCH."""
    stream = event_stream()
    left = total
    while left > 0:
        size = min(BATCH, left)
        yield [next(stream) for _ in range(size)]
        left -= size


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_append(db_path: Path, total: int) -> dict:
    """Raw store appends: pre-encoded records, one transaction per batch (encoding not timed)."""
    store = EventStore(connect(db_path))
    store.create_schema()
    elapsed = 0.0
    for batch in batches(total):
        records = [NewRecord(et.type_name(e), et.encode(e), cid, e.subject(), et.SCHEMA_VERSION) for cid, e in batch]
        started = time.perf_counter()
        store.append(records)
        elapsed += time.perf_counter() - started
    return {"seconds": elapsed, "rate": total / elapsed}


def measure_record(db_path: Path, total: int) -> dict:
    """Database.record: encode, append and fold into the read tables, one transaction per batch.

    A checkpoint is saved whenever checkpoints.EVERY_EVENTS passed since the last (as the
    engine does after a big command); that time is reported apart, not in the rate.
    """
    db = Database(db_path)
    elapsed = saving = 0.0
    for batch in batches(total):
        groups: list[tuple[str, list[et.Event]]] = []
        for cid, e in batch:
            if not groups or groups[-1][0] != cid:
                groups.append((cid, []))
            groups[-1][1].append(e)
        started = time.perf_counter()
        with db.atomic():
            for cid, events in groups:
                db.record(events, cid)
        elapsed += time.perf_counter() - started
        if db.store.count() % checkpoints.EVERY_EVENTS < BATCH:
            started = time.perf_counter()
            checkpoints.save_if_due(db)
            saving += time.perf_counter() - started
    db.close()
    return {"seconds": elapsed, "rate": total / elapsed, "checkpoint_s": saving}


def measure_replay(db_path: Path, total: int) -> dict:
    """Database.replay: drop and refold every read table from the log (split over two processes
    when a second CPU is free: ``split`` says whether it was, and its second process's CPU and
    peak memory are reported beside this one's)."""
    db = Database(db_path)
    cpu = time.process_time()
    started = time.perf_counter()
    count = db.replay()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    db.close()
    assert count == total, (count, total)
    second = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": elapsed, "rate": total / elapsed, "cpu_s": cpu + second.ru_utime + second.ru_stime,
            "split": second.ru_maxrss > 0, "second_peak_mb": second.ru_maxrss / 1024}


def measure_scan(db_path: Path, total: int) -> dict:
    """The floor: a bare sqlite3 scan of the rows replay reads, each row's JSON decoded."""
    decoder = __import__("msgspec").json.Decoder()
    conn = sqlite3.connect(db_path)
    started = time.perf_counter()
    count = 0
    for _seq, _type, _at, _cid, data in conn.execute("SELECT seq, type, at, command_id, data FROM events ORDER BY seq"):
        decoder.decode(data)
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    assert count == total
    return {"seconds": elapsed, "rate": total / elapsed}


def _median_ms(fn, runs: int = 5) -> float:
    """The median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure_audit(db_path: Path, total: int) -> dict:
    """history --dvd, history --command and show in the middle of the log, each opening the database."""
    with Database(db_path) as db:
        mid = db.store.count() // 2
        subject, cid = next((r.subject, r.command_id) for r in db.store.read(after_seq=mid)
                            if r.subject and r.subject.startswith("dvd:"))
    dvd = int(subject.split(":")[1])

    def history_dvd() -> None:
        with Database(db_path) as db:
            assert list(audit.history(db, dvd_id=dvd))

    def history_command() -> None:
        with Database(db_path) as db:  # the first screenful: a big command has 500,000 events
            assert list(itertools.islice(audit.history(db, command_id=cid), 100))

    def show() -> None:
        with Database(db_path) as db:
            assert dvd_row(db.conn, dvd) is not None
            changelog.changes(db, dvd_id=dvd, limit=10)

    return {"history_dvd_ms": _median_ms(history_dvd), "history_command_ms": _median_ms(history_command),
            "show_ms": _median_ms(show)}


def _cli_s(home: Path, *args: str) -> float:
    """Wall seconds of one ``tracker`` command run from the shell, output discarded."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tracker", "--home", str(home), *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure_time_travel(db_path: Path, back: int) -> dict:
    """export dvds --as-of a moment ``back`` events before the end, and export dvds of now, from the CLI."""
    with Database(db_path) as db:
        seq = db.store.count() - back
        moment = next(db.store.read(after_seq=seq - 1, until_seq=seq)).at
        reached = db.store.seq_at(moment)
        start = checkpoints.nearest(db, reached)
    home = db_path.parent
    as_of = [_cli_s(home, "export", "dvds", "--as-of", moment, "--format", "jsonl") for _ in range(3)]
    now = [_cli_s(home, "export", "dvds", "--format", "jsonl") for _ in range(3)]
    # The first export after a checkpoint writes the export lines the next ones copy: it is
    # reported apart, beside the median of the three.
    return {"as_of_s": statistics.median(as_of), "as_of_first_s": as_of[0], "now_s": statistics.median(now),
            "now_first_s": now[0], "folded": reached - (start.seq if start else 0)}


MEASURES = {"append": measure_append, "record": measure_record, "replay": measure_replay, "scan": measure_scan,
            "audit": measure_audit}


def child(kind: str, db_path: Path, total: int) -> None:
    """Run one measurement here and print it as JSON (with this process's peak memory)."""
    result = MEASURES[kind](db_path, total)
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def run_child(kind: str, db_path: Path, total: int) -> dict:
    """One measurement in a fresh interpreter."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--db", str(db_path), "--n", str(total)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def replay_against_scan(db_path: Path, total: int, repeat: int) -> dict:
    """Scan and replay in turns, ``repeat`` pairs: medians, each pair's ratio, the highest peak
    (a split replay's: both processes' peaks added, as if they peaked at the same moment)."""
    pairs = [(run_child("scan", db_path, total), run_child("replay", db_path, total)) for _ in range(repeat)]
    return {"replay_s": statistics.median(r["seconds"] for _, r in pairs),
            "replay_cpu_s": statistics.median(r["cpu_s"] for _, r in pairs),
            "scan_s": statistics.median(s["seconds"] for s, _ in pairs),
            "ratio": statistics.median(r["seconds"] / s["seconds"] for s, r in pairs),
            "ratios": [round(r["seconds"] / s["seconds"], 2) for s, r in pairs],
            "splits": sum(r["split"] for _, r in pairs),
            "peak_mb": max(r["peak_mb"] + r["second_peak_mb"] for _, r in pairs)}


def run_size(total: int, folder: Path, repeat: int) -> dict:
    """Every measurement at one log size, on a database of its own in a home of its own."""
    home = folder / str(total)
    home.mkdir()
    db = home / "tracker.db"
    results = {"append": run_child("append", folder / f"raw-{total}.db", total),
               "record": run_child("record", db, total)}
    results["replay"] = replay_against_scan(db, total, repeat)
    results["audit"] = run_child("audit", db, total)
    results["travel"] = measure_time_travel(db, total // 100)
    results["db_mb"] = db.stat().st_size / 2**20
    shutil.rmtree(home)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder}/raw-{total}.db{suffix}").unlink(missing_ok=True)
    return results


def table(all_results: dict[int, dict]) -> str:
    """The results as markdown tables."""
    lines = ["| events | append ev/s | record ev/s | replay s (CPU s; replays split) | scan+decode s "
             "| replay / scan (each pair) | peak MB record / replay | db MB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for total, r in all_results.items():
        rp = r["replay"]
        lines.append(
            f"| {total:,} | {r['append']['rate']:,.0f} | {r['record']['rate']:,.0f} | {rp['replay_s']:.2f} "
            f"({rp['replay_cpu_s']:.2f}; {rp['splits']} of {len(rp['ratios'])}) | {rp['scan_s']:.2f} "
            f"| {rp['ratio']:.2f}x ({', '.join(map(str, rp['ratios']))}) "
            f"| {r['record']['peak_mb']:.0f} / {rp['peak_mb']:.0f} | {r['db_mb']:.0f} |")
    lines += ["", "| events | history --dvd ms | history --command ms (first 100) | show ms "
              "| export dvds --as-of 1% before the end s (events folded) | export dvds now s "
              "| checkpoints saved while recording s |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for total, r in all_results.items():
        a, t = r["audit"], r["travel"]
        lines.append(f"| {total:,} | {a['history_dvd_ms']:.1f} | {a['history_command_ms']:.1f} | {a['show_ms']:.1f} "
                     f"| {t['as_of_s']:.2f} (first {t['as_of_first_s']:.2f}; {t['folded']:,}) "
                     f"| {t['now_s']:.2f} (first {t['now_first_s']:.2f}) "
                     f"| {r['record']['checkpoint_s']:.1f} |")
    return "\n".join(lines) + "\n"


TARGETS = "| target (issue 12) | figure | met |\n| --- | --- | --- |\n"


def _row(target: str, figure: str, met: bool) -> str:
    return f"| {target} | {figure} | {'yes' if met else 'no'} |\n"


def targets_table(total: int, mix: dict, wide: dict | None) -> str:
    """Every target of issue 12 beside this run's figure for it: met or not, computed."""
    out = TARGETS
    shapes = [(f"mix, {total:,} events", mix["replay"])]
    shapes += [(f"wide, {wide['events']:,} events", wide["replay"])] if wide else []
    for name, rp in shapes:
        out += _row(f"replay <= 5 s ({name})", f"{rp['replay_s']:.2f} s", rp["replay_s"] <= 5)
        out += _row(f"replay <= 3x scan + decode ({name})", f"{rp['ratio']:.2f}x (scan {rp['scan_s']:.2f} s)",
                    rp["ratio"] <= 3)
        out += _row(f"replay peak <= 150 MB ({name})", f"{rp['peak_mb']:.0f} MB", rp["peak_mb"] <= 150)
    out += _row("appends >= 100,000 ev/s batched", f"{mix['append']['rate']:,.0f} ev/s",
                mix["append"]["rate"] >= 100_000)
    out += _row("record path >= 50,000 ev/s", f"{mix['record']['rate']:,.0f} ev/s",
                mix["record"]["rate"] >= 50_000)
    if wide:
        for step in ("import", "normalize"):
            secs = wide[step]["seconds"]
            out += _row(f"{step} of {wide['rows']:,} rows <= 10 s (CLI, median of {len(wide[step]['runs_s'])})",
                        f"{secs:.1f} s ({', '.join(f'{s:.1f}' for s in wide[step]['runs_s'])})", secs <= 10)
        out += _row("export dvds --as-of 1% before the end < 1 s (wide, CLI; median of 3)",
                    f"{wide['near_end']:.2f} s (the first {wide['near_end_first']:.2f} s)", wide["near_end"] < 1)
    t = mix["travel"]
    out += _row("export dvds --as-of 1% before the end < 1 s (mix, CLI; median of 3)",
                f"{t['as_of_s']:.2f} s (the first {t['as_of_first_s']:.2f} s)", t["as_of_s"] < 1)
    for name, queries in [("mix", mix["audit"])] + ([("wide", wide["audit"])] if wide else []):
        ms = [queries[k] for k in ("history_dvd_ms", "history_command_ms", "show_ms")]
        out += _row(f"history --dvd, history --command, show < 100 ms ({name})",
                    " / ".join(f"{v:.1f}" for v in ms) + " ms", max(ms) < 100)
    return out


def main() -> None:
    """Parse arguments; run as the parent (every size) or as one measurement's child."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    parser.add_argument("--repeat", type=int, default=3, help="scan + replay pairs; the medians are kept")
    parser.add_argument("--wide", type=int, default=250_000, help="rows of the wide shape (0: skip it)")
    parser.add_argument("--child", choices=MEASURES)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db, args.n)
        return
    _as_installed()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        results = {n: run_size(n, Path(tmp), args.repeat) for n in args.sizes}
    wide = _run_wide(args.wide, args.repeat) if args.wide else None
    cpu = f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    report = (f"Store benchmark, realistic mix ({cpu}; batches of {BATCH} events a transaction; "
              f"medians of {args.repeat} scan + replay pairs; queries medians of 5, CLI exports of 3; "
              f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)\n\n"
              f"{table(results)}")
    if wide:
        report += f"\n{wide['table']}"
    report += f"\n{targets_table(max(results), results[max(results)], wide)}"
    print(report)
    if args.out:
        args.out.write_text(f"# Store benchmark\n\n{report}", encoding="utf-8")


def _as_installed() -> None:
    """Children run as an installed tracker does: its modules compiled once and cached, not
    compiled by every process (PYTHONDONTWRITEBYTECODE, set in some shells, cost each replay's
    two processes ~0.2 s of start-up apiece)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for package in ("events", "projections", "tracker"):
        compileall.compile_dir(ROOT / package, quiet=1)


def _run_wide(rows: int, repeat: int) -> dict:
    """The wide shape (bench/wide_bench.py) in a process of its own, in the same run: its figures."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "wide_bench.py"), "--rows", str(rows),
                          "--repeat", str(repeat), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


if __name__ == "__main__":
    main()
