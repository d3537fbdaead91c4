"""The hash-chained, fsync'ed journal of everything the technician does.

One JSON object per line.  Each record has ``seq`` (1, 2, …), ``time`` (UTC,
ISO 8601), ``kind``, its own fields, ``prev`` (the previous record's hash, or
64 zeros) and ``hash = sha256(prev ‖ canonical JSON of the record without
hash)``.  :meth:`Journal.append` writes and fsyncs a record before it returns,
so a record the technician was told about is on disk.

:func:`verify_file` checks a journal and names the first bad record;
:class:`ChainFollower` checks records one by one as they arrive (the relay's copy).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

GENESIS: Final = "0" * 64


def utc_now() -> str:
    """The current time, UTC, ISO 8601 with microseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def canonical(record: dict[str, Any]) -> bytes:
    """The canonical JSON of *record*: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    """The hash a record must carry: sha256(prev ‖ canonical JSON without ``hash``)."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(str(record.get("prev", "")).encode() + canonical(body)).hexdigest()


class ChainError(ValueError):
    """A record does not follow the chain; ``seq`` names where it broke."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"record {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class ChainFollower:
    """Checks records one at a time, in order; keeps the head."""

    def __init__(self, seq: int = 0, head: str = GENESIS) -> None:
        self.seq = seq
        self.head = head

    def check(self, record: Any) -> None:
        """Accept *record* as the next one; raises :class:`ChainError` when it does not follow."""
        expected = self.seq + 1
        if not isinstance(record, dict):
            raise ChainError(expected, "not a JSON object")
        if record.get("seq") != expected:
            raise ChainError(expected, f"sequence number {record.get('seq')!r}, expected {expected}")
        if record.get("prev") != self.head:
            raise ChainError(expected, "does not link to the previous record (prev differs)")
        if record.get("hash") != record_hash(record):
            raise ChainError(expected, "its hash does not match its content")
        self.advance(record)

    def advance(self, record: dict[str, Any]) -> None:
        """Take *record* as the new head without checking it (the writer made it)."""
        self.seq = int(record["seq"])
        self.head = str(record["hash"])


class Journal:
    """An append-only journal file; thread-safe.

    Opening an existing journal continues its chain after checking it: a
    journal that does not verify raises :class:`ChainError` rather than being
    extended.  An incomplete final line (the writer was killed mid-record) is
    cut off first; it was never acknowledged.
    """

    def __init__(self, path: Path, on_append: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._follower = ChainFollower()
        self.records: list[dict[str, Any]] = []
        if path.exists():
            self._recover()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.on_append = on_append

    def _recover(self) -> None:
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
                os.fsync(f.fileno())
        for line in complete.splitlines():
            record = json.loads(line)
            self._follower.check(record)
            self.records.append(record)

    @property
    def seq(self) -> int:
        return self._follower.seq

    @property
    def head(self) -> str:
        return self._follower.head

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record, fsync it, and return it."""
        with self._lock:
            record: dict[str, Any] = {"seq": self._follower.seq + 1, "time": utc_now(), "kind": kind}
            record.update(fields)
            record.pop("hash", None)
            record["prev"] = self._follower.head
            record["hash"] = record_hash(record)
            os.write(self._fd, canonical(record) + b"\n")
            os.fsync(self._fd)
            self._follower.advance(record)
            self.records.append(record)
        if self.on_append is not None:
            self.on_append(record)
        return record

    def after(self, seq: int) -> list[dict[str, Any]]:
        """The records with a sequence number above *seq*, in order."""
        return self.records[max(seq, 0):]

    def close(self) -> None:
        os.close(self._fd)


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_file` found."""

    ok: bool
    records: int
    head: str
    first_bad: int | None = None
    reason: str = ""
    torn_tail: bool = False

    def describe(self) -> str:
        if self.ok:
            text = f"journal verifies: {self.records} records, head {self.head}"
            if self.torn_tail:
                text += " (an incomplete final line, written when the agent was stopped mid-record, was ignored)"
            return text
        return f"journal does not verify: first bad record is {self.first_bad}: {self.reason}"


def iter_lines(path: Path) -> Iterator[tuple[bytes, bool]]:
    """Yield each line of *path* and whether it ended with a newline."""
    with open(path, "rb") as f:
        for line in f:
            yield line.rstrip(b"\n"), line.endswith(b"\n")


def verify_file(path: Path) -> Verification:
    """Check every record of the journal at *path*.

    Raises OSError when the file cannot be read.
    """
    follower = ChainFollower()
    torn = False
    for line, complete in iter_lines(path):
        if not line.strip() and complete:
            return Verification(False, follower.seq, follower.head, follower.seq + 1, "an empty line")
        try:
            record = json.loads(line)
        except ValueError:
            if not complete:
                torn = True
                break
            return Verification(False, follower.seq, follower.head, follower.seq + 1, "not valid JSON")
        try:
            follower.check(record)
        except ChainError as err:
            return Verification(False, follower.seq, follower.head, err.seq, err.reason)
    return Verification(True, follower.seq, follower.head, torn_tail=torn)
