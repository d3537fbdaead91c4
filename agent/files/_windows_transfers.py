"""Chunked transfers on Windows: a download reads the asked range of a held file; an upload fills a ``.part`` file.

The same methods and replies as :mod:`agent.files.transfers`: a download
keeps the checked file open (sharing delete: the customer may still replace
it) and reads only the asked range; an upload writes a private ``.part``
file in the destination folder, reports how many bytes arrived in order,
checks the sha256 and renames into place through
:func:`agent.files._windows_undo.replace_file`.  When the customer changes
the protected folders, the next chunk walks the path again.

Availability: Windows (chosen only there, see :mod:`agent.files.methods`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import ntpath
import os
import secrets
import shutil
from typing import Any, Final

from agent import paths
from agent.dispatch import CallContext, Reply
from agent.files._windows_io import hash_range, new_temp, pread_exact, unlink_quietly, write_all
from agent.files._windows_store import Download, Upload, guard_of, store_of
from agent.files._windows_undo import replace_file
from agent.files.common import CHUNK_MAX, UPLOAD_MAX, clean, iso, path_param
from agent.files.parts import PartRecord
from agent.files.textual import add_range, check_path_words
from agent.forbidden import _windows_api as win
from agent.forbidden.rules import Identity
from agent.params import get_bool, get_int, get_str
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

_CATCH_UP_MAX: Final = 4 * CHUNK_MAX


def _transfer_id() -> str:
    return secrets.token_hex(8)


def download_open(ctx: CallContext) -> dict[str, Any]:
    """files.download_open {path}: open a file for chunked download (``id``, ``size``, ``modified``, ``chunk_max``).

    Raises NotFound, IsADirectory, Forbidden, PermissionDenied, BadParams.
    """
    path = path_param(ctx.params)
    guard = guard_of(ctx)
    parsed = guard.parse(path)
    try:
        with guard.locate(parsed) as loc:
            fd, info, st = guard.open_file(loc)
    except OSError as err:
        raise from_os_error(err, path) from err
    download = Download(_transfer_id(), path, parsed, loc.path, fd, st.st_size, info.identity, guard.generation)
    store_of(ctx).add_download(download)
    ctx.journal_details.update(download=download.id, size=st.st_size)
    return {"id": download.id, "path": clean(loc.path), "size": st.st_size, "modified": iso(st.st_mtime),
            "chunk_max": CHUNK_MAX}


def _get_download(ctx: CallContext) -> Download:
    transfer = get_str(ctx.params, "id", max_length=64)
    store = store_of(ctx)
    with store.transfers_lock:
        download = store.downloads.get(transfer)
        if download is not None:
            store.downloads.move_to_end(transfer)
    if download is None or download.fd < 0:
        raise NotFound(f"no open download {transfer!r}; open the file again")
    return download


def _recheck(ctx: CallContext, parsed: paths.ParsedPath, identity: Identity, generation: int) -> int:
    """After the customer changed the rules, walk the path again: still the same, still allowed?"""
    folders = ctx.policy.forbidden_folders
    current = folders.generation if folders is not None else 0
    if current == generation:
        return generation
    guard = guard_of(ctx)
    with guard.locate(parsed) as loc:
        fd, info, _ = guard.open_file(loc)
        os.close(fd)
    if info.identity != identity:
        raise Conflict(f"{parsed}: the file was replaced during the transfer")
    return guard.generation


def download_chunk(ctx: CallContext) -> Reply:
    """files.download_chunk {id, offset, length}: bytes of an open download, as reply data.

    The reply has ``eof`` and, with the chunk reaching the end, ``sha256``.
    Raises NotFound, BadParams, Conflict (the file shrank or was replaced),
    Forbidden (the customer protected its folder meanwhile).
    """
    download = _get_download(ctx)
    offset = get_int(ctx.params, "offset", minimum=0, maximum=1 << 62)
    length = get_int(ctx.params, "length", CHUNK_MAX, minimum=0, maximum=CHUNK_MAX)
    check_path_words(ctx, download.requested, download.path)
    try:
        try:
            download.generation = _recheck(ctx, download.parsed, download.identity, download.generation)
        except Forbidden:
            download_close(ctx)
            raise
        with download.lock:
            if download.fd < 0:
                raise NotFound("the download was closed; open the file again")
            if offset > download.size:
                raise BadParams(f"offset {offset} is past the end ({download.size})", param="offset")
            length = min(length, download.size - offset)
            data = pread_exact(download.fd, length, offset)
            if len(data) != length:
                raise Conflict(f"{download.path}: the file became shorter during the download")
            if download.hashed < offset <= download.hashed + _CATCH_UP_MAX:
                download.hashed = hash_range(download.fd, download.hashed, offset, download.hasher)
            if offset <= download.hashed < offset + length:
                download.hasher.update(memoryview(data)[download.hashed - offset:])
                download.hashed = offset + length
            eof = offset + length >= download.size
            result: dict[str, Any] = {"offset": offset, "length": length, "eof": eof}
            if eof:
                if download.sha256 is None:
                    reached = hash_range(download.fd, download.hashed, download.size, download.hasher)
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


def download_close(ctx: CallContext) -> dict[str, Any]:
    """files.download_close {id}: release an open download (unknown ids are ignored)."""
    transfer = get_str(ctx.params, "id", max_length=64)
    store = store_of(ctx)
    with store.transfers_lock:
        download = store.downloads.pop(transfer, None)
    if download is not None:
        with download.lock:
            if download.fd >= 0:
                os.close(download.fd)
                download.fd = -1
    return {"closed": download is not None}


def upload_open(ctx: CallContext) -> dict[str, Any]:
    """files.upload_open {path, size, overwrite?=false, sha256?}: start an upload into a ``.part`` file.

    The free space is checked, so a full disk is found now; the ``.part``
    grows as the bytes arrive (nothing is reserved that an abandoned upload
    would leave taken).  The ``.part`` is recorded in the agent's registry
    before it is made (see :mod:`agent.files.parts`).  Raises AlreadyExists, IsADirectory, NotFound,
    Forbidden, PermissionDenied, NoSpace, BadParams, Conflict (too many uploads).
    """
    path = path_param(ctx.params)
    size = get_int(ctx.params, "size", minimum=0, maximum=UPLOAD_MAX)
    overwrite = get_bool(ctx.params, "overwrite", False)
    expected = ctx.params.get("sha256")
    if expected is not None:
        expected = get_str(ctx.params, "sha256", max_length=64).lower()
    guard = guard_of(ctx)
    parsed = guard.parse(path)
    try:
        with guard.locate(parsed) as loc:
            if loc.name is None:
                raise IsADirectory(f"{path}: is a folder")
            found = guard.entry(loc)
            if found is not None:
                if found[0].is_dir:
                    raise IsADirectory(f"{path}: is a folder")
                if not overwrite:
                    raise AlreadyExists(f"{path}: already exists (use overwrite to replace it)")
                fd, _, _ = guard.open_file(loc)  # the checks of a read: is it allowed at all?
                os.close(fd)
            paths.check_name(loc.name, "windows")
            _check_room(loc.parent_path, size, path)
            store = store_of(ctx)
            transfer = _transfer_id()
            where = (loc.parent_identity.dev, loc.parent_identity.ino)

            def announce(name: str) -> None:  # recorded before it exists, so a crash cannot leave it unknown
                store.parts.record(PartRecord(transfer, loc.parent_path, where, name))

            temp, temp_fd = new_temp(loc.parent_path, loc.name, "part", announce)
            try:
                made = win.info_at(ntpath.join(loc.parent_path, temp)).identity
                store.parts.record(PartRecord(transfer, loc.parent_path, where, temp, (made.dev, made.ino)))
            except BaseException:
                os.close(temp_fd)
                unlink_quietly(ntpath.join(loc.parent_path, temp))
                store.parts.forget(transfer)
                raise
            upload = Upload(transfer, path, parsed, loc.path, loc.parent_path, loc.parent_identity, loc.name,
                            temp, temp_fd, size, overwrite, expected, guard.generation, parts=store.parts)
            try:
                store.add_upload(upload)
            except BaseException:
                upload.close(remove=True)
                raise
    except OSError as err:
        raise from_os_error(err, path) from err
    ctx.journal_details.update(upload=upload.id, size=size)
    return {"id": upload.id, "path": clean(upload.path), "size": size, "received": 0, "chunk_max": CHUNK_MAX}


def _check_room(folder: str, size: int, path: str) -> None:
    """Raise NoSpace when the disk of *folder* has less than *size* bytes free for this user."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # Windows cannot say: the writes will tell
    if free < size:
        raise NoSpace(f"{path}: not enough free space on that disk for {size} bytes")


