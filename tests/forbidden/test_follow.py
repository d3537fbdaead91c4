"""Finding 2 of issue 14: a protected folder deleted and made again, or replaced by a rename, stays protected.

The rule keeps the folder's identity and the path the customer chose
(:mod:`agent.forbidden.follow`): what stands at that path is protected too,
until the customer removes the rule, and the customer is told in plain words.
Every attack goes through the real handlers and a real Dispatcher.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agent.forbidden import ForbiddenFolders
from agent.forbidden.follow import follow
from agent.forbidden.rules import Identity
from tests.forbidden.harness import SECRET, Agent, Scene, all_reads


def _listed(agent: Agent, folder: Path) -> dict[str, tuple[object, object]]:
    return {e["name"]: (e.get("protected"), e.get("size")) for e in agent("files.list", path=str(folder))["entries"]}


def _scene_with_notices(tmp_path: Path) -> tuple[Scene, list[str]]:
    said: list[str] = []
    return Scene(tmp_path, ForbiddenFolders(on_notice=said.append)), said


def test_a_folder_deleted_and_made_again_is_still_protected(tmp_path: Path) -> None:
    scene, said = _scene_with_notices(tmp_path)
    try:
        shutil.rmtree(scene.secret)
        scene.secret.mkdir()
        (scene.secret / "s.txt").write_bytes(SECRET)
        all_reads(scene.agent, str(scene.secret / "s.txt"))
        scene.agent.forbidden("files.list", path=str(scene.secret))
        assert _listed(scene.agent, scene.home)["secret"] == (True, None)
        scene.agent.forbidden("files.delete", path=str(scene.secret))
        assert len(said) == 1 and str(scene.secret) in said[0] and "protected too" in said[0]
        assert scene.folders.describe() == [str(scene.secret)]
        assert len(scene.folders) == 1  # still one rule for the customer (and for the technician's count)
        # The customer removes the rule by the path they chose: then, and only then, it is open.
        scene.folders.remove(str(scene.secret))
        assert scene.agent("files.read", path=str(scene.secret / "s.txt"))["text"] == SECRET.decode()
    finally:
        scene.close()


def test_a_folder_replaced_by_a_rename_is_protected_and_the_moved_one_too(tmp_path: Path) -> None:
    scene, said = _scene_with_notices(tmp_path)
    try:
        moved = scene.root / "moved"
        scene.secret.rename(moved)
        other = scene.home / "other"
        other.mkdir()
        (other / "s.txt").write_bytes(SECRET)
        other.rename(scene.secret)  # another folder takes the protected one's name
        all_reads(scene.agent, str(scene.secret / "s.txt"))
        all_reads(scene.agent, str(moved / "s.txt"))
        assert _listed(scene.agent, scene.home)["secret"] == (True, None)
        assert any(str(moved) in line and "protected too" in line for line in said)
        scene.folders.remove(str(scene.secret))  # one rule: removing it frees both
        assert len(scene.folders) == 0
        assert scene.agent("files.read", path=str(moved / "s.txt"))["text"] == SECRET.decode()
    finally:
        scene.close()


def test_a_folder_deleted_then_a_folder_renamed_to_its_name(tmp_path: Path) -> None:
    scene, said = _scene_with_notices(tmp_path)
    try:
        shutil.rmtree(scene.secret)
        scene.agent("files.list", path=str(scene.home))  # a call while nothing is there: the customer is told
        assert len(said) == 1 and "deleted" in said[0]
        spare = scene.root / "spare"
        spare.mkdir()
        (spare / "s.txt").write_bytes(SECRET)
        os.rename(spare, scene.secret)
        all_reads(scene.agent, str(scene.secret / "s.txt"))
        assert len(said) == 2 and "protected too" in said[1]
        scene.agent("files.list", path=str(scene.home))
        assert len(said) == 2  # told once per change, not at every call
    finally:
        scene.close()


def test_a_hard_link_refusal_does_not_reveal_the_link(tmp_path: Path) -> None:
    """Finding 10: the refusal of a file with another name inside a protected folder says only that it is protected."""
    scene = Scene(tmp_path)
    try:
        os.link(scene.secret / "s.txt", scene.home / "innocent.txt")
        scene.folders.refresh()
        err = scene.agent.refused("files.read", path=str(scene.home / "innocent.txt"))
        assert err.code == "forbidden"
        assert err.message == f"{scene.home / 'innocent.txt'}: this file is protected; it cannot be opened"
    finally:
        scene.close()


# -------------------------------------------------------- the decision, alone

A, B, C = Identity(1, 1), Identity(1, 2), Identity(1, 3)


def test_follow_decides_from_what_the_path_names() -> None:
    unchanged = follow("/p", A, {A}, None, missing_before=False)
    assert unchanged.rearm is None and unchanged.words is None and not unchanged.missing
    replaced = follow("/p", B, set(), None, missing_before=False)
    assert replaced.rearm == B and replaced.words is not None and "deleted or replaced" in replaced.words
    moved_and_replaced = follow("/p", C, {A}, "/q", missing_before=False)
    assert moved_and_replaced.rearm == C and moved_and_replaced.words is not None
    assert "/q" in moved_and_replaced.words
    gone = follow("/p", None, set(), None, missing_before=False)
    assert gone.rearm is None and gone.missing and gone.words is not None and "deleted" in gone.words
    still_gone = follow("/p", None, set(), None, missing_before=True)
    assert still_gone.missing and still_gone.words is None
    moved = follow("/p", None, {A}, "/q", missing_before=False)
    assert moved.missing and moved.words is not None and "/q" in moved.words


def test_windows_says_a_held_folder_was_deleted_by_its_standard_info() -> None:
    """The cases of Windows' documentation of ``FILE_STANDARD_INFO`` (Wine reports neither for a folder removed
    under it; see tests/windows/test_files_wine.py)."""
    from agent.forbidden._windows_api import gone

    assert not gone(delete_pending=0, links=1)  # a folder in place, or renamed: still there
    assert gone(delete_pending=1, links=1)  # deleted while held: delete pending until the last handle closes
    assert gone(delete_pending=0, links=0)  # POSIX delete semantics (NTFS, Windows 10 1809+): no name left
    assert gone(delete_pending=1, links=0)
