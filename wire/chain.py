"""The hash chain that every journal of the service follows (shared by the three roles).

One JSON object per line.  Each record has ``seq`` (1, 2, …), ``time`` (UTC,
ISO 8601), ``kind``, its own fields, ``prev`` (the previous record's hash, or
64 zeros) and ``hash = sha256(prev ‖ canonical JSON of the record without
hash)``.  The agent's writer (:class:`agent.journal.Journal`) writes and fsyncs a
record before it returns, so a record the technician was told about is on disk.

:func:`verify_file` checks a journal and names the first bad record;
:class:`ChainFollower` checks records one by one as they arrive (the relay's copy).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
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
