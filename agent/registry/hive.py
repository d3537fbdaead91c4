"""Offline hive files: a registry backend over a REGF file the technician opened on purpose.

A hive copied from a broken PC is a classic support case: the technician
opens it with ``registry.open_hive(path)`` and reads or repairs it like the
live registry.  Paths are relative to the hive's root key (``""`` is the root).

This module is the platform-free part: :class:`HiveBackend` reads and plans
changes with :mod:`~agent.registry.regf` and :mod:`~agent.registry.regf_edit`
over a :class:`HiveStore`, the file on disk.  The store reaches the file
through :class:`agent.forbidden.Guard` at every call, so a hive inside a
folder the customer protected (or the agent's own folders) is refused with
``Forbidden`` however it is spelled, and nothing is read through a link
swapped in between.  Every change is atomic on the file:

1. the hive is copied beside itself (a hidden temporary file, same folder);
2. the change is planned on that copy (:func:`planned_writes`:
   :class:`~agent.registry.regf_edit.HiveEditor` makes new cells in one new
   bin and patches fixed fields, nothing else touched) and written into it,
   then fsync'ed;
3. if the original changed meanwhile, ``Conflict`` and nothing is replaced;
   else the copy is renamed over the original and the folder fsync'ed.

So a failed or interrupted change leaves the original exactly as it was.
Undo keeps a copy of the whole file (taken before the change, under the
agent's state directory) and puts it back the same atomic way.

Writes are refused (``Conflict``) for a *dirty* hive (its sequence numbers
differ: its last changes are still in the ``.LOG1``/``.LOG2`` files beside it,
and Windows would replay them over ours), for a bad header checksum, or for a
file shorter than its header says; such hives can still be read.

Availability: this module, everywhere.  The store is
:class:`agent.registry._posix_hive_io.HiveFile` where the guard exists
(Linux, macOS); on Windows :func:`agent.registry.choice.open_hive_file`
raises ``Unsupported`` until the guard exists there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.registry.backend import KeyListing, Scope
from agent.registry.model import RegValue, decode_windows, encode_windows
from agent.registry.paths import KeyPath, hive_mounts
from agent.registry.regf import Buffer, HiveFormatError, HiveReader, KeyNode, name_key
from agent.registry.regf_edit import HiveEditor
from agent.registry.regf_salvage import KeyRead, Salvage
from wire.errors import BadParams, Conflict, NotFound


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


class HiveStore(Protocol):
    """The hive file on disk, as :class:`HiveBackend` uses it (one implementation per platform).

    Every method raises what the guard raises (``Forbidden``, ``NotFound``,
    ``IsADirectory``…), ``BadParams`` for a file that is not a hive (or a
    damaged one), ``Conflict`` when the file changed under a write or cannot
    take one (:func:`check_writable`), and the OS's errors translated by
    :func:`wire.errors.from_os_error`.
    """

    #: the path as the technician spelled it
    path: str
    #: the path walked to reach it last time, links resolved
    physical: str

    def reading(self) -> AbstractContextManager[HiveReader]:
        """A reader over the file as it is now (valid inside the ``with`` only)."""
        ...

    def sha256(self) -> str:
        """The sha256 of the file's bytes."""
        ...

    def copy_to(self, target: Path) -> str:
        """Copy the hive to *target* (fsync'ed); its sha256."""
        ...

    def edit(self, plan: Callable[[HiveEditor], None]) -> None:
        """Apply the change *plan* describes, atomically (see the module docstring)."""
        ...

    def restore_from(self, source: Path, sha256: str) -> None:
        """Put back the copy at *source*, which must still hash to *sha256* (else ``Conflict``)."""
        ...


def reader_over(view: Buffer, path: str) -> HiveReader:
    """A reader over *view* (bytes, or an ``mmap`` of the file); raises ``BadParams`` when they are not a hive."""
    try:
        return HiveReader(view)
    except HiveFormatError as err:
        raise BadParams(f"{path}: {err}", damaged=True) from err


def check_writable(reader: HiveReader, path: str) -> None:
    """Raise ``Conflict`` when the hive cannot take a change (dirty, bad checksum, truncated)."""
    base = reader.base
    if base.dirty:
        raise Conflict(f"{path}: this hive was not closed cleanly (its last changes are still in the .LOG1/.LOG2 "
                       "files beside it); it can be read but not changed here")
    if not base.checksum_ok:
        raise Conflict(f"{path}: the hive's header checksum is wrong; it can be read but not changed here")
    if reader.truncated:
        raise Conflict(f"{path}: the file is shorter than its header says; it can be read but not changed here")
    if reader.root_recovered:
        raise Conflict(f"{path}: the hive's header points to no root key; it can be read but not changed here")


