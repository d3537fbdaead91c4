"""The agent's private keeping for files on Windows: change records, kept items and open transfers.

The same layout as on POSIX (``state_dir/files/changes``, ``.../items``), so
the technician's undo works alike; folders are not fsync'ed (Windows cannot
flush a folder; NTFS journals its renames).  The ``.part`` files of uploads
are recorded in a :class:`~agent.files.parts.PartRegistry`, closed with the
session (:func:`close_transfers`) and cleaned after a crash
(:func:`clean_leftovers`), as on POSIX.

Availability: Windows (chosen only there, see :mod:`agent.files.methods`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import ntpath
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import paths
from agent.dispatch import CallContext
from agent.files._windows_io import remove_tree, unlink_quietly
from agent.files.common import KEEP_CHANGES, MAX_TRANSFERS
from agent.files.parts import PartRecord, PartRegistry
from agent.forbidden import _windows_api as win
from agent.forbidden._windows_walk import Guard
from agent.forbidden.rules import Identity
from wire.errors import Conflict, WorkbenchError


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


@dataclass
class Upload:
    """An open upload: its ``.part`` file in the destination folder, the ranges received, the running hash."""

    id: str
    requested: str
    parsed: paths.ParsedPath
    path: str
    folder: str
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
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Where its ``.part`` is recorded; the record goes when the upload closes (the file is gone or in place).
    parts: PartRegistry | None = None

    @property
    def received(self) -> int:
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] == 0 else 0

    def close(self, remove: bool) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if remove:
            unlink_quietly(ntpath.join(self.folder, self.temp))
        if self.parts is not None:
            self.parts.forget(self.id)


class Store:
    """The agent's private keeping for files: change records, kept items, transfers."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "files"
        self.changes = self.root / "changes"
        self.items = self.root / "items"
        state_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.changes, self.items):
            folder.mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self.transfers_lock = threading.Lock()
        self.downloads: OrderedDict[str, Download] = OrderedDict()
        self.uploads: OrderedDict[str, Upload] = OrderedDict()
        self.parts = PartRegistry(self.root / "parts")

    def close_transfers(self) -> int:
        """Close every open download and upload, removing each upload's ``.part``; return how many were open."""
        with self.transfers_lock:
            downloads, uploads = list(self.downloads.values()), list(self.uploads.values())
            self.downloads.clear()
            self.uploads.clear()
        for download in downloads:
            with download.lock:
                if download.fd >= 0:
                    os.close(download.fd)
                    download.fd = -1
        for upload in uploads:
            with upload.lock:  # a chunk being written finishes first
                upload.close(remove=True)
        return len(downloads) + len(uploads)

    def clean_leftovers(self) -> list[str]:
        """Remove the ``.part`` files recorded by an earlier run that did not end cleanly; return their paths.

        Only a recorded name is looked at, in a folder that is still the
        recorded one, and removed only while it is still the recorded file
        (identity, one name, not a folder or link); whatever else is there is left.
        """
        with self.transfers_lock:
            open_now = set(self.uploads)
        removed: list[str] = []
        for record in self.parts:
            if record.id in open_now:
                continue
            if _remove_part(record):
                removed.append(ntpath.join(record.folder, record.name))
            self.parts.forget(record.id)
        return removed

    def item_path(self, item: str) -> str:
        return str(self.items / item)

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

    def read_record(self, seq: int) -> dict[str, Any]:
        with open(self.changes / f"{seq:08d}.json", encoding="utf-8") as f:
            record: dict[str, Any] = json.load(f)
        return record

    def drop(self, seq: int) -> None:
        """Forget change *seq* and its kept items."""
        for item in self.items.glob(f"{seq:08d}-*"):
            with contextlib.suppress(OSError):
                remove_tree(str(item))
        with contextlib.suppress(FileNotFoundError):
            (self.changes / f"{seq:08d}.json").unlink()

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

    def add_upload(self, upload: Upload) -> None:
        with self.transfers_lock:
            if len(self.uploads) >= MAX_TRANSFERS:
                raise Conflict(f"{MAX_TRANSFERS} uploads are already open; finish or abort one")
            self.uploads[upload.id] = upload


def _remove_part(record: PartRecord) -> bool:
    """Remove the ``.part`` of *record* if it is still the one the agent made; True when removed."""
    try:
        folder = win.info_at(record.folder)
        if not folder.is_dir or (folder.identity.dev, folder.identity.ino) != record.folder_identity:
            return False
        full = ntpath.join(record.folder, record.name)
        info = win.info_at(full)
        if info.is_dir or info.is_reparse or info.links != 1:
            return False
        if record.file_identity is not None and (info.identity.dev, info.identity.ino) != record.file_identity:
            return False
        os.unlink(full)
        return True
    except (OSError, WorkbenchError):
        return False


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def store_at(state_dir: Path) -> Store:
    """The keeping of the agent state folder *state_dir* (made on first use); raises OSError when it cannot be."""
    key = os.path.realpath(state_dir)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(Path(key))
        return store


def store_of(ctx: CallContext) -> Store:
    """The keeping of the call's agent state folder (made on first use); raises OSError when it cannot be."""
    return store_at(ctx.state_dir)


def close_transfers(state_dir: Path) -> int:
    """At the end of a session: close every open transfer of *state_dir*, no ``.part`` left; how many were open."""
    with _stores_lock:
        store = _stores.get(os.path.realpath(state_dir))
    return store.close_transfers() if store is not None else 0


def clean_leftovers(state_dir: Path) -> list[str]:
    """At start: remove the ``.part`` files an earlier run of *state_dir* left (recorded only); their paths."""
    return store_at(state_dir).clean_leftovers()


def guard_of(ctx: CallContext) -> Guard:
    """A fresh :class:`~agent.forbidden.Guard` for one call: the customer's rules and the agent's own folder."""
    store_of(ctx)
    return Guard(ctx.policy.forbidden_folders, private=[ctx.state_dir], home=os.path.expanduser("~"))
