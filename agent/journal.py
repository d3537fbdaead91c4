"""The customer's journal file: the hash chain of :mod:`wire.chain`, written and fsynced.

:meth:`Journal.append` writes and fsyncs a record before it returns, so a record the
technician was told about is on disk.  Only the agent writes journals; the relay and
the workbench read and check them with :mod:`wire.chain`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wire.chain import ChainError, ChainFollower, canonical, record_hash, utc_now

__all__ = ["ChainError", "Journal"]


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
        # O_BINARY: Windows' C runtime would otherwise write each "\n" as "\r\n".
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o600)
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
