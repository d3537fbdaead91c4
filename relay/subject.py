"""For the person a session concerns (R7): export every record about them, or erase them.

``workbench export --machine ID | --session ID out.zip`` (:func:`export`) writes a zip:

- ``records.json``: the index rows, each personal column as ``{"value": ..., "personal": true}``;
  the sessions' ``session.json``; the files the customer received (from the journal);
  what retention already removed; and, per session, the files included;
- ``sessions/<id>/...``: the relay's files of each session as they are (journal, message log,
  inventory, recordings and screenshots when present);
- ``summary.html``: the same, readable.

With *redact*, every personal fact (the index's personal columns, ``session.json``'s machine
identifiers, any ``{"personal": true, "value": ...}`` fact) is replaced by ``[redacted]``.

``workbench erase --machine ID`` (:func:`erase`) removes every class of every session of that
machine (through :func:`relay.retention.remove`: the audit record first), keeping only each
session's anonymous figures in the index.  A machine with a session under a legal hold is
refused with the hold's reason, and the refusal is itself logged.
"""

from __future__ import annotations

import html
import json
import zipfile
from pathlib import Path
from typing import Any

from relay.audit import AuditLog
from relay.index.schema import PERSONAL_COLUMNS
from relay.index.store import SessionIndex
from relay.index.summary import parse_time
from relay.retention import CLASSES, PERSONAL_MACHINE_FIELDS, Removal, _files, remove
from wire.errors import BadParams, Conflict, NotFound

REDACTED = "[redacted]"
#: Methods by which the customer's machine received a file.
RECEIVED = frozenset({"files.write", "files.upload", "files.edit"})


def sessions_of(index: SessionIndex, machine: str | None, session: str | None) -> list[str]:
    """The sessions an export or erasure covers; raises :class:`BadParams` or :class:`NotFound`."""
    if bool(machine) == bool(session):
        raise BadParams("name either --machine ID or --session ID")
    if session:
        if index.row(session) is None:
            raise NotFound(f"the index has no session {session}")
        return [session]
    _, rows = index.db.query("SELECT session_id FROM sessions WHERE machine_id = ? ORDER BY started_at", (machine,))
    if not rows:
        raise NotFound(f"the index has no session of machine {machine!r}")
    return [str(r[0]) for r in rows]


def redact_facts(value: Any) -> Any:
    """*value* with every ``{"personal": true, "value": ...}`` fact's value replaced by :data:`REDACTED`."""
    if isinstance(value, dict):
        out = {k: redact_facts(v) for k, v in value.items()}
        if out.get("personal") is True and "value" in out:
            out["value"] = REDACTED
        return out
    if isinstance(value, list):
        return [redact_facts(v) for v in value]
    return value


def _marked_row(row: dict[str, Any], redact: bool) -> dict[str, Any]:
    return {k: ({"value": REDACTED if redact else v, "personal": True} if k in PERSONAL_COLUMNS else v)
            for k, v in row.items()}


