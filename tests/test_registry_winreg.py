"""The live Windows registry: the real thing on Windows only; elsewhere the adapter runs over an
in-memory stand-in for the ``winreg`` module (same calls, same errors), and its value conversion is
the shared code of agent.registry.model, tested in test_registry_model.py."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from agent.registry import Registry
from agent.registry.backend import Scope
from agent.registry.model import RegValue
from agent.registry.winreg_backend import WinregBackend, winreg_data
from tests.registry_support import AgentHarness
from wire.errors import BadParams, NotFound, PermissionDenied, Unsupported, WorkbenchError


def test_values_become_what_winreg_set_value_takes() -> None:
    assert winreg_data(RegValue("n", "REG_DWORD", -1)) == (4, 0xFFFFFFFF)
    assert winreg_data(RegValue("n", "REG_QWORD", 5)) == (11, 5)
    assert winreg_data(RegValue("n", "REG_SZ", "x")) == (1, "x")
    assert winreg_data(RegValue("n", "REG_MULTI_SZ", ["a"])) == (7, ["a"])
    assert winreg_data(RegValue("n", "REG_BINARY", b"\x01")) == (3, b"\x01")
    assert winreg_data(RegValue("n", "REG_NONE", b"")) == (0, b"")
    assert winreg_data(RegValue("n", "REG_DWORD_BIG_ENDIAN", 1)) == (5, b"\x00\x00\x00\x01")
    with pytest.raises(Unsupported):
        winreg_data(RegValue("n", "REG_SZ", b"\x41"))  # malformed string bytes read from a hive


KEY_READ = 0x20019


class _Key:
    def __init__(self) -> None:
        self.subkeys: dict[str, tuple[str, _Key]] = {}
        self.values: dict[str, tuple[str, Any, int]] = {}


class _Handle:
    def __init__(self, key: _Key) -> None:
        self.key = key
        self.closed = False

    def Close(self) -> None:
        self.closed = True


class FakeWinreg:
    """Enough of ``winreg`` for the adapter, with Windows' behaviour on the paths it uses."""

    KEY_READ, KEY_ALL_ACCESS, KEY_WOW64_64KEY = KEY_READ, 0xF003F, 0x100

    def __init__(self) -> None:
        for root in ("HKEY_CLASSES_ROOT", "HKEY_CURRENT_USER", "HKEY_LOCAL_MACHINE", "HKEY_USERS",
                     "HKEY_CURRENT_CONFIG"):
            setattr(self, root, _Handle(_Key()))
        self.denied: set[str] = set()  # keys whose access list refuses even reading
        self.read_only: set[str] = set()  # keys that can be read but not opened for writing
        self.undeletable: set[str] = set()  # keys whose deletion fails (in use, say)
        self.opened: list[_Handle] = []

    def _walk(self, root: _Handle, sub: str, create: bool, access: int = KEY_READ) -> _Handle:
        key = root.key
        parts = [p for p in sub.split("\\") if p]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part.casefold() in self.denied or (last and access != self.KEY_READ
                                                  and part.casefold() in self.read_only):
                raise PermissionError(5, "Access is denied")
            found = key.subkeys.get(part.casefold())
            if found is None:
                if not create:
                    raise FileNotFoundError(2, "The system cannot find the file specified")
                found = key.subkeys[part.casefold()] = (part, _Key())
            key = found[1]
        handle = _Handle(key)
        self.opened.append(handle)
        return handle

    def OpenKeyEx(self, root: _Handle, sub: str, reserved: int, access: int) -> _Handle:
        return self._walk(root, sub, create=False, access=access & ~self.KEY_WOW64_64KEY)

    def CreateKeyEx(self, root: _Handle, sub: str, reserved: int, access: int) -> _Handle:
        return self._walk(root, sub, create=True, access=access & ~self.KEY_WOW64_64KEY)

    def QueryInfoKey(self, handle: _Handle) -> tuple[int, int, int]:
        return len(handle.key.subkeys), len(handle.key.values), 0

    def EnumKey(self, handle: _Handle, index: int) -> str:
        return list(handle.key.subkeys.values())[index][0]

    def EnumValue(self, handle: _Handle, index: int) -> tuple[str, Any, int]:
        return list(handle.key.values.values())[index]

    def QueryValueEx(self, handle: _Handle, name: str) -> tuple[Any, int]:
        if name.casefold() not in handle.key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        _, data, number = handle.key.values[name.casefold()]
        return data, number

    def SetValueEx(self, handle: _Handle, name: str, reserved: int, number: int, data: Any) -> None:
        checks: dict[int, type] = {1: str, 2: str, 7: list, 4: int, 11: int}
        if not isinstance(data, checks.get(number, bytes)):
            raise TypeError(f"Objects of type '{type(data).__name__}' can not be used as binary registry values")
        if number == 4 and isinstance(data, int) and not 0 <= data < 2**32:
            raise OverflowError("int too big to convert")
        previous = handle.key.values.get(name.casefold())
        handle.key.values[name.casefold()] = (previous[0] if previous else name, data, number)

    def DeleteValue(self, handle: _Handle, name: str) -> None:
        if handle.key.values.pop(name.casefold(), None) is None:
            raise FileNotFoundError(2, "The system cannot find the file specified")

    def DeleteKeyEx(self, handle: _Handle, sub: str, access: int, reserved: int) -> None:
        found = handle.key.subkeys.get(sub.casefold())
        if found is None:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        if found[1].subkeys or sub.casefold() in self.undeletable:
            raise PermissionError(5, "Access is denied")  # Windows refuses to delete a key with subkeys
        del handle.key.subkeys[sub.casefold()]


@pytest.fixture
def fake() -> FakeWinreg:
    return FakeWinreg()


