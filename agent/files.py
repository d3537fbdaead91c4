"""T3: the technician's file methods, run by the agent on the customer's machine.

Every path goes through :class:`agent.forbidden.Guard`, so the customer's
protected folders (C3) and the agent's own folder (``ctx.state_dir``: journal,
backups, trash) are refused whatever spelling, link or mount is used.

Changes are atomic and undoable:

* new content is written to a temporary file in the same folder, fsync'ed,
  renamed over the target and the folder fsync'ed: after ``kill -9`` the
  target holds the old content or the new, never a mix (a stray
  ``.name.wb-….tmp`` may remain);
* what is replaced is kept first under ``state_dir/files/items`` (a hard link
  to the old file when possible, otherwise a copy), deleted things are moved
  there (the trash), and a change record in ``state_dir/files/changes`` lists
  the steps that undo it; the record is written *before* the change takes
  effect, so a crash leaves it undoable;
* ``files.undo`` undoes the newest change not yet undone, after checking that
  nothing changed since (the content hash must match), and refuses (Conflict)
  otherwise; it walks the paths again, so it cannot reach a folder the
  customer protected meanwhile.  Undo never destroys: what it removes (a file
  or folder the change created) goes to the trash too.  The last
  :data:`KEEP_CHANGES` change records and their kept items are kept.

Content hashes before and after go to ``ctx.journal_details``.

Transfers are chunked (at most :data:`CHUNK_MAX` bytes a call) and never hold a
whole file: a download keeps the file open and reads the asked range; an upload
writes into a temporary file in the destination folder, reports how many bytes
arrived in order (to resume), checks the sha256 and renames into place.

Every handler raises :class:`~wire.errors.WorkbenchError` subclasses only:
BadParams, NotFound, AlreadyExists, NotADirectory, IsADirectory,
PermissionDenied, Forbidden, Conflict, NoSpace (and Unsupported on Windows).
A failed call leaves no file changed.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import difflib
import errno
import hashlib
import json
import os
import posixpath
import secrets
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent import paths
from agent.dispatch import CallContext, Method, Reply
from agent.forbidden import DIR_FLAGS, FILE_FLAGS, Guard, Identity, Location, ancestors
from agent.params import get_bool, get_int, get_str
from wire.errors import (
    AlreadyExists,
    BadParams,
    Conflict,
    Forbidden,
    IsADirectory,
    NotADirectory,
    NotFound,
    WorkbenchError,
    from_os_error,
)

#: Largest chunk of a download or upload, and of a bytes read.
CHUNK_MAX: Final = 4 * 1024 * 1024
#: Largest file read as text, written in one call, or edited.
TEXT_MAX: Final = 4 * 1024 * 1024
#: Largest JSON form of a text reply (the frame limit is 16 MiB).
TEXT_JSON_MAX: Final = 12 * 1024 * 1024
#: Entries listed by default, and at most.
LIST_DEFAULT: Final = 10_000
LIST_MAX: Final = 50_000
#: Changes kept for undo (with their backups and trash).
KEEP_CHANGES: Final = 100
#: Open downloads and uploads per agent.
MAX_TRANSFERS: Final = 16
#: Longest diff returned by files.edit, in characters.
DIFF_MAX: Final = 256 * 1024
#: Largest upload accepted.
UPLOAD_MAX: Final = 1 << 44
#: Deepest folder tree copied.
COPY_DEPTH: Final = 256

_BLOCK: Final = 1024 * 1024
#: Largest gap in a download's running hash filled at once (a few chunks served out of order).
_CATCH_UP_MAX: Final = 4 * CHUNK_MAX
_PATH_LENGTH: Final = 4096
_NEW_FILE_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ERRORS_CHOICES: Final = frozenset({"strict", "replace"})


# ----------------------------------------------------------------- helpers


def _clean(text: str) -> str:
    """Text safe for JSON in UTF-8: undecodable bytes of file names become U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _show(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    text = value if isinstance(value, str) else "?"
    return _clean(text if len(text) <= 300 else text[:300] + "…")


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


def _kind(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    return "other"


def _path_param(params: dict[str, Any], name: str = "path") -> str:
    return get_str(params, name, max_length=_PATH_LENGTH)


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


_UMASK: Final = _umask()


def _os_error(err: OSError, what: str) -> WorkbenchError:
    return from_os_error(err, what)


def _write_all(fd: int, data: bytes | memoryview, offset: int | None = None) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        if offset is not None:
            offset += written
        view = view[written:]


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    parts = []
    while length > 0:
        piece = os.pread(fd, min(length, CHUNK_MAX), offset)
        if not piece:
            break
        parts.append(piece)
        offset += len(piece)
        length -= len(piece)
    return b"".join(parts)


def _hash_range(fd: int, start: int, end: int | None, hasher: Any) -> int:
    """Feed bytes start..end (None: to the end) of *fd* into *hasher*; return the offset reached."""
    offset = start
    while end is None or offset < end:
        piece = os.pread(fd, _BLOCK if end is None else min(_BLOCK, end - offset), offset)
        if not piece:
            break
        hasher.update(piece)
        offset += len(piece)
    return offset


def _sha_fd(fd: int) -> str:
    hasher = hashlib.sha256()
    _hash_range(fd, 0, None, hasher)
    return hasher.hexdigest()


def _copy_fd(src: int, dst: int) -> tuple[int, str]:
    """Copy all of *src* into *dst* from their starts; return size and sha256."""
    hasher = hashlib.sha256()
    offset = 0
    while piece := os.pread(src, _BLOCK, offset):
        hasher.update(piece)
        _write_all(dst, piece, offset)
        offset += len(piece)
    return offset, hasher.hexdigest()


def _new_temp(parent: int, name: str, tag: str = "tmp") -> tuple[str, int]:
    """Create an empty private temporary file next to *name*; return its name and descriptor."""
    stem = name[:40]
    for _ in range(64):
        candidate = f".{stem}.wb-{secrets.token_hex(4)}.{tag}"
        try:
            return candidate, os.open(candidate, _NEW_FILE_FLAGS, 0o600, dir_fd=parent)
        except FileExistsError:
            continue
    raise Conflict("could not create a temporary file")


def _unlink_quietly(parent: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=parent)


def _match_owner(fd: int, like: os.stat_result, *, mode: int | None) -> None:
    """Give the new file *fd* the mode (and, as root, the owner) of *like*."""
    if mode is not None:
        os.fchmod(fd, mode)
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, like.st_uid, like.st_gid)


def _remove_tree(parent: int, name: str, guard: Guard | None = None, shown: str = "") -> None:
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
            _remove_tree(fd, child, guard, posixpath.join(shown, child))
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)


@dataclass
class _CopyStats:
    files: int = 0
    folders: int = 0
    bytes: int = 0
    skipped: int = 0


