"""The session index on SQLite and on a real PostgreSQL: schema, rows from the files, the writer, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from relay.index.schema import PERSONAL_COLUMNS, SCHEMA_VERSION, current_version, migrate
from relay.index.store import SessionIndex
from relay.index.writer import DAY, IndexWriter
from relay.retention import daily_duty, default_policy
from tests.fake_clock import FakeClock
from tests.records.postgres import PostgresServer
from tests.records.synth import T0, write_session, write_sessions
from wire.errors import Unavailable
from workbench import fleet
from workbench.lab import python_env


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env=python_env(), cwd=cwd, timeout=120)


def test_the_schema_is_made_once_and_marks_the_personal_columns(tmp_path: Path, db_url: str | None) -> None:
    index = SessionIndex.open(tmp_path, db_url)
    try:
        assert current_version(index.db) == SCHEMA_VERSION
        assert migrate(index.db) == SCHEMA_VERSION  # again: nothing to do, nothing fails
        _, rows = index.db.query("SELECT column_name FROM field_marks WHERE personal = 1 ORDER BY column_name")
        assert tuple(sorted(r[0] for r in rows)) == tuple(sorted(PERSONAL_COLUMNS))
        assert {"machine_id", "machine_hostname", "machine_serial"} <= set(PERSONAL_COLUMNS)
    finally:
        index.close()


def test_a_row_holds_the_sessions_figures(tmp_path: Path, db_url: str | None) -> None:
    rng = random.Random(3)
    session_id = write_session(tmp_path, start=T0, minutes=30, technician="Alice Martin", hostname="pc-ana",
                               rng=rng, playbook="printer", serial="SN-123")
    index = SessionIndex.open(tmp_path, db_url)
    try:
        assert index.reindex() == 1
        row = index.row(session_id)
    finally:
        index.close()
    assert row is not None
    journal = [json.loads(x) for x in (tmp_path / "sessions" / session_id / "journal.jsonl").read_text().splitlines()]
    outcomes = [r for r in journal if r["kind"] == "outcome"]
    assert row["calls"] == sum(r["kind"] == "call" for r in journal)
    assert row["refused_forbidden_folder"] + row["refused_hidden_area"] == sum(
        r.get("code") == "forbidden" for r in outcomes)
    assert row["refused_not_granted"] == sum(r.get("code") == "not_granted" for r in outcomes)
    assert row["files_changed"] == sum(r["method"] == "files.write" and r["outcome"] == "ok" for r in outcomes)
    assert row["control_s"] == pytest.approx(sum(r.get("duration_ms", 0) for r in journal if r["kind"] == "control")
                                             / 1000)
    assert row["duration_s"] == pytest.approx(1800)
    assert row["machine_id"] == "pc-ana" and row["machine_serial"] == "SN-123"
    assert row["playbook"] == "printer" and json.loads(row["playbooks"]) == ["printer"]
    assert row["consent_sha256"] == "ab" * 32 and row["consent_language"] == "fr"
    assert 5 <= row["latency_p50_ms"] <= 80 and row["latency_p99_ms"] >= row["latency_p50_ms"]
    assert row["bytes_to_agent"] == 3 * 90
    assert row["frames_per_s"] == pytest.approx(row["frames"] / 1800, abs=1e-3)


def test_an_unreachable_database_is_a_clear_error_at_start(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match=r"cannot reach the database at postgresql://u:\*\*\*@127\.0\.0\.1"):
        IndexWriter(tmp_path, "postgresql://u:secret@127.0.0.1:1/none")
    result = cli("relay", "--port", "0", "--data", str(tmp_path / "d"), "--db", "postgresql://127.0.0.1:1/none")
    assert result.returncode == 2
    assert "the session index: cannot reach the database" in result.stderr
    assert not (tmp_path / "d" / "sessions").exists()


def test_the_writer_keeps_sessions_while_the_database_is_away_and_catches_up(
        tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    clock = FakeClock()
    writer = IndexWriter(tmp_path, url, clock=clock)
    writer.start(reindex=False)
    try:
        first = write_session(tmp_path, start=T0, minutes=5, technician="A", hostname="h1", rng=random.Random(1))
        writer.session_changed(first)
        assert writer.wait_idle()
        postgres.set_connections(url, False)  # the outage
        second = write_session(tmp_path, start=T0, minutes=5, technician="B", hostname="h2", rng=random.Random(2))
        writer.session_changed(second)
        assert not writer.wait_idle(timeout=5)  # it cannot write: the session waits
        assert writer.pending == 1 and writer.failures >= 1
        postgres.set_connections(url, True)
        clock.advance(120)  # past any back-off delay
        writer.wake()
        assert writer.wait_idle()
    finally:
        writer.close()
    with fleet.open(url) as f:
        assert set(f.sessions()["session_id"]) == {first, second}


def test_the_relay_applies_retention_daily_by_its_clock(tmp_path: Path, db_url: str | None) -> None:
    write_sessions(tmp_path, 20, days=30, end=T0)
    clock = FakeClock()
    wall = [T0 + dt.timedelta(days=10)]
    writer = IndexWriter(tmp_path, db_url, clock=clock, daily=daily_duty(tmp_path, default_policy(), lambda: wall[0]))
    writer.start(reindex=True)
    try:
        assert writer.wait_idle() and writer.daily_runs == 1  # at start; nothing is 90 days old yet
        assert all((d / "messages.jsonl").exists() for d in (tmp_path / "sessions").iterdir())
        wall[0] = T0 + dt.timedelta(days=200)
        clock.advance(DAY - 1)
        writer.wake()
        assert writer.wait_idle() and writer.daily_runs == 1  # not a day yet
        clock.advance(1)
        writer.wake()
        assert writer.wait_idle() and writer.daily_runs == 2
    finally:
        writer.close()
    assert not any((d / "messages.jsonl").exists() for d in (tmp_path / "sessions").iterdir())
    assert all((d / "journal.jsonl").exists() for d in (tmp_path / "sessions").iterdir())  # 365 days


def test_workbench_sessions_lists_filters_and_formats(tmp_path: Path, db_url: str | None) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    ids = write_sessions(tmp_path, 30, days=20, end=now)
    db = ["--db", db_url] if db_url else []
    reindexed = cli("sessions", "--data", str(tmp_path), *db, "--reindex", "--format", "json")
    assert reindexed.returncode == 0, reindexed.stderr
    listed = json.loads(reindexed.stdout)
    assert {s["session_id"] for s in listed["sessions"]} == set(ids)
    assert "machine_hostname" in listed["personal_columns"]
    recent = json.loads(cli("sessions", "--data", str(tmp_path), *db, "--since", "7d", "--technician",
                            "Alice Martin", "--format", "json").stdout)["sessions"]
    cutoff = (now - dt.timedelta(days=7)).isoformat()
    expected = [s for s in listed["sessions"] if s["started_at"] >= cutoff and s["technician"] == "Alice Martin"]
    assert [s["session_id"] for s in recent] == [s["session_id"] for s in expected]
    table = cli("sessions", "--data", str(tmp_path), *db)
    assert table.stdout.splitlines()[0].startswith("session_id") and "30 session(s)" in table.stdout
    csv_out = cli("sessions", "--data", str(tmp_path), *db, "--format", "csv", "--redact").stdout
    assert "machine_hostname (personal)" in csv_out.splitlines()[0] and "pc-" not in csv_out
    bad = cli("sessions", "--data", str(tmp_path), *db, "--since", "last tuesday")
    assert bad.returncode == 2 and "--since 'last tuesday'" in bad.stderr and "(bad_params)" in bad.stderr
    nowhere = cli("sessions", "--db", "postgresql://127.0.0.1:1/none")
    assert nowhere.returncode == 2 and "cannot reach the database" in nowhere.stderr
