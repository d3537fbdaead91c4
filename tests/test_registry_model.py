"""Typed values: the wire form, Windows' bytes, and the .reg text format."""

from __future__ import annotations

import base64

import pytest

from agent.registry.model import (
    GVARIANT,
    MAX_DATA_BYTES,
    RegSection,
    RegValue,
    decode_windows,
    encode_windows,
    format_reg,
    parse_reg,
    value_from_wire,
)
from wire.errors import BadParams


def b64(raw: bytes) -> dict[str, str]:
    return {"base64": base64.b64encode(raw).decode()}


@pytest.mark.parametrize(("type_", "data", "number", "raw"), [
    ("REG_SZ", "héllo", 1, "héllo".encode("utf-16-le") + b"\0\0"),
    ("REG_EXPAND_SZ", "%SystemRoot%\\x", 2, "%SystemRoot%\\x".encode("utf-16-le") + b"\0\0"),
    ("REG_MULTI_SZ", ["a", "bé"], 7, "a\0bé\0\0".encode("utf-16-le")),
    ("REG_MULTI_SZ", [], 7, b"\0\0"),
    ("REG_DWORD", 42, 4, b"\x2a\0\0\0"),
    ("REG_DWORD", 0xFFFFFFFF, 4, b"\xff\xff\xff\xff"),
    ("REG_QWORD", 2**40 + 5, 11, (2**40 + 5).to_bytes(8, "little")),
    ("REG_BINARY", b64(b"\x00\x01\xfe"), 3, b"\x00\x01\xfe"),
    ("REG_BINARY", b64(b""), 3, b""),
])
def test_each_settable_type_becomes_the_bytes_windows_stores(type_: str, data: object, number: int,
                                                               raw: bytes) -> None:
    value = value_from_wire("Name", type_, data)
    assert encode_windows(value) == (number, raw)
    back = decode_windows("Name", number, raw)
    assert back == value
    assert back.to_wire()["data"] == data


def test_negative_integers_are_stored_in_twos_complement_and_read_back_unsigned() -> None:
    assert encode_windows(value_from_wire("n", "REG_DWORD", -1)) == (4, b"\xff\xff\xff\xff")
    assert decode_windows("n", 4, b"\xff\xff\xff\xff").data == 0xFFFFFFFF
    assert encode_windows(value_from_wire("n", "REG_QWORD", -2))[1] == b"\xfe" + b"\xff" * 7


@pytest.mark.parametrize(("type_", "data", "words"), [
    ("REG_NONE", b64(b""), "type must be one of"),
    ("string", "x", "type must be one of"),
    ("REG_DWORD", "42", "must be an integer"),
    ("REG_DWORD", True, "must be an integer"),
    ("REG_DWORD", 2**32, "between"),
    ("REG_DWORD", -(2**31) - 1, "between"),
    ("REG_QWORD", 2**64, "between"),
    ("REG_SZ", 5, "must be a string"),
    ("REG_SZ", "a\x00b", "NUL"),
    ("REG_SZ", "\ud800", "surrogate"),
    ("REG_MULTI_SZ", "a", "list of strings"),
    ("REG_MULTI_SZ", ["a", ""], "empty string"),
    ("REG_MULTI_SZ", ["a", 1], "must be a string"),
    ("REG_BINARY", "AAEC", '{"base64"'),
    ("REG_BINARY", {"base64": "not base64!"}, "not valid base64"),
    ("REG_BINARY", {"base64": "AA==", "x": 1}, '{"base64"'),
])
def test_wrong_data_for_a_type_is_refused_with_bad_params(type_: str, data: object, words: str) -> None:
    with pytest.raises(BadParams, match=words) as caught:
        value_from_wire("Name", type_, data)
    assert caught.value.code == "bad_params"