def _copy_tree(guard: Guard, src: int, shown: str, dst_parent: int, dst_name: str, stats: _CopyStats,
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
                    _copy_tree(guard, child, where, dst, name, stats, depth + 1)
                finally:
                    os.close(child)
            elif stat.S_ISREG(st.st_mode):
                child = os.open(name, FILE_FLAGS, dir_fd=src)
                try:
                    opened = os.fstat(child)
                    if Identity.of(opened) != Identity.of(st):
                        raise Conflict(f"{where}: changed while it was copied")
                    guard.check_file(opened, where, name)
                    out = os.open(name, _NEW_FILE_FLAGS, 0o600, dir_fd=dst)
                    try:
                        size, _ = _copy_fd(child, out)
                        _match_owner(out, st, mode=stat.S_IMODE(st.st_mode))
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
        _match_owner(dst, src_st, mode=stat.S_IMODE(src_st.st_mode))
        os.fsync(dst)
    finally:
        os.close(dst)


# ------------------------------------------------------ the agent's keeping


@dataclass
class _Download:
    id: str
    requested: str
    parsed: paths.ParsedPath
    path: str
    fd: int
    size: int
    identity: Identity
    generation: int
    hasher: Any = field(default_factory=hashlib.sha256)
    hashed: int = 0
    sha256: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Upload:
    id: str
    requested: str
    parsed: paths.ParsedPath
    path: str
    parent: int
    parent_identity: Identity
    name: str
    temp: str
    fd: int
    size: int
    overwrite: bool
    expected: str | None
    generation: int
    ranges: list[tuple[int, int]] = field(default_factory=list)
    hasher: Any = field(default_factory=hashlib.sha256)
    hashed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def received(self) -> int:
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] == 0 else 0

    def close(self, remove: bool) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if remove:
            _unlink_quietly(self.parent, self.temp)
        if self.parent >= 0:
            os.close(self.parent)
            self.parent = -1


