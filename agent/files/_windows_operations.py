"""The file operations on Windows: list, stat, read, write, edit, move, copy, delete and mkdir.

The same methods, parameters and replies as :mod:`agent.files.operations`;
every path goes through the Windows :class:`~agent.forbidden.Guard` (syntax
first, then identity), and every change through
:mod:`agent.files._windows_undo` (recorded, then made atomically).  Handlers
raise :class:`~wire.errors.WorkbenchError` subclasses only; a failed call
leaves no file changed.

What differs from POSIX, and why: junctions and symbolic links are shown
(``kind: "link"``) and moved or deleted as themselves, but never entered or
copied; ``mode`` is Windows' (read-only or not); ``uid``/``gid`` are 0.

Availability: Windows (chosen only there, see :mod:`agent.files.methods`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import contextlib
import ntpath
import os
import stat
from collections.abc import Callable
from typing import Any

from agent import paths
from agent.dispatch import CallContext, Reply
from agent.files import planning
from agent.files._windows_io import copy_entry, guard_ancestors, pread_exact, remove_tree, sha_fd, write_all
from agent.files._windows_store import guard_of, store_of
from agent.files._windows_undo import Change, replace_check, replace_file
from agent.files.common import LIST_DEFAULT, LIST_MAX, clean, iso, path_param
from agent.files.reading import edited, read_reply, read_request, writer
from agent.files.textual import (
    diff_of,
    edit_params,
    text_codec,
    write_payload,
)
from agent.forbidden import _windows_api as win
from agent.forbidden._windows_walk import Guard, Location
from agent.forbidden.rules import Identity
from agent.params import get_bool, get_int
from agent.preview.plan import Plan
from wire.errors import AlreadyExists, BadParams, NotADirectory, NotFound, from_os_error

_ERROR_NOT_SAME_DEVICE = 17


def kind_of(info: win.FileInfo) -> str:
    """What an entry is, in the replies' words: folder, file or link."""
    if info.is_link:
        return "link"
    return "folder" if info.is_dir else "file"


def _target_text(full: str) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        return clean(os.readlink(full))
    return None


def _writer(data: bytes) -> Callable[[int], tuple[int, str]]:
    return writer(data, write_all)


def _named_entry(guard: Guard, loc: Location, spelled: str) -> tuple[str, win.FileInfo]:
    if loc.name is None:
        raise BadParams(f"{spelled}: name the file or folder itself, not a path ending in '..'")
    found = guard.entry(loc)
    if found is None:
        raise NotFound(f"{spelled}: no such file or folder")
    return loc.name, found[0]


def _list_entry(guard: Guard, folder: str, item: os.DirEntry[str]) -> dict[str, Any]:
    full = ntpath.join(folder, item.name)
    st = item.stat(follow_symlinks=False)
    entry: dict[str, Any] = {"name": clean(item.name)}
    is_dir = item.is_dir(follow_symlinks=False)
    reparse = bool(getattr(st, "st_file_attributes", 0) & win.FILE_ATTRIBUTE_REPARSE_POINT)
    if is_dir or reparse or guard.rules.linked_files:  # identity needed: open the entry itself
        info = win.info_at(full)
        entry["kind"] = kind_of(info)
        if (info.is_dir and not info.is_link and guard.protected(info) is not None) or guard.linked_protected(info):
            # Listed so the folder's existence is not a riddle, but nothing about it is read.
            entry.update(protected=True, size=None, modified=None)
            return entry
        if info.is_link:
            entry["target"] = _target_text(full)
    else:
        entry["kind"] = "file" if stat.S_ISREG(st.st_mode) else "other"
    entry.update(size=st.st_size if entry["kind"] == "file" else None, modified=iso(st.st_mtime),
                 mode=stat.filemode(st.st_mode))
    return entry


