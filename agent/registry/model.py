"""Typed registry values, their wire form, their Windows bytes, and the ``.reg`` text format.

Every backend speaks :class:`RegValue`.  The Windows backends (live
``winreg`` and offline hive files) store ``(type number, bytes)``; the
conversion both ways lives here, once, so that it is tested on every OS.

Value types
===========

The technician may *set* six types (:data:`SETTABLE_TYPES`); reading may
also show the other Windows types, and, for the non-Windows backends,
``GVARIANT`` (a dconf value with no registry equivalent) or ``PLIST`` (a
macOS preference with none), whose data is their native text.

On the wire a value is ``{"name", "type", "data"}`` (plus ``"native"``, the
backend's own type, when it differs from the registry type):

================  ==========================================================
type              ``data`` in JSON
================  ==========================================================
REG_SZ            string (no NUL)
REG_EXPAND_SZ     string (no NUL), e.g. ``"%SystemRoot%\\\\system32"``
REG_MULTI_SZ      list of non-empty strings (no NUL)
REG_DWORD         integer, 0 … 2³²−1 (−2³¹ … −1 accepted, stored as two's complement)
REG_QWORD         integer, 0 … 2⁶⁴−1 (−2⁶³ … −1 accepted, stored as two's complement)
REG_BINARY        ``{"base64": "<standard base64 with padding>"}``
================  ==========================================================

Any data that is bytes travels as ``{"base64": ...}``: REG_BINARY, the types
that are not decoded (REG_NONE, REG_LINK, resource lists, unknown type
numbers ``REG_UNKNOWN_0x…``), and a string or number whose stored bytes are not
well formed (a REG_SZ with an odd length, a REG_DWORD that is not 4 bytes), so
that nothing is shown as something it is not.

Limits: data at most :data:`MAX_DATA_BYTES` once encoded, value names at most
:data:`MAX_VALUE_NAME` characters, key names :data:`MAX_KEY_NAME`, paths
:data:`MAX_DEPTH` keys deep; beyond them :class:`~wire.errors.BadParams`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from wire.errors import BadParams

REG_NONE: Final = 0
REG_SZ: Final = 1
REG_EXPAND_SZ: Final = 2
REG_BINARY: Final = 3
REG_DWORD: Final = 4
REG_DWORD_BIG_ENDIAN: Final = 5
REG_LINK: Final = 6
REG_MULTI_SZ: Final = 7
REG_RESOURCE_LIST: Final = 8
REG_FULL_RESOURCE_DESCRIPTOR: Final = 9
REG_RESOURCE_REQUIREMENTS_LIST: Final = 10
REG_QWORD: Final = 11

TYPE_NAMES: Final[dict[int, str]] = {
    REG_NONE: "REG_NONE",
    REG_SZ: "REG_SZ",
    REG_EXPAND_SZ: "REG_EXPAND_SZ",
    REG_BINARY: "REG_BINARY",
    REG_DWORD: "REG_DWORD",
    REG_DWORD_BIG_ENDIAN: "REG_DWORD_BIG_ENDIAN",
    REG_LINK: "REG_LINK",
    REG_MULTI_SZ: "REG_MULTI_SZ",
    REG_RESOURCE_LIST: "REG_RESOURCE_LIST",
    REG_FULL_RESOURCE_DESCRIPTOR: "REG_FULL_RESOURCE_DESCRIPTOR",
    REG_RESOURCE_REQUIREMENTS_LIST: "REG_RESOURCE_REQUIREMENTS_LIST",
    REG_QWORD: "REG_QWORD",
}
TYPE_NUMBERS: Final[dict[str, int]] = {name: number for number, name in TYPE_NAMES.items()}

#: The types the technician may write.
SETTABLE_TYPES: Final = frozenset({"REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY"})
#: A dconf value with no registry equivalent (data: its GVariant text).
GVARIANT: Final = "GVARIANT"
#: A macOS preference with no registry equivalent (data: a description of it).
PLIST: Final = "PLIST"

MAX_DATA_BYTES: Final = 1024 * 1024
MAX_VALUE_NAME: Final = 16383
MAX_KEY_NAME: Final = 255
MAX_DEPTH: Final = 512

Data = str | int | list[str] | bytes


@dataclass(frozen=True)
class RegValue:
    """One named, typed value.  ``name == ""`` is the key's default value."""

    name: str
    type: str
    data: Data
    #: the backend's own type when it is not the registry type (dconf ``"u"``, plist ``"bool"``)
    native: str | None = field(default=None, compare=False)

    def to_wire(self) -> dict[str, Any]:
        """The JSON form described in the module docstring."""
        body: dict[str, Any] = {"name": self.name, "type": self.type, "data": data_to_wire(self.data)}
        if self.native is not None:
            body["native"] = self.native
        return body


