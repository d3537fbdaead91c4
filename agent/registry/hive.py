"""Offline hive files: a registry backend over a REGF file the technician opened on purpose.

A hive copied from a broken PC is a classic support case: the technician
opens it with ``registry.open_hive(path)`` and reads or repairs it like the
live registry.  Paths are relative to the hive's root key (``""`` is the root).

The file is reached through :class:`agent.forbidden.Guard` at every call, so
a hive inside a folder the customer protected (or the agent's own folders)
is refused with ``Forbidden`` however it is spelled, and nothing is read
through a link swapped in between.  Every change is atomic on the file:

1. the hive is copied beside itself (a hidden temporary file, same folder);
2. the change is planned on that copy and written into it
   (:class:`~agent.registry.regf_edit.HiveEditor`: new cells in one new bin, fixed
   fields patched, nothing else touched), then fsync'ed;
3. if the original changed meanwhile, ``Conflict`` and nothing is replaced;
   else the copy is renamed over the original and the folder fsync'ed.

So a failed or interrupted change leaves the original exactly as it was.
Undo keeps a copy of the whole file (taken before the change, under the
agent's state directory) and puts it back the same atomic way.

Writes are refused (``Conflict``) for a *dirty* hive (its sequence numbers
differ: its last changes are still in the ``.LOG1``/``.LOG2`` files beside it,
and Windows would replay them over ours), for a bad header checksum, or for a
file shorter than its header says; such hives can still be read.

Availability: where :class:`agent.forbidden.Guard` is (Linux, macOS); on
Windows ``open_hive`` raises ``Unsupported`` until the guard exists there.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agent.forbidden import Guard
from agent.registry.backend import KeyListing, Scope
from agent.registry.model import RegValue, decode_windows, encode_windows
from agent.registry.paths import KeyPath, hive_mounts
from agent.registry.regf import HiveFormatError, HiveReader
from agent.registry.regf_edit import HiveEditor
from wire.errors import BadParams, Conflict, NotFound, from_os_error

_CHUNK: Final = 1024 * 1024
_TEMP_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class HiveInfo:
    """What ``open_hive`` reports about a hive file."""

    path: str
    root: str
    version: str
    embedded_name: str
    dirty: bool
    checksum_ok: bool
    truncated: bool

    @property
    def writable(self) -> bool:
        return not (self.dirty or self.truncated or not self.checksum_ok)

    def to_wire(self) -> dict[str, Any]:
        return {"path": self.path, "root": self.root, "version": self.version, "embedded_name": self.embedded_name,
                "dirty": self.dirty, "checksum_ok": self.checksum_ok, "truncated": self.truncated,
                "writable": self.writable}


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
                yield _reader(view, self.path)

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
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
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
        """Apply the change *plan* describes, atomically (see the module docstring)."""

        def fill(source: int, out: int) -> None:
            _copy(source, out)
            with mmap.mmap(out, 0, access=mmap.ACCESS_READ) as view:
                reader = _reader(view, self.path)
                _check_writable(reader, self.path)
                editor = HiveEditor(reader)
                try:
                    plan(editor)
                    patches, new_bin, base = editor.finish()
                except HiveFormatError as err:
                    raise BadParams(f"{self.path}: the hive is damaged: {err}", damaged=True) from err
                bins_end = 4096 + reader.base.bins_size
            for position, data in patches.items():
                os.pwrite(out, data, position)
            if new_bin:
                os.pwrite(out, new_bin, bins_end)
            os.pwrite(out, base, 0)

        self.replace(fill)

    def restore_from(self, source: Path, sha256: str) -> None:
        """Put back the copy at *source*, which must still hash to *sha256* (else ``Conflict``)."""

        def fill(_original: int, out: int) -> None:
            backup = os.open(source, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                if _copy(backup, out) != sha256:
                    raise Conflict("the backup copy of the hive was altered; it was not restored")
            finally:
                os.close(backup)

        self.replace(fill)


def _reader(view: mmap.mmap, path: str) -> HiveReader:
    try:
        return HiveReader(view)
    except HiveFormatError as err:
        raise BadParams(f"{path}: {err}", damaged=True) from err


def _check_writable(reader: HiveReader, path: str) -> None:
    base = reader.base
    if base.dirty:
        raise Conflict(f"{path}: this hive was not closed cleanly (its last changes are still in the .LOG1/.LOG2 "
                       "files beside it); it can be read but not changed here")
    if not base.checksum_ok:
        raise Conflict(f"{path}: the hive's header checksum is wrong; it can be read but not changed here")
    if reader.truncated:
        raise Conflict(f"{path}: the file is shorter than its header says; it can be read but not changed here")


def _describe_key(key: KeyPath) -> str:
    return "\\".join(key) or "(root)"


class HiveBackend:
    """A :class:`~agent.registry.backend.Backend` over one hive file.

    Raises, besides the guard's errors: ``NotFound`` (missing key or value),
    ``BadParams`` (not a hive, a damaged one, deleting the root), ``Conflict``
    (a write to a hive that cannot take one, or that changed meanwhile).
    """

    kind = "hive"
    separator = "\\"
    atomic = True

    def __init__(self, file: HiveFile) -> None:
        self.file = file
        with file.reading() as reader:
            base = reader.base
            self.info = HiveInfo(file.physical, reader.root.name, f"{base.major}.{base.minor}", base.embedded_name,
                                 base.dirty, base.checksum_ok, reader.truncated)

    def display(self, key: KeyPath) -> str:
        return "\\".join(key)

    def policy_names(self, key: KeyPath) -> list[KeyPath]:
        names: list[KeyPath] = [(self.file.physical, *key), (self.file.path, *key)]
        names.extend((*mount, *key) for mount in hive_mounts(os.path.basename(self.file.physical),
                                                             self.info.embedded_name))
        return names

    @contextlib.contextmanager
    def _read(self) -> Iterator[HiveReader]:
        with self.file.reading() as reader:
            try:
                yield reader
            except HiveFormatError as err:
                raise BadParams(f"{self.file.path}: the hive is damaged: {err}", damaged=True) from err

    def _find(self, reader: HiveReader, key: KeyPath) -> Any:
        try:
            return reader.find(key)
        except KeyError:
            raise NotFound(f"no key {_describe_key(key)} in {self.file.path}") from None

    def exists(self, key: KeyPath) -> bool:
        with self._read() as reader:
            return len(reader.walk(key)) == len(key) + 1

    def keys(self, key: KeyPath) -> list[str]:
        with self._read() as reader:
            return [child.name for child in reader.subkeys(self._find(reader, key))]

    def values(self, key: KeyPath) -> list[RegValue]:
        with self._read() as reader:
            return [decode_windows(value.name, value.type, reader.data(value))
                    for value in reader.values(self._find(reader, key))]

    def get(self, key: KeyPath, name: str) -> RegValue:
        with self._read() as reader:
            value = reader.find_value(self._find(reader, key), name)
            if value is None:
                raise NotFound(f"no value {name!r} in {_describe_key(key)} of {self.file.path}")
            return decode_windows(value.name, value.type, reader.data(value))

    def walk(self, key: KeyPath, skip: Callable[[KeyPath], bool]) -> Iterator[KeyListing]:
        with self._read() as reader:
            pending = [(key, self._find(reader, key))]
            while pending:
                current, node = pending.pop()
                if current != key and skip(current):
                    yield KeyListing(current, [], [], skipped=True)
                    continue
                children = reader.subkeys(node)
                values = [decode_windows(value.name, value.type, reader.data(value)) for value in reader.values(node)]
                yield KeyListing(current, values, [child.name for child in children])
                pending.extend(((*current, child.name), child) for child in reversed(children))

    def _edit(self, plan: Callable[[HiveEditor], None], missing: str) -> None:
        try:
            self.file.edit(plan)
        except KeyError:
            raise NotFound(missing) from None
        except ValueError as err:  # what the format forbids, e.g. deleting the root
            raise BadParams(str(err)) from err

    def set(self, key: KeyPath, value: RegValue) -> None:
        number, raw = encode_windows(value)
        self._edit(lambda editor: editor.set_value(key, value.name, number, raw), "")

    def create_key(self, key: KeyPath) -> None:
        self._edit(lambda editor: editor.create_key(key), "")

    def delete_value(self, key: KeyPath, name: str) -> None:
        self._edit(lambda editor: editor.delete_value(key, name),
                   f"no value {name!r} in {_describe_key(key)} of {self.file.path}")

    def delete_key(self, key: KeyPath) -> None:
        self._edit(lambda editor: editor.delete_key(key), f"no key {_describe_key(key)} in {self.file.path}")

    def capture(self, scope: Scope, blobs: Path | None) -> Any:
        """The whole file stands for any scope: its hash, and a copy of it when *blobs* is given."""
        if blobs is None:
            return {"sha256": self.file.sha256()}
        return {"sha256": self.file.copy_to(blobs / "hive"), "file": "hive"}

    def restore(self, scope: Scope, state: Any, blobs: Path) -> None:
        self.file.restore_from(blobs / str(state["file"]), str(state["sha256"]))
