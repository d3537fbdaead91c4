"""The file operations: list, stat, read, write, edit, move, copy, delete and mkdir.

Every path goes through the call's :class:`~agent.forbidden.Guard`; every
change goes through :mod:`agent.files.undo` (recorded, then made atomically).
Handlers raise :class:`~wire.errors.WorkbenchError` subclasses only, as each
docstring says; a failed call leaves no file changed.

Availability: Linux, macOS (imported only there, see :mod:`agent.files.methods`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import sys
from collections.abc import Callable
from typing import Any

from agent import paths
from agent.dispatch import CallContext, Reply
from agent.files import planning
from agent.files.common import (
    LIST_DEFAULT,
    LIST_MAX,
    clean,
    entry_kind,
    iso,
    path_param,
)
from agent.files.fdio import copy_entry, pread_exact, remove_tree, sha_fd, write_all
from agent.files.reading import edited, read_reply, read_request, writer
from agent.files.store import guard_of, store_of
from agent.files.textual import diff_of, edit_params, text_codec, write_payload
from agent.files.undo import Change, check_writable, replace_check, replace_file
from agent.forbidden import Guard, Identity, Location
from agent.forbidden._posix import ancestors
from agent.params import get_bool, get_int
from agent.preview.plan import Plan
from wire.errors import AlreadyExists, BadParams, NotADirectory, NotFound, from_os_error

if sys.platform == "win32":  # the choice is made in agent.files.methods
    raise ImportError(f"{__name__} is POSIX-only")



def _named_entry(guard: Guard, loc: Location, spelled: str) -> tuple[str, os.stat_result]:
    """The name and entry *loc* points at (a link itself, not followed).

    Raises BadParams for a path ending in '..', NotFound when nothing is there.
    """
    if loc.name is None:
        raise BadParams(f"{spelled}: name the file or folder itself, not a path ending in '..'")
    st = guard.entry(loc)
    if st is None:
        raise NotFound(f"{spelled}: no such file or folder")
    return loc.name, st


def _writer(data: bytes) -> Callable[[int], tuple[int, str]]:
    return writer(data, write_all)


def _entry(guard: Guard, parent: int, name: str, st: os.stat_result) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": clean(name), "kind": entry_kind(st)}
    if name != clean(name):
        entry["undecodable"] = True
    if (stat.S_ISDIR(st.st_mode) and guard.protected(st) is not None) or (
            stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and Identity.of(st) in guard.rules.linked_files):
        # Listed so the folder's existence is not a riddle, but nothing about it is read.
        entry.update(protected=True, size=None, modified=None)
        return entry
    entry.update(size=st.st_size if stat.S_ISREG(st.st_mode) else None, modified=iso(st.st_mtime),
                 mode=stat.filemode(st.st_mode))
    if stat.S_ISLNK(st.st_mode):
        with contextlib.suppress(OSError):
            entry["target"] = clean(os.readlink(name, dir_fd=parent))
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
            fd = guard.open_dir(loc)
            shown = loc.path
            try:
                with os.scandir(fd) as found:
                    for item in found:
                        if len(entries) >= limit:
                            truncated = True
                            break
                        try:
                            st = item.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        except OSError:
                            entries.append({"name": clean(item.name), "kind": "unknown", "size": None,
                                            "modified": None})
                            continue
                        entries.append(_entry(guard, fd, item.name, st))
            finally:
                os.close(fd)
    except OSError as err:
        raise from_os_error(err, path) from err
    entries.sort(key=lambda e: e["name"])
    ctx.journal_details.update(entries=len(entries))
    return {"path": clean(shown), "entries": entries, "truncated": truncated}


def stat_path(ctx: CallContext) -> dict[str, Any]:
    """files.stat {path, follow?=true}: kind, size, dates, mode, owner, links.

    Raises NotFound, Forbidden, PermissionDenied, BadParams.
    """
    path = path_param(ctx.params)
    follow = get_bool(ctx.params, "follow", True)
    guard = guard_of(ctx)
    try:
        with guard.locate(path, follow=follow) as loc:
            st = guard.entry(loc)
            if st is None:
                raise NotFound(f"{path}: no such file or folder")
            if stat.S_ISREG(st.st_mode):
                guard.check_file(st, path, loc.name or "")
            info: dict[str, Any] = {
                "path": clean(loc.path), "name": clean(posixpath.basename(loc.path) or "/"), "kind": entry_kind(st),
                "size": st.st_size, "modified": iso(st.st_mtime), "accessed": iso(st.st_atime),
                "changed": iso(st.st_ctime), "mode": stat.filemode(st.st_mode), "links": st.st_nlink,
                "uid": st.st_uid, "gid": st.st_gid,
            }
            if stat.S_ISLNK(st.st_mode) and loc.name is not None:
                info["target"] = clean(os.readlink(loc.name, dir_fd=loc.parent))
    except OSError as err:
        raise from_os_error(err, path) from err
    return info


def read_file(ctx: CallContext) -> Reply | dict[str, Any]:
    """files.read {path, encoding?="utf-8"|null, offset?, length?, errors?}.

    With an encoding, returns ``text`` (at most :data:`TEXT_MAX` bytes of the
    file); with ``encoding: null``, the bytes as reply data (at most
    :data:`CHUNK_MAX`).  Raises BadParams (range too large, undecodable text,
    unknown encoding), NotFound, IsADirectory, Forbidden, PermissionDenied.
    """
    request = read_request(ctx)
    guard = guard_of(ctx)
    try:
        with guard.locate(request.path) as loc:
            fd, st = guard.open_file(loc)
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
    check_writable(loc.parent, loc.requested)
    if old is None:
        return planning.write_plan(ctx.method, loc.path, data, text_codec(ctx.params), None)
    fd, st = old
    try:
        return planning.write_plan(ctx.method, loc.path, data, text_codec(ctx.params),
                                   (lambda size: pread_exact(fd, size, 0), st.st_size))
    finally:
        os.close(fd)


def write_file(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.write {path, text? | request data, encoding?, overwrite?=true}.

    Writes atomically; the old content is kept for undo.  Raises BadParams
    (neither or both of text and data, unencodable text, too large),
    AlreadyExists (overwrite false), IsADirectory, NotFound (folder missing),
    Forbidden, PermissionDenied, NoSpace.  A dry run answers the plan (the diff of a text).
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
    """files.edit {path, old, new, encoding?}: replace the one occurrence of *old* by *new*.

    Returns a unified ``diff``.  Raises Conflict when *old* is absent or found
    more than once (nothing is changed), BadParams (empty old, undecodable
    file, file larger than :data:`TEXT_MAX`), and the errors of files.write.
    """
    path, old_text, new_text, encoding = edit_params(ctx)
    guard = guard_of(ctx)
    try:
        with guard.locate(path) as loc:
            fd, st = guard.open_file(loc)
            try:
                current, updated, data = edited(lambda size: pread_exact(fd, size, 0), st.st_size, path,
                                                old_text, new_text, encoding)
                if ctx.preview:
                    assert loc.name is not None
                    check_writable(loc.parent, loc.requested)
                    return planning.edit_plan(loc.path, current, updated, st.st_size, data)
                result = replace_file(ctx, guard, loc, _writer(data), overwrite=True, summary=f"edited {loc.path}",
                                  old=(fd, st))
            finally:
                os.close(fd)
    except OSError as err:
        raise from_os_error(err, path) from err
    result["diff"] = diff_of(current, updated, loc.path)
    return result


def _target(guard: Guard, dst: str, src_name: str) -> Location:
    """Locate a destination; a trailing separator means "into this folder, same name"."""
    loc = guard.locate(dst, follow=False)
    if loc.name is None:
        loc.name = src_name
        loc.path = posixpath.join(loc.path, src_name)
    try:
        paths.check_name(loc.name, guard.flavour)
    except BaseException:
        loc.close()
        raise
    return loc


def _check_target(guard: Guard, loc: Location, overwrite: bool, src_is_dir: bool) -> os.stat_result | None:
    """What may stop *loc* from receiving a moved or copied entry; the entry it would replace, or None.

    Raises AlreadyExists, Forbidden (a protected file there), PermissionDenied.
    """
    assert loc.name is not None
    st = guard.entry(loc)
    if st is None:
        return None
    if not overwrite:
        raise AlreadyExists(f"{loc.requested}: already exists (use overwrite to replace a file)")
    if stat.S_ISDIR(st.st_mode) or src_is_dir:
        raise AlreadyExists(f"{loc.requested}: already exists; folders are never replaced")
    if not stat.S_ISLNK(st.st_mode):
        fd, _ = guard.open_file(loc)
        os.close(fd)
    return st


def _free_target(guard: Guard, change: Change, loc: Location, overwrite: bool, src_is_dir: bool) -> None:
    """Make sure *loc* may receive a moved or copied entry; keep a file it replaces."""
    assert loc.name is not None
    st = _check_target(guard, loc, overwrite, src_is_dir)
    if st is None:
        return
    if stat.S_ISLNK(st.st_mode):  # the link itself is kept, not what it points to
        change.steps.append({"kind": "replaced", "path": loc.path, "item": change.keep_link(loc.parent, loc.name),
                             "before": None, "after": None})
        return
    fd, opened = guard.open_file(loc)
    try:
        item = change.keep_file(loc.parent, loc.name, fd, opened)
        change.steps.append({"kind": "replaced", "path": loc.path, "item": item, "before": sha_fd(fd),
                             "after": None})
    finally:
        os.close(fd)


def _to_trash(guard: Guard, change: Change, loc: Location, st: os.stat_result) -> None:
    """Move *loc* into the agent's trash (a copy and removal across devices)."""
    assert loc.name is not None
    item = change.item_name()
    step = {"kind": "deleted", "path": loc.path, "item": item}
    change.steps.append(step)
    change.record()
    items = change.store.items_fd()
    try:
        try:
            os.rename(loc.name, item, src_dir_fd=loc.parent, dst_dir_fd=items)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            copy_entry(guard, loc, st, items, item)
            remove_tree(loc.parent, loc.name, guard, loc.requested)
        os.fsync(items)
        os.fsync(loc.parent)
    finally:
        os.close(items)


