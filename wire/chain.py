"""The hash chain that every journal of the service follows (shared by the three roles).

One JSON object per line.  Each record has ``seq`` (1, 2, …), ``time`` (UTC,
ISO 8601), ``kind``, its own fields, ``prev`` (the previous record's hash, or
64 zeros) and ``hash = sha256(prev ‖ canonical JSON of the record without
hash)``.  The agent's writer (:class:`agent.journal.Journal`) writes and syncs a
record before it returns, so a record the technician was told about is on disk; while
it runs, the file ends in a preallocated tail of zero bytes, which is not a record
(:func:`verify_file` and :func:`read_records` stop there).

:func:`verify_file` checks a journal, names the first bad record, and says whether
it ends with the session's end record (a journal that does not is *incomplete*:
its last records may have been cut); :class:`ChainFollower` checks records one
by one as they arrive (the relay's copy).  A chain alone cannot show an edit
whose later hashes were all recomputed: :mod:`wire.chain_compare` compares a
journal with the relay's copy, record by record.
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


_HEX: Final = frozenset("0123456789abcdef")


def line_and_hash(record: dict[str, Any]) -> tuple[bytes, str]:
    """*record*'s canonical JSON and the hash it must carry, with one JSON encoding where one suffices.

    A record whose ``seq`` and ``prev`` are there (keys sorting after ``hash``) has its claimed
    ``"hash":"<64 hex>",`` member in its canonical JSON; when that member is there once, removing it
    leaves the canonical JSON of the record without ``hash``, which is what is hashed.  Any other
    record is encoded twice, as :func:`record_hash` does.  Raises what :func:`canonical` raises.
    """
    line = canonical(record)
    claimed = record.get("hash")
    if isinstance(claimed, str) and len(claimed) == 64 and _HEX.issuperset(claimed) and "seq" in record \
            and "prev" in record:
        member = b'"hash":"' + claimed.encode() + b'",'
        if line.count(member) == 1:
            body = line.replace(member, b"", 1)
            return line, hashlib.sha256(str(record.get("prev", "")).encode() + body).hexdigest()
    return line, record_hash(record)


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

    def check(self, record: Any) -> bytes:
        """Accept *record* as the next one and return its canonical JSON (the line to keep, without newline).

        Raises :class:`ChainError` when it does not follow.
        """
        expected = self.seq + 1
        if not isinstance(record, dict):
            raise ChainError(expected, "not a JSON object")
        if record.get("seq") != expected:
            raise ChainError(expected, f"sequence number {record.get('seq')!r}, expected {expected}")
        if record.get("prev") != self.head:
            raise ChainError(expected, "does not link to the previous record (prev differs)")
        try:
            line, expected_hash = line_and_hash(record)
        except (UnicodeEncodeError, RecursionError) as err:  # a lone surrogate escape, or nesting no one wrote
            raise ChainError(expected, "it holds a value no journal writer can write") from err
        if record.get("hash") != expected_hash:
            raise ChainError(expected, "its hash does not match its content")
        self.advance(record)
        return line

    def advance(self, record: dict[str, Any]) -> None:
        """Take *record* as the new head without checking it (the writer made it)."""
        self.seq = int(record["seq"])
        self.head = str(record["hash"])


#: The journal's end record: the agent writes it once, when the session ends, whoever ended it.
END_KIND: Final = "session_end"
#: Kinds the agent may still write after the end record (a last note, an alert); the end stays the end.
AFTER_THE_END: Final = frozenset({"note", "journal_alert"})


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_file` found.

    ``ok`` says every record follows the chain; ``ended`` that the session's end
    record is there (followed at most by :data:`AFTER_THE_END` records).  A journal
    that is ``ok`` but not ``ended`` is *incomplete*: its last records may have been
    removed, or the agent stopped before the session ended; :attr:`status` tells
    the three cases apart.
    """

    ok: bool
    records: int
    head: str
    first_bad: int | None = None
    reason: str = ""
    torn_tail: bool = False
    ended: bool = False
    last_kind: str | None = None

    @property
    def status(self) -> str:
        """``verified`` (chained and ended), ``incomplete`` (chained, no end record) or ``broken``."""
        if not self.ok:
            return "broken"
        return "verified" if self.ended else "incomplete"

    def describe(self) -> str:
        if not self.ok:
            return f"journal does not verify: first bad record is {self.first_bad}: {self.reason}"
        if not self.ended:
            if self.records == 0:
                text = "journal INCOMPLETE: it holds no record at all"
            else:
                text = (f"journal INCOMPLETE: its {self.records} records chain correctly, but it does not end "
                        f"with the session's end record (the last, record {self.records}, is "
                        f"{self.last_kind!r}): records after it may have been removed, or the agent was stopped "
                        "before the session ended; compare it with the relay's copy (--against)")
        else:
            text = f"journal verifies: {self.records} records, head {self.head}, ending with the session's end record"
        if self.torn_tail:
            text += " (an incomplete final line, written when the agent was stopped mid-record, was ignored)"
        return text


def iter_lines(path: Path) -> Iterator[tuple[bytes, bool]]:
    """Yield each line of *path* and whether it ended with a newline."""
    with open(path, "rb") as f:
        for line in f:
            yield line.rstrip(b"\n"), line.endswith(b"\n")


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of the journal at *path*, unchecked: its complete lines before the preallocated tail.

    The agent's writer keeps a tail of zero bytes after its last record while it runs (and
    leaves it when killed; see :mod:`agent.journal`); an incomplete final line is left out too.
    Raises OSError when the file cannot be read, ValueError when a complete line is not JSON.
    """
    raw = path.read_bytes()
    zeros = raw.find(b"\0")
    written = raw if zeros < 0 else raw[:zeros]
    return [json.loads(line) for line in written[: written.rfind(b"\n") + 1].splitlines()]


def ends_the_session(kinds: list[str]) -> bool:
    """Whether a journal whose records have these *kinds*, in order, ends with the session's end record."""
    for kind in reversed(kinds):
        if kind == END_KIND:
            return True
        if kind not in AFTER_THE_END:
            return False
    return False


def verify_file(path: Path) -> Verification:
    """Check every record of the journal at *path*, and that it ends with the session's end record.

    Each line must be exactly the canonical JSON of its record (:func:`canonical`, what the
    agent's and the relay's writers write), so no spelling of a record but its own verifies.

    Raises OSError when the file cannot be read.
    """
    follower = ChainFollower()
    torn = False
    kinds: list[str] = []
    for line, complete in iter_lines(path):
        if not line.strip() and complete:
            return Verification(False, follower.seq, follower.head, follower.seq + 1, "an empty line")
        if not complete and not line.strip(b"\0"):
            break  # the running (or killed) agent's preallocated space after its last record: not a record
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            if not complete:
                torn = True
                break
            return Verification(False, follower.seq, follower.head, follower.seq + 1, "not valid JSON")
        seq, head = follower.seq, follower.head
        try:
            follower.check(record)
        except ChainError as err:
            return Verification(False, seq, head, err.seq, err.reason)
        if line.removesuffix(b"\r") != canonical(record):
            # The writers write exactly the canonical JSON (on Windows the agent's lines may end in CRLF);
            # any other spelling was made by hand.  A field written twice, above all, would show a reader
            # one value and be hashed as the other.
            return Verification(False, seq, head, seq + 1, "it is not written as the journal writes records "
                                "(a field repeated, or the line edited by hand)")
        kinds.append(str(record.get("kind")))
    return Verification(True, follower.seq, follower.head, torn_tail=torn, ended=ends_the_session(kinds),
                        last_kind=kinds[-1] if kinds else None)
