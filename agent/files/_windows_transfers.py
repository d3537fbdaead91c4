"""Chunked transfers on Windows: the platform's part of :class:`agent.files.transferring.Transfers`.

The same methods, replies and errors as on POSIX (the logic is
:mod:`agent.files.transferring`); here is what Windows does its own way: a
download keeps the checked file open (sharing delete: the customer may still
replace it) and files are identified by their file ID; an upload holds its
destination folder by path and file ID (no folder handle kept), its ``.part``
is made and removed by full path and must still have one name when it is put
in place, through :func:`agent.files._windows_undo.replace_file`; the free
room is ``shutil.disk_usage``'s.

Availability: Windows (chosen only there, see :mod:`agent.files.methods`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import ntpath
import os
import shutil
from collections.abc import Callable
from typing import Any

from agent.dispatch import CallContext
from agent.files._windows_io import hash_range, new_temp, pread_exact, unlink_quietly, write_all
from agent.files._windows_store import Store, Upload, guard_of, store_of
from agent.files._windows_undo import replace_file
from agent.files.transferring import ChunkIO, Transfers
from agent.forbidden import _windows_api as win
from agent.forbidden._windows_walk import Guard, Location
from agent.forbidden.rules import Identity
from wire.errors import Conflict


class WindowsTransfers(Transfers[Upload]):
    """Transfers over checked paths and file IDs (handles held by the guard while it locates)."""

    def store_of(self, ctx: CallContext) -> Store:
        return store_of(ctx)

    def guard_of(self, ctx: CallContext) -> Guard:
        return guard_of(ctx)

    def open_checked(self, guard: Guard, loc: Location) -> tuple[int, Identity, os.stat_result]:
        fd, info, st = guard.open_file(loc)
        return fd, info.identity, st

    def existing_is_folder(self, guard: Guard, loc: Location) -> bool | None:
        found = guard.entry(loc)
        return None if found is None else found[0].is_dir

    def folder_now(self, loc: Location) -> tuple[str, Identity]:
        return loc.parent_path, loc.parent_identity

    def free_space(self, loc: Location) -> int | None:
        try:
            return shutil.disk_usage(loc.parent_path).free
        except OSError:
            return None  # Windows cannot say: the writes will tell

    def new_part(self, loc: Location, name: str, announce: Callable[[str], None]) -> tuple[str, int]:
        return new_temp(loc.parent_path, name, "part", announce)

    def part_identity(self, loc: Location, temp: str, temp_fd: int) -> Identity:
        return win.info_at(ntpath.join(loc.parent_path, temp)).identity

    def remove_part(self, loc: Location, temp: str) -> None:
        unlink_quietly(ntpath.join(loc.parent_path, temp))

    def hold_folder(self, loc: Location) -> dict[str, Any]:
        return {"folder": loc.parent_path}

    def check_part(self, loc: Location, upload: Upload) -> None:
        if win.info_at(ntpath.join(loc.parent_path, upload.temp)).links != 1:
            raise Conflict(f"{upload.path}: the partial file was tampered with; start again")

    def replace_file(self, ctx: CallContext, guard: Guard, loc: Location, content: Callable[[int], tuple[int, str]],
                     *, overwrite: bool, summary: str, temp: tuple[str, int]) -> dict[str, Any]:
        return replace_file(ctx, guard, loc, content, overwrite=overwrite, summary=summary, temp=temp)


_TRANSFERS = WindowsTransfers(ChunkIO(pread_exact, write_all, hash_range), Upload)

download_open = _TRANSFERS.download_open
download_chunk = _TRANSFERS.download_chunk
download_close = _TRANSFERS.download_close
upload_open = _TRANSFERS.upload_open
upload_chunk = _TRANSFERS.upload_chunk
upload_status = _TRANSFERS.upload_status
upload_finish = _TRANSFERS.upload_finish
upload_abort = _TRANSFERS.upload_abort