def type_name(number: int) -> str:
    """The name of Windows value type *number* (``REG_UNKNOWN_0x…`` when it has none)."""
    return TYPE_NAMES.get(number, f"REG_UNKNOWN_{number:#x}")


def type_number(name: str) -> int:
    """The Windows value type number called *name*; raises :class:`BadParams` for other names."""
    if name in TYPE_NUMBERS:
        return TYPE_NUMBERS[name]
    match = re.fullmatch(r"REG_UNKNOWN_0x([0-9a-fA-F]{1,8})", name)
    if match:
        return int(match.group(1), 16)
    raise BadParams(f"no Windows value type called {name!r}", param="type")


def data_to_wire(data: Data) -> Any:
    """JSON form of *data*: bytes become ``{"base64": ...}``, the rest is already JSON."""
    if isinstance(data, bytes):
        return {"base64": base64.b64encode(data).decode("ascii")}
    return data


def _bytes_from_wire(data: Any) -> bytes:
    if not isinstance(data, dict) or set(data) != {"base64"} or not isinstance(data["base64"], str):
        raise BadParams('binary data must be {"base64": "..."}', param="data")
    text = data["base64"]
    if len(text) > (MAX_DATA_BYTES + 2) // 3 * 4:
        raise BadParams(f"data is larger than {MAX_DATA_BYTES} bytes", param="data", limit=MAX_DATA_BYTES)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadParams(f"data is not valid base64: {err}", param="data") from err


def _check_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise BadParams(f"{what} must be a string, not {type(text).__name__}", param="data")
    if "\x00" in text:
        raise BadParams(f"{what} contains a NUL character", param="data")
    try:
        text.encode("utf-16-le")
    except UnicodeEncodeError as err:
        raise BadParams(f"{what} contains an unpaired surrogate", param="data") from err
    return text


