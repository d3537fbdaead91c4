"""The agent's private keeping for files on Windows: change records, kept items and open transfers.

The same layout as on POSIX (``state_dir/files/changes``, ``.../items``), so
the technician's undo works alike; folders are not fsync'ed (Windows cannot
flush a folder; NTFS journals its renames).

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
from agent.forbidden._windows_walk import Guard
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

    @property
    def received(self) -> int:
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] == 0 else 0

    def close(self, remove: bool) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if remove:
            unlink_quietly(ntpath.join(self.folder, self.temp))


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


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def store_of(ctx: CallContext) -> Store:
    """The keeping of the call's agent state folder (made on first use); raises OSError when it cannot be."""
    key = os.path.realpath(ctx.state_dir)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(Path(key))
        return store


def guard_of(ctx: CallContext) -> Guard:
    """A fresh :class:`~agent.forbidden.Guard` for one call: the customer's rules and the agent's own folder."""
    store_of(ctx)
    return Guard(ctx.policy.forbidden_folders, private=[ctx.state_dir], home=os.path.expanduser("~"))
