"""The REGF file format of Windows registry hives, and reading it.

Pure: works on bytes (or an ``mmap``); :mod:`agent.registry.regf_edit` plans
changes as patches and makes new hives, :mod:`agent.registry.hive` (the backend)
and :mod:`agent.registry._posix_hive_io` (descriptor I/O) do the
file work.  Layout, from the published description of the format
(Maxim Suhanov, "Windows registry file format specification"); all integers
little endian, cell offsets relative to the first hive bin, at file offset 4096:

* **base block** (4096 bytes): ``regf``, primary and secondary sequence numbers
  (equal when the file is consistent; different means "dirty", changes still
  in the ``.LOG`` files), last written time, version 1.*minor*, root cell offset,
  size of the hive bins, the hive's own file name (UTF-16LE, 64 bytes), and at
  508 a checksum: the XOR of the 127 preceding 32-bit words.
* **hive bins** (``hbin``, 32-byte header, multiples of 4096 bytes) hold
  **cells**: a signed 32-bit size (negative when allocated) then the payload,
  8-byte aligned.
* cells: ``nk`` a key (flags, time, parent, subkey count and list, value count
  and list, security ``sk``, class name, maxima, name), ``vk`` a value (name,
  data size — top bit set when up to 4 bytes sit in the offset field itself —,
  data offset, type), ``sk`` a security descriptor shared by reference count in
  a doubly linked ring, subkey lists ``lf``/``lh`` (offset + name hint or hash),
  ``li`` (offsets), ``ri`` (a list of those lists), ``db`` big data (values
  over 16 344 bytes in versions 1.4 and later, split in segments), and value
  lists (bare arrays of offsets).

Errors: :class:`HiveFormatError` for a file that is not a hive or is damaged
(it names the offset), :class:`KeyError` for a missing key (the caller turns
both into wire errors).
"""

from __future__ import annotations

import mmap
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

BASE_BLOCK_SIZE: Final = 4096
HBIN_HEADER_SIZE: Final = 32
NO_CELL: Final = 0xFFFFFFFF
KEY_HIVE_ENTRY: Final = 0x0004
KEY_NO_DELETE: Final = 0x0008
KEY_COMP_NAME: Final = 0x0020
VALUE_COMP_NAME: Final = 0x0001
#: values larger than this are split in ``db`` segments (hive versions 1.4 and later)
BIG_DATA_SEGMENT: Final = 16344

BASE_FIELDS = struct.Struct("<4sIIQIIIIIII")  # signature … clustering factor, at offset 0
NK_FIELDS = struct.Struct("<2sHQ15IHH")  # 76 bytes, then the name
VK_FIELDS = struct.Struct("<2sHIIIHH")  # 20 bytes, then the name
SK_FIELDS = struct.Struct("<2sHIIII")  # 20 bytes, then the descriptor
HBIN_FIELDS = struct.Struct("<4sIIQQI")

# field offsets inside an nk cell's payload
NK_TIMESTAMP: Final = 4
NK_SUBKEY_COUNT: Final = 20
NK_SUBKEY_LIST: Final = 28
NK_VALUE_COUNT: Final = 36
NK_VALUE_LIST: Final = 40
NK_MAX_NAME: Final = 52
NK_MAX_VALUE_NAME: Final = 60
NK_MAX_VALUE_DATA: Final = 64

Buffer = bytes | bytearray | mmap.mmap


class HiveFormatError(ValueError):
    """The bytes are not a registry hive, or a structure in it is damaged."""


def filetime_now() -> int:
    """The current time as a Windows FILETIME (100 ns since 1601)."""
    return time.time_ns() // 100 + 116444736000000000


def align8(size: int) -> int:
    """*size* rounded up to the 8-byte alignment of cells."""
    return (size + 7) & ~7


def _upper(char: str) -> str:
    upper = char.upper()
    return upper if len(upper) == 1 else char


def name_key(name: str) -> str:
    """*name* upper-cased character by character, as Windows compares key and value names."""
    return "".join(_upper(char) for char in name)


def sort_key(name: str) -> bytes:
    """The UTF-16 code units of the upper-cased name: how Windows sorts subkey lists."""
    return name_key(name).encode("utf-16-be", "surrogatepass")


def name_hash(name: str) -> int:
    """The ``lh`` hash of a key name: h = h·37 + upper-cased UTF-16 code unit."""
    value = 0
    units = name_key(name).encode("utf-16-le", "surrogatepass")
    for (unit,) in struct.iter_unpack("<H", units):
        value = (value * 37 + unit) & 0xFFFFFFFF
    return value


def encode_name(name: str) -> tuple[bytes, bool]:
    """The stored bytes of a name and whether they are "compressed" (Latin-1, one byte each)."""
    try:
        return name.encode("latin-1"), True
    except UnicodeEncodeError:
        return name.encode("utf-16-le", "surrogatepass"), False