def _get_upload(ctx: CallContext) -> Upload:
    transfer = get_str(ctx.params, "id", max_length=64)
    store = store_of(ctx)
    with store.transfers_lock:
        upload = store.uploads.get(transfer)
    if upload is None:
        raise NotFound(f"no open upload {transfer!r}; start it again")
    return upload


def _drop_upload(ctx: CallContext, upload: Upload, remove: bool) -> None:
    store = store_of(ctx)
    with store.transfers_lock:
        store.uploads.pop(upload.id, None)
    upload.close(remove)


def _recheck_upload(ctx: CallContext, upload: Upload) -> None:
    folders = ctx.policy.forbidden_folders
    if (folders.generation if folders is not None else 0) == upload.generation:
        return
    guard = guard_of(ctx)
    try:
        with guard.locate(upload.parsed) as loc:
            if loc.parent_identity != upload.folder_identity:
                raise Conflict(f"{upload.path}: its folder was moved during the upload")
    except Forbidden:
        _drop_upload(ctx, upload, remove=True)
        raise
    upload.generation = guard.generation


def upload_chunk(ctx: CallContext) -> dict[str, Any]:
    """files.upload_chunk {id, offset} + data: write a chunk (any order, re-sending is harmless).

    Returns ``received``.  Raises NotFound, BadParams, Conflict (a re-sent
    chunk differs), NoSpace, Forbidden.
    """
    upload = _get_upload(ctx)
    offset = get_int(ctx.params, "offset", minimum=0, maximum=UPLOAD_MAX)
    data = ctx.data
    if data is None:
        raise BadParams("a chunk carries its bytes as request data")
    if len(data) > CHUNK_MAX:
        raise BadParams(f"a chunk is at most {CHUNK_MAX} bytes")
    if offset + len(data) > upload.size:
        raise BadParams(f"the chunk ends past the announced size ({upload.size})", param="offset")
    check_path_words(ctx, upload.requested, upload.path)
    _recheck_upload(ctx, upload)
    try:
        with upload.lock:
            if upload.fd < 0:
                raise NotFound("the upload was closed; start it again")
            if offset < upload.hashed:
                overlap = min(len(data), upload.hashed - offset)
                if pread_exact(upload.fd, overlap, offset) != data[:overlap]:
                    raise Conflict("a re-sent chunk differs from the bytes received before")
            write_all(upload.fd, data, offset)
            upload.ranges = add_range(upload.ranges, offset, offset + len(data))
            if offset <= upload.hashed < offset + len(data):
                upload.hasher.update(memoryview(data)[upload.hashed - offset:])
                upload.hashed = offset + len(data)
            if upload.received > upload.hashed:
                upload.hashed = hash_range(upload.fd, upload.hashed, upload.received, upload.hasher)
            received = upload.received
    except OSError as err:
        raise from_os_error(err, upload.path) from err
    ctx.journal_details.update(offset=offset, bytes=len(data))
    return {"received": received}


