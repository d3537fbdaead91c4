"""The registry's backups, newest last, kept under the agent's state directory.

Each change gets a numbered folder ``<state_dir>/registry-undo/00000042/``
holding ``record.json`` (what changed, the state before, the state after)
and any copy the backend keeps there (a hive file).  The record is written
and fsync'ed *before* the change, so a change the agent was killed in the
middle of can still be undone.  A folder without a record is a backup that
never finished: it is removed.  At most :data:`KEEP` changes are kept, and
at most :data:`MAX_BYTES` of copies; the oldest go first.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Final

KEEP: Final = 32
MAX_BYTES: Final = 2 * 1024 * 1024 * 1024
_RECORD: Final = "record.json"


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())


class UndoStore:
    """Numbered backup folders under *root*; not thread-safe (the registry service holds a lock).

    Raises OSError from the file system (the caller translates it).
    """

    def __init__(self, root: Path, keep: int = KEEP, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.keep = keep
        self.max_bytes = max_bytes

    def _slots(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(path for path in self.root.iterdir() if path.is_dir() and path.name.isdigit())

    def begin(self) -> Path:
        """A new, empty backup folder, numbered after every other."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        slots = self._slots()
        number = int(slots[-1].name) + 1 if slots else 1
        slot = self.root / f"{number:08d}"
        slot.mkdir(mode=0o700)
        return slot

    def save(self, slot: Path, record: dict[str, Any]) -> None:
        """Write *record* into *slot* atomically, fsync'ed."""
        temp = slot / (_RECORD + ".tmp")
        with open(temp, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, slot / _RECORD)
        _fsync_dir(slot)

    def drop(self, slot: Path) -> None:
        shutil.rmtree(slot, ignore_errors=True)

    def last(self) -> tuple[Path, dict[str, Any]] | None:
        """The newest complete backup and its record, or None."""
        for slot in reversed(self._slots()):
            try:
                with open(slot / _RECORD, encoding="utf-8") as f:
                    return slot, json.load(f)
            except (OSError, ValueError):
                self.drop(slot)
        return None

    def count(self) -> int:
        return len(self._slots())

    def prune(self) -> None:
        """Forget the oldest backups beyond :attr:`keep` or :attr:`max_bytes` (never the newest)."""
        slots = self._slots()
        sizes = [_size(slot) for slot in slots]
        while len(slots) > 1 and (len(slots) > self.keep or sum(sizes) > self.max_bytes):
            self.drop(slots.pop(0))
            sizes.pop(0)