def utf16_length(name: str) -> int:
    """Bytes of *name* as UTF-16LE: the unit of the maxima kept in a key."""
    return len(name.encode("utf-16-le", "surrogatepass"))


def checksum(block: bytes | bytearray) -> int:
    """The base block checksum of the first 508 bytes of *block*."""
    value = 0
    for (word,) in struct.iter_unpack("<I", bytes(block[:508])):
        value ^= word
    if value == 0:
        return 1
    if value == 0xFFFFFFFF:
        return 0xFFFFFFFE
    return value


@dataclass(frozen=True)
class BaseBlock:
    primary_sequence: int
    secondary_sequence: int
    timestamp: int
    major: int
    minor: int
    file_type: int
    file_format: int
    root: int
    bins_size: int
    embedded_name: str
    checksum_ok: bool

    @property
    def dirty(self) -> bool:
        """True when the sequence numbers differ: the last write is only in the ``.LOG`` files."""
        return self.primary_sequence != self.secondary_sequence


@dataclass(frozen=True)
class KeyNode:
    offset: int
    flags: int
    timestamp: int
    parent: int
    subkey_count: int
    subkey_list: int
    value_count: int
    value_list: int
    security: int
    class_offset: int
    class_length: int
    max_name: int
    max_value_name: int
    max_value_data: int
    name: str


@dataclass(frozen=True)
class ValueNode:
    offset: int
    name: str
    size_field: int
    data_offset: int
    type: int

    @property
    def resident(self) -> bool:
        """Data of up to 4 bytes kept in the offset field itself."""
        return bool(self.size_field & 0x80000000)

    @property
    def size(self) -> int:
        return self.size_field & 0x7FFFFFFF


