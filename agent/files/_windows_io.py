"""Descriptor and path helpers of the Windows file methods: positioned reads and writes, hashes, temporary files, trees.

Windows' Python has no ``pread``/``pwrite`` nor ``dir_fd``: reads and writes
seek first (callers hold the transfer's lock), and names are joined to a
folder the :class:`~agent.forbidden.Guard` walked and holds.  Nothing here
follows a junction or symbolic link: a tree's links are removed as links and
never copied into (BadParams).

Availability: Windows (chosen only there, see :mod:`agent.files.methods`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import contextlib
import hashlib
import ntpath
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from agent.files.common import CHUNK_MAX, COPY_DEPTH
from agent.forbidden import _windows_api as win
from agent.forbidden._windows_folders import ancestors
from agent.forbidden._windows_walk import Guard, Location
from agent.forbidden.rules import Identity
from wire.errors import BadParams, Conflict

_BLOCK: Final = 1024 * 1024
#: Creating a private new file: never an existing one; binary; not inherited by children.
NEW_FILE_FLAGS: Final = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
                         | getattr(os, "O_NOINHERIT", 0))


def write_all(fd: int, data: bytes | memoryview, offset: int | None = None) -> None:
    """Write all of *data* at the current position, or at *offset*."""
    if offset is not None:
        os.lseek(fd, offset, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def pread_exact(fd: int, length: int, offset: int) -> bytes:
    """Read *length* bytes from *offset*; fewer only when the file ends first."""
    os.lseek(fd, offset, os.SEEK_SET)
    parts = []
    while length > 0:
        piece = os.read(fd, min(length, CHUNK_MAX))
        if not piece:
            break
        parts.append(piece)
        length -= len(piece)
    return b"".join(parts)


def hash_range(fd: int, start: int, end: int | None, hasher: Any) -> int:
    """Feed bytes start..end (None: to the end) of *fd* into *hasher*; return the offset reached."""
    offset = start
    os.lseek(fd, offset, os.SEEK_SET)
    while end is None or offset < end:
        piece = os.read(fd, _BLOCK if end is None else min(_BLOCK, end - offset))
        if not piece:
            break
        hasher.update(piece)
        offset += len(piece)
    return offset


def sha_fd(fd: int) -> str:
    hasher = hashlib.sha256()
    hash_range(fd, 0, None, hasher)
    return hasher.hexdigest()


def copy_fd(src: int, dst: int) -> tuple[int, str]:
    """Copy all of *src* into *dst* from their starts; return size and sha256."""
    hasher = hashlib.sha256()
    os.lseek(src, 0, os.SEEK_SET)
    os.lseek(dst, 0, os.SEEK_SET)
    size = 0
    while piece := os.read(src, _BLOCK):
        hasher.update(piece)
        write_all(dst, piece)
        size += len(piece)
    return size, hasher.hexdigest()


def new_temp(folder: str, name: str, tag: str = "tmp",
             announce: Callable[[str], None] | None = None) -> tuple[str, int]:
    """Create an empty private temporary file next to *name* in *folder*; return its name and descriptor.

    *announce* is told each name before a file of that name is made (the
    registry of ``.part`` files records it ahead); it may raise to stop.
    """
    stem = name[:40]
    for _ in range(64):
        candidate = f".{stem}.wb-{secrets.token_hex(4)}.{tag}"
        if announce is not None:
            announce(candidate)
        try:
            return candidate, os.open(ntpath.join(folder, candidate), NEW_FILE_FLAGS, 0o600)
        except FileExistsError:
            continue
    raise Conflict("could not create a temporary file")


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def remove_tree(path: str, guard: Guard | None = None, shown: str = "") -> None:
    """Remove *path* and everything below; a junction or link is removed itself, never entered.

    With *guard*, each folder is checked before it is entered (Forbidden stops it).
    """
    info = win.info_at(path)
    if not info.is_dir:
        os.unlink(path)
        return
    if info.is_link:
        os.rmdir(path)  # removes the junction, not what it points to
        return
    if guard is not None:
        guard.check_dir(info, shown)
    with os.scandir(path) as entries:
        names = [entry.name for entry in entries]
    for child in names:
        remove_tree(ntpath.join(path, child), guard, ntpath.join(shown, child))
    os.rmdir(path)


@dataclass
class CopyStats:
    """What a copy did: files and folders made, bytes copied, links and special entries skipped."""

    files: int = 0
    folders: int = 0
    bytes: int = 0
    skipped: int = 0


def _copy_file(src: str, dst: str) -> int:
    fd = os.open(src, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        out = os.open(dst, NEW_FILE_FLAGS, 0o600)
        try:
            size, _ = copy_fd(fd, out)
            os.fsync(out)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return size


def copy_tree(guard: Guard, src: str, shown: str, dst: str, stats: CopyStats, depth: int = 0) -> None:
    """Copy the folder *src* to the new folder *dst*; every entry is checked by *guard*.

    Junctions and symbolic links inside are not copied (counted in ``skipped``).
    """
    if depth > COPY_DEPTH:
        raise BadParams(f"{shown}: folders nested more than {COPY_DEPTH} deep")
    os.mkdir(dst)
    stats.folders += 1
    for name, info, _ in guard.walk_tree(src, shown):
        where, child = ntpath.join(shown, name), ntpath.join(src, name)
        if info.is_link:
            stats.skipped += 1
        elif info.is_dir:
            copy_tree(guard, child, where, ntpath.join(dst, name), stats, depth + 1)
        else:
            if win.info_at(child).identity != info.identity:
                raise Conflict(f"{where}: changed while it was copied")
            stats.bytes += _copy_file(child, ntpath.join(dst, name))
            stats.files += 1


def copy_entry(guard: Guard, loc: Location, info: win.FileInfo, dst_folder: str, dst_name: str) -> CopyStats:
    """Copy the entry *loc* to *dst_name* in *dst_folder*, through a temporary name, atomically."""
    stats = CopyStats()
    target = ntpath.join(dst_folder, dst_name)
    if info.is_link:
        raise BadParams(f"{loc.requested}: junctions and symbolic links are not copied on Windows")
    if info.is_dir:
        temp = ntpath.join(dst_folder, f".{dst_name[:40]}.wb-{secrets.token_hex(4)}.copy")
        if info.identity in guard_ancestors(dst_folder):
            raise BadParams(f"{loc.requested}: a folder cannot be copied into itself")
        try:
            copy_tree(guard, loc.full, loc.requested, temp, stats)
            os.rename(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                remove_tree(temp)
            raise
        return stats
    fd, _, _ = guard.open_file(loc)
    try:
        temp, out = new_temp(dst_folder, dst_name)
        try:
            stats.bytes, _ = copy_fd(fd, out)
            os.fsync(out)
            os.close(out)
            out = -1
            os.rename(ntpath.join(dst_folder, temp), target)
        except BaseException:
            if out >= 0:
                os.close(out)
            unlink_quietly(ntpath.join(dst_folder, temp))
            raise
    finally:
        os.close(fd)
    stats.files = 1
    return stats


def guard_ancestors(folder: str) -> set[Identity]:
    """Identities of *folder* and every folder above it."""
    found = ancestors(folder)
    with contextlib.suppress(OSError):
        found.add(win.info_at(folder).identity)
    return found
