"""Reading what is left of a damaged hive: every readable key and value, and words for what is not.

A hive copied off a failing disk is the case where offline reading matters
most, so reading (never writing: :mod:`agent.registry.regf_edit` stays strict)
goes on past damage instead of stopping at the first bad cell:

* a key cell is read when its ``nk`` signature and name fit in the hive,
  whatever its size field says (a size is the first thing a bad sector or a
  half-written bin breaks);
* a subkey list is read entry by entry; entries that do not lead to a key are
  dropped, an ``ri`` index keeps its readable leaves;
* when a key's list is damaged (bad signature, entries lost, a count that
  does not match), the keys whose *parent* field names it are found by one
  scan of the hive's bins for ``nk`` cells (:meth:`Salvage.orphans`), so a
  broken list loses nothing that still says where it belongs;
* values are read one by one; a damaged one is left out;
* every key is met once (a damaged list pointing back up cannot loop).

What could not be read is described in plain words, per key (``notes``),
with the cell offset, so the technician knows the listing is incomplete.

Errors: none for damage once the reader exists (:class:`HiveReader` raises
:class:`~agent.registry.regf.HiveFormatError` for a file that is not a hive);
:meth:`Salvage.find` raises KeyError for a missing key.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.registry.regf import (
    BASE_BLOCK_SIZE,
    NK_FIELDS,
    NO_CELL,
    HiveFormatError,
    HiveReader,
    KeyNode,
    ValueNode,
    name_key,
    sort_key,
)

#: notes kept per key at most (a key whose list is garbage could give thousands)
MAX_NOTES = 20


@dataclass
class KeyRead:
    """One key as salvaged: its subkeys and values (with their bytes), and what was lost."""

    node: KeyNode
    subkeys: list[KeyNode] = field(default_factory=list)
    values: list[tuple[ValueNode, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)
        elif len(self.notes) == MAX_NOTES:
            self.notes.append("(more damage here, not listed)")


class Salvage:
    """Damage-tolerant reading over a :class:`HiveReader` (valid as long as the reader's buffer is)."""

    def __init__(self, reader: HiveReader) -> None:
        self.reader = reader
        self._orphans: dict[int, list[int]] | None = None

    # keys

    def key(self, offset: int) -> KeyNode:
        """The key at cell *offset*, its size field not trusted; HiveFormatError when it cannot be read."""
        reader = self.reader
        if offset % 8 or not 0 <= offset < reader.bins_end - 4 - NK_FIELDS.size:
            raise HiveFormatError(f"key offset {offset:#x} is out of the hive")
        (size,) = struct.unpack_from("<i", reader.buffer, BASE_BLOCK_SIZE + offset)
        room = reader.bins_end - offset - 4
        if size < 0 and -size - 4 <= room:
            try:
                return reader.key_at(offset, BASE_BLOCK_SIZE + offset + 4, -size - 4)
            except HiveFormatError:
                pass  # a size that is wrong but plausible: try again bounded by the hive only
        return reader.key_at(offset, BASE_BLOCK_SIZE + offset + 4, room)

    def _lost_key(self, offset: int, err: HiveFormatError, read: KeyRead) -> KeyNode | None:
        """A stand-in for a listed key whose cell cannot be read, when it lies in the hive or keys name it
        as their parent (so what is below it is not lost with it); None otherwise."""
        inside = offset % 8 == 0 and 0 <= offset < self.reader.bins_end
        if not inside and not self.orphans().get(offset):
            read.note(f"subkey lost: {err}")
            return None
        read.note(f"a subkey is damaged ({err}); shown as {lost_key_name(offset)!r} with the keys that name it "
                  "as their parent")
        return KeyNode(offset, 0, 0, read.node.offset, 1, NO_CELL, 0, NO_CELL, NO_CELL, NO_CELL, 0, 0, 0, 0,
                       lost_key_name(offset))

    def _list_entries(self, offset: int, into: list[int], read: KeyRead, depth: int = 0) -> bool:
        """Append the key offsets of list cell *offset* to *into*; False when the list was damaged."""
        reader = self.reader
        try:
            start, length = reader.cell(offset)
        except HiveFormatError as err:
            read.note(f"subkey list lost: {err}")
            return False
        if length < 4:
            read.note(f"subkey list at {offset:#x} is too short")
            return False
        signature, count = struct.unpack_from("<2sH", reader.buffer, start)
        width = 8 if signature in (b"lf", b"lh") else 4 if signature in (b"li", b"ri") else 0
        if not width or (signature == b"ri" and depth):
            read.note(f"subkey list at {offset:#x} is damaged (found {signature!r})")
            return False
        fits = (length - 4) // width
        whole: bool = count <= fits
        if not whole:
            read.note(f"subkey list at {offset:#x} says {count} entries, its cell holds {fits}")
        items: list[int] = [struct.unpack_from("<I", reader.buffer, start + 4 + index * width)[0]
                            for index in range(min(count, fits))]
        if signature == b"ri":
            for item in items:
                whole = self._list_entries(item, into, read, depth + 1) and whole
        else:
            into.extend(items)
        return whole

    def read(self, node: KeyNode, values: bool = True, seen: set[int] | None = None) -> KeyRead:
        """*node*'s subkeys (sorted as stored) and, with *values*, its values; what was lost in ``notes``.

        Keys in *seen* are left out of ``subkeys`` (a walk passes the keys it
        met, so a damaged list cannot make it loop); what is found does not
        depend on *seen*, so a key listed in a walk is found by :meth:`find`.
        """
        read = KeyRead(node)
        offsets: list[int] = []
        whole = True
        if node.subkey_count and node.subkey_list != NO_CELL:
            whole = self._list_entries(node.subkey_list, offsets, read)
        found: dict[int, KeyNode] = {}
        for offset in offsets:
            if offset in found:
                continue
            if offset == node.offset:
                whole = False
                read.note(f"the subkey list of the key at {node.offset:#x} names the key itself")
                continue
            try:
                child = self.key(offset)
            except HiveFormatError as err:
                whole = False
                lost = self._lost_key(offset, err, read)
                if lost is not None:
                    found[offset] = lost
                continue
            if child.parent != node.offset:  # listed here, but it names another parent: the list is suspect
                whole = False
            found[offset] = child
        if not whole or len(found) < node.subkey_count:
            recovered = 0
            for offset in self.orphans().get(node.offset, ()):
                if offset not in found and offset != node.offset:
                    found[offset] = self.key(offset)
                    recovered += 1
            if recovered:
                read.note(f"{recovered} subkey(s) found by their parent link, not by the damaged list")
            if not whole or recovered:
                read.subkeys = sorted(found.values(), key=lambda child: sort_key(child.name))
        if not read.subkeys:
            read.subkeys = list(found.values())
        if seen is not None:
            read.subkeys = [child for child in read.subkeys if child.offset not in seen]
        if values:
            self._values(node, read)
        return read

    def _values(self, node: KeyNode, read: KeyRead) -> None:
        reader = self.reader
        if node.value_count == 0 or node.value_list == NO_CELL:
            return
        try:
            start, length = reader.cell(node.value_list)
        except HiveFormatError as err:
            read.note(f"values lost: {err}")
            return
        count = min(node.value_count, length // 4)
        if count < node.value_count:
            read.note(f"value list at {node.value_list:#x} holds {count} of the {node.value_count} values")
        for (offset,) in struct.iter_unpack("<I", bytes(reader.buffer[start:start + 4 * count])):
            try:
                value = reader.value(offset)
                read.values.append((value, reader.data(value)))
            except HiveFormatError as err:
                read.note(f"value lost: {err}")

    def child(self, node: KeyNode, name: str) -> KeyNode | None:
        """The subkey of *node* called *name* (as Windows compares), or None."""
        try:
            found = self.reader.child(node, name)
        except HiveFormatError:
            found = None
        if found is not None:
            return found
        wanted = name_key(name)
        for child in self.read(node, values=False).subkeys:
            if name_key(child.name) == wanted:
                return child
        return None

    def walk(self, parts: Sequence[str]) -> list[KeyNode]:
        """The root and then each key of *parts* that can be reached, stopping at the first missing one."""
        chain = [self.reader.root]
        for part in parts:
            found = self.child(chain[-1], part)
            if found is None:
                break
            chain.append(found)
        return chain

    def find(self, parts: Sequence[str]) -> KeyNode:
        """The key at *parts*; KeyError naming the first missing key."""
        chain = self.walk(parts)
        if len(chain) <= len(parts):
            raise KeyError("\\".join(parts[:len(chain)]))
        return chain[-1]

    def orphans(self) -> dict[int, list[int]]:
        """Every readable, allocated key cell of the hive by its parent's offset (one scan, then kept)."""
        if self._orphans is None:
            self._orphans = {}
            reader = self.reader
            buffer = reader.buffer
            end = BASE_BLOCK_SIZE + reader.bins_end
            position = buffer.find(b"nk", BASE_BLOCK_SIZE)
            while 0 <= position < end:
                offset = position - 4 - BASE_BLOCK_SIZE
                if offset >= 0 and offset % 8 == 0:
                    (size,) = struct.unpack_from("<i", buffer, position - 4)
                    if size < 0:
                        try:
                            node = self.key(offset)
                        except HiveFormatError:
                            pass
                        else:
                            self._orphans.setdefault(node.parent, []).append(offset)
                position = buffer.find(b"nk", position + 2)
        return self._orphans


def lost_key_name(offset: int) -> str:
    """The name a damaged key is shown under (its own name is lost with its cell)."""
    return f"(damaged key {offset:#x})"
