"""The agent's private keeping for files, the part both platforms share: records, transfers, the ``.part`` registry.

:class:`Keeping` holds what is the same on every platform: the layout under
``state_dir/files`` (``changes``, ``items``, ``parts``), the numbered change
records, the open :class:`Download` and :class:`UploadBase` transfers and their
bookkeeping, and the cleaning of ``.part`` files a crashed run left.  The
platform's store (:mod:`agent.files.store` on POSIX,
:mod:`agent.files._windows_store` on Windows) adds only what differs: how its
folders are made and flushed, how a kept item is removed, how a recorded
``.part`` is checked before it is removed, and how an upload holds its folder.

Availability: everywhere (no platform call at import).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from agent import paths
from agent.files.common import KEEP_CHANGES, MAX_TRANSFERS
from agent.files.parts import PartRecord, PartRegistry
from agent.forbidden.rules import Identity
from wire.errors import Conflict


@dataclass
class Download:
    """An open download: the held file, what was checked when it was opened, and its running hash."""

    id: str
    requested: str
    parsed: paths.ParsedPath
    path: str
    fd: int
    size: int
    identity: Identity
    generation: int
    hasher: Any = field(default_factory=hashlib.sha256)
    hashed: int = 0
    sha256: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Close the held file (once); the caller holds :attr:`lock`."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass
class UploadBase:
    """An open upload: its ``.part`` file, the ranges received, the running hash (the folder is the platform's)."""

    id: str
    requested: str
    parsed: paths.ParsedPath
    path: str
    #: The destination folder as it was when the upload opened (it must still be that folder at the end).
    folder_identity: Identity
    name: str
    temp: str
    fd: int
    size: int
    overwrite: bool
    expected: str | None
    generation: int
    ranges: list[tuple[int, int]] = field(default_factory=list)
    hasher: Any = field(default_factory=hashlib.sha256)
    hashed: int = 0
    #: Guards every field; also awaited for :attr:`writing` to change (a plain lock underneath, not reentrant).
    lock: threading.Condition = field(default_factory=lambda: threading.Condition(threading.Lock()))
    #: The byte ranges being written outside :attr:`lock` right now (reserved under it): no other chunk
    #: may write into one of them meanwhile, and the ``.part`` is not closed until they are done.
    writing: list[tuple[int, int]] = field(default_factory=list)
    #: Chunks written ahead of :attr:`hashed` (by offset), kept to be hashed from memory when the gap
    #: before them fills, instead of being read back from the file; at most a few chunks' bytes.
    ahead: dict[int, bytes] = field(default_factory=dict)
    ahead_bytes: int = 0
    #: Where the ``.part``'s disk blocks are allocated up to (ahead of the bytes written).
    reserved: int = 0
    #: Where its ``.part`` is recorded; the record goes when the upload closes (the file is gone or in place).
    parts: PartRegistry | None = None

    @property
    def received(self) -> int:
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] == 0 else 0

    def writing_into(self, start: int, end: int) -> bool:
        """Whether a chunk is being written into some of the bytes *start*..*end* right now."""
        return any(a < end and start < b for a, b in self.writing)

    def close(self, remove: bool) -> None:
        """Close the ``.part`` (removing it when *remove*) and let go of the folder and the record.

        The caller holds :attr:`lock`; chunks still being written outside it end first, so their
        descriptor is never closed (and perhaps reused by another file) under them.
        """
        if self.writing:
            self.lock.wait_for(lambda: not self.writing)
        self.ahead.clear()
        self.ahead_bytes = 0
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.release_folder(remove)
        if self.parts is not None:
            self.parts.forget(self.id)

    def release_folder(self, remove: bool) -> None:
        """Remove the ``.part`` when *remove*, and release what holds the folder (the platform's)."""
        raise NotImplementedError


UploadT = TypeVar("UploadT", bound=UploadBase)


