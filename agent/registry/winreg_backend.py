"""The live Windows registry, through the standard ``winreg`` module: a thin adapter.

Paths start with a root key (``HKEY_LOCAL_MACHINE\\SOFTWARE\\…``; ``HKLM``,
``HKCU``, ``HKCR``, ``HKU`` and ``HKCC`` are accepted); the empty path lists
the roots.  The 64-bit view is used (``KEY_WOW64_64KEY``); the 32-bit one is
under ``…\\WOW6432Node``.  Value conversion is the shared code of
:mod:`agent.registry.model`; backups are raw Windows values
(:func:`agent.registry.backend.capture_tree`).

``winreg`` hands values over already converted (a REG_SZ cut at its first
NUL, for instance), so values whose stored bytes are not well formed are
normalised when read back here: a known gap against the hive backend, which
keeps every byte.

OS errors are translated here and only here: a missing key or value is
``NotFound``, access refused ``PermissionDenied``, anything else by
:func:`wire.errors.from_os_error`.

Availability: Windows.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.registry.backend import KeyListing, Scope, capture_tree, restore_tree, walk_keys
from agent.registry.model import (
    REG_DWORD,
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_QWORD,
    REG_SZ,
    RegValue,
    decode_windows,
    encode_windows,
    type_name,
)
from agent.registry.paths import WINDOWS_ROOTS, KeyPath, windows_root
from wire.errors import BadParams, NotFound, PermissionDenied, Unsupported, from_os_error


def load_winreg() -> Any:
    """The ``winreg`` module; raises ImportError off Windows."""
    return importlib.import_module("winreg")


class WinregBackend:
    """A :class:`~agent.registry.backend.Backend` over the live registry (Windows only)."""

    kind = "winreg"
    separator = "\\"
    atomic = False

    def __init__(self, winreg: Any = None) -> None:
        self.winreg = winreg if winreg is not None else load_winreg()
        self.view = int(getattr(self.winreg, "KEY_WOW64_64KEY", 0))

    def display(self, key: KeyPath) -> str:
        if not key:
            return ""
        return "\\".join((windows_root(key[0]) or key[0], *key[1:]))

    def policy_names(self, key: KeyPath) -> list[KeyPath]:
        return [self._full(key)] if key else [()]

    def _full(self, key: KeyPath) -> KeyPath:
        root = windows_root(key[0]) if key else None
        if root is None:
            raise BadParams(f"a registry path starts with one of {', '.join(WINDOWS_ROOTS)}", param="path")
        return (root, *key[1:])

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as err:
            raise NotFound(f"{what}: not found") from err
        except PermissionError as err:
            raise PermissionDenied(f"{what}: access denied") from err
        except OSError as err:
            raise from_os_error(err, what) from err

    @contextlib.contextmanager
    def _open(self, key: KeyPath, write: bool = False, create: bool = False) -> Iterator[Any]:
        full = self._full(key)
        winreg = self.winreg
        root = getattr(winreg, full[0])
        access = (winreg.KEY_ALL_ACCESS if write else winreg.KEY_READ) | self.view
        with self._errors(self.display(key)):
            if create:
                handle = winreg.CreateKeyEx(root, "\\".join(full[1:]), 0, access)
            else:
                handle = winreg.OpenKeyEx(root, "\\".join(full[1:]), 0, access)
        try:
            yield handle
        finally:
            handle.Close()

    def exists(self, key: KeyPath) -> bool:
        if not key:
            return True
        try:
            with self._open(key):
                return True
        except NotFound:
            return False

    def keys(self, key: KeyPath) -> list[str]:
        if not key:
            return list(WINDOWS_ROOTS)
        with self._open(key) as handle, self._errors(self.display(key)):
            count = self.winreg.QueryInfoKey(handle)[0]
            return [self.winreg.EnumKey(handle, index) for index in range(count)]

    @staticmethod
    def _typed(name: str, data: Any, number: int) -> RegValue:
        # winreg has converted strings, lists and integers already; bytes go through the shared code
        if isinstance(data, (bytes, bytearray)) or data is None:
            return decode_windows(name, number, bytes(data or b""))
        if isinstance(data, list):
            return RegValue(name, type_name(number), [str(item) for item in data])
        return RegValue(name, type_name(number), data)

    def values(self, key: KeyPath) -> list[RegValue]:
        with self._open(key) as handle, self._errors(self.display(key)):
            count = self.winreg.QueryInfoKey(handle)[1]
            return [self._typed(*self.winreg.EnumValue(handle, index)) for index in range(count)]

    def get(self, key: KeyPath, name: str) -> RegValue:
        with self._open(key) as handle, self._errors(f"{self.display(key)} value {name!r}"):
            data, number = self.winreg.QueryValueEx(handle, name)
            return self._typed(name, data, number)

    def set(self, key: KeyPath, value: RegValue) -> None:
        number, data = winreg_data(value)
        with self._open(key, write=True, create=True) as handle, self._errors(self.display(key)):
            self.winreg.SetValueEx(handle, value.name, 0, number, data)

    def create_key(self, key: KeyPath) -> None:
        with self._open(key, write=True, create=True):
            pass

    def delete_value(self, key: KeyPath, name: str) -> None:
        with self._open(key, write=True) as handle, self._errors(f"{self.display(key)} value {name!r}"):
            self.winreg.DeleteValue(handle, name)

    def delete_key(self, key: KeyPath) -> None:
        """Delete *key* and its subtree, deepest first, after checking that every key in it can be
        opened for writing, so that a key the OS protects stops the delete before anything is gone."""
        full = self._full(key)
        if len(full) < 2:
            raise BadParams("a root key cannot be deleted", param="path")
        order: list[KeyPath] = []

        def collect(current: KeyPath) -> None:
            with self._open(current, write=True) as handle, self._errors(self.display(current)):
                names = [self.winreg.EnumKey(handle, index) for index in range(self.winreg.QueryInfoKey(handle)[0])]
            for name in names:
                collect((*current, name))
            order.append(current)

        collect(key)
        for current in order:
            with self._open(current[:-1], write=True) as parent, self._errors(self.display(current)):
                self.winreg.DeleteKeyEx(parent, current[-1], self.view, 0)

    def walk(self, key: KeyPath, skip: Callable[[KeyPath], bool]) -> Iterator[KeyListing]:
        return walk_keys(self, key, skip)

    def capture(self, scope: Scope, blobs: Path | None) -> Any:
        return capture_tree(self, scope)

    def restore(self, scope: Scope, state: Any, blobs: Path) -> None:
        restore_tree(self, scope, state)


def winreg_data(value: RegValue) -> tuple[int, Any]:
    """The type number and the Python object ``winreg.SetValueEx`` takes for *value*.

    Raises :class:`Unsupported` for the malformed stored bytes of a string
    or integer type (read from elsewhere), which ``winreg`` cannot write.
    """
    number, raw = encode_windows(value)
    data = value.data
    if number in (REG_DWORD, REG_QWORD) and isinstance(data, int):
        return number, int.from_bytes(raw, "little")  # two's complement of a negative number
    if number in (REG_SZ, REG_EXPAND_SZ) and isinstance(data, str):
        return number, data
    if number == REG_MULTI_SZ and isinstance(data, list):
        return number, data
    if number in (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD):
        raise Unsupported(f"winreg cannot write these {type_name(number)} bytes as they are")
    return number, raw