class _Store:
    """The agent's private keeping for files: change records, kept items, transfers."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "files"
        self.changes = self.root / "changes"
        self.items = self.root / "items"
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (self.root, self.changes, self.items):
            folder.mkdir(mode=0o700, exist_ok=True)
        #: Serialises changes, so the undo order is the order of changes.
        self.lock = threading.RLock()
        self.transfers_lock = threading.Lock()
        self.downloads: OrderedDict[str, _Download] = OrderedDict()
        self.uploads: OrderedDict[str, _Upload] = OrderedDict()

    def items_fd(self) -> int:
        return os.open(self.items, DIR_FLAGS)

    def records(self) -> list[int]:
        return sorted(int(p.stem) for p in self.changes.glob("*.json") if p.stem.isdigit())

    def next_seq(self) -> int:
        existing = self.records()
        return existing[-1] + 1 if existing else 1

    def write_record(self, record: dict[str, Any]) -> None:
        target = self.changes / f"{record['seq']:08d}.json"
        temp = target.with_suffix(".tmp")
        with open(temp, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
        self._sync(self.changes)

    def read_record(self, seq: int) -> dict[str, Any]:
        with open(self.changes / f"{seq:08d}.json", encoding="utf-8") as f:
            record: dict[str, Any] = json.load(f)
        return record

    def drop(self, seq: int) -> None:
        """Forget change *seq* and its kept items."""
        items = self.items_fd()
        try:
            for item in self.items.glob(f"{seq:08d}-*"):
                with contextlib.suppress(OSError):
                    _remove_tree(items, item.name)
        finally:
            os.close(items)
        with contextlib.suppress(FileNotFoundError):
            (self.changes / f"{seq:08d}.json").unlink()
        self._sync(self.changes)

    def prune(self) -> None:
        existing = self.records()
        for seq in existing[: max(0, len(existing) - KEEP_CHANGES)]:
            self.drop(seq)

    @staticmethod
    def _sync(folder: Path) -> None:
        fd = os.open(folder, DIR_FLAGS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def add_download(self, download: _Download) -> None:
        with self.transfers_lock:
            self.downloads[download.id] = download
            while len(self.downloads) > MAX_TRANSFERS:
                _, oldest = self.downloads.popitem(last=False)
                with oldest.lock:
                    os.close(oldest.fd)
                    oldest.fd = -1

    def add_upload(self, upload: _Upload) -> None:
        with self.transfers_lock:
            if len(self.uploads) >= MAX_TRANSFERS:
                raise Conflict(f"{MAX_TRANSFERS} uploads are already open; finish or abort one")
            self.uploads[upload.id] = upload


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


def _store(ctx: CallContext) -> _Store:
    key = os.path.realpath(ctx.state_dir)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = _Store(Path(key))
        return store


def _guard(ctx: CallContext) -> Guard:
    _store(ctx)  # the private folder must exist to be protected
    return Guard(ctx.policy.forbidden_folders, private=[ctx.state_dir], home=os.path.expanduser("~"))


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


class _Change:
    """One change being made: its undo steps and kept items, recorded before it takes effect."""

    def __init__(self, store: _Store, method: str, summary: str) -> None:
        self.store = store
        self.seq = store.next_seq()
        self.method = method
        self.summary = summary
        self.steps: list[dict[str, Any]] = []
        self._items = 0
        self._recorded = False

    def item_name(self) -> str:
        self._items += 1
        return f"{self.seq:08d}-{self._items}"

    def keep_file(self, parent: int, name: str, fd: int, st: os.stat_result) -> str:
        """Keep the current file *name* (open as *fd*, status *st*) before it is replaced."""
        item = self.item_name()
        items = self.store.items_fd()
        try:
            try:
                os.link(name, item, src_dir_fd=parent, dst_dir_fd=items, follow_symlinks=False)
                if Identity.of(os.stat(item, dir_fd=items, follow_symlinks=False)) == Identity.of(st):
                    return item
                os.unlink(item, dir_fd=items)
            except OSError:
                pass
            out = os.open(item, _NEW_FILE_FLAGS, 0o600, dir_fd=items)
            try:
                _copy_fd(fd, out)
                os.fsync(out)
            finally:
                os.close(out)
            os.fsync(items)
            return item
        finally:
            os.close(items)

    def keep_link(self, parent: int, name: str) -> str:
        """Keep the symbolic link *name* itself before it is replaced."""
        item = self.item_name()
        items = self.store.items_fd()
        try:
            try:
                os.link(name, item, src_dir_fd=parent, dst_dir_fd=items, follow_symlinks=False)
            except OSError:
                os.symlink(os.readlink(name, dir_fd=parent), item, dir_fd=items)
            os.fsync(items)
        finally:
            os.close(items)
        return item

    def record(self) -> None:
        self.store.write_record({"seq": self.seq, "time": dt.datetime.now(dt.timezone.utc).isoformat(),
                                 "method": self.method, "summary": self.summary, "steps": self.steps})
        self._recorded = True

    def abandon(self) -> None:
        self.store.drop(self.seq)

    def done(self) -> None:
        self.store.prune()


def _finish_replace(loc: Location, temp: str) -> None:
    assert loc.name is not None
    os.rename(temp, loc.name, src_dir_fd=loc.parent, dst_dir_fd=loc.parent)
    os.fsync(loc.parent)


def _replace(ctx: CallContext, guard: Guard, loc: Location, content: Callable[[int], tuple[int, str]], *,
             overwrite: bool, summary: str, old: tuple[int, os.stat_result] | None = None,
             temp: tuple[str, int] | None = None) -> dict[str, Any]:
    """Put new content at *loc* atomically, keeping what was there for undo.

    *content* writes into the temporary descriptor and returns size and sha256.
    *old* is the current file when the caller already opened it (the caller
    closes it); *temp* a temporary file already written next to *loc*, which
    this function takes over (renamed into place, or removed on failure).
    """
    store = _store(ctx)
    own_old = False
    temp_name, temp_fd = temp if temp is not None else (None, -1)
    sha_before: str | None = None
    try:
        if loc.name is None:
            raise IsADirectory(f"{loc.requested}: is a folder")
        if old is None:
            st = guard.entry(loc)
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectory(f"{loc.requested}: is a folder")
                if not overwrite:
                    raise AlreadyExists(f"{loc.requested}: already exists")
                old = guard.open_file(loc)
                own_old = True
            else:
                paths.check_name(loc.name, guard.flavour)
        if temp_name is None:
            temp_name, temp_fd = _new_temp(loc.parent, loc.name)
        with store.lock:
            change = _Change(store, ctx.method, summary)
            try:
                size, sha_after = content(temp_fd)
                if old is not None:
                    _match_owner(temp_fd, old[1], mode=stat.S_IMODE(old[1].st_mode))
                else:
                    _match_owner(temp_fd, os.fstat(loc.parent), mode=0o666 & ~_UMASK)
                os.fsync(temp_fd)
                if old is not None:
                    sha_before = _sha_fd(old[0])
                    item = change.keep_file(loc.parent, loc.name, old[0], old[1])
                    change.steps.append({"kind": "replaced", "path": loc.path, "item": item,
                                         "before": sha_before, "after": sha_after})
                else:
                    change.steps.append({"kind": "created", "path": loc.path, "after": sha_after})
                change.record()
                _finish_replace(loc, temp_name)
                temp_name = None
            except BaseException:
                change.abandon()
                raise
            change.done()
    except OSError as err:
        raise _os_error(err, loc.requested) from err
    finally:
        if temp_name is not None:
            _unlink_quietly(loc.parent, temp_name)
        if temp_fd >= 0:
            os.close(temp_fd)
        if own_old and old is not None:
            os.close(old[0])
    ctx.journal_details.update(sha256_before=sha_before, sha256_after=sha_after, size=size)
    return {"path": _clean(loc.path), "size": size, "sha256": sha_after, "sha256_before": sha_before,
            "created": old is None}


def _writer(data: bytes) -> Callable[[int], tuple[int, str]]:
    def write(fd: int) -> tuple[int, str]:
        _write_all(fd, data)
        return len(data), hashlib.sha256(data).hexdigest()
    return write


# ---------------------------------------------------------------- handlers


def _entry(guard: Guard, parent: int, name: str, st: os.stat_result) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": _clean(name), "kind": _kind(st)}
    if name != _clean(name):
        entry["undecodable"] = True
    if (stat.S_ISDIR(st.st_mode) and guard.protected(st) is not None) or (
            stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and Identity.of(st) in guard.rules.linked_files):
        # Listed so the folder's existence is not a riddle, but nothing about it is read.
        entry.update(protected=True, size=None, modified=None)
        return entry
    entry.update(size=st.st_size if stat.S_ISREG(st.st_mode) else None, modified=_iso(st.st_mtime),
                 mode=stat.filemode(st.st_mode))
    if stat.S_ISLNK(st.st_mode):
        with contextlib.suppress(OSError):
            entry["target"] = _clean(os.readlink(name, dir_fd=parent))
    return entry


def list_folder(ctx: CallContext) -> dict[str, Any]:
    """files.list {path, limit?}: the folder's entries, sorted by name.

    Protected folders appear with ``protected: true`` and no size or date.
    Raises NotFound, NotADirectory, Forbidden, PermissionDenied, BadParams.
    """
    path = _path_param(ctx.params)
    limit = get_int(ctx.params, "limit", LIST_DEFAULT, minimum=1, maximum=LIST_MAX)
    guard = _guard(ctx)
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
                            entries.append({"name": _clean(item.name), "kind": "unknown", "size": None,
                                            "modified": None})
                            continue
                        entries.append(_entry(guard, fd, item.name, st))
            finally:
                os.close(fd)
    except OSError as err:
        raise _os_error(err, path) from err
    entries.sort(key=lambda e: e["name"])
    ctx.journal_details.update(entries=len(entries))
    return {"path": _clean(shown), "entries": entries, "truncated": truncated}


def stat_path(ctx: CallContext) -> dict[str, Any]:
    """files.stat {path, follow?=true}: kind, size, dates, mode, owner, links.

    Raises NotFound, Forbidden, PermissionDenied, BadParams.
    """
    path = _path_param(ctx.params)
    follow = get_bool(ctx.params, "follow", True)
    guard = _guard(ctx)
    try:
        with guard.locate(path, follow=follow) as loc:
            st = guard.entry(loc)
            if st is None:
                raise NotFound(f"{path}: no such file or folder")
            if stat.S_ISREG(st.st_mode):
                guard.check_file(st, path, loc.name or "")
            info: dict[str, Any] = {
                "path": _clean(loc.path), "name": _clean(posixpath.basename(loc.path) or "/"), "kind": _kind(st),
                "size": st.st_size, "modified": _iso(st.st_mtime), "accessed": _iso(st.st_atime),
                "changed": _iso(st.st_ctime), "mode": stat.filemode(st.st_mode), "links": st.st_nlink,
                "uid": st.st_uid, "gid": st.st_gid,
            }
            if stat.S_ISLNK(st.st_mode) and loc.name is not None:
                info["target"] = _clean(os.readlink(loc.name, dir_fd=loc.parent))
    except OSError as err:
        raise _os_error(err, path) from err
    return info


def _text_codec(params: dict[str, Any]) -> str | None:
    encoding = params.get("encoding", "utf-8")
    if encoding is None:
        return None
    encoding = get_str(params, "encoding", "utf-8", max_length=64)
    try:
        codecs.lookup(encoding)
        "".encode(encoding)
    except LookupError as err:
        raise BadParams(f"unknown text encoding {encoding!r}", param="encoding") from err
    return encoding


def _decode(data: bytes, encoding: str, errors: str, where: str, base: int = 0) -> str:
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError as err:
        raise BadParams(f"{where}: not valid {encoding} text (at byte {base + err.start}); read it as bytes "
                        "(encoding=None), name its encoding, or use errors='replace'", param="encoding") from err
    except LookupError as err:
        raise BadParams(f"{encoding!r} is not a text encoding", param="encoding") from err


def read_file(ctx: CallContext) -> Reply | dict[str, Any]:
    """files.read {path, encoding?="utf-8"|null, offset?, length?, errors?}.

    With an encoding, returns ``text`` (at most :data:`TEXT_MAX` bytes of the
    file); with ``encoding: null``, the bytes as reply data (at most
    :data:`CHUNK_MAX`).  Raises BadParams (range too large, undecodable text,
    unknown encoding), NotFound, IsADirectory, Forbidden, PermissionDenied.
    """
    path = _path_param(ctx.params)
    encoding = _text_codec(ctx.params)
    errors = get_str(ctx.params, "errors", "strict")
    if errors not in _ERRORS_CHOICES:
        raise BadParams("errors must be 'strict' or 'replace'", param="errors")
    offset = get_int(ctx.params, "offset", 0, minimum=0, maximum=1 << 62)
    limit = TEXT_MAX if encoding is not None else CHUNK_MAX
    length_param = ctx.params.get("length")
    length = None if length_param is None else get_int(ctx.params, "length", minimum=0, maximum=limit)
    guard = _guard(ctx)
    try:
        with guard.locate(path) as loc:
            fd, st = guard.open_file(loc)
            try:
                available = max(0, st.st_size - offset)
                if length is None:
                    if available > limit:
                        raise BadParams(f"{path}: {available} bytes from offset {offset}, more than the {limit} "
                                        "one read may return; give offset and length, or download the file",
                                        param="length")
                    length = available
                data = _pread_exact(fd, length, offset)
            finally:
                os.close(fd)
    except OSError as err:
        raise _os_error(err, path) from err
    sha = hashlib.sha256(data).hexdigest()
    ctx.journal_details.update(bytes=len(data), sha256=sha, offset=offset)
    result: dict[str, Any] = {"path": _clean(loc.path), "size": st.st_size, "offset": offset, "length": len(data),
                              "sha256": sha}
    if encoding is None:
        return Reply(result, data)
    text = _decode(data, encoding, errors, path, offset)
    if len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) > TEXT_JSON_MAX:
        raise BadParams(f"{path}: too many special characters to send as text; read it as bytes")
    result["text"] = text
    result["encoding"] = encoding
    return result


def write_file(ctx: CallContext) -> dict[str, Any]:
    """files.write {path, text? | request data, encoding?, overwrite?=true}.

    Writes atomically; the old content is kept for undo.  Raises BadParams
    (neither or both of text and data, unencodable text, too large),
    AlreadyExists (overwrite false), IsADirectory, NotFound (folder missing),
    Forbidden, PermissionDenied, NoSpace.
    """
    path = _path_param(ctx.params)
    overwrite = get_bool(ctx.params, "overwrite", True)
    has_text = "text" in ctx.params
    if has_text == (ctx.data is not None):
        raise BadParams("give either 'text' or bytes as request data, not both or neither", param="text")
    if has_text:
        encoding = _text_codec(ctx.params) or "utf-8"
        text = get_str(ctx.params, "text", max_length=TEXT_MAX, allow_nul=True)
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError as err:
            raise BadParams(f"the text cannot be written in {encoding}: {err.reason} at character {err.start}",
                            param="encoding") from err
    else:
        assert ctx.data is not None
        data = ctx.data
    if len(data) > TEXT_MAX:
        raise BadParams(f"{len(data)} bytes is more than one write takes ({TEXT_MAX}); upload the file",
                        param="text")
    guard = _guard(ctx)
    try:
        with guard.locate(path) as loc:
            return _replace(ctx, guard, loc, _writer(data), overwrite=overwrite, summary=f"changed {loc.path}")
    except OSError as err:
        raise _os_error(err, path) from err


def edit_file(ctx: CallContext) -> dict[str, Any]:
    """files.edit {path, old, new, encoding?}: replace the one occurrence of *old* by *new*.

    Returns a unified ``diff``.  Raises Conflict when *old* is absent or found
    more than once (nothing is changed), BadParams (empty old, undecodable
    file, file larger than :data:`TEXT_MAX`), and the errors of files.write.
    """
    path = _path_param(ctx.params)
    old_text = get_str(ctx.params, "old", max_length=TEXT_MAX, allow_nul=True)
    new_text = get_str(ctx.params, "new", max_length=TEXT_MAX, allow_nul=True)
    encoding = _text_codec(ctx.params) or "utf-8"
    if not old_text:
        raise BadParams("'old' must not be empty", param="old")
    guard = _guard(ctx)
    try:
        with guard.locate(path) as loc:
            fd, st = guard.open_file(loc)
            try:
                if st.st_size > TEXT_MAX:
                    raise BadParams(f"{path}: {st.st_size} bytes is too large to edit here; download it")
                current = _decode(_pread_exact(fd, st.st_size, 0), encoding, "strict", path)
                count = current.count(old_text)
                if count == 0 and "\r\n" in current and "\n" in old_text and "\r\n" not in old_text:
                    old_text, new_text = old_text.replace("\n", "\r\n"), new_text.replace("\n", "\r\n")
                    count = current.count(old_text)
                if count == 0:
                    raise Conflict(f"{path}: the text to replace was not found; nothing was changed")
                if count > 1:
                    raise Conflict(f"{path}: the text to replace was found {count} times; include more "
                                   "around it so that it is found once; nothing was changed")
                updated = current.replace(old_text, new_text, 1)
                try:
                    data = updated.encode(encoding)
                except UnicodeEncodeError as err:
                    raise BadParams(f"the new text cannot be written in {encoding}", param="new") from err
                result = _replace(ctx, guard, loc, _writer(data), overwrite=True, summary=f"edited {loc.path}",
                                  old=(fd, st))
            finally:
                os.close(fd)
    except OSError as err:
        raise _os_error(err, path) from err
    shown = _clean(loc.path)
    diff = "".join(difflib.unified_diff(current.splitlines(keepends=True), updated.splitlines(keepends=True),
                                        fromfile=shown, tofile=shown))
    result["diff"] = diff if len(diff) <= DIFF_MAX else diff[:DIFF_MAX] + "\n… (diff cut)\n"
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


def _free_target(guard: Guard, change: _Change, loc: Location, overwrite: bool, src_is_dir: bool) -> None:
    """Make sure *loc* may receive a moved or copied entry; keep a file it replaces."""
    assert loc.name is not None
    st = guard.entry(loc)
    if st is None:
        return
    if not overwrite:
        raise AlreadyExists(f"{loc.requested}: already exists (use overwrite to replace a file)")
    if stat.S_ISDIR(st.st_mode) or src_is_dir:
        raise AlreadyExists(f"{loc.requested}: already exists; folders are never replaced")
    if stat.S_ISLNK(st.st_mode):  # the link itself is kept, not what it points to
        change.steps.append({"kind": "replaced", "path": loc.path, "item": change.keep_link(loc.parent, loc.name),
                             "before": None, "after": None})
        return
    fd, opened = guard.open_file(loc)
    try:
        item = change.keep_file(loc.parent, loc.name, fd, opened)
        change.steps.append({"kind": "replaced", "path": loc.path, "item": item, "before": _sha_fd(fd),
                             "after": None})
    finally:
        os.close(fd)


def _to_trash(guard: Guard, change: _Change, loc: Location, st: os.stat_result) -> None:
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
            _copy_entry(guard, loc, st, items, item)
            _remove_tree(loc.parent, loc.name, guard, loc.requested)
        os.fsync(items)
        os.fsync(loc.parent)
    finally:
        os.close(items)


def _copy_entry(guard: Guard, loc: Location, st: os.stat_result, dst_parent: int, dst_name: str) -> _CopyStats:
    """Copy the entry *loc* (lstat *st*) to *dst_name*, through a temporary name, atomically."""
    assert loc.name is not None
    stats = _CopyStats()
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(loc.name, dir_fd=loc.parent), dst_name, dir_fd=dst_parent)
        return stats
    if stat.S_ISDIR(st.st_mode):
        temp = f".{dst_name[:40]}.wb-{secrets.token_hex(4)}.copy"
        src = guard.open_dir(loc)
        try:
            if Identity.of(os.fstat(src)) in ancestors(dst_parent) | {Identity.of(os.fstat(dst_parent))}:
                raise BadParams(f"{loc.requested}: a folder cannot be copied into itself")
            _copy_tree(guard, src, loc.requested, dst_parent, temp, stats)
            os.rename(temp, dst_name, src_dir_fd=dst_parent, dst_dir_fd=dst_parent)
        except BaseException:
            with contextlib.suppress(OSError):
                _remove_tree(dst_parent, temp)
            raise
        finally:
            os.close(src)
        os.fsync(dst_parent)
        return stats
    fd, opened = guard.open_file(loc)
    try:
        temp, out = _new_temp(dst_parent, dst_name)
        try:
            stats.bytes, _ = _copy_fd(fd, out)
            _match_owner(out, opened, mode=stat.S_IMODE(opened.st_mode))
            os.fsync(out)
            os.rename(temp, dst_name, src_dir_fd=dst_parent, dst_dir_fd=dst_parent)
        except BaseException:
            _unlink_quietly(dst_parent, temp)
            raise
        finally:
            os.close(out)
    finally:
        os.close(fd)
    stats.files = 1
    os.fsync(dst_parent)
    return stats


def move_path(ctx: CallContext) -> dict[str, Any]:
    """files.move {src, dst, overwrite?=false}: rename, or copy and remove across devices.

    ``dst`` ending with a separator means "into that folder".  A file replaced
    at ``dst`` is kept for undo; folders are never replaced.  Raises Forbidden
    (into or out of a protected folder, or moving a folder that holds one),
    AlreadyExists, NotFound, BadParams (a folder into itself), PermissionDenied,
    NoSpace.
    """
    src = _path_param(ctx.params, "src")
    dst = _path_param(ctx.params, "dst")
    overwrite = get_bool(ctx.params, "overwrite", False)
    guard = _guard(ctx)
    store = _store(ctx)
    try:
        with store.lock, guard.locate(src, follow=False) as source:
            name, st = _named_entry(guard, source, src)
            guard.check_special(st, src)
            guard.check_movable(source, st)
            with _target(guard, dst, name) as target:
                assert target.name is not None
                change = _Change(store, ctx.method, f"moved {source.path} to {target.path}")
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
                        _copy_entry(guard, source, st, target.parent, target.name)
                        change.steps.append({"kind": "created", "path": target.path, "after": None})
                        _to_trash(guard, change, source, st)
                    change.record()
                except BaseException:
                    change.abandon()
                    raise
                change.done()
                return {"src": _clean(source.path), "dst": _clean(target.path), "kind": _kind(st)}
    except OSError as err:
        raise _os_error(err, f"{src} → {dst}") from err


def copy_path(ctx: CallContext) -> dict[str, Any]:
    """files.copy {src, dst, overwrite?=false}: copy a file or a folder tree.

    The copy appears at once when complete (built under a temporary name).
    Links inside a copied folder are copied as links; devices, pipes and
    sockets are skipped (counted in ``skipped``).  Raises Forbidden (from or
    into a protected folder, or a tree holding one), AlreadyExists, NotFound,
    BadParams (a folder into itself), PermissionDenied, NoSpace.
    """
    src = _path_param(ctx.params, "src")
    dst = _path_param(ctx.params, "dst")
    overwrite = get_bool(ctx.params, "overwrite", False)
    guard = _guard(ctx)
    store = _store(ctx)
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
                change = _Change(store, ctx.method, f"copied {source.path} to {target.path}")
                try:
                    _free_target(guard, change, target, overwrite, stat.S_ISDIR(st.st_mode))
                    change.steps.append({"kind": "created", "path": target.path, "after": None})
                    change.record()
                    stats = _copy_entry(guard, source, st, target.parent, target.name)
                except BaseException:
                    change.abandon()
                    raise
                change.done()
    except OSError as err:
        raise _os_error(err, f"{src} → {dst}") from err
    ctx.journal_details.update(files=stats.files, folders=stats.folders, bytes=stats.bytes)
    return {"src": _clean(source.path), "dst": _clean(target.path), "files": stats.files, "folders": stats.folders,
            "bytes": stats.bytes, "skipped": stats.skipped}


def delete_path(ctx: CallContext) -> dict[str, Any]:
    """files.delete {path}: move a file or folder to the agent's trash (undo brings it back).

    A link is deleted itself, not what it points to.  Raises Forbidden (a
    protected folder, or one holding it), NotFound, PermissionDenied, NoSpace
    (a copy to the trash across devices did not fit; nothing was deleted).
    """
    path = _path_param(ctx.params)
    guard = _guard(ctx)
    store = _store(ctx)
    try:
        with store.lock, guard.locate(path, follow=False) as loc:
            _, st = _named_entry(guard, loc, path)
            guard.check_movable(loc, st)
            change = _Change(store, ctx.method, f"deleted {loc.path}")
            try:
                _to_trash(guard, change, loc, st)
            except BaseException:
                change.abandon()
                raise
            change.done()
    except OSError as err:
        raise _os_error(err, path) from err
    return {"path": _clean(loc.path), "kind": _kind(st), "recoverable": True}


def make_folder(ctx: CallContext) -> dict[str, Any]:
    """files.mkdir {path, parents?=false, exist_ok?=false}: create a folder (and its parents).

    Raises AlreadyExists, NotFound (a parent missing without ``parents``),
    NotADirectory, Forbidden, PermissionDenied, BadParams.
    """
    path = _path_param(ctx.params)
    parents = get_bool(ctx.params, "parents", False)
    exist_ok = get_bool(ctx.params, "exist_ok", False)
    guard = _guard(ctx)
    store = _store(ctx)
    parsed = guard.parse(path)
    prefixes = [paths.ParsedPath(parsed.flavour, parsed.anchor, parsed.parts[:i])
                for i in range(1, len(parsed.parts) + 1)] if parents else [parsed]
    created: list[str] = []
    try:
        with store.lock:
            change = _Change(store, ctx.method, f"created the folder {path}")
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
                        change.steps.append({"kind": "created", "path": loc.path, "after": None})
                        change.record()
                        os.mkdir(loc.name, 0o777, dir_fd=loc.parent)
                        if os.geteuid() == 0:
                            owner = os.fstat(loc.parent)
                            with contextlib.suppress(OSError):
                                os.chown(loc.name, owner.st_uid, owner.st_gid, dir_fd=loc.parent,
                                         follow_symlinks=False)
                        os.fsync(loc.parent)
                        created.append(_clean(loc.path))
            except BaseException:
                if not created:
                    change.abandon()
                raise
            if created:
                change.done()
            else:
                change.abandon()
    except OSError as err:
        raise _os_error(err, path) from err
    return {"path": _clean(path), "created": created}


# -------------------------------------------------------------------- undo


def _undo_step(guard: Guard, store: _Store, step: dict[str, Any], seq: int) -> None:
    kind = step.get("kind")
    if kind == "moved":
        with guard.locate(str(step["to"]), follow=False) as now, guard.locate(str(step["from"]), follow=False) as was:
            assert now.name is not None and was.name is not None
            now_st, was_st = guard.entry(now), guard.entry(was)
            if now_st is None and was_st is not None:
                return  # already back
            if now_st is None:
                raise Conflict(f"{now.path} is gone; it cannot be moved back")
            if was_st is not None:
                raise Conflict(f"{was.path} exists again; it was not replaced")
            guard.check_movable(now, now_st)
            os.rename(now.name, was.name, src_dir_fd=now.parent, dst_dir_fd=was.parent)
            os.fsync(was.parent)
            os.fsync(now.parent)
        return
    with guard.locate(str(step["path"]), follow=False) as loc:
        assert loc.name is not None
        st = guard.entry(loc)
        if kind == "created":
            if st is None:
                return
            guard.check_movable(loc, st)
            if stat.S_ISREG(st.st_mode) and step.get("after"):
                fd, _ = guard.open_file(loc)
                try:
                    if _sha_fd(fd) != step["after"]:
                        raise Conflict(f"{loc.path} changed since; it was left as it is")
                finally:
                    os.close(fd)
            # Created things go to the trash, not to oblivion: undo never destroys.
            items = store.items_fd()
            try:
                os.rename(loc.name, f"{seq:08d}-undone-{secrets.token_hex(3)}", src_dir_fd=loc.parent,
                          dst_dir_fd=items)
            except OSError as err:
                if err.errno != errno.EXDEV:
                    raise
                _remove_tree(loc.parent, loc.name, guard, loc.requested)
            finally:
                os.close(items)
            os.fsync(loc.parent)
            return
        if kind == "replaced":
            if st is not None and stat.S_ISREG(st.st_mode):
                fd, _ = guard.open_file(loc)
                try:
                    current = _sha_fd(fd)
                finally:
                    os.close(fd)
                if current == step.get("before"):
                    return  # the change never took effect (or is already undone)
                if step.get("after") is not None and current != step["after"]:
                    raise Conflict(f"{loc.path} changed since; it was left as it is")
            elif st is not None and not stat.S_ISLNK(st.st_mode):
                raise Conflict(f"{loc.path} is no longer a file; it was left as it is")
            _put_back(store, str(step["item"]), loc)
            return
        if kind == "deleted":
            if st is not None:
                raise Conflict(f"{loc.path} exists again; the deleted one was not put back")
            _put_back(store, str(step["item"]), loc)
            return
    raise Conflict(f"unknown step {kind!r} in change {seq}")


def _put_back(store: _Store, item: str, loc: Location) -> None:
    """Move a kept item back to *loc* (copying across devices), replacing a file there atomically."""
    assert loc.name is not None
    items = store.items_fd()
    try:
        try:
            os.rename(item, loc.name, src_dir_fd=items, dst_dir_fd=loc.parent)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            kept = os.stat(item, dir_fd=items, follow_symlinks=False)
            temp = f".{loc.name[:40]}.wb-{secrets.token_hex(4)}.undo"
            if stat.S_ISDIR(kept.st_mode):
                src = os.open(item, DIR_FLAGS, dir_fd=items)
                try:
                    unguarded = Guard(None)
                    _copy_tree(unguarded, src, item, loc.parent, temp, _CopyStats())
                finally:
                    os.close(src)
            elif stat.S_ISLNK(kept.st_mode):
                os.symlink(os.readlink(item, dir_fd=items), temp, dir_fd=loc.parent)
            else:
                src = os.open(item, FILE_FLAGS, dir_fd=items)
                out = os.open(temp, _NEW_FILE_FLAGS, 0o600, dir_fd=loc.parent)
                try:
                    _copy_fd(src, out)
                    _match_owner(out, kept, mode=stat.S_IMODE(kept.st_mode))
                    os.fsync(out)
                finally:
                    os.close(src)
                    os.close(out)
            os.rename(temp, loc.name, src_dir_fd=loc.parent, dst_dir_fd=loc.parent)
        os.fsync(loc.parent)
    finally:
        os.close(items)


def undo(ctx: CallContext) -> dict[str, Any]:
    """files.undo {}: undo the newest recorded change.

    Raises NotFound when there is nothing to undo, Conflict when the files
    changed since (nothing is undone then), Forbidden when a path is now in
    a protected folder.
    """
    guard = _guard(ctx)
    store = _store(ctx)
    with store.lock:
        for seq in reversed(store.records()):
            record = store.read_record(seq)
            if not record.get("undone"):
                break
        else:
            raise NotFound("there is no change to undo")
        steps = list(record.get("steps", []))
        try:
            for step in reversed(steps):
                _undo_step(guard, store, step, seq)
        except OSError as err:
            raise _os_error(err, "undo") from err
        # Kept, marked: what the undo set aside stays recoverable until the record is pruned.
        record["undone"] = dt.datetime.now(dt.timezone.utc).isoformat()
        store.write_record(record)
    ctx.journal_details.update(undone=record.get("method"), change=seq)
    return {"undone": record.get("method"), "summary": _clean(str(record.get("summary", ""))),
            "time": record.get("time")}


# --------------------------------------------------------------- downloads


def _transfer_id() -> str:
    return secrets.token_hex(8)


def download_open(ctx: CallContext) -> dict[str, Any]:
    """files.download_open {path}: open a file for chunked download.

    Returns ``id``, ``size``, ``modified`` and ``chunk_max``; the sha256 of the
    whole file comes with the chunk that reaches the end.  Raises NotFound,
    IsADirectory, Forbidden, PermissionDenied, BadParams.
    """
    path = _path_param(ctx.params)
    guard = _guard(ctx)
    parsed = guard.parse(path)
    try:
        with guard.locate(parsed) as loc:
            fd, st = guard.open_file(loc)
    except OSError as err:
        raise _os_error(err, path) from err
    download = _Download(_transfer_id(), path, parsed, loc.path, fd, st.st_size, Identity.of(st), guard.generation)
    _store(ctx).add_download(download)
    ctx.journal_details.update(download=download.id, size=st.st_size)
    return {"id": download.id, "path": _clean(loc.path), "size": st.st_size, "modified": _iso(st.st_mtime),
            "chunk_max": CHUNK_MAX}


def _get_download(ctx: CallContext) -> _Download:
    transfer = get_str(ctx.params, "id", max_length=64)
    store = _store(ctx)
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
    guard = _guard(ctx)
    with guard.locate(parsed) as loc:
        fd, st = guard.open_file(loc)
        os.close(fd)
    if Identity.of(st) != identity:
        raise Conflict(f"{parsed}: the file was replaced during the transfer")
    return guard.generation


def download_chunk(ctx: CallContext) -> Reply:
    """files.download_chunk {id, offset, length}: bytes of an open download, as reply data.

    Reads only the asked range (at most :data:`CHUNK_MAX`).  The reply has
    ``eof`` and, with the chunk reaching the end, ``sha256`` of the whole file.
    Raises NotFound (unknown id), BadParams, Conflict (the file shrank or was
    replaced), Forbidden (the customer protected its folder meanwhile).
    """
    download = _get_download(ctx)
    offset = get_int(ctx.params, "offset", minimum=0, maximum=1 << 62)
    length = get_int(ctx.params, "length", CHUNK_MAX, minimum=0, maximum=CHUNK_MAX)
    _check_path_words(ctx, download.requested, download.path)
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
            data = _pread_exact(download.fd, length, offset)
            if len(data) != length:
                raise Conflict(f"{download.path}: the file became shorter during the download")
            if download.hashed < offset <= download.hashed + _CATCH_UP_MAX:
                # Served just ahead of a chunk still in flight (worker threads take them in any order):
                # hash the small gap now, or every later chunk would be skipped and the whole rest
                # read and hashed again by the last call.  A resumed download's large gap still waits.
                download.hashed = _hash_range(download.fd, download.hashed, offset, download.hasher)
            if offset <= download.hashed < offset + length:
                download.hasher.update(memoryview(data)[download.hashed - offset:])
                download.hashed = offset + length
            eof = offset + length >= download.size
            result: dict[str, Any] = {"offset": offset, "length": length, "eof": eof}
            if eof:
                if download.sha256 is None:
                    reached = _hash_range(download.fd, download.hashed, download.size, download.hasher)
                    if reached != download.size:
                        raise Conflict(f"{download.path}: the file became shorter during the download")
                    download.hashed = reached
                    download.sha256 = download.hasher.hexdigest()
                result["sha256"] = download.sha256
                ctx.journal_details.update(sha256=download.sha256)
    except OSError as err:
        raise _os_error(err, download.path) from err
    ctx.journal_details.update(offset=offset, bytes=length)
    return Reply(result, data)


def download_close(ctx: CallContext) -> dict[str, Any]:
    """files.download_close {id}: release an open download (unknown ids are ignored)."""
    transfer = get_str(ctx.params, "id", max_length=64)
    store = _store(ctx)
    with store.transfers_lock:
        download = store.downloads.pop(transfer, None)
    if download is not None:
        with download.lock:
            if download.fd >= 0:
                os.close(download.fd)
                download.fd = -1
    return {"closed": download is not None}


def _check_path_words(ctx: CallContext, requested: str, actual: str) -> None:
    """A chunk call may carry its path for the customer's words; it must be the truth."""
    claimed = ctx.params.get("path")
    if claimed is not None and claimed not in (requested, actual):
        raise BadParams("'path' differs from the file this transfer was opened for", param="path")


