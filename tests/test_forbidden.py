"""C3: the customer's protected folders, attacked every way we could think of.

Each attack goes through the real handlers and a real Dispatcher, and must
end in ``forbidden`` (or an error that leaks nothing) without the protected
content ever being returned.  Mount attacks need root (CI runs as root) and fail otherwise.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import forbidden
from agent.dispatch import REFUSAL_WORDS
from agent.forbidden import ForbiddenFolders, Guard, Identity, Mount, mount_aliases, parse_mountinfo
from tests.test_files import Agent as FilesAgent
from wire.errors import BadParams, NotADirectory, NotFound, WorkbenchError

SECRET = b"the customer's secret"


class Agent(FilesAgent):
    """The file methods behind a real dispatcher and journal, checking that refusals leak no secret."""

    def refused(self, method: str, data: bytes | None = None, **params: Any) -> WorkbenchError:
        """Call, expect an error, and check that no secret leaked in it."""
        with pytest.raises(WorkbenchError) as caught:
            self(method, data, **params)
        assert SECRET.decode() not in caught.value.message
        return caught.value

    def forbidden(self, method: str, data: bytes | None = None, **params: Any) -> None:
        err = self.refused(method, data, **params)
        assert err.code == "forbidden", f"{method} {params}: {err.code} {err.message}"


class Scene:
    """/home/ana with a protected folder ``secret`` (holding a file and ``sub``), and ``out``."""

    def __init__(self, root: Path, folders: ForbiddenFolders | None = None) -> None:
        self.root = root
        self.home = root / "home" / "ana"
        self.secret = self.home / "secret"
        (self.secret / "sub").mkdir(parents=True)
        (self.secret / "s.txt").write_bytes(SECRET)
        (self.secret / "sub" / "deep.txt").write_bytes(SECRET)
        (self.home / "notes.txt").write_text("notes")
        self.out = root / "out"
        self.out.mkdir()
        self.folders = folders if folders is not None else ForbiddenFolders()
        self.folders.add(str(self.secret))
        self.agent = Agent(root, self.folders)

    def close(self) -> None:
        self.agent.dispatcher.close()
        self.agent.journal.close()
        self.folders.close()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    s = Scene(tmp_path)
    yield s
    s.close()


def all_reads(agent: Agent, path: str) -> None:
    """Every way of looking at *path* is refused."""
    agent.forbidden("files.read", path=path)
    agent.forbidden("files.read", path=path, encoding=None, length=5)
    agent.forbidden("files.stat", path=path)
    agent.forbidden("files.download_open", path=path)
    agent.forbidden("files.copy", src=path, dst=str(Path(agent.state_dir).parent / "out" / "stolen"))


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


# ----------------------------------------------------------------- direct


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


# ------------------------------------------------------------------ spellings


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


# ------------------------------------------------------------------- links


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


# -------------------------------------------------------------- hard links


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
    later[0] = 3 * forbidden.CTIME_SLACK_NS  # a few seconds later, the folder is indexed again
    all_reads(agent, str(home / "later.txt"))


def test_old_multi_link_file_needs_no_new_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "secret").mkdir(parents=True)
    (home / "a.txt").write_text("shared")
    os.link(home / "a.txt", home / "b.txt")
    later = [0]
    folders = ForbiddenFolders(wall_clock=lambda: time.time_ns() + later[0])
    later[0] = 3 * forbidden.CTIME_SLACK_NS
    folders.add(str(home / "secret"))
    walks: list[int] = []
    real_index = forbidden.index_links
    monkeypatch.setattr(forbidden, "index_links", lambda *a: walks.append(1) or real_index(*a))
    agent = Agent(tmp_path, folders)
    assert agent("files.read", path=str(home / "b.txt"))["text"] == "shared"
    assert walks == []


def test_multi_link_files_elsewhere_are_fine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "secret").mkdir(parents=True)
    (home / "a.txt").write_text("shared")
    os.link(home / "a.txt", home / "b.txt")
    folders = ForbiddenFolders(wall_clock=lambda: time.time_ns() + 3 * forbidden.CTIME_SLACK_NS)
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
    folders = ForbiddenFolders(index_limit=2, wall_clock=lambda: time.time_ns() + 3 * forbidden.CTIME_SLACK_NS)
    folders.add(str(home / "secret"))
    assert not folders.rules().links_complete
    agent = Agent(tmp_path, folders)
    agent.forbidden("files.read", path=str(home / "b.txt"))  # cannot prove it is not inside
    (home / "single.txt").write_text("single")
    assert agent("files.read", path=str(home / "single.txt"))["text"] == "single"


# ------------------------------------------------------------------- races


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

    monkeypatch.setattr(forbidden.os, "open", racing_open)
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

    monkeypatch.setattr(forbidden.os, "open", racing_open)
    err = scene.agent.refused("files.read", path=str(target))
    assert fired and err.code in ("conflict", "forbidden")


# ------------------------------------------------------------------ mounts


@contextlib.contextmanager
def mounted(*args: str) -> Iterator[None]:
    point = args[-1]
    run = subprocess.run(["mount", *args], capture_output=True, text=True)
    if run.returncode:
        pytest.fail(f"cannot mount (the mount tests need root, as CI runs them): {run.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", point], check=True)


def test_bind_mount_of_the_folder(scene: Scene) -> None:
    point = scene.out / "bind"
    point.mkdir()
    with mounted("--bind", str(scene.secret), str(point)):
        all_reads(scene.agent, str(point / "s.txt"))
        scene.agent.forbidden("files.list", path=str(point))


def test_bind_mount_of_a_sub_folder(scene: Scene) -> None:
    """A different identity from the protected folder: caught through the mount table."""
    point = scene.out / "bind-sub"
    point.mkdir()
    with mounted("--bind", str(scene.secret / "sub"), str(point)):
        all_reads(scene.agent, str(point / "deep.txt"))
        scene.agent.forbidden("files.list", path=str(point))
        # The mount point is protected in listings too.
        entries = {e["name"]: e for e in scene.agent("files.list", path=str(scene.out))["entries"]}
        assert entries["bind-sub"].get("protected") is True


def test_bind_mount_made_after_the_rule_is_seen(scene: Scene) -> None:
    scene.agent("files.list", path=str(scene.out))  # rules already computed once
    point = scene.out / "late"
    point.mkdir()
    with mounted("--bind", str(scene.secret / "sub"), str(point)):
        scene.agent.forbidden("files.read", path=str(point / "deep.txt"))


def test_bind_mount_of_the_parent(scene: Scene) -> None:
    point = scene.out / "bind-parent"
    point.mkdir()
    with mounted("--bind", str(scene.home), str(point)):
        all_reads(scene.agent, str(point / "secret" / "s.txt"))
        assert scene.agent("files.read", path=str(point / "notes.txt"))["text"] == "notes"


def test_a_mount_inside_the_folder_mounted_again_elsewhere(scene: Scene) -> None:
    inner = scene.secret / "usb"
    inner.mkdir()
    with mounted("-t", "tmpfs", "tmpfs", str(inner)):
        (inner / "card.txt").write_bytes(SECRET)
        point = scene.out / "same-usb"
        point.mkdir()
        with mounted("--bind", str(inner), str(point)):
            all_reads(scene.agent, str(point / "card.txt"))


@pytest.mark.parametrize("layer", ["folder", "parent"])
def test_overlay_showing_the_folder(scene: Scene, layer: str) -> None:
    other = scene.root / "other"
    other.mkdir()
    (other / "o.txt").write_text("o")
    point = scene.out / "overlay"
    point.mkdir()
    lower = scene.secret if layer == "folder" else scene.home
    with mounted("-t", "overlay", "overlay", "-o", f"lowerdir={lower}:{other}", str(point)):
        inside = point / "s.txt" if layer == "folder" else point / "secret" / "s.txt"
        assert inside.read_bytes() == SECRET  # the overlay really shows it
        all_reads(scene.agent, str(inside))


# ------------------------------------------------------ the agent's own folder


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


def test_private_data_folder(scene: Scene) -> None:
    data = scene.root / "agent-data"
    (data / "journals").mkdir(parents=True)
    (data / "journals" / "j.jsonl").write_text("{}")
    scene.folders.add_private(str(data))
    assert len(scene.folders) == 1 and str(data) not in scene.folders.describe()
    err = scene.agent.refused("files.read", path=str(data / "journals" / "j.jsonl"))
    assert err.code == "forbidden" and "support agent" in err.message


# ------------------------------------------------- rules changing mid-transfer


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


# ------------------------------------------------------------ case variants


@pytest.mark.needs("mkfs.ext4", "e2fsprogs")
@pytest.mark.needs("chattr", "e2fsprogs")
def test_case_variant_on_a_case_insensitive_disk(tmp_path: Path) -> None:
    if not Path("/sys/fs/ext4/features/casefold").exists():
        pytest.skip("this kernel has no ext4 case-folding (/sys/fs/ext4/features/casefold is absent)")
    image = tmp_path / "fold.img"
    point = tmp_path / "fold"
    point.mkdir()
    with open(image, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-O", "casefold", str(image)], capture_output=True, check=True)
    with mounted("-o", "loop", str(image), str(point)):
        (point / "ci").mkdir()
        subprocess.run(["chattr", "+F", str(point / "ci")], capture_output=True, check=True)
        (point / "ci" / "Secret").mkdir()
        (point / "ci" / "Secret" / "s.txt").write_bytes(SECRET)
        folders = ForbiddenFolders()
        folders.add(str(point / "ci" / "Secret"))
        agent = Agent(tmp_path, folders)
        all_reads(agent, str(point / "ci" / "SECRET" / "S.TXT"))
        folders.close()


# ------------------------------------------------------- mount table, pure


MOUNTINFO = """\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 8:1 /home/ana/secret/sub /mnt/sub rw - ext4 /dev/sda1 rw
31 22 8:1 /home /mnt/home rw - ext4 /dev/sda1 rw
32 22 8:1 /var /mnt/var rw - ext4 /dev/sda1 rw
33 22 0:50 / /home/ana/secret/usb rw - vfat /dev/sdb1 rw
34 22 0:50 /photos /media/usb\\040stick rw - vfat /dev/sdb1 rw
35 22 0:60 / /ov rw - overlay overlay rw,lowerdir=/home/ana/secret:/other,upperdir=/up,workdir=/work
36 22 0:61 / /ov2 rw - overlay overlay rw,lowerdir=/home/ana,upperdir=/up2,workdir=/work2
bad line
"""


def test_parse_mountinfo() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert len(mounts) == 8
    assert mounts[1] == Mount(os.makedev(8, 1), "/home/ana/secret/sub", "/mnt/sub", "ext4", "rw", "/dev/sda1")
    assert mounts[5].point == "/media/usb stick"


def test_mount_aliases() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    aliases = sorted(mount_aliases(mounts, "/home/ana/secret"))
    # /mnt/sub shows a folder below; /media/usb stick shows part of the disk mounted inside;
    # /ov has the folder as a layer; /ov2 shows it from its parent.  /mnt/home is reached
    # by identity (same inode), /mnt/var is unrelated.
    assert aliases == ["/media/usb stick", "/mnt/sub", "/ov", "/ov2/secret"]
    assert mount_aliases(mounts, "/var/log") == []


def test_identity_is_device_and_inode(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    st = os.stat(tmp_path / "d")
    assert Identity.of(st) == Identity(st.st_dev, st.st_ino)


def test_loop_backing_file_names(tmp_path: Path) -> None:
    (tmp_path / "loop3" / "loop").mkdir(parents=True)
    (tmp_path / "loop3" / "loop" / "backing_file").write_text("/data/disk.img\n")
    assert forbidden.loop_backing_file("/dev/loop3", str(tmp_path)) == "/data/disk.img"
    assert forbidden.loop_backing_file("/dev/loop3p1", str(tmp_path)) == "/data/disk.img"
    assert forbidden.loop_backing_file("/dev/sda1", str(tmp_path)) is None
    assert forbidden.loop_backing_file("/dev/loop9", str(tmp_path)) is None


@pytest.mark.needs("mkfs.ext4", "e2fsprogs")
def test_the_disk_image_holding_the_folder(tmp_path: Path) -> None:
    """Reading the image file behind a loop mount would read the protected folder inside it."""
    image = tmp_path / "disk.img"
    point = tmp_path / "disk"
    point.mkdir()
    with open(image, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", str(image)], capture_output=True, check=True)
    with mounted("-o", "loop", str(image), str(point)):
        (point / "secret").mkdir()
        (point / "secret" / "s.txt").write_bytes(SECRET)
        folders = ForbiddenFolders()
        folders.add(str(point / "secret"))
        agent = Agent(tmp_path, folders)
        try:
            agent.forbidden("files.download_open", path=str(image))
            agent.forbidden("files.read", path=str(image), encoding=None, length=4096)
            agent.forbidden("files.copy", src=str(image), dst=str(tmp_path / "copy.img"))
        finally:
            agent.dispatcher.close()
            agent.journal.close()
            folders.close()