def test_huge_values_are_refused_with_the_limit() -> None:
    value_from_wire("n", "REG_BINARY", b64(b"x" * MAX_DATA_BYTES))  # at the limit: fine
    with pytest.raises(BadParams) as caught:
        value_from_wire("n", "REG_BINARY", b64(b"x" * (MAX_DATA_BYTES + 1)))
    assert caught.value.details["limit"] == MAX_DATA_BYTES
    with pytest.raises(BadParams, match="once encoded"):
        value_from_wire("n", "REG_SZ", "x" * (MAX_DATA_BYTES // 2))  # 2 bytes a character, plus the NUL


def test_value_names_with_nul_or_too_long_are_refused() -> None:
    with pytest.raises(BadParams, match="NUL"):
        value_from_wire("a\x00b", "REG_SZ", "x")
    with pytest.raises(BadParams, match="16383"):
        value_from_wire("n" * 16384, "REG_SZ", "x")


@pytest.mark.parametrize(("number", "raw"), [
    (1, b"a\x00b"),  # odd length: not UTF-16
    (1, "a\0b".encode("utf-16-le") + b"\0\0"),  # a NUL inside a string
    (1, b"\x00\xd8\x00\x00"),  # an unpaired surrogate
    (4, b"\x01\x02\x03"),  # a DWORD that is not 4 bytes
    (11, b"\x01"),
    (0, b"\x01\x02"),
    (0x20, b"\xaa"),
])
def test_bytes_that_do_not_fit_their_type_are_shown_as_bytes_not_as_something_else(number: int,
                                                                                     raw: bytes) -> None:
    value = decode_windows("v", number, raw)
    assert value.data == raw
    assert value.to_wire()["data"] == b64(raw)
    assert encode_windows(value) == (number, raw)  # and they go back unchanged


def test_unknown_type_numbers_have_a_name_that_goes_back_to_the_number() -> None:
    value = decode_windows("v", 0xFFFF0012, b"\x01")
    assert value.type == "REG_UNKNOWN_0xffff0012"
    assert encode_windows(value) == (0xFFFF0012, b"\x01")


def test_reg_text_is_regedit_version_5() -> None:
    text = format_reg([RegSection("HKEY_CURRENT_USER\\Software\\Test", [
        RegValue("", "REG_SZ", "default"),
        RegValue('Quote "and" back\\slash', "REG_SZ", 'C:\\Program Files\\"x"'),
        RegValue("Count", "REG_DWORD", 42),
        RegValue("Big", "REG_QWORD", 1),
        RegValue("Path", "REG_EXPAND_SZ", "%A%"),
        RegValue("List", "REG_MULTI_SZ", ["a", "b"]),
        RegValue("Bin", "REG_BINARY", b"\x01\xab"),
        RegValue("Odd", "REG_NONE", b""),
        RegValue("Line", "REG_SZ", "two\nlines"),
        RegValue("double", GVARIANT, "1.5"),
    ])])
    assert text == "\r\n".join([
        "Windows Registry Editor Version 5.00",
        "",
        "[HKEY_CURRENT_USER\\Software\\Test]",
        '@="default"',
        '"Quote \\"and\\" back\\\\slash"="C:\\\\Program Files\\\\\\"x\\""',
        '"Count"=dword:0000002a',
        '"Big"=hex(b):01,00,00,00,00,00,00,00',
        '"Path"=hex(2):25,00,41,00,25,00,00,00',
        '"List"=hex(7):61,00,00,00,62,00,00,00,00,00',
        '"Bin"=hex:01,ab',
        '"Odd"=hex(0):',
        '"Line"=hex(1):74,00,77,00,6f,00,0a,00,6c,00,69,00,6e,00,65,00,73,00,00,00',
        '; "double" is a GVARIANT value with no registry type: 1.5',
        "",
        "",
    ])


def test_reg_text_parses_back_to_the_same_values() -> None:
    values = [
        RegValue("", "REG_SZ", "default"),
        RegValue('we"ird\\name', "REG_SZ", "x\\y\"z"),
        RegValue("Count", "REG_DWORD", 0xDEADBEEF),
        RegValue("Long", "REG_BINARY", bytes(range(256)) * 3),
        RegValue("List", "REG_MULTI_SZ", ["é", "ü", "✓"]),
        RegValue("Big", "REG_QWORD", 2**63),
        RegValue("Odd", "REG_UNKNOWN_0x20", b"\x01"),
    ]
    text = format_reg([RegSection("HKEY_LOCAL_MACHINE\\SOFTWARE\\A", values), RegSection("HKEY_LOCAL_MACHINE\\B")])
    assert max(len(line) for line in text.split("\r\n")) <= 80  # long binary is wrapped
    entries = parse_reg(text)
    assert [entry.kind for entry in entries] == ["key", *["value"] * len(values), "key"]
    assert [entry.value for entry in entries if entry.kind == "value"] == values
    assert entries[-1].path == "HKEY_LOCAL_MACHINE\\B"


def test_reg_text_deletions_and_regedit4_are_understood() -> None:
    entries = parse_reg('\ufeffREGEDIT4\n\n[-HKEY_CURRENT_USER\\Gone]\n[HKEY_CURRENT_USER\\Here]\n"Old"=-\n'
                        '"Wrapped"=hex:01,\\\n  02,\\\n  03\n; a comment\n')
    assert [(entry.kind, entry.path) for entry in entries] == [
        ("delete_key", "HKEY_CURRENT_USER\\Gone"), ("key", "HKEY_CURRENT_USER\\Here"),
        ("delete_value", "HKEY_CURRENT_USER\\Here"), ("value", "HKEY_CURRENT_USER\\Here")]
    assert entries[2].value is not None and entries[2].value.name == "Old"
    assert entries[3].value == RegValue("Wrapped", "REG_BINARY", b"\x01\x02\x03")


@pytest.mark.parametrize(("text", "line"), [
    ("not a reg file\n", 1),
    ("Windows Registry Editor Version 5.00\n\n\"x\"=dword:1\n", 3),
    ("Windows Registry Editor Version 5.00\n[HKEY_CURRENT_USER\\A]\n\"x\"=dword:123456789\n", 3),
    ("Windows Registry Editor Version 5.00\n[HKEY_CURRENT_USER\\A]\n\"x\"=hex:zz\n", 3),
    ("Windows Registry Editor Version 5.00\n[HKEY_CURRENT_USER\\A]\n\"x\"=str:1\n", 3),
    ("Windows Registry Editor Version 5.00\n[HKEY_CURRENT_USER\\A]\nrubbish\n", 3),
])
def test_malformed_reg_text_names_its_line(text: str, line: int) -> None:
    with pytest.raises(BadParams) as caught:
        parse_reg(text)
    assert caught.value.details["line"] == line
