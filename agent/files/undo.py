"""Backups and undo: every change is recorded with the steps that undo it *before* it takes effect.

What is replaced is kept first under ``state_dir/files/items`` (a hard link to
the old file when possible, otherwise a copy); :func:`replace_file` puts new
content in place atomically.  ``files.undo`` (:func:`undo`) undoes the newest
change not yet undone after checking that nothing changed since, walking the
paths again; it never destroys (what it removes goes to the trash).

Availability: Linux, macOS (imported only there, see :mod:`agent.files.methods`).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import secrets
import stat
import sys
from collections.abc import Callable
from typing import Any

from agent import paths
from agent.dispatch import CallContext
from agent.files.common import clean
from agent.files.fdio import (
    NEW_FILE_FLAGS,
    UMASK,
    CopyStats,
    copy_fd,
    copy_tree,
    match_owner,
    new_temp,
    remove_tree,
    sha_fd,
    unlink_quietly,
)
from agent.files.planning import undo_plan
from agent.files.store import Store, guard_of, store_of
from agent.forbidden import Guard, Identity, Location
from agent.forbidden._posix import DIR_FLAGS, FILE_FLAGS
from agent.preview.plan import Plan
from wire.errors import AlreadyExists, Conflict, IsADirectory, NotFound, PermissionDenied, from_os_error

if sys.platform == "win32":  # the choice is made in agent.files.methods
    raise ImportError(f"{__name__} is POSIX-only")


class Change:
    """One change being made: its undo steps and kept items, recorded before it takes effect."""

    def __init__(self, store: Store, method: str, summary: str) -> None:
        self.store = store
        self.seq = store.next_seq()
        self.method = method
        self.summary = summary
        self.steps: list[dict[str, Any]] = []
        self._items = 0
        self._recorded = False

    def item_name(self) -> str:
        self._items += 1
        return f"{self.seq:08d}-{self._items}"

    def keep_file(self, parent: int, name: str, fd: int, st: os.stat_result) -> str:
        """Keep the current file *name* (open as *fd*, status *st*) before it is replaced."""
        item = self.item_name()
        items = self.store.items_fd()
        try:
            try:
                os.link(name, item, src_dir_fd=parent, dst_dir_fd=items, follow_symlinks=False)
                if Identity.of(os.stat(item, dir_fd=items, follow_symlinks=False)) == Identity.of(st):
                    return item
                os.unlink(item, dir_fd=items)
            except OSError:
                pass
            out = os.open(item, NEW_FILE_FLAGS, 0o600, dir_fd=items)
            try:
                copy_fd(fd, out)
                os.fsync(out)
            finally:
                os.close(out)
            os.fsync(items)
            return item
        finally:
            os.close(items)

    def keep_link(self, parent: int, name: str) -> str:
        """Keep the symbolic link *name* itself before it is replaced."""
        item = self.item_name()
        items = self.store.items_fd()
        try:
            try:
                os.link(name, item, src_dir_fd=parent, dst_dir_fd=items, follow_symlinks=False)
            except OSError:
                os.symlink(os.readlink(name, dir_fd=parent), item, dir_fd=items)
            os.fsync(items)
        finally:
            os.close(items)
        return item

    def record(self) -> None:
        self.store.write_record({"seq": self.seq, "time": dt.datetime.now(dt.timezone.utc).isoformat(),
                                 "method": self.method, "summary": self.summary, "steps": self.steps})
        self._recorded = True

    def abandon(self) -> None:
        self.store.drop(self.seq)

    def done(self) -> None:
        self.store.prune()


def _finish_replace(loc: Location, temp: str) -> None:
    assert loc.name is not None
    os.rename(temp, loc.name, src_dir_fd=loc.parent, dst_dir_fd=loc.parent)
    os.fsync(loc.parent)


def replace_check(guard: Guard, loc: Location, overwrite: bool) -> tuple[int, os.stat_result] | None:
    """What :func:`replace_file` checks before it writes: the file there, opened through the guard, or None.

    The caller closes the descriptor.  Raises IsADirectory, AlreadyExists (*overwrite*
    false), Forbidden, PermissionDenied, BadParams (a name this system refuses).
    """
    if loc.name is None:
        raise IsADirectory(f"{loc.requested}: is a folder")
    st = guard.entry(loc)
    if st is None:
        paths.check_name(loc.name, guard.flavour)
        return None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectory(f"{loc.requested}: is a folder")
    if not overwrite:
        raise AlreadyExists(f"{loc.requested}: already exists")
    return guard.open_file(loc)


def check_writable(parent: int, requested: str) -> None:
    """Raise PermissionDenied when the folder open as *parent* cannot take a new entry (a dry run's check
    of what creating the temporary file or the entry would meet)."""
    if not os.access(".", os.W_OK | os.X_OK, dir_fd=parent):
        raise PermissionDenied(f"{requested}: permission denied (the folder cannot be written)")


def replace_file(ctx: CallContext, guard: Guard, loc: Location, content: Callable[[int], tuple[int, str]], *,
             overwrite: bool, summary: str, old: tuple[int, os.stat_result] | None = None,
             temp: tuple[str, int] | None = None) -> dict[str, Any]:
    """Put new content at *loc* atomically, keeping what was there for undo.

    *content* writes into the temporary descriptor and returns size and sha256.
    *old* is the current file when the caller already opened it (the caller
    closes it); *temp* a temporary file already written next to *loc*, which
    this function takes over (renamed into place, or removed on failure).
    """
    store = store_of(ctx)
    own_old = False
    temp_name, temp_fd = temp if temp is not None else (None, -1)
    sha_before: str | None = None
    try:
        if loc.name is None:
            raise IsADirectory(f"{loc.requested}: is a folder")
        if old is None:
            old = replace_check(guard, loc, overwrite)
            own_old = old is not None
        assert loc.name is not None
        if temp_name is None:
            temp_name, temp_fd = new_temp(loc.parent, loc.name)
        with store.lock:
            change = Change(store, ctx.method, summary)
            try:
                size, sha_after = content(temp_fd)
                if old is not None:
                    match_owner(temp_fd, old[1], mode=stat.S_IMODE(old[1].st_mode))
                else:
                    match_owner(temp_fd, os.fstat(loc.parent), mode=0o666 & ~UMASK)
                os.fsync(temp_fd)
                if old is not None:
                    sha_before = sha_fd(old[0])
                    item = change.keep_file(loc.parent, loc.name, old[0], old[1])
                    change.steps.append({"kind": "replaced", "path": loc.path, "item": item,
                                         "before": sha_before, "after": sha_after})
                else:
                    change.steps.append({"kind": "created", "path": loc.path, "after": sha_after})
                change.record()
                _finish_replace(loc, temp_name)
                temp_name = None
            except BaseException:
                change.abandon()
                raise
            change.done()
    except OSError as err:
        raise from_os_error(err, loc.requested) from err
    finally:
        if temp_name is not None:
            unlink_quietly(loc.parent, temp_name)
        if temp_fd >= 0:
            os.close(temp_fd)
        if own_old and old is not None:
            os.close(old[0])
    ctx.journal_details.update(sha256_before=sha_before, sha256_after=sha_after, size=size)
    return {"path": clean(loc.path), "size": size, "sha256": sha_after, "sha256_before": sha_before,
            "created": old is None}


def _undo_step(guard: Guard, store: Store, step: dict[str, Any], seq: int, dry: bool = False) -> None:
    """Undo one step; with *dry*, only check that it could be undone (the same errors), changing nothing."""
    kind = step.get("kind")
    if kind == "moved":
        with guard.locate(str(step["to"]), follow=False) as now, guard.locate(str(step["from"]), follow=False) as was:
            assert now.name is not None and was.name is not None
            now_st, was_st = guard.entry(now), guard.entry(was)
            if now_st is None and was_st is not None:
                return  # already back
            if now_st is None:
                raise Conflict(f"{now.path} is gone; it cannot be moved back")
            if was_st is not None:
                raise Conflict(f"{was.path} exists again; it was not replaced")
            guard.check_movable(now, now_st)
            if dry:
                return
            os.rename(now.name, was.name, src_dir_fd=now.parent, dst_dir_fd=was.parent)
            os.fsync(was.parent)
            os.fsync(now.parent)
        return
    with guard.locate(str(step["path"]), follow=False) as loc:
        assert loc.name is not None
        st = guard.entry(loc)
        if kind == "created":
            if st is None:
                return
            guard.check_movable(loc, st)
            if stat.S_ISREG(st.st_mode) and step.get("after"):
                fd, _ = guard.open_file(loc)
                try:
                    if sha_fd(fd) != step["after"]:
                        raise Conflict(f"{loc.path} changed since; it was left as it is")
                finally:
                    os.close(fd)
            if dry:
                return
            # Created things go to the trash, not to oblivion: undo never destroys.
            items = store.items_fd()
            try:
                os.rename(loc.name, f"{seq:08d}-undone-{secrets.token_hex(3)}", src_dir_fd=loc.parent,
                          dst_dir_fd=items)
            except OSError as err:
                if err.errno != errno.EXDEV:
                    raise
                remove_tree(loc.parent, loc.name, guard, loc.requested)
            finally:
                os.close(items)
            os.fsync(loc.parent)
            return
        if kind == "replaced":
            if st is not None and stat.S_ISREG(st.st_mode):
                fd, _ = guard.open_file(loc)
                try:
                    current = sha_fd(fd)
                finally:
                    os.close(fd)
                if current == step.get("before"):
                    return  # the change never took effect (or is already undone)
                if step.get("after") is not None and current != step["after"]:
                    raise Conflict(f"{loc.path} changed since; it was left as it is")
            elif st is not None and not stat.S_ISLNK(st.st_mode):
                raise Conflict(f"{loc.path} is no longer a file; it was left as it is")
            if dry:
                return
            _put_back(store, str(step["item"]), loc)
            return
        if kind == "deleted":
            if st is not None:
                raise Conflict(f"{loc.path} exists again; the deleted one was not put back")
            if dry:
                return
            _put_back(store, str(step["item"]), loc)
            return
    raise Conflict(f"unknown step {kind!r} in change {seq}")


def _put_back(store: Store, item: str, loc: Location) -> None:
    """Move a kept item back to *loc* (copying across devices), replacing a file there atomically."""
    assert loc.name is not None
    items = store.items_fd()
    try:
        try:
            os.rename(item, loc.name, src_dir_fd=items, dst_dir_fd=loc.parent)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            kept = os.stat(item, dir_fd=items, follow_symlinks=False)
            temp = f".{loc.name[:40]}.wb-{secrets.token_hex(4)}.undo"
            if stat.S_ISDIR(kept.st_mode):
                src = os.open(item, DIR_FLAGS, dir_fd=items)
                try:
                    unguarded = Guard(None)
                    copy_tree(unguarded, src, item, loc.parent, temp, CopyStats())
                finally:
                    os.close(src)
            elif stat.S_ISLNK(kept.st_mode):
                os.symlink(os.readlink(item, dir_fd=items), temp, dir_fd=loc.parent)
            else:
                src = os.open(item, FILE_FLAGS, dir_fd=items)
                out = os.open(temp, NEW_FILE_FLAGS, 0o600, dir_fd=loc.parent)
                try:
                    copy_fd(src, out)
                    match_owner(out, kept, mode=stat.S_IMODE(kept.st_mode))
                    os.fsync(out)
                finally:
                    os.close(src)
                    os.close(out)
            os.rename(temp, loc.name, src_dir_fd=loc.parent, dst_dir_fd=loc.parent)
        os.fsync(loc.parent)
    finally:
        os.close(items)


def undo(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.undo {}: undo the newest recorded change.

    Raises NotFound when there is nothing to undo, Conflict when the files
    changed since (nothing is undone then), Forbidden when a path is now in
    a protected folder.  A dry run checks every step the same way and answers the plan.
    """
    guard = guard_of(ctx)
    store = store_of(ctx)
    with store.lock:
        for seq in reversed(store.records()):
            record = store.read_record(seq)
            if not record.get("undone"):
                break
        else:
            raise NotFound("there is no change to undo")
        steps = list(record.get("steps", []))
        try:
            for step in reversed(steps):
                _undo_step(guard, store, step, seq, dry=ctx.preview)
        except OSError as err:
            raise from_os_error(err, "undo") from err
        if ctx.preview:
            return undo_plan(str(record.get("summary", "")), steps)
        # Kept, marked: what the undo set aside stays recoverable until the record is pruned.
        record["undone"] = dt.datetime.now(dt.timezone.utc).isoformat()
        store.write_record(record)
    ctx.journal_details.update(undone=record.get("method"), change=seq)
    return {"undone": record.get("method"), "summary": clean(str(record.get("summary", ""))),
            "time": record.get("time")}

