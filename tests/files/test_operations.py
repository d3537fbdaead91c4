"""agent.files.operations: list, stat, read, write, edit, move, copy, delete and mkdir, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent import files
from tests.files.harness import Agent, leftovers, sha

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ looking


def test_works_before_any_folder_is_protected(tmp_path: Path) -> None:
    a = Agent(tmp_path)
    a.policy.forbidden_folders = None  # the policy's default, before start-up sets it
    try:
        (tmp_path / "x.txt").write_text("x")
        assert a("files.read", path=str(tmp_path / "x.txt"))["text"] == "x"
        assert a.error("files.read", path=str(a.state_dir)).code == "forbidden"
    finally:
        a.close()


def test_list(agent: Agent, home: Path) -> None:
    (home / "b.txt").write_text("bb")
    (home / "a").mkdir()
    (home / "link").symlink_to("b.txt")
    result = agent("files.list", path=str(home))
    assert result["path"] == str(home)
    assert [e["name"] for e in result["entries"]] == ["a", "b.txt", "link"]
    kinds = {e["name"]: e for e in result["entries"]}
    assert kinds["a"]["kind"] == "folder"
    assert kinds["b.txt"]["kind"] == "file" and kinds["b.txt"]["size"] == 2
    assert kinds["link"]["kind"] == "link" and kinds["link"]["target"] == "b.txt"
    assert result["truncated"] is False
    assert agent("files.list", path=str(home), limit=2)["truncated"] is True


def test_list_errors(agent: Agent, home: Path) -> None:
    (home / "f").write_text("x")
    assert agent.error("files.list", path=str(home / "missing")).code == "not_found"
    assert agent.error("files.list", path=str(home / "f")).code == "not_a_directory"
    assert agent.error("files.list", path="relative").code == "bad_params"
    assert agent.error("files.list", path=str(home) + "\x00").code == "bad_params"
    assert agent.error("files.list").code == "bad_params"
    assert agent.error("files.list", path=str(home), limit=10**9).code == "bad_params"


def test_undecodable_names_are_listed_safely(agent: Agent, home: Path) -> None:
    os.close(os.open(os.fsencode(home) + b"/bad-\xff.txt", os.O_CREAT | os.O_WRONLY))
    entry = agent("files.list", path=str(home))["entries"][0]
    assert entry["undecodable"] is True and entry["name"] == "bad-\ufffd.txt"


def test_stat(agent: Agent, home: Path) -> None:
    (home / "f.txt").write_text("hello")
    (home / "l").symlink_to("f.txt")
    info = agent("files.stat", path=str(home / "l"))
    assert info["kind"] == "file" and info["size"] == 5 and info["path"] == str(home / "f.txt")
    own = agent("files.stat", path=str(home / "l"), follow=False)
    assert own["kind"] == "link" and own["target"] == "f.txt"
    assert agent("files.stat", path=str(home))["kind"] == "folder"
    assert agent.error("files.stat", path=str(home / "nope")).code == "not_found"


def test_read_text_bytes_and_range(agent: Agent, home: Path) -> None:
    (home / "n.txt").write_text("héllo wörld", encoding="utf-8")
    assert agent("files.read", path=str(home / "n.txt"))["text"] == "héllo wörld"
    value, data = agent.raw("files.read", path=str(home / "n.txt"), encoding=None, offset=1, length=2)
    assert data == "héllo".encode()[1:3] and value["length"] == 2
    (home / "latin.txt").write_bytes("café".encode("latin-1"))
    assert agent("files.read", path=str(home / "latin.txt"), encoding="latin-1")["text"] == "café"
    err = agent.error("files.read", path=str(home / "latin.txt"))
    assert err.code == "bad_params" and "utf-8" in err.message and "byte 3" in err.message
    assert agent("files.read", path=str(home / "latin.txt"), errors="replace")["text"] == "caf\ufffd"
    assert agent.error("files.read", path=str(home / "n.txt"), encoding="no-such-codec").code == "bad_params"
    assert agent.error("files.read", path=str(home / "n.txt"), encoding="rot13").code == "bad_params"
    # The journal says what was read, by its hash.
    agent("files.read", path=str(home / "n.txt"))
    assert agent.outcome()["sha256"] == sha("héllo wörld".encode())
    assert agent.said[-1] == f"The technician read the file {home / 'n.txt'}"


def test_read_refusals(agent: Agent, home: Path) -> None:
    assert agent.error("files.read", path=str(home)).code == "is_a_directory"
    assert agent.error("files.read", path=str(home / "none")).code == "not_found"
    big = home / "big.bin"
    with open(big, "wb") as f:
        f.truncate(files.TEXT_MAX + 1)
    err = agent.error("files.read", path=str(big))
    assert err.code == "bad_params" and "download" in err.message
    assert agent.error("files.read", path=str(big), encoding=None).code == "bad_params"
    assert agent.error("files.read", path=str(big), encoding=None, length=files.CHUNK_MAX + 1).code == "bad_params"
    assert agent.error("files.read", path=str(big), offset=-1).code == "bad_params"
    assert agent.error("files.read", path=str(big), offset=True).code == "bad_params"


def test_devices_and_pipes_are_never_opened(agent: Agent, home: Path) -> None:
    fifo = home / "fifo"
    os.mkfifo(fifo)  # opening it for reading would block the worker forever
    assert agent.error("files.read", path=str(fifo)).code == "bad_params"
    assert agent.error("files.read", path="/dev/zero", encoding=None, length=10).code == "bad_params"
    assert agent.error("files.download_open", path="/dev/zero").code == "bad_params"


# ----------------------------------------------------------------- changing


def test_write_create_overwrite_and_undo(agent: Agent, home: Path) -> None:
    target = home / "w.txt"
    first = agent("files.write", path=str(target), text="one\n")
    assert first["created"] is True and target.read_text() == "one\n"
    assert agent.outcome()["sha256_after"] == sha(b"one\n") and agent.outcome()["sha256_before"] is None
    target.chmod(0o640)
    second = agent("files.write", data=b"two\x00\n", path=str(target))
    assert target.read_bytes() == b"two\x00\n"
    assert second["sha256_before"] == sha(b"one\n") and second["sha256"] == sha(b"two\x00\n")
    assert agent.outcome()["sha256_before"] == sha(b"one\n")
    assert target.stat().st_mode & 0o777 == 0o640, "the mode of the replaced file is kept"
    assert leftovers(home) == []
    agent("files.undo")
    assert target.read_text() == "one\n"
    agent("files.undo")
    assert not target.exists()
    assert agent.error("files.undo").code == "not_found"


def test_write_refusals_change_nothing(agent: Agent, home: Path) -> None:
    target = home / "w.txt"
    target.write_text("keep")
    assert agent.error("files.write", path=str(target), text="x", overwrite=False).code == "exists"
    assert agent.error("files.write", b"x", path=str(target), text="x").code == "bad_params"
    assert agent.error("files.write", path=str(target)).code == "bad_params"
    assert agent.error("files.write", path=str(target), text="€", encoding="ascii").code == "bad_params"
    assert agent.error("files.write", path=str(home), text="x").code == "is_a_directory"
    assert agent.error("files.write", path=str(home / "no" / "dir.txt"), text="x").code == "not_found"
    assert agent.error("files.write", path=str(home / "a\x00b"), text="x").code == "bad_params"
    assert agent.error("files.write", b"x" * (files.TEXT_MAX + 1), path=str(target)).code == "bad_params"
    assert target.read_text() == "keep"
    assert leftovers(home) == []
    assert agent.error("files.undo").code == "not_found", "failed calls record no change"


def test_edit(agent: Agent, home: Path) -> None:
    target = home / "conf.ini"
    target.write_text("[a]\nport = 80\nhost = x\n")
    result = agent("files.edit", path=str(target), old="port = 80", new="port = 8080")
    assert target.read_text() == "[a]\nport = 8080\nhost = x\n"
    assert "-port = 80\n" in result["diff"] and "+port = 8080\n" in result["diff"]
    assert result["sha256_before"] == sha(b"[a]\nport = 80\nhost = x\n")
    assert agent.said[-1] == f"The technician edited the file {target}"
    agent("files.undo")
    assert target.read_text() == "[a]\nport = 80\nhost = x\n"


def test_edit_conflicts_change_nothing(agent: Agent, home: Path) -> None:
    target = home / "t.txt"
    target.write_text("x = 1\nx = 1\n")
    err = agent.error("files.edit", path=str(target), old="x = 1", new="x = 2")
    assert err.code == "conflict" and "2 times" in err.message
    assert agent.error("files.edit", path=str(target), old="absent", new="y").code == "conflict"
    assert agent.error("files.edit", path=str(target), old="", new="y").code == "bad_params"
    assert target.read_text() == "x = 1\nx = 1\n"
    assert leftovers(home) == []


def test_edit_crlf_file_with_lf_text(agent: Agent, home: Path) -> None:
    target = home / "win.txt"
    target.write_bytes(b"a\r\nb\r\nc\r\n")
    agent("files.edit", path=str(target), old="a\nb", new="a\nB")
    assert target.read_bytes() == b"a\r\nB\r\nc\r\n"


def test_move_rename_into_and_undo(agent: Agent, home: Path) -> None:
    (home / "f.txt").write_text("f")
    (home / "dir").mkdir()
    agent("files.move", src=str(home / "f.txt"), dst=str(home / "g.txt"))
    assert (home / "g.txt").read_text() == "f" and not (home / "f.txt").exists()
    result = agent("files.move", src=str(home / "g.txt"), dst=str(home / "dir") + "/")
    assert result["dst"] == str(home / "dir" / "g.txt") and (home / "dir" / "g.txt").exists()
    agent("files.undo")
    agent("files.undo")
    assert (home / "f.txt").read_text() == "f"


def test_move_overwrite(agent: Agent, home: Path) -> None:
    (home / "a").write_text("A")
    (home / "b").write_text("B")
    assert agent.error("files.move", src=str(home / "a"), dst=str(home / "b")).code == "exists"
    agent("files.move", src=str(home / "a"), dst=str(home / "b"), overwrite=True)
    assert (home / "b").read_text() == "A" and not (home / "a").exists()
    agent("files.undo")
    assert (home / "a").read_text() == "A" and (home / "b").read_text() == "B"


def test_move_over_a_link_keeps_the_link(agent: Agent, home: Path) -> None:
    (home / "a").write_text("A")
    (home / "t").write_text("T")
    (home / "l").symlink_to("t")
    agent("files.move", src=str(home / "a"), dst=str(home / "l"), overwrite=True)
    assert not (home / "l").is_symlink() and (home / "l").read_text() == "A"
    assert (home / "t").read_text() == "T", "the link's target is untouched"
    agent("files.undo")
    assert os.readlink(home / "l") == "t" and (home / "a").read_text() == "A"


def test_move_refusals(agent: Agent, home: Path) -> None:
    (home / "d").mkdir()
    (home / "e").mkdir()
    assert agent.error("files.move", src=str(home / "d"), dst=str(home / "d" / "inside")).code == "bad_params"
    assert agent.error("files.move", src=str(home / "d"), dst=str(home / "e"), overwrite=True).code == "exists"
    assert agent.error("files.move", src=str(home / "zz"), dst=str(home / "y")).code == "not_found"
    assert (home / "d").is_dir() and (home / "e").is_dir()


def test_copy_file_and_tree(agent: Agent, home: Path) -> None:
    tree = home / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "x.txt").write_text("x")
    (tree / "ln").symlink_to("sub/x.txt")
    os.mkfifo(tree / "pipe")
    result = agent("files.copy", src=str(tree), dst=str(home / "copy"))
    assert result["files"] == 1 and result["folders"] == 2 and result["skipped"] == 1
    assert (home / "copy" / "sub" / "x.txt").read_text() == "x"
    assert os.readlink(home / "copy" / "ln") == "sub/x.txt"
    agent("files.copy", src=str(tree / "sub" / "x.txt"), dst=str(home) + "/")
    assert (home / "x.txt").read_text() == "x"
    agent("files.undo")
    assert not (home / "x.txt").exists()
    assert leftovers(home) == []


def test_copy_into_itself_is_refused(agent: Agent, home: Path) -> None:
    (home / "t" / "u").mkdir(parents=True)
    err = agent.error("files.copy", src=str(home / "t"), dst=str(home / "t" / "u" / "again"))
    assert err.code == "bad_params"
    assert sorted(p.name for p in (home / "t" / "u").iterdir()) == []


def test_delete_goes_to_trash_and_undo_restores(agent: Agent, home: Path) -> None:
    (home / "d" / "e").mkdir(parents=True)
    (home / "d" / "e" / "f.txt").write_text("keep me")
    result = agent("files.delete", path=str(home / "d"))
    assert result["recoverable"] is True and not (home / "d").exists()
    assert "trash" in agent.said[-1]
    agent("files.undo")
    assert (home / "d" / "e" / "f.txt").read_text() == "keep me"


def test_delete_a_link_deletes_the_link(agent: Agent, home: Path) -> None:
    (home / "t.txt").write_text("t")
    (home / "l").symlink_to(home / "t.txt")
    agent("files.delete", path=str(home / "l"))
    assert not (home / "l").is_symlink() and (home / "t.txt").read_text() == "t"


def test_mkdir(agent: Agent, home: Path) -> None:
    agent("files.mkdir", path=str(home / "new"))
    assert (home / "new").is_dir()
    assert agent.error("files.mkdir", path=str(home / "new")).code == "exists"
    agent("files.mkdir", path=str(home / "new"), exist_ok=True)
    assert agent.error("files.mkdir", path=str(home / "a" / "b")).code == "not_found"
    result = agent("files.mkdir", path=str(home / "a" / "b" / "c"), parents=True)
    assert result["created"] == [str(home / "a"), str(home / "a" / "b"), str(home / "a" / "b" / "c")]
    agent("files.undo")
    assert not (home / "a").exists()


@pytest.mark.needs_root("to mount a small tmpfs")
def test_full_disk_leaves_nothing_changed(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, check=True)
    try:
        a = Agent(tmp_path)
        try:
            (mnt / "f.txt").write_text("old")
            err = a.error("files.write", b"x" * (1024 * 1024), path=str(mnt / "f.txt"))
            assert err.code == "no_space"
            assert (mnt / "f.txt").read_text() == "old"
            assert leftovers(mnt) == []
            err = a.error("files.upload_open", path=str(mnt / "big.bin"), size=10 * 1024 * 1024)
            assert err.code == "no_space"
            assert sorted(p.name for p in mnt.iterdir()) == ["f.txt"]
        finally:
            a.close()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.needs_root("to switch to an unprivileged user")
def test_permission_denied(tmp_path: Path) -> None:
    """As an ordinary user, a root-only folder is `denied`, not a crash."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "s.txt").write_text("s")
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    (open_dir / "ro.txt").write_text("ro")
    os.chmod(open_dir, 0o755)
    os.chmod(tmp_path, 0o755)
    os.chmod(tmp_path.parent, 0o755)
    code = textwrap.dedent(f"""
        import json, os, sys, tempfile
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from tests.files.harness import Agent
        import agent.forbidden, encodings.idna  # everything imported before becoming nobody
        os.setgid(65534); os.setuid(65534)
        a = Agent(Path(tempfile.mkdtemp()))
        out = []
        for method, params in [("files.read", {{"path": {str(private / 's.txt')!r}}}),
                               ("files.list", {{"path": {str(private)!r}}}),
                               ("files.write", {{"path": {str(open_dir / 'ro.txt')!r}, "text": "x"}})]:
            try:
                a(method, **params); out.append("ok")
            except Exception as err:
                out.append(getattr(err, "code", repr(err)))
        print(json.dumps(out))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "HOME": "/tmp"})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == ["denied", "denied", "denied"]
    assert (open_dir / "ro.txt").read_text() == "ro"
