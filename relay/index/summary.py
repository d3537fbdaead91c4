"""One session's index row, computed from the files the relay keeps of it (the source of truth).

:func:`summarize` reads ``session.json``, ``journal.jsonl`` (the agent's journal: calls,
outcomes, refusals, control, playbooks) and ``messages.jsonl`` (bytes each way, frames,
round trips seen at the relay) and returns the values of :data:`relay.index.schema.COLUMNS`.
A file missing (removed by retention, or never written) leaves its figures at their last
known value when *previous* is given, else empty: the index outlives the files it came from.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from wire.chain import utc_now

#: Methods that change a file on the customer's machine (files_changed).
FILE_CHANGES = frozenset({"files.write", "files.edit", "files.move", "files.delete", "files.upload", "files.mkdir",
                          "files.undo"})
#: Where recordings and screenshots of a session go (written by relay/recording.py; counted in recording_bytes).
RECORDING_DIRS = ("recording", "screenshots")


def parse_time(text: Any) -> dt.datetime | None:
    """An ISO 8601 time as an aware UTC datetime, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _lines(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    value = json.loads(line)
                except ValueError:
                    continue  # a torn last line
                if isinstance(value, dict):
                    out.append(value)
    except FileNotFoundError:
        pass
    return out


def percentile(values: list[float], q: float) -> float | None:
    """The *q* quantile (0..1) of *values* by linear interpolation; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def tree_bytes(path: Path) -> int:
    """Bytes of every file under *path* (0 when absent)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _refusal(method: str, code: str) -> str | None:
    if code == "not_granted":
        return "refused_not_granted"
    if code == "forbidden":
        family = method.split(".", 1)[0]
        return "refused_hidden_area" if family in ("screen", "control", "annotate") else "refused_forbidden_folder"
    return None


def _from_journal(records: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    errors = files_changed = 0
    control_ms = 0.0
    playbooks: list[str] = []
    for record in records:
        kind = record.get("kind")
        method = str(record.get("method", ""))
        if kind == "call":
            kinds[method.split(".", 1)[0] or "unknown"] += 1
        elif kind == "outcome":
            if record.get("outcome") == "ok":
                files_changed += method in FILE_CHANGES
            else:
                column = _refusal(method, str(record.get("code", "")))
                if column:
                    refused[column] += 1
                else:
                    errors += 1
        elif kind == "control":
            control_ms += float(record.get("duration_ms") or 0)
        playbook = record.get("playbook")
        if isinstance(playbook, str) and playbook and playbook not in playbooks:
            playbooks.append(playbook)
    return {
        "calls": sum(kinds.values()), "calls_by_kind": json.dumps(dict(sorted(kinds.items()))),
        "refusals": sum(refused.values()),
        "refused_forbidden_folder": refused["refused_forbidden_folder"],
        "refused_hidden_area": refused["refused_hidden_area"],
        "refused_not_granted": refused["refused_not_granted"],
        "errors": errors, "control_s": round(control_ms / 1000, 3), "files_changed": files_changed,
        "playbooks": json.dumps(playbooks), "playbook": playbooks[0] if playbooks else None,
        "journal_records": len(records),
    }


def _from_messages(messages: list[dict[str, Any]]) -> dict[str, Any]:
    to_agent = from_agent = frames = 0
    asked: dict[str, dt.datetime] = {}
    latencies: list[float] = []
    for entry in messages:
        size = int(entry.get("bytes") or 0)
        direction = entry.get("dir")
        if direction == "agent>":
            from_agent += size
            if entry.get("type") == "event" and entry.get("name") == "screen.frame":
                frames += 1
            elif entry.get("type") in ("response", "error") and entry.get("id") in asked:
                answered = parse_time(entry.get("time"))
                sent = asked.pop(str(entry["id"]))
                if answered is not None:
                    latencies.append((answered - sent).total_seconds() * 1000)
        else:
            to_agent += size
            if direction == "technician>" and entry.get("type") == "request" and entry.get("id") is not None:
                sent_at = parse_time(entry.get("time"))
                if sent_at is not None:
                    asked[str(entry["id"])] = sent_at
    p50, p90, p99 = (percentile(latencies, q) for q in (0.5, 0.9, 0.99))
    return {"bytes_to_agent": to_agent, "bytes_from_agent": from_agent, "frames": frames,
            "latency_p50_ms": None if p50 is None else round(p50, 3),
            "latency_p90_ms": None if p90 is None else round(p90, 3),
            "latency_p99_ms": None if p99 is None else round(p99, 3)}


def summarize(session_dir: Path, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The index row of the session kept in *session_dir*; see the module docstring.

    Raises OSError or ValueError when ``session.json`` cannot be read.
    """
    meta = json.loads((session_dir / "session.json").read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{session_dir / 'session.json'} is not a JSON object")
    row: dict[str, Any] = dict(previous or {})
    machine: dict[str, Any] = meta["machine"] if isinstance(meta.get("machine"), dict) else {}
    consent: dict[str, Any] = meta["consent"] if isinstance(meta.get("consent"), dict) else {}
    started, ended = parse_time(meta.get("started_at")), parse_time(meta.get("ended_at"))
    erased = meta.get("erased") or {}
    row.update({
        "session_id": str(meta["session_id"]), "technician": meta.get("technician"),
        "machine_os": machine.get("os"), "link": machine.get("link") or "unknown",
        "started_at": meta.get("started_at"), "ended_at": meta.get("ended_at"),
        "day": started.date().isoformat() if started else None,
        "duration_s": round((ended - started).total_seconds(), 3) if started and ended else None,
        "consent_terms": consent.get("terms"), "consent_sha256": consent.get("terms_sha256"),
        "consent_language": consent.get("language"), "consent_how": consent.get("how"),
        "end_reason": meta.get("end_reason"), "ended_by": meta.get("ended_by"),
        "journal_alerts": len(meta.get("journal_alerts") or []),
        "recording_bytes": sum(tree_bytes(session_dir / d) for d in RECORDING_DIRS),
        "indexed_at": utc_now(),
    })
    if "personal_facts" not in erased:
        row.update({"machine_id": machine.get("id") or machine.get("hostname"),
                    "machine_hostname": machine.get("hostname"), "machine_user": machine.get("user"),
                    "machine_serial": machine.get("serial")})
    if (session_dir / "journal.jsonl").exists() or previous is None:
        row.update(_from_journal(_lines(session_dir / "journal.jsonl")))
    if (session_dir / "messages.jsonl").exists() or previous is None:
        row.update(_from_messages(_lines(session_dir / "messages.jsonl")))
    kept = [str(p["name"]) for p in meta.get("playbooks") or [] if isinstance(p, dict) and p.get("name")]
    if kept:  # playbooks whose executed notebook the technician kept (relay.put_playbook)
        names = [n for n in json.loads(row.get("playbooks") or "[]") if n not in kept]
        row["playbooks"] = json.dumps([*names, *dict.fromkeys(kept)])
        row["playbook"] = names[0] if names else kept[0]
    duration = row.get("duration_s")
    row["frames_per_s"] = round(row["frames"] / duration, 3) if duration and row.get("frames") is not None else None
    return row
