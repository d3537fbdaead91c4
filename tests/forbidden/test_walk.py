"""agent.forbidden._posix_walk: every way of spelling a path, attacked through the real handlers.

Each attack goes through the real handlers and a real Dispatcher, and must
end in ``forbidden`` (or an error that leaks nothing) without the protected
content ever being returned.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.dispatch import REFUSAL_WORDS
from agent.forbidden import _posix_walk
from tests.forbidden.harness import SECRET, Scene, all_reads

# ------------------------------------------------------------------- direct


def test_every_operation_on_the_folder_and_below_is_refused(scene: Scene) -> None:
    a, secret = scene.agent, scene.secret
    all_reads(a, str(secret / "s.txt"))
    all_reads(a, str(secret / "sub" / "deep.txt"))
    a.forbidden("files.list", path=str(secret))
    a.forbidden("files.list", path=str(secret / "sub"))
    a.forbidden("files.stat", path=str(secret))
    a.forbidden("files.write", path=str(secret / "s.txt"), text="x")
    a.forbidden("files.write", path=str(secret / "new.txt"), text="x")
    a.forbidden("files.edit", path=str(secret / "s.txt"), old="secret", new="x")
    a.forbidden("files.mkdir", path=str(secret / "d"))
    a.forbidden("files.mkdir", path=str(secret / "d" / "e"), parents=True)
    a.forbidden("files.delete", path=str(secret / "s.txt"))
    a.forbidden("files.delete", path=str(secret))
    a.forbidden("files.move", src=str(secret), dst=str(scene.out / "s"))
    a.forbidden("files.move", src=str(secret / "s.txt"), dst=str(scene.out / "s.txt"))
    a.forbidden("files.move", src=str(scene.home / "notes.txt"), dst=str(secret / "n.txt"))
    a.forbidden("files.move", src=str(scene.home / "notes.txt"), dst=str(secret) + "/")
    a.forbidden("files.copy", src=str(scene.home / "notes.txt"), dst=str(secret / "n.txt"))
    a.forbidden("files.copy", src=str(secret), dst=str(scene.out / "copy"))
    a.forbidden("files.upload_open", path=str(secret / "up.bin"), size=1)
    assert (secret / "s.txt").read_bytes() == SECRET
    assert sorted(p.name for p in secret.iterdir()) == ["s.txt", "sub"]
    assert sorted(p.name for p in scene.out.iterdir()) == []
    assert (scene.home / "notes.txt").exists()


def test_the_customer_is_told_in_plain_words(scene: Scene) -> None:
    scene.agent.forbidden("files.read", path=str(scene.secret / "s.txt"))
    assert scene.agent.said[-1] == REFUSAL_WORDS["files"]
    outcome = scene.agent.journal.records[-1]
    assert outcome["outcome"] == "error" and outcome["code"] == "forbidden"


def test_listing_the_parent_marks_the_folder_without_reading_it(scene: Scene) -> None:
    entries = {e["name"]: e for e in scene.agent("files.list", path=str(scene.home))["entries"]}
    assert entries["secret"] == {"name": "secret", "kind": "folder", "protected": True, "size": None,
                                 "modified": None}
    assert "protected" not in entries["notes.txt"]


def test_containers_cannot_be_moved_deleted_or_copied(scene: Scene) -> None:
    a = scene.agent
    a.forbidden("files.move", src=str(scene.home), dst=str(scene.out / "ana"))
    a.forbidden("files.move", src=str(scene.root / "home"), dst=str(scene.out / "home"))
    a.forbidden("files.delete", path=str(scene.home))
    a.forbidden("files.copy", src=str(scene.home), dst=str(scene.out / "ana"))
    assert scene.secret.is_dir()
    assert list(scene.out.iterdir()) == [], "a refused copy leaves no partial tree"


# ---------------------------------------------------------------- spellings


@pytest.mark.parametrize("spelling", [
    "{home}/secret/s.txt",
    "{home}//secret///s.txt",
    "{home}/./secret/./s.txt",
    "{home}/../ana/secret/s.txt",
    "{home}/notes.txt/../secret/s.txt",
    "{home}/sub-does-not-matter/../secret/s.txt",
    "{home}/secret/sub/../s.txt",
    "{home}/secret/../notes.txt",
    "/../../..{home}/secret/s.txt",
    "{backslashed}\\secret\\s.txt",
])
def test_spellings(scene: Scene, spelling: str) -> None:
    path = spelling.format(home=scene.home, backslashed=str(scene.home).replace("/", "\\"))
    err = scene.agent.refused("files.read", path=path)
    # Some spellings fail before the folder is reached (a file is not a folder); none may succeed.
    assert err.code in ("forbidden", "not_a_directory", "not_found"), err.code
    if "notes.txt/.." not in spelling and "does-not-matter" not in spelling:
        assert err.code == "forbidden"


def test_trailing_separators(scene: Scene) -> None:
    scene.agent.forbidden("files.list", path=str(scene.secret) + "/")
    scene.agent.forbidden("files.list", path=str(scene.secret) + "/.")
    scene.agent.forbidden("files.list", path=str(scene.secret / "sub") + "/..")


def test_home_tilde_cannot_dodge(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(scene.home))
    scene.agent.forbidden("files.read", path="~/secret/s.txt")
    assert scene.agent("files.read", path="~/notes.txt")["text"] == "notes"


# -------------------------------------------------------------------- links


def test_symbolic_links(scene: Scene) -> None:
    out, a = scene.out, scene.agent
    (out / "abs").symlink_to(scene.secret)
    (out / "rel").symlink_to(os.path.relpath(scene.secret, out))
    (out / "file").symlink_to(scene.secret / "s.txt")
    (out / "chain1").symlink_to(out / "chain2")
    (out / "chain2").symlink_to("abs")
    (out / "parent").symlink_to(scene.home)
    (out / "into-sub").symlink_to(scene.secret / "sub")
    for path in ["abs/s.txt", "rel/s.txt", "file", "chain1/s.txt", "parent/secret/s.txt", "into-sub/deep.txt",
                 "into-sub/../s.txt"]:
        all_reads(a, str(out / path))
    a.forbidden("files.list", path=str(out / "abs"))
    a.forbidden("files.edit", path=str(out / "file"), old="secret", new="x")
    a.forbidden("files.write", path=str(out / "file"), text="overwrite through a link")
    a.forbidden("files.upload_open", path=str(out / "abs" / "x"), size=1)
    assert (scene.secret / "s.txt").read_bytes() == SECRET


def test_the_link_itself_may_be_deleted_but_never_followed(scene: Scene) -> None:
    link = scene.out / "abs"
    link.symlink_to(scene.secret)
    scene.agent("files.delete", path=str(link))
    assert not link.is_symlink() and (scene.secret / "s.txt").read_bytes() == SECRET


def test_link_loops_are_refused(scene: Scene) -> None:
    (scene.out / "a").symlink_to("b")
    (scene.out / "b").symlink_to("a")
    err = scene.agent.refused("files.read", path=str(scene.out / "a" / "x"))
    assert err.code == "bad_params" and "links" in err.message


def test_proc_magic_links_are_walked_as_text(scene: Scene) -> None:
    a = scene.agent
    all_reads(a, f"/proc/self/root{scene.secret}/s.txt")
    all_reads(a, f"/proc/thread-self/root{scene.secret}/s.txt")
    with open(scene.secret / "s.txt", "rb") as held:  # an open descriptor onto a protected file
        all_reads(a, f"/proc/self/fd/{held.fileno()}")
        all_reads(a, f"/proc/{os.getpid()}/fd/{held.fileno()}")
    sitter = subprocess.Popen(["cat"], cwd=scene.secret, stdin=subprocess.PIPE)
    try:
        all_reads(a, f"/proc/{sitter.pid}/cwd/s.txt")
        a.forbidden("files.list", path=f"/proc/{sitter.pid}/cwd")
    finally:
        sitter.kill()
        sitter.wait()


def test_process_memory_files_are_refused(scene: Scene) -> None:
    scene.agent.forbidden("files.read", path="/proc/self/mem", encoding=None, length=16)
    if os.path.exists("/proc/kcore"):
        scene.agent.forbidden("files.read", path="/proc/kcore", encoding=None, length=16)


# -------------------------------------------------------------------- races


def test_component_swapped_for_a_link_mid_walk(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the walk opened ``box``, an attacker replaces it by a link to the protected folder."""
    box = scene.out / "box"
    box.mkdir()
    (box / "s.txt").write_text("harmless")
    real_open = os.open
    swapped: list[bool] = []

    def racing_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        if path == "box" and not swapped:
            swapped.append(True)
            box.rename(scene.out / "box-moved")
            box.symlink_to(scene.secret)
        return fd

    monkeypatch.setattr(_posix_walk.os, "open", racing_open)
    result = scene.agent("files.read", path=str(box / "s.txt"))
    assert swapped and result["text"] == "harmless"
    # Had the path been resolved again by name, it would have reached the secret:
    assert (box / "s.txt").read_bytes() == SECRET


