"""Offline hives on Windows: the hive file reached through the guard, read and replaced by handle and name.

:class:`HiveFile` is the :class:`~agent.registry.hive.HiveStore` of Windows, the
counterpart of :mod:`agent.registry._posix_hive_io`: every operation walks to the
file with a fresh :class:`agent.forbidden.Guard` (so a folder the customer
protects is refused, whatever the spelling), reads it through the descriptor the
walk opened (``mmap``, ``lseek`` + ``read``: Windows has no ``pread``), and
replaces it atomically by a copy made beside it.

Where Windows differs from POSIX, and what is done about it:

* the hive cannot be renamed over while our own descriptor holds it (CPython
  opens files without ``FILE_SHARE_DELETE``; ``MoveFileExW`` then fails with a
  sharing violation), so the copy is written, the descriptor closed, the file
  walked to again through a fresh guard and compared (volume serial and file
  index: ``st_dev``/``st_ino``, size, modification time) before ``os.replace``;
  a change in between is a ``Conflict`` and nothing is written;
* there is no directory descriptor to create the copy relative to: the copy is
  made by name (``O_CREAT | O_EXCL``, a random name) in the folder the guard
  resolved, which the guard has just checked;
* the copy gets the folder's inherited permissions (no ``fchmod``/``fchown``);
  a hive's own ACL is not carried over.

A hive file held open by a running Windows (the live ``SYSTEM``…) answers
``Busy``/``Denied`` from the OS: offline hives are the files of another,
stopped Windows (a broken PC's disk), as on Linux.

Availability: Windows (the choice is made in :mod:`agent.registry.choice`).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, Protocol, cast

from agent.forbidden import Guard
from agent.registry.hive import planned_writes, reader_over
from agent.registry.regf import HiveReader
from agent.registry.regf_edit import HiveEditor
from wire.errors import BadParams, Conflict, from_os_error

if sys.platform != "win32":  # the choice is made in agent.registry.choice
    raise ImportError(f"{__name__} is Windows-only")

_CHUNK: Final = 1024 * 1024
_BINARY: Final = getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
#: The copy beside the hive: a new file, never an existing one.
_TEMP_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_EXCL | _BINARY


class _Walk(Protocol):
    """What this layer needs of the guard: the contract of agent.forbidden's walks (``Guard``).

    Typed here because the stand-in ``Guard`` of a platform without a walk raises on construction
    and so has neither method.
    """

    def locate(self, path: str) -> contextlib.AbstractContextManager[Any]: ...

    def open_file(self, location: Any) -> tuple[int, Any, os.stat_result]: ...


def _copy(source: int, target: int) -> str:
    """Copy descriptor *source* (from its start) into *target*; the sha256 of the bytes."""
    digest = hashlib.sha256()
    os.lseek(source, 0, os.SEEK_SET)
    while chunk := os.read(source, _CHUNK):
        digest.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(target, view)
            view = view[written:]
    return digest.hexdigest()


def _same_file(before: os.stat_result, now: os.stat_result) -> bool:
    return (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) == (
        before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)


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
        guard = cast(_Walk, self._guard())
        with guard.locate(self.path) as location:
            fd, _identity, st = guard.open_file(location)
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
            os.lseek(fd, 0, os.SEEK_SET)
            while chunk := os.read(fd, _CHUNK):
                digest.update(chunk)
            return digest.hexdigest()

    def copy_to(self, target: Path) -> str:
        """Copy the hive to *target* (fsync'ed); its sha256."""
        with self._opened() as (_, fd, _st):
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o600)
            try:
                digest = _copy(fd, out)
                os.fsync(out)
            finally:
                os.close(out)
        return digest

    def replace(self, fill: Callable[[int, int], None]) -> None:
        """Atomically replace the hive by a copy that ``fill(original_fd, copy_fd)`` writes."""
        temp: str | None = None
        try:
            with self._opened() as (location, fd, st):
                folder = os.path.dirname(str(location.path))
                temp = os.path.join(folder, f".{location.name}.{secrets.token_hex(6)}.tmp")
                out = os.open(temp, _TEMP_FLAGS, 0o600)
                try:
                    fill(fd, out)
                    os.fsync(out)
                finally:
                    os.close(out)
            # Our descriptor is closed (Windows refuses to rename over an open file): walk again, compare.
            with self._opened() as (again, _fd, now):
                target = str(again.path)
                if not _same_file(st, now) or os.path.normcase(os.path.dirname(target)) != os.path.normcase(folder):
                    raise Conflict(f"{self.path}: the file changed while it was being edited; nothing was written")
            os.replace(temp, target)
            temp = None
        except OSError as err:
            raise from_os_error(err, self.path) from err
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

    def edit(self, plan: Callable[[HiveEditor], None]) -> None:
        """Apply the change *plan* describes, atomically (see :mod:`agent.registry.hive`)."""

        def fill(source: int, out: int) -> None:
            _copy(source, out)
            with mmap.mmap(out, 0, access=mmap.ACCESS_READ) as view:
                writes = planned_writes(view, self.path, plan)
            for position, data in writes:
                os.lseek(out, position, os.SEEK_SET)
                view_left = memoryview(data)
                while view_left:
                    view_left = view_left[os.write(out, view_left):]

        self.replace(fill)

    def restore_from(self, source: Path, sha256: str) -> None:
        """Put back the copy at *source*, which must still hash to *sha256* (else ``Conflict``)."""

        def fill(_original: int, out: int) -> None:
            backup = os.open(source, os.O_RDONLY | _BINARY)
            try:
                if _copy(backup, out) != sha256:
                    raise Conflict("the backup copy of the hive was altered; it was not restored")
            finally:
                os.close(backup)

        self.replace(fill)
