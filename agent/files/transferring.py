"""Chunked transfers, the logic both platforms share: validation, bookkeeping, hashing, replies and errors.

:class:`Transfers` holds the eight ``files.*`` transfer handlers once.  A
download keeps the file open and reads only the asked range (at most
:data:`~agent.files.common.CHUNK_MAX` a call), hashing as it goes; the chunk
reaching the end carries the sha256.  An upload writes into a private
temporary ``.part`` file in the destination folder, reports how many bytes
arrived in order (to resume from), checks the sha256 and renames into place
through the platform's ``replace_file`` (so it is undoable).  When the
customer changes the protected folders, the next chunk walks the path again.

A platform's subclass (:mod:`agent.files.transfers` on POSIX,
:mod:`agent.files._windows_transfers` on Windows) says only what differs: how
a file is opened and identified, how the destination folder is held (a folder
fd, or a path and its file ID), how a ``.part`` is made and removed, and how
much room the disk has.

Availability: everywhere (no platform call at import).
"""

from __future__ import annotations

import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol

from agent import paths
from agent.dispatch import CallContext, Reply
from agent.files.common import CHUNK_MAX, UPLOAD_MAX, clean, iso, path_param
from agent.files.keeping import Download, Keeping, UploadT
from agent.files.parts import PartRecord
from agent.files.planning import upload_plan
from agent.files.textual import add_range, check_path_words
from agent.forbidden.rules import Identity
from agent.params import get_bool, get_int, get_str
from agent.preview.plan import Plan
from wire.errors import (
    AlreadyExists,
    BadParams,
    Conflict,
    Forbidden,
    IsADirectory,
    NoSpace,
    NotFound,
    from_os_error,
)

#: Largest gap in a download's running hash filled at once (a few chunks served out of order).
_CATCH_UP_MAX: Final = 4 * CHUNK_MAX
#: Most bytes of an upload's chunks kept in memory while written ahead of its running hash.
_AHEAD_MAX: Final = 4 * CHUNK_MAX
#: How far past a chunk an upload's ``.part`` has its disk blocks allocated before the bytes come:
#: writing into allocated blocks costs the kernel much less than finding them a page at a time.
_RESERVE_AHEAD: Final = 2 * CHUNK_MAX


class FileGuard(Protocol):
    """What the shared transfer logic asks of a platform's :class:`~agent.forbidden.Guard`."""

    @property
    def generation(self) -> int: ...

    @property
    def flavour(self) -> paths.Flavour: ...

    def parse(self, path: str) -> paths.ParsedPath: ...

    def locate(self, path: str | paths.ParsedPath, *, follow: bool = True) -> Any: ...


@dataclass(frozen=True)
class ChunkIO:
    """The platform's positioned reads and writes on a file descriptor."""

    pread_exact: Callable[[int, int, int], bytes]
    write_all: Callable[[int, bytes | memoryview, int | None], None]
    hash_range: Callable[[int, int, int | None, Any], int]
    #: Whether positioned writes to different ranges of one descriptor may run in several threads at
    #: once (``pwrite``); without it (a seek, then a write) an upload's chunks are written under its lock.
    concurrent_writes: bool = False


def _transfer_id() -> str:
    return secrets.token_hex(8)