def list_folder(ctx: CallContext) -> dict[str, Any]:
    """files.list {path, limit?}: the folder's entries, sorted by name.

    Protected folders appear with ``protected: true`` and no size or date.
    Raises NotFound, NotADirectory, Forbidden, PermissionDenied, BadParams.
    """
    path = path_param(ctx.params)
    limit = get_int(ctx.params, "limit", LIST_DEFAULT, minimum=1, maximum=LIST_MAX)
    guard = guard_of(ctx)
    entries: list[dict[str, Any]] = []
    truncated = False
    try:
        with guard.locate(path) as loc:
            if loc.name is not None:
                found = guard.entry(loc)
                if found is None:
                    raise NotFound(f"{path}: no such folder")
                raise NotADirectory(f"{path}: not a folder")
            shown = loc.path
            with os.scandir(loc.full) as items:
                for item in items:
                    if len(entries) >= limit:
                        truncated = True
                        break
                    try:
                        entries.append(_list_entry(guard, loc.full, item))
                    except FileNotFoundError:
                        continue
                    except OSError:
                        entries.append({"name": clean(item.name), "kind": "unknown", "size": None, "modified": None})
    except OSError as err:
        raise from_os_error(err, path) from err
    entries.sort(key=lambda e: e["name"])
    ctx.journal_details.update(entries=len(entries))
    return {"path": clean(shown), "entries": entries, "truncated": truncated}


def stat_path(ctx: CallContext) -> dict[str, Any]:
    """files.stat {path, follow?=true}: kind, size, dates, mode, links (and a link's target).

    A junction or link is described itself (it is never followed on Windows).
    Raises NotFound, Forbidden, PermissionDenied, BadParams.
    """
    path = path_param(ctx.params)
    follow = get_bool(ctx.params, "follow", True)
    guard = guard_of(ctx)
    try:
        with guard.locate(path, follow=follow) as loc:
            found = guard.entry(loc)
            if found is None:
                raise NotFound(f"{path}: no such file or folder")
            info, st = found
            if not info.is_dir and not info.is_link:
                guard.check_file(info, path, loc.full)
            result: dict[str, Any] = {
                "path": clean(loc.path), "name": clean(ntpath.basename(loc.path.rstrip("\\")) or loc.path),
                "kind": kind_of(info), "size": st.st_size, "modified": iso(st.st_mtime),
                "accessed": iso(st.st_atime), "changed": iso(st.st_ctime), "mode": stat.filemode(st.st_mode),
                "links": info.links, "uid": 0, "gid": 0,
            }
            if info.is_link:
                result["target"] = _target_text(loc.full)
    except OSError as err:
        raise from_os_error(err, path) from err
    return result


def read_file(ctx: CallContext) -> Reply | dict[str, Any]:
    """files.read {path, encoding?="utf-8"|null, offset?, length?, errors?}: as on POSIX.

    Raises BadParams (range too large, undecodable text, unknown encoding),
    NotFound, IsADirectory, Forbidden, PermissionDenied.
    """
    request = read_request(ctx)
    guard = guard_of(ctx)
    try:
        with guard.locate(request.path) as loc:
            fd, _, st = guard.open_file(loc)
            try:
                data = pread_exact(fd, request.length_for(st.st_size), request.offset)
            finally:
                os.close(fd)
    except OSError as err:
        raise from_os_error(err, request.path) from err
    return read_reply(ctx, request, loc.path, st.st_size, data)


def _plan_write(ctx: CallContext, guard: Guard, loc: Location, data: bytes, overwrite: bool) -> Plan:
    """A dry run of files.write: the checks of :func:`replace_file`, then what would be written."""
    old = replace_check(guard, loc, overwrite)
    guard.check_parent(loc)
    if old is None:
        return planning.write_plan(ctx.method, loc.path, data, text_codec(ctx.params), None)
    fd, _, st = old
    try:
        return planning.write_plan(ctx.method, loc.path, data, text_codec(ctx.params),
                                   (lambda size: pread_exact(fd, size, 0), st.st_size))
    finally:
        os.close(fd)


