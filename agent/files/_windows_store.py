"""The agent's private keeping for files on Windows: change records, kept items and open transfers.

The same layout as on POSIX (``state_dir/files/changes``, ``.../items``), so
the technician's undo works alike; folders are not fsync'ed (Windows cannot
flush a folder; NTFS journals its renames).  The ``.part`` files of uploads
are recorded in a :class:`~agent.files.parts.PartRegistry`, closed with the
session (:func:`close_transfers`) and cleaned after a crash
(:func:`clean_leftovers`), as on POSIX: that bookkeeping is
:mod:`agent.files.keeping`, shared; here is only what Windows does its way.

Availability: Windows (chosen only there, see :mod:`agent.files.methods`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import contextlib
import ntpath
import os
from dataclasses import dataclass, field
from pathlib import Path

from agent.dispatch import CallContext
from agent.files._windows_io import remove_tree, unlink_quietly
from agent.files.keeping import Keeping, Stores, UploadBase
from agent.files.parts import PartRecord
from agent.forbidden import _windows_api as win
from agent.forbidden._windows_walk import Guard
from wire.errors import WorkbenchError


@dataclass
class Upload(UploadBase):
    """An open upload: its ``.part`` file in the destination folder :attr:`folder` (a path: no folder handle kept)."""

    folder: str = field(kw_only=True)

    def release_folder(self, remove: bool) -> None:
        if remove:
            unlink_quietly(ntpath.join(self.folder, self.temp))


class Store(Keeping[Upload]):
    """The agent's private keeping for files: change records, kept items, transfers (folders not fsync'ed)."""

    @staticmethod
    def make_folder(folder: Path, parents: bool) -> None:
        folder.mkdir(parents=parents, exist_ok=True)

    @staticmethod
    def part_path(record: PartRecord) -> str:
        return ntpath.join(record.folder, record.name)

    @staticmethod
    def remove_part(record: PartRecord) -> bool:
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

    def item_path(self, item: str) -> str:
        return str(self.items / item)

    def drop_items(self, seq: int) -> None:
        for item in self.items.glob(f"{seq:08d}-*"):
            with contextlib.suppress(OSError):
                remove_tree(str(item))


_STORES: Stores[Store] = Stores(Store)


def store_at(state_dir: Path) -> Store:
    """The keeping of the agent state folder *state_dir* (made on first use); raises OSError when it cannot be."""
    return _STORES.at(state_dir)


def store_of(ctx: CallContext) -> Store:
    """The keeping of the call's agent state folder (made on first use); raises OSError when it cannot be."""
    return _STORES.at(ctx.state_dir)


def close_transfers(state_dir: Path) -> int:
    """At the end of a session: close every open transfer of *state_dir*, no ``.part`` left; how many were open."""
    return _STORES.close_transfers(state_dir)


def clean_leftovers(state_dir: Path) -> list[str]:
    """At start: remove the ``.part`` files an earlier run of *state_dir* left (recorded only); their paths."""
    return _STORES.at(state_dir).clean_leftovers()


def guard_of(ctx: CallContext) -> Guard:
    """A fresh :class:`~agent.forbidden.Guard` for one call: the customer's rules and the agent's own folder."""
    store_of(ctx)
    return Guard(ctx.policy.forbidden_folders, private=[ctx.state_dir], home=os.path.expanduser("~"))
