"""Writing REGF hives: in-place edits planned as patches, and a new empty hive.

The layout is described in :mod:`agent.registry.regf`.  Editing never moves
existing cells: new cells go into one new hive bin appended per change,
replaced cells are marked free, and the fixed-size fields of the keys
involved are patched (so everything this module does not understand is kept
byte for byte).  Subkey lists stay sorted by upper-cased name as Windows
requires; leaves hold at most :data:`LEAF_MAX` entries, more go under an
``ri``.  Security descriptors' reference counts are kept exact.

Errors: KeyError for a missing key or value, ValueError for a change the
format forbids (deleting the root), :class:`~agent.registry.regf.HiveFormatError`
for a damaged hive.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from agent.registry.regf import (
    BASE_BLOCK_SIZE,
    BASE_FIELDS,
    BIG_DATA_SEGMENT,
    HBIN_FIELDS,
    HBIN_HEADER_SIZE,
    KEY_COMP_NAME,
    KEY_HIVE_ENTRY,
    KEY_NO_DELETE,
    NK_FIELDS,
    NK_MAX_NAME,
    NK_MAX_VALUE_DATA,
    NK_MAX_VALUE_NAME,
    NK_SUBKEY_COUNT,
    NK_SUBKEY_LIST,
    NK_TIMESTAMP,
    NK_VALUE_COUNT,
    NK_VALUE_LIST,
    NO_CELL,
    SK_FIELDS,
    VALUE_COMP_NAME,
    VK_FIELDS,
    HiveFormatError,
    HiveReader,
    KeyNode,
    ValueNode,
    align8,
    checksum,
    encode_name,
    filetime_now,
    name_hash,
    sort_key,
    utf16_length,
)

#: entries per subkey list leaf before an ``ri`` index is used
LEAF_MAX: Final = 500
#: the largest subtree walked when deleting (a guard against looping, damaged files)
MAX_NODES: Final = 10_000_000


def _value_cell(name: str, type_: int, data_size_field: int, data_offset: int) -> bytes:
    raw, compressed = encode_name(name)
    return VK_FIELDS.pack(b"vk", len(raw), data_size_field, data_offset, type_ & 0xFFFFFFFF,
                    VALUE_COMP_NAME if compressed else 0, 0) + raw


def _key_cell(name: str, *, flags: int = 0, parent: int, subkey_count: int = 0, subkey_list: int = NO_CELL,
              value_count: int = 0, value_list: int = NO_CELL, security: int, max_name: int = 0,
              max_value_name: int = 0, max_value_data: int = 0) -> bytes:
    raw, compressed = encode_name(name)
    flags = (flags & ~KEY_COMP_NAME) | (KEY_COMP_NAME if compressed else 0)
    return NK_FIELDS.pack(b"nk", flags, filetime_now(), 0, parent, subkey_count, 0, subkey_list, NO_CELL, value_count,
                    value_list, security, NO_CELL, max_name, 0, max_value_name, max_value_data, 0, len(raw),
                    0) + raw


class HiveEditor:
    """Collects one change to a hive as patches and one new hive bin.

    Every method reads the hive as it was (the *reader*), so a change is
    planned completely before anything is written; :meth:`write_to` then
    applies it to a copy of the same bytes.  Raises KeyError for a missing
    key or value, ValueError for a change the format forbids (deleting the
    root), :class:`HiveFormatError` for a damaged hive.
    """

    def __init__(self, reader: HiveReader) -> None:
        self.reader = reader
        self.patches: dict[int, bytes] = {}
        self.bin_offset = reader.base.bins_size
        self._cells: list[tuple[int, bytes]] = []
        self._next = self.bin_offset + HBIN_HEADER_SIZE
        self._security: dict[int, list[int]] = {}
        self._freed: set[int] = set()
        leaf = b"lh" if reader.base.minor >= 5 else b"lf" if reader.base.minor >= 3 else b"li"
        self._leaf_signature = leaf

    # low level

    def allocate(self, payload: bytes) -> int:
        """Place *payload* in a new cell of the new bin; its offset."""
        offset = self._next
        self._cells.append((offset, payload))
        self._next += align8(len(payload) + 4)
        return offset

    def _replace(self, offset: int, payload: bytes) -> None:
        for index, (cell, old) in enumerate(self._cells):
            if cell == offset:
                if len(old) != len(payload):
                    raise AssertionError("a reserved cell changed size")
                self._cells[index] = (offset, payload)
                return
        raise AssertionError("no reserved cell at that offset")

    def patch(self, offset: int, field: int, fmt: str, value: int) -> None:
        """Overwrite one field at *field* bytes into the payload of the cell at *offset*."""
        start, length = self.reader.cell(offset)
        if field + struct.calcsize(fmt) > length:
            raise HiveFormatError(f"field beyond the cell at {offset:#x}")
        self.patches[start + field] = struct.pack(fmt, value)

    def free(self, offset: int) -> None:
        if offset in self._freed:
            return
        size = self.reader.cell_size(offset)
        self._freed.add(offset)
        self.patches[BASE_BLOCK_SIZE + offset] = struct.pack("<i", size)

    def _touch(self, node: KeyNode) -> None:
        self.patch(node.offset, NK_TIMESTAMP, "<Q", filetime_now())

    # security descriptors

    def _security_state(self, offset: int) -> list[int]:
        if offset not in self._security:
            self._security[offset] = list(self.reader.security(offset))
        return self._security[offset]

    def _add_references(self, offset: int, delta: int) -> None:
        state = self._security_state(offset)
        state[2] += delta
        if state[2] <= 0:  # no key uses it any more: take it out of the ring
            flink, blink = state[0], state[1]
            self._security_state(blink)[0] = flink
            self._security_state(flink)[1] = blink
            self.free(offset)

    def _flush_security(self) -> None:
        for offset, (flink, blink, references) in self._security.items():
            if offset in self._freed:
                continue
            self.patch(offset, 4, "<I", flink)
            self.patch(offset, 8, "<I", blink)
            self.patch(offset, 12, "<I", references)

    # building blocks

    def _data(self, raw: bytes) -> tuple[int, int]:
        """``(size field, offset field)`` of a value holding *raw*."""
        if len(raw) <= 4:
            return len(raw) | 0x80000000, int.from_bytes(raw.ljust(4, b"\x00"), "little")
        if len(raw) > BIG_DATA_SEGMENT and self.reader.base.minor >= 4:
            segments = [self.allocate(raw[index:index + BIG_DATA_SEGMENT])
                        for index in range(0, len(raw), BIG_DATA_SEGMENT)]
            listing = self.allocate(struct.pack(f"<{len(segments)}I", *segments))
            return len(raw), self.allocate(struct.pack("<2sHII", b"db", len(segments), listing, 0))
        return len(raw), self.allocate(raw)

    def _new_value(self, name: str, type_: int, raw: bytes) -> int:
        size_field, data_offset = self._data(raw)
        return self.allocate(_value_cell(name, type_, size_field, data_offset))

    def _subkey_list(self, entries: list[tuple[int, str]]) -> int:
        """A new list (leaf, or ``ri`` of leaves) of *entries*, already sorted."""
        if not entries:
            return NO_CELL

        def leaf(chunk: list[tuple[int, str]]) -> int:
            body = bytearray(struct.pack("<2sH", self._leaf_signature, len(chunk)))
            for offset, name in chunk:
                if self._leaf_signature == b"lh":
                    body += struct.pack("<II", offset, name_hash(name))
                elif self._leaf_signature == b"lf":
                    body += struct.pack("<I4s", offset, encode_name(name)[0][:4])
                else:
                    body += struct.pack("<I", offset)
            return self.allocate(bytes(body))

        if len(entries) <= LEAF_MAX:
            return leaf(entries)
        leaves = [leaf(entries[index:index + LEAF_MAX]) for index in range(0, len(entries), LEAF_MAX)]
        return self.allocate(struct.pack(f"<2sH{len(leaves)}I", b"ri", len(leaves), *leaves))

    def _rewrite_subkeys(self, parent: KeyNode, add: tuple[int, str] | None = None,
                         remove: int | None = None) -> None:
        entries = [(child.offset, child.name) for child in self.reader.subkeys(parent) if child.offset != remove]
        if add is not None:
            entries.append(add)
        entries.sort(key=lambda entry: sort_key(entry[1]))
        for cell in self.reader.subkey_list_cells(parent):
            self.free(cell)
        self.patch(parent.offset, NK_SUBKEY_LIST, "<I", self._subkey_list(entries))
        self.patch(parent.offset, NK_SUBKEY_COUNT, "<I", len(entries))
        if add is not None:
            length = max(parent.max_name & 0xFFFF, utf16_length(add[1]))
            self.patch(parent.offset, NK_MAX_NAME, "<I", (parent.max_name & 0xFFFF0000) | length)
        self._touch(parent)

    def _free_value(self, value: ValueNode) -> None:
        for cell in self.reader.data_cells(value):
            self.free(cell)
        self.free(value.offset)

    # changes

    def set_value(self, parts: Sequence[str], name: str, type_: int, raw: bytes) -> None:
        """Set value *name* of key *parts*, creating the key and its missing parents."""
        chain = self.reader.walk(parts)
        missing = list(parts[len(chain) - 1:])
        if missing:
            self._add_keys(chain[-1], missing, (name, type_, raw))
            return
        node = chain[-1]
        old = self.reader.find_value(node, name)
        if old is not None:
            name = old.name  # as Windows does: a value keeps the spelling it was created with
        new = self._new_value(name, type_, raw)
        offsets = self.reader.value_offsets(node)
        if old is None:
            offsets.append(new)
        else:
            offsets[offsets.index(old.offset)] = new
            self._free_value(old)
        self._set_value_list(node, offsets)
        self.patch(node.offset, NK_MAX_VALUE_NAME, "<I", max(node.max_value_name, utf16_length(name)))
        self.patch(node.offset, NK_MAX_VALUE_DATA, "<I", max(node.max_value_data, len(raw)))

    def _set_value_list(self, node: KeyNode, offsets: list[int]) -> None:
        if node.value_count and node.value_list != NO_CELL:
            self.free(node.value_list)
        listing = self.allocate(struct.pack(f"<{len(offsets)}I", *offsets)) if offsets else NO_CELL
        self.patch(node.offset, NK_VALUE_LIST, "<I", listing)
        self.patch(node.offset, NK_VALUE_COUNT, "<I", len(offsets))
        self._touch(node)

    def create_key(self, parts: Sequence[str]) -> None:
        """Create key *parts* and its missing parents; nothing when it exists."""
        chain = self.reader.walk(parts)
        missing = list(parts[len(chain) - 1:])
        if missing:
            self._add_keys(chain[-1], missing, None)

    def _add_keys(self, parent: KeyNode, names: list[str], value: tuple[str, int, bytes] | None) -> None:
        security = parent.security
        # reserve the new keys first: each one names its parent and its child
        offsets = [self.allocate(_key_cell(name, parent=0, security=security)) for name in names]
        for index, name in enumerate(names):
            fields: dict[str, int] = {}
            if index + 1 < len(names):
                child = names[index + 1]
                fields.update(subkey_count=1, subkey_list=self._subkey_list([(offsets[index + 1], child)]),
                              max_name=utf16_length(child))
            elif value is not None:
                value_name, type_, raw = value
                listing = self.allocate(struct.pack("<I", self._new_value(value_name, type_, raw)))
                fields.update(value_count=1, value_list=listing, max_value_name=utf16_length(value_name),
                              max_value_data=len(raw))
            parent_offset = parent.offset if index == 0 else offsets[index - 1]
            self._replace(offsets[index], _key_cell(name, parent=parent_offset, security=security, **fields))
        self._rewrite_subkeys(parent, add=(offsets[0], names[0]))
        self._add_references(security, len(names))

    def delete_value(self, parts: Sequence[str], name: str) -> None:
        """Delete value *name* of key *parts*; KeyError when either is missing."""
        node = self.reader.find(parts)
        old = self.reader.find_value(node, name)
        if old is None:
            raise KeyError(name)
        self._set_value_list(node, [offset for offset in self.reader.value_offsets(node) if offset != old.offset])
        self._free_value(old)

    def delete_key(self, parts: Sequence[str]) -> None:
        """Delete key *parts* and everything below it; ValueError for the root."""
        if not parts:
            raise ValueError("the root key of a hive cannot be deleted")
        chain = self.reader.walk(parts)
        if len(chain) <= len(parts):
            raise KeyError("\\".join(parts[:len(chain)]))
        node, parent = chain[-1], chain[-2]
        self._rewrite_subkeys(parent, remove=node.offset)
        pending = [node]
        seen: set[int] = set()
        while pending:
            current = pending.pop()
            if current.offset in seen or len(seen) > MAX_NODES:
                raise HiveFormatError(f"key at {current.offset:#x} is reached twice: the hive loops")
            seen.add(current.offset)
            for value in self.reader.values(current):
                self._free_value(value)
            if current.value_count and current.value_list != NO_CELL:
                self.free(current.value_list)
            if current.class_offset != NO_CELL and current.class_length:
                self.free(current.class_offset)
            pending.extend(self.reader.subkeys(current))
            for cell in self.reader.subkey_list_cells(current):
                self.free(cell)
            self.free(current.offset)
            self._add_references(current.security, -1)

    # output

    def new_bin(self) -> bytes:
        """The hive bin holding the new cells (empty when the change needed none)."""
        if not self._cells:
            return b""
        used = self._next - self.bin_offset
        size = (used + 4095) // 4096 * 4096
        out = bytearray(size)
        out[:HBIN_HEADER_SIZE] = HBIN_FIELDS.pack(b"hbin", self.bin_offset, size, 0, 0, 0)
        for offset, payload in self._cells:
            position = offset - self.bin_offset
            struct.pack_into("<i", out, position, -align8(len(payload) + 4))
            out[position + 4:position + 4 + len(payload)] = payload
        if size > used:
            struct.pack_into("<i", out, used, size - used)
        return bytes(out)

    def finish(self) -> tuple[dict[int, bytes], bytes, bytes]:
        """``(patches by file position, new bin to write at the end of the bins, new base block)``."""
        self._flush_security()
        new_bin = self.new_bin()
        base = bytearray(self.reader.buffer[:BASE_BLOCK_SIZE])
        sequence = (self.reader.base.primary_sequence + 1) & 0xFFFFFFFF
        struct.pack_into("<IIQ", base, 4, sequence, sequence, filetime_now())
        struct.pack_into("<I", base, 40, self.reader.base.bins_size + len(new_bin))
        struct.pack_into("<I", base, 508, checksum(base))
        return dict(self.patches), new_bin, bytes(base)


def _sid(authority: int, *subauthorities: int) -> bytes:
    return struct.pack("<BB", 1, len(subauthorities)) + authority.to_bytes(6, "big") + struct.pack(
        f"<{len(subauthorities)}I", *subauthorities)


def default_security_descriptor() -> bytes:
    """A self-relative descriptor: owner Administrators, group SYSTEM, DACL giving SYSTEM and
    Administrators full control and Users read access, inherited by subkeys."""
    system, administrators, users = _sid(5, 18), _sid(5, 32, 544), _sid(5, 32, 545)
    aces = b"".join(struct.pack("<BBHI", 0, 0x02, 8 + len(sid), mask) + sid
                    for sid, mask in ((system, 0xF003F), (administrators, 0xF003F), (users, 0x20019)))
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), 3, 0) + aces
    dacl_at = 20
    owner_at = dacl_at + len(acl)
    group_at = owner_at + len(administrators)
    return struct.pack("<BBHIIII", 1, 0, 0x8004, owner_at, group_at, 0, dacl_at) + acl + administrators + system


def new_hive(root_name: str = "ROOT", embedded_name: str = "", minor: int = 5) -> bytes:
    """The bytes of a new, empty, consistent hive file (version 1.*minor*).

    Its root key is *root_name*; *embedded_name* is the file name the header
    records (Windows keeps the end of the hive's path there).
    """
    descriptor = default_security_descriptor()
    root_offset = HBIN_HEADER_SIZE
    root = _key_cell(root_name, flags=KEY_HIVE_ENTRY | KEY_NO_DELETE, parent=0, security=0)
    security_offset = root_offset + align8(len(root) + 4)
    root = _key_cell(root_name, flags=KEY_HIVE_ENTRY | KEY_NO_DELETE, parent=0, security=security_offset)
    security = SK_FIELDS.pack(b"sk", 0, security_offset, security_offset, 1, len(descriptor)) + descriptor
    hbin = bytearray(4096)
    hbin[:HBIN_HEADER_SIZE] = HBIN_FIELDS.pack(b"hbin", 0, 4096, 0, filetime_now(), 0)
    position = root_offset
    for payload in (root, security):
        struct.pack_into("<i", hbin, position, -align8(len(payload) + 4))
        hbin[position + 4:position + 4 + len(payload)] = payload
        position += align8(len(payload) + 4)
    struct.pack_into("<i", hbin, position, 4096 - position)
    base = bytearray(BASE_BLOCK_SIZE)
    BASE_FIELDS.pack_into(base, 0, b"regf", 1, 1, filetime_now(), 1, minor, 0, 1, root_offset, 4096, 1)
    name = embedded_name[-31:].encode("utf-16-le")  # Windows keeps the path's last 31 characters
    base[48:48 + len(name)] = name
    struct.pack_into("<I", base, 508, checksum(base))
    return bytes(base) + bytes(hbin)