def _into_itself(source: Location, st: os.stat_result, target: Location) -> None:
    """Refuse moving or copying a folder into itself or below it (BadParams), as the real call would."""
    if stat.S_ISDIR(st.st_mode):
        lineage = ancestors(target.parent) | {Identity.of(os.fstat(target.parent))}
        if Identity.of(st) in lineage:
            raise BadParams(f"{source.requested}: a folder cannot be put into itself")


def move_path(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.move {src, dst, overwrite?=false}: rename, or copy and remove across devices.

    ``dst`` ending with a separator means "into that folder".  A file replaced
    at ``dst`` is kept for undo; folders are never replaced.  Raises Forbidden
    (into or out of a protected folder, or moving a folder that holds one),
    AlreadyExists, NotFound, BadParams (a folder into itself), PermissionDenied,
    NoSpace.
    """
    src = path_param(ctx.params, "src")
    dst = path_param(ctx.params, "dst")
    overwrite = get_bool(ctx.params, "overwrite", False)
    guard = guard_of(ctx)
    store = store_of(ctx)
    try:
        with store.lock, guard.locate(src, follow=False) as source:
            name, st = _named_entry(guard, source, src)
            guard.check_special(st, src)
            guard.check_movable(source, st)
            with _target(guard, dst, name) as target:
                assert target.name is not None
                if ctx.preview:
                    replaced = _check_target(guard, target, overwrite, stat.S_ISDIR(st.st_mode))
                    _into_itself(source, st, target)
                    check_writable(source.parent, src)
                    check_writable(target.parent, dst)
                    return planning.move_plan(source.path, target.path, entry_kind(st),
                                              st.st_size if stat.S_ISREG(st.st_mode) else None, replaced is not None)
                change = Change(store, ctx.method, f"moved {source.path} to {target.path}")
                try:
                    _free_target(guard, change, target, overwrite, stat.S_ISDIR(st.st_mode))
                    change.steps.append({"kind": "moved", "from": source.path, "to": target.path})
                    change.record()
                    try:
                        os.rename(name, target.name, src_dir_fd=source.parent, dst_dir_fd=target.parent)
                        os.fsync(target.parent)
                        os.fsync(source.parent)
                    except OSError as err:
                        if err.errno != errno.EXDEV:
                            raise
                        change.steps.pop()
                        copy_entry(guard, source, st, target.parent, target.name)
                        change.steps.append({"kind": "created", "path": target.path, "after": None})
                        _to_trash(guard, change, source, st)
                    change.record()
                except BaseException:
                    change.abandon()
                    raise
                change.done()
                return {"src": clean(source.path), "dst": clean(target.path), "kind": entry_kind(st)}
    except OSError as err:
        raise from_os_error(err, f"{src} → {dst}") from err


def copy_path(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.copy {src, dst, overwrite?=false}: copy a file or a folder tree.

    The copy appears at once when complete (built under a temporary name).
    Links inside a copied folder are copied as links; devices, pipes and
    sockets are skipped (counted in ``skipped``).  Raises Forbidden (from or
    into a protected folder, or a tree holding one), AlreadyExists, NotFound,
    BadParams (a folder into itself), PermissionDenied, NoSpace.
    """
    src = path_param(ctx.params, "src")
    dst = path_param(ctx.params, "dst")
    overwrite = get_bool(ctx.params, "overwrite", False)
    guard = guard_of(ctx)
    store = store_of(ctx)
    try:
        with store.lock, guard.locate(src, follow=True) as source:
            st = guard.entry(source)
            if st is None:
                raise NotFound(f"{src}: no such file or folder")
            guard.check_special(st, src)
            if stat.S_ISREG(st.st_mode):
                guard.check_file(st, src, source.name or "")
            src_name = source.name if source.name is not None else posixpath.basename(source.path)
            if not src_name:
                raise BadParams("the whole disk cannot be copied")
            if source.name is None:  # a folder reached whole: copy it through its parent's view
                source.name = "."
            with _target(guard, dst, src_name) as target:
                assert target.name is not None
                if ctx.preview:
                    return _plan_copy(guard, source, st, target, overwrite)
                change = Change(store, ctx.method, f"copied {source.path} to {target.path}")
                try:
                    _free_target(guard, change, target, overwrite, stat.S_ISDIR(st.st_mode))
                    change.steps.append({"kind": "created", "path": target.path, "after": None})
                    change.record()
                    stats = copy_entry(guard, source, st, target.parent, target.name)
                except BaseException:
                    change.abandon()
                    raise
                change.done()
    except OSError as err:
        raise from_os_error(err, f"{src} → {dst}") from err
    ctx.journal_details.update(files=stats.files, folders=stats.folders, bytes=stats.bytes)
    return {"src": clean(source.path), "dst": clean(target.path), "files": stats.files, "folders": stats.folders,
            "bytes": stats.bytes, "skipped": stats.skipped}


def _plan_copy(guard: Guard, source: Location, st: os.stat_result, target: Location, overwrite: bool) -> Plan:
    """A dry run of files.copy: the checks the copy meets before and while it copies, and its plan."""
    replaced = _check_target(guard, target, overwrite, stat.S_ISDIR(st.st_mode))
    if stat.S_ISDIR(st.st_mode):
        fd = guard.open_dir(source)  # a protected folder (or one reached through a link) stops here
        os.close(fd)
        guard.check_movable(source, st)  # a protected folder inside the tree stops the copy
        _into_itself(source, st, target)
    elif stat.S_ISREG(st.st_mode):
        fd, _ = guard.open_file(source)
        os.close(fd)
    check_writable(target.parent, target.requested)
    return planning.copy_plan(source.path, target.path, entry_kind(st),
                              st.st_size if stat.S_ISREG(st.st_mode) else None, replaced is not None)


def delete_path(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.delete {path}: move a file or folder to the agent's trash (undo brings it back).

    A link is deleted itself, not what it points to.  Raises Forbidden (a
    protected folder, or one holding it), NotFound, PermissionDenied, NoSpace
    (a copy to the trash across devices did not fit; nothing was deleted).
    """
    path = path_param(ctx.params)
    guard = guard_of(ctx)
    store = store_of(ctx)
    try:
        with store.lock, guard.locate(path, follow=False) as loc:
            _, st = _named_entry(guard, loc, path)
            guard.check_movable(loc, st)
            if ctx.preview:
                check_writable(loc.parent, path)
                return planning.delete_plan(loc.path, entry_kind(st), st.st_size if stat.S_ISREG(st.st_mode) else None)
            change = Change(store, ctx.method, f"deleted {loc.path}")
            try:
                _to_trash(guard, change, loc, st)
            except BaseException:
                change.abandon()
                raise
            change.done()
    except OSError as err:
        raise from_os_error(err, path) from err
    return {"path": clean(loc.path), "kind": entry_kind(st), "recoverable": True}


def make_folder(ctx: CallContext) -> dict[str, Any] | Plan:
    """files.mkdir {path, parents?=false, exist_ok?=false}: create a folder (and its parents).

    Raises AlreadyExists, NotFound (a parent missing without ``parents``),
    NotADirectory, Forbidden, PermissionDenied, BadParams.
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
                        st = guard.entry(loc)
                        if st is not None and stat.S_ISLNK(st.st_mode) and not last:
                            continue  # the next walk follows it and checks where it leads
                        if st is not None:
                            if not stat.S_ISDIR(st.st_mode):
                                error = AlreadyExists if last else NotADirectory
                                raise error(f"{loc.requested}: exists, and is not a folder")
                            if last and not (exist_ok or parents):
                                raise AlreadyExists(f"{loc.requested}: already exists")
                            continue
                        paths.check_name(loc.name, guard.flavour)
                        if ctx.preview:  # the folders below this one do not exist either: all would be made
                            check_writable(loc.parent, loc.requested)
                            planned = [loc.path]
                            for later in prefixes[index + 1:]:
                                paths.check_name(later.parts[-1], guard.flavour)
                                planned.append(posixpath.join(planned[-1], later.parts[-1]))
                            change.abandon()
                            return planning.mkdir_plan(path, planned)
                        change.steps.append({"kind": "created", "path": loc.path, "after": None})
                        change.record()
                        os.mkdir(loc.name, 0o777, dir_fd=loc.parent)
                        if os.geteuid() == 0:
                            owner = os.fstat(loc.parent)
                            with contextlib.suppress(OSError):
                                os.chown(loc.name, owner.st_uid, owner.st_gid, dir_fd=loc.parent,
                                         follow_symlinks=False)
                        os.fsync(loc.parent)
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

