"""The agent's private keeping for files: change records, kept items and open transfers under ``state_dir/files``.

One :class:`Store` per agent state folder (:func:`store_of`); :func:`guard_of`
gives a call its :class:`~agent.forbidden.Guard`, with that folder protected.
The ``.part`` files of uploads are recorded in the store's
:class:`~agent.files.parts.PartRegistry`: :func:`close_transfers` closes every
open transfer at the end of a session, and :func:`clean_leftovers` removes,
at start, the ``.part`` files a crashed run left (only those recorded).
The bookkeeping itself is :mod:`agent.files.keeping`, shared with Windows;
here is what is POSIX: private modes, folder fds, fsync'ed folders.

Availability: Linux, macOS (imported only there, see :mod:`agent.files.methods`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agent.dispatch import CallContext
from agent.files.fdio import remove_tree, unlink_quietly
from agent.files.keeping import Keeping, Stores, UploadBase
from agent.files.parts import PartRecord
from agent.forbidden import Guard, Identity
from agent.forbidden._posix import DIR_FLAGS

if sys.platform == "win32":  # the choice is made in agent.files.methods
    raise ImportError(f"{__name__} is POSIX-only")


@dataclass
class Upload(UploadBase):
    """An open upload: its ``.part`` file in the held destination folder (:attr:`parent`, a folder fd)."""

    parent: int = field(kw_only=True)

    def release_folder(self, remove: bool) -> None:
        if remove and self.parent >= 0:
            unlink_quietly(self.parent, self.temp)
        if self.parent >= 0:
            os.close(self.parent)
            self.parent = -1


class Store(Keeping[Upload]):
    """The agent's private keeping for files: change records, kept items, transfers (folders private, fsync'ed)."""

    @staticmethod
    def make_folder(folder: Path, parents: bool) -> None:
        folder.mkdir(mode=0o700, parents=parents, exist_ok=True)

    @staticmethod
    def part_path(record: PartRecord) -> str:
        return os.path.join(record.folder, record.name)

    @staticmethod
    def remove_part(record: PartRecord) -> bool:
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

    def items_fd(self) -> int:
        return os.open(self.items, DIR_FLAGS)

    def drop_items(self, seq: int) -> None:
        items = self.items_fd()
        try:
            for item in self.items.glob(f"{seq:08d}-*"):
                with contextlib.suppress(OSError):
                    remove_tree(items, item.name)
        finally:
            os.close(items)

    def sync_changes(self) -> None:
        fd = os.open(self.changes, DIR_FLAGS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _pair(identity: Identity) -> tuple[int, int]:
    return identity.dev, identity.ino


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
    store_of(ctx)  # the private folder must exist to be protected
    return Guard(ctx.policy.forbidden_folders, private=[ctx.state_dir], home=os.path.expanduser("~"))

