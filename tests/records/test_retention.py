"""Retention, holds, export and erasure, each change preceded by its record in the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zipfile
from pathlib import Path

import pytest

from relay.audit import AuditLog
from relay.index.store import SessionIndex
from relay.retention import Policy, apply, default_policy, hold
from relay.subject import erase, export
from tests.records.synth import T0, write_sessions
from tests.records.test_index import cli
from wire.errors import BadParams, Conflict

LATER = T0 + dt.timedelta(days=120)  # past 90 days (recordings, message logs), before 365 (journals, personal)


def fixed_clock() -> str:
    return "2026-05-01T00:00:00.000000+00:00"


def files_of(data: Path) -> dict[str, str]:
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((data / "sessions").rglob("*")) if p.is_file()}


@pytest.fixture
def index(tmp_path: Path, db_url: str | None) -> SessionIndex:
    write_sessions(tmp_path, 12, days=30, end=T0, recording_bytes=256, machines=3)
    opened = SessionIndex.open(tmp_path, db_url)
    opened.reindex()
    return opened


@pytest.mark.parametrize(("periods", "complaint"), [
    ({"recordings": "30d", "holograms": "1d"}, "unknown data class(es) holograms"),
    ({"journals": "-5d"}, "is negative"),
    ({"journals": "five days"}, "is not a period"),
    ({"journals": 30}, "is not a period"),
])
def test_a_bad_policy_is_refused_and_changes_nothing(tmp_path: Path, index: SessionIndex, db_url: str | None,
                                                      periods: dict[str, object], complaint: str) -> None:
    before = files_of(tmp_path)
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"name": "bad", "periods": periods}))
    with pytest.raises(BadParams, match=re.escape(complaint)):
        Policy.load(policy_file)
    result = cli("retention", "apply", "--data", str(tmp_path), "--retention", str(policy_file),
                 *(["--db", db_url] if db_url else []))
    assert result.returncode == 2 and complaint in result.stderr
    assert files_of(tmp_path) == before and not (tmp_path / "audit.jsonl").exists()
    index.close()


def test_retention_removes_what_is_due_after_its_audit_record(tmp_path: Path, index: SessionIndex) -> None:
    before = files_of(tmp_path)
    audit = AuditLog(tmp_path, clock=fixed_clock)
    dry = apply(index, audit, default_policy(), LATER, dry_run=True)
    assert {r.data_class for r in dry.due} == {"recordings", "message_logs", "inventories"}
    assert files_of(tmp_path) == before and not audit.path.exists()
    held_id = dry.due[0].session_id
    hold(index, audit, held_id, "dispute 2026-17 with the customer", "quality")
    outcome = apply(index, audit, default_policy(), LATER)
    assert outcome.held == {held_id: "dispute 2026-17 with the customer"} and not outcome.failed
    records = audit.records()
    assert records[0]["kind"] == "hold" and records[0]["session_id"] == held_id
    deletes = [r for r in records if r["kind"] == "delete"]
    assert len(deletes) == outcome.removed == 11 * 3
    for record in deletes:
        assert record["policy"]["name"] == "default-2026-1" and record["policy"]["period_days"] == 90
        for item in record["files"]:  # every file deleted, with the hash it had
            assert before[f"sessions/{record['session_id']}/{item['path']}"] == item["sha256"]
            assert not (tmp_path / "sessions" / record["session_id"] / item["path"]).exists()
    assert (tmp_path / "sessions" / held_id / "recording" / "video.webm").exists()
    assert (tmp_path / "sessions" / held_id / "messages.jsonl").exists()
    assert apply(index, audit, default_policy(), LATER).due == []  # done once
    verified = audit.verify()
    assert verified.ok and verified.records == len(records)
    assert cli("audit", "verify", "--data", str(tmp_path)).returncode == 0
    lines = audit.path.read_text().splitlines()
    lines[1] = lines[1].replace('"bytes":', '"bytes":1', 1)  # someone edits a deletion's record
    audit.path.write_text("\n".join(lines) + "\n")
    tampered = cli("audit", "verify", "--data", str(tmp_path))
    assert tampered.returncode == 1 and "first bad record is 2" in tampered.stdout
    index.close()


def test_personal_facts_expire_from_the_files_and_the_index(tmp_path: Path, index: SessionIndex) -> None:
    audit = AuditLog(tmp_path, clock=fixed_clock)
    apply(index, audit, default_policy(), T0 + dt.timedelta(days=400))
    for folder in (tmp_path / "sessions").iterdir():
        meta = json.loads((folder / "session.json").read_text())
        assert "hostname" not in meta["machine"] and meta["erased"]["personal_facts"] == fixed_clock()
        row = index.row(folder.name)
        assert row is not None and row["machine_id"] is None and row["machine_hostname"] is None
        assert row["calls"] > 0  # the figures stay
    personal = [r for r in audit.records() if r["data_class"] == "personal_facts"]
    assert all(set(r["fields"]) == {"machine.hostname"} for r in personal)
    index.close()


def test_export_holds_every_record_and_can_redact(tmp_path: Path, index: SessionIndex) -> None:
    audit = AuditLog(tmp_path, clock=fixed_clock)
    _, rows = index.db.query("SELECT machine_id, count(*) FROM sessions GROUP BY machine_id ORDER BY machine_id")
    machine, count = rows[0]
    out = tmp_path / "out.zip"
    records = export(index, audit, out, machine=machine)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert "summary.html" in names and "records.json" in names
        assert sum(n.endswith("journal.jsonl") for n in names) == count
        assert sum(n.endswith("recording/video.webm") for n in names) == count
        kept = json.loads(zf.read("records.json"))
        assert kept["sessions"][0]["index"]["machine_hostname"] == {"value": machine, "personal": True}
        assert "(personal)" in zf.read("summary.html").decode()
    assert len(records["sessions"]) == count
    received = [f for s in records["sessions"] for f in s["files_received"]]
    assert received and all(f["method"] == "files.write" and f["bytes"] == 120 for f in received)
    redacted = tmp_path / "redacted.zip"
    export(index, audit, redacted, machine=machine, redact=True)
    with zipfile.ZipFile(redacted) as zf:
        for name in names:
            if not name.endswith((".webm", ".png")):
                assert machine.encode() not in zf.read(name), name
    assert [r["kind"] for r in audit.records()] == ["export", "export"]
    with pytest.raises(BadParams, match="either --machine"):
        export(index, audit, tmp_path / "x.zip", machine=machine, session="s")
    index.close()


def test_erasure_is_refused_for_a_held_session_and_otherwise_removes_everything(
        tmp_path: Path, index: SessionIndex, db_url: str | None) -> None:
    audit = AuditLog(tmp_path, clock=fixed_clock)
    _, rows = index.db.query("SELECT session_id FROM sessions WHERE machine_id = 'pc-0000' ORDER BY session_id")
    ids = [r[0] for r in rows]
    before = files_of(tmp_path)
    hold(index, audit, ids[0], "legal request 42", "legal")
    with pytest.raises(Conflict, match="legal request 42"):
        erase(index, audit, "pc-0000")
    assert files_of(tmp_path) == before
    assert [r["kind"] for r in audit.records()] == ["hold", "erase_refused"]
    hold(index, audit, ids[0], "", "legal", release=True)
    erased, removed = erase(index, audit, "pc-0000")
    assert sorted(erased) == ids and removed == len(ids) * 5
    for session_id in ids:
        left = sorted(p.name for p in (tmp_path / "sessions" / session_id).rglob("*") if p.is_file())
        assert left == ["session.json"]
        meta = json.loads((tmp_path / "sessions" / session_id / "session.json").read_text())
        assert "hostname" not in meta["machine"]
    _, rows = index.db.query("SELECT count(*) FROM sessions WHERE machine_id = 'pc-0000'")
    assert rows[0][0] == 0
    assert audit.verify().ok
    result = cli("erase", "--data", str(tmp_path), "--machine", "pc-0000",
                 *(["--db", db_url] if db_url else []))
    assert result.returncode == 2 and "no session of machine" in result.stderr
    index.close()
