"""agent.forbidden.folders: the customer's protected folders, held so the rule follows them.

Each attack goes through the real handlers and a real Dispatcher, and must
end in ``forbidden`` (or an error that leaks nothing) without the protected
content ever being returned.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.forbidden import ForbiddenFolders, Guard
from tests.forbidden.harness import SECRET, Agent, Scene, all_reads
from wire.errors import BadParams, NotADirectory, NotFound

# ------------------------------------------------------------- the rule set


def test_add_remove_describe(tmp_path: Path) -> None:
    folders = ForbiddenFolders()
    (tmp_path / "a").mkdir()
    (tmp_path / "f").write_text("f")
    with pytest.raises(NotFound):
        folders.add(str(tmp_path / "missing"))
    with pytest.raises(NotADirectory):
        folders.add(str(tmp_path / "f"))
    with pytest.raises(BadParams):
        folders.add("")
    folders.add(str(tmp_path / "a"))
    folders.add(str(tmp_path / "a") + "/.")  # the same folder, spelled otherwise
    assert len(folders) == 1
    assert folders.describe() == [str(tmp_path / "a")]
    with pytest.raises(NotFound):
        folders.remove(str(tmp_path / "f"))
    folders.remove(str(tmp_path / "a"))
    assert len(folders) == 0 and folders.describe() == []
    folders.close()


def test_the_rule_follows_a_renamed_folder(scene: Scene) -> None:
    moved = scene.root / "elsewhere"
    scene.secret.rename(moved)
    assert scene.folders.describe() == [str(moved)]
    all_reads(scene.agent, str(moved / "s.txt"))
    scene.agent.forbidden("files.list", path=str(moved))
    # The customer can still remove it by its old name or its new one.
    scene.folders.remove(str(scene.secret))
    assert len(scene.folders) == 0
    assert scene.agent("files.read", path=str(moved / "s.txt"))["text"] == SECRET.decode()


def test_moving_the_parent_keeps_the_rule(scene: Scene) -> None:
    (scene.root / "home").rename(scene.root / "house")
    all_reads(scene.agent, str(scene.root / "house" / "ana" / "secret" / "s.txt"))


def test_remove_a_deleted_folder_by_its_name(tmp_path: Path) -> None:
    folders = ForbiddenFolders()
    (tmp_path / "gone").mkdir()
    folders.add(str(tmp_path / "gone"))
    (tmp_path / "gone").rmdir()
    folders.remove(str(tmp_path / "gone"))
    assert len(folders) == 0


def test_concurrent_changes_and_checks(tmp_path: Path) -> None:
    folders = ForbiddenFolders()
    dirs = [tmp_path / f"d{i}" for i in range(8)]
    for d in dirs:
        d.mkdir()
    errors: list[BaseException] = []

    def churn(d: Path) -> None:
        try:
            for _ in range(30):
                folders.add(str(d))
                Guard(folders).rules.folders  # noqa: B018 - a snapshot under contention
                folders.remove(str(d))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=churn, args=(d,)) for d in dirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(folders) == 0


def test_private_data_folder(scene: Scene) -> None:
    data = scene.root / "agent-data"
    (data / "journals").mkdir(parents=True)
    (data / "journals" / "j.jsonl").write_text("{}")
    scene.folders.add_private(str(data))
    assert len(scene.folders) == 1 and str(data) not in scene.folders.describe()
    err = scene.agent.refused("files.read", path=str(data / "journals" / "j.jsonl"))
    assert err.code == "forbidden" and "support agent" in err.message


# ---------------------------------------------- rules changing mid-transfer


def test_download_stops_when_the_customer_protects_the_folder(tmp_path: Path) -> None:
    folders = ForbiddenFolders()
    agent = Agent(tmp_path, folders)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "big.bin").write_bytes(SECRET * 100)
    transfer = agent("files.download_open", path=str(docs / "big.bin"))["id"]
    agent("files.download_chunk", id=transfer, offset=0, length=10)
    folders.add(str(docs))
    agent.forbidden("files.download_chunk", id=transfer, offset=10, length=10)


def test_upload_stops_when_the_customer_protects_the_folder(tmp_path: Path) -> None:
    folders = ForbiddenFolders()
    agent = Agent(tmp_path, folders)
    docs = tmp_path / "docs"
    docs.mkdir()
    transfer = agent("files.upload_open", path=str(docs / "up.bin"), size=20)["id"]
    agent("files.upload_chunk", b"x" * 10, id=transfer, offset=0)
    folders.add(str(docs))
    agent.forbidden("files.upload_chunk", b"y" * 10, id=transfer, offset=10)
    assert list(docs.iterdir()) == [], "the partial upload is removed"


def test_undo_cannot_reach_a_folder_protected_since(tmp_path: Path) -> None:
    folders = ForbiddenFolders()
    agent = Agent(tmp_path, folders)
    docs = tmp_path / "docs"
    docs.mkdir()
    agent("files.write", path=str(docs / "a.txt"), text="v1")
    agent("files.write", path=str(docs / "a.txt"), text="v2")
    folders.add(str(docs))
    agent.forbidden("files.undo")
    assert (docs / "a.txt").read_text() == "v2"
