"""Backups and undo on Windows: every change recorded with the steps that undo it *before* it takes effect.

As on POSIX (:mod:`agent.files.undo`): what is replaced is kept first under
``state_dir/files/items`` (a hard link when the volume allows, otherwise a
copy); :func:`replace_file` writes a temporary file in the same folder,
flushes it and renames it over the target (``os.replace``: ``MoveFileEx``
with ``MOVEFILE_REPLACE_EXISTING``), so the target holds the old content or
the new, never a mix; ``files.undo`` checks that nothing changed since and
walks the paths again.

Availability: Windows (chosen only there, see :mod:`agent.files.methods`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import datetime as dt
import ntpath
import os
import secrets
from collections.abc import Callable
from typing import Any

from agent import paths
from agent.dispatch import CallContext
from agent.files._windows_io import (
    NEW_FILE_FLAGS,
    CopyStats,
    copy_fd,
    copy_tree,
    new_temp,
    remove_tree,
    sha_fd,
    unlink_quietly,
)
from agent.files._windows_store import Store, guard_of, store_of
from agent.files.common import clean
from agent.files.planning import undo_plan
from agent.forbidden import _windows_api as win
from agent.forbidden._windows_walk import Guard, Location
from agent.preview.plan import Plan
from wire.errors import AlreadyExists, Conflict, IsADirectory, NotFound, from_os_error

_ERROR_NOT_SAME_DEVICE = 17


def _other_volume(err: OSError) -> bool:
    return getattr(err, "winerror", None) == _ERROR_NOT_SAME_DEVICE


class Change:
    """One change being made: its undo steps and kept items, recorded before it takes effect."""

    def __init__(self, store: Store, method: str, summary: str) -> None:
        self.store = store
        self.seq = store.next_seq()
        self.method = method
        self.summary = summary
        self.steps: list[dict[str, Any]] = []
        self._items = 0

    def item_name(self) -> str:
        self._items += 1
        return f"{self.seq:08d}-{self._items}"

    def keep_file(self, path: str, fd: int, info: win.FileInfo) -> str:
        """Keep the current file at *path* (open as *fd*) before it is replaced: a hard link, else a copy."""
        item = self.item_name()
        kept = self.store.item_path(item)
        try:
            os.link(path, kept)
            if win.info_at(kept).identity == info.identity:
                return item
            os.unlink(kept)
        except OSError:
            pass
        out = os.open(kept, NEW_FILE_FLAGS, 0o600)
        try:
            copy_fd(fd, out)
            os.fsync(out)
        finally:
            os.close(out)
        return item

    def record(self) -> None:
        self.store.write_record({"seq": self.seq, "time": dt.datetime.now(dt.timezone.utc).isoformat(),
                                 "method": self.method, "summary": self.summary, "steps": self.steps})

    def abandon(self) -> None:
        self.store.drop(self.seq)

    def done(self) -> None:
        self.store.prune()


def replace_check(guard: Guard, loc: Location, overwrite: bool) -> tuple[int, win.FileInfo, os.stat_result] | None:
    """What :func:`replace_file` checks before it writes: the file there, opened through the guard, or None.

    The caller closes the descriptor.  Raises IsADirectory, AlreadyExists (*overwrite*
    false), Forbidden, PermissionDenied, BadParams (a name Windows refuses).
    """
    if loc.name is None:
        raise IsADirectory(f"{loc.requested}: is a folder")
    found = guard.entry(loc)
    if found is None:
        paths.check_name(loc.name, "windows")
        return None
    if found[0].is_dir:
        raise IsADirectory(f"{loc.requested}: is a folder")
    if not overwrite:
        raise AlreadyExists(f"{loc.requested}: already exists")
    return guard.open_file(loc)


def replace_file(ctx: CallContext, guard: Guard, loc: Location, content: Callable[[int], tuple[int, str]], *,
                 overwrite: bool, summary: str, old: tuple[int, win.FileInfo] | None = None,
                 temp: tuple[str, int] | None = None) -> dict[str, Any]:
    """Put new content at *loc* atomically, keeping what was there for undo.

    *content* writes into the temporary descriptor and returns size and
    sha256; *old* is the current file when the caller opened it, taken over
    (closed before the rename: Wine refuses to replace a file held open);
    *temp* a temporary file already written next to *loc*, taken over.
    Raises IsADirectory, AlreadyExists, Forbidden, Conflict, PermissionDenied, NoSpace.
    """
    store = store_of(ctx)
    old_fd = old[0] if old is not None else -1
    temp_name, temp_fd = temp if temp is not None else (None, -1)
    sha_before: str | None = None
    try:
        if loc.name is None:
            raise IsADirectory(f"{loc.requested}: is a folder")
        if old is None:
            opened = replace_check(guard, loc, overwrite)
            if opened is not None:
                old_fd, info, _ = opened
                old = (old_fd, info)
        assert loc.name is not None
        if temp_name is None:
            temp_name, temp_fd = new_temp(loc.parent_path, loc.name)
        with store.lock:
            change = Change(store, ctx.method, summary)
            try:
                size, sha_after = content(temp_fd)
                os.fsync(temp_fd)
                os.close(temp_fd)
                temp_fd = -1
                if old is not None:
                    sha_before = sha_fd(old[0])
                    item = change.keep_file(loc.full, old[0], old[1])
                    change.steps.append({"kind": "replaced", "path": loc.path, "item": item,
                                         "before": sha_before, "after": sha_after})
                    os.close(old_fd)
                    old_fd = -1
                else:
                    change.steps.append({"kind": "created", "path": loc.path, "after": sha_after})
                change.record()
                guard.check_parent(loc)
                os.replace(ntpath.join(loc.parent_path, temp_name), loc.full)
                temp_name = None
            except BaseException:
                change.abandon()
                raise
            change.done()
    except OSError as err:
        raise from_os_error(err, loc.requested) from err
    finally:
        if temp_fd >= 0:
            os.close(temp_fd)
        if temp_name is not None:
            unlink_quietly(ntpath.join(loc.parent_path, temp_name))
        if old_fd >= 0:
            os.close(old_fd)
    ctx.journal_details.update(sha256_before=sha_before, sha256_after=sha_after, size=size)
    return {"path": clean(loc.path), "size": size, "sha256": sha_after, "sha256_before": sha_before,
            "created": old is None}


def _current_sha(guard: Guard, loc: Location) -> str:
    fd, _, _ = guard.open_file(loc)
    try:
        return sha_fd(fd)
    finally:
        os.close(fd)


def _undo_step(guard: Guard, store: Store, step: dict[str, Any], seq: int, dry: bool = False) -> None:
    """Undo one step; with *dry*, only check that it could be undone (the same errors), changing nothing."""
    kind = step.get("kind")
    if kind == "moved":
        with guard.locate(str(step["to"]), follow=False) as now, guard.locate(str(step["from"]), follow=False) as was:
            now_entry, was_entry = guard.entry(now), guard.entry(was)
            if now_entry is None and was_entry is not None:
                return  # already back
            if now_entry is None:
                raise Conflict(f"{now.path} is gone; it cannot be moved back")
            if was_entry is not None:
                raise Conflict(f"{was.path} exists again; it was not replaced")
            guard.check_movable(now, now_entry[0])
            if dry:
                return
            os.rename(now.full, was.full)
        return
    with guard.locate(str(step["path"]), follow=False) as loc:
        found = guard.entry(loc)
        if kind == "created":
            if found is None:
                return
            guard.check_movable(loc, found[0])
            plain_file = not found[0].is_dir and not found[0].is_link
            if plain_file and step.get("after") and _current_sha(guard, loc) != step["after"]:
                raise Conflict(f"{loc.path} changed since; it was left as it is")
            if dry:
                return
            try:  # created things go to the trash, not to oblivion: undo never destroys
                os.rename(loc.full, store.item_path(f"{seq:08d}-undone-{secrets.token_hex(3)}"))
            except OSError as err:
                if not _other_volume(err):
                    raise
                remove_tree(loc.full, guard, loc.requested)
            return
        if kind == "replaced":
            if found is not None and not found[0].is_dir and not found[0].is_link:
                current = _current_sha(guard, loc)
                if current == step.get("before"):
                    return  # the change never took effect (or is already undone)
                if step.get("after") is not None and current != step["after"]:
                    raise Conflict(f"{loc.path} changed since; it was left as it is")
            elif found is not None:
                raise Conflict(f"{loc.path} is no longer a file; it was left as it is")
            if dry:
                return
            _put_back(store, str(step["item"]), loc)
            return
        if kind == "deleted":
            if found is not None:
                raise Conflict(f"{loc.path} exists again; the deleted one was not put back")
            if dry:
                return
            _put_back(store, str(step["item"]), loc)
            return
    raise Conflict(f"unknown step {kind!r} in change {seq}")


def _put_back(store: Store, item: str, loc: Location) -> None:
    """Move a kept item back to *loc* (copying across volumes), replacing a file there atomically."""
    kept = store.item_path(item)
    try:
        os.replace(kept, loc.full)
        return
    except OSError as err:
        if not _other_volume(err):
            raise
    temp = ntpath.join(loc.parent_path, f".{(loc.name or 'item')[:40]}.wb-{secrets.token_hex(4)}.undo")
    if win.info_at(kept).is_dir:
        copy_tree(Guard(None), kept, item, temp, CopyStats())
    else:
        src = os.open(kept, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        out = os.open(temp, NEW_FILE_FLAGS, 0o600)
        try:
            copy_fd(src, out)
            os.fsync(out)
        finally:
            os.close(src)
            os.close(out)
    os.replace(temp, loc.full)


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
        try:
            for step in reversed(list(record.get("steps", []))):
                _undo_step(guard, store, step, seq, dry=ctx.preview)
        except OSError as err:
            raise from_os_error(err, "undo") from err
        if ctx.preview:
            return undo_plan(str(record.get("summary", "")), list(record.get("steps", [])))
        record["undone"] = dt.datetime.now(dt.timezone.utc).isoformat()
        store.write_record(record)
    ctx.journal_details.update(undone=record.get("method"), change=seq)
    return {"undone": record.get("method"), "summary": clean(str(record.get("summary", ""))),
            "time": record.get("time")}
