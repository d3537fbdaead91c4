"""Damaged hives: what is read of them, against what regipy (an independent reader) recovers from the same files.

A large hive is generated (tests/hive_factory.py, checked here by regipy and
libhivex), then broken in known ways: cut short, bins zeroed, key cells'
size fields made impossible, subkey lists broken, key cells overwritten.
For each, the keys the agent's walk reaches are counted against the keys
regipy reaches when given every chance (each key's subkeys asked for on its
own, errors caught per key, so one bad list does not stop it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from regipy.registry import RegistryHive

from agent.forbidden import Guard
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from agent.registry.regf import HiveReader
from agent.registry.regf_salvage import Salvage, lost_key_name
from tests.hive_factory import (
    build_hive,
    damage_cell_sizes,
    damage_key_cells,
    damage_subkey_lists,
    damage_truncated,
    damage_zeroed_bins,
    system_like_tree,
)
from tests.registry_support import AgentHarness, hivexsh, needs_hivex, regipy_subkeys, regipy_values
from wire.errors import Conflict
from workbench.registry import RegistryNamespace

KEYS = 4000


@pytest.fixture(scope="module")
def hive_bytes() -> bytes:
    return build_hive(system_like_tree(KEYS))


@pytest.fixture(autouse=True)
def quiet_regipy() -> Iterator[None]:
    """regipy logs an error line per damaged cell it meets."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def regipy_keys(path: Path) -> set[str]:
    """Every key path regipy reaches from the root, asking each key for its subkeys separately."""
    try:
        hive: Any = RegistryHive(str(path))  # type: ignore[no-untyped-call]
    except Exception:
        return set()
    found: set[str] = set()
    pending: list[tuple[str, Any]] = [("", hive.root)]
    while pending and len(found) < 10 * KEYS:
        path_text, node = pending.pop()
        found.add(path_text)
        try:
            for child in node.iter_subkeys():
                pending.append((f"{path_text}\\{child.name}", child))
        except Exception:
            continue
    return found


def our_keys(path: Path) -> set[str]:
    backend = HiveBackend(open_hive_file(str(path), lambda: Guard(None)))
    return {"".join(f"\\{name}" for name in listing.key) for listing in backend.walk((), lambda key: False)}


def test_the_generated_hive_is_read_alike_by_regipy_libhivex_and_here(tmp_path: Path, hive_bytes: bytes) -> None:
    path = tmp_path / "SYSTEM"
    path.write_bytes(hive_bytes)
    ours = our_keys(path)
    assert len(ours) == KEYS
    assert ours == regipy_keys(path)
    reader = HiveReader(hive_bytes)
    first = reader.subkeys(reader.root)[0]
    assert regipy_subkeys(path, f"\\{first.name}") == [child.name for child in reader.subkeys(first)]
    some = next(node for node in reader.subkeys(first) if node.value_count)
    assert set(regipy_values(path, f"\\{first.name}\\{some.name}")) == {
        value.name or "(default)" for value in reader.values(some)}


@needs_hivex
def test_libhivex_reads_the_generated_hive(tmp_path: Path, hive_bytes: bytes) -> None:
    path = tmp_path / "SYSTEM"
    path.write_bytes(hive_bytes)
    reader = HiveReader(hive_bytes)
    assert hivexsh(path, "ls").split("\n")[:-1] == [child.name for child in reader.subkeys(reader.root)]


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "cut to 90%": lambda data: damage_truncated(data, 0.9),
    "cut to 40%": lambda data: damage_truncated(data, 0.4),
    "one bin in 8 zeroed": lambda data: damage_zeroed_bins(data, 8),
    "one bin in 3 zeroed": lambda data: damage_zeroed_bins(data, 3, seed=5),
    "60 impossible cell sizes": lambda data: damage_cell_sizes(data, 60),
    "40 broken subkey lists": lambda data: damage_subkey_lists(data, 40),
    "50 key cells overwritten": lambda data: damage_key_cells(data, 50),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_hive_gives_at_least_the_keys_regipy_recovers(tmp_path: Path, hive_bytes: bytes,
                                                                 damage: str) -> None:
    path = tmp_path / "SYSTEM"
    path.write_bytes(DAMAGE[damage](hive_bytes))
    ours, theirs = our_keys(path), regipy_keys(path)
    assert len(ours) >= len(theirs), (len(ours), len(theirs))
    # the keys regipy reaches and this walk does not can only be the overwritten ones, which regipy names with
    # whatever their cells now hold, and this walk shows as stand-ins
    assert len(theirs - ours) <= 50


def test_broken_subkey_lists_lose_no_key_that_still_names_its_parent(tmp_path: Path, hive_bytes: bytes) -> None:
    path = tmp_path / "SYSTEM"
    path.write_bytes(damage_subkey_lists(hive_bytes, 40))
    assert our_keys(path) == our_keys_of(hive_bytes, tmp_path)
    backend = HiveBackend(open_hive_file(str(path), lambda: Guard(None)))
    notes = [note for listing in backend.walk((), lambda key: False) for note in listing.damaged]
    assert any("found by their parent link" in note for note in notes)


def our_keys_of(data: bytes, folder: Path) -> set[str]:
    clean = folder / "clean"
    clean.write_bytes(data)
    return our_keys(clean)


def test_an_overwritten_key_stands_in_with_its_subkeys(tmp_path: Path, hive_bytes: bytes) -> None:
    reader = HiveReader(hive_bytes)
    parent = next(node for node in reader.subkeys(reader.root) if node.subkey_count)
    victim = reader.subkeys(parent)[0]
    grandchildren = [child.name for child in reader.subkeys(victim)]
    data = bytearray(hive_bytes)
    start = 4096 + victim.offset + 4
    data[start:start + 2] = b"??"
    path = tmp_path / "SYSTEM"
    path.write_bytes(bytes(data))
    salvage = Salvage(HiveReader(bytes(data)))
    stand_in = salvage.find((parent.name, lost_key_name(victim.offset)))
    assert [child.name for child in salvage.read(stand_in).subkeys] == sorted(
        grandchildren, key=lambda name: name.upper())
    harness = AgentHarness(tmp_path, registry_over(path))
    try:
        hive = RegistryNamespace(harness).open_hive(str(path))
        listed = hive.keys(parent.name)
        assert lost_key_name(victim.offset) in listed and listed.damaged
        assert list(hive.keys(listed.path_of(lost_key_name(victim.offset)))) == [
            child.name for child in salvage.read(stand_in).subkeys]
    finally:
        harness.close()


def registry_over(path: Path) -> Any:
    from agent.registry import Registry

    return Registry(lambda: HiveBackend(open_hive_file(str(path), lambda: Guard(None))))


def test_a_damaged_hive_is_read_but_never_written(tmp_path: Path, hive_bytes: bytes) -> None:
    path = tmp_path / "SYSTEM"
    path.write_bytes(damage_subkey_lists(hive_bytes, 40))
    backend = HiveBackend(open_hive_file(str(path), lambda: Guard(None)))
    damaged = next(listing for listing in backend.walk((), lambda key: False) if listing.damaged)
    before = path.read_bytes()
    with pytest.raises(Exception) as caught:
        backend.create_key((*damaged.key, "New"))
    assert getattr(caught.value, "code", "") in ("bad_params", Conflict.code)
    assert path.read_bytes() == before
