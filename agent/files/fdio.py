"""Descriptor-level helpers: whole writes, exact reads, hashing, private temporary files, tree copy and removal.

Every function works on descriptors and on names relative to a directory
descriptor (``dir_fd``), and never follows a link: a copied tree's links are
copied as links.  Errors are the OS's own (:class:`OSError`, translated by the
handlers), or :class:`~wire.errors.BadParams` and :class:`~wire.errors.Conflict`
for what a copy found wrong.

Availability: Linux, macOS (imported only there, see :mod:`agent.files.methods`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import posixpath
import secrets
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from agent.files.common import CHUNK_MAX, COPY_DEPTH
from agent.forbidden import Guard, Identity, Location
from agent.forbidden._posix import DIR_FLAGS, FILE_FLAGS, ancestors
from wire.errors import BadParams, Conflict

if sys.platform == "win32":  # the choice is made in agent.files.methods
    raise ImportError(f"{__name__} is POSIX-only")

_BLOCK: Final = 1024 * 1024
#: Creating a private new file: never an existing one, never through a link.
NEW_FILE_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


#: The process's umask, read without changing it: the mode a created file gets.
UMASK: Final = _umask()


#: ``fallocate(2)``'s flag: allocate the blocks, leave the file's size alone (it grows as bytes are written).
_FALLOC_FL_KEEP_SIZE: Final = 1


def _load_fallocate() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``fallocate(2)`` through the C library, or None elsewhere.

    Not ``os.posix_fallocate``: where a file system cannot allocate at once, the C library's
    version falls back to writing every block, which would double an upload's disk writes.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = getattr(libc, "fallocate64", None) or libc.fallocate
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    call.restype = ctypes.c_int
    return call


_FALLOCATE: Final = _load_fallocate()


def reserve(fd: int, start: int, end: int) -> bool:
    """Allocate the disk blocks of bytes *start*..*end* of the file *fd* ahead of their writes; True when done.

    The file's size is left alone (it grows as the bytes are written).  Writes into allocated
    blocks cost the kernel far less than blocks found a page at a time (ext4's delayed
    allocation).  Where the system or file system cannot (macOS, network file systems) nothing is
    reserved and False is returned: the writes find their blocks as before.  Raises OSError
    (ENOSPC, EDQUOT) when the disk cannot hold them.
    """
    if _FALLOCATE is None or end <= start:
        return False
    if _FALLOCATE(fd, _FALLOC_FL_KEEP_SIZE, start, end - start) == 0:
        return True
    failure = ctypes.get_errno()
    if failure in (errno.ENOSPC, errno.EDQUOT):
        raise OSError(failure, os.strerror(failure))
    return False  # EOPNOTSUPP, ENOSYS, EINVAL...: this file system finds blocks as they are written


def write_all(fd: int, data: bytes | memoryview, offset: int | None = None) -> None:
    """Write all of *data* at the current position, or at *offset* (positioned writes)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        if offset is not None:
            offset += written
        view = view[written:]


def pread_exact(fd: int, length: int, offset: int) -> bytes:
    """Read *length* bytes from *offset*; fewer only when the file ends first."""
    parts = []
    while length > 0:
        piece = os.pread(fd, min(length, CHUNK_MAX), offset)
        if not piece:
            break
        parts.append(piece)
        offset += len(piece)
        length -= len(piece)
    return b"".join(parts)


def hash_range(fd: int, start: int, end: int | None, hasher: Any) -> int:
    """Feed bytes start..end (None: to the end) of *fd* into *hasher*; return the offset reached."""
    offset = start
    while end is None or offset < end:
        piece = os.pread(fd, _BLOCK if end is None else min(_BLOCK, end - offset), offset)
        if not piece:
            break
        hasher.update(piece)
        offset += len(piece)
    return offset


def sha_fd(fd: int) -> str:
    """The sha256 (hex) of the whole file *fd*."""
    hasher = hashlib.sha256()
    hash_range(fd, 0, None, hasher)
    return hasher.hexdigest()


def copy_fd(src: int, dst: int) -> tuple[int, str]:
    """Copy all of *src* into *dst* from their starts; return size and sha256."""
    hasher = hashlib.sha256()
    offset = 0
    while piece := os.pread(src, _BLOCK, offset):
        hasher.update(piece)
        write_all(dst, piece, offset)
        offset += len(piece)
    return offset, hasher.hexdigest()


def new_temp(parent: int, name: str, tag: str = "tmp",
             announce: Callable[[str], None] | None = None) -> tuple[str, int]:
    """Create an empty private temporary file next to *name*; return its name and descriptor.

    *announce* is told each name before a file of that name is made (the
    registry of ``.part`` files records it ahead); it may raise to stop.
    """
    stem = name[:40]
    for _ in range(64):
        candidate = f".{stem}.wb-{secrets.token_hex(4)}.{tag}"
        if announce is not None:
            announce(candidate)
        try:
            return candidate, os.open(candidate, NEW_FILE_FLAGS, 0o600, dir_fd=parent)
        except FileExistsError:
            continue
    raise Conflict("could not create a temporary file")


