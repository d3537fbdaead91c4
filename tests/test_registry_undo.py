"""The registry's backup store under the agent's state directory."""

from __future__ import annotations

from pathlib import Path

from agent.registry.undo import UndoStore


def test_backups_are_numbered_and_the_newest_complete_one_is_last(tmp_path: Path) -> None:
    store = UndoStore(tmp_path / "undo")
    assert store.last() is None
    first = store.begin()
    store.save(first, {"words": "one"})
    second = store.begin()
    store.save(second, {"words": "two"})
    assert (first.name, second.name) == ("00000001", "00000002")
    store.begin()  # a backup the agent was stopped in the middle of: no record
    last = store.last()
    assert last is not None and last[0] == second and last[1] == {"words": "two"}
    assert store.count() == 2  # the unfinished one was removed
    assert not list(second.glob("*.tmp"))


def test_old_backups_go_first_beyond_the_count_or_the_size(tmp_path: Path) -> None:
    store = UndoStore(tmp_path / "undo", keep=2, max_bytes=10_000)
    for number in range(4):
        slot = store.begin()
        store.save(slot, {"n": number})
        store.prune()
    assert [path.name for path in sorted((tmp_path / "undo").iterdir())] == ["00000003", "00000004"]
    big = store.begin()
    (big / "hive").write_bytes(b"x" * 20_000)
    store.save(big, {"n": "big"})
    store.prune()
    assert [path.name for path in sorted((tmp_path / "undo").iterdir())] == ["00000005"]  # never the newest