def _meta(session_dir: Path, redact: bool) -> dict[str, Any]:
    try:
        meta = json.loads((session_dir / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    meta = {k: v for k, v in meta.items() if not k.endswith("_sha256") or k == "consent"}
    if redact and isinstance(meta.get("machine"), dict):
        meta["machine"] = {k: REDACTED if k in PERSONAL_MACHINE_FIELDS else v for k, v in meta["machine"].items()}
    return dict(redact_facts(meta)) if redact else meta


def _journal(session_dir: Path) -> list[dict[str, Any]]:
    path = session_dir / "journal.jsonl"
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _received(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = {r.get("request"): r for r in journal if r.get("kind") == "call"}
    received = []
    for record in journal:
        if record.get("kind") == "outcome" and record.get("outcome") == "ok" and record.get("method") in RECEIVED:
            call: dict[str, Any] = calls.get(record.get("request")) or {}
            params: dict[str, Any] = call["params"] if isinstance(call.get("params"), dict) else {}
            received.append({"time": record.get("time"), "method": record.get("method"),
                             "path": params.get("path"), "bytes": call.get("data_bytes")})
    return received


def export(index: SessionIndex, audit: AuditLog, out: Path, *, machine: str | None = None,
           session: str | None = None, redact: bool = False, by: str = "") -> dict[str, Any]:
    """Write the zip for the person concerned (see the module docstring); returns what it holds.

    Raises :class:`BadParams`, :class:`NotFound`, OSError when *out* cannot be written.
    """
    ids = sessions_of(index, machine, session)
    removed = index.removed()
    records: dict[str, Any] = {"subject": {"machine": REDACTED if redact and machine else machine,
                                           "session": session}, "redacted": redact, "sessions": []}
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for session_id in ids:
            session_dir = index.session_dir(session_id)
            row = index.row(session_id) or {}
            journal = _journal(session_dir)
            included = []
            for data_class in CLASSES.values():
                for rel, _size in _files(session_dir, data_class):
                    arcname = f"sessions/{session_id}/{rel}"
                    if redact and rel == "journal.jsonl":
                        zf.writestr(arcname, "".join(json.dumps(redact_facts(r), ensure_ascii=False) + "\n"
                                                     for r in journal))
                    else:
                        zf.write(session_dir / rel, arcname)
                    included.append(arcname)
            records["sessions"].append({
                "session_id": session_id, "index": _marked_row(row, redact), "session": _meta(session_dir, redact),
                "files_received": _received(journal), "files": included,
                "removed_by_retention": sorted(c for s, c in removed if s == session_id)})
        zf.writestr("records.json", json.dumps(records, indent=2, ensure_ascii=False, default=str))
        zf.writestr("summary.html", summary_html(records))
    tmp.replace(out)
    audit.append("export", sessions=ids, machine_given=machine is not None, redacted=redact, by=by,
                 file=out.name)
    return records


def summary_html(records: dict[str, Any]) -> str:
    """A readable page of what the export holds."""
    def cell(value: Any) -> str:
        if isinstance(value, dict) and value.get("personal") is True:
            return f"{html.escape(str(value.get('value')))} <small>(personal)</small>"
        return html.escape("" if value is None else str(value))

    parts = ["<!doctype html><meta charset='utf-8'><title>Your records</title>",
             "<h1>Records the support service keeps about you</h1>",
             f"<p>{len(records['sessions'])} session(s). Personal facts are marked "
             f"<small>(personal)</small>{'; they are redacted here' if records['redacted'] else ''}.</p>"]
    for item in records["sessions"]:
        row = item["index"]
        started = parse_time(row.get("started_at"))
        parts.append(f"<h2>Session {html.escape(item['session_id'])}"
                     f"{' on ' + started.strftime('%Y-%m-%d %H:%M UTC') if started else ''}</h2><table>")
        parts.extend(f"<tr><th>{html.escape(k)}</th><td>{cell(v)}</td></tr>" for k, v in row.items())
        parts.append("</table>")
        if item["files_received"]:
            parts.append("<h3>Files your computer received</h3><ul>")
            parts.extend(f"<li>{html.escape(str(f['path']))} ({cell(f['bytes'])} bytes, {cell(f['time'])})</li>"
                         for f in item["files_received"])
            parts.append("</ul>")
        parts.append("<h3>Files in this export</h3><ul>")
        parts.extend(f"<li>{html.escape(name)}</li>" for name in item["files"])
        parts.append("</ul>")
        if item["removed_by_retention"]:
            parts.append(f"<p>Already removed: {html.escape(', '.join(item['removed_by_retention']))}.</p>")
    return "\n".join(parts)


def erase(index: SessionIndex, audit: AuditLog, machine: str, *, by: str = "") -> tuple[list[str], int]:
    """Remove every record of *machine*'s sessions; returns (sessions, removals made).

    Raises :class:`NotFound`, and :class:`Conflict` (nothing removed, the refusal logged) when a
    session is under a legal hold.
    """
    ids = sessions_of(index, machine, None)
    held = index.holds(ids)
    _, open_rows = index.db.query("SELECT session_id FROM sessions WHERE machine_id = ? AND ended_at IS NULL",
                                  (machine,))
    if open_rows:
        raise Conflict(f"erasure refused: session {open_rows[0][0]} of this machine is still open; "
                       "erase it once it has ended")
    if held:
        reasons = "; ".join(f"session {s}: {why}" for s, why in sorted(held.items()))
        audit.append("erase_refused", sessions=ids, held=sorted(held), by=by, reason=reasons)
        raise Conflict(f"erasure refused: {len(held)} session(s) of this machine are under a legal hold ({reasons})")
    done = index.removed()
    removals: list[Removal] = []
    for session_id in ids:
        row = index.row(session_id) or {}
        for name, data_class in CLASSES.items():
            if (session_id, name) in done and name != "personal_facts":
                continue
            removal = Removal(session_id, name, str(row.get("ended_at")))
            removal.files = _files(index.session_dir(session_id), data_class)
            removals.append(removal)
    removed, _bytes, failures = remove(index, audit, removals, "erasure",
                                       {"request": "erase --machine", "by": by})
    if failures:
        raise OSError("some records could not be removed: " + "; ".join(failures))
    return ids, removed