def unlink_quietly(parent: int, name: str) -> None:
    """Remove *name* in *parent* if it is there; errors are ignored (a clean-up)."""
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=parent)


def match_owner(fd: int, like: os.stat_result, *, mode: int | None) -> None:
    """Give the new file *fd* the mode (and, as root, the owner) of *like*."""
    if mode is not None:
        os.fchmod(fd, mode)
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, like.st_uid, like.st_gid)


def remove_tree(parent: int, name: str, guard: Guard | None = None, shown: str = "") -> None:
    """Remove *name* in *parent* and everything below, never following links.

    With *guard*, each folder is checked before it is entered (Forbidden stops it).
    """
    try:
        os.unlink(name, dir_fd=parent)
        return
    except OSError as err:
        if err.errno not in (errno.EISDIR, errno.EPERM):
            raise
    fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    try:
        if guard is not None:
            guard.check_dir(os.fstat(fd), shown)
        with os.scandir(fd) as entries:
            names = [entry.name for entry in entries]
        for child in names:
            remove_tree(fd, child, guard, posixpath.join(shown, child))
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)


@dataclass
class CopyStats:
    """What a copy did: files and folders made, bytes copied, special files skipped."""

    files: int = 0
    folders: int = 0
    bytes: int = 0
    skipped: int = 0


def copy_tree(guard: Guard, src: int, shown: str, dst_parent: int, dst_name: str, stats: CopyStats,
               depth: int = 0) -> None:
    """Copy the folder *src* to a new folder *dst_name*; every entry is checked by *guard*."""
    if depth > COPY_DEPTH:
        raise BadParams(f"{shown}: folders nested more than {COPY_DEPTH} deep")
    src_st = os.fstat(src)
    os.mkdir(dst_name, 0o700, dir_fd=dst_parent)
    dst = os.open(dst_name, DIR_FLAGS, dir_fd=dst_parent)
    try:
        stats.folders += 1
        for name, st in guard.walk_tree(src, shown):
            where = posixpath.join(shown, name)
            if stat.S_ISDIR(st.st_mode):
                child = os.open(name, DIR_FLAGS, dir_fd=src)
                try:
                    if Identity.of(os.fstat(child)) != Identity.of(st):
                        raise Conflict(f"{where}: changed while it was copied")
                    copy_tree(guard, child, where, dst, name, stats, depth + 1)
                finally:
                    os.close(child)
            elif stat.S_ISREG(st.st_mode):
                child = os.open(name, FILE_FLAGS, dir_fd=src)
                try:
                    opened = os.fstat(child)
                    if Identity.of(opened) != Identity.of(st):
                        raise Conflict(f"{where}: changed while it was copied")
                    guard.check_file(opened, where, name)
                    out = os.open(name, NEW_FILE_FLAGS, 0o600, dir_fd=dst)
                    try:
                        size, _ = copy_fd(child, out)
                        match_owner(out, st, mode=stat.S_IMODE(st.st_mode))
                        os.fsync(out)
                    finally:
                        os.close(out)
                    stats.files += 1
                    stats.bytes += size
                finally:
                    os.close(child)
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
            else:
                stats.skipped += 1
        match_owner(dst, src_st, mode=stat.S_IMODE(src_st.st_mode))
        os.fsync(dst)
    finally:
        os.close(dst)


def copy_entry(guard: Guard, loc: Location, st: os.stat_result, dst_parent: int, dst_name: str) -> CopyStats:
    """Copy the entry *loc* (lstat *st*) to *dst_name*, through a temporary name, atomically."""
    assert loc.name is not None
    stats = CopyStats()
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(loc.name, dir_fd=loc.parent), dst_name, dir_fd=dst_parent)
        return stats
    if stat.S_ISDIR(st.st_mode):
        temp = f".{dst_name[:40]}.wb-{secrets.token_hex(4)}.copy"
        src = guard.open_dir(loc)
        try:
            if Identity.of(os.fstat(src)) in ancestors(dst_parent) | {Identity.of(os.fstat(dst_parent))}:
                raise BadParams(f"{loc.requested}: a folder cannot be copied into itself")
            copy_tree(guard, src, loc.requested, dst_parent, temp, stats)
            os.rename(temp, dst_name, src_dir_fd=dst_parent, dst_dir_fd=dst_parent)
        except BaseException:
            with contextlib.suppress(OSError):
                remove_tree(dst_parent, temp)
            raise
        finally:
            os.close(src)
        os.fsync(dst_parent)
        return stats
    fd, opened = guard.open_file(loc)
    try:
        temp, out = new_temp(dst_parent, dst_name)
        try:
            stats.bytes, _ = copy_fd(fd, out)
            match_owner(out, opened, mode=stat.S_IMODE(opened.st_mode))
            os.fsync(out)
            os.rename(temp, dst_name, src_dir_fd=dst_parent, dst_dir_fd=dst_parent)
        except BaseException:
            unlink_quietly(dst_parent, temp)
            raise
        finally:
            os.close(out)
    finally:
        os.close(fd)
    stats.files = 1
    os.fsync(dst_parent)
    return stats