class Transfers(ABC, Generic[UploadT]):
    """The transfer handlers; the abstract methods are the platform's part (``loc`` is its guard's Location)."""

    def __init__(self, io: ChunkIO, upload_class: type[UploadT]) -> None:
        self.io = io
        self.upload_class = upload_class

    # ------------------------------------------------------ the platform's part

    @abstractmethod
    def store_of(self, ctx: CallContext) -> Keeping[UploadT]:
        """The call's keeping (raises OSError when it cannot be made)."""

    @abstractmethod
    def guard_of(self, ctx: CallContext) -> FileGuard:
        """A fresh guard for one call."""

    @abstractmethod
    def open_checked(self, guard: Any, loc: Any) -> tuple[int, Identity, os.stat_result]:
        """Open the file at *loc* for reading with the guard's checks: its fd, identity and stat."""

    @abstractmethod
    def existing_is_folder(self, guard: Any, loc: Any) -> bool | None:
        """Whether the entry at *loc* is a folder; None when there is none."""

    @abstractmethod
    def folder_now(self, loc: Any) -> tuple[str, Identity]:
        """The destination folder of *loc*: its path (as recorded for a ``.part``) and its identity now."""

    @abstractmethod
    def free_space(self, loc: Any) -> int | None:
        """Bytes free for this user on the disk of *loc*'s folder; None when the file system cannot say."""

    @abstractmethod
    def new_part(self, loc: Any, name: str, announce: Callable[[str], None]) -> tuple[str, int]:
        """Create the private ``.part`` next to *name* (*announce* is called with its name first): name and fd."""

    @abstractmethod
    def part_identity(self, loc: Any, temp: str, temp_fd: int) -> Identity:
        """The identity of the ``.part`` just made."""

    @abstractmethod
    def remove_part(self, loc: Any, temp: str) -> None:
        """Remove the ``.part`` *temp* next to *loc*, quietly (a clean-up)."""

    @abstractmethod
    def hold_folder(self, loc: Any) -> dict[str, Any]:
        """The platform's fields of its upload class that hold the destination folder."""

    def reserve_part(self, temp_fd: int, start: int, end: int) -> bool:
        """Allocate the ``.part``'s blocks for bytes *start*..*end* where the platform can; False where it
        cannot (then its writes find their blocks).  Raises OSError (ENOSPC) when the disk is full."""
        return False

    def check_part(self, loc: Any, upload: UploadT) -> None:
        """Before the ``.part`` is put in place: raise Conflict if it was tampered with (where one can tell)."""

    @abstractmethod
    def replace_file(self, ctx: CallContext, guard: Any, loc: Any, content: Callable[[int], tuple[int, str]], *,
                     overwrite: bool, summary: str, temp: tuple[str, int]) -> dict[str, Any]:
        """The platform's undoable replace (see ``agent.files.undo.replace_file``)."""

    # --------------------------------------------------------------- downloads

    def download_open(self, ctx: CallContext) -> dict[str, Any]:
        """files.download_open {path}: open a file for chunked download.

        Returns ``id``, ``size``, ``modified`` and ``chunk_max``; the sha256 of the
        whole file comes with the chunk that reaches the end.  Raises NotFound,
        IsADirectory, Forbidden, PermissionDenied, BadParams.
        """
        path = path_param(ctx.params)
        guard = self.guard_of(ctx)
        parsed = guard.parse(path)
        try:
            with guard.locate(parsed) as loc:
                fd, identity, st = self.open_checked(guard, loc)
        except OSError as err:
            raise from_os_error(err, path) from err
        download = Download(_transfer_id(), path, parsed, loc.path, fd, st.st_size, identity, guard.generation)
        self.store_of(ctx).add_download(download)
        ctx.journal_details.update(download=download.id, size=st.st_size)
        return {"id": download.id, "path": clean(loc.path), "size": st.st_size, "modified": iso(st.st_mtime),
                "chunk_max": CHUNK_MAX}

    def _get_download(self, ctx: CallContext) -> Download:
        transfer = get_str(ctx.params, "id", max_length=64)
        store = self.store_of(ctx)
        with store.transfers_lock:
            download = store.downloads.get(transfer)
            if download is not None:
                store.downloads.move_to_end(transfer)
        if download is None or download.fd < 0:
            raise NotFound(f"no open download {transfer!r}; open the file again")
        return download

    def _recheck(self, ctx: CallContext, parsed: paths.ParsedPath, identity: Identity, generation: int) -> int:
        """After the customer changed the rules, walk the path again: still the same, still allowed?"""
        folders = ctx.policy.forbidden_folders
        current = folders.generation if folders is not None else 0
        if current == generation:
            return generation
        guard = self.guard_of(ctx)
        with guard.locate(parsed) as loc:
            fd, now, _ = self.open_checked(guard, loc)
            os.close(fd)
        if now != identity:
            raise Conflict(f"{parsed}: the file was replaced during the transfer")
        return guard.generation

    def download_chunk(self, ctx: CallContext) -> Reply:
        """files.download_chunk {id, offset, length}: bytes of an open download, as reply data.

        Reads only the asked range (at most :data:`CHUNK_MAX`).  The reply has
        ``eof`` and, with the chunk reaching the end, ``sha256`` of the whole file.
        Raises NotFound (unknown id), BadParams, Conflict (the file shrank or was
        replaced), Forbidden (the customer protected its folder meanwhile).
        """
        io = self.io
        download = self._get_download(ctx)
        offset = get_int(ctx.params, "offset", minimum=0, maximum=1 << 62)
        length = get_int(ctx.params, "length", CHUNK_MAX, minimum=0, maximum=CHUNK_MAX)
        check_path_words(ctx, download.requested, download.path)
        try:
            try:
                download.generation = self._recheck(ctx, download.parsed, download.identity, download.generation)
            except Forbidden:
                self.download_close(ctx)
                raise
            with download.lock:
                if download.fd < 0:
                    raise NotFound("the download was closed; open the file again")
                if offset > download.size:
                    raise BadParams(f"offset {offset} is past the end ({download.size})", param="offset")
                length = min(length, download.size - offset)
                data = io.pread_exact(download.fd, length, offset)
                if len(data) != length:
                    raise Conflict(f"{download.path}: the file became shorter during the download")
                if download.hashed < offset <= download.hashed + _CATCH_UP_MAX:
                    # Served just ahead of a chunk still in flight (worker threads take them in any order):
                    # hash the small gap now, or every later chunk would be skipped and the whole rest
                    # read and hashed again by the last call.  A resumed download's large gap still waits.
                    download.hashed = io.hash_range(download.fd, download.hashed, offset, download.hasher)
                if offset <= download.hashed < offset + length:
                    download.hasher.update(memoryview(data)[download.hashed - offset:])
                    download.hashed = offset + length
                eof = offset + length >= download.size
                result: dict[str, Any] = {"offset": offset, "length": length, "eof": eof}
                if eof:
                    if download.sha256 is None:
                        reached = io.hash_range(download.fd, download.hashed, download.size, download.hasher)
                        if reached != download.size:
                            raise Conflict(f"{download.path}: the file became shorter during the download")
                        download.hashed = reached
                        download.sha256 = download.hasher.hexdigest()
                    result["sha256"] = download.sha256
                    ctx.journal_details.update(sha256=download.sha256)
        except OSError as err:
            raise from_os_error(err, download.path) from err
        ctx.journal_details.update(offset=offset, bytes=length)
        return Reply(result, data)

    def download_close(self, ctx: CallContext) -> dict[str, Any]:
        """files.download_close {id}: release an open download (unknown ids are ignored)."""
        transfer = get_str(ctx.params, "id", max_length=64)
        store = self.store_of(ctx)
        with store.transfers_lock:
            download = store.downloads.pop(transfer, None)
        if download is not None:
            with download.lock:
                download.close()
        return {"closed": download is not None}

    # ----------------------------------------------------------------- uploads

    def _check_room(self, loc: Any, size: int, path: str) -> None:
        """Raise NoSpace when the disk of *loc*'s folder has less than *size* bytes free for this user."""
        free = self.free_space(loc)
        if free is not None and free < size:  # None: the file system cannot say; the writes will tell
            raise NoSpace(f"{path}: not enough free space on that disk for {size} bytes")

    def upload_open(self, ctx: CallContext) -> dict[str, Any] | Plan:
        """files.upload_open {path, size, overwrite?=false, sha256?}: start an upload.

        The free space is checked, so a full disk is found now; the ``.part``
        grows as the bytes arrive (its disk blocks are allocated at most
        :data:`_RESERVE_AHEAD` bytes ahead of them, where the platform can: an
        abandoned upload leaves nothing much taken).  The ``.part`` is recorded in the agent's registry
        before it is made (see :mod:`agent.files.parts`).  Raises AlreadyExists, IsADirectory, NotFound (the
        folder), Forbidden, PermissionDenied, NoSpace, BadParams, Conflict (too
        many uploads open).
        """
        path = path_param(ctx.params)
        size = get_int(ctx.params, "size", minimum=0, maximum=UPLOAD_MAX)
        overwrite = get_bool(ctx.params, "overwrite", False)
        expected = ctx.params.get("sha256")
        if expected is not None:
            expected = get_str(ctx.params, "sha256", max_length=64).lower()
        guard = self.guard_of(ctx)
        parsed = guard.parse(path)
        try:
            with guard.locate(parsed) as loc:
                if loc.name is None:
                    raise IsADirectory(f"{path}: is a folder")
                is_folder = self.existing_is_folder(guard, loc)
                if is_folder is not None:
                    if is_folder:
                        raise IsADirectory(f"{path}: is a folder")
                    if not overwrite:
                        raise AlreadyExists(f"{path}: already exists (use overwrite to replace it)")
                    fd, _, _ = self.open_checked(guard, loc)  # the checks of a read: is it allowed at all?
                    os.close(fd)
                paths.check_name(loc.name, guard.flavour)
                self._check_room(loc, size, path)
                if ctx.preview:  # a dry run: no .part file, no transfer; the chunks are never sent
                    return upload_plan(loc.path, size, is_folder is not None, expected)
                store = self.store_of(ctx)
                transfer = _transfer_id()
                folder, folder_identity = self.folder_now(loc)
                where = (folder_identity.dev, folder_identity.ino)

                def announce(name: str) -> None:  # recorded before it exists, so a crash cannot leave it unknown
                    store.parts.record(PartRecord(transfer, folder, where, name))

                temp, temp_fd = self.new_part(loc, loc.name, announce)
                try:
                    made = self.part_identity(loc, temp, temp_fd)
                    store.parts.record(PartRecord(transfer, folder, where, temp, (made.dev, made.ino)))
                    held = self.hold_folder(loc)
                except BaseException:
                    os.close(temp_fd)
                    self.remove_part(loc, temp)
                    store.parts.forget(transfer)
                    raise
                upload = self.upload_class(transfer, path, parsed, loc.path, folder_identity, loc.name, temp,
                                           temp_fd, size, overwrite, expected, guard.generation, parts=store.parts,
                                           **held)
                try:
                    store.add_upload(upload)
                except BaseException:
                    upload.close(remove=True)
                    raise
        except OSError as err:
            raise from_os_error(err, path) from err
        ctx.journal_details.update(upload=upload.id, size=size)
        return {"id": upload.id, "path": clean(upload.path), "size": size, "received": 0, "chunk_max": CHUNK_MAX}

    def _get_upload(self, ctx: CallContext) -> UploadT:
        transfer = get_str(ctx.params, "id", max_length=64)
        store = self.store_of(ctx)
        with store.transfers_lock:
            upload = store.uploads.get(transfer)
        if upload is None:
            raise NotFound(f"no open upload {transfer!r}; start it again")
        return upload

    def _drop_upload(self, ctx: CallContext, upload: UploadT, remove: bool) -> None:
        """Forget *upload* and close it (the caller holds its lock)."""
        store = self.store_of(ctx)
        with store.transfers_lock:
            store.uploads.pop(upload.id, None)
        upload.close(remove)

    def _recheck_upload(self, ctx: CallContext, upload: UploadT) -> None:
        folders = ctx.policy.forbidden_folders
        if (folders.generation if folders is not None else 0) == upload.generation:
            return
        guard = self.guard_of(ctx)
        try:
            with guard.locate(upload.parsed) as loc:
                if self.folder_now(loc)[1] != upload.folder_identity:
                    raise Conflict(f"{upload.path}: its folder was moved during the upload")
        except Forbidden:
            with upload.lock:  # closing waits for chunks being written
                self._drop_upload(ctx, upload, remove=True)
            raise
        upload.generation = guard.generation

    def upload_chunk(self, ctx: CallContext) -> dict[str, Any]:
        """files.upload_chunk {id, offset} + data: write a chunk (any order, re-sending is harmless).

        Returns ``received``: how many bytes from the start have arrived.  Raises
        NotFound (unknown id), BadParams (no data, too large, past the size),
        Conflict (a re-sent chunk differs from what arrived), NoSpace, Forbidden.
        """
        io = self.io
        upload = self._get_upload(ctx)
        offset = get_int(ctx.params, "offset", minimum=0, maximum=UPLOAD_MAX)
        data = ctx.data
        if data is None:
            raise BadParams("a chunk carries its bytes as request data")
        if len(data) > CHUNK_MAX:
            raise BadParams(f"a chunk is at most {CHUNK_MAX} bytes")
        if offset + len(data) > upload.size:
            raise BadParams(f"the chunk ends past the announced size ({upload.size})", param="offset")
        check_path_words(ctx, upload.requested, upload.path)
        self._recheck_upload(ctx, upload)
        end = offset + len(data)
        try:
            with upload.lock:
                # A re-sent chunk waits for the same bytes still being written by its first copy.
                upload.lock.wait_for(lambda: not upload.writing_into(offset, end))
                if upload.fd < 0:
                    raise NotFound("the upload was closed; start it again")
                if offset < upload.hashed:
                    overlap = min(len(data), upload.hashed - offset)
                    if io.pread_exact(upload.fd, overlap, offset) != data[:overlap]:
                        raise Conflict("a re-sent chunk differs from the bytes received before")
                if upload.reserved < end:
                    target = min(upload.size, end + _RESERVE_AHEAD)
                    # Where the file system cannot allocate ahead, it is not asked again.
                    upload.reserved = target if self.reserve_part(upload.fd, upload.reserved, target) else upload.size
                if not io.concurrent_writes:
                    io.write_all(upload.fd, data, offset)
                    return self._chunk_written(ctx, upload, offset, data)
                # The write goes outside the lock, so the next chunk's write overlaps this one's hashing
                # (or the one before's); the reserved range keeps the descriptor open and unshared.
                fd = upload.fd
                upload.writing.append((offset, end))
            try:
                io.write_all(fd, data, offset)
            except BaseException:
                with upload.lock:
                    upload.writing.remove((offset, end))
                    upload.lock.notify_all()
                raise
            with upload.lock:
                upload.writing.remove((offset, end))
                upload.lock.notify_all()
                return self._chunk_written(ctx, upload, offset, data)
        except OSError as err:
            raise from_os_error(err, upload.path) from err

    def _chunk_written(self, ctx: CallContext, upload: UploadT, offset: int, data: bytes) -> dict[str, Any]:
        """Count a chunk now on file and hash what is in order (the caller holds the upload's lock)."""
        end = offset + len(data)
        upload.ranges = add_range(upload.ranges, offset, end)
        for start in [start for start, kept in upload.ahead.items() if start < end and offset < start + len(kept)]:
            upload.ahead_bytes -= len(upload.ahead.pop(start))  # overwritten: the file's bytes are the ones
        if offset <= upload.hashed < end:
            upload.hasher.update(memoryview(data)[upload.hashed - offset:])
            upload.hashed = end
        elif offset > upload.hashed and upload.ahead_bytes + len(data) <= _AHEAD_MAX:
            upload.ahead[offset] = data  # hashed from memory once the chunks before it are in
            upload.ahead_bytes += len(data)
        while upload.hashed in upload.ahead:  # chunks kept from before that now follow on
            kept = upload.ahead.pop(upload.hashed)
            upload.ahead_bytes -= len(kept)
            upload.hasher.update(kept)
            upload.hashed += len(kept)
        if upload.received > upload.hashed:  # chunks written ahead and not kept: read back, hashed once
            upload.hashed = self.io.hash_range(upload.fd, upload.hashed, upload.received, upload.hasher)
            for start in [start for start in upload.ahead if start < upload.hashed]:
                upload.ahead_bytes -= len(upload.ahead.pop(start))
        ctx.journal_details.update(offset=offset, bytes=len(data))
        return {"received": upload.received}

    def upload_status(self, ctx: CallContext) -> dict[str, Any]:
        """files.upload_status {id}: ``received`` bytes in order (resume from there) and ``size``."""
        upload = self._get_upload(ctx)
        with upload.lock:
            return {"id": upload.id, "path": clean(upload.path), "size": upload.size, "received": upload.received}

    def upload_finish(self, ctx: CallContext) -> dict[str, Any]:
        """files.upload_finish {id, sha256?}: check and put the uploaded file in place atomically.

        The sha256 (given here or at open) must match the bytes received, or the
        upload is discarded and Conflict raised.  Raises Conflict (bytes missing,
        hash mismatch, folder moved), AlreadyExists, Forbidden, NoSpace.
        """
        upload = self._get_upload(ctx)
        given = ctx.params.get("sha256")
        expected = get_str(ctx.params, "sha256", max_length=64).lower() if given is not None else upload.expected
        self._recheck_upload(ctx, upload)
        guard = self.guard_of(ctx)
        with upload.lock:
            upload.lock.wait_for(lambda: not upload.writing)  # a re-sent chunk still writing: let it end
            if upload.fd < 0:
                raise NotFound("the upload was closed; start it again")
            if upload.received != upload.size:
                raise Conflict(f"{upload.received} of {upload.size} bytes received; send the rest first")
            actual = upload.hasher.hexdigest()
            if expected is not None and expected != actual:
                self._drop_upload(ctx, upload, remove=True)
                raise Conflict(
                    f"{upload.path}: the bytes received do not match the sha256 given; nothing was changed")
            try:
                with guard.locate(upload.parsed) as loc:
                    if self.folder_now(loc)[1] != upload.folder_identity or loc.name != upload.name:
                        raise Conflict(f"{upload.path}: its folder was moved or replaced during the upload")
                    self.check_part(loc, upload)
                    os.ftruncate(upload.fd, upload.size)

                    def content(fd: int) -> tuple[int, str]:
                        return upload.size, actual

                    temp, upload.fd = (upload.temp, upload.fd), -1  # replace_file takes it over
                    result = self.replace_file(ctx, guard, loc, content, overwrite=upload.overwrite,
                                               summary=f"uploaded {loc.path}", temp=temp)
            except OSError as err:
                self._drop_upload(ctx, upload, remove=True)
                raise from_os_error(err, upload.path) from err
            except BaseException:
                self._drop_upload(ctx, upload, remove=True)
                raise
            self._drop_upload(ctx, upload, remove=False)
        return result

    def upload_abort(self, ctx: CallContext) -> dict[str, Any]:
        """files.upload_abort {id}: discard an upload and its temporary file (unknown ids are ignored)."""
        transfer = get_str(ctx.params, "id", max_length=64)
        store = self.store_of(ctx)
        with store.transfers_lock:
            upload = store.uploads.pop(transfer, None)
        if upload is not None:
            with upload.lock:
                upload.close(remove=True)
        return {"aborted": upload is not None}
