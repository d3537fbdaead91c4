"""Large hives made in one pass, and damaged copies of them (no tests here).

The product's editor (:mod:`agent.registry.regf_edit`) makes one change per
call, which is right for a technician and far too slow to fill a hive with
30,000 keys; libhivex (``hivexsh``) leaks a subkey list per ``add`` and makes a
160 MB file of 30,000 keys.  :func:`build_hive` lays a whole tree out once, as
Windows lays out a freshly saved hive: 4096-byte bins (larger ones only for
cells that need them), one shared security cell, subkey lists sorted by
upper-cased name with ``lh`` hashes and an ``ri`` index over 500 entries.  Two
independent readers (regipy, hivexsh) check what it makes in
tests/test_registry_recovery.py.

:func:`system_like_tree` gives a deterministic tree shaped like a SYSTEM hive
(deep ``ControlSet001\\Services\\…\\Parameters`` chains, wide ``Enum`` lists,
a few values per key).  The ``damage_*`` functions break a hive in one known way.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from agent.registry.regf import (
    BASE_BLOCK_SIZE,
    BASE_FIELDS,
    HBIN_FIELDS,
    HBIN_HEADER_SIZE,
    KEY_COMP_NAME,
    KEY_HIVE_ENTRY,
    KEY_NO_DELETE,
    NK_FIELDS,
    NO_CELL,
    SK_FIELDS,
    VALUE_COMP_NAME,
    VK_FIELDS,
    align8,
    checksum,
    encode_name,
    name_hash,
    sort_key,
    utf16_length,
)
from agent.registry.regf_edit import LEAF_MAX, default_security_descriptor


@dataclass
class Node:
    """One key to build: its values as ``(name, type number, raw bytes)``, and its subkeys."""

    name: str
    values: list[tuple[str, int, bytes]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def count(self) -> int:
        """Keys in this subtree, this one included."""
        total, pending = 0, [self]
        while pending:
            node = pending.pop()
            total += 1
            pending.extend(node.children)
        return total


class _Layout:
    """Cells placed in bins as they are allocated; payloads written once known."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.bin_start = 0
        self.bin_end = 0

    def allocate(self, payload_size: int) -> int:
        size = align8(payload_size + 4)
        if self.bin_end - len(self.data) < size:
            self._close_bin()
            bin_size = max(4096, (size + HBIN_HEADER_SIZE + 4095) // 4096 * 4096)
            self.bin_start = len(self.data)
            self.bin_end = self.bin_start + bin_size
            self.data += HBIN_FIELDS.pack(b"hbin", self.bin_start, bin_size, 0, 0, 0)
        offset = len(self.data)
        self.data += struct.pack("<i", -size) + bytes(size - 4)
        return offset

    def _close_bin(self) -> None:
        left = self.bin_end - len(self.data)
        if left > 0:  # the rest of the bin is one free cell
            self.data += struct.pack("<i", left) + bytes(left - 4)

    def put(self, offset: int, payload: bytes) -> None:
        (size,) = struct.unpack_from("<i", self.data, offset)
        if len(payload) + 4 > -size:
            raise AssertionError("payload larger than its cell")
        self.data[offset + 4:offset + 4 + len(payload)] = payload

    def cell(self, payload: bytes) -> int:
        offset = self.allocate(len(payload))
        self.put(offset, payload)
        return offset

    def finish(self) -> bytes:
        self._close_bin()
        return bytes(self.data)


def _key_payload(node: Node, parent: int, security: int, flags: int, subkeys: int, subkey_list: int,
                 value_count: int, value_list: int) -> bytes:
    raw, compressed = encode_name(node.name)
    max_name = max((utf16_length(child.name) for child in node.children), default=0)
    max_value_name = max((utf16_length(name) for name, _, _ in node.values), default=0)
    max_value_data = max((len(data) for _, _, data in node.values), default=0)
    return NK_FIELDS.pack(b"nk", flags | (KEY_COMP_NAME if compressed else 0), 0x01D9_0000_0000_0000, 0, parent,
                          subkeys, 0, subkey_list, NO_CELL, value_count, value_list, security, NO_CELL, max_name, 0,
                          max_value_name, max_value_data, 0, len(raw), 0) + raw


def _value_cell(layout: _Layout, name: str, type_: int, data: bytes) -> int:
    if len(data) <= 4:
        size_field, data_offset = len(data) | 0x80000000, int.from_bytes(data.ljust(4, b"\0"), "little")
    else:
        if len(data) > 16344:
            raise ValueError("big data is not built here; keep generated values small")
        size_field, data_offset = len(data), layout.cell(data)
    raw, compressed = encode_name(name)
    return layout.cell(VK_FIELDS.pack(b"vk", len(raw), size_field, data_offset, type_,
                                      VALUE_COMP_NAME if compressed else 0, 0) + raw)


def _subkey_list(layout: _Layout, entries: list[tuple[int, str]]) -> int:
    def leaf(chunk: list[tuple[int, str]]) -> int:
        body = struct.pack("<2sH", b"lh", len(chunk)) + b"".join(
            struct.pack("<II", offset, name_hash(name)) for offset, name in chunk)
        return layout.cell(body)

    if len(entries) <= LEAF_MAX:
        return leaf(entries)
    leaves = [leaf(entries[start:start + LEAF_MAX]) for start in range(0, len(entries), LEAF_MAX)]
    return layout.cell(struct.pack(f"<2sH{len(leaves)}I", b"ri", len(leaves), *leaves))


def build_hive(root: Node, embedded_name: str = "SYSTEM") -> bytes:
    """The bytes of a consistent version 1.5 hive holding *root*'s tree."""
    layout = _Layout()
    descriptor = default_security_descriptor()
    # the root key is the first cell, as Windows writes it (regipy relies on that)
    root_offset = layout.allocate(NK_FIELDS.size + len(encode_name(root.name)[0]))
    security = layout.allocate(SK_FIELDS.size + len(descriptor))
    keys = 0
    # depth first, iteratively (generated trees may be deep): the key first, its subkey list once its
    # children have offsets
    stack: list[tuple[Node, int, int, list[tuple[int, str]] | None]] = [(root, root_offset, 0, None)]
    while stack:
        node, offset, parent, placed = stack.pop()
        if placed is None:
            keys += 1
            children = sorted(node.children, key=lambda child: sort_key(child.name))
            node.children = children
            offsets = [layout.allocate(NK_FIELDS.size + len(encode_name(child.name)[0])) for child in children]
            stack.append((node, offset, parent, list(zip(offsets, (child.name for child in children), strict=True))))
            stack.extend((child, child_offset, offset, None)
                         for child, child_offset in reversed(list(zip(children, offsets, strict=True))))
            continue
        values = [_value_cell(layout, name, type_, data) for name, type_, data in node.values]
        value_list = layout.cell(struct.pack(f"<{len(values)}I", *values)) if values else NO_CELL
        subkey_list = _subkey_list(layout, placed) if placed else NO_CELL
        flags = KEY_HIVE_ENTRY | KEY_NO_DELETE if offset == root_offset else 0
        layout.put(offset, _key_payload(node, parent, security, flags, len(placed), subkey_list, len(values),
                                        value_list))
    layout.put(security, SK_FIELDS.pack(b"sk", 0, security, security, keys, len(descriptor)) + descriptor)
    bins = layout.finish()
    base = bytearray(BASE_BLOCK_SIZE)
    BASE_FIELDS.pack_into(base, 0, b"regf", 7, 7, 0x01D9_0000_0000_0000, 1, 5, 0, 1, root_offset, len(bins), 1)
    name = embedded_name[-31:].encode("utf-16-le")
    base[48:48 + len(name)] = name
    struct.pack_into("<I", base, 508, checksum(base))
    return bytes(base) + bins


_WORDS = ("Services", "Parameters", "Enum", "Control", "Class", "Linkage", "Security", "Performance", "Setup",
          "Network", "Interfaces", "Device", "Properties", "Instance", "Driver", "Config", "Tcpip", "Print",
          "Session Manager", "Environment", "Power", "Video", "Storage", "Filters", "Volume", "Usb")


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def system_like_tree(keys: int = 30_000, seed: int = 14) -> Node:
    """A deterministic tree of exactly *keys* keys shaped like a SYSTEM hive."""
    rng = random.Random(seed)
    root = Node("ROOT")
    made = 1
    open_keys = [root]
    while made < keys:
        parent = open_keys[rng.randrange(len(open_keys))] if rng.random() < 0.7 else open_keys[-1]
        index = len(parent.children)
        name = f"{rng.choice(_WORDS)}{index:03d}" if rng.random() < 0.8 else (
            f"{{{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}}}")
        values: list[tuple[str, int, bytes]] = [("", 1, _sz(name.lower()))] if rng.random() < 0.3 else []
        for number in range(rng.choice((0, 1, 2, 3, 4, 6))):
            if number % 3 == 0:
                values.append((f"Start{number}", 4, struct.pack("<I", rng.getrandbits(32))))
            elif number % 3 == 1:
                values.append((f"ImagePath{number}", 2, _sz(f"%SystemRoot%\\System32\\drivers\\{name}.sys")))
            else:
                values.append((f"Data{number}", 3, rng.randbytes(rng.randrange(1, 64))))
        child = Node(name, values)
        parent.children.append(child)
        open_keys.append(child)
        made += 1
    return root


# -- damage, each in one known way (the result is a new bytes object)


def _bins(data: bytes) -> list[tuple[int, int]]:
    """``(file position, size)`` of each hive bin, from the bins' own headers."""
    found, position = [], BASE_BLOCK_SIZE
    while position + HBIN_HEADER_SIZE <= len(data) and data[position:position + 4] == b"hbin":
        (size,) = struct.unpack_from("<I", data, position + 8)
        if size < 4096:
            break
        found.append((position, size))
        position += size
    return found


def _cells(data: bytes, signature: bytes) -> list[int]:
    """File positions of the allocated cells whose payload starts with *signature*."""
    found = []
    for start, size in _bins(data):
        cell = start + HBIN_HEADER_SIZE
        while cell < start + size:
            (length,) = struct.unpack_from("<i", data, cell)
            if length == 0:
                break
            if length < 0 and data[cell + 4:cell + 6] == signature:
                found.append(cell)
            cell += abs(length)
    return found


def damage_truncated(data: bytes, keep: float) -> bytes:
    """The first *keep* (0..1) of the file, as a copy cut short leaves it."""
    return data[:max(BASE_BLOCK_SIZE + 4096, int(len(data) * keep))]


def damage_zeroed_bins(data: bytes, every: int, seed: int = 1) -> bytes:
    """One bin in *every* (chosen at random, never the root's first one) overwritten with zeros."""
    rng = random.Random(seed)
    out = bytearray(data)
    for start, size in _bins(data)[1:]:
        if rng.randrange(every) == 0:
            out[start:start + size] = bytes(size)
    return bytes(out)


def damage_cell_sizes(data: bytes, count: int, seed: int = 2) -> bytes:
    """The size fields of *count* allocated key cells replaced by impossible values."""
    rng = random.Random(seed)
    out = bytearray(data)
    cells = _cells(data, b"nk")
    for cell in rng.sample(cells[1:], min(count, len(cells) - 1)):
        struct.pack_into("<i", out, cell, rng.choice((0, 3, -3, 0x7FFF_FFF0, -0x7FFF_FFF0, 12345)))
    return bytes(out)


def damage_subkey_lists(data: bytes, count: int, seed: int = 3) -> bytes:
    """*count* subkey lists broken: a wrong signature, an impossible count, or entries pointing nowhere."""
    rng = random.Random(seed)
    out = bytearray(data)
    lists = _cells(data, b"lh") + _cells(data, b"ri")
    for cell in rng.sample(lists, min(count, len(lists))):
        how = rng.randrange(3)
        if how == 0:
            out[cell + 4:cell + 6] = b"XX"
        elif how == 1:
            struct.pack_into("<H", out, cell + 6, 0xFFFF)
        else:
            struct.pack_into("<I", out, cell + 8, 0x7FFF_FFF8)
    return bytes(out)


def damage_key_cells(data: bytes, count: int, seed: int = 4) -> bytes:
    """*count* key cells whose ``nk`` signature and counts are garbage."""
    rng = random.Random(seed)
    out = bytearray(data)
    cells = _cells(data, b"nk")
    for cell in rng.sample(cells[1:], min(count, len(cells) - 1)):
        out[cell + 4:cell + 4 + 48] = rng.randbytes(48)
    return bytes(out)
