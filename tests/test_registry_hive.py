"""Offline hive files as a backend: atomic writes, the customer's folders, undo copies."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from agent.forbidden import ForbiddenFolders, Guard
from agent.registry.backend import Scope
from agent.registry.hive import HiveBackend, HiveFile
from agent.registry.model import RegValue
from agent.registry.regf import checksum
from agent.registry.regf_edit import HiveEditor
from tests.registry_support import make_hive, regipy_values, sha256
from wire.errors import BadParams, Conflict, Forbidden, NotFound


def open_hive(path: Path, folders: ForbiddenFolders | None = None) -> HiveBackend:
    return HiveBackend(HiveFile(str(path), lambda: Guard(folders)))


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


def test_a_failed_change_leaves_the_file_exactly_as_it_was(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    backend = open_hive(path)
    backend.set(("A",), RegValue("v", "REG_DWORD", 1))
    before = sha256(path)

    def plan(editor: HiveEditor) -> None:
        editor.set_value(("A",), "w", 4, b"\x02\0\0\0")
        raise RuntimeError("the agent stopped here")

    with pytest.raises(RuntimeError):
        backend.file.edit(plan)
    assert sha256(path) == before
    assert leftovers(tmp_path, "h") == []  # no temporary copy left behind


def test_a_file_changed_during_an_edit_is_not_overwritten(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    backend = open_hive(path)

    def plan(editor: HiveEditor) -> None:
        editor.create_key(("Mine",))
        with open(path, "ab") as other_program:  # someone else writes the hive meanwhile
            other_program.write(b"\0" * 4096)

    with pytest.raises(Conflict, match="changed while"):
        backend.file.edit(plan)
    assert path.stat().st_size == 8192 + 4096
    assert not backend.exists(("Mine",))
    assert leftovers(tmp_path, "h") == []


def test_writes_replace_the_file_atomically_and_keep_its_mode(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    path.chmod(0o640)
    inode = path.stat().st_ino
    open_hive(path).set(("A",), RegValue("v", "REG_SZ", "x"))
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_hive_in_a_protected_folder_cannot_be_opened_by_any_name(tmp_path: Path) -> None:
    protected = tmp_path / "protected"
    protected.mkdir()
    make_hive(protected / "NTUSER.DAT")
    (tmp_path / "link").symlink_to(protected)
    (tmp_path / "other").mkdir()
    folders = ForbiddenFolders()
    try:
        folders.add(str(protected))
        for spelling in (protected / "NTUSER.DAT", tmp_path / "link" / "NTUSER.DAT",
                         tmp_path / "other" / ".." / "protected" / "NTUSER.DAT"):
            with pytest.raises(Forbidden):
                open_hive(spelling, folders)
    finally:
        folders.close()


def test_a_folder_protected_after_opening_stops_the_next_call(tmp_path: Path) -> None:
    folder = tmp_path / "disk"
    folder.mkdir()
    backend_folders = ForbiddenFolders()
    try:
        backend = open_hive(make_hive(folder / "SYSTEM"), backend_folders)
        backend.keys(())
        backend_folders.add(str(folder))
        with pytest.raises(Forbidden):
            backend.keys(())
        with pytest.raises(Forbidden):
            backend.set(("A",), RegValue("v", "REG_SZ", "x"))
    finally:
        backend_folders.close()


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
