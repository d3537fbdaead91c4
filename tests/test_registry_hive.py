"""Offline hive files as a backend (agent.registry.hive): reading, planning changes, dirty hives, undo copies.

The file work under it (atomic replacement, the customer's folders) is tested in
test_registry_posix_hive_io.py.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from agent.forbidden import ForbiddenFolders, Guard
from agent.registry.backend import Scope
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend, planned_writes
from agent.registry.model import RegValue
from agent.registry.regf import HiveReader, checksum
from agent.registry.regf_edit import HiveEditor
from tests.registry_support import make_hive, regipy_values, sha256
from wire.errors import BadParams, Conflict, NotFound


def open_hive(path: Path, folders: ForbiddenFolders | None = None) -> HiveBackend:
    return HiveBackend(open_hive_file(str(path), lambda: Guard(folders)))


def leftovers(folder: Path, *expected: str) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name not in expected)


def test_reads_and_writes_through_the_backend(tmp_path: Path) -> None:
    backend = open_hive(make_hive(tmp_path / "SOFTWARE"))
    assert backend.info.writable and backend.info.root == "ROOT" and backend.info.version == "1.5"
    backend.set(("Vendor", "App"), RegValue("Mode", "REG_SZ", "safe"))
    backend.create_key(("Vendor", "Empty"))
    assert backend.keys(("Vendor",)) == ["App", "Empty"]
    assert backend.get(("vendor", "app"), "mode") == RegValue("Mode", "REG_SZ", "safe")
    assert backend.exists(("Vendor", "App")) and not backend.exists(("Vendor", "Nope"))
    with pytest.raises(NotFound):
        backend.keys(("Nope",))
    with pytest.raises(NotFound):
        backend.get(("Vendor", "App"), "nope")
    with pytest.raises(NotFound):
        backend.delete_value(("Vendor", "App"), "nope")
    with pytest.raises(NotFound):
        backend.delete_key(("Vendor", "Nope"))
    with pytest.raises(BadParams, match="root"):
        backend.delete_key(())
    listing = list(backend.walk((), lambda key: key == ("Vendor", "Empty")))
    assert [(item.key, item.skipped) for item in listing] == [
        ((), False), (("Vendor",), False), (("Vendor", "App"), False), (("Vendor", "Empty"), True)]
    assert leftovers(tmp_path, "SOFTWARE") == []


def test_not_a_hive_and_missing_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(BadParams, match=r"regf|too short"):
        open_hive(tmp_path / "notes.txt")
    with pytest.raises(BadParams, match="empty"):
        open_hive(tmp_path / "empty")
    with pytest.raises(NotFound):
        open_hive(tmp_path / "missing")


def test_a_dirty_hive_can_be_read_but_not_changed(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    open_hive(path).set(("A",), RegValue("v", "REG_SZ", "x"))
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 8, 1)  # its last change is still in the .LOG files
    struct.pack_into("<I", data, 508, checksum(data))
    path.write_bytes(bytes(data))
    backend = open_hive(path)
    assert backend.info.dirty and not backend.info.writable
    assert backend.get(("A",), "v").data == "x"
    before = sha256(path)
    with pytest.raises(Conflict, match="LOG"):
        backend.set(("A",), RegValue("v", "REG_SZ", "y"))
    assert sha256(path) == before


def test_capture_and_restore_give_back_the_same_bytes(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    backend = open_hive(path)
    backend.set(("A",), RegValue("v", "REG_SZ", "x"))
    blobs = tmp_path / "backup"
    blobs.mkdir()
    original = sha256(path)
    state = backend.capture(Scope(("A",), "v"), blobs)
    assert state == {"sha256": original, "file": "hive"}
    backend.delete_key(("A",))
    assert backend.capture(Scope(("A",)), None) != {"sha256": original}
    backend.restore(Scope(("A",)), state, blobs)
    assert sha256(path) == original
    assert list(regipy_values(path, "\\A")) == ["v"]
    (blobs / "hive").write_bytes(b"tampered")
    with pytest.raises(Conflict, match="altered"):
        backend.restore(Scope(("A",)), state, blobs)
    assert sha256(path) == original


def test_planned_writes_make_the_change_in_a_copy_of_the_bytes(tmp_path: Path) -> None:
    """The planning is platform-free: bytes in, writes out; applied to a copy, they give a hive with the change."""
    original = make_hive(tmp_path / "h").read_bytes()

    def plan(editor: HiveEditor) -> None:
        editor.set_value(("Vendor", "App"), "Mode", 1, "safe\0".encode("utf-16-le"))

    writes = planned_writes(original, "h", plan)
    assert writes[-1][0] == 0  # the base block goes last, once the cells it points to are written
    copy = bytearray(original)
    for position, data in writes:
        copy[position:position + len(data)] = data
    reader = HiveReader(bytes(copy))
    value = reader.find_value(reader.find(("Vendor", "App")), "Mode")
    assert value is not None and reader.data(value) == "safe\0".encode("utf-16-le")
    assert len(HiveReader(original).walk(("Vendor",))) == 1  # the input is untouched: no key Vendor there


def test_planned_writes_refuse_a_dirty_hive(tmp_path: Path) -> None:
    data = bytearray(make_hive(tmp_path / "h").read_bytes())
    primary = struct.unpack_from("<I", data, 4)[0]
    struct.pack_into("<I", data, 8, primary + 1)  # its last change is still in the .LOG files
    struct.pack_into("<I", data, 508, checksum(data))
    with pytest.raises(Conflict, match="LOG"):
        planned_writes(bytes(data), "h", lambda editor: editor.create_key(("A",)))