def upload_status(ctx: CallContext) -> dict[str, Any]:
    """files.upload_status {id}: ``received`` bytes in order (resume from there) and ``size``."""
    upload = _get_upload(ctx)
    with upload.lock:
        return {"id": upload.id, "path": clean(upload.path), "size": upload.size, "received": upload.received}


def upload_finish(ctx: CallContext) -> dict[str, Any]:
    """files.upload_finish {id, sha256?}: check and put the uploaded file in place atomically.

    Raises Conflict (bytes missing, hash mismatch, folder moved), AlreadyExists, Forbidden, NoSpace.
    """
    upload = _get_upload(ctx)
    given = ctx.params.get("sha256")
    expected = get_str(ctx.params, "sha256", max_length=64).lower() if given is not None else upload.expected
    _recheck_upload(ctx, upload)
    guard = guard_of(ctx)
    with upload.lock:
        if upload.fd < 0:
            raise NotFound("the upload was closed; start it again")
        if upload.received != upload.size:
            raise Conflict(f"{upload.received} of {upload.size} bytes received; send the rest first")
        actual = upload.hasher.hexdigest()
        if expected is not None and expected != actual:
            _drop_upload(ctx, upload, remove=True)
            raise Conflict(f"{upload.path}: the bytes received do not match the sha256 given; nothing was changed")
        try:
            with guard.locate(upload.parsed) as loc:
                if loc.parent_identity != upload.folder_identity or loc.name != upload.name:
                    raise Conflict(f"{upload.path}: its folder was moved or replaced during the upload")
                if win.info_at(ntpath.join(loc.parent_path, upload.temp)).links != 1:
                    raise Conflict(f"{upload.path}: the partial file was tampered with; start again")
                os.ftruncate(upload.fd, upload.size)

                def content(fd: int) -> tuple[int, str]:
                    return upload.size, actual

                temp, upload.fd = (upload.temp, upload.fd), -1  # replace_file takes it over
                result = replace_file(ctx, guard, loc, content, overwrite=upload.overwrite,
                                      summary=f"uploaded {loc.path}", temp=temp)
        except OSError as err:
            _drop_upload(ctx, upload, remove=True)
            raise from_os_error(err, upload.path) from err
        except BaseException:
            _drop_upload(ctx, upload, remove=True)
            raise
        _drop_upload(ctx, upload, remove=False)
    return result


def upload_abort(ctx: CallContext) -> dict[str, Any]:
    """files.upload_abort {id}: discard an upload and its temporary file (unknown ids are ignored)."""
    transfer = get_str(ctx.params, "id", max_length=64)
    store = store_of(ctx)
    with store.transfers_lock:
        upload = store.uploads.pop(transfer, None)
    if upload is not None:
        with upload.lock:
            upload.close(remove=True)
    return {"aborted": upload is not None}
