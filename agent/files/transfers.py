"""Chunked transfers on POSIX: the platform's part of :class:`agent.files.transferring.Transfers`.

The handlers, their checks, replies and errors are shared
(:mod:`agent.files.transferring`); here is what POSIX does its own way: files
are opened with the guard's ``dir_fd`` walk and identified by ``fstat``, an
upload holds its destination folder as a duplicated folder fd, the ``.part``
is made and removed relative to it, and the free room is ``fstatvfs``'s.  The
upload is put in place through :func:`agent.files.undo.replace_file` (so it
is undoable).

Availability: Linux, macOS (imported only there, see :mod:`agent.files.methods`).
"""

from __future__ import annotations

import os
import posixpath
import stat
import sys
from collections.abc import Callable
from typing import Any

from agent.dispatch import CallContext
from agent.files.fdio import hash_range, new_temp, pread_exact, reserve, unlink_quietly, write_all
from agent.files.store import Store, Upload, guard_of, store_of
from agent.files.transferring import ChunkIO, Transfers
from agent.files.undo import replace_file
from agent.forbidden import Guard, Identity, Location

if sys.platform == "win32":  # the choice is made in agent.files.methods
    raise ImportError(f"{__name__} is POSIX-only")


class PosixTransfers(Transfers[Upload]):
    """Transfers over folder fds (``dir_fd``, ``O_NOFOLLOW``)."""

    def store_of(self, ctx: CallContext) -> Store:
        return store_of(ctx)

    def guard_of(self, ctx: CallContext) -> Guard:
        return guard_of(ctx)

    def open_checked(self, guard: Guard, loc: Location) -> tuple[int, Identity, os.stat_result]:
        fd, st = guard.open_file(loc)
        return fd, Identity.of(st), st

    def existing_is_folder(self, guard: Guard, loc: Location) -> bool | None:
        st = guard.entry(loc)
        return None if st is None else stat.S_ISDIR(st.st_mode)

    def folder_now(self, loc: Location) -> tuple[str, Identity]:
        return posixpath.dirname(loc.path), Identity.of(os.fstat(loc.parent))

    def free_space(self, loc: Location) -> int | None:
        try:
            st = os.fstatvfs(loc.parent)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def new_part(self, loc: Location, name: str, announce: Callable[[str], None]) -> tuple[str, int]:
        return new_temp(loc.parent, name, "part", announce)

    def reserve_part(self, temp_fd: int, start: int, end: int) -> bool:
        return reserve(temp_fd, start, end)

    def part_identity(self, loc: Location, temp: str, temp_fd: int) -> Identity:
        return Identity.of(os.fstat(temp_fd))

    def remove_part(self, loc: Location, temp: str) -> None:
        unlink_quietly(loc.parent, temp)

    def hold_folder(self, loc: Location) -> dict[str, Any]:
        return {"parent": os.dup(loc.parent)}

    def replace_file(self, ctx: CallContext, guard: Guard, loc: Location, content: Callable[[int], tuple[int, str]],
                     *, overwrite: bool, summary: str, temp: tuple[str, int]) -> dict[str, Any]:
        return replace_file(ctx, guard, loc, content, overwrite=overwrite, summary=summary, temp=temp)


_TRANSFERS = PosixTransfers(ChunkIO(pread_exact, write_all, hash_range, concurrent_writes=True), Upload)

download_open = _TRANSFERS.download_open
download_chunk = _TRANSFERS.download_chunk
download_close = _TRANSFERS.download_close
upload_open = _TRANSFERS.upload_open
upload_chunk = _TRANSFERS.upload_chunk
upload_status = _TRANSFERS.upload_status
upload_finish = _TRANSFERS.upload_finish
upload_abort = _TRANSFERS.upload_abort
