"""The agent's private keeping for files: change records, kept items and open transfers under ``state_dir/files``.

One :class:`Store` per agent state folder (:func:`store_of`); :func:`guard_of`
gives a call its :class:`~agent.forbidden.Guard`, with that folder protected.
The ``.part`` files of uploads are recorded in the store's
:class:`~agent.files.parts.PartRegistry`: :func:`close_transfers` closes every
open transfer at the end of a session, and :func:`clean_leftovers` removes,
at start, the ``.part`` files a crashed run left (only those recorded).

Availability: Linux, macOS (imported only there, see :mod:`agent.files.methods`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import paths
from agent.dispatch import CallContext
from agent.files.common import KEEP_CHANGES, MAX_TRANSFERS
from agent.files.fdio import remove_tree, unlink_quietly
from agent.files.parts import PartRecord, PartRegistry
from agent.forbidden import Guard, Identity
from agent.forbidden._posix import DIR_FLAGS
from wire.errors import Conflict

if sys.platform == "win32":  # the choice is made in agent.files.methods
    raise ImportError(f"{__name__} is POSIX-only")


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
    """An open upload: its ``.part`` file in the held destination folder, the ranges received, the running hash."""

    id: str
    requested: str
    parsed: paths.ParsedPath
    path: str
    parent: int
    parent_identity: Identity
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
        if remove and self.parent >= 0:
            unlink_quietly(self.parent, self.temp)
        if self.parent >= 0:
            os.close(self.parent)
            self.parent = -1
        if self.parts is not None:
            self.parts.forget(self.id)


class Store:
    """The agent's private keeping for files: change records, kept items, transfers."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "files"
        self.changes = self.root / "changes"
        self.items = self.root / "items"
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (self.root, self.changes, self.items):
            folder.mkdir(mode=0o700, exist_ok=True)
        #: Serialises changes, so the undo order is the order of changes.
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
        (identity, one name, a regular file); whatever else is there is left.
        """
        with self.transfers_lock:
            open_now = set(self.uploads)
        removed: list[str] = []
        for record in self.parts:
            if record.id in open_now:
                continue
            if _remove_part(record):
                removed.append(os.path.join(record.folder, record.name))
            self.parts.forget(record.id)
        return removed

    def items_fd(self) -> int:
        return os.open(self.items, DIR_FLAGS)

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
        self._sync(self.changes)

    def read_record(self, seq: int) -> dict[str, Any]:
        with open(self.changes / f"{seq:08d}.json", encoding="utf-8") as f:
            record: dict[str, Any] = json.load(f)
        return record

    def drop(self, seq: int) -> None:
        """Forget change *seq* and its kept items."""
        items = self.items_fd()
        try:
            for item in self.items.glob(f"{seq:08d}-*"):
                with contextlib.suppress(OSError):
                    remove_tree(items, item.name)
        finally:
            os.close(items)
        with contextlib.suppress(FileNotFoundError):
            (self.changes / f"{seq:08d}.json").unlink()
        self._sync(self.changes)

    def prune(self) -> None:
        existing = self.records()
        for seq in existing[: max(0, len(existing) - KEEP_CHANGES)]:
            self.drop(seq)

    @staticmethod
    def _sync(folder: Path) -> None:
        fd = os.open(folder, DIR_FLAGS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

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


def _pair(identity: Identity) -> tuple[int, int]:
    return identity.dev, identity.ino


def _remove_part(record: PartRecord) -> bool:
    """Remove the ``.part`` of *record* if it is still the one the agent made; True when removed."""
    try:
        folder = os.open(record.folder, DIR_FLAGS)
    except OSError:
        return False
    try:
        if _pair(Identity.of(os.fstat(folder))) != record.folder_identity:
            return False
        st = os.stat(record.name, dir_fd=folder, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            return False
        if record.file_identity is not None and (st.st_dev, st.st_ino) != record.file_identity:
            return False
        os.unlink(record.name, dir_fd=folder)
        return True
    except OSError:
        return False
    finally:
        os.close(folder)


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
    store_of(ctx)  # the private folder must exist to be protected
    return Guard(ctx.policy.forbidden_folders, private=[ctx.state_dir], home=os.path.expanduser("~"))

