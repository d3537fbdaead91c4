"""The shared POSIX layer of offline hives: the hive file reached through the guard, by descriptor.

:class:`HiveFile` is the :class:`~agent.registry.hive.HiveStore` of POSIX
systems: every operation walks to the file with a fresh
:class:`agent.forbidden.Guard`, reads it through the descriptor the walk
opened (``mmap``, ``pread``), and replaces it atomically by a temporary copy
made beside it with ``O_NOFOLLOW | O_EXCL`` relative to the folder's held
descriptor (``dir_fd=``), written with ``pwrite``, its owner kept with
``fchown``.  What to write is planned by the platform-free
:func:`agent.registry.hive.planned_writes`.

Everything here uses ``os`` names Windows lacks (``O_NOFOLLOW``, ``pread``,
``pwrite``, ``fchown``, ``dir_fd``), so the module refuses to load there;
:func:`agent.registry.choice.open_hive_file` picks it.

Availability: Linux, macOS.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from agent.forbidden import Guard
from agent.registry.hive import planned_writes, reader_over
from agent.registry.regf import HiveReader
from agent.registry.regf_edit import HiveEditor
from wire.errors import BadParams, Conflict, from_os_error

if sys.platform == "win32":  # the choice is made in agent.registry.choice
    raise ImportError(f"{__name__} is POSIX-only")

_CHUNK: Final = 1024 * 1024
#: The temporary copy beside the hive: a new file, never through a link.
_TEMP_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy(source: int, target: int) -> str:
    """Copy descriptor *source* (from its start) into *target*; the sha256 of the bytes."""
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(source, _CHUNK, offset):
        digest.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(target, view)
            view = view[written:]
        offset += len(chunk)
    return digest.hexdigest()


class HiveFile:
    """The hive file on disk, reached through a fresh :class:`Guard` for every operation.

    Every method raises what the guard raises (``Forbidden``, ``NotFound``,
    ``IsADirectory``…), ``Conflict`` when the file changed under a write, and
    the OS's errors translated by :func:`wire.errors.from_os_error`.
    """

    def __init__(self, path: str, guard: Callable[[], Guard]) -> None:
        self.path = path
        self._guard = guard
        #: the path walked to reach it last time, links resolved
        self.physical = path

    @contextlib.contextmanager
    def _opened(self) -> Iterator[tuple[Any, int, os.stat_result]]:
        guard = self._guard()
        with guard.locate(self.path) as location:
            fd, st = guard.open_file(location)
            self.physical = location.path
            try:
                yield location, fd, st
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def reading(self) -> Iterator[HiveReader]:
        """A reader over the file as it is now (valid inside the ``with`` only)."""
        with self._opened() as (_, fd, st):
            if st.st_size == 0:
                raise BadParams(f"{self.path}: an empty file is not a registry hive")
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:
                yield reader_over(view, self.path)

    def sha256(self) -> str:
        with self._opened() as (_, fd, _st):
            digest = hashlib.sha256()
            offset = 0
            while chunk := os.pread(fd, _CHUNK, offset):
                digest.update(chunk)
                offset += len(chunk)
            return digest.hexdigest()

    def copy_to(self, target: Path) -> str:
        """Copy the hive to *target* (fsync'ed); its sha256."""
        with self._opened() as (_, fd, _st):
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                digest = _copy(fd, out)
                os.fsync(out)
            finally:
                os.close(out)
        return digest

    def replace(self, fill: Callable[[int, int], None]) -> None:
        """Atomically replace the hive by a copy that ``fill(original_fd, copy_fd)`` writes."""
        with self._opened() as (location, fd, st):
            temp = f".{location.name}.{secrets.token_hex(6)}.tmp"
            try:
                out = os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=location.parent)
                try:
                    fill(fd, out)
                    os.fchmod(out, stat.S_IMODE(st.st_mode))
                    with contextlib.suppress(OSError):
                        os.fchown(out, st.st_uid, st.st_gid)
                    os.fsync(out)
                finally:
                    os.close(out)
                now = os.stat(location.name, dir_fd=location.parent, follow_symlinks=False)
                if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
                        st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
                    raise Conflict(f"{self.path}: the file changed while it was being edited; nothing was written")
                os.replace(temp, location.name, src_dir_fd=location.parent, dst_dir_fd=location.parent)
                os.fsync(location.parent)
            except OSError as err:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=location.parent)
                raise from_os_error(err, self.path) from err
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=location.parent)
                raise

    def edit(self, plan: Callable[[HiveEditor], None]) -> None:
        """Apply the change *plan* describes, atomically (see :mod:`agent.registry.hive`)."""

        def fill(source: int, out: int) -> None:
            _copy(source, out)
            with mmap.mmap(out, 0, access=mmap.ACCESS_READ) as view:
                writes = planned_writes(view, self.path, plan)
            for position, data in writes:
                os.pwrite(out, data, position)

        self.replace(fill)

    def restore_from(self, source: Path, sha256: str) -> None:
        """Put back the copy at *source*, which must still hash to *sha256* (else ``Conflict``)."""

        def fill(_original: int, out: int) -> None:
            backup = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _copy(backup, out) != sha256:
                    raise Conflict("the backup copy of the hive was altered; it was not restored")
            finally:
                os.close(backup)

        self.replace(fill)