# ----------------------------------------------------------------- uploads


def upload_open(ctx: CallContext) -> dict[str, Any]:
    """files.upload_open {path, size, overwrite?=false, sha256?}: start an upload.

    Space for *size* bytes is reserved where the file system allows, so a
    full disk is found now.  Raises AlreadyExists, IsADirectory, NotFound (the
    folder), Forbidden, PermissionDenied, NoSpace, BadParams, Conflict (too
    many uploads open).
    """
    path = _path_param(ctx.params)
    size = get_int(ctx.params, "size", minimum=0, maximum=UPLOAD_MAX)
    overwrite = get_bool(ctx.params, "overwrite", False)
    expected = ctx.params.get("sha256")
    if expected is not None:
        expected = get_str(ctx.params, "sha256", max_length=64).lower()
    guard = _guard(ctx)
    parsed = guard.parse(path)
    try:
        with guard.locate(parsed) as loc:
            if loc.name is None:
                raise IsADirectory(f"{path}: is a folder")
            st = guard.entry(loc)
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectory(f"{path}: is a folder")
                if not overwrite:
                    raise AlreadyExists(f"{path}: already exists (use overwrite to replace it)")
                fd, _ = guard.open_file(loc)  # the checks of a read: is it allowed at all?
                os.close(fd)
            paths.check_name(loc.name, guard.flavour)
            temp, temp_fd = _new_temp(loc.parent, loc.name, "part")
            try:
                if size:
                    try:
                        os.posix_fallocate(temp_fd, 0, size)
                    except OSError as err:
                        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                            raise
                parent = os.dup(loc.parent)
            except BaseException:
                os.close(temp_fd)
                _unlink_quietly(loc.parent, temp)
                raise
            upload = _Upload(_transfer_id(), path, parsed, loc.path, parent, Identity.of(os.fstat(parent)), loc.name,
                             temp, temp_fd, size, overwrite, expected, guard.generation)
            try:
                _store(ctx).add_upload(upload)
            except BaseException:
                upload.close(remove=True)
                raise
    except OSError as err:
        raise _os_error(err, path) from err
    ctx.journal_details.update(upload=upload.id, size=size)
    return {"id": upload.id, "path": _clean(upload.path), "size": size, "received": 0, "chunk_max": CHUNK_MAX}