class Keeping(ABC, Generic[UploadT]):
    """The agent's private keeping for files: change records, kept items, transfers."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "files"
        self.changes = self.root / "changes"
        self.items = self.root / "items"
        self.make_folder(state_dir, parents=True)
        for folder in (self.root, self.changes, self.items):
            self.make_folder(folder, parents=False)
        #: Serialises changes, so the undo order is the order of changes.
        self.lock = threading.RLock()
        self.transfers_lock = threading.Lock()
        self.downloads: OrderedDict[str, Download] = OrderedDict()
        self.uploads: OrderedDict[str, UploadT] = OrderedDict()
        self.parts = PartRegistry(self.root / "parts")

    # ------------------------------------------------------ the platform's part

    @staticmethod
    @abstractmethod
    def make_folder(folder: Path, parents: bool) -> None:
        """Make *folder* if missing (private to this user where the platform can say so)."""

    @staticmethod
    @abstractmethod
    def remove_part(record: PartRecord) -> bool:
        """Remove the ``.part`` of *record* if it is still the one the agent made; True when removed."""

    @staticmethod
    @abstractmethod
    def part_path(record: PartRecord) -> str:
        """The full path of the ``.part`` of *record*, as the customer's system writes it."""

    @abstractmethod
    def drop_items(self, seq: int) -> None:
        """Remove the kept items of change *seq* (what cannot be removed stays)."""

    def sync_changes(self) -> None:
        """Make the renames in the changes folder durable (where the platform can flush a folder)."""

    # ----------------------------------------------------------- shared logic

    def close_transfers(self) -> int:
        """Close every open download and upload, removing each upload's ``.part``; return how many were open."""
        with self.transfers_lock:
            downloads, uploads = list(self.downloads.values()), list(self.uploads.values())
            self.downloads.clear()
            self.uploads.clear()
        for download in downloads:
            with download.lock:
                download.close()
        for upload in uploads:
            with upload.lock:  # a chunk being written finishes first
                upload.close(remove=True)
        return len(downloads) + len(uploads)

    def clean_leftovers(self) -> list[str]:
        """Remove the ``.part`` files recorded by an earlier run that did not end cleanly; return their paths.

        Only a recorded name is looked at, in a folder that is still the
        recorded one, and removed only while it is still the recorded file
        (identity, one name, a plain file); whatever else is there is left.
        """
        with self.transfers_lock:
            open_now = set(self.uploads)
        removed: list[str] = []
        for record in self.parts:
            if record.id in open_now:
                continue
            if self.remove_part(record):
                removed.append(self.part_path(record))
            self.parts.forget(record.id)
        return removed

    def records(self) -> list[int]:
        return sorted(int(p.stem) for p in self.changes.glob("*.json") if p.stem.isdigit())

    def next_seq(self) -> int:
        existing = self.records()
        return existing[-1] + 1 if existing else 1

    def write_record(self, record: dict[str, Any]) -> None:
        target = self.changes / f"{record['seq']:08d}.json"
        temp = target.with_suffix(".tmp")
        with open(temp, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
        self.sync_changes()

    def read_record(self, seq: int) -> dict[str, Any]:
        with open(self.changes / f"{seq:08d}.json", encoding="utf-8") as f:
            record: dict[str, Any] = json.load(f)
        return record

    def drop(self, seq: int) -> None:
        """Forget change *seq* and its kept items."""
        self.drop_items(seq)
        with contextlib.suppress(FileNotFoundError):
            (self.changes / f"{seq:08d}.json").unlink()
        self.sync_changes()

    def prune(self) -> None:
        existing = self.records()
        for seq in existing[: max(0, len(existing) - KEEP_CHANGES)]:
            self.drop(seq)

    def add_download(self, download: Download) -> None:
        with self.transfers_lock:
            self.downloads[download.id] = download
            while len(self.downloads) > MAX_TRANSFERS:
                _, oldest = self.downloads.popitem(last=False)
                with oldest.lock:
                    os.close(oldest.fd)
                    oldest.fd = -1

    def add_upload(self, upload: UploadT) -> None:
        with self.transfers_lock:
            if len(self.uploads) >= MAX_TRANSFERS:
                raise Conflict(f"{MAX_TRANSFERS} uploads are already open; finish or abort one")
            self.uploads[upload.id] = upload


KeepingT = TypeVar("KeepingT", bound=Keeping[Any])


class Stores(Generic[KeepingT]):
    """One keeping per agent state folder, made on first use by *make* (the platform's store class)."""

    def __init__(self, make: Callable[[Path], KeepingT]) -> None:
        self._make = make
        self._stores: dict[str, KeepingT] = {}
        self._lock = threading.Lock()

    def at(self, state_dir: Path) -> KeepingT:
        """The keeping of *state_dir* (made on first use); raises OSError when it cannot be."""
        key = os.path.realpath(state_dir)
        with self._lock:
            store = self._stores.get(key)
            if store is None:
                store = self._stores[key] = self._make(Path(key))
            return store

    def close_transfers(self, state_dir: Path) -> int:
        """Close every open transfer of *state_dir*, no ``.part`` left; how many were open."""
        with self._lock:
            store = self._stores.get(os.path.realpath(state_dir))
        return store.close_transfers() if store is not None else 0