class HiveReader:
    """Read access to a hive held in *buffer* (bytes, or an ``mmap`` of the file).

    Raises :class:`HiveFormatError` when the base block is not a registry
    hive's, or later when a structure it follows is damaged.
    """

    def __init__(self, buffer: Buffer) -> None:
        self.buffer = buffer
        if len(buffer) < BASE_BLOCK_SIZE + HBIN_HEADER_SIZE:
            raise HiveFormatError("too short to be a registry hive")
        fields = BASE_FIELDS.unpack_from(buffer, 0)
        if fields[0] != b"regf":
            raise HiveFormatError("not a registry hive (no 'regf' signature)")
        raw_name = bytes(buffer[48:112])
        name = raw_name.decode("utf-16-le", "replace").split("\x00", 1)[0]
        (stored,) = struct.unpack_from("<I", buffer, 508)
        self.base = BaseBlock(fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7],
                              fields[8], fields[9], name, stored == checksum(bytes(buffer[:508])))
        if self.base.major != 1 or not 2 <= self.base.minor <= 6:
            raise HiveFormatError(f"unknown hive format version {self.base.major}.{self.base.minor}")
        if self.base.file_type != 0:
            raise HiveFormatError("this is a transaction log, not a hive (open the hive file beside it)")
        if bytes(buffer[BASE_BLOCK_SIZE:BASE_BLOCK_SIZE + 4]) != b"hbin":
            raise HiveFormatError("no hive bin after the base block")
        self.bins_end = min(self.base.bins_size, len(buffer) - BASE_BLOCK_SIZE)
        self.truncated = self.base.bins_size > len(buffer) - BASE_BLOCK_SIZE
        #: the header's root offset is damaged and the root was taken from the first cell (read-only then)
        self.root_recovered = False
        try:
            self.root = self.key(self.base.root)
        except HiveFormatError:
            # Windows writes the root key first; a damaged header field need not lose the whole hive
            first = HBIN_HEADER_SIZE
            if self.base.root == first:
                raise
            try:
                root = self.key(first)
            except HiveFormatError:
                root = None
            if root is None or not root.flags & KEY_HIVE_ENTRY:
                raise
            self.root, self.root_recovered = root, True

    # cells

    def cell(self, offset: int) -> tuple[int, int]:
        """``(file position of the payload, payload length)`` of the allocated cell at *offset*."""
        if offset % 8 or not 0 <= offset < self.bins_end - 4:
            raise HiveFormatError(f"cell offset {offset:#x} is out of the hive")
        (size,) = struct.unpack_from("<i", self.buffer, BASE_BLOCK_SIZE + offset)
        if size >= 0:
            raise HiveFormatError(f"cell at {offset:#x} is free but still referenced")
        size = -size
        if size < 8 or offset + size > self.bins_end:
            raise HiveFormatError(f"cell at {offset:#x} has an impossible size {size}")
        return BASE_BLOCK_SIZE + offset + 4, size - 4

    def cell_size(self, offset: int) -> int:
        """The whole size (size field included) of the allocated cell at *offset*."""
        return self.cell(offset)[1] + 4

    def payload(self, offset: int) -> bytes:
        start, length = self.cell(offset)
        return bytes(self.buffer[start:start + length])

    # keys

    def key(self, offset: int) -> KeyNode:
        start, length = self.cell(offset)
        return self.key_at(offset, start, length)

    def key_at(self, offset: int, start: int, length: int) -> KeyNode:
        """The key whose payload is the *length* bytes at file position *start* (cell *offset*)."""
        if length < NK_FIELDS.size:
            raise HiveFormatError(f"key cell at {offset:#x} is too short")
        f = NK_FIELDS.unpack_from(self.buffer, start)
        if f[0] != b"nk":
            raise HiveFormatError(f"expected a key at {offset:#x}, found {f[0]!r}")
        name_length, class_length = f[18], f[19]
        if NK_FIELDS.size + name_length > length:
            raise HiveFormatError(f"key name at {offset:#x} runs past its cell")
        raw = bytes(self.buffer[start + NK_FIELDS.size:start + NK_FIELDS.size + name_length])
        name = raw.decode("latin-1") if f[1] & KEY_COMP_NAME else raw.decode("utf-16-le", "replace")
        return KeyNode(offset, f[1], f[2], f[4], f[5], f[7], f[9], f[10], f[11], f[12], class_length,
                       f[13], f[15], f[16], name)

    def _list_cells(self, offset: int, depth: int = 0) -> Iterator[tuple[int, list[int]]]:
        """Each list cell under *offset* (``ri`` first) with the key offsets it holds directly."""
        start, length = self.cell(offset)
        signature, count = struct.unpack_from("<2sH", self.buffer, start)
        if signature in (b"lf", b"lh"):
            width = 8
        elif signature in (b"li", b"ri"):
            width = 4
        else:
            raise HiveFormatError(f"expected a subkey list at {offset:#x}, found {signature!r}")
        if 4 + count * width > length:
            raise HiveFormatError(f"subkey list at {offset:#x} runs past its cell")
        items = [struct.unpack_from("<I", self.buffer, start + 4 + index * width)[0] for index in range(count)]
        if signature == b"ri":
            if depth:
                raise HiveFormatError(f"nested index at {offset:#x}")
            yield offset, []
            for item in items:
                yield from self._list_cells(item, depth + 1)
        else:
            yield offset, items

    def subkey_list_cells(self, node: KeyNode) -> list[int]:
        """Offsets of every list cell holding *node*'s subkeys (to free them)."""
        if node.subkey_count == 0 or node.subkey_list == NO_CELL:
            return []
        return [cell for cell, _ in self._list_cells(node.subkey_list)]

    def subkey_offsets(self, node: KeyNode) -> list[int]:
        """Offsets of *node*'s subkeys, in stored (sorted) order."""
        if node.subkey_count == 0 or node.subkey_list == NO_CELL:
            return []
        found = [item for _, items in self._list_cells(node.subkey_list) for item in items]
        if len(found) != node.subkey_count:
            raise HiveFormatError(f"key at {node.offset:#x} says {node.subkey_count} subkeys, "
                                  f"its list has {len(found)}")
        return found

    def subkeys(self, node: KeyNode) -> list[KeyNode]:
        return [self.key(offset) for offset in self.subkey_offsets(node)]

    def child(self, node: KeyNode, name: str) -> KeyNode | None:
        """The subkey of *node* called *name* (compared as Windows does), or None.

        In ``lh`` lists the stored hash of each name is compared first, so
        only the keys whose hash matches are read; when none of them is the
        one (a hash made differently by another tool), every subkey is compared.
        """
        if node.subkey_count == 0 or node.subkey_list == NO_CELL:
            return None
        wanted = name_key(name)
        hashed = name_hash(name)
        for cell, _ in self._list_cells(node.subkey_list):
            start, _length = self.cell(cell)
            signature, count = struct.unpack_from("<2sH", self.buffer, start)
            if signature != b"lh":
                continue
            for index in range(count):
                offset, stored = struct.unpack_from("<II", self.buffer, start + 4 + 8 * index)
                if stored == hashed:
                    child = self.key(offset)
                    if name_key(child.name) == wanted:
                        return child
        for child in self.subkeys(node):
            if name_key(child.name) == wanted:
                return child
        return None

    def walk(self, parts: Sequence[str]) -> list[KeyNode]:
        """The root and then each key of *parts* that exists, stopping at the first missing one."""
        chain = [self.root]
        for part in parts:
            found = self.child(chain[-1], part)
            if found is None:
                break
            chain.append(found)
        return chain

    def find(self, parts: Sequence[str]) -> KeyNode:
        """The key at *parts*; raises KeyError naming the first missing key."""
        chain = self.walk(parts)
        if len(chain) <= len(parts):
            raise KeyError("\\".join(parts[:len(chain)]))
        return chain[-1]

    def class_name(self, node: KeyNode) -> str | None:
        if node.class_offset == NO_CELL or node.class_length == 0:
            return None
        start, length = self.cell(node.class_offset)
        return bytes(self.buffer[start:start + min(length, node.class_length)]).decode("utf-16-le", "replace")

    # values

    def value_offsets(self, node: KeyNode) -> list[int]:
        if node.value_count == 0 or node.value_list == NO_CELL:
            return []
        start, length = self.cell(node.value_list)
        if node.value_count * 4 > length:
            raise HiveFormatError(f"value list at {node.value_list:#x} is shorter than its key says")
        return list(struct.unpack_from(f"<{node.value_count}I", self.buffer, start))

    def value(self, offset: int) -> ValueNode:
        start, length = self.cell(offset)
        if length < VK_FIELDS.size:
            raise HiveFormatError(f"value cell at {offset:#x} is too short")
        signature, name_length, size_field, data_offset, type_, flags, _ = VK_FIELDS.unpack_from(self.buffer, start)
        if signature != b"vk":
            raise HiveFormatError(f"expected a value at {offset:#x}, found {signature!r}")
        if VK_FIELDS.size + name_length > length:
            raise HiveFormatError(f"value name at {offset:#x} runs past its cell")
        raw = bytes(self.buffer[start + VK_FIELDS.size:start + VK_FIELDS.size + name_length])
        name = raw.decode("latin-1") if flags & VALUE_COMP_NAME else raw.decode("utf-16-le", "replace")
        return ValueNode(offset, name, size_field, data_offset, type_)

    def values(self, node: KeyNode) -> list[ValueNode]:
        return [self.value(offset) for offset in self.value_offsets(node)]

    def find_value(self, node: KeyNode, name: str) -> ValueNode | None:
        wanted = name_key(name)
        for value in self.values(node):
            if name_key(value.name) == wanted:
                return value
        return None

    def _is_big_data(self, value: ValueNode) -> bool:
        if value.resident or value.size <= BIG_DATA_SEGMENT or self.base.minor < 4:
            return False
        start, _ = self.cell(value.data_offset)
        return bytes(self.buffer[start:start + 2]) == b"db"

    def _segments(self, value: ValueNode) -> tuple[list[int], int]:
        start, length = self.cell(value.data_offset)
        if length < 8:  # checked before reading: the cell may end the file
            raise HiveFormatError(f"big data record at {value.data_offset:#x} is too short")
        _, count, list_offset = struct.unpack_from("<2sHI", self.buffer, start)
        list_start, list_length = self.cell(list_offset)
        if count * 4 > list_length:
            raise HiveFormatError(f"big data segment list at {list_offset:#x} is too short")
        return list(struct.unpack_from(f"<{count}I", self.buffer, list_start)), list_offset

    def data(self, value: ValueNode) -> bytes:
        """The bytes of *value*, wherever they are stored."""
        size = value.size
        if value.resident:
            return struct.pack("<I", value.data_offset)[:min(size, 4)]
        if size == 0:
            return b""
        if size > len(self.buffer):  # segments may repeat: never assemble more than the file holds
            raise HiveFormatError(f"value at {value.offset:#x} says {size} bytes, more than the whole hive")
        if self._is_big_data(value):
            pieces: list[bytes] = []
            remaining = size
            for segment in self._segments(value)[0]:
                start, length = self.cell(segment)
                take = min(remaining, length, BIG_DATA_SEGMENT)
                pieces.append(bytes(self.buffer[start:start + take]))
                remaining -= take
            if remaining:
                raise HiveFormatError(f"big data of value at {value.offset:#x} is {remaining} bytes short")
            return b"".join(pieces)
        start, length = self.cell(value.data_offset)
        if size > length:
            raise HiveFormatError(f"data of value at {value.offset:#x} runs past its cell")
        return bytes(self.buffer[start:start + size])

    def data_cells(self, value: ValueNode) -> list[int]:
        """The cells holding *value*'s data (to free them)."""
        if value.resident or value.size == 0:
            return []
        if self._is_big_data(value):
            segments, list_offset = self._segments(value)
            return [value.data_offset, list_offset, *segments]
        return [value.data_offset]

    def security(self, offset: int) -> tuple[int, int, int]:
        """``(next, previous, reference count)`` of the security cell at *offset*."""
        start, length = self.cell(offset)
        if length < SK_FIELDS.size:  # checked before reading: the cell may end the file
            raise HiveFormatError(f"security cell at {offset:#x} is too short")
        signature, _, flink, blink, references, _ = SK_FIELDS.unpack_from(self.buffer, start)
        if signature != b"sk":
            raise HiveFormatError(f"expected a security cell at {offset:#x}, found {signature!r}")
        return flink, blink, references
