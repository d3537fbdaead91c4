"""The REGF format: hives made and edited here, checked by two independent readers (libhivex, regipy),
and hives written by libhivex read here."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import pytest

from agent.registry.model import RegValue, encode_windows
from agent.registry.regf import BIG_DATA_SEGMENT, HiveFormatError, HiveReader, checksum, name_hash
from agent.registry.regf_edit import LEAF_MAX, HiveEditor
from tests.registry_support import hivexsh, make_hive, needs_hivex, regipy_subkeys, regipy_values


def edit(path: Path, *changes: tuple[str, tuple[object, ...]]) -> None:
    """Apply changes one at a time, each planned on the file as it is and written whole."""
    for method, arguments in changes:
        reader = HiveReader(path.read_bytes())
        editor = HiveEditor(reader)
        getattr(editor, method)(*arguments)
        patches, new_bin, base = editor.finish()
        data = bytearray(path.read_bytes())
        for position, patch in patches.items():
            data[position:position + len(patch)] = patch
        end = 4096 + reader.base.bins_size
        data[end:end + len(new_bin)] = new_bin
        data[:4096] = base
        path.write_bytes(bytes(data))


def set_value(parts: tuple[str, ...], value: RegValue) -> tuple[str, tuple[object, ...]]:
    number, raw = encode_windows(value)
    return "set_value", (parts, value.name, number, raw)


def reader(path: Path) -> HiveReader:
    return HiveReader(path.read_bytes())


def test_a_new_hive_is_valid_for_both_independent_readers(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "new.hiv", "CMI-CreateHive{X}", "\\SystemRoot\\System32\\Config\\SOFTWARE")
    hive = reader(path)
    assert hive.root.name == "CMI-CreateHive{X}"
    assert hive.base.checksum_ok and not hive.base.dirty
    assert hive.base.embedded_name == "stemRoot\\System32\\Config\\SOFTWARE"[-31:]
    assert hive.security(hive.root.security)[2] == 1
    assert regipy_subkeys(path, "\\") == []
    if hivexsh_available():
        assert hivexsh(path, "ls", "lsval") == ""


def hivexsh_available() -> bool:
    import shutil

    return shutil.which("hivexsh") is not None


@needs_hivex
def test_values_written_here_read_the_same_in_libhivex_and_regipy(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "SOFTWARE")
    big = bytes(range(256)) * 200  # over one big-data segment: stored as a db record
    edit(path,
         set_value(("Vendor", "App"), RegValue("Name", "REG_SZ", "hello")),
         set_value(("Vendor", "App"), RegValue("Count", "REG_DWORD", 42)),
         set_value(("Vendor", "App"), RegValue("Big", "REG_QWORD", 2**40)),
         set_value(("Vendor", "App"), RegValue("Tiny", "REG_BINARY", b"\x01\x02")),
         set_value(("Vendor", "App"), RegValue("Huge", "REG_BINARY", big)),
         set_value(("Vendor", "App"), RegValue("List", "REG_MULTI_SZ", ["a", "bé"])),
         set_value(("Vendor", "App"), RegValue("", "REG_EXPAND_SZ", "%SystemRoot%")),
         set_value(("Vendor", "Ünïcode✓"), RegValue("ключ", "REG_SZ", "значение")),
         set_value(("vendor", "APP"), RegValue("NAME", "REG_SZ", "replaced")))  # names compare without case
    assert len(big) > BIG_DATA_SEGMENT
    found = regipy_values(path, "\\Vendor\\App")
    assert found["Name"] == "replaced" and "NAME" not in found
    assert found["Count"] == 42 and found["Big"] == 2**40
    assert found["List"] == ["a", "bé"]
    assert found["Huge"] == big
    assert found["(default)"] == "%SystemRoot%"
    assert regipy_values(path, "\\Vendor\\Ünïcode✓") == {"ключ": "значение"}
    listing = hivexsh(path, "cd Vendor\\App", "lsval")
    assert '"Name"="replaced"' in listing and '"Count"=dword:0000002a' in listing
    assert '"List"=hex(7):61,00,00,00,62,00,e9,00,00,00,00,00' in listing
    assert listing.count('"Name"') == 1
    assert hivexsh(path, "cd Vendor", "ls").split() == ["App", "Ünïcode✓"]
    hive = reader(path)
    huge = hive.find_value(hive.find(("Vendor", "App")), "Huge")
    assert huge is not None and hive.data(huge) == big


@needs_hivex
def test_hives_written_by_libhivex_read_the_same_here(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "NTUSER.DAT")
    # (hivexsh's own "qword:" input keeps only 32 bits in this libhivex; the generic hex form is exact)
    hivexsh(path, "add Software", "cd Software", "add Zeta", "add alpha", "add Mid", "cd alpha",
            "setval 5", "@", "string:default", "Flag", "dword:0x10", "Q", "hex:11:08,07,06,05,04,03,02,01",
            "Raw", "hex:3:de,ad,be,ef", "Multi", "hex:7:78,00,00,00,79,00,00,00,00,00", "commit", write=True)
    hive = reader(path)
    assert [child.name for child in hive.subkeys(hive.find(("Software",)))] == ["alpha", "Mid", "Zeta"]
    node = hive.find(("SOFTWARE", "ALPHA"))
    values = {value.name: (value.type, hive.data(value)) for value in hive.values(node)}
    assert values[""] == (1, "default".encode("utf-16-le") + b"\0\0")
    assert values["Flag"] == (4, b"\x10\0\0\0")
    assert values["Q"] == (11, bytes.fromhex("0807060504030201"))
    assert values["Raw"] == (3, b"\xde\xad\xbe\xef")
    assert values["Multi"] == (7, "x\0y\0\0".encode("utf-16-le"))


@needs_hivex
def test_a_key_with_many_subkeys_gets_an_index_that_libhivex_and_regipy_follow(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "many.hiv")
    hivexsh(path, "add Parent", "cd Parent", *[f"add K{i:04d}" for i in range(2 * LEAF_MAX + 50)], "commit",
            write=True)
    edit(path, ("create_key", (("Parent", "K0600x"),)))
    hive = reader(path)
    parent = hive.find(("Parent",))
    assert hive.payload(parent.subkey_list)[:2] == b"ri"
    names = hivexsh(path, "cd Parent", "ls").split()
    assert len(names) == 2 * LEAF_MAX + 51 and names == sorted(names, key=str.upper)
    assert names.index("K0600x") == names.index("K0600") + 1
    assert len(regipy_subkeys(path, "\\Parent")) == len(names)
    edit(path, ("delete_key", (("Parent", "K0001"),)))
    assert "K0001" not in hivexsh(path, "cd Parent", "ls").split()
    assert reader(path).find(("Parent",)).subkey_count == 2 * LEAF_MAX + 50


def test_subkey_lists_are_sorted_and_hashed_as_windows_looks_them_up(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    for name in ("b", "A", "c", "Ä"):
        edit(path, ("create_key", (("Top", name),)))
    hive = reader(path)
    top = hive.find(("Top",))
    start, _ = hive.cell(top.subkey_list)
    signature, count = struct.unpack_from("<2sH", hive.buffer, start)
    entries = [struct.unpack_from("<II", hive.buffer, start + 4 + 8 * i) for i in range(count)]
    assert signature == b"lh"
    assert [hive.key(offset).name for offset, _ in entries] == ["A", "b", "c", "Ä"]
    assert all(hashed == name_hash(hive.key(offset).name) for offset, hashed in entries)
    assert name_hash("a") == name_hash("A") == ord("A")


def security_counts(hive: HiveReader) -> tuple[Counter[int], dict[int, int]]:
    """How many keys use each security cell, and the count each cell records."""
    used: Counter[int] = Counter()
    pending = [hive.root]
    while pending:
        node = pending.pop()
        used[node.security] += 1
        pending.extend(hive.subkeys(node))
    return used, {offset: hive.security(offset)[2] for offset in used}


def test_security_reference_counts_stay_exact(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    edit(path, ("create_key", (("A", "B", "C"),)), ("create_key", (("A", "D"),)),
         set_value(("E",), RegValue("v", "REG_DWORD", 1)))
    used, recorded = security_counts(reader(path))
    assert dict(used) == recorded and sum(used.values()) == 6
    edit(path, ("delete_key", (("A",),)))
    used, recorded = security_counts(reader(path))
    assert dict(used) == recorded == {reader(path).root.security: 2}


@needs_hivex
def test_deleting_frees_what_it_used_and_the_hive_stays_consistent(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    edit(path, set_value(("A", "B"), RegValue("big", "REG_BINARY", b"x" * 40000)),
         set_value(("A", "B"), RegValue("small", "REG_SZ", "s")),
         set_value(("A",), RegValue("keep", "REG_DWORD", 7)))
    before = allocated_bytes(reader(path))
    edit(path, ("delete_key", (("A", "B"),)), ("delete_value", (("A",), "keep")))
    after = allocated_bytes(reader(path))
    assert before - after > 40000  # the big data, its segments and the keys were given back
    assert hivexsh(path, "cd A", "ls", "lsval") == ""
    assert regipy_values(path, "\\A") == {}


def allocated_bytes(hive: HiveReader) -> int:
    total, position = 0, 4096
    end = 4096 + hive.base.bins_size
    while position < end:
        size = struct.unpack_from("<I", hive.buffer, position + 8)[0]  # the bin's size
        cell = position + 32
        while cell < position + size:
            (length,) = struct.unpack_from("<i", hive.buffer, cell)
            total += -length if length < 0 else 0
            cell += abs(length)
        position += size
    return total


def test_missing_keys_and_values_and_the_root_are_refused(tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    edit(path, ("create_key", (("A",),)))
    editor = HiveEditor(reader(path))
    with pytest.raises(KeyError):
        editor.delete_key(("Nope",))
    with pytest.raises(KeyError):
        editor.delete_value(("A",), "nope")
    with pytest.raises(ValueError, match="root"):
        editor.delete_key(())
    with pytest.raises(KeyError):
        reader(path).find(("A", "B"))


def test_what_is_not_a_hive_is_named(tmp_path: Path) -> None:
    good = make_hive(tmp_path / "h").read_bytes()
    with pytest.raises(HiveFormatError, match="regf"):
        HiveReader(b"MZ" + good[2:])
    with pytest.raises(HiveFormatError, match="too short"):
        HiveReader(good[:100])
    log = bytearray(good)
    struct.pack_into("<I", log, 28, 1)  # file type 1: a transaction log
    with pytest.raises(HiveFormatError, match="log"):
        HiveReader(bytes(log))
    broken = bytearray(good)
    struct.pack_into("<I", broken, 36, 0x7000)  # root cell outside the hive: the first cell is the root
    assert HiveReader(bytes(broken)).root_recovered and HiveReader(bytes(broken)).root.name == "ROOT"
    struct.pack_into("<I", broken, 4096 + 32 + 4, 0)  # and that cell is no key either
    with pytest.raises(HiveFormatError, match="out of the hive"):
        HiveReader(bytes(broken))


def test_checksum_and_dirty_flags_are_read(tmp_path: Path) -> None:
    data = bytearray(make_hive(tmp_path / "h").read_bytes())
    struct.pack_into("<I", data, 8, 7)  # secondary sequence number differs: changes pending in the logs
    assert HiveReader(bytes(data)).base.dirty
    assert not HiveReader(bytes(data)).base.checksum_ok
    struct.pack_into("<I", data, 508, checksum(data))
    assert HiveReader(bytes(data)).base.checksum_ok
