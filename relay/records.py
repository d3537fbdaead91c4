"""What the relay keeps of each session on disk, under ``--data DIR``.

``sessions/<session id>/`` holds:

- ``session.json``: id, technician, customer machine, consent, start and end
  times, and hashed resume tokens (rewritten atomically); its ``personal`` field
  names the fields that hold personal facts (:data:`PERSONAL_FIELDS`, R7);
- ``journal.jsonl``: the agent's hash-chained journal, record by record, each
  checked against the previous one as it arrives (by :class:`relay.machine.RelayMachine`,
  with :class:`wire.chain.ChainFollower`; this module only writes what passed);
- ``messages.jsonl``: every message relayed, in order: time, direction, type,
  request id, method or event name, size (file contents and screen pixels
  are not copied here);
- ``playbooks/<name>-<UTC time>.ipynb``: executed playbook notebooks the technician kept
  (``relay.put_playbook``, :mod:`relay.playbooks`);
- ``recording/screen.wbrec`` and ``screenshots/``: the screen as the agent streamed it and the
  technician's screenshots, when the relay records (``--record all``, :mod:`relay.recording`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from relay.recording import ScreenRecorder, Screenshots
from wire.chain import ChainError, ChainFollower, canonical, utc_now

#: Fields of ``session.json`` that hold personal facts, marked so in the file itself (retention's
#: ``personal_facts`` class removes them; exports can redact them).
PERSONAL_FIELDS = ("machine.id", "machine.hostname", "machine.user", "machine.serial")


def write_json_atomically(path: Path, value: Any, *, fsync: bool = True) -> None:
    """Write *value* as JSON to *path* via a temporary file, fsync (unless told not to) and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2, ensure_ascii=False)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class SessionRecords:
    """The files of one session; not thread-safe (the relay's loop owns it)."""

    def __init__(self, root: Path, session_id: str) -> None:
        self.dir = root / "sessions" / session_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.meta_path = self.dir / "session.json"
        self.journal_path = self.dir / "journal.jsonl"
        self._messages = open(self.dir / "messages.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._journal = open(self.journal_path, "ab")  # noqa: SIM115
        #: the session's start (from session.json), the recording's time origin
        self.started_at: str | None = None
        self._recorder: ScreenRecorder | None = None
        self._journal_head: dict[str, Any] = {"seq": 0, "head": "0" * 64}

    def _recording(self) -> ScreenRecorder:
        if self._recorder is None:
            self._recorder = ScreenRecorder(self.dir, self.dir.name, self.started_at or utc_now())
            self._recorder.journal = dict(self._journal_head)
        return self._recorder

    def record_screen(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        """Keep one ``screen.*`` event in the recording; ignored once closed."""
        if not self._messages.closed:
            self._recording().add(name, body, data)

    def save_screenshot(self, request_id: str, description: dict[str, Any], png: bytes) -> None:
        if not self._messages.closed:
            Screenshots(self.dir, self._recording().started_epoch).save(request_id, description, png)

    def save_playbook(self, file_name: str, data: bytes) -> None:
        """Keep an executed playbook notebook as ``playbooks/<file_name>``, atomically (name checked by
        :func:`relay.playbooks.playbook_file_name`)."""
        folder = self.dir / "playbooks"
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{file_name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, folder / file_name)
        except BaseException:
            os.unlink(tmp)
            raise

    def kept_journal(self) -> ChainFollower:
        """The head of the journal records kept so far: up to the first that does not follow the chain."""
        follower = ChainFollower()
        for line in self.journal_path.read_bytes().splitlines():
            try:
                follower.check(json.loads(line))
            except (ValueError, ChainError):
                break
        self._journal_head = {"seq": follower.seq, "head": follower.head}
        return follower

    def save_meta(self, meta: dict[str, Any]) -> None:
        self.started_at = self.started_at or meta.get("started_at")
        write_json_atomically(self.meta_path, {**meta, "personal": list(PERSONAL_FIELDS)})

    def log_message(self, direction: str, kind: str, fields: dict[str, Any], size: int) -> None:
        """Append one line to messages.jsonl.

        Buffered, flushed by :meth:`flush` (the relay calls it every second) and
        on close: the agent's journal is the fsynced record of every call.
        """
        if self._messages.closed:
            return
        entry: dict[str, Any] = {"time": utc_now(), "dir": direction, "type": kind, "bytes": size}
        for key in ("id", "method", "name", "code", "reason"):
            if key in fields:
                entry[key] = fields[key]
        if kind == "request":
            entry["params"] = fields.get("params")
        self._messages.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def flush(self) -> None:
        """Push both files' buffers to the OS."""
        for file in (self._messages, self._journal):
            if not file.closed:
                file.flush()
        if self._recorder is not None:
            self._recorder.tick()

    def append_journal(self, record: dict[str, Any], line: bytes | None = None) -> None:
        """Append the agent's next journal record, already checked against the chain; ignored once closed.

        *line* is the record's canonical JSON when the chain check made it already.
        """
        if not self._journal.closed:
            self._journal.write((canonical(record) if line is None else line) + b"\n")
            # The head the next recording segment is tied to (wire.recording).
            self._journal_head = {"seq": record.get("seq"), "head": record.get("hash")}
            if self._recorder is not None:
                self._recorder.journal = dict(self._journal_head)

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        self._messages.close()
        self._journal.close()


def load_open_sessions(root: Path) -> list[dict[str, Any]]:
    """The metadata of sessions that have not ended, for a relay restarting."""
    found: list[dict[str, Any]] = []
    for meta_path in sorted((root / "sessions").glob("*/session.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and not meta.get("ended_at"):
            found.append(meta)
    return found
