"""The relay's own audit log: what retention, erasure, holds and exports did, hash-chained like the journal.

``--data/audit.jsonl`` follows :mod:`wire.chain` (``seq``, ``time``, ``kind``, ``prev``,
``hash``), so ``workbench audit verify`` (and :func:`wire.chain.verify_file`) checks it as
it checks a journal.  Each record is written and fsynced *before* what it records is
done: nothing is deleted without its audit record.  Writers in several processes (the
relay's daily retention, a ``workbench erase``) take an exclusive lock on
``audit.lock`` and re-read the head, so the chain never forks.

Kinds: ``delete`` (class, session, files with sizes and sha256, policy, reason),
``delete_failed``, ``hold``, ``release``, ``export``, ``erase_refused``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wire.chain import GENESIS, Verification, canonical, record_hash, utc_now, verify_file

AUDIT_NAME = "audit.jsonl"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on *path* (created) for the block, across processes."""
    with open(path, "a+b") as f:
        if sys.platform == "win32":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _head(path: Path) -> tuple[int, str]:
    """The last record's (seq, hash), or (0, GENESIS) for a log not started."""
    if not path.exists():
        return 0, GENESIS
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        step = 4096
        while True:
            start = max(0, size - step)
            f.seek(start)
            lines = f.read(size - start).splitlines()
            complete = [line for line in lines if line.strip()]
            if len(complete) >= 2 or start == 0:
                break
            step *= 4
    if not complete:
        return 0, GENESIS
    last = json.loads(complete[-1])
    return int(last["seq"]), str(last["hash"])


class AuditLog:
    """Appends to ``DATA/audit.jsonl``; see the module docstring."""

    def __init__(self, data_dir: Path, *, clock: Any = utc_now) -> None:
        self.path = data_dir / AUDIT_NAME
        self._lock_path = data_dir / "audit.lock"
        #: gives the records' UTC time (tests pass a fixed one)
        self.clock = clock

    @contextlib.contextmanager
    def writing(self) -> Iterator[AuditWriter]:
        """Lock the log and give a writer that appends records (each fsynced before it returns)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self._lock_path):
            seq, head = _head(self.path)
            with open(self.path, "ab") as f:
                yield AuditWriter(f, seq, head, self.clock)

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one record (locked, fsynced); returns it."""
        with self.writing() as writer:
            return writer.append(kind, **fields)

    def verify(self) -> Verification:
        """Check the chain (an absent log verifies, with no record).  Raises OSError when unreadable."""
        if not self.path.exists():
            return Verification(True, 0, GENESIS)
        return verify_file(self.path)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]


class AuditWriter:
    """Appends records under the lock :meth:`AuditLog.writing` holds."""

    def __init__(self, file: Any, seq: int, head: str, clock: Any) -> None:
        self._file = file
        self.seq = seq
        self.head = head
        self._clock = clock

    def append(self, kind: str, *, sync: bool = True, **fields: Any) -> dict[str, Any]:
        """Append one record; fsynced before returning unless *sync* is false (then call :meth:`sync`
        before doing what the records say)."""
        record: dict[str, Any] = {"seq": self.seq + 1, "time": self._clock(), "kind": kind, **fields,
                                  "prev": self.head}
        record["hash"] = record_hash(record)
        self._file.write(canonical(record) + b"\n")
        if sync:
            self.sync()
        self.seq, self.head = record["seq"], record["hash"]
        return record

    def now(self) -> str:
        """The time the log's clock gives (UTC, ISO 8601)."""
        return str(self._clock())

    def sync(self) -> None:
        """Push the records written so far to the disk."""
        self._file.flush()
        os.fsync(self._file.fileno())


def describe(verification: Verification) -> str:
    """Plain words for the audit log's check (it has no end record: a verified chain is the pass)."""
    if not verification.ok:
        return f"audit log does not verify: first bad record is {verification.first_bad}: {verification.reason}"
    text = f"audit log verifies: {verification.records} records, head {verification.head}"
    if verification.torn_tail:
        text += " (an incomplete final line, written when a writer was stopped mid-record, was ignored)"
    return text