def _check_int(value: Any, bits: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadParams(f"{what} data must be an integer, not {type(value).__name__}", param="data")
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise BadParams(f"{what} data must be between {-(1 << (bits - 1))} and {(1 << bits) - 1}", param="data")
    return value


def value_from_wire(name: str, type_: str, data: Any) -> RegValue:
    """Check and build a value the technician wants to write.

    Raises :class:`BadParams` when *type_* is not one of :data:`SETTABLE_TYPES`,
    when *data* does not suit it, or when it exceeds :data:`MAX_DATA_BYTES`.
    """
    check_value_name(name)
    if type_ not in SETTABLE_TYPES:
        raise BadParams(f"type must be one of {sorted(SETTABLE_TYPES)}", param="type")
    value: Data
    if type_ in ("REG_SZ", "REG_EXPAND_SZ"):
        value = _check_text(data, type_)
    elif type_ == "REG_MULTI_SZ":
        if not isinstance(data, list):
            raise BadParams("REG_MULTI_SZ data must be a list of strings", param="data")
        value = [_check_text(item, "each REG_MULTI_SZ string") for item in data]
        if any(item == "" for item in value):
            raise BadParams("REG_MULTI_SZ cannot hold an empty string (it would end the list)", param="data")
    elif type_ == "REG_DWORD":
        value = _check_int(data, 32, type_)
    elif type_ == "REG_QWORD":
        value = _check_int(data, 64, type_)
    else:
        value = _bytes_from_wire(data)
    result = RegValue(name, type_, value)
    size = encoded_size(result)
    if size > MAX_DATA_BYTES:
        raise BadParams(f"data is {size} bytes once encoded, over the limit of {MAX_DATA_BYTES}",
                        param="data", limit=MAX_DATA_BYTES)
    return result


def encoded_size(value: RegValue) -> int:
    """Bytes the value takes in the Windows registry (an upper bound elsewhere)."""
    data = value.data
    if isinstance(data, bytes):
        return len(data)
    if isinstance(data, str):
        return len(data.encode("utf-16-le", "surrogatepass")) + 2
    if isinstance(data, list):
        return sum(len(item.encode("utf-16-le", "surrogatepass")) + 2 for item in data) + 2
    return 8 if value.type == "REG_QWORD" else 4


def check_value_name(name: str) -> str:
    """Raise :class:`BadParams` for a value name with NUL or over :data:`MAX_VALUE_NAME`."""
    if "\x00" in name:
        raise BadParams("value names cannot contain NUL", param="name")
    if len(name) > MAX_VALUE_NAME:
        raise BadParams(f"value names are at most {MAX_VALUE_NAME} characters", param="name", limit=MAX_VALUE_NAME)
    try:
        name.encode("utf-16-le")
    except UnicodeEncodeError as err:
        raise BadParams("value name contains an unpaired surrogate", param="name") from err
    return name


# Windows bytes ----------------------------------------------------------------------------------------------------


def _utf16z(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\x00\x00"


def encode_windows(value: RegValue) -> tuple[int, bytes]:
    """The ``(type number, bytes)`` Windows stores for *value*.

    Integers are little endian (negative ones in two's complement), strings
    UTF-16LE with a NUL terminator, multi-strings NUL-separated with an extra
    NUL at the end.  Raises :class:`BadParams` for ``GVARIANT``/``PLIST``
    values, which have no Windows form.
    """
    data = value.data
    if value.type in (GVARIANT, PLIST):
        raise BadParams(f"a {value.type} value has no Windows form", param="type")
    number = type_number(value.type)
    if isinstance(data, bytes):
        return number, data
    if number in (REG_SZ, REG_EXPAND_SZ) and isinstance(data, str):
        return number, _utf16z(data)
    if number == REG_MULTI_SZ and isinstance(data, list):
        return number, b"".join(_utf16z(item) for item in data) + b"\x00\x00"
    if number == REG_DWORD and isinstance(data, int):
        return number, (data & 0xFFFFFFFF).to_bytes(4, "little")
    if number == REG_DWORD_BIG_ENDIAN and isinstance(data, int):
        return number, (data & 0xFFFFFFFF).to_bytes(4, "big")
    if number == REG_QWORD and isinstance(data, int):
        return number, (data & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    raise BadParams(f"{value.type} data cannot be {type(data).__name__}", param="data")


def _decode_utf16(raw: bytes) -> str | None:
    """UTF-16LE text without its terminating NULs, or None when not well formed."""
    if len(raw) % 2:
        return None
    try:
        text = raw.decode("utf-16-le")
    except UnicodeDecodeError:
        return None
    return text.rstrip("\x00")


def decode_windows(name: str, number: int, raw: bytes) -> RegValue:
    """The typed value for Windows type *number* and stored bytes *raw*.

    Anything not well formed for its type is returned as bytes (see the
    module docstring), so ``encode_windows(decode_windows(n, t, b)) == (t, b)``
    for bytes that Windows itself would write.
    """
    type_ = type_name(number)
    if number in (REG_SZ, REG_EXPAND_SZ):
        text = _decode_utf16(raw)
        if text is not None and "\x00" not in text:
            return RegValue(name, type_, text)
    elif number == REG_MULTI_SZ:
        text = _decode_utf16(raw)
        if text is not None:
            return RegValue(name, type_, text.split("\x00") if text else [])
    elif number == REG_DWORD and len(raw) == 4:
        return RegValue(name, type_, int.from_bytes(raw, "little"))
    elif number == REG_DWORD_BIG_ENDIAN and len(raw) == 4:
        return RegValue(name, type_, int.from_bytes(raw, "big"))
    elif number == REG_QWORD and len(raw) == 8:
        return RegValue(name, type_, int.from_bytes(raw, "little"))
    return RegValue(name, type_, bytes(raw))


# The .reg text format ---------------------------------------------------------------------------------------------
#
# regedit's export format, version 5: a header line, then one section per key,
# "[path]", followed by its values, one per line: "name"="text" for REG_SZ,
# "name"=dword:0000002a for REG_DWORD, and "name"=hex(N):aa,bb,... for every other
# type (hex: alone for REG_BINARY), the bytes being what Windows stores, so text
# types appear as UTF-16LE.  @ names the default value; long hex lines continue
# with a trailing backslash.  "[-path]" deletes a key and "name"=- a value.

REG_HEADER: Final = "Windows Registry Editor Version 5.00"
_LINE_WIDTH: Final = 80


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hex_lines(prefix: str, raw: bytes) -> str:
    lines: list[str] = []
    line = prefix
    for index, byte in enumerate(raw):
        piece = f"{byte:02x}" + ("," if index < len(raw) - 1 else "")
        if len(line) + len(piece) > _LINE_WIDTH - 2 and line.strip():
            lines.append(line + "\\")
            line = "  "
        line += piece
    lines.append(line)
    return "\r\n".join(lines)


def format_reg_value(value: RegValue) -> str:
    """One value as ``.reg`` line(s); ``GVARIANT``/``PLIST`` values become a comment."""
    name = "@" if value.name == "" else _quote(value.name)
    if value.type in (GVARIANT, PLIST):
        return f"; {name} is a {value.type} value with no registry type: {value.data!s}".replace("\n", " ")
    number, raw = encode_windows(value)
    if number == REG_SZ and isinstance(value.data, str) and value.data.isprintable():
        return f"{name}={_quote(value.data)}"
    if number == REG_DWORD and len(raw) == 4:
        return f"{name}=dword:{int.from_bytes(raw, 'little'):08x}"
    kind = "hex" if number == REG_BINARY else f"hex({number:x})"
    return _hex_lines(f"{name}={kind}:", raw)


@dataclass
class RegSection:
    """One key in a ``.reg`` text: its path, its values, and comment lines."""

    path: str
    values: list[RegValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def format_reg(sections: Iterable[RegSection]) -> str:
    """The ``.reg`` text (version 5, CRLF line ends) for *sections*, in order."""
    parts = [REG_HEADER, ""]
    for section in sections:
        parts.append(f"[{section.path}]")
        parts.extend("; " + note.replace("\n", " ") for note in section.notes)
        parts.extend(format_reg_value(value) for value in section.values)
        parts.append("")
    return "\r\n".join(parts) + "\r\n"


@dataclass(frozen=True)
class RegEntry:
    """One instruction of a ``.reg`` text.

    ``kind`` is ``"key"`` (create the key), ``"delete_key"``, ``"value"``
    (set ``value``) or ``"delete_value"`` (``value.data`` is then empty).
    """

    kind: str
    path: str
    value: RegValue | None = None
    line: int = 0


_VALUE_LINE = re.compile(r'^(@|"(?:[^"\\]|\\.)*")\s*=\s*(.*)$', re.S)


def _unquote(text: str, line: int) -> str:
    if len(text) < 2 or not text.startswith('"') or not text.endswith('"'):
        raise BadParams(f".reg line {line}: expected a quoted string", line=line)
    body = text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            index += 1
            char = body[index]
        elif char == '"':
            raise BadParams(f".reg line {line}: unescaped quote", line=line)
        out.append(char)
        index += 1
    return "".join(out)


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    pending = ""
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip() if pending else line.rstrip()
        if not pending:
            start = number
        if stripped.endswith("\\") and (pending or _VALUE_LINE.match(stripped.lstrip())):
            pending += stripped[:-1]
            continue
        yield start, pending + stripped
        pending = ""
    if pending:
        yield start, pending


def _parse_data(data: str, line: int) -> tuple[int, bytes] | None:
    """``(type, bytes)`` for the right side of ``name=...``; None for ``-`` (delete)."""
    data = data.strip()
    if data == "-":
        return None
    if data.startswith('"'):
        return REG_SZ, _utf16z(_unquote(data, line))
    lowered = data.lower()
    if lowered.startswith("dword:"):
        digits = data[6:].strip()
        if not re.fullmatch(r"[0-9a-fA-F]{1,8}", digits):
            raise BadParams(f".reg line {line}: dword needs 1 to 8 hex digits", line=line)
        return REG_DWORD, int(digits, 16).to_bytes(4, "little")
    match = re.fullmatch(r"hex(?:\(([0-9a-fA-F]{1,8})\))?:(.*)", data, re.S | re.I)
    if not match:
        raise BadParams(f".reg line {line}: unknown value format {data[:40]!r}", line=line)
    number = int(match.group(1), 16) if match.group(1) is not None else REG_BINARY
    body = re.sub(r"\s", "", match.group(2))
    if body and not re.fullmatch(r"[0-9a-fA-F]{1,2}(,[0-9a-fA-F]{1,2})*,?", body):
        raise BadParams(f".reg line {line}: malformed hex bytes", line=line)
    raw = bytes(int(piece, 16) for piece in body.split(",") if piece)
    return number, raw


def parse_reg(text: str) -> list[RegEntry]:
    """The instructions of a ``.reg`` text (version 5, or ``REGEDIT4`` whose strings are the same).

    Raises :class:`BadParams` naming the line of the first malformed one.
    """
    entries: list[RegEntry] = []
    lines = iter(_logical_lines(text.lstrip("\ufeff")))
    header = next((line for _, line in lines if line.strip()), "")
    if header.strip() not in (REG_HEADER, "REGEDIT4"):
        raise BadParams(".reg text must start with 'Windows Registry Editor Version 5.00'", line=1)
    current: str | None = None
    for number, line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            path = stripped[1:-1]
            if path.startswith("-"):
                entries.append(RegEntry("delete_key", path[1:], line=number))
                current = None
            else:
                entries.append(RegEntry("key", path, line=number))
                current = path
            continue
        match = _VALUE_LINE.match(stripped)
        if not match:
            raise BadParams(f".reg line {number}: not a key or a value", line=number)
        if current is None:
            raise BadParams(f".reg line {number}: a value outside any key", line=number)
        name = "" if match.group(1) == "@" else _unquote(match.group(1), number)
        parsed = _parse_data(match.group(2), number)
        if parsed is None:
            entries.append(RegEntry("delete_value", current, RegValue(name, "REG_NONE", b""), number))
        else:
            entries.append(RegEntry("value", current, decode_windows(name, *parsed), number))
    return entries
