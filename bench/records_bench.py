"""The records' figures (issue 9): 100,000 sessions in the SQLite index, and retention over 10,000 expired ones.

    PYTHONPATH=. python bench/records_bench.py [--sessions 100000] [--expired 10000] [--recording-kib 64]

Prints, each against a peer measured in the same run:

- ``f.summary()`` (workbench.fleet, per technician and per day) on 100,000 sessions; peer: the same two
  GROUP BY queries in plain sqlite3 (goal ≤ 1 s);
- ``workbench sessions --since 30d`` in-process (the command's function, output to /dev/null) and as a
  whole process (interpreter start included); peer: the plain sqlite3 SELECT it runs (goal ≤ 1 s);
- what today's relay offers instead of an index: reading every ``session.json`` of 10,000 sessions to
  find those of the last 30 days (scaled ×10 to 100,000);
- ``retention apply`` over 10,000 expired sessions with recordings (hash every file, audit record
  fsynced per batch, delete, mark in the index); peer: deleting the same files with a plain walk,
  no hash, no audit (goal ≤ 30 s).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from relay.audit import AuditLog
from relay.index.schema import COLUMN_NAMES
from relay.index.store import SessionIndex
from relay.retention import CLASSES, apply, default_policy
from tests.records.synth import LINKS, PLAYBOOKS, TECHNICIANS, iso, write_sessions
from workbench import fleet
from workbench.cli import main as workbench_main


def timed(run: Any, repeat: int = 5) -> float:
    """Median seconds of *repeat* runs."""
    laps = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        laps.append(time.perf_counter() - start)
    return statistics.median(laps)


def fill_index(data: Path, count: int, now: dt.datetime) -> None:
    """*count* synthetic rows over the last 365 days, straight into the index (no files)."""
    rng = random.Random(11)
    index = SessionIndex.open(data)
    rows = []
    for n in range(count):
        start = now - dt.timedelta(seconds=rng.uniform(0, 365 * 86400))
        minutes = rng.uniform(2, 90)
        playbook = rng.choice(PLAYBOOKS)
        rows.append({
            "session_id": f"s{n:06d}", "technician": rng.choice(TECHNICIANS),
            "machine_id": f"pc-{rng.randrange(20000)}",
            "machine_hostname": f"pc-{n}", "machine_os": "Windows 11", "link": rng.choice(LINKS),
            "started_at": iso(start), "ended_at": iso(start + dt.timedelta(minutes=minutes)),
            "day": start.date().isoformat(), "duration_s": minutes * 60, "consent_terms": "terms-v3",
            "consent_sha256": "ab" * 32, "consent_language": "fr", "consent_how": "button", "end_reason": "done",
            "ended_by": "technician", "calls": rng.randint(1, 40), "calls_by_kind": json.dumps({"files": 3}),
            "refusals": rng.randint(0, 2), "refused_forbidden_folder": 0, "refused_hidden_area": 0,
            "refused_not_granted": 0, "errors": rng.randint(0, 1), "bytes_to_agent": 1000, "bytes_from_agent": 90000,
            "frames": 300, "frames_per_s": 1.2, "latency_p50_ms": rng.uniform(10, 90), "latency_p90_ms": 120.0,
            "latency_p99_ms": 200.0, "control_s": 30.0, "files_changed": rng.randint(0, 4),
            "playbooks": json.dumps([playbook] if playbook else []), "playbook": playbook, "recording_bytes": 0,
            "journal_records": 20, "journal_alerts": 0, "indexed_at": iso(now)})
        if len(rows) == 5000:
            index.upsert(rows)
            rows = []
    index.upsert(rows)
    assert set(COLUMN_NAMES) == set(index.row("s000000") or {})
    index.close()


def bench_index(root: Path, count: int) -> None:
    data = root / "index"
    now = dt.datetime.now(dt.timezone.utc)
    start = time.perf_counter()
    fill_index(data, count, now)
    print(f"index: {count} sessions written in {time.perf_counter() - start:.1f} s ({data / 'index.sqlite3'})")
    f = fleet.open(data)
    summary = timed(f.summary)
    result = f.summary()
    assert int(result.per_technician["sessions"].sum()) == count
    f.close()

    def plain_summary() -> None:
        conn = sqlite3.connect(data / "index.sqlite3")
        for group in ("technician", "day"):
            conn.execute(f"SELECT {group}, count(*), sum(duration_s), avg(duration_s), sum(refusals), sum(errors), "
                         f"avg(latency_p50_ms), sum(files_changed), sum(control_s) FROM sessions GROUP BY {group}"
                         ).fetchall()
        conn.close()

    peer = timed(plain_summary)
    print(f"f.summary():                      {summary * 1000:8.1f} ms   plain sqlite3 GROUP BY: {peer * 1000:7.1f} ms"
          f"   ratio {summary / peer:5.2f}   goal <= 1000 ms")

    def ours() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            assert workbench_main(["sessions", "--data", str(data), "--since", "30d"]) == 0

    listing = timed(ours)
    cutoff = iso(now - dt.timedelta(days=30))

    def plain_select() -> None:
        conn = sqlite3.connect(data / "index.sqlite3")
        conn.execute("SELECT * FROM sessions WHERE started_at >= ? ORDER BY started_at DESC", (cutoff,)).fetchall()
        conn.close()

    peer = timed(plain_select)
    print(f"workbench sessions --since 30d:   {listing * 1000:8.1f} ms   plain sqlite3 SELECT:   {peer * 1000:7.1f} ms"
          f"   ratio {listing / peer:5.2f}   goal <= 1000 ms")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def whole_process() -> None:
        subprocess.run([sys.executable, "-m", "workbench.cli", "sessions", "--data", str(data), "--since", "30d"],
                       check=True, stdout=subprocess.DEVNULL, env=env)

    process = timed(whole_process, 3)
    bare = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True, env=env), 3)
    print(f"  as a process (interpreter start included): {process * 1000:.0f} ms; a bare `python -c pass`: "
          f"{bare * 1000:.0f} ms")


def bench_retention(root: Path, expired: int, recording_kib: int) -> None:
    ours_dir, peer_dir = root / "retention", root / "retention-peer"
    end = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    start = time.perf_counter()
    write_sessions(ours_dir, expired, days=60, end=end, recording_bytes=recording_kib * 1024, machines=5000)
    shutil.copytree(ours_dir, peer_dir)
    index = SessionIndex.open(ours_dir)
    index.reindex()
    print(f"retention: {expired} sessions with {recording_kib} KiB recordings written and indexed in "
          f"{time.perf_counter() - start:.1f} s")
    cutoff = iso(end - dt.timedelta(days=30))

    def scan_files() -> int:
        found = 0
        for meta in (ours_dir / "sessions").glob("*/session.json"):
            if json.loads(meta.read_text(encoding="utf-8"))["started_at"] >= cutoff:
                found += 1
        return found

    scan = timed(scan_files, 1)
    print(f"today's relay, no index: reading {expired} session.json for 'the last 30 days': {scan * 1000:.0f} ms "
          f"(x{100000 // expired} for 100,000 sessions: ~{scan * 100000 / expired:.1f} s)")
    now = end + dt.timedelta(days=2 * 365)  # everything is due: every class of every session
    start = time.perf_counter()
    outcome = apply(index, AuditLog(ours_dir), default_policy(), now)
    ours = time.perf_counter() - start
    index.close()
    assert not outcome.failed and outcome.removed == expired * len(CLASSES)
    start = time.perf_counter()
    for folder in (peer_dir / "sessions").iterdir():
        for data_class in CLASSES.values():
            for rel in data_class.paths:
                path = folder / rel
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
    peer = time.perf_counter() - start
    verified = AuditLog(ours_dir).verify()
    assert verified.ok
    print(f"retention apply, {expired} expired sessions: {ours:6.2f} s ({outcome.removed} removals, "
          f"{outcome.bytes >> 20} MiB, {verified.records} audit records)   plain delete walk: {peer:5.2f} s   "
          f"ratio {ours / peer:5.2f}   goal <= 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--expired", type=int, default=10_000)
    parser.add_argument("--recording-kib", type=int, default=64)
    parser.add_argument("--dir", type=Path, help="where to build the data (default: a temporary directory)")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="records-bench-"))
    try:
        bench_index(root, args.sessions)
        bench_retention(root, args.expired, args.recording_kib)
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
