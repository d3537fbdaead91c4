"""agent.forbidden.links: a file inside a protected folder with a second name elsewhere.

Each attack goes through the real handlers and a real Dispatcher, and must
end in ``forbidden`` (or an error that leaks nothing) without the protected
content ever being returned.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import agent.forbidden.folders as forbidden_folders
from agent.forbidden import ForbiddenFolders, rules
from tests.forbidden.harness import SECRET, Agent, all_reads


def test_hard_link_made_before_the_rule(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "secret").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (home / "secret" / "s.txt").write_bytes(SECRET)
    os.link(home / "secret" / "s.txt", home / "innocent.txt")
    folders = ForbiddenFolders()
    folders.add(str(home / "secret"))
    agent = Agent(tmp_path, folders)
    all_reads(agent, str(home / "innocent.txt"))
    agent.forbidden("files.move", src=str(home / "innocent.txt"), dst=str(home / "x"))
    agent.forbidden("files.write", path=str(home / "innocent.txt"), text="x")
    agent.forbidden("files.edit", path=str(home / "innocent.txt"), old="secret", new="x")
    agent.forbidden("files.upload_open", path=str(home / "innocent.txt"), size=1, overwrite=True)
    assert (home / "secret" / "s.txt").read_bytes() == SECRET
    entries = agent("files.list", path=str(home))["entries"]
    assert [(e["name"], e.get("protected"), e["size"]) for e in entries] == [
        ("innocent.txt", True, None), ("secret", True, None)]


def test_hard_link_made_after_the_rule(tmp_path: Path) -> None:
    """Making a link changes the file's ctime: the index is looked at again before the file is allowed."""
    home = tmp_path / "home"
    (home / "secret").mkdir(parents=True)
    (home / "secret" / "s.txt").write_bytes(SECRET)
    (home / "out").mkdir()
    later = [0]
    folders = ForbiddenFolders(wall_clock=lambda: time.time_ns() + later[0])
    folders.add(str(home / "secret"))
    os.link(home / "secret" / "s.txt", home / "later.txt")
    agent = Agent(tmp_path, folders)
    # Just made: too recent for any index to vouch for it.
    assert agent.refused("files.read", path=str(home / "later.txt")).code == "conflict"
    later[0] = 3 * rules.CTIME_SLACK_NS  # a few seconds later, the folder is indexed again
    all_reads(agent, str(home / "later.txt"))


def test_old_multi_link_file_needs_no_new_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "secret").mkdir(parents=True)
    (home / "a.txt").write_text("shared")
    os.link(home / "a.txt", home / "b.txt")
    later = [0]
    folders = ForbiddenFolders(wall_clock=lambda: time.time_ns() + later[0])
    later[0] = 3 * rules.CTIME_SLACK_NS
    folders.add(str(home / "secret"))
    walks: list[int] = []
    real_index = forbidden_folders.index_links
    monkeypatch.setattr(forbidden_folders, "index_links", lambda *a: walks.append(1) or real_index(*a))
    agent = Agent(tmp_path, folders)
    assert agent("files.read", path=str(home / "b.txt"))["text"] == "shared"
    assert walks == []


def test_multi_link_files_elsewhere_are_fine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "secret").mkdir(parents=True)
    (home / "a.txt").write_text("shared")
    os.link(home / "a.txt", home / "b.txt")
    folders = ForbiddenFolders(wall_clock=lambda: time.time_ns() + 3 * rules.CTIME_SLACK_NS)
    folders.add(str(home / "secret"))
    agent = Agent(tmp_path, folders)
    assert agent("files.read", path=str(home / "b.txt"))["text"] == "shared"


def test_too_large_to_index_fails_closed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "secret").mkdir(parents=True)
    for i in range(5):
        (home / "secret" / f"f{i}").write_text("x")
    (home / "a.txt").write_text("shared")
    os.link(home / "a.txt", home / "b.txt")
    folders = ForbiddenFolders(index_limit=2, wall_clock=lambda: time.time_ns() + 3 * rules.CTIME_SLACK_NS)
    folders.add(str(home / "secret"))
    assert not folders.rules().links_complete
    agent = Agent(tmp_path, folders)
    agent.forbidden("files.read", path=str(home / "b.txt"))  # cannot prove it is not inside
    (home / "single.txt").write_text("single")
    assert agent("files.read", path=str(home / "single.txt"))["text"] == "single"