@pytest.mark.parametrize("swap", ["symlink", "hardlink"])
def test_target_swapped_between_check_and_open(scene: Scene, monkeypatch: pytest.MonkeyPatch, swap: str) -> None:
    target = scene.out / "t.txt"
    target.write_text("harmless")
    real_open = os.open
    fired: list[bool] = []

    def racing_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if path == "t.txt" and not fired:
            fired.append(True)
            target.unlink()
            if swap == "symlink":
                target.symlink_to(scene.secret / "s.txt")
            else:
                os.link(scene.secret / "s.txt", target)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(_posix_walk.os, "open", racing_open)
    err = scene.agent.refused("files.read", path=str(target))
    assert fired and err.code in ("conflict", "forbidden")


# --------------------------------------------------- the agent's own folder


def test_the_agent_state_is_off_limits(scene: Scene) -> None:
    a = scene.agent
    a("files.write", path=str(scene.home / "notes.txt"), text="changed")  # creates backups and a record
    state = Path(a.state_dir)
    record = next((state / "files" / "changes").iterdir())
    err = a.refused("files.read", path=str(record))
    assert err.code == "forbidden" and "support agent" in err.message
    a.forbidden("files.list", path=str(state))
    a.forbidden("files.write", path=str(record), text="{}")
    a.forbidden("files.delete", path=str(state.parent))  # holds the state folder
    entries = {e["name"]: e for e in a("files.list", path=str(state.parent))["entries"]}
    assert entries["agent-state"].get("protected") is True
