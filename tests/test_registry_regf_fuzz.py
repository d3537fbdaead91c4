"""Property tests of the REGF reader: however a hive is corrupted, reading it raises only the documented error.

The documented errors: :class:`~agent.registry.regf.HiveFormatError` from the
strict reader (and KeyError for a missing key), nothing at all from the
salvaging reader once the file was accepted, and ``BadParams``/``NotFound``
(wire errors) from the backend.  Every read ends (a damaged list pointing
back up cannot loop) and assembles no more bytes than the file holds.
Cases hypothesis found are kept below as explicit examples.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.forbidden import Guard
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from agent.registry.model import decode_windows
from agent.registry.regf import HiveFormatError, HiveReader, KeyNode
from agent.registry.regf_salvage import Salvage
from tests.hive_factory import Node, build_hive, system_like_tree
from wire.errors import BadParams, NotFound


def _small_hive() -> bytes:
    tree = system_like_tree(60, seed=7)
    tree.children.append(Node("Big", [("blob", 3, bytes(range(256)) * 40)], []))
    return build_hive(tree)


HIVE = _small_hive()
MAX_KEYS = 10_000  # far more than the hive holds: a walk that gets here is looping


def read_everything(data: bytes) -> int:
    """Open *data* strictly and salvaging, read every key and value, and find again by its path every key
    listed; the keys met (HiveFormatError passes)."""
    reader = HiveReader(data)
    salvage = Salvage(reader)
    seen = {reader.root.offset}
    pending: list[tuple[tuple[str, ...], KeyNode]] = [((), reader.root)]
    met = 0
    while pending:
        path, node = pending.pop()
        met += 1
        assert met < MAX_KEYS
        read = salvage.read(node, seen=seen)
        seen.update(child.offset for child in read.subkeys)
        pending.extend(((*path, child.name), child) for child in read.subkeys)
        for value, raw in read.values:
            assert len(raw) <= len(data)
            decode_windows(value.name, value.type, raw)
        if len(path) < 3:
            for child in read.subkeys:
                salvage.find((*path, child.name))  # what is listed can be opened: KeyError fails the test
    for strict in (reader.subkeys, reader.values):  # the strict reader: its own error or an answer
        with contextlib.suppress(HiveFormatError):
            strict(reader.root)
    return met


def _root_list_entry() -> int:
    """File position of the first entry of the root's subkey list."""
    reader = HiveReader(HIVE)
    return 4096 + reader.root.subkey_list + 4 + 4


ROOT_LIST_ENTRY = _root_list_entry()


corruptions = st.lists(st.tuples(st.integers(0, len(HIVE) - 1), st.binary(min_size=1, max_size=16)),
                       min_size=1, max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corruptions)
@example([(4096 + 32 + 4 + 28, b"\x20\x00\x00\x00")])  # the root's subkey list points at the root itself
@example([(ROOT_LIST_ENTRY, b"\x20\x00\x00\x00")])  # found: an entry naming the root hid a key only its
# parent link still showed, listed by a walk and then not found by its name
@example([(4096 + 32, b"\x00\x00\x00\x00")])  # the root cell's size zeroed
@example([(36, b"\xff\xff\xff\x7f")])  # the header's root offset far out of the hive
@example([(40, b"\x00\x00\x00\x00")])  # the header says the bins hold nothing
def test_overwritten_bytes_raise_only_the_documented_error(changes: list[tuple[int, bytes]]) -> None:
    data = bytearray(HIVE)
    for position, chunk in changes:
        data[position:position + len(chunk)] = chunk[:len(data) - position]
    with contextlib.suppress(HiveFormatError):
        read_everything(bytes(data))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(HIVE)), st.integers(0, 2**32 - 1))
@example(4096 + 40, 0)
def test_a_file_cut_anywhere_raises_only_the_documented_error(length: int, seed: int) -> None:
    data = bytearray(HIVE[:length])
    if data and seed % 2:  # and the last byte changed, as a torn write leaves it
        data[-1] = seed % 256
    with contextlib.suppress(HiveFormatError):
        read_everything(bytes(data))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=40))
def test_offsets_anywhere_in_key_cells_raise_only_the_documented_error(words: list[int]) -> None:
    """Each word lands on a 4-byte field of a key cell: counts, list offsets, parents, lengths."""
    reader = HiveReader(HIVE)
    keys = [reader.root, *reader.subkeys(reader.root)]
    data = bytearray(HIVE)
    for index, word in enumerate(words):
        node = keys[index % len(keys)]
        field = 4 + 4 * ((word >> 8) % 19)  # the payload's 32-bit fields after the signature and flags
        struct.pack_into("<I", data, 4096 + node.offset + 4 + field, word)
    with contextlib.suppress(HiveFormatError):
        read_everything(bytes(data))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruptions)
def test_the_backend_answers_a_damaged_file_with_wire_errors_only(tmp_path: Path,
                                                                  changes: list[tuple[int, bytes]]) -> None:
    data = bytearray(HIVE)
    for position, chunk in changes:
        data[position:position + len(chunk)] = chunk[:len(data) - position]
    path = tmp_path / "SYSTEM"
    path.write_bytes(bytes(data))
    try:
        backend = HiveBackend(open_hive_file(str(path), lambda: Guard(None)))
        listings = list(backend.walk((), lambda key: False))
        assert len(listings) < MAX_KEYS
        for listing in listings[:5]:
            backend.keys(listing.key)
            backend.values(listing.key)
    except (BadParams, NotFound):
        pass
