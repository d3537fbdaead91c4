"""The POSIX file work of offline hives (agent.registry._posix_hive_io): atomic changes, the customer's folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.forbidden import ForbiddenFolders, Guard
from agent.registry._posix_hive_io import HiveFile
from agent.registry.hive import HiveBackend
from agent.registry.model import RegValue
from agent.registry.regf_edit import HiveEditor
from tests.registry_support import make_hive, sha256
from wire.errors import Conflict, Forbidden


def open_hive(path: Path, folders: ForbiddenFolders | None = None) -> HiveBackend:
    return HiveBackend(HiveFile(str(path), lambda: Guard(folders)))


def leftovers(folder: Path, *expected: str) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name not in expected)


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