def write_file(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.write {path, text? | request data, encoding?, overwrite?=true}: atomically, old content kept.

    Raises BadParams, AlreadyExists, IsADirectory, NotFound (folder missing),
    Forbidden, PermissionDenied, NoSpace.
    """
    path = path_param(ctx.params)
    overwrite = get_bool(ctx.params, "overwrite", True)
    data = write_payload(ctx)
    guard = guard_of(ctx)
    try:
        with guard.locate(path) as loc:
            if ctx.preview:
                return _plan_write(ctx, guard, loc, data, overwrite)
            return replace_file(ctx, guard, loc, _writer(data), overwrite=overwrite, summary=f"changed {loc.path}")
    except OSError as err:
        raise from_os_error(err, path) from err


def edit_file(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.edit {path, old, new, encoding?}: replace the one occurrence of *old* by *new*; returns ``diff``.

    Raises Conflict (absent, or found more than once), BadParams, and the errors of files.write.
    """
    path, old_text, new_text, encoding = edit_params(ctx)
    guard = guard_of(ctx)
    try:
        with guard.locate(path) as loc:
            fd, info, st = guard.open_file(loc)
            try:
                current, updated, data = edited(lambda size: pread_exact(fd, size, 0), st.st_size, path,
                                                old_text, new_text, encoding)
            except BaseException:
                os.close(fd)
                raise
            if ctx.preview:
                os.close(fd)
                guard.check_parent(loc)
                return planning.edit_plan(loc.path, current, updated, st.st_size, data)
            result = replace_file(ctx, guard, loc, _writer(data), overwrite=True, summary=f"edited {loc.path}",
                                  old=(fd, info))  # takes the descriptor over
    except OSError as err:
        raise from_os_error(err, path) from err
    result["diff"] = diff_of(current, updated, loc.path)
    return result


def _target(guard: Guard, dst: str, src_name: str) -> Location:
    """Locate a destination; a trailing separator means "into this folder, same name"."""
    loc = guard.locate(dst, follow=False)
    if loc.name is None:
        loc.name = src_name
    try:
        paths.check_name(loc.name, "windows")
    except BaseException:
        loc.close()
        raise
    return loc


def _check_target(guard: Guard, loc: Location, overwrite: bool, src_is_dir: bool) -> bool:
    """What may stop *loc* from receiving a moved or copied entry; whether a file there would be replaced.

    Raises AlreadyExists, Forbidden (a protected file there), PermissionDenied.
    """
    found = guard.entry(loc)
    if found is None:
        return False
    if not overwrite:
        raise AlreadyExists(f"{loc.requested}: already exists (use overwrite to replace a file)")
    if found[0].is_dir or src_is_dir:
        raise AlreadyExists(f"{loc.requested}: already exists; folders are never replaced")
    return True


def _free_target(guard: Guard, change: Change, loc: Location, overwrite: bool, src_is_dir: bool) -> None:
    """Make sure *loc* may receive a moved or copied entry; keep a file it replaces."""
    if not _check_target(guard, loc, overwrite, src_is_dir):
        return
    fd, info, _ = guard.open_file(loc)
    try:
        item = change.keep_file(loc.full, fd, info)
        change.steps.append({"kind": "replaced", "path": loc.path, "item": item, "before": sha_fd(fd),
                             "after": None})
    finally:
        os.close(fd)


def _to_trash(guard: Guard, change: Change, loc: Location, info: win.FileInfo) -> None:
    """Move *loc* into the agent's trash (a copy and removal across volumes)."""
    item = change.item_name()
    change.steps.append({"kind": "deleted", "path": loc.path, "item": item})
    change.record()
    guard.check_parent(loc)
    try:
        os.rename(loc.full, change.store.item_path(item))
    except OSError as err:
        if getattr(err, "winerror", None) != _ERROR_NOT_SAME_DEVICE:
            raise
        copy_entry(guard, loc, info, str(change.store.items), item)
        remove_tree(loc.full, guard, loc.requested)


def move_path(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.move {src, dst, overwrite?=false}: rename, or copy and remove across volumes.

    Raises Forbidden (into or out of a protected folder, or a folder holding
    one), AlreadyExists, NotFound, BadParams (a folder into itself),
    PermissionDenied, NoSpace.
    """
    src = path_param(ctx.params, "src")
    dst = path_param(ctx.params, "dst")
    overwrite = get_bool(ctx.params, "overwrite", False)
    guard = guard_of(ctx)
    store = store_of(ctx)
    try:
        with store.lock, guard.locate(src, follow=False) as source:
            name, info = _named_entry(guard, source, src)
            guard.check_movable(source, info)
            with _target(guard, dst, name) as target:
                if info.is_dir and not info.is_link and info.identity in _held_identities(target):
                    raise BadParams(f"{src}: a folder cannot be moved into itself")
                if ctx.preview:
                    replaces = _plan_target(guard, target, overwrite, info.is_dir)
                    guard.check_parent(source)
                    return planning.move_plan(source.path, target.path, kind_of(info), _file_size(info, source),
                                              replaces)
                change = Change(store, ctx.method, f"moved {source.path} to {target.path}")
                try:
                    _free_target(guard, change, target, overwrite, info.is_dir)
                    change.steps.append({"kind": "moved", "from": source.path, "to": target.path})
                    change.record()
                    guard.check_parent(source)
                    guard.check_parent(target)
                    try:
                        os.replace(source.full, target.full)
                    except OSError as err:
                        if getattr(err, "winerror", None) != _ERROR_NOT_SAME_DEVICE:
                            raise
                        change.steps.pop()
                        assert target.name is not None
                        copy_entry(guard, source, info, target.parent_path, target.name)
                        change.steps.append({"kind": "created", "path": target.path, "after": None})
                        _to_trash(guard, change, source, info)
                    change.record()
                except BaseException:
                    change.abandon()
                    raise
                change.done()
                return {"src": clean(source.path), "dst": clean(target.path), "kind": kind_of(info)}
    except OSError as err:
        raise from_os_error(err, f"{src} → {dst}") from err


def _held_identities(loc: Location) -> set[Identity]:
    """Identities of the folders *loc* walked through (its destination folder and those above)."""
    return guard_ancestors(loc.parent_path)


def _plan_target(guard: Guard, target: Location, overwrite: bool, src_is_dir: bool) -> bool:
    """A dry run's checks of a destination (a protected file there included); whether it would be replaced."""
    replaces = _check_target(guard, target, overwrite, src_is_dir)
    if replaces:
        fd, _, _ = guard.open_file(target)
        os.close(fd)
    guard.check_parent(target)
    return replaces


def _file_size(info: win.FileInfo, loc: Location) -> int | None:
    if info.is_dir or info.is_link:
        return None
    try:
        return os.stat(loc.full, follow_symlinks=False).st_size
    except OSError:
        return None


def copy_path(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.copy {src, dst, overwrite?=false}: copy a file or a folder tree (junctions and links skipped).

    Raises Forbidden, AlreadyExists, NotFound, BadParams (a folder into
    itself), PermissionDenied, NoSpace.
    """
    src = path_param(ctx.params, "src")
    dst = path_param(ctx.params, "dst")
    overwrite = get_bool(ctx.params, "overwrite", False)
    guard = guard_of(ctx)
    store = store_of(ctx)
    try:
        with store.lock, guard.locate(src, follow=True) as source:
            found = guard.entry(source)
            if found is None:
                raise NotFound(f"{src}: no such file or folder")
            info = found[0]
            if not info.is_dir:
                guard.check_file(info, src, source.full)
            src_name = source.name if source.name is not None else ntpath.basename(source.path.rstrip("\\"))
            if not src_name or src_name.endswith(":"):
                raise BadParams("the whole disk cannot be copied")
            with _target(guard, dst, src_name) as target:
                assert target.name is not None
                if ctx.preview:
                    if info.is_dir:
                        guard.check_movable(source, info)  # a protected folder inside the tree stops the copy
                        if not info.is_link and info.identity in _held_identities(target):
                            raise BadParams(f"{src}: a folder cannot be copied into itself")
                    else:
                        fd, _, _ = guard.open_file(source)
                        os.close(fd)
                    replaces = _plan_target(guard, target, overwrite, info.is_dir)
                    return planning.copy_plan(source.path, target.path, kind_of(info), _file_size(info, source),
                                              replaces)
                change = Change(store, ctx.method, f"copied {source.path} to {target.path}")
                try:
                    _free_target(guard, change, target, overwrite, info.is_dir)
                    change.steps.append({"kind": "created", "path": target.path, "after": None})
                    change.record()
                    guard.check_parent(target)
                    stats = copy_entry(guard, source, info, target.parent_path, target.name)
                except BaseException:
                    change.abandon()
                    raise
                change.done()
    except OSError as err:
        raise from_os_error(err, f"{src} → {dst}") from err
    ctx.journal_details.update(files=stats.files, folders=stats.folders, bytes=stats.bytes)
    return {"src": clean(source.path), "dst": clean(target.path), "files": stats.files, "folders": stats.folders,
            "bytes": stats.bytes, "skipped": stats.skipped}


def delete_path(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.delete {path}: move a file or folder to the agent's trash (undo brings it back).

    A junction or link is deleted itself.  Raises Forbidden, NotFound, PermissionDenied, NoSpace.
    """
    path = path_param(ctx.params)
    guard = guard_of(ctx)
    store = store_of(ctx)
    try:
        with store.lock, guard.locate(path, follow=False) as loc:
            _, info = _named_entry(guard, loc, path)
            guard.check_movable(loc, info)
            if ctx.preview:
                guard.check_parent(loc)
                return planning.delete_plan(loc.path, kind_of(info), _file_size(info, loc))
            change = Change(store, ctx.method, f"deleted {loc.path}")
            try:
                _to_trash(guard, change, loc, info)
            except BaseException:
                change.abandon()
                raise
            change.done()
    except OSError as err:
        raise from_os_error(err, path) from err
    return {"path": clean(loc.path), "kind": kind_of(info), "recoverable": True}


def make_folder(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.mkdir {path, parents?=false, exist_ok?=false}: create a folder (and its parents).

    Raises AlreadyExists, NotFound, NotADirectory, Forbidden, PermissionDenied, BadParams.
    """
    path = path_param(ctx.params)
    parents = get_bool(ctx.params, "parents", False)
    exist_ok = get_bool(ctx.params, "exist_ok", False)
    guard = guard_of(ctx)
    store = store_of(ctx)
    parsed = guard.parse(path)
    prefixes = [paths.ParsedPath(parsed.flavour, parsed.anchor, parsed.parts[:i])
                for i in range(1, len(parsed.parts) + 1)] if parents else [parsed]
    created: list[str] = []
    try:
        with store.lock:
            change = Change(store, ctx.method, f"created the folder {path}")
            try:
                for index, prefix in enumerate(prefixes):
                    last = index == len(prefixes) - 1
                    with guard.locate(prefix, follow=False) as loc:
                        if loc.name is None:
                            continue
                        found = guard.entry(loc)
                        if found is not None:
                            if not found[0].is_dir or found[0].is_link:
                                error = AlreadyExists if last else NotADirectory
                                raise error(f"{loc.requested}: exists, and is not a folder")
                            if last and not (exist_ok or parents):
                                raise AlreadyExists(f"{loc.requested}: already exists")
                            continue
                        paths.check_name(loc.name, "windows")
                        if ctx.preview:  # the folders below this one do not exist either: all would be made
                            guard.check_parent(loc)
                            planned = [loc.path]
                            for later in prefixes[index + 1:]:
                                paths.check_name(later.parts[-1], "windows")
                                planned.append(ntpath.join(planned[-1], later.parts[-1]))
                            change.abandon()
                            return planning.mkdir_plan(path, planned)
                        change.steps.append({"kind": "created", "path": loc.path, "after": None})
                        change.record()
                        guard.check_parent(loc)
                        os.mkdir(loc.full)
                        created.append(clean(loc.path))
            except BaseException:
                if not created:
                    change.abandon()
                raise
            if created:
                change.done()
            else:
                change.abandon()
    except OSError as err:
        raise from_os_error(err, path) from err
    if ctx.preview:
        return planning.mkdir_plan(path, [])
    return {"path": clean(path), "created": created}
