"""The registry of the ``.part`` files the agent made in the customer's folders, so none outlives its upload.

An upload writes into a temporary ``.part`` file next to its destination (see
:mod:`agent.files.transfers`).  Before that file is created, its folder and
name are written here, one small record per upload under
``state_dir/files/parts`` (fsync'ed, the folder too where the system can), and
its identity once it exists; the record goes when the upload finishes, is
aborted, or is closed with the session.  So the agent always knows which
files in the customer's folders are its own:

* on a clean end (the session ends, the agent closes) every open upload is
  closed and its ``.part`` removed (:func:`agent.files.methods.close_transfers`);
* on start, the records a crashed run left are read and each ``.part`` still
  there, still the one recorded (same folder identity, same file identity,
  a single name), is removed (:func:`agent.files.methods.clean_leftovers`).

The customer's folders are never searched or globbed: only the names
recorded here are looked at, and a file that is not the recorded one is left
alone.  Platform-free: the removal itself is the platform's (``store.py``,
``_windows_store.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

#: Largest record read back (a path of the longest Windows length, and a little more).
_RECORD_MAX: Final = 256 * 1024


@dataclass(frozen=True)
class PartRecord:
    """One ``.part`` file the agent made: its upload, folder, name, and identities when known."""

    id: str
    folder: str
    folder_identity: tuple[int, int]
    name: str
    file_identity: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "folder": self.folder, "folder_identity": list(self.folder_identity),
                "name": self.name,
                "file_identity": list(self.file_identity) if self.file_identity is not None else None}

    @classmethod
    def from_json(cls, body: Any) -> PartRecord | None:
        """The record in *body*, or None when it is not one (a damaged record is ignored, never acted on)."""
        try:
            ident = body.get("file_identity")
            folder_identity = tuple(int(v) for v in body["folder_identity"])
            file_identity = tuple(int(v) for v in ident) if ident is not None else None
            record = cls(str(body["id"]), str(body["folder"]), (folder_identity[0], folder_identity[1]),
                         str(body["name"]),
                         (file_identity[0], file_identity[1]) if file_identity is not None else None)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return None
        if not record.name.endswith(".part") or "/" in record.name or "\\" in record.name:
            return None  # never a name the agent would have made: left alone
        return record


class PartRegistry:
    """The records of ``.part`` files under *root*, written ahead of the file they name; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, transfer_id: str) -> Path:
        if not transfer_id.isalnum():
            raise ValueError(f"not a transfer id: {transfer_id!r}")
        return self.root / f"{transfer_id}.json"

    def record(self, record: PartRecord) -> None:
        """Write (or replace) *record*, durably, before the file it names is made.  Raises OSError."""
        target = self._path(record.id)
        temp = target.with_suffix(".tmp")
        with self._lock:
            with open(temp, "w", encoding="utf-8") as out:
                json.dump(record.to_json(), out, ensure_ascii=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
            _sync_folder(self.root)

    def forget(self, transfer_id: str) -> None:
        """Drop the record of *transfer_id* (its ``.part`` was renamed into place or removed)."""
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._path(transfer_id).unlink()

    def __iter__(self) -> Iterator[PartRecord]:
        """Every readable record; damaged ones are dropped (they never name a file to remove)."""
        with self._lock:
            found = sorted(self.root.glob("*.json"))
        for path in found:
            record: PartRecord | None = None
            with contextlib.suppress(OSError, ValueError):
                if path.stat().st_size <= _RECORD_MAX:
                    record = PartRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
            if record is None:
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            yield record


def _sync_folder(folder: Path) -> None:
    """Make a rename in *folder* durable; Windows cannot open a folder to flush it (NTFS journals the rename)."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