def _get_upload(ctx: CallContext) -> _Upload:
    transfer = get_str(ctx.params, "id", max_length=64)
    store = _store(ctx)
    with store.transfers_lock:
        upload = store.uploads.get(transfer)
    if upload is None:
        raise NotFound(f"no open upload {transfer!r}; start it again")
    return upload


def _drop_upload(ctx: CallContext, upload: _Upload, remove: bool) -> None:
    store = _store(ctx)
    with store.transfers_lock:
        store.uploads.pop(upload.id, None)
    upload.close(remove)


def _recheck_upload(ctx: CallContext, upload: _Upload) -> None:
    folders = ctx.policy.forbidden_folders
    if (folders.generation if folders is not None else 0) == upload.generation:
        return
    guard = _guard(ctx)
    try:
        with guard.locate(upload.parsed) as loc:
            if Identity.of(os.fstat(loc.parent)) != upload.parent_identity:
                raise Conflict(f"{upload.path}: its folder was moved during the upload")
    except Forbidden:
        _drop_upload(ctx, upload, remove=True)
        raise
    upload.generation = guard.generation


def _add_range(ranges: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted([*ranges, (start, end)]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def upload_chunk(ctx: CallContext) -> dict[str, Any]:
    """files.upload_chunk {id, offset} + data: write a chunk (any order, re-sending is harmless).

    Returns ``received``: how many bytes from the start have arrived.  Raises
    NotFound (unknown id), BadParams (no data, too large, past the size),
    Conflict (a re-sent chunk differs from what arrived), NoSpace, Forbidden.
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
    _check_path_words(ctx, upload.requested, upload.path)
    _recheck_upload(ctx, upload)
    try:
        with upload.lock:
            if upload.fd < 0:
                raise NotFound("the upload was closed; start it again")
            if offset < upload.hashed:
                overlap = min(len(data), upload.hashed - offset)
                if _pread_exact(upload.fd, overlap, offset) != data[:overlap]:
                    raise Conflict("a re-sent chunk differs from the bytes received before")
            _write_all(upload.fd, data, offset)
            upload.ranges = _add_range(upload.ranges, offset, offset + len(data))
            if offset <= upload.hashed < offset + len(data):
                upload.hasher.update(memoryview(data)[upload.hashed - offset:])
                upload.hashed = offset + len(data)
            if upload.received > upload.hashed:
                upload.hashed = _hash_range(upload.fd, upload.hashed, upload.received, upload.hasher)
            received = upload.received
    except OSError as err:
        raise _os_error(err, upload.path) from err
    ctx.journal_details.update(offset=offset, bytes=len(data))
    return {"received": received}


def upload_status(ctx: CallContext) -> dict[str, Any]:
    """files.upload_status {id}: ``received`` bytes in order (resume from there) and ``size``."""
    upload = _get_upload(ctx)
    with upload.lock:
        return {"id": upload.id, "path": _clean(upload.path), "size": upload.size, "received": upload.received}


def upload_finish(ctx: CallContext) -> dict[str, Any]:
    """files.upload_finish {id, sha256?}: check and put the uploaded file in place atomically.

    The sha256 (given here or at open) must match the bytes received, or the
    upload is discarded and Conflict raised.  Raises Conflict (bytes missing,
    hash mismatch, folder moved), AlreadyExists, Forbidden, NoSpace.
    """
    upload = _get_upload(ctx)
    given = ctx.params.get("sha256")
    expected = get_str(ctx.params, "sha256", max_length=64).lower() if given is not None else upload.expected
    _recheck_upload(ctx, upload)
    guard = _guard(ctx)
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
                if Identity.of(os.fstat(loc.parent)) != upload.parent_identity or loc.name != upload.name:
                    raise Conflict(f"{upload.path}: its folder was moved or replaced during the upload")
                os.ftruncate(upload.fd, upload.size)

                def content(fd: int) -> tuple[int, str]:
                    return upload.size, actual

                temp, upload.fd = (upload.temp, upload.fd), -1  # _replace takes it over
                result = _replace(ctx, guard, loc, content, overwrite=upload.overwrite,
                                  summary=f"uploaded {loc.path}", temp=temp)
        except OSError as err:
            _drop_upload(ctx, upload, remove=True)
            raise _os_error(err, upload.path) from err
        except BaseException:
            _drop_upload(ctx, upload, remove=True)
            raise
        _drop_upload(ctx, upload, remove=False)
    return result


def upload_abort(ctx: CallContext) -> dict[str, Any]:
    """files.upload_abort {id}: discard an upload and its temporary file (unknown ids are ignored)."""
    transfer = get_str(ctx.params, "id", max_length=64)
    store = _store(ctx)
    with store.transfers_lock:
        upload = store.uploads.pop(transfer, None)
    if upload is not None:
        with upload.lock:
            upload.close(remove=True)
    return {"aborted": upload is not None}


# ------------------------------------------------------------ method table


def _said(template: str, *names: str) -> Callable[[dict[str, Any]], str]:
    def describe(params: dict[str, Any]) -> str:
        return template.format(*(_show(params, name) for name in names))
    return describe


def _read_words(params: dict[str, Any]) -> str:
    where = _show(params, "path")
    if "offset" in params or "length" in params:
        return f"The technician read part of the file {where}"
    return f"The technician read the file {where}"


def _chunk_words(verb: str) -> Callable[[dict[str, Any]], str]:
    def describe(params: dict[str, Any]) -> str:
        where = _show(params, "path") if isinstance(params.get("path"), str) else "a file"
        return f"The technician {verb} {where} (part starting at byte {params.get('offset', 0)})"
    return describe


def _iter_methods() -> Iterator[Method]:
    yield Method("files.list", list_folder, "files", _said("The technician looked at the list of files in {}", "path"))
    yield Method("files.stat", stat_path, "files",
                 _said("The technician looked at the size and dates of {}", "path"))
    yield Method("files.read", read_file, "files", _read_words)
    yield Method("files.write", write_file, "files", _said("The technician changed the file {}", "path"))
    yield Method("files.edit", edit_file, "files", _said("The technician edited the file {}", "path"))
    yield Method("files.move", move_path, "files", _said("The technician moved {} to {}", "src", "dst"))
    yield Method("files.copy", copy_path, "files", _said("The technician copied {} to {}", "src", "dst"))
    yield Method("files.delete", delete_path, "files",
                 _said("The technician deleted {} (kept in the agent's trash, it can be restored)", "path"))
    yield Method("files.mkdir", make_folder, "files", _said("The technician created the folder {}", "path"))
    yield Method("files.undo", undo, "files", lambda params: "The technician undid their last change to your files")
    yield Method("files.download_open", download_open, "files",
                 _said("The technician started copying the file {} from your computer", "path"))
    yield Method("files.download_chunk", download_chunk, "files", _chunk_words("copied part of the file"))
    yield Method("files.download_close", download_close, "files",
                 lambda params: "The technician finished copying a file from your computer")
    yield Method("files.upload_open", upload_open, "files",
                 _said("The technician started sending a file to your computer, to be saved as {}", "path"))
    yield Method("files.upload_chunk", upload_chunk, "files", _chunk_words("sent part of the file"))
    yield Method("files.upload_status", upload_status, "files",
                 lambda params: "The technician checked how much of a file they sent has arrived")
    yield Method("files.upload_finish", upload_finish, "files",
                 lambda params: "The technician finished sending a file; it was checked and saved")
    yield Method("files.upload_abort", upload_abort, "files",
                 lambda params: "The technician cancelled sending a file; nothing was saved")


METHODS: list[Method] = list(_iter_methods())