def planned_writes(view: Buffer, path: str, plan: Callable[[HiveEditor], None]) -> list[tuple[int, bytes]]:
    """The writes (offset, bytes) that make the change *plan* describes in the hive copy *view*.

    Written in this order into the copy (the base block last), they give a
    valid hive.  Raises ``BadParams`` for a damaged hive, ``Conflict`` for one
    that cannot take a change (:func:`check_writable`), and what *plan* raises
    (``KeyError`` for a missing key or value, ``ValueError`` for what the
    format forbids).
    """
    reader = reader_over(view, path)
    check_writable(reader, path)
    editor = HiveEditor(reader)
    try:
        plan(editor)
        patches, new_bin, base = editor.finish()
    except HiveFormatError as err:
        raise BadParams(f"{path}: the hive is damaged: {err}", damaged=True) from err
    writes = list(patches.items())
    if new_bin:
        writes.append((4096 + reader.base.bins_size, new_bin))
    writes.append((0, base))
    return writes


def _describe_key(key: KeyPath) -> str:
    return "\\".join(key) or "(root)"


def _listing(key: KeyPath, read: KeyRead) -> KeyListing:
    return KeyListing(key, [decode_windows(value.name, value.type, raw) for value, raw in read.values],
                      [child.name for child in read.subkeys], damaged=tuple(read.notes))


class HiveBackend:
    """A :class:`~agent.registry.backend.Backend` over one hive file.

    Raises, besides the guard's errors: ``NotFound`` (missing key or value),
    ``BadParams`` (not a hive, a damaged one, deleting the root), ``Conflict``
    (a write to a hive that cannot take one, or that changed meanwhile).
    """

    kind = "hive"
    separator = "\\"
    atomic = True

    def __init__(self, file: HiveStore) -> None:
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
    def _read(self) -> Iterator[Salvage]:
        """The hive as it is now, read past damage (:mod:`~agent.registry.regf_salvage`)."""
        with self.file.reading() as reader:
            try:
                yield Salvage(reader)
            except HiveFormatError as err:
                raise BadParams(f"{self.file.path}: the hive is damaged: {err}", damaged=True) from err

    def _find(self, salvage: Salvage, key: KeyPath) -> KeyNode:
        try:
            return salvage.find(key)
        except KeyError:
            raise NotFound(f"no key {_describe_key(key)} in {self.file.path}") from None

    def exists(self, key: KeyPath) -> bool:
        with self._read() as salvage:
            return len(salvage.walk(key)) == len(key) + 1

    def read_key(self, key: KeyPath, values: bool = True) -> KeyListing:
        """One key: its values (with *values*), its subkeys' names, and what damage hid (``damaged``)."""
        with self._read() as salvage:
            read = salvage.read(self._find(salvage, key), values=values)
            return _listing(key, read)

    def keys(self, key: KeyPath) -> list[str]:
        return self.read_key(key, values=False).subkeys

    def values(self, key: KeyPath) -> list[RegValue]:
        return self.read_key(key).values

    def get(self, key: KeyPath, name: str) -> RegValue:
        wanted = name_key(name)
        for value in self.values(key):
            if name_key(value.name) == wanted:
                return value
        raise NotFound(f"no value {name!r} in {_describe_key(key)} of {self.file.path}")

    def walk(self, key: KeyPath, skip: Callable[[KeyPath], bool]) -> Iterator[KeyListing]:
        """See :meth:`Backend.walk`; damaged parts are left out and named in each listing's ``damaged``."""
        with self._read() as salvage:
            start = self._find(salvage, key)
            seen = {start.offset}
            pending: list[tuple[KeyPath, KeyNode]] = [(key, start)]
            while pending:
                current, node = pending.pop()
                if current != key and skip(current):
                    yield KeyListing(current, [], [], skipped=True)
                    continue
                read = salvage.read(node, seen=seen)
                seen.update(child.offset for child in read.subkeys)
                yield _listing(current, read)
                pending.extend(((*current, child.name), child) for child in reversed(read.subkeys))

    def _edit(self, plan: Callable[[HiveEditor], None], missing: str) -> None:
        try:
            self.file.edit(plan)
        except KeyError:
            raise NotFound(missing) from None
        except ValueError as err:  # what the format forbids, e.g. deleting the root
            raise BadParams(str(err)) from err

    def rehearse(self, key: KeyPath, *, value: RegValue | None = None, delete_value: str | None = None,
                 delete_key: bool = False) -> None:
        """A dry run of :meth:`set` (*value*), :meth:`delete_value` or :meth:`delete_key`: the change is
        worked out on the file as it is, in memory, and nothing is written.  Raises what the change would:
        ``Conflict`` (a hive that cannot take a change), ``NotFound``, ``BadParams``."""
        missing = ""
        if value is not None:
            number, raw = encode_windows(value)
            name = value.name

            def plan(editor: HiveEditor) -> None:
                editor.set_value(key, name, number, raw)
        elif delete_value is not None:
            gone = delete_value
            missing = f"no value {gone!r} in {_describe_key(key)} of {self.file.path}"

            def plan(editor: HiveEditor) -> None:
                editor.delete_value(key, gone)
        else:
            missing = f"no key {_describe_key(key)} in {self.file.path}"

            def plan(editor: HiveEditor) -> None:
                editor.delete_key(key)
        with self.file.reading() as reader:
            check_writable(reader, self.file.path)
            editor = HiveEditor(reader)
            try:
                plan(editor)
                editor.finish()
            except HiveFormatError as err:
                raise BadParams(f"{self.file.path}: the hive is damaged: {err}", damaged=True) from err
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