def test_the_adapter_over_the_stand_in(fake: FakeWinreg) -> None:
    backend = WinregBackend(fake)
    assert backend.keys(()) == ["HKEY_CLASSES_ROOT", "HKEY_CURRENT_USER", "HKEY_LOCAL_MACHINE", "HKEY_USERS",
                                "HKEY_CURRENT_CONFIG"]
    key = ("HKCU", "Software", "Vendor")
    for value in (RegValue("Name", "REG_SZ", "x"), RegValue("Count", "REG_DWORD", -1),
                  RegValue("List", "REG_MULTI_SZ", ["a", "b"]), RegValue("Blob", "REG_BINARY", b"\x00\x01"),
                  RegValue("Big", "REG_QWORD", 2**40), RegValue("", "REG_EXPAND_SZ", "%TEMP%")):
        backend.set(key, value)
    assert backend.get(key, "Count") == RegValue("Count", "REG_DWORD", 0xFFFFFFFF)
    assert backend.get(key, "COUNT").data == 0xFFFFFFFF  # names compare without case
    assert [value.name for value in backend.values(key)] == ["Name", "Count", "List", "Blob", "Big", ""]
    assert backend.display(key) == "HKEY_CURRENT_USER\\Software\\Vendor"
    assert backend.policy_names(key) == [("HKEY_CURRENT_USER", "Software", "Vendor")]
    backend.create_key((*key, "A", "B"))
    assert backend.keys(key) == ["A"]
    backend.delete_key((*key, "A"))  # holds a subkey: the adapter deletes bottom-up
    assert backend.keys(key) == [] and not backend.exists((*key, "A"))
    with pytest.raises(NotFound):
        backend.get(key, "nope")
    with pytest.raises(NotFound):
        backend.keys(("HKLM", "Nope"))
    with pytest.raises(BadParams, match="starts with"):
        backend.keys(("Software",))
    with pytest.raises(BadParams, match="root"):
        backend.delete_key(("HKLM",))
    fake.denied.add("sam")
    with pytest.raises(PermissionDenied):
        backend.keys(("HKLM", "SAM"))
    assert all(handle.closed for handle in fake.opened)


def test_a_subtree_is_captured_and_restored_with_raw_values(fake: FakeWinreg) -> None:
    backend = WinregBackend(fake)
    key = ("HKLM", "SOFTWARE", "Vendor")
    backend.set((*key, "Sub"), RegValue("v", "REG_SZ", "x"))
    backend.set(key, RegValue("n", "REG_DWORD", 3))
    state = backend.capture(Scope(key), None)
    backend.delete_key(key)
    backend.set(key, RegValue("intruder", "REG_SZ", "y"))
    backend.restore(Scope(key), state, Path("."))
    assert backend.capture(Scope(key), None) == state
    assert backend.get((*key, "Sub"), "v").data == "x"
    value_state = backend.capture(Scope(key, "n"), None)
    backend.delete_value(key, "n")
    backend.restore(Scope(key, "n"), value_state, Path("."))
    assert backend.get(key, "n").data == 3


def test_a_key_the_os_protects_stops_a_delete_before_anything_is_gone(fake: FakeWinreg) -> None:
    backend = WinregBackend(fake)
    key = ("HKLM", "SOFTWARE", "Vendor")
    backend.set((*key, "A"), RegValue("a", "REG_SZ", "1"))
    backend.set((*key, "Z", "Locked"), RegValue("z", "REG_SZ", "2"))
    before = backend.capture(Scope(key), None)
    fake.read_only.add("locked")
    with pytest.raises(PermissionDenied):
        backend.delete_key(key)
    assert backend.capture(Scope(key), None) == before


def test_a_delete_that_fails_half_way_is_put_back(fake: FakeWinreg, tmp_path: Path) -> None:
    backend = WinregBackend(fake)
    key = ("HKLM", "SOFTWARE", "Vendor")
    backend.set((*key, "A", "Deep"), RegValue("a", "REG_BINARY", b"\x01"))
    backend.set((*key, "Z"), RegValue("z", "REG_SZ", "2"))
    backend.set(key, RegValue("top", "REG_DWORD", 1))
    before = backend.capture(Scope(key), None)
    fake.undeletable.add("z")  # A goes first, then Z cannot be deleted
    agent = AgentHarness(tmp_path, Registry(lambda: backend))
    try:
        with pytest.raises(WorkbenchError) as caught:
            agent.result("registry.delete_key", path="HKLM\\SOFTWARE\\Vendor")
        assert caught.value.code == "denied"
        assert backend.capture(Scope(key), None) == before  # A and its value were put back from the backup
        with pytest.raises(NotFound):
            agent.result("registry.undo")
    finally:
        agent.close()


@pytest.mark.skipif(sys.platform != "win32", reason="the live Windows registry exists only on Windows; the "
                    "adapter runs above over a stand-in, its conversions in test_registry_model")
def test_the_live_windows_registry() -> None:  # pragma: no cover - Windows
    backend = WinregBackend()
    key = ("HKCU", "Software", f"workbench-test-{uuid.uuid4().hex}")
    try:
        backend.set(key, RegValue("Count", "REG_DWORD", 7))
        backend.set((*key, "Sub"), RegValue("List", "REG_MULTI_SZ", ["a", "b"]))
        assert backend.get(key, "Count").data == 7
        assert backend.keys(key) == ["Sub"]
        state = backend.capture(Scope(key), None)
        backend.delete_key(key)
        assert not backend.exists(key)
        backend.restore(Scope(key), state, Path("."))
        assert backend.get((*key, "Sub"), "List").data == ["a", "b"]
    finally:
        if backend.exists(key):
            backend.delete_key(key)
