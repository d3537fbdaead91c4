"""Synthetic sessions in the relay's on-disk format (session.json, a chained journal.jsonl, messages.jsonl),
for the records tests and bench/records_bench.py.  Deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from pathlib import Path
from typing import Any

from relay.records import PERSONAL_FIELDS
from wire.chain import GENESIS, canonical, record_hash

TECHNICIANS = ("Alice Martin", "Bruno Petit", "Chloé Durand", "Driss Benali", "Eva Moreau")
PLAYBOOKS = ("printer", "network_proxy", "slow_boot", "mail_setup", None)
LINKS = ("fibre", "adsl", "4g", "wifi")
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def journal_records(session_id: str, technician: str, start: dt.datetime, rng: random.Random,
                    playbook: str | None) -> list[dict[str, Any]]:
    """A chained journal: consent, start, calls and outcomes (some refused), control, end."""
    plain: list[dict[str, Any]] = [
        {"kind": "consent", "terms": "terms-v3", "terms_sha256": "ab" * 32, "how": "button"},
        {"kind": "session_start", "session_id": session_id, "technician": technician}]
    for n in range(rng.randint(2, 6)):
        method = rng.choice(("files.read", "files.write", "registry.get", "screen.screenshot", "inventory.collect"))
        call: dict[str, Any] = {"kind": "call", "request": f"r{n}", "method": method,
                                "params": {"path": f"/home/ana/doc{n}.txt"} if method.startswith("files") else {}}
        if method == "files.write":
            call["data_bytes"] = 120
        if playbook:
            call["playbook"] = playbook
        plain.append(call)
        roll = rng.random()
        if roll < 0.08:
            plain.append({"kind": "outcome", "request": f"r{n}", "method": method, "outcome": "error",
                          "code": "forbidden"})
        elif roll < 0.12:
            plain.append({"kind": "outcome", "request": f"r{n}", "method": method, "outcome": "error",
                          "code": "not_granted"})
        else:
            plain.append({"kind": "outcome", "request": f"r{n}", "method": method, "outcome": "ok",
                          "duration_ms": 3.0})
    plain.append({"kind": "control", "category": "pointer", "duration_ms": rng.randint(0, 20000)})
    plain.append({"kind": "session_end", "session_id": session_id, "reason": "done", "by": "technician"})
    out: list[dict[str, Any]] = []
    prev = GENESIS
    for seq, body in enumerate(plain, 1):
        record = {"seq": seq, "time": iso(start + dt.timedelta(seconds=seq)), **body, "prev": prev}
        record["hash"] = prev = record_hash(record)
        out.append(record)
    return out


def write_session(data_dir: Path, *, start: dt.datetime, minutes: float, technician: str, hostname: str,
                  rng: random.Random, playbook: str | None = None, recording_bytes: int = 0,
                  ended: bool = True, serial: str | None = None) -> str:
    """One session's folder as the relay leaves it (plus recordings when asked); returns its id."""
    session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    folder = data_dir / "sessions" / session_id
    folder.mkdir(parents=True)
    end = start + dt.timedelta(minutes=minutes)
    machine: dict[str, Any] = {"hostname": hostname, "os": "Windows 11", "platform": "Windows-11",
                               "link": rng.choice(LINKS)}
    if serial:
        machine["serial"] = serial
    meta = {"session_id": session_id, "started_at": iso(start), "ended_at": iso(end) if ended else None,
            "technician": technician, "machine": machine,
            "consent": {"terms": "terms-v3", "terms_sha256": "ab" * 32, "language": "fr", "how": "button"},
            "end_reason": "done" if ended else None, "ended_by": "technician" if ended else None,
            "personal": list(PERSONAL_FIELDS)}
    (folder / "session.json").write_text(json.dumps(meta), encoding="utf-8")
    journal = journal_records(session_id, technician, start, rng, playbook)
    (folder / "journal.jsonl").write_bytes(b"".join(canonical(r) + b"\n" for r in journal))
    lines = []
    for n in range(3):
        sent = start + dt.timedelta(seconds=10 + n)
        lines.append({"time": iso(sent), "dir": "technician>", "type": "request", "bytes": 90, "id": f"r{n}",
                      "method": "files.read"})
        lines.append({"time": iso(sent + dt.timedelta(milliseconds=rng.randint(5, 80))), "dir": "agent>",
                      "type": "response", "bytes": 400, "id": f"r{n}"})
    for n in range(rng.randint(0, 20)):
        lines.append({"time": iso(start + dt.timedelta(seconds=20 + n)), "dir": "agent>", "type": "event",
                      "bytes": 20000, "name": "screen.frame"})
    (folder / "messages.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    if recording_bytes:
        (folder / "recording").mkdir()
        (folder / "recording" / "video.webm").write_bytes(rng.randbytes(recording_bytes))
        (folder / "screenshots").mkdir()
        (folder / "screenshots" / "shot1.png").write_bytes(b"\x89PNG" + rng.randbytes(64))
    return session_id


def write_sessions(data_dir: Path, count: int, *, seed: int = 7, days: int = 60, end: dt.datetime | None = None,
                   recording_bytes: int = 0, machines: int = 500) -> list[str]:
    """*count* sessions spread over *days* before *end*; returns their ids."""
    rng = random.Random(seed)
    end = end or T0 + dt.timedelta(days=days)
    ids = []
    for _ in range(count):
        start = end - dt.timedelta(days=days) + dt.timedelta(seconds=rng.uniform(0, days * 86400 - 7200))
        ids.append(write_session(data_dir, start=start, minutes=rng.uniform(2, 90), technician=rng.choice(TECHNICIANS),
                                 hostname=f"pc-{rng.randrange(machines):04d}", rng=rng, playbook=rng.choice(PLAYBOOKS),
                                 recording_bytes=recording_bytes))
    return ids
